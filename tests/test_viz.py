"""course.viz against independent answers: tiny models whose saliency, occlusion map,
guided gradient, Grad-CAM and gradient-ascent image are known in closed form,
TensorFlow's own ops, and sanity properties on the shipped Fashion-MNIST model."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from course import viz  # noqa: E402


# Tiny models with known answers: course.viz_oracles (the assignment's tests use them too; they are
# checked against TensorFlow in test_viz_oracles.py).
from course.viz_oracles import cam_net, grad_cam_by_hand, linear_model, relu_net, relu_net_gradient  # noqa: E402


@pytest.fixture(scope="module")
def shipped():
    """The course's model and a few confidently classified test items, one per class."""
    from course import data, pretrained

    model = pretrained.load("fashion_cnn")
    (_, _), (x_test, y_test) = data.fashion_mnist()
    images, labels = data.normalise(x_test[:500]), y_test[:500].astype(int)
    predicted = model.predict(images, verbose=0).argmax(axis=1)
    items = {c: images[np.flatnonzero((labels == c) & (predicted == c))[0]] for c in range(10)}
    return model, images, labels, items


# --------------------------------------------------------------------------- weights and activations


def test_normalise_filters_per_filter():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 2, 4)) * np.array([0.01, 1.0, 100.0, 5.0])
    kernel[..., 3] = 0.25  # a constant filter has no contrast: zeros, not NaN
    out = viz.normalise_filters(kernel)
    assert out.shape == kernel.shape
    np.testing.assert_allclose(out[..., :3].min(axis=(0, 1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(out[..., :3].max(axis=(0, 1, 2)), 1, atol=1e-12)
    np.testing.assert_array_equal(out[..., 3], 0)
    k = kernel[..., 1]
    np.testing.assert_allclose(out[..., 1], (k - k.min()) / (k.max() - k.min()))


def test_normalise_filters_rejects_wrong_rank():
    with pytest.raises(ValueError, match="FH, FW, C_in, K"):
        viz.normalise_filters(np.zeros((3, 3, 4)))


def test_feature_maps_match_tensorflow_ops():
    net = cam_net(0)
    image = np.random.default_rng(1).normal(size=(2, 8, 8, 2)).astype(np.float32)
    kernel, bias = net.get_layer("conv").get_weights()
    expected = tf.nn.relu(tf.nn.conv2d(image, kernel, 1, "SAME") + bias).numpy()
    np.testing.assert_allclose(viz.feature_maps(net, image, "conv"), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no layer 'conv9'"):
        viz.feature_maps(net, image, "conv9")


def test_bad_image_shape_says_what_the_model_expects():
    net, _, _ = linear_model((4, 4, 1), 2, 0)
    with pytest.raises(ValueError, match=r"expects images of shape \(4, 4, 1\)"):
        viz.saliency(net, np.zeros((5, 5, 1)), 0)
    with pytest.raises(ValueError, match="class_index must be between 0 and 1"):
        viz.saliency(net, np.zeros((4, 4, 1)), 2)


# --------------------------------------------------------------------------- attribution


def test_saliency_of_linear_model_is_abs_weight_max_over_channels():
    net, weights, _ = linear_model((5, 6, 3), 4, seed=0)
    image = np.random.default_rng(1).uniform(size=(5, 6, 3))
    np.testing.assert_allclose(viz.saliency(net, image, 2), np.abs(weights[..., 2]).max(axis=-1), rtol=1e-5)


def test_occlusion_of_linear_model_matches_hand_computation():
    net, weights, bias = linear_model((9, 7, 2), 3, seed=2)
    image = np.random.default_rng(3).uniform(size=(9, 7, 2)).astype(np.float32)
    kept = image.copy()
    patch, stride, fill = 4, 2, 0.5
    expected = np.zeros(((9 - patch) // stride + 1, (7 - patch) // stride + 1))
    for i, j in np.ndindex(*expected.shape):
        occluded = image.astype(np.float64)
        occluded[i * stride:i * stride + patch, j * stride:j * stride + patch] = fill
        expected[i, j] = bias[1] + np.sum(weights[..., 1] * occluded)
    np.testing.assert_allclose(viz.occlusion_map(net, image, 1, patch, stride, fill), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(image, kept)


def test_guided_relu_gradient_is_zero_where_input_or_upstream_is_negative():
    rng = np.random.default_rng(0)
    x, upstream = tf.constant(rng.normal(size=(4, 5)), tf.float32), rng.normal(size=(4, 5)).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = viz.guided_relu(x)
    gradient = tape.gradient(y, x, output_gradients=tf.constant(upstream)).numpy()
    np.testing.assert_allclose(y, np.maximum(x.numpy(), 0))
    np.testing.assert_allclose(gradient, upstream * (x.numpy() > 0) * (upstream > 0))
    assert np.all(gradient >= 0)


def test_deconvnet_relu_gradient_ignores_the_input_sign():
    x = tf.constant([[-2.0, -0.5, 0.5, 3.0]] * 2)
    upstream = np.array([[1.5, -1.0, -2.0, 4.0], [-1.0, 2.0, 3.0, -0.5]], np.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = viz.deconvnet_relu(x)
    gradient = tape.gradient(y, x, output_gradients=tf.constant(upstream)).numpy()
    np.testing.assert_array_equal(y, [[0, 0, 0.5, 3.0]] * 2)
    # by hand: keep the positive upstream values, wherever they are (also where x < 0)
    np.testing.assert_array_equal(gradient, [[1.5, 0, 0, 4.0], [0, 2.0, 3.0, 0]])


def test_window_coverage_by_hand_on_the_occlusion_grid():
    mask = np.zeros((7, 9), bool)
    mask[1:4, 2:6] = True  # a 3x4 object
    patch, stride = 3, 2
    coverage = viz.window_coverage(mask, patch, stride)
    net, _, _ = linear_model((7, 9, 1), 2, seed=0)
    assert coverage.shape == viz.occlusion_map(net, mask[..., None].astype(np.float32), 0, patch, stride).shape
    assert coverage.shape == (3, 4)
    # window (0, 1) covers rows 0-2, cols 2-4: rows 1-2 x cols 2-4 are object = 6 of 9 pixels
    assert coverage[0, 1] == pytest.approx(6 / 9)
    # window (1, 1): rows 2-4, cols 2-4: rows 2-3 = 6 of 9; window (2, 3): rows 4-6, cols 6-8: none
    assert coverage[1, 1] == pytest.approx(6 / 9) and coverage[2, 3] == 0
    # window (0, 2): rows 0-2, cols 4-6: rows 1-2 x cols 4-5 = 4 of 9
    assert coverage[0, 2] == pytest.approx(4 / 9)
    with pytest.raises(ValueError, match="2-D mask"):
        viz.window_coverage(mask[..., None], patch, stride)
    with pytest.raises(ValueError, match="patch"):
        viz.window_coverage(mask, 8, 1)


@pytest.mark.parametrize("seed, class_index", [(0, 1), (1, 0), (2, 2)])
def test_guided_backprop_matches_hand_backprop(seed, class_index):
    net = relu_net(seed)
    image = np.random.default_rng(seed + 10).normal(size=(4, 4, 1)).astype(np.float32)
    expected = relu_net_gradient(net, image, class_index, guided=True)
    np.testing.assert_allclose(viz.guided_backprop(net, image, class_index), expected, rtol=1e-4, atol=1e-5)


def test_relu_swapped_keeps_the_function_and_needs_a_relu():
    net = relu_net(0)
    image = np.random.default_rng(0).normal(size=(3, 4, 4, 1)).astype(np.float32)
    plain = viz.relu_swapped(net, tf.nn.relu)
    np.testing.assert_allclose(plain(image), net(image), rtol=1e-5, atol=1e-6)
    _, gradient = viz.class_score_gradient(plain, image[0], 1)  # plain ReLU: the ordinary gradient
    np.testing.assert_allclose(gradient[0], relu_net_gradient(net, image[0], 1, guided=False), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="no ReLU"):
        viz.relu_swapped(linear_model((2, 2, 1), 2, 0)[0], viz.guided_relu)


@pytest.mark.parametrize("seed, class_index", [(0, 0), (1, 2)])
def test_grad_cam_matches_hand_computation(seed, class_index):
    net = cam_net(seed)
    image = np.random.default_rng(seed + 10).normal(size=(8, 8, 2)).astype(np.float32)
    cam = viz.grad_cam(net, image, class_index, "pool")
    np.testing.assert_allclose(cam, grad_cam_by_hand(net, image, class_index), rtol=1e-4, atol=1e-5)
    assert cam.shape == (8, 8) and cam.min() >= 0 and np.isclose(cam.max(), 1)


def test_grad_cam_without_positive_evidence_is_zero_not_nan():
    net = cam_net(3, negative_head=True)
    cam = viz.grad_cam(net, np.abs(np.random.default_rng(0).normal(size=(8, 8, 2))).astype(np.float32), 0, "pool")
    np.testing.assert_array_equal(cam, 0)


def test_grad_cam_needs_a_spatial_layer():
    net = relu_net(0)
    with pytest.raises(ValueError, match="4-D output"):
        viz.grad_cam(net, np.zeros((4, 4, 1)), 0, "d1")


# --------------------------------------------------------------------------- optimisation and representation


def test_class_model_follows_exact_ascent_on_a_linear_score():
    net, weights, _ = linear_model((4, 4, 1), 3, seed=0)
    w, steps, learning_rate, l2 = weights[..., 2], 20, 0.1, 0.5
    # I_t = I_{t-1} + lr (w - 2 l2 I_{t-1}) from zeros: I_t = w (1 - (1 - 2 l2 lr)^t) / (2 l2)
    expected = w * (1 - (1 - 2 * l2 * learning_rate) ** steps) / (2 * l2)
    out = viz.class_model(net, 2, steps=steps, learning_rate=learning_rate, l2=l2)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(viz.class_model(net, 2, steps=5, learning_rate=0.1, l2=0.0), 5 * 0.1 * w, rtol=1e-5)


def test_penultimate_features_reproduce_the_scores():
    net = relu_net(4)
    images = np.random.default_rng(4).normal(size=(5, 4, 4, 1)).astype(np.float32)
    kernel, bias = net.layers[-1].get_weights()
    codes = viz.penultimate_features(net, images, batch_size=2)
    assert codes.shape == (5, 5)
    np.testing.assert_allclose(codes @ kernel + bias, net(images), rtol=1e-4, atol=1e-5)


def test_tsne_keeps_separated_clusters_apart():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    points = rng.normal(scale=10, size=(3, 20))[labels] + rng.normal(size=(60, 20))
    embedding = viz.tsne(points, seed=0, perplexity=10)
    assert embedding.shape == (60, 2)
    assert viz.neighbour_agreement(embedding, labels, k=5) > 0.95
    with pytest.raises(ValueError, match="perplexity"):
        viz.tsne(points[:8], perplexity=30)


def test_neighbour_agreement_by_hand():
    points = np.array([[0.0], [0.1], [5.0], [5.2]])
    assert viz.neighbour_agreement(points, np.array([0, 0, 1, 1]), k=1) == 1.0
    assert viz.neighbour_agreement(points, np.array([0, 1, 0, 1]), k=1) == 0.0


# --------------------------------------------------------------------------- the shipped model


def test_shipped_model_occluding_object_drops_score_background_does_not(shipped):
    model, _, _, items = shipped
    for c in (1, 8, 9):  # trouser, bag, ankle boot: items on an exactly black background
        image = items[c]
        scores = viz.occlusion_map(model, image, c, patch=6, stride=2, fill=0.0)
        windows = np.lib.stride_tricks.sliding_window_view(image[..., 0], (6, 6))[::2, ::2]
        blank, on_object = windows.max(axis=(2, 3)) == 0, windows.mean(axis=(2, 3)) > 0.25
        base = float(model(image[None], training=False)[0, c])
        assert blank.any() and on_object.any()
        np.testing.assert_allclose(scores[blank], base, rtol=1e-4, atol=1e-3)
        assert base - scores[on_object].mean() > 0.5, f"covering the item of class {c} should lower its score"


def test_shipped_model_attribution_shapes_and_ranges(shipped):
    model, _, _, items = shipped
    image = items[9]
    assert viz.saliency(model, image, 9).shape == (28, 28)
    guided = viz.guided_backprop(model, image, 9)
    assert guided.shape == (28, 28, 1) and np.abs(guided).max() > 0
    cam = viz.grad_cam(model, image, 9, "relu3")
    assert cam.shape == (28, 28) and cam.min() >= 0 and np.isclose(cam.max(), 1)


def test_shipped_model_relu_swap_and_any_size_keep_the_function(shipped):
    model, images, _, _ = shipped
    np.testing.assert_allclose(viz.relu_swapped(model, tf.nn.relu)(images[:8], training=False),
                               model(images[:8], training=False), rtol=1e-4, atol=1e-4)
    stem = viz.any_size(model, "relu2")
    np.testing.assert_allclose(stem(images[:4], training=False), viz.feature_maps(model, images[:4], "relu2"),
                               rtol=1e-4, atol=1e-4)
    photo = np.random.default_rng(0).uniform(size=(1, 50, 36, 1)).astype(np.float32)
    assert viz.feature_maps(stem, photo, "relu1").shape[1:3] == (50, 36)


def test_shipped_model_class_model_raises_score_and_l2_shrinks_it(shipped):
    model = shipped[0]
    free = viz.class_model(model, 1, steps=30, learning_rate=0.1, l2=0.0)
    penalised = viz.class_model(model, 1, steps=30, learning_rate=0.1, l2=0.1)
    zero_score = float(model(np.zeros((1, 28, 28, 1)), training=False)[0, 1])
    assert float(model(penalised[None], training=False)[0, 1]) > zero_score + 1.0
    assert np.linalg.norm(penalised) < np.linalg.norm(free)


def test_shipped_model_penultimate_features_reproduce_logits(shipped):
    model, images, _, _ = shipped
    kernel, bias = model.layers[-1].get_weights()
    codes = viz.penultimate_features(model, images[:16])
    np.testing.assert_allclose(codes @ kernel + bias, model(images[:16], training=False), rtol=1e-3, atol=1e-3)


@pytest.mark.slow
def test_shipped_model_tsne_groups_classes_better_than_pixels(shipped):
    model, images, labels, _ = shipped
    codes = viz.penultimate_features(model, images[:200])
    on_codes = viz.neighbour_agreement(viz.tsne(codes), labels[:200])
    on_pixels = viz.neighbour_agreement(viz.tsne(images[:200].reshape(200, -1)), labels[:200])
    assert on_codes > on_pixels + 0.05, (on_codes, on_pixels)


def test_plot_helpers_draw(shipped):
    import matplotlib.pyplot as plt

    model, images, labels, items = shipped
    fig = viz.filter_grid(model.get_layer("conv1").get_weights()[0])
    assert len([ax for ax in fig.axes if ax.images]) == model.get_layer("conv1").filters
    fig2, axes = plt.subplots(1, 3)
    viz.overlay(axes[0], items[0], viz.grad_cam(model, items[0], 0, "relu3"), "Grad-CAM")
    axes[1].imshow(viz.signed_to_rgb(viz.guided_backprop(model, items[0], 0)), cmap="gray")
    viz.tsne_scatter(axes[2], np.random.default_rng(0).normal(size=(50, 2)), labels[:50], [str(c) for c in range(10)])
    assert len(axes[0].images) == 2 and axes[2].get_legend() is not None
    plt.close("all")
