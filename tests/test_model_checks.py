"""course.model_checks: the steps around the structural comparator that assignment 05's tests use."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from course.grading import GradingError, numerical_gradient, rel_error
from course.model_checks import (block_model, canonical_initialisation, check_block, conv_kernel_gradient_norms,
                                 student_model, weights_without_biases)
from course.models import resnet


def conv_pair(x, filters):
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.Conv2D(filters, 1)(x)


def conv_pair_valid(x, filters):  # a wrong block: the 3x3 convolution shrinks the image
    x = layers.Conv2D(filters, 3, activation="relu")(x)
    return layers.Conv2D(filters, 1)(x)


def zoo_block(x, filters):
    return resnet.basic_block(x, filters, 1, name="b")


def failure(check, *args, **kwargs) -> str:
    with pytest.raises(GradingError) as caught:
        check(*args, **kwargs)
    return str(caught.value)


def test_student_model_returns_the_model_or_says_what_went_wrong():
    model = keras.Sequential([keras.Input((2,)), layers.Dense(1)])
    assert student_model(lambda: model, "net", "hint") is model

    def unwritten():
        raise NotImplementedError()

    assert "not written yet" in failure(student_model, unwritten, "net", "hint")
    message = failure(student_model, lambda: 1 / 0, "net()", "check the shapes")
    assert "building your model raised ZeroDivisionError" in message and "hint: check the shapes" in message
    assert "returned None" in failure(student_model, lambda: None, "net()", "hint")


def test_block_model_wraps_a_block_and_refuses_one_that_returns_nothing():
    model = block_model(conv_pair, (8, 8, 3), filters=4)
    assert model.output.shape[1:] == (8, 8, 4) and len(model.layers) == 3
    assert "it returned None" in failure(block_model, lambda x: None, (8, 8, 3))


def test_check_block_passes_the_same_block_and_names_the_first_difference():
    mine = check_block(conv_pair, conv_pair, (8, 8, 3), "block", "use padding='same'", filters=4)
    assert isinstance(mine, keras.Model)
    message = failure(check_block, conv_pair_valid, conv_pair, (8, 8, 3), "block", "use padding='same'", filters=4)
    assert "padding='same'" in message and "hint: use padding='same'" in message


def test_check_block_refuses_a_block_taken_from_the_zoo():
    message = failure(check_block, zoo_block, zoo_block, (8, 8, 4), "residual block", "hint", filters=4)
    assert "course's own implementation" in message and "course.models" in message


def test_weights_without_biases_counts_kernels_as_the_papers_do():
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(16, 3, name="c")(inputs)
    x = layers.BatchNormalization()(x)
    outputs = layers.Dense(10)(layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    assert weights_without_biases(model) == 3 * 3 * 3 * 16 + 6 * 6 * 16 * 10  # by hand: no bias, no gamma/beta


def tiny_net():
    keras.utils.set_random_seed(4)
    inputs = keras.Input((5, 5, 2))
    x = layers.Conv2D(3, 2, name="first")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(2, 1, use_bias=False, name="second")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(3, activation="softmax")(x))


@pytest.mark.parametrize("training", [True, False])
def test_conv_kernel_gradient_norms_agree_with_finite_differences(training):
    net = tiny_net()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 5, 5, 2)).astype("float32"), np.array([0, 2, 1, 2])

    def numerical_norm(layer):
        original = layer.kernel.numpy()

        def loss_at(kernel):
            layer.kernel.assign(kernel.astype("float32"))
            return float(np.mean(keras.losses.sparse_categorical_crossentropy(y, net(x, training=training))))

        gradient = numerical_gradient(loss_at, original.astype("float64"), h=1e-3)
        layer.kernel.assign(original)
        return np.linalg.norm(gradient)

    expected = [numerical_norm(net.get_layer("first")), numerical_norm(net.get_layer("second"))]
    got = conv_kernel_gradient_norms(net, x, y, training=training)
    assert got.shape == (2,) and rel_error(got, expected) < 2e-2


def two_convs(first_created_first: bool):
    """The same net, with its two parallel convolutions created in either order."""
    inputs = keras.Input((6, 6, 2))
    make = [lambda: layers.Conv2D(4, 3, padding="same"), lambda: layers.Conv2D(4, 1)]
    a, b = (make[0](), make[1]()) if first_created_first else reversed([make[1](), make[0]()])
    x = layers.BatchNormalization()(layers.Add()([a(inputs), b(inputs)]))
    return keras.Model(inputs, layers.Dense(3)(layers.Flatten()(x)))


def kernels_by_shape(model):
    return {tuple(w.shape): w.numpy() for w in model.weights if w.name == "kernel"}


def test_canonical_initialisation_depends_on_the_structure_not_the_order_of_creation():
    one, other = two_convs(True), two_convs(False)
    canonical_initialisation(one, seed=7)
    canonical_initialisation(other, seed=7)
    mine, theirs = kernels_by_shape(one), kernels_by_shape(other)
    assert mine.keys() == theirs.keys() and all(np.array_equal(mine[k], theirs[k]) for k in mine)
    canonical_initialisation(other, seed=8)
    assert not np.array_equal(kernels_by_shape(other)[(3, 3, 2, 4)], mine[(3, 3, 2, 4)])
    for shape, kernel in mine.items():  # Glorot-uniform: |w| <= sqrt(6 / (fan_in + fan_out))
        field = int(np.prod(shape[:-2]))
        assert np.abs(kernel).max() <= np.sqrt(6 / (field * (shape[-2] + shape[-1])))
    biases = [w.numpy() for w in one.weights if w.name in ("bias", "beta")]
    assert all(not b.any() for b in biases)
    assert all((w.numpy() == 1).all() for w in one.weights if w.name == "gamma")
