# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # Assignment 8 — Visualizing what convnets learn
#
# A trained convnet is a few hundred thousand numbers. Looking at them directly tells us little, so
# the lecture showed ways to ask the network questions instead: *what do your first filters look
# like? what does this layer respond to? which pixels does your decision depend on? what image would
# you call a trouser? which images do you consider alike?* In this assignment you implement each of
# those questions yourself and ask them of the course's own model, a small CNN trained on
# Fashion-MNIST (`course.pretrained.load("fashion_cnn")`).
#
# You will learn to
# * display first-layer filters and the feature maps of any layer (a sub-model built from the
#   functional model's inputs and outputs);
# * measure how the class score depends on image regions by occlusion (Zeiler & Fergus);
# * compute vanilla saliency maps and guided backpropagation with `tf.GradientTape` and a ReLU with a
#   custom gradient (`tf.custom_gradient`), and Grad-CAM;
# * synthesise a class model image by gradient ascent with L2 regularisation (Simonyan et al.);
# * embed the penultimate layer's codes with t-SNE and measure that similar items end up close.
#
# Lecture slides: *Visualizing and understanding ConvNets* — *Visualize the filters/kernels*,
# *Visualizing the representation* (fc7 codes, t-SNE), *Occlusion experiments*, *Deconv approaches*
# (backprop vs guided backprop through a ReLU), *Optimization to image*.
#
# | part | what you write | points |
# |---|---|---|
# | 1 | `normalise_filters` | 1 |
# | 2 | `feature_maps` | 1 |
# | 3 | `occlusion_map` | 2 |
# | 4 | `saliency_map` | 2 |
# | 5 | `guided_relu`, `guided_backprop` | 2 + 1 |
# | 6 | `grad_cam` | 3 |
# | 7 | `class_model_visualisation` | 2 |
# | 8 | `penultimate_features`, `tsne_2d` | 1 + 1 |
# | 9 | written questions | 2 + 2 |
#
# **Total: 20 points** (16 autograded, 4 written)
#
# Every test cell first runs *public* checks that tell you what was expected and give a hint; the
# grader adds *hidden* checks with other models, shapes and classes. The tests compare you with
# independent answers: tiny models whose saliency, occlusion map, guided gradient, Grad-CAM and
# gradient-ascent image can be written down by hand, and TensorFlow's own operations.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
try:
    from course.runtime import start
except ModuleNotFoundError:  # a kernel whose Python lacks the course package
    raise ModuleNotFoundError(
        "This kernel's Python does not have the course package: choose Kernel > Change Kernel > "
        "'CNN course (.venv)' (bash scripts/setup.sh in the course folder adds it), "
        "or install the package into this Python with: pip install -e COURSE_FOLDER"
    ) from None

profile = start()

import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from course import pretrained
from course.data import CLASS_NAMES, fashion_mnist, normalise, photo, stratified_subset
from course.grading import (as_array, expect_close, expect_own_code, expect_shape, expect_true, gradients,
                            hidden_rng, hidden_seed)
from course.viz import any_size, map_grid, neighbour_agreement, overlay, relu_swapped, signed_to_rgb, tsne_scatter

if profile.is_grading:
    # scikit-learn's t-SNE runs OpenMP threads that spin, and on a busy two-core grader they run
    # ten times slower than a single thread does. One thread for OpenMP (TensorFlow is unaffected).
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="openmp")

# %% [markdown]
# ## The model and the images
#
# The course ships its own pretrained model, so nothing is downloaded: three convolutional blocks
# (`conv` → `bn` → `relu`, max pooling after the first two), global average pooling, a dense
# `features` layer of 128 units, dropout and a `logits` layer. Its outputs are the class **scores
# before the softmax**, which is what every technique below differentiates or records: the slides
# use the unnormalised score S_c because a softmax probability can rise simply because *other*
# classes fall. Every layer has a name, so `model.get_layer("conv1")` works.
#
# The images are Fashion-MNIST test images (28x28, one channel, floats in [0, 1]): items drawn on an
# exactly black background, which will make some of our sanity checks sharp.

# %% nbgrader={"grade": false, "grade_id": "given_3", "locked": true, "schema_version": 3, "solution": false, "task": false}
model = pretrained.load("fashion_cnn")
(_, _), (x_test_raw, y_test_raw) = fashion_mnist()
x_test, y_test = normalise(x_test_raw), y_test_raw.astype(int)

logits = model.predict(x_test[:1000], verbose=0)
print(f"test accuracy on 1000 images: {(logits.argmax(axis=1) == y_test[:1000]).mean():.3f}")
print([layer.name for layer in model.layers])

# A few test images the model classifies confidently, one per class, for the figures below.
gallery = [int(np.flatnonzero((y_test[:1000] == c) & (logits.argmax(axis=1) == c))[0]) for c in range(10)]
fig, axes = plt.subplots(1, 10, figsize=(11, 1.6))
for ax, i in zip(axes, gallery):
    ax.imshow(x_test[i, ..., 0], cmap="gray")
    ax.set_title(CLASS_NAMES[y_test[i]], fontsize=7)
    ax.set_axis_off()
plt.show()

# %% [markdown]
# What the tests compare you with lives in `course/viz_oracles.py`: tiny Keras models whose
# answers can be derived by hand (a linear classifier, a two-layer ReLU net, a one-convolution
# net), and those answers computed with NumPy. Reading it is a good way to check your
# understanding of each method; calling it from your solution is refused, as is calling `course.viz`.

# %% nbgrader={"grade": false, "grade_id": "oracles", "locked": true, "schema_version": 3, "solution": false, "task": false}
from course.viz_oracles import (ascent_by_hand, cam_net, grad_cam_by_hand, linear_model, occlusion_by_hand,
                                 relu_net, relu_net_gradient)

# course.viz holds the lecture's own versions of what you write here (the demos use them): a
# solution that calls them would prove nothing, so every test first checks that yours does not.
VIZ_ANSWERS = tuple(f"course.viz.{name}" for name in (
    "normalise_filters", "layer_model", "feature_maps", "occlusion_map", "class_score_gradient", "saliency",
    "guided_relu", "guided_backprop", "grad_cam", "class_model", "penultimate_features", "tsne")) + (
    "course.viz_oracles",)  # the tests' closed-form answers for their tiny models


def expect_own_viz(fn, what):
    expect_own_code(fn, what, VIZ_ANSWERS, "write it yourself with keras and tf.GradientTape; from course.viz "
                    "use only the plotting and plumbing helpers imported at the top")

# %% [markdown]
# ## 1. First-layer filters
#
# The slide *Visualize the filters/kernels* shows AlexNet's first layer: oriented edges, colour
# blobs, Gabor-like stripes. First-layer filters are the only ones worth looking at as pictures,
# because they live in pixel space. To display a filter as an image we map its weights to [0, 1].
# Do it **per filter** (each filter's own minimum to 0 and maximum to 1, over all its rows, columns
# and input channels together): with one common range, a filter with small weights would look flat
# grey next to a strong one. A filter whose weights are all equal has no contrast to show: return
# zeros for it rather than dividing by zero.

# %% nbgrader={"grade": false, "grade_id": "normalise_filters", "locked": false, "schema_version": 3, "solution": true, "task": false}
def normalise_filters(kernel: np.ndarray) -> np.ndarray:
    """Conv filters (FH, FW, C_in, K) -> same shape, each filter k scaled to [0, 1] on its own."""
    ### BEGIN SOLUTION
    kernel = np.asarray(kernel, np.float64)
    low = kernel.min(axis=(0, 1, 2), keepdims=True)
    span = kernel.max(axis=(0, 1, 2), keepdims=True) - low
    return np.divide(kernel - low, span, out=np.zeros_like(kernel), where=span > 0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_normalise_filters", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
expect_own_viz(normalise_filters, "normalise_filters")


def check_normalise(kernel, what, quiet=False):
    k = kernel.astype(np.float64)
    expected = np.stack([(k[..., i] - k[..., i].min()) / (k[..., i].max() - k[..., i].min())
                         if np.ptp(k[..., i]) > 0 else np.zeros_like(k[..., i]) for i in range(k.shape[-1])], axis=-1)
    with np.errstate(all="ignore"):  # some wrong answers divide by zero on a constant filter
        mistakes = {"one range for all filters (normalise per filter)": (k - k.min()) / np.ptp(k),
                    "no normalisation at all": k,
                    "each input channel normalised on its own (one range per filter, over all channels)":
                        (k - k.min(axis=(0, 1), keepdims=True)) / np.ptp(k, axis=(0, 1), keepdims=True)}
    expect_close(normalise_filters(kernel), expected, what, atol=1e-6, quiet=quiet, mistakes=mistakes,
                 hint="for each filter k take min and max over axes (0, 1, 2) together, then (w - min) / (max - min)")


rng = np.random.default_rng(0)
kernel = rng.normal(size=(3, 3, 2, 5)) * np.array([0.01, 0.1, 1.0, 10.0, 3.0])
check_normalise(kernel, "normalise_filters on five 3x3x2 filters of very different strengths")
result = as_array(normalise_filters(kernel), "normalise_filters")
expect_true(np.allclose(result.min(axis=(0, 1, 2)), 0) and np.allclose(result.max(axis=(0, 1, 2)), 1),
            "every filter spans exactly [0, 1]", f"per-filter minima {result.min(axis=(0, 1, 2))}, "
            f"maxima {result.max(axis=(0, 1, 2))}", hint="each filter's own minimum must map to 0 and maximum to 1")
### BEGIN HIDDEN TESTS
check_normalise(model.get_layer("conv1").get_weights()[0], "hidden: the shipped model's conv1 filters", quiet=True)
check_normalise(hidden_rng(1).normal(size=(5, 5, 3, 4)), "hidden: 5x5 RGB filters", quiet=True)
flat = hidden_rng(2).normal(size=(3, 3, 1, 3))
flat[..., 1] = 0.7
check_normalise(flat, "hidden: a constant filter becomes zeros (no division by zero)", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# Here are the first-layer filters of the course's model. They are only 3x3 and see one gray
# channel, so they are much less picturesque than AlexNet's 11x11 colour filters, but you can still
# spot the kinds the lecture showed: bright-centre blobs, dark-centre blobs and oriented edges
# (a bright row or column next to a dark one).

# %%
filters = np.moveaxis(normalise_filters(model.get_layer("conv1").get_weights()[0]), -1, 0)[..., 0]
map_grid(filters, [str(k) for k in range(len(filters))], columns=16, size=0.7, cmap="gray",
         suptitle=f"conv1: {len(filters)} filters of 3x3, each normalised to its own range")
plt.show()

# %% [markdown]
# ## 2. Feature maps
#
# To see what a layer responds to, run images through the network and keep that layer's output.
# In Keras this is a new functional model that shares the trained layers: its inputs are the
# original model's inputs and its output is the layer's output,
# `keras.Model(model.input, model.get_layer(name).output)`. This only works because the course's
# model is *functional*: a `Sequential` model that was never called has no defined input in
# Keras 3, which is why the keras-io Grad-CAM example breaks on Sequential models. Call the
# sub-model in inference mode (`training=False`), so that batch norm uses its stored statistics and
# not those of your batch, and return a NumPy array.

# %% nbgrader={"grade": false, "grade_id": "feature_maps", "locked": false, "schema_version": 3, "solution": true, "task": false}
def feature_maps(model: keras.Model, images: np.ndarray, layer_name: str) -> np.ndarray:
    """Activations of layer `layer_name` for a batch of images (N, H, W, C): (N, h, w, K)."""
    ### BEGIN SOLUTION
    probe = keras.Model(model.input, model.get_layer(layer_name).output)
    return np.asarray(probe(np.asarray(images, np.float32), training=False))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_feature_maps", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
expect_own_viz(feature_maps, "feature_maps")


def block1_by_hand(images, use_batch_statistics=False):
    """conv1 -> bn1 (inference: stored mean and variance) -> relu1, with TensorFlow's own ops."""
    kernel, = model.get_layer("conv1").get_weights()
    bn = model.get_layer("bn1")
    gamma, beta, mean, variance = bn.get_weights()
    z = tf.nn.conv2d(images.astype(np.float32), kernel, 1, "SAME")
    if use_batch_statistics:
        mean, variance = tf.nn.moments(z, axes=(0, 1, 2))
    return tf.nn.relu(gamma * (z - mean) / tf.sqrt(variance + bn.epsilon) + beta).numpy()


images = x_test[:4]
expect_close(feature_maps(model, images, "relu1"), block1_by_hand(images), "feature_maps(model, 4 images, 'relu1')",
             rtol=1e-3, atol=1e-4, hint="build keras.Model(model.input, model.get_layer(layer_name).output) and "
                                        "call it with training=False",
             mistakes={"batch norm in training mode (batch statistics instead of the stored ones)":
                           block1_by_hand(images, use_batch_statistics=True)})
### BEGIN HIDDEN TESTS
images = x_test[10:13]
expect_close(feature_maps(model, images, "pool1"), tf.nn.max_pool2d(block1_by_hand(images), 2, 2, "VALID").numpy(),
             "hidden: feature_maps(model, 3 images, 'pool1')", rtol=1e-3, atol=1e-4, quiet=True)
expect_shape(feature_maps(model, x_test[:2], "relu3"), (2, *model.get_layer("relu3").output.shape[1:]),
             "hidden: relu3 maps", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# The first block's maps of a sneaker: some channels light up on its outline, some on its flat
# surfaces, some on the background side of an edge. Deeper layers (`relu3`, 7x7) respond to larger
# and more abstract parts.

# %% nbgrader={"grade": false, "grade_id": "given_15", "locked": true, "schema_version": 3, "solution": false, "task": false}
sneaker = x_test[gallery[7]]
for name, shown in (("relu1", 16), ("relu3", 16)):
    maps = feature_maps(model, sneaker[None], name)[0]
    map_grid(np.moveaxis(maps[..., :shown], -1, 0), columns=16, size=0.7,
             suptitle=f"{name}: first {shown} of {maps.shape[-1]} channels, {maps.shape[0]}x{maps.shape[1]}")
    plt.show()

# %% [markdown]
# Convolution, batch norm, ReLU and pooling do not care about the image size, so the model's first
# blocks also run on a real photograph. `course.viz.any_size(model, up_to)` rebuilds those layers on
# an input of any height and width (sharing the trained weights), and your `feature_maps` works on
# it unchanged. Filters learned on clothes still find edges and blobs in a photo of a man with a
# camera: the first layers learn generic features, which is why transfer learning works.

# %% nbgrader={"grade": false, "grade_id": "given_17", "locked": true, "schema_version": 3, "solution": false, "task": false}
photo_image = normalise(photo("camera", size=160, gray=True))[..., None]  # (H, W, 1) in [0, 1]
stem = any_size(model, up_to="relu2")
photo_maps = feature_maps(stem, photo_image[None], "relu1")[0]
channels = np.argsort(photo_maps.mean(axis=(0, 1)))[::-1][:7]  # the channels that respond most
map_grid(np.concatenate([photo_image[None, ..., 0], np.moveaxis(photo_maps[..., channels], -1, 0)]),
         ["photo"] + [f"relu1 #{c}" for c in channels], columns=8, size=1.4, cmap="gray")
plt.show()

# %% [markdown]
# ## 3. Occlusion experiments
#
# Zeiler and Fergus slid a grey square over an image and recorded, for each position of the
# square, the score of the correct class: where covering the image makes the score fall, the
# network was looking. Write `occlusion_map`. Position `(i, j)` covers rows `i*stride` to
# `i*stride + patch - 1` and the same columns; the square must lie inside the image, so there are
# `(H - patch) // stride + 1` rows of positions (and the same for columns). Entry `(i, j)` of the
# result is the class score (the model's output, before any softmax) for the image with that square
# set to `fill`. Never modify the caller's image: copy it for every position (or build one batch of
# all occluded copies and call the model once, which is much faster).

# %% nbgrader={"grade": false, "grade_id": "occlusion_map", "locked": false, "schema_version": 3, "solution": true, "task": false}
def occlusion_map(model: keras.Model, image: np.ndarray, class_index: int, patch: int = 6, stride: int = 2,
                  fill: float = 0.5) -> np.ndarray:
    """Class score with a `fill` square at each position: (rows, cols), image of shape (H, W, C)."""
    ### BEGIN SOLUTION
    height, width = image.shape[:2]
    rows, cols = (height - patch) // stride + 1, (width - patch) // stride + 1
    occluded = np.repeat(np.asarray(image, np.float32)[None], rows * cols, axis=0)
    for k, (i, j) in enumerate(np.ndindex(rows, cols)):
        occluded[k, i * stride:i * stride + patch, j * stride:j * stride + patch] = fill
    scores = model(occluded, training=False)[:, class_index]
    return np.asarray(scores).reshape(rows, cols)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_occlusion_map", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
expect_own_viz(occlusion_map, "occlusion_map")


def check_occlusion(shape, n_classes, class_index, patch, stride, fill, seed, what, quiet=False):
    net, weights, bias = linear_model(shape, n_classes, seed)
    image = np.random.default_rng(seed + 100).uniform(size=shape).astype(np.float32)
    kept = image.copy()
    expected = occlusion_by_hand(weights, bias, image, class_index, patch, stride, fill)
    unchanged = np.full_like(expected, bias[class_index] + np.sum(weights[..., class_index] * image))
    expect_close(occlusion_map(net, image, class_index, patch=patch, stride=stride, fill=fill), expected, what,
                 rtol=1e-4, atol=1e-4, quiet=quiet,
                 hint=f"expected {expected.shape[0]}x{expected.shape[1]} positions: (H - patch) // stride + 1 rows; "
                      "position (i, j) sets rows i*stride:i*stride+patch and columns j*stride:j*stride+patch to fill",
                 mistakes={"the patch never reaches the image (every score equals the unoccluded one)": unchanged,
                           "patch filled with zeros instead of `fill`":
                               occlusion_by_hand(weights, bias, image, class_index, patch, stride, 0.0)})
    expect_true(np.array_equal(image, kept), f"{what}: the caller's image is left unchanged",
                "your function wrote the grey squares into the image it was given",
                hint="occlude a copy (np.array(image) or image.copy()), never the argument itself", quiet=quiet)


check_occlusion((8, 8, 1), 3, 1, patch=3, stride=1, fill=0.5, seed=0, what="linear model, 8x8x1 image, patch 3, stride 1")
check_occlusion((9, 7, 3), 4, 2, patch=4, stride=2, fill=0.5, seed=1,
                what="linear model, 9x7x3 image, patch 4, stride 2 (sizes not a multiple of the stride)")

# The sanity property on a real item: the model's own black background is its blank, so a black square
# (fill=0) on the background changes nothing, while covering the trousers lowers the trouser score.
trousers = x_test[gallery[1]]
scores = as_array(occlusion_map(model, trousers, 1, patch=6, stride=2, fill=0.0), "occlusion_map(trousers)")
expect_shape(scores, (12, 12), "occlusion map of a 28x28 item, patch 6, stride 2")
windows = np.lib.stride_tricks.sliding_window_view(trousers[..., 0], (6, 6))[::2, ::2]
on_background, on_object = windows.max(axis=(2, 3)) == 0, windows.mean(axis=(2, 3)) > 0.25
base = float(model(trousers[None], training=False)[0, 1])
expect_close(scores[on_background], np.full(on_background.sum(), base), "squares on the black background leave the score",
             rtol=1e-4, atol=1e-3, hint="the map is indexed [row position, column position]; occlude image[i*s:i*s+p, j*s:j*s+p]")
expect_true(base - scores[on_object].mean() > 0.5, "covering the trousers lowers the trouser score",
            f"mean drop {base - scores[on_object].mean():.3f} on the object, expected > 0.5")
### BEGIN HIDDEN TESTS
check_occlusion((6, 10, 2), 2, 0, patch=2, stride=3, fill=1.0, seed=hidden_seed(2), what="hidden: 6x10x2, patch 2, stride 3",
                quiet=True)
check_occlusion((5, 5, 1), 2, 1, patch=5, stride=1, fill=0.25, seed=hidden_seed(3), what="hidden: one position (patch = image)",
                quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# Now the lecture's version, with a grey square (0.5), next to a black one (0.0, this data set's
# blank). Dark blue marks the positions where covering the image hurts the correct class most.

# %% nbgrader={"grade": false, "grade_id": "given_22", "locked": true, "schema_version": 3, "solution": false, "task": false}
picked = [gallery[c] for c in (9, 1, 8, 0)]
fig, axes = plt.subplots(3, len(picked), figsize=(2.1 * len(picked), 6.3))
occlusion_drops = {}
for col, i in enumerate(picked):
    label = y_test[i]
    base = float(model(x_test[i:i + 1], training=False)[0, label])
    axes[0, col].imshow(x_test[i, ..., 0], cmap="gray")
    axes[0, col].set_title(f"{CLASS_NAMES[label]}: score {base:.1f}", fontsize=8)
    for row, fill in ((1, 0.5), (2, 0.0)):
        scores = occlusion_map(model, x_test[i], label, patch=6, stride=2, fill=fill)
        occlusion_drops[(CLASS_NAMES[label], fill)] = (base - scores[0, 0], base - scores[6, 6])
        shown = axes[row, col].imshow(scores, cmap="RdBu", vmin=base - 4, vmax=base + 4)
        axes[row, col].set_title(f"fill {fill}\ncorner {scores[0, 0]:.1f}, centre {scores[6, 6]:.1f}", fontsize=7)
for ax in axes.flat:
    ax.set_axis_off()
fig.colorbar(shown, ax=axes[1:].ravel().tolist(), shrink=0.6, label="class score")
plt.show()
for (name, fill), (corner, centre) in occlusion_drops.items():
    print(f"{name:12s} fill {fill}: score drop {corner:+.2f} with the square in the top-left corner, "
          f"{centre:+.2f} in the centre")

# %% [markdown]
# ## 4. Vanilla saliency maps
#
# Simonyan et al. asked *which pixels would change the score most if they changed a little?* That is
# the gradient of the class score with respect to the input image, one backward pass. The saliency
# map is its absolute value, and for a colour image the **maximum over the channels** at each pixel.
# Compute it with `tf.GradientTape`: watch the input tensor (a `tf.constant` is not watched
# automatically), take the score of `class_index` (the model's output, in inference mode), and ask
# the tape for its gradient.

# %% nbgrader={"grade": false, "grade_id": "saliency_map", "locked": false, "schema_version": 3, "solution": true, "task": false}
def saliency_map(model: keras.Model, image: np.ndarray, class_index: int) -> np.ndarray:
    """|d score / d pixel| maximised over channels, for one image (H, W, C): (H, W)."""
    ### BEGIN SOLUTION
    x = tf.constant(np.asarray(image, np.float32)[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = model(x, training=False)[0, class_index]
    return np.abs(tape.gradient(score, x).numpy()[0]).max(axis=-1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_saliency_map", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
expect_own_viz(saliency_map, "saliency_map")


def check_saliency_linear(shape, n_classes, class_index, seed, what, quiet=False):
    """For score = b + sum(W * x) the gradient is W itself, so the saliency is max_c |W[..., c, class]|."""
    net, weights, _ = linear_model(shape, n_classes, seed)
    image = np.random.default_rng(seed + 100).uniform(size=shape).astype(np.float32)
    w = weights[..., class_index]
    expect_close(saliency_map(net, image, class_index), np.abs(w).max(axis=-1), what, rtol=1e-4, atol=1e-5,
                 quiet=quiet, hint="saliency = max over the channel axis of |gradient of the class score w.r.t. the image|",
                 mistakes={"no absolute value (max of the signed gradient)": w.max(axis=-1),
                           "absolute value summed over channels instead of the maximum": np.abs(w).sum(axis=-1),
                           "absolute value averaged over channels instead of the maximum": np.abs(w).mean(axis=-1),
                           "the maximum of |gradient| taken over all classes' scores":
                               np.abs(weights).max(axis=(-2, -1))})


check_saliency_linear((5, 6, 3), 4, 2, seed=0, what="saliency of a linear model on a 5x6 RGB image is |its weight|")
sal = as_array(saliency_map(model, x_test[gallery[0]], 0), "saliency_map(shipped model, a T-shirt)")
expect_shape(sal, (28, 28), "saliency of a 28x28x1 image: one value per pixel")
expect_true(sal.min() >= 0 and sal.max() > 0, "saliency is non-negative and not all zero",
            f"min {sal.min():.3g}, max {sal.max():.3g}")
### BEGIN HIDDEN TESTS
check_saliency_linear((4, 4, 1), 3, 0, seed=hidden_seed(1), what="hidden: one channel", quiet=True)
check_saliency_linear((7, 3, 2), 5, 4, seed=hidden_seed(2), what="hidden: last class, 7x3x2", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Guided backpropagation
#
# The slides *Deconv approaches* compare three ways to send a gradient back through a ReLU
# `y = max(x, 0)`, given the gradient `R` arriving from above:
#
# * backpropagation: `R * (x > 0)` — pass where the input was positive;
# * "deconvnet": `R * (R > 0)` — pass where the gradient is positive;
# * **guided backpropagation**: `R * (x > 0) * (R > 0)` — both.
#
# Guided backprop keeps only the evidence that *increases* the score along the whole path, which
# makes much crisper pictures. Write `guided_relu` with `tf.custom_gradient`: the decorated function
# returns the normal ReLU output and a function that maps the upstream gradient to the gradient
# with respect to `x`. (This is the slides' `GuidedReLU:updateGradInput`, in TensorFlow.)
#
# Then write `guided_backprop`: the gradient of the class score with respect to the image, computed
# through a copy of the model in which every ReLU is your `guided_relu`. The helper
# `relu_swapped(model, guided_relu)` (from `course.viz`) builds that copy, sharing the weights.
# Return the signed gradient image (H, W, C).

# %% nbgrader={"grade": false, "grade_id": "guided_relu", "locked": false, "schema_version": 3, "solution": true, "task": false}
@tf.custom_gradient
def guided_relu(x):
    """ReLU forward; backward keeps the upstream gradient only where it and the input are positive."""
    ### BEGIN SOLUTION
    def backward(upstream):
        return upstream * tf.cast(x > 0, upstream.dtype) * tf.cast(upstream > 0, upstream.dtype)

    return tf.nn.relu(x), backward
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_guided_relu", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
expect_own_viz(guided_relu, "guided_relu")


def check_guided_relu(x, upstream, what, quiet=False):
    x = tf.constant(x, tf.float32)
    y, (gradient,) = gradients(guided_relu, x, upstream=tf.constant(upstream, tf.float32))
    x, upstream = x.numpy(), np.asarray(upstream, np.float32)
    expect_close(y, np.maximum(x, 0), f"{what}: forward pass is an ordinary ReLU", quiet=quiet,
                 hint="return tf.nn.relu(x) as the first value")
    expect_close(gradient, upstream * (x > 0) * (upstream > 0), f"{what}: backward pass", quiet=quiet,
                 hint="gradient = upstream * (x > 0) * (upstream > 0): zero where the input OR the upstream gradient "
                      "is negative",
                 mistakes={"ordinary ReLU backward (negative upstream gradients pass)": upstream * (x > 0),
                           "'deconvnet' backward (ignores the sign of the input)": upstream * (upstream > 0),
                           "the gradient passes unchanged": upstream})


x_demo = np.array([[-2.0, -1.0, 0.5, 1.0], [3.0, -0.5, 2.0, -3.0]])
upstream_demo = np.array([[1.0, -1.0, -2.0, 0.5], [2.0, 1.0, 1.5, -1.0]])
check_guided_relu(x_demo, upstream_demo, "guided_relu on a 2x4 example")
### BEGIN HIDDEN TESTS
rng = hidden_rng(5)
check_guided_relu(rng.normal(size=(3, 5, 5, 2)), rng.normal(size=(3, 5, 5, 2)), "hidden: random 4-D tensors", quiet=True)
### END HIDDEN TESTS

# %% nbgrader={"grade": false, "grade_id": "guided_backprop", "locked": false, "schema_version": 3, "solution": true, "task": false}
def guided_backprop(model: keras.Model, image: np.ndarray, class_index: int) -> np.ndarray:
    """Gradient of the class score w.r.t. one image (H, W, C) through guided ReLUs: (H, W, C)."""
    ### BEGIN SOLUTION
    guided = relu_swapped(model, guided_relu)
    x = tf.constant(np.asarray(image, np.float32)[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = guided(x, training=False)[0, class_index]
    return tape.gradient(score, x).numpy()[0]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_guided_backprop", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
expect_own_viz(guided_backprop, "guided_backprop")


def check_guided_backprop(seed, class_index, what, quiet=False):
    net = relu_net(seed)
    image = np.random.default_rng(seed + 100).normal(size=(4, 4, 1)).astype(np.float32)
    expect_close(guided_backprop(net, image, class_index), relu_net_gradient(net, image, class_index, guided=True),
                 what, rtol=1e-4, atol=1e-5, quiet=quiet,
                 hint="differentiate the score of relu_swapped(model, guided_relu) w.r.t. the image",
                 mistakes={"plain gradient (the model's ReLUs were not replaced)":
                               relu_net_gradient(net, image, class_index, guided=False)})


check_guided_backprop(0, 1, "guided backprop through a small ReLU network, checked by hand")
guided = as_array(guided_backprop(model, x_test[gallery[7]], 7), "guided_backprop(shipped model, a sneaker)")
expect_shape(guided, (28, 28, 1), "guided backprop of a 28x28x1 image")
### BEGIN HIDDEN TESTS
check_guided_backprop(1, 0, "hidden: another network, class 0", quiet=True)
check_guided_backprop(2, 2, "hidden: another network, class 2", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Grad-CAM
#
# Saliency and guided backprop work at pixel resolution. Grad-CAM (Selvaraju et al., 2017) asks a
# deeper layer instead, whose channels respond to object parts, and answers *where* the evidence
# for a class is. With `A` the layer's activations (h, w, K) for the image and `S_c` the class score:
#
# 1. weight each channel by its average gradient over space, `alpha_k = mean_ij dS_c / dA_ij^k`;
# 2. combine the channels and keep the positive evidence: `cam = ReLU(sum_k alpha_k * A^k)` (h, w);
# 3. upsample to the input's height and width with `tf.image.resize(cam[..., None], (H, W),
#    method="bilinear")`;
# 4. divide by the maximum so the map lies in [0, 1] (if the maximum is 0, return the zeros as they
#    are).
#
# You need `A` and `S_c` from **one** forward pass, so build a gradient model from the functional
# graph with two outputs: `keras.Model(model.input, [model.get_layer(layer_name).output,
# model.output])`, run it under a `tf.GradientTape`, and differentiate the score with respect to `A`.

# %% nbgrader={"grade": false, "grade_id": "grad_cam", "locked": false, "schema_version": 3, "solution": true, "task": false}
def grad_cam(model: keras.Model, image: np.ndarray, class_index: int, layer_name: str) -> np.ndarray:
    """Grad-CAM heat map of one image (H, W, C) at layer `layer_name`: (H, W), values in [0, 1]."""
    ### BEGIN SOLUTION
    probe = keras.Model(model.input, [model.get_layer(layer_name).output, model.output])
    x = tf.constant(np.asarray(image, np.float32)[None])
    with tf.GradientTape() as tape:
        activations, scores = probe(x, training=False)
        score = scores[0, class_index]
    gradient = tape.gradient(score, activations)[0]
    weights = tf.reduce_mean(gradient, axis=(0, 1))
    cam = tf.nn.relu(tf.reduce_sum(weights * activations[0], axis=-1))
    cam = tf.image.resize(cam[..., None], image.shape[:2], method="bilinear")[..., 0].numpy()
    return cam / cam.max() if cam.max() > 0 else cam
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_grad_cam", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
expect_own_viz(grad_cam, "grad_cam")


def check_grad_cam(seed, class_index, what, shape=(8, 8, 2), negative_head=False, quiet=False):
    net = cam_net(seed, shape=shape, negative_head=negative_head)
    image = np.random.default_rng(seed + 100).normal(size=shape).astype(np.float32)
    expected = grad_cam_by_hand(net, image, class_index)
    raw = grad_cam_by_hand(net, image, class_index, relu_first=False)
    expect_close(grad_cam(net, image, class_index, "pool"), expected, what, rtol=1e-4, atol=1e-5, quiet=quiet,
                 hint="alpha_k = mean over (h, w) of dS/dA^k; cam = relu(sum_k alpha_k A^k); resize bilinearly to "
                      "(H, W); divide by the maximum",
                 mistakes={"each position weighted by its own gradient (gradients not averaged over space)":
                               grad_cam_by_hand(net, image, class_index, space_average=False),
                           "ReLU applied after upsampling instead of before": raw})


check_grad_cam(0, 0, "Grad-CAM of a small conv net at its pooled layer, checked by hand")
cam = as_array(grad_cam(model, x_test[gallery[9]], 9, "relu3"), "grad_cam(shipped model, an ankle boot, 'relu3')")
expect_shape(cam, (28, 28), "Grad-CAM is upsampled from relu3's 7x7 to the input's 28x28")
expect_true(cam.min() >= 0, "Grad-CAM is non-negative", f"minimum {cam.min():.3g}",
            hint="keep only the positive evidence: apply a ReLU to the weighted sum of the channels")
expect_close(cam.max(), 1.0, "Grad-CAM is normalised (maximum 1)", atol=1e-6, hint="divide by the map's maximum")
### BEGIN HIDDEN TESTS
check_grad_cam(1, 2, "hidden: another net, class 2", quiet=True)
check_grad_cam(2, 1, "hidden: 10x6x3 input", shape=(10, 6, 3), quiet=True)
check_grad_cam(3, 0, "hidden: no positive evidence gives an all-zero map (no division by zero)", negative_head=True,
               quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# The three gradient-based maps side by side on one item per class. Vanilla saliency is noisy and
# spread out; guided backprop shows crisp outlines; Grad-CAM is coarse (7x7 upsampled) but says
# where the class evidence is.

# %% nbgrader={"grade": false, "grade_id": "given_35", "locked": true, "schema_version": 3, "solution": false, "task": false}
picked = [gallery[c] for c in ((0, 1, 7, 9) if profile.is_grading else (0, 1, 5, 7, 8, 9))]
fig, axes = plt.subplots(4, len(picked), figsize=(1.9 * len(picked), 7.6))
for col, i in enumerate(picked):
    image, label = x_test[i], y_test[i]
    axes[0, col].imshow(image[..., 0], cmap="gray")
    axes[0, col].set_title(CLASS_NAMES[label], fontsize=8)
    axes[1, col].imshow(saliency_map(model, image, label), cmap="hot")
    axes[2, col].imshow(signed_to_rgb(guided_backprop(model, image, label)), cmap="gray")
    overlay(axes[3, col], image, grad_cam(model, image, label, "relu3"))
for row, name in enumerate(("image", "saliency", "guided backprop", "Grad-CAM (relu3)")):
    axes[row, 0].set_ylabel(name, fontsize=8)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %% [markdown]
# Are these maps about the *class* or just about the *image*? Compute each map for the correct class
# and for another class of the same image, and measure how similar the two maps are (correlation
# over pixels; 1 means the map ignores which class you asked about).

# %% nbgrader={"grade": false, "grade_id": "given_37", "locked": true, "schema_version": 3, "solution": false, "task": false}
def correlation(a, b):
    with np.errstate(all="ignore"):  # an all-zero map has no correlation (nan), skipped by nanmean below
        return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


other_class = {0: 6, 1: 3, 5: 7, 7: 5, 8: 2, 9: 7}  # a plausible confusion for each item above
similarity = {"saliency": [], "guided backprop": [], "Grad-CAM": []}
for i in picked:
    image, label = x_test[i], y_test[i]
    other = other_class[label]
    similarity["saliency"].append(correlation(saliency_map(model, image, label), saliency_map(model, image, other)))
    similarity["guided backprop"].append(correlation(guided_backprop(model, image, label),
                                                     guided_backprop(model, image, other)))
    similarity["Grad-CAM"].append(correlation(grad_cam(model, image, label, "relu3"),
                                              grad_cam(model, image, other, "relu3")))
for name, values in similarity.items():
    print(f"{name:16s} map(true class) vs map(other class): mean correlation {np.nanmean(values):+.2f}  "
          f"({', '.join(f'{v:+.2f}' for v in values)})")

# %% [markdown]
# ## 7. Class model visualisation: optimisation to an image
#
# The slides turn the question around: instead of explaining an image, *find* the image that the
# network scores highest for class `c`. Starting from an all-zero image ("feed in zeros"), repeat
# plain gradient **ascent** on the regularised objective
#
# $$\arg\max_I \; S_c(I) - \lambda \lVert I \rVert_2^2 ,$$
#
# that is, `I <- I + learning_rate * d/dI [S_c(I) - l2 * sum(I**2)]` for `steps` steps, with no
# clipping and no rescaling of the gradient (keep it plain so the tests can follow you). `S_c` is the
# model's output for class `c` in inference mode. A `tf.Variable` for the image (shape `(1, H, W, C)`,
# from `model.input_shape`) and a `tf.GradientTape` are all you need; decorating the step with
# `@tf.function` makes it several times faster. Without the penalty the image can raise the score
# for ever by growing; the L2 term keeps it small, so that only useful pixels become large.

# %% nbgrader={"grade": false, "grade_id": "class_model_visualisation", "locked": false, "schema_version": 3, "solution": true, "task": false}
def class_model_visualisation(model: keras.Model, class_index: int, steps: int = 100, learning_rate: float = 0.1,
                              l2: float = 0.01) -> np.ndarray:
    """Gradient ascent from zeros on S_c(I) - l2 * ||I||^2; returns the image (H, W, C)."""
    ### BEGIN SOLUTION
    image = tf.Variable(tf.zeros((1, *model.input_shape[1:])))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            objective = model(image, training=False)[0, class_index] - l2 * tf.reduce_sum(image ** 2)
        image.assign_add(learning_rate * tape.gradient(objective, image))

    for _ in range(steps):
        step()
    return image.numpy()[0]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_class_model_visualisation", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
expect_own_viz(class_model_visualisation, "class_model_visualisation")


def check_ascent(shape, n_classes, class_index, steps, learning_rate, l2, seed, what, quiet=False):
    """For a linear score the ascent can be followed exactly: each step adds lr * (w - 2 * l2 * I)."""
    net, weights, _ = linear_model(shape, n_classes, seed)
    w = weights[..., class_index]
    expected = ascent_by_hand(w, steps, learning_rate, l2)
    expect_close(class_model_visualisation(net, class_index, steps=steps, learning_rate=learning_rate, l2=l2),
                 expected, what, rtol=1e-4, atol=1e-5, quiet=quiet,
                 hint="start from zeros; each step: I += learning_rate * gradient of (score - l2 * sum(I**2))",
                 mistakes={"gradient descent (the score goes down)": ascent_by_hand(w, steps, learning_rate, l2, -1.0),
                           "penalty with the wrong sign (+l2 * ||I||^2)": ascent_by_hand(
                               w, steps, learning_rate, l2, penalty_gradient=lambda image: -2 * l2 * image),
                           "penalty gradient l2 * I (the factor 2 of d||I||^2/dI forgotten)": ascent_by_hand(
                               w, steps, learning_rate, l2, penalty_gradient=lambda image: l2 * image),
                           "no L2 penalty at all": ascent_by_hand(w, steps, learning_rate, 0.0),
                           "one step too few or too many": ascent_by_hand(w, steps - 1, learning_rate, l2)})


check_ascent((4, 4, 1), 3, 2, steps=20, learning_rate=0.1, l2=0.5, seed=0,
             what="gradient ascent on a linear model, followed by hand")

# On the shipped model: the class score rises from the zero image, and the L2 term shrinks the image.
def score_of(image, c):
    return float(model(np.asarray(image, np.float32)[None], training=False)[0, c])


free = as_array(class_model_visualisation(model, 1, steps=30, learning_rate=0.1, l2=0.0), "ascent, l2=0")
penalised = as_array(class_model_visualisation(model, 1, steps=30, learning_rate=0.1, l2=0.1), "ascent, l2=0.1")
expect_shape(penalised, (28, 28, 1), "the class model image has the input's shape")
expect_true(score_of(penalised, 1) > score_of(np.zeros((28, 28, 1)), 1) + 1.0,
            "gradient ascent increases the trouser score",
            f"score {score_of(penalised, 1):.2f} after 30 steps, {score_of(np.zeros((28, 28, 1)), 1):.2f} for zeros",
            hint="ascent means adding the gradient, not subtracting it")
expect_true(np.linalg.norm(penalised) < np.linalg.norm(free), "the L2 term shrinks the image",
            f"norm {np.linalg.norm(penalised):.2f} with l2=0.1, {np.linalg.norm(free):.2f} without",
            hint="the objective is score - l2 * sum(I**2)")
### BEGIN HIDDEN TESTS
check_ascent((3, 5, 2), 4, 0, steps=15, learning_rate=0.05, l2=1.0, seed=hidden_seed(1), what="hidden: 3x5x2, l2=1", quiet=True)
check_ascent((2, 2, 1), 2, 1, steps=7, learning_rate=0.2, l2=0.0, seed=hidden_seed(2), what="hidden: no penalty", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# Class models of the course's network. Each image starts black and becomes what the network would
# most like to see for that class (shown with its own contrast; the colour bar is the raw pixel
# value). The grading profile draws one class; the full profile draws all ten.

# %%
steps = 60 if profile.is_grading else 300
shown_classes = [9] if profile.is_grading else list(range(10))
fig, axes = plt.subplots(2, len(shown_classes), figsize=(1.8 * len(shown_classes), 4), squeeze=False)
started = time.perf_counter()
for col, c in enumerate(shown_classes):
    for row, l2 in enumerate((0.0, 0.05)):
        image = class_model_visualisation(model, c, steps=steps, learning_rate=0.1, l2=l2)
        axes[row, col].imshow(image[..., 0], cmap="gray")
        axes[row, col].set_title(f"{CLASS_NAMES[c]}, l2={l2}\nscore {score_of(image, c):.0f}, "
                                 f"|I|={np.linalg.norm(image):.0f}", fontsize=7)
        axes[row, col].set_axis_off()
plt.show()
print(f"{2 * len(shown_classes)} class models of {steps} steps in {time.perf_counter() - started:.1f} s")

# %% [markdown]
# ## 8. The representation space: t-SNE of the penultimate layer
#
# The layer just before the classifier (fc7 in AlexNet, `features` here) is the network's "code"
# for an image. The last layer only draws straight lines through this space, so
# training has to place the classes where lines can separate them. t-SNE (van der Maaten & Hinton)
# draws high-dimensional points in 2-D so that *neighbours stay neighbours*; distances between far
# clusters mean little.
#
# Write `penultimate_features`: the input of the model's last layer, for a batch of images, from
# a sub-model `keras.Model(model.input, model.layers[-1].input)` in inference mode. (In the course's
# model that is the output of `features`, passed through `dropout`, which does nothing at
# inference.) Then write `tsne_2d` with `sklearn.manifold.TSNE` (2 components, the given
# perplexity, `init="pca"`, `random_state=seed`) and return its `fit_transform` of the features.

# %% nbgrader={"grade": false, "grade_id": "penultimate_features", "locked": false, "schema_version": 3, "solution": true, "task": false}
def penultimate_features(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The input of the model's last layer for a batch (N, H, W, C): (N, D)."""
    ### BEGIN SOLUTION
    probe = keras.Model(model.input, model.layers[-1].input)
    return np.asarray(probe(np.asarray(images, np.float32), training=False))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_penultimate_features", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
expect_own_viz(penultimate_features, "penultimate_features")


def check_penultimate(net, images, what, quiet=False):
    """The last layer is affine: scores = features @ W + b must reproduce the model's output."""
    kernel, bias = net.layers[-1].get_weights()
    codes = as_array(penultimate_features(net, images), what)
    expect_shape(codes, (len(images), kernel.shape[0]), what, quiet=quiet,
                 hint=f"the last layer takes {kernel.shape[0]} numbers per image: return its input, not its output")
    expect_close(codes @ kernel + bias, net(images, training=False).numpy(), f"{what}: features @ W + b = scores",
                 rtol=1e-3, atol=1e-4, quiet=quiet, hint="call the sub-model with training=False")


check_penultimate(model, x_test[:5], "penultimate_features of the shipped model (5 images)")
### BEGIN HIDDEN TESTS
check_penultimate(relu_net(3), hidden_rng(3).normal(size=(4, 4, 4, 1)).astype(np.float32),
                  "hidden: a small ReLU network", quiet=True)
### END HIDDEN TESTS

# %% nbgrader={"grade": false, "grade_id": "tsne_2d", "locked": false, "schema_version": 3, "solution": true, "task": false}
from sklearn.manifold import TSNE


def tsne_2d(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE embedding (N, 2) of feature vectors (N, D), reproducible from `seed`."""
    ### BEGIN SOLUTION
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        np.asarray(features, np.float32))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_tsne_2d", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
expect_own_viz(tsne_2d, "tsne_2d")


def blobs(n_per_class, n_classes, dim, seed):
    """Well-separated Gaussian clusters: any embedding that keeps neighbours keeps them apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10.0, size=(n_classes, dim))
    labels = np.repeat(np.arange(n_classes), n_per_class)
    return (centres[labels] + rng.normal(size=(len(labels), dim))).astype(np.float32), labels


def nearest_neighbour_agreement(points, labels):
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    return float((labels[distances.argmin(axis=1)] == labels).mean())


points, labels = blobs(20, 3, 20, seed=0)
embedding = as_array(tsne_2d(points, seed=0, perplexity=10.0), "tsne_2d(60 points in 20-D)")
expect_shape(embedding, (60, 2), "t-SNE gives two coordinates per point")
expect_true(nearest_neighbour_agreement(embedding, labels) > 0.95, "separated clusters stay separated",
            f"only {nearest_neighbour_agreement(embedding, labels):.0%} of the points have a nearest neighbour "
            "from their own cluster", hint="embed the features you were given, with n_components=2")
expect_close(tsne_2d(points, seed=0, perplexity=10.0), embedding, "the same seed gives the same embedding",
             hint="pass random_state=seed to TSNE")
### BEGIN HIDDEN TESTS
from sklearn.manifold import TSNE  # the oracle's own import: the judge never borrows the student's

points, labels = blobs(8, 4, 12, seed=1)
embedding = as_array(tsne_2d(points, seed=3, perplexity=5.0), "hidden: tsne_2d(32 points, perplexity 5)")
expect_shape(embedding, (32, 2), "hidden: 32 points", quiet=True)
expect_true(nearest_neighbour_agreement(embedding, labels) > 0.9, "hidden: clusters stay separated (perplexity 5)",
            f"agreement {nearest_neighbour_agreement(embedding, labels):.0%}", quiet=True)
expect_close(embedding, TSNE(n_components=2, perplexity=5.0, init="pca", random_state=3).fit_transform(points),
             "hidden: the same map as scikit-learn's TSNE with perplexity 5, init='pca', random_state=seed",
             rtol=1e-3, atol=1e-3, hint="pass n_components=2, perplexity=perplexity, init='pca', random_state=seed",
             quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# Now the lecture's picture: t-SNE of the penultimate codes of test images, next to t-SNE of the raw
# pixels of the same images. The number above each plot is measured: the fraction of each point's
# five nearest neighbours (in the 2-D map) that have the same label. "Similar things end up in
# similar places" holds far better for the network's code than for the pixels.

# %%
n_points = 200 if profile.is_grading else 2000
x_some, y_some = stratified_subset(x_test, y_test, n_points, seed=0)
started = time.perf_counter()
codes = penultimate_features(model, x_some)
maps = {f"penultimate layer ({codes.shape[1]}-D)": tsne_2d(codes),
        f"raw pixels ({np.prod(x_some.shape[1:])}-D)": tsne_2d(x_some.reshape(len(x_some), -1))}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
for ax, (name, embedding) in zip(axes, maps.items()):
    agreement = neighbour_agreement(embedding, y_some, k=5)
    tsne_scatter(ax, embedding, y_some, CLASS_NAMES, f"t-SNE of the {name}\n5-NN label agreement {agreement:.0%}")
fig.tight_layout()
plt.show()
print(f"two t-SNE maps of {n_points} images in {time.perf_counter() - started:.1f} s")

# %% [markdown]
# ## 9. Questions
#
# **Question 1 (2 points).** Look at the occlusion figure and the printed score drops. With the
# lecture's grey square (0.5), covering an *empty corner* of some items changes the class score,
# sometimes as much as covering the item itself; with a black square it does not. Explain why, say
# what a "neutral" occluder should be in general and for this data set, and what this means for
# reading an occlusion map.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_occlusion", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# Measured with the shipped model: for the ankle boot a grey square in the empty top-left corner
# lowers the score by about 1.2, more than the same square in the centre of the boot (about 0.5);
# a black square lowers it by 0.0 in the corner and by about 3 in the centre. (The T-shirt is an
# exception: it fills the image, so its "corner" is not empty.)
#
# An occlusion map measures the effect of *changing* pixels, not of *removing information*. Every
# Fashion-MNIST item sits on an exactly black background, so the network never saw a grey square in
# its training data: a grey patch in an empty corner adds a new bright structure (edges the first
# layer responds to strongly), which can push the score down (or up) as much as hiding part of the
# item. A black square on the black background changes no pixel, so the score is unchanged there,
# and the map then shows only the effect of hiding the object.
#
# A neutral occluder is one that looks like "nothing" to the network: a value typical of the data
# where there is no object, e.g. the data set's mean colour for natural photos (Zeiler and Fergus used
# grey on ImageNet, where grey is close to the mean), a blurred version of the image, or here the
# background value 0. Reading a map therefore needs a baseline: a score change tells you the network
# reacts to the patch you *added* as much as to what you hid, so compare occluders (or check that
# empty regions are unaffected) before concluding that a region is "important".
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points).** Quote the three mean correlations printed after the gradient maps
# (map for the true class versus map for another class of the same image). Which method tells the
# classes apart and which barely does? Explain why from how each one is computed (think of where
# the class enters the computation and what the guided ReLU masks do), and say what this implies
# for using guided backprop as an explanation of a *decision*.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_class_discriminative", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# Measured here (shipped model): guided backprop maps for two different classes correlate at about
# +0.9 or more, vanilla saliency maps at about +0.2, Grad-CAM maps at +0.2 or less on average, from
# +0.8 down to -0.7 depending on the item (the 4 or 6 items shown above). Guided backprop is the least
# class-discriminative; Grad-CAM's maps move the most with the class.
#
# The class enters all three only through the gradient that starts at the top, dS_c/d(layer). In
# guided backprop that signal then passes through every ReLU with two masks: the forward mask
# (x > 0) depends only on the image, and the (R > 0) mask keeps only positive gradients at every
# layer. After a few layers, what survives is mostly decided by the image's own activation pattern,
# so the result looks like an edge/texture reconstruction of the image whatever class we asked
# about (Adebayo et al. 2018 show it barely changes even with random weights). Vanilla saliency keeps
# the signed gradients, so the class weights matter more, but it is noisy. Grad-CAM uses the class
# gradient only to weight the channels of a deep layer, and then keeps only positive evidence: a
# different class weights different part detectors, so the map moves to the regions that support
# *that* class.
#
# So a guided backprop picture shows what the network sees in the image, not why it chose a class;
# to explain a decision use a class-discriminative method (Grad-CAM, occlusion) or combine both
# (guided Grad-CAM multiplies them).
# ### END SOLUTION
