# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # Assignment 3 — Backpropagation through convolution, pooling and residual blocks
#
# Training a CNN needs, for every layer, the gradient of the loss with respect to the layer's
# parameters (to update them) and with respect to its input (to pass the error on to the layer
# below). In this assignment you derive and write those backward passes yourself for a
# convolutional layer and a max-pooling layer, check them against TensorFlow's automatic
# differentiation and against finite differences, and then use them to see *why* very deep plain
# networks stop learning and how residual connections fix it.
#
# You will learn to
# * compute `dL/db`, `dL/dW` and `dL/dX` of a convolutional layer with stride and padding, and see
#   that `dL/dW` is a correlation of the input with the upstream gradient while `dL/dX` is a full
#   convolution of the upstream gradient with the flipped kernel;
# * route the gradient through max pooling to the input that won;
# * show that a residual block passes `dL/dz (1 + F'(a))` back, and measure what that does to the
#   gradient after many layers.
#
# Lecture slides: *Backpropagation for convolutional layer* (`dL/dW = Correlation(I, LO)`,
# `dL/dI` with the flipped kernel), *Max pooling layer* (the backward pass), *Deeper != better*
# (vanishing gradients), *Backpropagation through residual blocks* (`1 + F'(a)`).
#
# | part | what you write | points |
# |---|---|---|
# | 1 | `conv_backward`: `db`, `dW`, `dX` | 1 + 2 + 3 |
# | 2 | `max_pool_backward` | 3 |
# | 3 | `block_backward` (plain and residual) | 2 |
# | 4 | written questions | 3 + 2 |
#
# **Total: 16 points** (11 autograded, 5 written)
#
# Each test cell runs public checks first (with messages that say what was expected and give a
# hint), then hidden checks with other shapes, strides and paddings.

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

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from course.grading import (expect_close, expect_true, hidden_rng, hidden_seed, inexact_divisions,
                            numerical_gradient)

# %% [markdown]
# ## Conventions and the forward pass
#
# As in assignment 1: images `x` are `(N, H, W, C)`, filters `w` are `(FH, FW, C, K)`, biases `b`
# are `(K,)`, the same stride `S` and zero padding `P` along height and width, and the layer computes
# the cross-correlation
#
# $$\text{out}[n, i, j, k] = b[k] + \sum_{u, v, c} x_{\text{pad}}[n,\; iS + u,\; jS + v,\; c]\; w[u, v, c, k].$$
#
# We use TensorFlow's `tf.nn.conv2d` as the forward pass here (it computes exactly this), so this
# notebook does not give away assignment 1. The next, read-only cell imports it, `conv_forward`, from
# `course/references.py`, together with the oracles of the tests: TensorFlow's automatic
# differentiation (`tf.GradientTape`) of the convolution (`tf_conv_grads`) and of pooling (`tf_pool_grad`).
#
# **What "upstream gradient" means.** Somewhere above the layer there is a scalar loss `L`. Backprop
# hands the layer `dout = dL/d out`, an array shaped like its output, and asks for `dL/dx`, `dL/dw`,
# `dL/db`. To test a backward pass without a network around it we choose `dout` at random and use
# the loss `L = sum(out * dout)`, whose gradient with respect to `out` is exactly `dout`.

# %% nbgrader={"grade": false, "grade_id": "oracles", "locked": true, "schema_version": 3, "solution": false, "task": false}
from course.references import conv_forward, tf_conv_grads, tf_pool_grad  # TensorFlow's forward pass and gradients


def floor_note(sizes, windows, stride, pad=0):
    """For a hint: where (size + 2P - F) / S is not a whole number, what that means for the backward pass."""
    found = inexact_divisions(sizes, windows, stride, pad)
    return (f"; here the division is not exact ({found}): the output size is floored (take H_out and W_out from "
            "dout.shape, or use //, never round()), and the last input rows or columns that no window reaches get "
            "zero gradient") if found else ""


def conv_case(seed, x_shape, w_shape, stride, pad):
    """Reproducible x, w, b and an upstream gradient shaped like the layer's output."""
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[-1])
    dout = rng.normal(size=conv_forward(x, w, b, stride, pad).shape)
    return dout, x, w, b


# %% [markdown]
# ## 1. The convolutional layer's backward pass
#
# Differentiate the formula above. Every output `out[n, i, j, k]` depends on `b[k]` with slope 1, on
# `w[u, v, c, k]` with slope `x_pad[n, iS+u, jS+v, c]`, and on `x_pad[n, iS+u, jS+v, c]` with slope
# `w[u, v, c, k]`. The chain rule sums these slopes, weighted by `dout`, over every output that
# used the parameter:
#
# * **bias**: $\;db[k] = \sum_{n,i,j} dout[n,i,j,k]$ — one number per filter, summed over the batch
#   and all positions.
# * **weights**: $\;dw[u,v,c,k] = \sum_{n,i,j} x_{\text{pad}}[n, iS+u, jS+v, c]\; dout[n,i,j,k]$.
#   Slide the upstream gradient over the padded input and take dot products: a *correlation of the
#   input with the upstream gradient* (the lecture's `dL/dW = Correlation(I, LO)`), summed over the
#   batch because the same filter is shared by every image.
# * **input**: every input pixel collects `w[u, v, c, k] * dout[n, i, j, k]` from each output whose
#   window covered it, then the padding is cut off again:
#   $\;dx_{\text{pad}}[n, iS+u, jS+v, c] \mathrel{+}= \sum_k w[u,v,c,k]\, dout[n,i,j,k]$,
#   $\;dx = dx_{\text{pad}}[:, P{:}P{+}H, P{:}P{+}W, :]$.
#   Written the other way round, as "for each input pixel, which outputs touched it?", this is a
#   correlation of the (zero-padded) upstream gradient with the kernel **rotated by 180°** — a full
#   convolution — as the lecture's `w_{-i,-j}` says. We verify that claim numerically after the test.
#
# Write `conv_backward(dout, x, w, stride, pad)` returning `(dx, dw, db)` with the shapes of `x`,
# `w` and `(K,)`. A clean vectorised route is to loop only over the filter offsets `(u, v)`: for a
# fixed offset, the input pixels that met `w[u, v]` form the strided slice
# `x_pad[:, u : u + S*H_out : S, v : v + S*W_out : S, :]`, shaped like `dout` but with `C` channels.
# Loops over every index are fine too, just slower.

# %% nbgrader={"grade": false, "grade_id": "conv_backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_backward(dout: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int = 1, pad: int = 0):
    """Gradients of a convolutional layer: returns (dx, dw, db) shaped like x, w and (K,).

    dout: upstream gradient (N, H_out, W_out, K); x, w, stride, pad: as in the forward pass.
    """
    ### BEGIN SOLUTION
    _, height, width, _ = x.shape
    fh, fw, _, _ = w.shape
    _, out_h, out_w, _ = dout.shape
    x_pad = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dx_pad = np.zeros(x_pad.shape)
    dw = np.zeros(w.shape)
    db = dout.sum(axis=(0, 1, 2))
    for u in range(fh):
        for v in range(fw):
            rows = slice(u, u + stride * out_h, stride)  # the input rows that met filter row u
            cols = slice(v, v + stride * out_w, stride)
            dw[u, v] = np.tensordot(x_pad[:, rows, cols, :], dout, axes=([0, 1, 2], [0, 1, 2]))  # (C, K)
            dx_pad[:, rows, cols, :] += dout @ w[u, v].T  # (N, H_out, W_out, K) @ (K, C)
    dx = dx_pad[:, pad:pad + height, pad:pad + width, :]
    return dx, dw, db
    ### END SOLUTION


# %% [markdown]
# Three test cells follow, one per gradient, so that a right `db` earns its point even while `dx` is
# still wrong. Each compares with `tf.GradientTape`; the ones for `dw` and `dx` also compare with a
# numerical gradient, the finite differences `(L(θ + h) - L(θ - h)) / 2h`, on a tiny layer.

# %% nbgrader={"grade": false, "grade_id": "backward_checks", "locked": true, "schema_version": 3, "solution": false, "task": false}
def conv_backward_result(dout, x, w, stride, pad, which):
    """The student's gradient `which` (0: dx, 1: dw, 2: db), or a clear failure if the return is malformed."""
    result = conv_backward(dout, x, w, stride=stride, pad=pad)
    expect_true(isinstance(result, (tuple, list)) and len(result) == 3, "conv_backward returns (dx, dw, db)",
                f"it returned {type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""),
                hint="return the three gradients as a tuple: return dx, dw, db", quiet=True)
    return result[which]


def numerical_conv_grad(dout, x, w, b, stride, pad, which):
    """Finite-difference gradient of L = sum(conv(x, w, b) * dout) with respect to x (0) or w (1)."""
    if which == 0:
        return numerical_gradient(lambda x_: np.sum(conv_forward(x_, w, b, stride, pad) * dout), x)
    return numerical_gradient(lambda w_: np.sum(conv_forward(x, w_, b, stride, pad) * dout), w)


# %% nbgrader={"grade": true, "grade_id": "test_conv_backward_db", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
def check_db(seed, x_shape, w_shape, stride, pad, what, quiet=False):
    dout, x, w, b = conv_case(seed, x_shape, w_shape, stride, pad)
    db = tf_conv_grads(dout, x, w, b, stride, pad)[2]
    expect_close(conv_backward_result(dout, x, w, stride, pad, 2), db, what, quiet=quiet,
                 mistakes={"db averaged instead of summed": db / dout[..., 0].size,
                           "db from the first image only": dout[0].sum(axis=(0, 1))},
                 hint="the bias of filter k touches every output of filter k, in every image: "
                      "sum dout over the batch, height and width axes; the result has shape (K,)")


check_db(0, (2, 5, 5, 3), (3, 3, 3, 4), 1, 1, "db, (2, 5, 5, 3) input, 4 filters 3x3, stride 1, pad 1")
### BEGIN HIDDEN TESTS
check_db(hidden_seed(1), (3, 7, 6, 2), (3, 3, 2, 5), 2, 0, "hidden: db with stride 2", quiet=True)
check_db(hidden_seed(15), (2, 8, 10, 3), (3, 3, 3, 2), 2, 0,
         "hidden: db, 3x3 filters, stride 2 on 8x10: (8 - 3) / 2 = 2.5 and (10 - 3) / 2 = 3.5 are floored", quiet=True)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_conv_backward_dw", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
def check_dw(seed, x_shape, w_shape, stride, pad, what, numerical=False, quiet=False):
    dout, x, w, b = conv_case(seed, x_shape, w_shape, stride, pad)
    dw = numerical_conv_grad(dout, x, w, b, stride, pad, 1) if numerical else tf_conv_grads(dout, x, w, b, stride, pad)[1]
    expect_close(conv_backward_result(dout, x, w, stride, pad, 1), dw, what, rtol=1e-5, atol=1e-6, quiet=quiet,
                 mistakes={"dW from the first image only (no sum over the batch)":
                               tf_conv_grads(dout[:1], x[:1], w, b, stride, pad)[1],
                           "dW averaged over the batch instead of summed": dw / len(x),
                           "dW flipped by 180 degrees (a true convolution)": dw[::-1, ::-1]},
                 hint="dw[u, v, :, :] collects x_pad[n, i*S+u, j*S+v, c] * dout[n, i, j, k] over every image n "
                      "and output position (i, j): a correlation of the padded input with dout, summed over the batch"
                      + floor_note(x_shape[1:3], w_shape[:2], stride, pad))


check_dw(2, (2, 5, 5, 3), (3, 3, 3, 4), 1, 1, "dw vs tf.GradientTape, stride 1, pad 1")
check_dw(3, (2, 4, 4, 2), (3, 3, 2, 2), 1, 1, "dw vs numerical gradient, a tiny layer", numerical=True)
check_dw(4, (2, 7, 7, 3), (3, 3, 3, 2), 2, 1, "dw vs tf.GradientTape, stride 2, pad 1")
### BEGIN HIDDEN TESTS
check_dw(hidden_seed(5), (3, 9, 8, 2), (3, 3, 2, 3), 3, 2, "hidden: stride 3, pad 2, size not a multiple of the stride", quiet=True)
check_dw(hidden_seed(6), (2, 6, 7, 3), (2, 3, 3, 2), 1, 0, "hidden: 2x3 filters, no padding", quiet=True)
check_dw(hidden_seed(7), (2, 5, 4, 3), (1, 1, 3, 4), 2, 0, "hidden: 1x1 filters, stride 2", quiet=True)
check_dw(hidden_seed(16), (2, 8, 10, 2), (3, 3, 2, 3), 2, 0,
         "hidden: 3x3 filters, stride 2, no padding, on 8x10: (8 - 3) / 2 = 2.5 and (10 - 3) / 2 = 3.5 are floored", quiet=True)
check_dw(hidden_seed(17), (1, 8, 7, 3), (3, 3, 3, 2), 3, 0,
         "hidden: 3x3 filters, stride 3 on 8x7: (8 - 3) / 3 = 1.67 and (7 - 3) / 3 = 1.33 are floored", quiet=True)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_conv_backward_dx", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
def check_dx(seed, x_shape, w_shape, stride, pad, what, numerical=False, quiet=False):
    dout, x, w, b = conv_case(seed, x_shape, w_shape, stride, pad)
    dx = numerical_conv_grad(dout, x, w, b, stride, pad, 0) if numerical else tf_conv_grads(dout, x, w, b, stride, pad)[0]
    expect_close(conv_backward_result(dout, x, w, stride, pad, 0), dx, what, rtol=1e-5, atol=1e-6, quiet=quiet,
                 mistakes={"dX with the kernel rotated the wrong way: rotated by 180 degrees where dout is scattered "
                           "back (dx_pad[n, i*S+u, j*S+v, c] += w[u, v, c, k] * dout[n, i, j, k] takes w[u, v] as it is, "
                           "not w[FH-1-u, FW-1-v]), or not rotated where dx is written as a full convolution of dout "
                           "(that form needs the kernel rotated, w[::-1, ::-1])":
                               tf_conv_grads(dout, x, w[::-1, ::-1], b, stride, pad)[0]},
                 hint=f"dx has the shape of x {x.shape}, not of the padded input: cut the padding off at the end. Pixel "
                      "x_pad[n, i*S+u, j*S+v, c] receives w[u, v, c, k] * dout[n, i, j, k] from every output that used it"
                      + floor_note(x_shape[1:3], w_shape[:2], stride, pad))


check_dx(8, (2, 5, 5, 3), (3, 3, 3, 4), 1, 1, "dx vs tf.GradientTape, stride 1, pad 1")
check_dx(9, (1, 4, 4, 2), (3, 3, 2, 2), 1, 1, "dx vs numerical gradient, a tiny layer", numerical=True)
check_dx(10, (2, 7, 7, 3), (3, 3, 3, 2), 2, 1, "dx vs tf.GradientTape, stride 2, pad 1")
### BEGIN HIDDEN TESTS
check_dx(hidden_seed(11), (3, 9, 8, 2), (3, 3, 2, 3), 3, 2, "hidden: stride 3, pad 2, size not a multiple of the stride", quiet=True)
check_dx(hidden_seed(12), (2, 6, 7, 3), (2, 3, 3, 2), 1, 0, "hidden: 2x3 filters, no padding", quiet=True)
check_dx(hidden_seed(13), (2, 5, 4, 3), (1, 1, 3, 4), 2, 0, "hidden: 1x1 filters, stride 2", quiet=True)
check_dx(hidden_seed(14), (1, 6, 6, 1), (5, 5, 1, 1), 2, 2, "hidden: one channel, 5x5 filter, stride 2, pad 2", numerical=True, quiet=True)
check_dx(hidden_seed(18), (2, 8, 10, 2), (3, 3, 2, 3), 2, 0,
         "hidden: 3x3 filters, stride 2, no padding, on 8x10: (8 - 3) / 2 = 2.5 and (10 - 3) / 2 = 3.5 are floored", quiet=True)
check_dx(hidden_seed(19), (1, 9, 7, 2), (3, 3, 2, 2), 3, 1,
         "hidden: 3x3 filters, stride 3, pad 1 on 9x7: (9 + 2 - 3) / 3 = 2.67 is floored", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# ### The lecture's two formulas, checked with numbers
#
# The slides state the two gradients as whole-array operations. With stride 1 both are ordinary
# convolutional layers, so we can compute them with the *forward* pass and compare with your
# backward pass:
#
# * `dL/dW = Correlation(input, upstream)`: treat the channels `C` of the padded input as a batch and
#   the batch `N` as channels; `dout` then plays the role of a filter bank of size `H_out x W_out`.
# * `dL/dX = full convolution of dout with the flipped kernel`: pad `dout` by `F - 1` on each side
#   ("full"), rotate every filter by 180° and swap its input and output channels, and correlate.

# %% nbgrader={"grade": false, "grade_id": "given_12", "locked": true, "schema_version": 3, "solution": false, "task": false}
dout, x, w, b = conv_case(20, (2, 6, 6, 3), (3, 3, 3, 4), 1, 0)
dx, dw, _ = conv_backward(dout, x, w, stride=1, pad=0)

dw_as_correlation = conv_forward(x.transpose(3, 1, 2, 0), dout.transpose(1, 2, 0, 3), 0).transpose(1, 2, 0, 3)
flipped_kernel = w[::-1, ::-1].transpose(0, 1, 3, 2)  # rotated 180 degrees, (FH, FW, K, C)
dx_as_full_convolution = conv_forward(dout, flipped_kernel, 0, stride=1, pad=w.shape[0] - 1)
print("dL/dW equals the correlation of the input with dout:             ", np.allclose(dw, dw_as_correlation))
print("dL/dX equals the full convolution of dout with the flipped kernel:", np.allclose(dx, dx_as_full_convolution))
print("... and with the unflipped kernel:                                ",
      np.allclose(dx, conv_forward(dout, w.transpose(0, 1, 3, 2), 0, stride=1, pad=w.shape[0] - 1)))

# %% [markdown]
# With stride `S > 1` the same holds after spreading `dout` out with `S - 1` zeros between its
# entries (each output only "touched" every S-th input position); with padding, cut the padding off
# `dx` afterwards. Your `conv_backward` handles both directly.

# %% [markdown]
# ## 2. Max pooling backward: the gradient goes to the winner
#
# Max pooling outputs the largest input of each window. Nudging that input nudges the output by the
# same amount; nudging any other input of the window changes nothing (it is not the max). So the
# upstream gradient of each output is passed back **only to the position of the maximum** of its
# window, and every other input of the window gets zero from it. When windows overlap (3x3 windows
# with stride 2, as in AlexNet), an input can win several windows: it then *accumulates* the
# gradients of all of them.
#
# Write `max_pool_backward(dout, x, size, stride)` returning `dx` shaped like `x`. If a window has
# several equal maxima, send the gradient to one of them (the first one, as `np.argmax` picks; the
# tests avoid ties).

# %% nbgrader={"grade": false, "grade_id": "max_pool_backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def max_pool_backward(dout: np.ndarray, x: np.ndarray, size: int = 2, stride: int = 2) -> np.ndarray:
    """Gradient of max pooling (no padding): each output's gradient goes to its window's maximum."""
    ### BEGIN SOLUTION
    n_images, _, _, channels = x.shape
    _, out_h, out_w, _ = dout.shape
    dx = np.zeros(x.shape)
    for i in range(out_h):
        for j in range(out_w):
            rows = slice(i * stride, i * stride + size)
            cols = slice(j * stride, j * stride + size)
            window = x[:, rows, cols, :].reshape(n_images, size * size, channels)
            winner = window.argmax(axis=1)[:, None, :]  # (N, 1, C): where each window's max sits
            routed = np.zeros(window.shape)
            np.put_along_axis(routed, winner, dout[:, i, j, None, :], axis=1)
            dx[:, rows, cols, :] += routed.reshape(n_images, size, size, channels)
    return dx
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_max_pool_backward", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
def check_pool_backward(x, size, stride, what, expected=None, seed=0, quiet=False):
    out_shape = tf.nn.max_pool2d(x, size, stride, "VALID").shape
    dout = np.random.default_rng(seed).normal(size=out_shape) if expected is None else np.arange(1.0, 1 + np.prod(out_shape)).reshape(out_shape)
    if expected is None:
        expected = tf_pool_grad(dout, x, size, stride, "max")
    out_h, out_w = out_shape[1:3]
    dout_at_stride_1 = np.zeros(tf.nn.max_pool2d(x, size, 1, "VALID").shape)
    dout_at_stride_1[:, :out_h, :out_w] = dout  # windows at (i, j) instead of (i*stride, j*stride)
    expect_close(max_pool_backward(dout, x, size=size, stride=stride), expected, what, quiet=quiet,
                 mistakes={"gradient sent to every element of the window": tf_pool_grad(dout, x, size, stride, "avg") * size * size,
                           "gradient averaged over the window (average pooling's backward pass)": tf_pool_grad(dout, x, size, stride, "avg"),
                           "windows start at (i, j) instead of (i*stride, j*stride) (stride ignored when slicing)":
                               tf_pool_grad(dout_at_stride_1, x, size, 1, "max")},
                 hint="only the position of each window's maximum gets that window's gradient, the others get 0; "
                      "the window of output (i, j) starts at (i*stride, j*stride); "
                      "where windows overlap, add (+=) the gradients of every window an input wins"
                      + floor_note(np.shape(x)[1:3], (size, size), stride))


by_hand = np.array([[1, 3, 2, 1],
                    [4, 2, 0, 1],
                    [3, 1, 1, 5],
                    [0, 2, 6, 2]], dtype=float)[None, :, :, None]
# dout = [[1, 2], [3, 4]]; the maxima of the four 2x2 windows are 4, 2, 3 and 6.
routed_by_hand = np.array([[0, 0, 2, 0],
                           [1, 0, 0, 0],
                           [3, 0, 0, 0],
                           [0, 0, 4, 0]], dtype=float)[None, :, :, None]
check_pool_backward(by_hand, 2, 2, "the 4x4 example worked by hand (2x2 windows, stride 2)", expected=routed_by_hand)
check_pool_backward(np.random.default_rng(1).normal(size=(2, 6, 6, 3)), 2, 2, "random (2, 6, 6, 3) input, 2x2/2, vs tf.GradientTape")
shared = np.random.default_rng(2).normal(size=(1, 5, 5, 2))
shared[0, 2, 2, :] = 10.0  # the centre is the maximum of all four overlapping 3x3 windows
check_pool_backward(shared, 3, 2, "overlapping 3x3 windows, stride 2, one input wins all four windows", seed=3)
### BEGIN HIDDEN TESTS
check_pool_backward(hidden_rng(4).normal(size=(3, 9, 7, 2)), 3, 2, "hidden: 3x3/2 on a (3, 9, 7, 2) input", seed=hidden_seed(4), quiet=True)
check_pool_backward(hidden_rng(5).normal(size=(2, 5, 5, 1)), 2, 1, "hidden: 2x2 windows, stride 1", seed=hidden_seed(5), quiet=True)
check_pool_backward(hidden_rng(6).normal(size=(1, 8, 8, 4)), 4, 4, "hidden: 4x4/4", seed=hidden_seed(6), quiet=True)
check_pool_backward(hidden_rng(8).normal(size=(2, 7, 9, 3)), 2, 2,
                    "hidden: 2x2/2 on 7x9: (7 - 2) / 2 = 2.5 and (9 - 2) / 2 = 3.5 are floored", seed=hidden_seed(8), quiet=True)
check_pool_backward(hidden_rng(9).normal(size=(1, 8, 10, 2)), 3, 3,
                    "hidden: 3x3/3 on 8x10: (8 - 3) / 3 = 1.67 and (10 - 3) / 3 = 2.33 are floored", seed=hidden_seed(9), quiet=True)
small = hidden_rng(7).normal(size=(1, 4, 4, 1))
expect_close(max_pool_backward(np.ones((1, 2, 2, 1)), small, size=2, stride=2),
             numerical_gradient(lambda x_: x_.reshape(1, 2, 2, 2, 2, 1).max(axis=(2, 4)).sum(), small),  # 2x2/2 max pool in float64
             "hidden: numerical gradient of a 2x2/2 max pool", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Residual blocks: the gradient gets a highway
#
# The lecture's residual block computes `z = a + F(a)` instead of the plain `z = F(a)`. By the chain
# rule the plain block passes back `dL/da = dL/dz · F'(a)`, the residual one
# `dL/da = dL/dz · (1 + F'(a))`. Here is the scalar version with numbers (`F(a) = w2 · relu(w1 · a)`):

# %% nbgrader={"grade": false, "grade_id": "given_18", "locked": true, "schema_version": 3, "solution": false, "task": false}
a, w1, w2 = tf.constant(0.5), tf.constant(0.3), tf.constant(0.2)
with tf.GradientTape(persistent=True) as tape:
    tape.watch(a)
    f_of_a = w2 * tf.nn.relu(w1 * a)
    z_plain, z_residual = f_of_a, a + f_of_a
print(f"F'(a) = w2 * w1 = {float(w2 * w1):.3f}")
print(f"plain block:    dz/da = {float(tape.gradient(z_plain, a)):.3f}")
print(f"residual block: dz/da = {float(tape.gradient(z_residual, a)):.3f}  (= 1 + F'(a))")

# %% [markdown]
# Now the vector version, the one a network uses. A block maps a batch of vectors `a` of shape
# `(N, D)` through `F(a) = relu(a @ w1) @ w2` with `w1: (D, H)` and `w2: (H, D)`; the residual block
# adds `a` back. Write `block_backward(dz, a, w1, w2, residual)` that returns `dL/da` given the
# upstream gradient `dz = dL/dz` (shape `(N, D)`): backpropagate through the second matrix product,
# the ReLU (its derivative is 1 where its input was positive, 0 elsewhere) and the first product;
# for a residual block, add the gradient that flows along the identity path.

# %% nbgrader={"grade": false, "grade_id": "block_forward", "locked": true, "schema_version": 3, "solution": false, "task": false}
def block_forward(a, w1, w2, residual):
    """z = F(a) for a plain block, z = a + F(a) for a residual one, with F(a) = relu(a @ w1) @ w2."""
    f_of_a = np.maximum(a @ w1, 0) @ w2
    return a + f_of_a if residual else f_of_a


# %% nbgrader={"grade": false, "grade_id": "block_backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def block_backward(dz: np.ndarray, a: np.ndarray, w1: np.ndarray, w2: np.ndarray, residual: bool) -> np.ndarray:
    """dL/da of a plain (z = F(a)) or residual (z = a + F(a)) block, given dz = dL/dz."""
    ### BEGIN SOLUTION
    hidden = a @ w1
    d_hidden = (dz @ w2.T) * (hidden > 0)
    da = d_hidden @ w1.T
    return da + dz if residual else da
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_block_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
def tf_block_grad(dz, a, w1, w2, residual):
    """dL/da of L = sum(block(a) * dz), by automatic differentiation."""
    a = tf.constant(a)
    with tf.GradientTape() as tape:
        tape.watch(a)
        f_of_a = tf.nn.relu(a @ w1) @ w2
        loss = tf.reduce_sum(((a + f_of_a) if residual else f_of_a) * dz)
    return tape.gradient(loss, a).numpy()


def check_block(seed, n, d, h, residual, what, quiet=False):
    rng = np.random.default_rng(seed)
    a, w1, w2, dz = rng.normal(size=(n, d)), rng.normal(size=(d, h)), rng.normal(size=(h, d)), rng.normal(size=(n, d))
    plain, linear = tf_block_grad(dz, a, w1, w2, False), dz @ w2.T @ w1.T
    expect_close(block_backward(dz, a, w1, w2, residual=residual), tf_block_grad(dz, a, w1, w2, residual), what, quiet=quiet,
                 mistakes={"the identity path's gradient (+ dz) is missing": plain,
                           "the identity path's gradient is added to a plain block too": plain + dz,
                           "the ReLU's derivative is left out": linear + (dz if residual else 0)},
                 hint="go backwards: through @ w2 (multiply by w2.T), through the ReLU (keep only where a @ w1 > 0), "
                      "through @ w1 (multiply by w1.T); a residual block adds dz on top: dL/da = dz (1 + F'(a))")


check_block(0, 4, 5, 5, False, "plain block, (4, 5) batch, hidden width 5")
check_block(1, 4, 5, 5, True, "residual block, (4, 5) batch, hidden width 5")
### BEGIN HIDDEN TESTS
check_block(hidden_seed(2), 3, 6, 4, True, "hidden: residual block, hidden width 4 != D = 6", quiet=True)
check_block(hidden_seed(3), 1, 3, 7, False, "hidden: plain block, one example, hidden width 7", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Through a deep stack
#
# Chain many blocks and follow the gradient from the top back to the bottom. Both stacks below use
# the *same* weights: `w1` with He initialisation (variance `2/D`, right for a ReLU) and a smaller
# `w2`, so that each plain block shrinks the gradient by roughly a factor of two. Your
# `block_backward` does the backward pass, block by block; `tf.GradientTape` checks the end result.

# %%
def gradient_norms(blocks, a0, residual):
    """Norm of dL/da at the input of every block, for L = sum(output), plus dL/da0 itself."""
    activations = [a0]
    for w1, w2 in blocks:
        activations.append(block_forward(activations[-1], w1, w2, residual))
    grad = np.ones_like(activations[-1])
    norms = [np.linalg.norm(grad)]
    for (w1, w2), a in zip(reversed(blocks), reversed(activations[:-1])):
        grad = block_backward(grad, a, w1, w2, residual)
        norms.append(np.linalg.norm(grad))
    return norms[::-1], grad  # norms[l]: at the input of block l (l = depth: the output)


def tf_input_gradient(blocks, a0, residual):
    a0 = tf.constant(a0)
    with tf.GradientTape() as tape:
        tape.watch(a0)
        a = a0
        for w1, w2 in blocks:
            f_of_a = tf.nn.relu(a @ w1) @ w2
            a = a + f_of_a if residual else f_of_a
        loss = tf.reduce_sum(a)
    return tape.gradient(loss, a0).numpy()


depth, width = 20, 32  # cheap in every profile; the written question quotes these numbers
rng = np.random.default_rng(0)
blocks = [(rng.normal(scale=np.sqrt(2 / width), size=(width, width)),
           rng.normal(scale=0.5 / np.sqrt(width), size=(width, width))) for _ in range(depth)]
a0 = rng.normal(size=(8, width))

fig, ax = plt.subplots(figsize=(6, 3.2))
for residual, label in [(False, "plain: z = F(a)"), (True, "residual: z = a + F(a)")]:
    norms, grad_a0 = gradient_norms(blocks, a0, residual)
    agrees = np.allclose(grad_a0, tf_input_gradient(blocks, a0, residual), rtol=1e-6, atol=1e-12)
    print(f"{label:24s} |dL/da| at the top {norms[-1]:.3g}, at the bottom {norms[0]:.3g} "
          f"(ratio {norms[0] / norms[-1]:.2g}); tf.GradientTape agrees: {agrees}")
    ax.semilogy(range(depth + 1), norms, marker=".", label=label)
ax.set_xlabel("block index (0 = input of the stack)")
ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
ax.set_ylabel("norm of dL/da")
ax.set_title(f"Gradient flowing down {depth} blocks ({2 * depth} weight layers)", fontsize=10)
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Written questions

# %% [markdown]
# **Question 1 (3 points).** Use the chain rule to explain why the gradient reaching the first layers
# of a deep *plain* network can vanish, and what that does to training (the lecture's 56-layer vs
# 20-layer comparison). Then explain, with the `1 + F'(a)` formula and the plot above (quote the
# ratios you measured), why the residual stack does not have this problem. Finally, the residual
# curve is not perfectly flat: say why, and what keeps it in check in real ResNets.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_vanishing", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# Backprop multiplies one Jacobian per layer: `dL/da_1 = dL/da_L · ∂a_L/∂a_{L-1} ··· ∂a_2/∂a_1`. If
# the factors typically shrink vectors (norm below 1: small weights, saturated sigmoids whose slope is
# at most 1/4, ReLUs switching units off), the product shrinks geometrically with depth: here each
# plain block scales the gradient by about 0.45, and after 20 blocks the bottom gets about 1e-7 of
# the top's gradient. The first layers then receive almost no signal and barely change, so the deep plain
# network trains worse than a shallower one — the 56-layer net has *higher training error* than the
# 20-layer net, which is an optimisation failure, not overfitting. (With factors above 1 the same
# product explodes instead.)
#
# In a residual block `z = a + F(a)` the Jacobian is `I + F'(a)`. Multiplying such factors gives
# the identity plus correction terms, so there is always a direct path on which the gradient reaches
# block 0 unchanged; it cannot vanish even when every `F'` is small. In the plot the residual
# gradient at the bottom is of the order of the top's (about 8 times larger) while the plain one
# collapses by about seven orders of magnitude with the same weights.
#
# The residual curve grows slowly because each factor `I + F'(a)` has a norm a little above 1
# (`F'` is not zero), and those small gains compound with depth. Real ResNets keep the branch `F`
# small and well scaled — batch normalisation inside the branch, careful initialisation (e.g. the
# last BN's scale or the last weight layer initialised at or near zero) — so each block starts close
# to the identity.
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points).** Why does the gradient with respect to the input use the kernel *rotated by
# 180°*, while the forward pass and the gradient with respect to the weights use it (or the input)
# unrotated? How do the stride and the padding of the forward pass show up in the backward pass for
# `dX`?

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_flip", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# In the forward pass output `(i, j)` reads input `(i+u, j+v)` with weight `w[u, v]`: the offset is
# added. Going backwards we fix an input pixel `(p, q)` and ask which outputs read it: those at
# `(p-u, q-v)`, each with weight `w[u, v]`. Summing over `u, v` with the offset *subtracted* is a
# correlation with `w[-u, -v]`, i.e. with the kernel rotated by 180° — exactly the lecture's
# `w_{-i,-j}`. The input channels and output channels also swap roles (the gradient flows from K
# channels back to C). For `dW` we fix the weight and sum over all positions it was used at, which
# pairs input `(i+u, j+v)` with `dout(i, j)`: the offset is added again, a plain correlation.
# Near the borders some outputs are missing, so the upstream gradient is zero-padded by F-1: a *full*
# convolution.
#
# Stride S means output `(i, j)` used input `(iS+u, jS+v)`: in the backward pass the upstream gradient
# is spread out with S-1 zeros between its entries before the full convolution (equivalently, it is
# scattered with step S). Padding P means the forward pass read zeros that are not inputs: the
# backward pass computes the gradient for the padded input and then cuts the P border rows and
# columns off, which gives `dX` the shape of `X`.
# ### END SOLUTION
