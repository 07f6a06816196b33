"""Independent references for the tests of assignments 02, 03 and 04, and the checks built on them.

A test of a hand-written layer is only as good as what it compares with. The
references here never share code with a solution: volumes, parameter counts
and multiply-adds come from a plain Keras model built from the same layer
spec (02); convolution and pooling gradients from TensorFlow's automatic
differentiation (03); batch normalisation from a float64
``keras.layers.BatchNormalization`` (04); dropout, being random, from
statistics with tolerances derived from Hoeffding's inequality (04), so that a
correct dropout fails with a stated, negligible probability. The outputs of
the typical mistakes are computed here too, so that a failing test can name
the mistake. Tested in ``tests/test_references.py``.
"""
from __future__ import annotations

import math
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from course.arith import layer_macs
from course.grading import expect_close, expect_equal, expect_shape, expect_true

# --------------------------------------------------------------------------- 02: layer tables


def keras_model(input_shape: tuple, layers: list[dict]) -> keras.Model:
    """The network of a layer spec (`course.arith.conv`, `pool`, `fc`) with plain Keras layers, named like the spec."""
    x = inputs = keras.Input(input_shape)
    for layer in layers:
        if layer["kind"] == "conv":
            padding = layer["padding"]
            if isinstance(padding, int):
                x = keras.layers.ZeroPadding2D(padding, name=layer["name"] + "_pad")(x)
                padding = "valid"
            x = keras.layers.Conv2D(layer["filters"], layer["size"], strides=layer["stride"], padding=padding,
                                    activation="relu", name=layer["name"])(x)
        elif layer["kind"] == "pool":
            x = keras.layers.MaxPooling2D(layer["size"], strides=layer["stride"], name=layer["name"])(x)
        else:
            if len(x.shape) > 2:
                x = keras.layers.Flatten(name=layer["name"] + "_flatten")(x)
            x = keras.layers.Dense(layer["units"], name=layer["name"])(x)
    return keras.Model(inputs, x)


TABLE_HINTS = {"shape": "(height, width, channels) for conv/pool, (units,) for fc",
               "memory": "the number of values in the output volume: height * width * channels",
               "params": "conv: k * (f*f*c_in + 1); fc: inputs * units + units; pool: 0",
               "macs": "conv: as conv_macs; fc: inputs * units; pool: 0"}


def check_table(rows, model: keras.Model, layers: list[dict], what: str) -> None:
    """A student's volume table (one dict per layer), row by row, against the Keras model of the same spec."""
    expect_true(isinstance(rows, list) and all(isinstance(r, dict) for r in rows), what,
                f"expected a list of dicts, got {type(rows).__name__}", "append one dict per layer to a list")
    expect_equal([r.get("name") for r in rows], [layer["name"] for layer in layers], f"{what}: layer names",
                 hint="one row per layer, in order, with the layer's 'name'")
    for row in rows:
        reference = model.get_layer(row["name"])
        shape = tuple(reference.output.shape[1:])
        expected = {"shape": shape, "memory": math.prod(shape), "params": reference.count_params(),
                    "macs": layer_macs(reference, reference.input.shape, reference.output.shape)}
        for column, value in expected.items():
            got = row.get(column)
            expect_equal(tuple(got) if column == "shape" and got is not None else got, value,
                         f"{what}, {row['name']}: {column!r}", quiet=True, hint=TABLE_HINTS[column])
    print(f"\u2714 {what}: {len(rows)} rows agree with Keras")


# --------------------------------------------------------------------------- 03: gradients by TensorFlow


def padding_spec(pad: int) -> list[list[int]]:
    """Explicit zero padding of height and width only, as tf.nn.conv2d wants it spelled."""
    return [[0, 0], [pad, pad], [pad, pad], [0, 0]]


def conv_forward(x, w, b, stride: int = 1, pad: int = 0) -> np.ndarray:
    """The convolutional layer's forward pass (TensorFlow), as float64 NumPy."""
    return tf.nn.conv2d(np.asarray(x, np.float64), np.asarray(w, np.float64), stride, padding_spec(pad)).numpy() + b


def tf_conv_grads(dout, x, w, b, stride: int = 1, pad: int = 0) -> list[np.ndarray]:
    """(dx, dw, db) of L = sum(conv(x, w, b) * dout), by TensorFlow's automatic differentiation."""
    x, w, b = (tf.constant(np.asarray(v, np.float64)) for v in (x, w, b))
    with tf.GradientTape() as tape:
        tape.watch([x, w, b])
        out = tf.nn.conv2d(x, w, stride, padding_spec(pad)) + b
        loss = tf.reduce_sum(out * dout)
    return [g.numpy() for g in tape.gradient(loss, [x, w, b])]


def tf_pool_grad(dout, x, size: int, stride: int, mode: str = "max") -> np.ndarray:
    """dx of L = sum(pool(x) * dout) for max or average pooling, by automatic differentiation."""
    pool = {"max": tf.nn.max_pool2d, "avg": tf.nn.avg_pool2d}[mode]
    x = tf.constant(np.asarray(x, np.float64))
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(pool(x, size, stride, "VALID") * dout)
    return tape.gradient(loss, x).numpy()


# --------------------------------------------------------------------------- 04: dropout statistics

# A correct dropout fails one statistical check with probability at most FAILURE, whatever its shape, keep
# probability or way of drawing the mask (any draw that keeps each unit independently with probability keep_prob).
FAILURE = 1e-9


def hoeffding_tolerance(ranges, failure: float = FAILURE) -> float:
    """t such that P(|mean - E[mean]| >= t) <= failure for independent terms, term i within an interval of
    width ranges[i]. Hoeffding: P(|mean - E[mean]| >= t) <= 2 exp(-2 n^2 t^2 / sum(ranges^2)), solved for t."""
    ranges = np.asarray(ranges, dtype=float).ravel()
    return float(np.sqrt(np.log(2 / failure) * np.sum(ranges ** 2) / 2) / ranges.size)


def check_training_dropout(dropout_forward: Callable, keep_prob: float, scale_at: str, shape: tuple, seed: int):
    """Statistics of one training-time call of a student's dropout_forward: surviving values, fraction zeroed,
    mean kept. Returns the input and the output."""
    x = np.random.default_rng(seed + 100).uniform(0.5, 1.5, size=shape)  # never 0, so 0 means dropped
    what = f"dropout_forward(keep_prob={keep_prob}, training=True, scale_at={scale_at!r}) on shape {shape}"
    out = dropout_forward(x, keep_prob, training=True, rng=np.random.default_rng(seed), scale_at=scale_at)
    expect_shape(out, shape, what, quiet=True)
    out = np.asarray(out)
    kept = out != 0
    scale = 1 / keep_prob if scale_at == "train" else 1.0
    expect_close(out[kept], x[kept] * scale, f"{what}: the units that survive", rtol=1e-6,
                 hint="scale_at='train' divides the kept units by keep_prob; scale_at='test' keeps them as they are",
                 mistakes={"no rescaling in training (inverted dropout divides by keep_prob)": x[kept],
                           "multiplied by keep_prob instead of divided": x[kept] * keep_prob,
                           "divided by keep_prob although scale_at='test'": x[kept] / keep_prob})
    # Fraction zeroed: the mean of n = x.size indicators in [0, 1], expected 1 - keep_prob. Hoeffding with widths 1:
    # P(fail) <= 2 exp(-2 n t^2) = FAILURE, i.e. t = sqrt(ln(2e9) / 2n): 0.0103 for n = 100,000 (the tests use
    # n >= 90,000: t <= 0.0109). Dropping with probability keep_prob instead is off by |2 keep_prob - 1|: 0.6 at
    # keep_prob = 0.8, 0.4 at 0.3, 0.8 at 0.9, at least 36 times t; its own fraction strays that far with
    # probability below 2 exp(-2 * 90,000 * 0.389^2) < 1e-11000. (At keep_prob = 0.5 the two are the same.)
    zeroed, tolerance = 1 - kept.mean(), hoeffding_tolerance(np.ones(x.size))
    expect_true(abs(zeroed - (1 - keep_prob)) < tolerance, f"{what}: fraction of zeros",
                f"expected {1 - keep_prob:.2f} ± {tolerance:.4f} of the units dropped, got {zeroed:.4f}"
                + (" -- you DROP with probability keep_prob instead of KEEPING with it"
                   if abs(zeroed - keep_prob) < tolerance else ""),
                hint="keep a unit when rng.random(x.shape) < keep_prob", quiet=True)
    if scale_at == "train":
        # Mean activation: out_i = x_i m_i / keep_prob lies in [0, x_i / keep_prob] and E[out_i] = x_i, so Hoeffding
        # with widths x_i / keep_prob gives P(|mean(out) - mean(x)| >= t) <= FAILURE for the t computed here:
        # t / mean(x) = 1.35% (keep_prob 0.8, n = 100,000), 2.15% (0.5, 100,000), 2.27% (0.5, 90,000), 2.54% (0.3,
        # 200,000). (The old fixed 1% failed a correct dropout with probability 1.1% over these four calls, by the
        # normal approximation: 0.0024 + 0.0049 + 0.0040 from the three with keep_prob <= 0.5.)
        # Forgetting 1/keep_prob moves the mean by (1 - keep_prob) mean(x): 20%, 50%, 70%, at least 14 times t;
        # multiplying by keep_prob instead by 1 - keep_prob^2 >= 36%; the survivors check above fails both for certain.
        tolerance = hoeffding_tolerance(x / keep_prob)
        expect_true(abs(out.mean() - x.mean()) < tolerance, f"{what}: the mean activation",
                    f"inverted dropout keeps the mean: expected {x.mean():.4f} ± {tolerance:.4f}, got {out.mean():.4f}",
                    hint="divide by keep_prob so that E[output] = input", quiet=True)
    return x, out


def keras_dropout(x, keep_prob: float, seed: int) -> np.ndarray:
    """keras.layers.Dropout in training mode (its rate is the DROP probability, 1 - keep_prob)."""
    return keras.layers.Dropout(rate=1 - keep_prob, seed=seed, dtype="float32")(x, training=True).numpy()


# --------------------------------------------------------------------------- 04: batch normalisation


def keras_batchnorm(input_shape: tuple, gamma, beta, running_mean, running_var, momentum: float, epsilon: float):
    """A float64 keras.layers.BatchNormalization holding the given weights and statistics."""
    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon, dtype="float64")
    layer.build(input_shape)
    layer.set_weights([gamma, beta, running_mean, running_var])
    return layer


def batchnorm_case(shape: tuple, seed: int):
    """(x, gamma, beta, running_mean, running_var): an input with per-channel scales from 0.05 to 5, and random
    gamma, beta and running statistics."""
    rng = np.random.default_rng(seed)
    channels = shape[-1]
    x = rng.normal(size=shape) * np.geomspace(0.05, 5, channels) + rng.normal(size=channels)
    gamma, beta = rng.uniform(0.5, 2, channels), rng.normal(size=channels)
    running_mean, running_var = rng.normal(size=channels), rng.uniform(0.5, 2, channels)
    return x, gamma, beta, running_mean, running_var


def batchnorm_mistakes(x, gamma, beta, running_mean, running_var, momentum: float, epsilon: float,
                       training: bool) -> dict[str, dict[str, np.ndarray]]:
    """What typical mistakes make of the output ("out") and the new running statistics ("mean", "var")."""
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    if not training:
        return {"out": {"batch statistics used at inference (use the running ones)":
                        gamma * (x - mean) / np.sqrt(var + epsilon) + beta,
                        "gamma and beta not applied at inference (the learned scale and shift are used in both modes)":
                        (x - running_mean) / np.sqrt(running_var + epsilon),
                        "epsilon left out of the square root at inference (as if the stored running variance already "
                        "held it: Keras adds it only when normalising)":
                        gamma * (x - running_mean) / np.sqrt(running_var) + beta},
                "mean": {"running mean updated at inference": momentum * running_mean + (1 - momentum) * mean},
                "var": {"running variance updated at inference": momentum * running_var + (1 - momentum) * var}}
    unbiased = x.var(axis=axes, ddof=1)
    normalised = (x - mean) / np.sqrt(var + epsilon)
    return {
        "out": {"unbiased variance (ddof=1) used: Keras divides by the number of values": gamma * (x - mean) / np.sqrt(unbiased + epsilon) + beta,
                "epsilon added outside the square root": gamma * (x - mean) / (np.sqrt(var) + epsilon) + beta,
                "gamma and beta not applied": normalised,
                "running statistics used in training": gamma * (x - running_mean) / np.sqrt(running_var + epsilon) + beta,
                "statistics over the batch axis only (a conv layer also averages over height and width)":
                    gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + epsilon) + beta},
        "mean": {"momentum inverted: it weights the OLD value in Keras": (1 - momentum) * running_mean + momentum * mean,
                 "running mean not updated": running_mean},
        "var": {"momentum inverted: it weights the OLD value in Keras": (1 - momentum) * running_var + momentum * var,
                "unbiased variance in the running average (PyTorch's convention, not Keras')": momentum * running_var + (1 - momentum) * unbiased,
                "epsilon added to the stored running variance (it belongs only inside the square root, when normalising)":
                    momentum * running_var + (1 - momentum) * (var + epsilon),
                "running variance not updated": running_var},
    }
