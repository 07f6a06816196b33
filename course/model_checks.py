"""Checks of the Keras models and blocks students build, for the tests of assignment 05.

The tests compare a student's builder with the model zoo's (`course.models`),
so they need a few steps around `course.structure.expect_same_structure`:
call the builder and turn a crash into a message, wrap a block function
(tensor -> tensor) into a model, make sure the student did not simply call the
zoo, and measure gradients with code of the tests' own. They live here, tested
in ``tests/test_model_checks.py``, so the notebook's test cells stay a few calls.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from course.grading import GradingError, expect_own_code, expect_true
from course.structure import depths, expect_same_structure

ZOO = ("course.models",)
ZOO_HINT = ("the tests compare your model with the model zoo's, so a solution that calls "
            "course.models proves nothing: build the layers yourself with keras.layers")


def expect_no_zoo(fn: Callable, what: str) -> None:
    """The student's function (and the notebook helpers it calls) must not use the model zoo."""
    expect_own_code(fn, what, ZOO, ZOO_HINT)


def student_model(build: Callable[[], object], what: str, hint: str):
    """Call ``build()`` (a student's builder); a crash or a missing return becomes a GradingError that says so.

    Args:
        build: no-argument function returning the student's model.
        what: what the message calls the model, e.g. ``"lenet5((28, 28, 1))"``.
        hint: the hint shown when building raises.
    """
    try:
        model = build()
    except GradingError:
        raise
    except NotImplementedError:
        raise GradingError(what, "your builder is not written yet: it still raises NotImplementedError",
                           "replace `raise NotImplementedError()` in its cell with your code") from None
    except Exception as exc:  # noqa: BLE001 - the student's code failed: report it, with the hint
        raise GradingError(what, f"building your model raised {type(exc).__name__}: {exc}", hint) from None
    expect_true(model is not None, what, "your function returned None", "did you forget a `return`?", quiet=True)
    return model


def block_model(block: Callable, input_shape: tuple, **kwargs):
    """A block function (tensor -> tensor) as a model on a new ``keras.Input(input_shape)``.

    Args:
        block: the block function, called as ``block(inputs, **kwargs)``.
        input_shape: the input's shape without the batch axis.
    """
    import keras

    inputs = keras.Input(tuple(input_shape))
    outputs = block(inputs, **kwargs)
    if outputs is None:
        raise GradingError("your block function", "it returned None", "return the output tensor")
    return keras.Model(inputs, outputs)


def check_block(student_fn: Callable, reference_fn: Callable, input_shape: tuple, what: str, hint: str,
                **kwargs):
    """The student's block against the reference block, on the same input and arguments; returns the student's.

    Args:
        student_fn: the student's block function.
        reference_fn: the zoo's block with the same call signature.
        input_shape: the input's shape without the batch axis.
        what: what the message calls the block.
        hint: the hint shown on any difference.
        **kwargs: the block's arguments, passed to both.
    """
    expect_no_zoo(student_fn, what)
    mine = student_model(lambda: block_model(student_fn, input_shape, **kwargs), what, hint)
    expect_same_structure(mine, block_model(reference_fn, input_shape, **kwargs), what, hint=hint)
    return mine


def weights_without_biases(model) -> int:
    """Convolution and dense kernel weights of a model, biases and batch norm left out (as the papers count)."""
    from keras import layers

    return sum(math.prod(layer.kernel.shape) for layer in model.layers
               if isinstance(layer, (layers.Conv2D, layers.Dense)))


def conv_kernel_gradient_norms(model, x, y, training: bool = True) -> np.ndarray:
    """The tests' own measurement: ||d(mean cross-entropy)/d(kernel)|| for each Conv2D, in ``model.layers`` order.

    Args:
        model: a Keras classifier with softmax outputs.
        x, y: a batch of inputs and integer labels.
        training: batch norm's mode (True: the batch's statistics, as in training).
    """
    import keras
    import tensorflow as tf

    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=training)))
    return np.array([np.sqrt(np.sum(np.square(g.numpy()))) for g in tape.gradient(loss, kernels)])


def canonical_initialisation(model, seed: int) -> None:
    """Initial weights that depend only on the net's structure and ``seed``, not on its builder's code.

    Keras' seeded initialisers draw each layer's weights in the order the
    builder creates the layers, so two correct builders would start from
    different weights. Here every Conv2D and Dense kernel is Glorot-uniform
    (Keras' default), drawn from one NumPy generator in the order (depth from
    the input, kernel shape, strides), which no two kernels of a correct
    ResNet-style net share; biases and batch norm's beta are 0, its gamma 1.

    Args:
        model: a functional Keras model, changed in place.
        seed: the NumPy generator's seed.
    """
    from keras import layers

    for layer in model.layers:
        for weight in layer.weights:
            if weight.name in ("bias", "beta", "moving_mean"):
                weight.assign(np.zeros(weight.shape, "float32"))
            elif weight.name in ("gamma", "moving_variance"):
                weight.assign(np.ones(weight.shape, "float32"))
    depth = depths(model)
    with_kernels = sorted((layer for layer in model.layers if isinstance(layer, (layers.Conv2D, layers.Dense))),
                          key=lambda layer: (depth[layer], tuple(layer.kernel.shape),
                                             tuple(getattr(layer, "strides", ()))))
    rng = np.random.default_rng(seed)
    for layer in with_kernels:
        shape = tuple(layer.kernel.shape)
        field = math.prod(shape[:-2])  # 1 for a Dense kernel
        limit = math.sqrt(6 / (field * shape[-2] + field * shape[-1]))
        layer.kernel.assign(rng.uniform(-limit, limit, shape).astype("float32"))
