# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # Assignment 1 — Convolution, from loops to matrix multiplies
#
# A convolutional layer slides a small filter over an image and, at every position, takes a dot
# product between the filter and the patch of image under it. In this assignment you write that
# operation yourself, twice: first with plain loops (slow but obviously right), then as one big
# matrix multiplication (the *im2col* trick that real libraries use). You will also write pooling,
# reproduce the lecture's worked example number by number, and filter a real photo with the classic
# hand-made kernels.
#
# You will learn to
# * compute a convolutional layer's output with stride, zero padding, bias and several input and
#   output channels, and get its output size right;
# * turn the sliding window into a matrix product and measure how much faster that is;
# * pool feature maps (max and average);
# * check your own code against TensorFlow (`tf.nn.conv2d`, `tf.nn.max_pool2d`).
#
# Lecture slides: *Convolutional layer anatomy*, *Convolutional layer example* (the 7x7x3 padded
# input with two 3x3x3 filters), *Efficient implementation of convolutions* (im2col), *Simple
# kernels / filters*, *Pooling layer*.
#
# | part | what you write | points |
# |---|---|---|
# | 1 | `zero_pad` | 1 |
# | 2 | `conv_forward_naive` (the worked example is its first test) | 3 |
# | 3 | `im2col`, `conv_forward_im2col` | 2 + 2 |
# | 4 | `pool_forward` (max and average) | 2 |
# | 5 | `depthwise_weights` (the kernel gallery) | 1 |
# | 6 | written questions | 2 + 2 |
#
# **Total: 15 points** (11 autograded, 4 written)
#
# Every test cell first runs *public* checks that tell you what was expected and give a hint; the
# grader adds *hidden* checks with other shapes, strides and paddings. Passing the public checks is a
# good sign, not a guarantee: write general code, not code for the example.

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

from course.data import photo
from course.grading import expect_close, expect_shape, hidden_rng, hidden_seed, inexact_divisions
from course.timing import best_time

# %% [markdown]
# ## Conventions
#
# We store tensors the way TensorFlow and Keras do, so that you can compare with them directly:
#
# * **images** `x` have shape `(N, H, W, C)` — batch, height, width, channels ("NHWC");
# * **filters** `w` have shape `(FH, FW, C_in, C_out)` — filter height, filter width, input channels,
#   output channels ("HWIO"): `w[:, :, :, k]` is the k-th filter, a small volume as deep as the input;
# * **biases** `b` have shape `(C_out,)`, one number per filter;
# * **stride** `S` and **padding** `P` are the same along height and width; padding adds `P` rows or
#   columns of zeros on *each* side of the height and width axes only (never the batch or channel axes).
#
# The layer computes, for image `n`, output position `(i, j)` and filter `k`,
#
# $$\text{out}[n, i, j, k] = b[k] + \sum_{u=0}^{FH-1}\sum_{v=0}^{FW-1}\sum_{c=0}^{C-1}
#   x_{\text{pad}}[n,\; iS + u,\; jS + v,\; c]\; w[u, v, c, k].$$
#
# Strictly speaking this is a *cross-correlation*: a mathematician's convolution would flip the
# filter, reading `w[FH-1-u, FW-1-v]`. Deep-learning libraries (and the lecture) call the unflipped
# version "convolution", and so do we. A filter starting at row `iS` must end inside the padded
# image, so the output has
#
# $$H_{out} = \left\lfloor \frac{H + 2P - FH}{S} \right\rfloor + 1$$
#
# rows (and the same with `W`, `FW` for columns). When the division is not exact the last rows or
# columns of the input are never reached, exactly as `tf.nn.conv2d` with explicit padding does; the
# arithmetic assignment discusses when that is a design mistake.

# %% [markdown]
# The next cell holds the oracles the tests compare you with. It is read-only: TensorFlow's own
# operations, called with explicit padding so that they mean exactly what our formula means.

# %% nbgrader={"grade": false, "grade_id": "oracles", "locked": true, "schema_version": 3, "solution": false, "task": false}
def tf_conv(x, w, b, stride=1, pad=0):
    """TensorFlow's answer: cross-correlation on NHWC images with HWIO filters, plus bias."""
    padding = [[0, 0], [pad, pad], [pad, pad], [0, 0]]
    out = tf.nn.conv2d(np.asarray(x, np.float64), np.asarray(w, np.float64), strides=stride, padding=padding)
    return out.numpy() + np.asarray(b, np.float64)


def conv_mistakes(x, w, b, stride=1, pad=0):
    """What the usual wrong answers would return, so that a failing test can name the mistake."""
    out_h, out_w = tf_conv(x, w, b, stride, pad).shape[1:3]
    fh, fw, channels = np.shape(w)[:3]
    return {
        "true convolution: the kernel is flipped (the layer does not flip it)": tf_conv(x, w[::-1, ::-1], b, stride, pad),
        "the bias is missing": tf_conv(x, w, np.zeros_like(b), stride, pad),
        f"the bias is added inside the window sum, so it is counted FH*FW*C = {fh * fw * channels} times "
        "(add b[k] once, after the sum)": tf_conv(x, w, np.asarray(b) * (fh * fw * channels), stride, pad),
        "windows start at i instead of i*stride (stride ignored when slicing)":
            tf_conv(x, w, b, 1, pad)[:, :out_h, :out_w],
    }


def floor_note(sizes, windows, stride, pad=0):
    """For a hint: where (size + 2P - F) / S is not a whole number, how the output size floors it."""
    found = inexact_divisions(sizes, windows, stride, pad)
    return (f"; here the division is not exact ({found}): floor it with //, never round() it or keep the fraction; "
            "the last input rows or columns that no window reaches are simply left out") if found else ""


def tf_pool(x, size, stride, mode):
    """TensorFlow's max or average pooling over size x size windows, no padding."""
    pool = {"max": tf.nn.max_pool2d, "avg": tf.nn.avg_pool2d}[mode]
    return pool(np.asarray(x, np.float64), size, stride, "VALID").numpy()


def random_case(seed, x_shape, w_shape):
    """Reproducible random images, filters and biases for a test."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[-1])


# %% [markdown]
# ## 1. Zero padding
#
# Padding lets windows centre on the border pixels, so the border is no longer used only at the
# edge of a few windows (it is still covered by fewer of them: with F = 3, P = 1 on a 5x5 image a
# corner pixel lies in 4 windows, an inner one in 9), and with `P = (F-1)/2` and stride 1 it keeps
# the output as large as the input ("same" padding). Write `zero_pad`, which
# adds `pad` zeros on both sides of the height and width axes of every image in the batch.
# `np.pad` does the work; the question is only *which* axes get padding.

# %% nbgrader={"grade": false, "grade_id": "zero_pad", "locked": false, "schema_version": 3, "solution": true, "task": false}
def zero_pad(x: np.ndarray, pad: int) -> np.ndarray:
    """Images (N, H, W, C) -> (N, H + 2*pad, W + 2*pad, C), the new border filled with zeros."""
    ### BEGIN SOLUTION
    return np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_zero_pad", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
def padded_by_hand(x, pad):
    n, h, w, c = x.shape
    out = np.zeros((n, h + 2 * pad, w + 2 * pad, c))
    out[:, pad:pad + h, pad:pad + w, :] = x
    return out


x = np.arange(2 * 3 * 4 * 2, dtype=float).reshape(2, 3, 4, 2) + 1
expect_close(zero_pad(x, 1), padded_by_hand(x, 1), "zero_pad(x of shape (2, 3, 4, 2), pad=1)",
             hint="pad the height and width axes on both sides; the batch and channel axes keep their size")
### BEGIN HIDDEN TESTS
x = hidden_rng(1).normal(size=(1, 5, 2, 3))
expect_close(zero_pad(x, 2), padded_by_hand(x, 2), "zero_pad(x of shape (1, 5, 2, 3), pad=2)", quiet=True)
expect_close(zero_pad(x, 0), x, "zero_pad with pad=0 leaves the images unchanged", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. The convolutional layer, with loops
#
# Write `conv_forward_naive` straight from the formula above: work out the output size, pad the
# input with your `zero_pad`, then loop over images, output rows, output columns and filters; each
# output number is the sum of an elementwise product between one window of the padded input and one
# filter, plus that filter's bias. Do not worry about speed here — this version is the one you can
# trust because you can read it.

# %% nbgrader={"grade": false, "grade_id": "conv_forward_naive", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """A convolutional layer computed with explicit loops.

    x: images (N, H, W, C); w: filters (FH, FW, C, K); b: biases (K,).
    Returns (N, H_out, W_out, K), cross-correlation as in tf.nn.conv2d.
    """
    ### BEGIN SOLUTION
    n_images, height, width, channels = x.shape
    fh, fw, c_in, n_filters = w.shape
    if channels != c_in:
        raise ValueError(f"the images have {channels} channels but the filters expect {c_in}; "
                         "w must have shape (FH, FW, C_in, C_out) with C_in equal to x.shape[3]")
    out_h = (height + 2 * pad - fh) // stride + 1
    out_w = (width + 2 * pad - fw) // stride + 1
    x_pad = zero_pad(x, pad)
    out = np.zeros((n_images, out_h, out_w, n_filters))
    for n in range(n_images):
        for i in range(out_h):
            for j in range(out_w):
                window = x_pad[n, i * stride:i * stride + fh, j * stride:j * stride + fw, :]
                for k in range(n_filters):
                    out[n, i, j, k] = np.sum(window * w[:, :, :, k]) + b[k]
    return out
    ### END SOLUTION


# %% [markdown]
# ### The lecture's worked example
#
# The slide *Convolutional layer example* shows a 5x5x3 input (drawn with its padding of 1, so 7x7x3),
# two 3x3x3 filters `W0` and `W1` with biases `b0 = 1` and `b1 = 0`, and stride 2. Here are the
# slide's numbers, copied from its tables channel by channel (`x[:, :, c]`, `w0[:, :, c]`,
# `w1[:, :, c]`), rearranged into our NHWC/HWIO layout.

# %% nbgrader={"grade": false, "grade_id": "given_11", "locked": true, "schema_version": 3, "solution": false, "task": false}
SLIDE_X_CHANNELS = [  # the 5x5 inside of the slide's padded 7x7 tables, one per input channel
    [[0, 1, 2, 2, 2], [2, 0, 1, 0, 2], [0, 0, 1, 1, 2], [1, 0, 2, 2, 0], [2, 1, 2, 1, 0]],
    [[0, 1, 0, 2, 2], [0, 1, 0, 2, 0], [2, 1, 1, 2, 0], [1, 0, 0, 0, 0], [0, 2, 1, 0, 0]],
    [[0, 1, 2, 1, 2], [2, 0, 1, 0, 1], [1, 1, 2, 1, 0], [1, 0, 2, 1, 0], [2, 0, 0, 2, 2]],
]
SLIDE_W0_CHANNELS = [[[0, 0, 1], [1, -1, -1], [1, 1, 0]],
                     [[0, 1, 1], [0, 1, 0], [0, 0, 0]],
                     [[1, 0, -1], [0, 1, 1], [-1, 1, 0]]]
SLIDE_W1_CHANNELS = [[[-1, 1, 0], [1, 1, -1], [0, -1, -1]],
                     [[1, 1, -1], [1, 1, 1], [0, -1, 1]],
                     [[1, 1, -1], [0, 0, 1], [-1, 1, -1]]]

slide_x = np.stack(SLIDE_X_CHANNELS, axis=-1)[None].astype(float)          # (1, 5, 5, 3)
slide_w = np.stack([np.stack(SLIDE_W0_CHANNELS, axis=-1),
                    np.stack(SLIDE_W1_CHANNELS, axis=-1)], axis=-1).astype(float)  # (3, 3, 3, 2)
slide_b = np.array([1.0, 0.0])
print("x", slide_x.shape, " w", slide_w.shape, " b", slide_b)

# %% [markdown]
# The slide leaves the top-left output of the first filter as a "?". Work it out by hand before
# running the test: the window is the top-left 3x3 corner of the padded input, so per channel you
# get `1`, `0` and `3` (check!), hence `o[0, 0, 0] = 1 + 0 + 3 + b0 = 5`.
#
# The test below feeds the slide's numbers to your function and compares with `tf.nn.conv2d`.

# %% nbgrader={"grade": true, "grade_id": "test_conv_forward_naive", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
def check_conv(conv, x, w, b, stride, pad, what, quiet=False):
    """One comparison with TensorFlow, naming the usual mistakes when the answer is wrong."""
    expected = tf_conv(x, w, b, stride, pad)
    expect_close(conv(x, w, b, stride=stride, pad=pad), expected, what, mistakes=conv_mistakes(x, w, b, stride, pad),
                 hint=f"expected output shape {expected.shape}: H_out = (H + 2P - FH) // S + 1; the window for output "
                      "(i, j) starts at (i*S, j*S) of the padded input; add b[k] once to every output of filter k"
                      + floor_note(np.shape(x)[1:3], np.shape(w)[:2], stride, pad),
                 quiet=quiet)


check_conv(conv_forward_naive, slide_x, slide_w, slide_b, 2, 1, "worked example (5x5x3, pad 1, two 3x3x3 filters, stride 2)")
check_conv(conv_forward_naive, *random_case(0, (2, 6, 5, 3), (3, 3, 3, 4)), 1, 1, "random (2, 6, 5, 3) input, 4 filters 3x3, stride 1, pad 1")
check_conv(conv_forward_naive, *random_case(1, (2, 7, 7, 2), (3, 3, 2, 3)), 2, 0, "random (2, 7, 7, 2) input, stride 2, no padding")
### BEGIN HIDDEN TESTS
check_conv(conv_forward_naive, *random_case(hidden_seed(2), (3, 9, 8, 2), (3, 3, 2, 2)), 3, 2, "hidden: stride 3, pad 2, size not a multiple of the stride", quiet=True)
check_conv(conv_forward_naive, *random_case(hidden_seed(3), (1, 6, 7, 3), (2, 3, 3, 2)), 1, 0, "hidden: a 2x3 (non-square) filter", quiet=True)
check_conv(conv_forward_naive, *random_case(hidden_seed(4), (2, 4, 4, 5), (1, 1, 5, 3)), 1, 0, "hidden: 1x1 convolution", quiet=True)
check_conv(conv_forward_naive, *random_case(hidden_seed(5), (1, 5, 5, 1), (5, 5, 1, 1)), 2, 2, "hidden: one channel, 5x5 filter, pad 2, stride 2", quiet=True)
check_conv(conv_forward_naive, *random_case(hidden_seed(6), (2, 8, 10, 2), (3, 3, 2, 3)), 2, 0,
           "hidden: 3x3 filter, stride 2, no padding, on 8x10: (8 - 3) / 2 = 2.5 and (10 - 3) / 2 = 3.5 are floored", quiet=True)
check_conv(conv_forward_naive, *random_case(hidden_seed(7), (1, 8, 7, 3), (3, 3, 3, 2)), 3, 0,
           "hidden: 3x3 filter, stride 3, on 8x7: (8 - 3) / 3 = 1.67 and (7 - 3) / 3 = 1.33 are floored", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# Here is the whole output volume of the worked example, one 3x3 map per filter:

# %%
worked = conv_forward_naive(slide_x, slide_w, slide_b, stride=2, pad=1)
for k in range(2):
    print(f"o[:, :, {k}] =\n{worked[0, :, :, k].astype(int)}")

# %% [markdown]
# A word of caution about the slide itself. The output volume printed beside these inputs on our
# copy of the slide (first map `? -1 4 / 4 1 1 / -3 3 1`, second map `2 6 6 / 6 2 8 / 6 10 -2`)
# does **not** follow from the printed inputs: the slide is a still of an animation that redraws
# random numbers, and input and output come from different draws. We checked every channel order,
# transposition and flip of the printed filters — none reproduces it. The numbers above are the
# ones the printed input and filters give, and TensorFlow agrees with them. Always recompute a
# worked example rather than trusting a screenshot.

# %% [markdown]
# ## 3. Convolution as one matrix multiplication (im2col)
#
# The loops repeat the same small dot product millions of times in Python. The lecture's remedy:
# copy every window of the (padded) input into one row of a big matrix — *im2col*, "image to
# columns" — so that all the dot products become one matrix product that optimised linear-algebra
# code (BLAS on a CPU, cuBLAS on a GPU) does at full speed:
#
# * `cols = im2col(x, FH, FW, stride, pad)` has one row per output position, `N * H_out * W_out`
#   rows in the order (image, output row, output column), and `FH * FW * C` columns: the window
#   flattened in the order (filter row `u`, filter column `v`, channel `c`);
# * `w.reshape(FH * FW * C, K)` flattens each filter in that same (u, v, c) order — which is why we
#   chose it;
# * `cols @ w_flat + b` is then every output at once; reshape it to `(N, H_out, W_out, K)`.
#
# Write `im2col` without a Python loop over output positions. Two good routes: NumPy's
# `np.lib.stride_tricks.sliding_window_view` (a *view* of all windows, no copy until you reshape),
# or a loop over the `FH * FW` filter offsets only, each one taking a strided slice of the whole
# batch. Then write `conv_forward_im2col` with it.

# %% nbgrader={"grade": false, "grade_id": "im2col", "locked": false, "schema_version": 3, "solution": true, "task": false}
def im2col(x: np.ndarray, fh: int, fw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Every fh x fw window of the padded images as one row: (N*H_out*W_out, fh*fw*C), columns in (u, v, c) order."""
    ### BEGIN SOLUTION
    x_pad = zero_pad(x, pad)
    windows = np.lib.stride_tricks.sliding_window_view(x_pad, (fh, fw), axis=(1, 2))  # (N, H', W', C, fh, fw)
    windows = windows[:, ::stride, ::stride]
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, fh * fw * x.shape[3])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_im2col", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
def check_im2col(x, fh, fw, stride, pad, what, quiet=False):
    """TensorFlow's extract_patches flattens each window in the same (u, v, c) order."""
    x_pad = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    patches = tf.image.extract_patches(x_pad, sizes=[1, fh, fw, 1], strides=[1, stride, stride, 1],
                                       rates=[1, 1, 1, 1], padding="VALID").numpy()
    n, out_h, out_w, _ = patches.shape
    channels_first = patches.reshape(n, out_h, out_w, fh, fw, -1).transpose(0, 1, 2, 5, 3, 4)
    expect_close(im2col(x, fh, fw, stride=stride, pad=pad), patches.reshape(-1, fh * fw * x.shape[3]), what,
                 mistakes={"columns in (channel, u, v) order instead of (u, v, channel)": channels_first.reshape(n * out_h * out_w, -1)},
                 hint="one row per output position (image, row, column); inside a row, the window flattened "
                      "as window.reshape(-1) of a (fh, fw, C) window", quiet=quiet)


x = np.arange(1 * 4 * 4 * 2, dtype=float).reshape(1, 4, 4, 2)
check_im2col(x, 3, 3, 1, 0, "im2col of a (1, 4, 4, 2) input, 3x3 windows, stride 1")
check_im2col(np.random.default_rng(0).normal(size=(2, 5, 6, 3)), 3, 3, 2, 1, "im2col, stride 2, pad 1")
### BEGIN HIDDEN TESTS
check_im2col(hidden_rng(1).normal(size=(3, 7, 5, 2)), 2, 3, 2, 0, "hidden: 2x3 windows, stride 2", quiet=True)
check_im2col(hidden_rng(2).normal(size=(1, 8, 8, 1)), 3, 3, 3, 1, "hidden: stride 3, pad 1", quiet=True)
### END HIDDEN TESTS

# %% nbgrader={"grade": false, "grade_id": "conv_forward_im2col", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_forward_im2col(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """The same layer as conv_forward_naive, as one matrix product over im2col's rows."""
    ### BEGIN SOLUTION
    n_images, height, width, _ = x.shape
    fh, fw, _, n_filters = w.shape
    out_h = (height + 2 * pad - fh) // stride + 1
    out_w = (width + 2 * pad - fw) // stride + 1
    out = im2col(x, fh, fw, stride, pad) @ w.reshape(-1, n_filters) + b
    return out.reshape(n_images, out_h, out_w, n_filters)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_conv_forward_im2col", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check_conv(conv_forward_im2col, slide_x, slide_w, slide_b, 2, 1, "im2col version on the worked example")
check_conv(conv_forward_im2col, *random_case(10, (2, 8, 7, 3), (3, 3, 3, 5)), 1, 1, "im2col version, random (2, 8, 7, 3) input, 5 filters")
### BEGIN HIDDEN TESTS
check_conv(conv_forward_im2col, *random_case(hidden_seed(11), (3, 10, 9, 2), (3, 3, 2, 4)), 3, 1, "hidden: stride 3", quiet=True)
check_conv(conv_forward_im2col, *random_case(hidden_seed(12), (1, 6, 7, 3), (2, 3, 3, 2)), 2, 1, "hidden: 2x3 filter", quiet=True)
check_conv(conv_forward_im2col, *random_case(hidden_seed(13), (2, 5, 5, 4), (1, 1, 4, 3)), 1, 0, "hidden: 1x1 convolution", quiet=True)
check_conv(conv_forward_im2col, *random_case(hidden_seed(14), (2, 10, 8, 3), (3, 3, 3, 2)), 2, 0,
           "hidden: 3x3 filter, stride 2, no padding, on 10x8: (10 - 3) / 2 = 3.5 and (8 - 3) / 2 = 2.5 are floored", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# ### How much faster?
#
# Same layer, same numbers, three implementations: your loops, your im2col, and TensorFlow's
# optimised kernel. We take the best of a few runs of each (the first run of anything pays one-off
# costs) on a small batch of real photos; the grading profile uses smaller photos.

# %%
side = 40 if profile.is_grading else 64
batch = np.stack([photo(name, size=side)[:side, :side] for name in ("chelsea", "coffee")]) / 255.0
filters, biases = np.random.default_rng(0).normal(size=(3, 3, 3, 8)), np.zeros(8)
args = (batch, filters, biases, 1, 1)
t_naive, naive_out = best_time(lambda: conv_forward_naive(*args), 1)  # one run: long enough to time reliably
t_fast, fast_out = best_time(lambda: conv_forward_im2col(*args), 10)
t_tf, tf_out = best_time(lambda: tf_conv(*args), 10)
print(f"input {batch.shape}, filters {filters.shape}: the two versions agree: {np.allclose(naive_out, fast_out)}, "
      f"TensorFlow agrees: {np.allclose(fast_out, tf_out)}")
for name, seconds in [("loops", t_naive), ("im2col + matmul", t_fast), ("tf.nn.conv2d", t_tf)]:
    print(f"{name:>16}: {seconds * 1000:9.2f} ms")
print(f"vectorised speed-up over naive: {t_naive / t_fast:.0f}x")

# %% [markdown]
# ## 4. Pooling
#
# A pooling layer shrinks each feature map on its own: it slides a `size x size` window with a given
# stride (usually 2x2 with stride 2) and keeps the largest value (*max pooling*) or the mean
# (*average pooling*) of each window. Channels never mix, there are no weights, and there is no
# padding here. The output size follows the same rule as a convolution without padding.
#
# Write `pool_forward` for both modes, `mode="max"` and `mode="avg"`; any other mode is a caller's
# mistake and should raise a `ValueError` that says which modes exist.

# %% nbgrader={"grade": false, "grade_id": "pool_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def pool_forward(x: np.ndarray, size: int = 2, stride: int = 2, mode: str = "max") -> np.ndarray:
    """Max or average pooling of images (N, H, W, C) over size x size windows -> (N, H_out, W_out, C)."""
    ### BEGIN SOLUTION
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    if mode == "max":
        return windows.max(axis=(-2, -1))
    if mode == "avg":
        return windows.mean(axis=(-2, -1))
    raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_pool_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
def check_pool(x, size, stride, mode, what, quiet=False):
    other = "avg" if mode == "max" else "max"
    expected = tf_pool(x, size, stride, mode)
    out_h, out_w = expected.shape[1:3]
    expect_close(pool_forward(x, size=size, stride=stride, mode=mode), expected, what,
                 mistakes={f"{other} pooling instead of {mode} pooling": tf_pool(x, size, stride, other),
                           "stride 1 instead of the given stride": tf_pool(x, size, 1, mode),
                           "windows start at (i, j) instead of (i*stride, j*stride) (stride ignored when slicing)":
                               tf_pool(x, size, 1, mode)[:, :out_h, :out_w]},
                 hint=f"expected shape {expected.shape}: H_out = (H - size) // stride + 1; the window for output (i, j) "
                      f"starts at (i*stride, j*stride); mode='{mode}' takes the "
                      f"{'largest value' if mode == 'max' else 'mean'} of each window, per channel"
                      + floor_note(np.shape(x)[1:3], (size, size), stride),
                 quiet=quiet)


x = np.random.default_rng(0).normal(size=(2, 4, 4, 3))
check_pool(x, 2, 2, "max", "max pooling 2x2, stride 2, on a (2, 4, 4, 3) input")
check_pool(x, 2, 2, "avg", "average pooling 2x2, stride 2")
check_pool(np.random.default_rng(1).normal(size=(1, 7, 7, 2)), 3, 2, "max", "overlapping max pooling 3x3, stride 2 (AlexNet's)")
### BEGIN HIDDEN TESTS
check_pool(hidden_rng(2).normal(size=(3, 9, 6, 2)), 2, 2, "max", "hidden: odd height, 2x2/2 max", quiet=True)
check_pool(hidden_rng(3).normal(size=(1, 5, 5, 4)), 3, 1, "avg", "hidden: 3x3/1 average", quiet=True)
check_pool(hidden_rng(4).normal(size=(2, 8, 8, 1)), 4, 4, "max", "hidden: 4x4/4 max", quiet=True)
check_pool(hidden_rng(5).normal(size=(2, 7, 9, 3)), 2, 2, "max",
           "hidden: 2x2/2 max on 7x9: (7 - 2) / 2 = 2.5 and (9 - 2) / 2 = 3.5 are floored", quiet=True)
check_pool(hidden_rng(6).normal(size=(1, 8, 10, 2)), 3, 3, "avg",
           "hidden: 3x3/3 average on 8x10: (8 - 3) / 3 = 1.67 and (10 - 3) / 3 = 2.33 are floored", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# What pooling does to a photo: max pooling keeps the brightest value of each window, so the picture
# gets lighter and dark details shrink (look at the pupils); average pooling is a blur followed by
# subsampling, so the overall brightness stays the same.

# %%
cat = photo("chelsea", size=128) / 255.0
pooled = {"original": cat,
          "max pool 4x4/4": pool_forward(cat[None], 4, 4, "max")[0],
          "avg pool 4x4/4": pool_forward(cat[None], 4, 4, "avg")[0]}
fig, axes = plt.subplots(1, 3, figsize=(9, 2.6))
for ax, (title, image) in zip(axes, pooled.items()):
    ax.imshow(np.clip(image, 0, 1))
    ax.set_title(f"{title} {image.shape[0]}x{image.shape[1]}", fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 5. The classic kernels on a real photo
#
# Before networks learned their filters, image processing used hand-made ones. The lecture lists
# seven 3x3 kernels: the identity, three edge detectors, sharpen, and two blurs.
#
# To filter a colour photo *channel by channel* with one 2-D kernel we need a layer with 3 input and
# 3 output channels in which output channel `c` only looks at input channel `c`. In HWIO terms the
# weight tensor is zero except on its "diagonal": `w[:, :, c, c] = kernel`. (Keras calls this a
# *depthwise* convolution.) Write `depthwise_weights`; the gallery below then runs your
# `conv_forward_im2col` with padding 1 so that each result is as large as the photo.

# %% nbgrader={"grade": false, "grade_id": "depthwise_weights", "locked": false, "schema_version": 3, "solution": true, "task": false}
def depthwise_weights(kernel: np.ndarray, channels: int) -> np.ndarray:
    """HWIO weights (FH, FW, channels, channels) that filter every channel with `kernel`, not mixing channels."""
    ### BEGIN SOLUTION
    weights = np.zeros(kernel.shape + (channels, channels))
    for c in range(channels):
        weights[:, :, c, c] = kernel
    return weights
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_depthwise_weights", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
def check_depthwise(kernel, channels, what, quiet=False):
    """Convolving with your weights must equal TensorFlow's depthwise convolution with the same kernel."""
    x = np.random.default_rng(channels).normal(size=(2, 6, 5, channels))
    stacked = np.repeat(kernel[:, :, None, None], channels, axis=2)  # (FH, FW, C, 1): one kernel per channel
    expected = tf.nn.depthwise_conv2d(x, stacked, [1, 1, 1, 1], "VALID").numpy()
    weights = depthwise_weights(kernel, channels)
    expect_shape(weights, kernel.shape + (channels, channels), f"{what}: shape", quiet=quiet,
                 hint="HWIO: (FH, FW, C_in, C_out) with C_in = C_out = channels")
    tiled = np.broadcast_to(kernel[:, :, None, None], weights.shape)
    expect_close(tf_conv(x, weights, np.zeros(channels)), expected, what, quiet=quiet,
                 mistakes={"the kernel connects every input channel to every output channel (channels mix)":
                           tf_conv(x, tiled, np.zeros(channels))},
                 hint="output channel c must only see input channel c: w[:, :, c, d] is zero unless c == d")


check_depthwise(np.arange(9.0).reshape(3, 3), 3, "depthwise weights for a 3x3 kernel, 3 channels")
### BEGIN HIDDEN TESTS
check_depthwise(hidden_rng(5).normal(size=(2, 3)), 4, "hidden: a 2x3 kernel, 4 channels", quiet=True)
check_depthwise(np.array([[2.0]]), 1, "hidden: a 1x1 kernel, 1 channel", quiet=True)
### END HIDDEN TESTS

# %% [markdown]
# The seven kernels of the lecture (*Simple kernels / filters*), applied to a photo of a cat. Edge
# responses can be negative, so for them we show the magnitude, stretched so that the brightest 1%
# of pixels is white; the other results are clipped to the displayable range. The thin dark frame
# around the blurred photos is the zero padding: near the border the kernel averages in black pixels.

# %%
KERNELS = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "edges (diagonal)": np.array([[1, 0, -1], [0, 0, 0], [-1, 0, 1]]),
    "edges (4-neighbour)": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "edges (8-neighbour)": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "box blur": np.ones((3, 3)) / 9,
    "Gaussian blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
}
EDGE_KERNELS = {name for name in KERNELS if name.startswith("edges")}


def filtered(image, kernel):
    """Filter every channel of an (H, W, C) image with a 3x3 kernel, keeping the size (pad 1)."""
    channels = image.shape[-1]
    out = conv_forward_im2col(image[None], depthwise_weights(kernel.astype(float), channels), np.zeros(channels), 1, 1)
    return out[0]


def displayable(name, response):
    if name in EDGE_KERNELS:
        magnitude = np.abs(response).mean(axis=-1)
        return np.clip(magnitude / np.percentile(magnitude, 99), 0, 1), "gray"  # a few pixels must not set the scale
    return np.clip(response, 0, 1), None


gallery_photo = photo("chelsea", size=160 if profile.is_grading else 256) / 255.0
fig, axes = plt.subplots(2, 4, figsize=(12, 5.2))
axes = axes.ravel()
axes[0].imshow(gallery_photo)
axes[0].set_title("photo", fontsize=9)
for ax, (name, kernel) in zip(axes[1:], KERNELS.items()):
    image, cmap = displayable(name, filtered(gallery_photo, kernel))
    ax.imshow(image, cmap=cmap)
    ax.set_title(name, fontsize=9)
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()
print("identity kernel leaves the photo unchanged:", np.allclose(filtered(gallery_photo, KERNELS["identity"]), gallery_photo))

# %% [markdown]
# ## 6. Written questions
#
# Answer in the cells below, in a few sentences each. Use numbers you measured above where they help.

# %% [markdown]
# **Question 1 (2 points).** Every kernel in the gallery above gives *exactly* the same picture whether
# you compute a cross-correlation (what `tf.nn.conv2d` and your code do) or a true convolution (kernel
# flipped by 180°). Why? Then explain why a CNN that *learns* its filters does not care which of the
# two operations its library implements, and name one situation where the difference does matter.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_correlation", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# All seven kernels are symmetric under a 180° rotation (`k[::-1, ::-1] == k`): the identity, the
# blurs, sharpen and the two Laplacian-like edge detectors are symmetric about their centre, and the
# diagonal edge detector `[[1,0,-1],[0,0,0],[-1,0,1]]` maps onto itself when rotated by 180°. Flipping
# them changes nothing, so the gallery cannot tell the two operations apart (and a test built only
# on them would miss a flipped kernel; the tests above use random filters for that reason).
#
# A learned filter is just a set of numbers found by gradient descent. If the library flips the
# kernel, training finds the flipped numbers instead; the set of functions the layer can represent
# is the same and so are the loss and the accuracy. It matters when filters are *given* rather than
# learned: applying a known asymmetric kernel (Sobel, a motion blur, a template), loading weights
# trained in a framework with the other convention, or deriving the backward pass (the gradient with
# respect to the input is a true convolution, i.e. a correlation with the flipped kernel).
# ### END SOLUTION

# %% [markdown]
# **Question 2 (2 points).** For a 3x3 filter with stride 1 and "same" padding, how many times larger
# than the input `x` is the matrix that `im2col` builds (ignore the border)? What about stride 2? The
# im2col version copies far more numbers than the loops read, yet it ran many times faster above
# (quote your measured speed-up). Explain why, and say what this costs on a GPU with little memory.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_im2col", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# With stride 1 every input value appears in 3x3 = 9 windows, so the matrix holds about 9 times the
# input (`H*W` rows of `9*C` numbers versus `H*W*C`); with stride 2 there are four times fewer rows,
# about 9/4 = 2.25 times the input. In general it is `FH*FW / S^2`.
#
# The loops run the multiply-adds in the Python interpreter, one small `np.sum` per output number,
# paying interpreter and call overhead each time (tens of thousands of calls even for a small batch).
# The im2col version pays one copy, which is cheap and memory-bound, and then a single large matrix
# product done by optimised BLAS code that uses SIMD units, caches and all cores. The measured
# speed-up (one to three thousand times here, e.g. 0.47 s versus 0.35 ms for the grading-size
# batch) is that overhead removed. The price is memory: the column matrix is ~9x the activation, which for large
# early layers (e.g. 224x224x64 in float32: 12.8 MB, becoming ~115 MB per image) limits the batch
# size on a small GPU; libraries therefore build it in tiles, or use direct/Winograd/FFT
# convolution kernels that avoid materialising it.
# ### END SOLUTION
