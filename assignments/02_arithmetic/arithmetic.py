# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # Assignment 2: the arithmetic of convolutional layers
#
# Before training a network you should be able to say, with pen and paper, how big every
# volume in it is, how many numbers it learns, how much it computes and how far each unit
# "sees". This assignment turns the lecture's formulas into small functions, checks them
# against Keras, and uses them to rebuild two tables from the slides: AlexNet's volumes and
# VGG-16's memory and parameter counts.
#
# You will learn to
# - compute output sizes with zero padding and stride, and spot filters that **do not fit**;
# - reproduce Keras' `"valid"` and `"same"` padding;
# - count parameters (the lecture's 760 for ten 5x5x3 filters), multiply-adds and activation memory;
# - compute receptive fields of stacked layers (3x3 + 3x3 sees 5x5, three of them 7x7);
# - fill the AlexNet and VGG-16 tables and find where a network keeps its memory and its parameters.
#
# It follows the lecture slides on spatial arrangement (output size, padding, "examples time"),
# "the power of small filters" (49C² vs 27C², the 1x1 bottleneck), and the AlexNet and VGG-16 case studies.
#
# | part | points |
# |---|---|
# | 1. output size: the formula, "doesn't fit" | 2 |
# | 1. output size: Keras' `"valid"` and `"same"` | 2 |
# | 2. parameters | 2 |
# | 3. receptive field | 3 |
# | 4. multiply-adds | 2 |
# | 5. AlexNet's volume table | 3 |
# | 5. VGG-16's memory and parameter table | 2 |
# | written: three 3x3 layers or one 7x7? | 2 |
# | written: what does a 1x1 convolution buy? | 2 |
#
# **Total: 20 points** (16 autograded, 4 written)
#
# Write your code where it says `YOUR CODE HERE` (replace the `raise NotImplementedError()` line),
# then run the test cell below it. A failing test says what
# was expected, what your function returned, and gives a hint. Some tests are hidden and run
# only when your work is graded: they try other sizes, strides and paddings, so write general code.

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

import math

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf

from course import data
from course.grading import GradingError, expect_close, expect_equal, expect_raises, expect_true

# %% [markdown]
# The next cell holds helpers that the tests use to ask Keras for the right answer. It is
# read-only: you do not need to change it (but read it: it shows how to query Keras).

# %% nbgrader={"grade": false, "grade_id": "keras_oracles", "locked": true, "schema_version": 3, "solution": false, "task": false}
def keras_conv(n: int, c_in: int, f: int, k: int, stride: int = 1, padding=0, bias: bool = True):
    """A Keras Conv2D applied to an n x n x c_in input; an int padding becomes an explicit ZeroPadding2D."""
    x = inputs = keras.Input((n, n, c_in))
    if isinstance(padding, int):
        x = keras.layers.ZeroPadding2D(padding)(x)
        padding = "valid"
    conv = keras.layers.Conv2D(k, f, strides=stride, padding=padding, use_bias=bias)
    return conv, conv(x)


def keras_output_size(n: int, f: int, stride: int = 1, padding=0) -> int:
    """The output width Keras computes for an f x f filter over an n x n input (shape inference only)."""
    shape = (None, n, n, 1)
    if isinstance(padding, int):
        shape = keras.layers.ZeroPadding2D(padding).compute_output_shape(shape)
        padding = "valid"
    return keras.layers.Conv2D(1, f, strides=stride, padding=padding).compute_output_shape(shape)[1]


def check_output_size(n: int, f: int, stride: int, padding, expected: int, hint: str) -> None:
    """Your conv_output_size against an expected value, naming the typical mistakes."""
    what = f"conv_output_size(n={n}, f={f}, stride={stride}, padding={padding!r})"
    try:
        got = conv_output_size(n, f, stride, padding)
    except Exception as exc:  # the student's function refused a valid case: say which
        raise GradingError(what, f"expected {expected}, but your function raised {type(exc).__name__}: {exc}",
                           hint) from None
    expect_true(isinstance(got, (int, np.integer)), what,
                f"expected an int, got {type(got).__name__} {got!r}",
                "an output size is a whole number of pixels: use integer division //", quiet=True)
    if padding == "same":
        mistakes = {"'same' rounded down (N // S) instead of up": n // stride,
                    "'same' ignoring the stride": n}
    else:
        p = 0 if padding == "valid" else padding
        span = n - f + 2 * p
        mistakes = {"the '+ 1' is missing (off by one)": span // stride,
                    "padding added on one side only (P instead of 2P)": (n - f + p) // stride + 1,
                    "the stride is ignored": span + 1}
    expect_close(got, expected, what, rtol=0, atol=0, hint=hint, mistakes=mistakes, quiet=True)


# %% [markdown]
# ## 1. Output size
#
# Slide an F x F filter over an N x N input, S pixels at a time. The filter fits at positions
# 0, S, 2S, ... as long as it stays inside the input, so the number of positions along one
# axis is
#
# $$\text{out} = \frac{N - F}{S} + 1 .$$
#
# With P pixels of zero padding on **each** side the input becomes N + 2P wide:
#
# $$\text{out} = \frac{N - F + 2P}{S} + 1 .$$
#
# The lecture's examples: a 7x7 input and a 3x3 filter give 5 with stride 1 and 3 with
# stride 2, but stride 3 gives (7 - 3)/3 + 1 = 2.33: the filter **doesn't fit** (the last
# step would hang over the edge). A framework has two ways out of that, and Keras names them:
#
# - `"valid"`: no padding, and the leftover border is silently dropped, so the division
#   is rounded **down**: out = floor((N - F) / S) + 1;
# - `"same"`: Keras pads just enough (splitting the padding between the two sides) that
#   out = ceil(N / S) — the same size as the input when S = 1, whatever F is.
#
# With an explicit int padding we follow the lecture and **refuse** a filter that does not fit:
# raise a `ValueError` whose message says which numbers don't divide.
#
# A common rule from the slides: stride 1 and P = (F - 1)/2 keeps the size (3x3 with pad 1,
# 5x5 with pad 2, 7x7 with pad 3).

# %% nbgrader={"grade": false, "grade_id": "conv_output_size", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_output_size(n: int, f: int, stride: int = 1, padding=0) -> int:
    """Width (= height) of the output of an f x f filter sliding over an n x n input.

    padding is either
      * an int P: zero padding of P pixels on each side. (N - F + 2P) / S + 1 must be a
        whole number; if it is not, or the filter is larger than the padded input, raise
        ValueError with a message saying why the filter doesn't fit;
      * "valid": no padding, leftover border dropped (Keras rounds down);
      * "same": output ceil(N / S), as Keras computes it.
    Any other padding: ValueError. A filter larger than the input with "valid": ValueError.
    Returns an int.
    """
    ### BEGIN SOLUTION
    if padding == "same":
        return -(-n // stride)  # ceil(n / stride) without floating point
    if padding == "valid":
        if f > n:
            raise ValueError(f"a {f}x{f} filter does not fit in a {n}x{n} input with 'valid' padding")
        return (n - f) // stride + 1
    if isinstance(padding, bool) or not isinstance(padding, int):
        raise ValueError(f"padding must be an int, 'valid' or 'same', got {padding!r}")
    span = n - f + 2 * padding
    if span < 0:
        raise ValueError(f"a {f}x{f} filter is larger than the padded input ({n} + 2*{padding} pixels)")
    if span % stride:
        raise ValueError(f"the filter doesn't fit: (N - F + 2P) / S + 1 = ({n} - {f} + 2*{padding}) / "
                         f"{stride} + 1 = {span / stride + 1:.2f} is not a whole number")
    return span // stride + 1
    ### END SOLUTION


# %% [markdown]
# Try it on the lecture's examples before running the tests:

# %% nbgrader={"grade": false, "grade_id": "given_7", "locked": true, "schema_version": 3, "solution": false, "task": false}
for n, f, stride, padding in [(7, 3, 1, 0), (7, 3, 2, 0), (7, 3, 1, 1), (32, 5, 1, 2), (227, 11, 4, 0)]:
    print(f"N={n:3d} F={f:2d} S={stride} P={padding}: output {conv_output_size(n, f, stride, padding)}")
try:
    conv_output_size(7, 3, 3, 0)
except ValueError as error:
    print("N=7 F=3 S=3 P=0:", error)

# %% nbgrader={"grade": true, "grade_id": "test_output_size_formula", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The lecture's worked examples, computed by hand: (N - F + 2P) / S + 1.
formula_hint = "(N - F + 2P) / S + 1, with the padding P added on both sides"
for (n, f, stride, padding), expected in {(7, 3, 1, 0): 5, (7, 3, 2, 0): 3, (227, 11, 4, 0): 55,
                                           (32, 5, 1, 2): 32, (7, 3, 1, 1): 7}.items():
    check_output_size(n, f, stride, padding, expected, formula_hint)
print("\u2714 the lecture's examples (5, 3, 7, 32 and AlexNet's 55)")

# Cases that fit, checked against Keras (explicit ZeroPadding2D, then a 'valid' Conv2D).
for n, f, stride, padding in [(28, 5, 1, 0), (28, 5, 1, 2), (9, 3, 2, 1), (10, 4, 2, 1), (6, 1, 1, 0)]:
    check_output_size(n, f, stride, padding, keras_output_size(n, f, stride, padding), formula_hint)
print("\u2714 int paddings agree with Keras")

fit_hint = "when (N - F + 2P) is not a multiple of S, raise ValueError explaining that the filter doesn't fit"
expect_raises(lambda: conv_output_size(7, 3, 3, 0), ValueError,
              "7x7 input, 3x3 filter, stride 3: the lecture's 'doesn't fit' case", hint=fit_hint)
expect_raises(lambda: conv_output_size(32, 5, 2, 0), ValueError,
              "32x32 input, 5x5 filter, stride 2 ((32 - 5) / 2 + 1 = 14.5)", hint=fit_hint)
### BEGIN HIDDEN TESTS
for n, f, stride, padding in [(13, 3, 1, 1), (15, 3, 3, 0), (11, 11, 1, 0), (5, 3, 1, 3),
                              (64, 8, 8, 0), (19, 5, 1, 2), (8, 2, 2, 0), (1, 1, 1, 0)]:
    check_output_size(n, f, stride, padding, keras_output_size(n, f, stride, padding), formula_hint)
for n, f, stride, padding in [(10, 3, 2, 1), (224, 7, 2, 3), (224, 11, 4, 2), (6, 4, 3, 0), (28, 2, 3, 0)]:
    expect_raises(lambda: conv_output_size(n, f, stride, padding), ValueError,
                  f"conv_output_size(n={n}, f={f}, stride={stride}, padding={padding})", hint=fit_hint)
expect_raises(lambda: conv_output_size(3, 7, 1, 1), ValueError,
              "a 7x7 filter over a 3x3 input padded by 1 (5x5): larger than the input",
              hint="a filter wider than the padded input fits nowhere: raise ValueError")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_output_size_keras", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# 'valid' and 'same' against a real Keras Conv2D.
valid_hint = "'valid': (N - F) // S + 1 -- Keras rounds down instead of refusing"
same_hint = "'same': ceil(N / S), whatever the filter size; in integers: -(-N // S)"
for n in (7, 28, 32):
    for f in (1, 3, 5):
        for stride in (1, 2, 3):
            check_output_size(n, f, stride, "valid", keras_output_size(n, f, stride, "valid"), valid_hint)
            check_output_size(n, f, stride, "same", keras_output_size(n, f, stride, "same"), same_hint)
print("\u2714 'valid' and 'same' agree with Keras for N in (7, 28, 32), F in (1, 3, 5), S in (1, 2, 3)")
expect_raises(lambda: conv_output_size(7, 3, 1, "full"), ValueError,
              "padding='full' (not a padding this function knows)",
              hint="accept an int, 'valid' or 'same'; raise ValueError for anything else")
### BEGIN HIDDEN TESTS
for n in (5, 13, 224, 227):
    for f in (1, 2, 3, 7, 11):
        for stride in (1, 2, 4):
            if f <= n:
                check_output_size(n, f, stride, "valid", keras_output_size(n, f, stride, "valid"), valid_hint)
            check_output_size(n, f, stride, "same", keras_output_size(n, f, stride, "same"), same_hint)
check_output_size(3, 5, 2, "same", keras_output_size(3, 5, 2, "same"), same_hint)
expect_raises(lambda: conv_output_size(3, 5, 1, "valid"), ValueError,
              "a 5x5 filter over a 3x3 input with 'valid' padding",
              hint="with 'valid' a filter larger than the input fits nowhere: raise ValueError")
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Parameters
#
# A convolutional layer with K filters of size F x F over an input with C channels learns
# K filters of F·F·C weights each, plus one bias per filter:
#
# $$\text{params} = K\,(F \cdot F \cdot C + 1).$$
#
# The lecture's example: ten 5x5 filters over a 32x32x3 input have 5·5·3 + 1 = 76 parameters
# each, **760** in all. Notice what is absent: the input's width and height. The same filter
# slides everywhere (weight sharing), so a convolution costs as many parameters on a 32x32
# image as on a 1024x1024 one.

# %% nbgrader={"grade": false, "grade_id": "conv_params", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_params(f: int, c_in: int, k: int, bias: bool = True) -> int:
    """Learnable numbers of k filters of size f x f x c_in, plus one bias per filter if bias."""
    ### BEGIN SOLUTION
    return k * (f * f * c_in + (1 if bias else 0))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_conv_params", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
def check_params(f, c_in, k, bias, expected):
    weights = f * f * c_in * k
    expect_close(conv_params(f, c_in, k, bias=bias), expected,
                 f"conv_params(f={f}, c_in={c_in}, k={k}, bias={bias})", rtol=0, atol=0,
                 hint="each of the k filters has f*f*c_in weights, and one bias when bias=True",
                 mistakes={"the biases are forgotten": weights,
                           "biases counted although bias=False": weights + k,
                           "the input channels are forgotten (a filter is f x f x c_in)": f * f * k + (k if bias else 0),
                           "one bias per weight instead of one per filter": 2 * weights})


check_params(5, 3, 10, True, 760)  # the lecture: ten 5x5x3 filters, 76 parameters each
for f, c_in, k, bias in [(3, 3, 64, True), (3, 64, 64, False), (1, 256, 64, True), (11, 3, 96, True)]:
    layer, _ = keras_conv(16, c_in, f, k, bias=bias)
    check_params(f, c_in, k, bias, layer.count_params())
print("\u2714 parameter counts agree with the lecture (760) and with Keras' count_params()")
### BEGIN HIDDEN TESTS
for f, c_in, k, bias in [(7, 1, 1, True), (1, 1, 1, False), (5, 6, 16, True), (3, 512, 512, True),
                         (2, 7, 3, False), (1, 64, 256, True)]:
    layer, _ = keras_conv(16, c_in, f, k, bias=bias)
    check_params(f, c_in, k, bias, layer.count_params())
### END HIDDEN TESTS

# %% [markdown]
# ### The power of small filters, in numbers
#
# The lecture compares one 7x7 layer with a stack of three 3x3 layers over an H x W x C volume
# (C filters each, stride 1, padding that keeps the size, biases left out): 49C² against 27C²
# weights. And the bottleneck of "Network in Network", GoogLeNet and ResNet: reduce 256 channels
# to 64 with a 1x1 convolution, do the 3x3 convolution on 64 channels, and expand back with
# another 1x1 — about 70 thousand weights instead of about 590 thousand. Your `conv_params`
# reproduces both (this cell uses it, so it runs once your function works):

# %% nbgrader={"grade": false, "grade_id": "given_14", "locked": true, "schema_version": 3, "solution": false, "task": false}
C = 64
one_7x7 = conv_params(7, C, C, bias=False)
three_3x3 = 3 * conv_params(3, C, C, bias=False)
plain_3x3 = conv_params(3, 256, 256, bias=False)
bottleneck = (conv_params(1, 256, 64, bias=False) + conv_params(3, 64, 64, bias=False)
              + conv_params(1, 64, 256, bias=False))
print(f"C={C}: one 7x7 layer {one_7x7:,} weights = {one_7x7 // C**2} C^2;"
      f" three 3x3 layers {three_3x3:,} = {three_3x3 // C**2} C^2")
print(f"256 -> 256 channels: plain 3x3 {plain_3x3:,} weights; 1x1 -> 3x3 -> 1x1 bottleneck "
      f"{bottleneck:,} ({plain_3x3 / bottleneck:.1f}x fewer)")

fig, axes = plt.subplots(1, 2, figsize=(9, 3))
axes[0].bar(["one 7x7", "three 3x3"], [one_7x7, three_3x3], color=["tab:red", "tab:green"])
axes[0].set_title(f"same 7x7 receptive field, C = {C}")
axes[1].bar(["3x3, 256 ch", "1x1/3x3/1x1\nbottleneck"], [plain_3x3, bottleneck], color=["tab:red", "tab:green"])
axes[1].set_title("256 channels in and out")
for ax in axes:
    ax.set_ylabel("weights")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Receptive field
#
# One unit after a 3x3 convolution looks at a 3x3 patch of its input. Stack a second 3x3
# layer on top: its unit sees 3x3 units of the first layer, which together cover **5x5** input
# pixels; a third layer sees **7x7** (the lecture's questions). Each layer adds (F - 1) units of
# its own input to the field.
#
# Strides make this grow faster. After a stride-2 layer, neighbouring units of the next layer
# are 2 input pixels apart, so every later layer's (F - 1) extra units count double; after
# strides 4 and 2 they count 8 times. Call the product of the strides of the layers **below**
# a layer its *jump*; then
#
# $$ r = 1 + \sum_{\ell} (F_\ell - 1)\, \prod_{i < \ell} S_i .$$
#
# The stride of a layer does not change what that layer itself sees; it only spreads the
# units that the layers **above** it combine.

# %% nbgrader={"grade": false, "grade_id": "receptive_field", "locked": false, "schema_version": 3, "solution": true, "task": false}
def receptive_field(kernel_sizes, strides=None) -> int:
    """Width of the input region seen by one unit at the top of a stack of layers.

    kernel_sizes[i] and strides[i] describe layer i, from the input upwards; strides=None
    means stride 1 everywhere. Different numbers of kernel sizes and strides: ValueError.
    """
    ### BEGIN SOLUTION
    if strides is None:
        strides = [1] * len(kernel_sizes)
    if len(strides) != len(kernel_sizes):
        raise ValueError(f"{len(kernel_sizes)} kernel sizes but {len(strides)} strides: give one per layer")
    field, jump = 1, 1
    for size, stride in zip(kernel_sizes, strides):
        field += (size - 1) * jump
        jump *= stride
    return field
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_receptive_field", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
def measured_receptive_field(kernel_sizes, strides):
    """Independent oracle: which input pixels change the top-left output unit? Ask TensorFlow's gradient."""
    n = sum(kernel_sizes) * math.prod(strides) + 1  # comfortably larger than the field
    x = tf.ones((1, n, n, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x
        for size, stride in zip(kernel_sizes, strides):
            y = tf.nn.conv2d(y, tf.ones((size, size, 1, 1)), strides=stride, padding="VALID")
        top_left = y[0, 0, 0, 0]
    rows = np.nonzero(tape.gradient(top_left, x).numpy()[0, :, :, 0].sum(axis=1))[0]
    return int(rows.max() - rows.min() + 1)


def check_field(kernel_sizes, strides, expected):
    ks, ss = list(kernel_sizes), list(strides or [1] * len(kernel_sizes))
    jump_too_early, field = 1, 1
    for size, stride in zip(ks, ss):
        jump_too_early *= stride
        field += (size - 1) * jump_too_early
    expect_close(receptive_field(kernel_sizes, strides), expected,
                 f"receptive_field({kernel_sizes}, strides={strides})", rtol=0, atol=0,
                 hint="each layer adds (F - 1) times the product of the strides of the layers BELOW it",
                 mistakes={"the strides are ignored": 1 + sum(k - 1 for k in ks),
                           "each layer's own stride is applied to its own kernel": field,
                           "the kernel sizes are added up (should add F - 1 each, plus 1)": sum(ks)})


check_field([3, 3], None, 5)      # the lecture: two 3x3 layers see 5x5
check_field([3, 3, 3], None, 7)   # three 3x3 layers see 7x7
check_field([7], None, 7)
for ks, ss in [([3, 3], [2, 1]), ([3, 3, 3], [2, 2, 1]), ([11, 3, 5, 3], [4, 2, 1, 2])]:
    check_field(ks, ss, measured_receptive_field(ks, ss))
print("\u2714 receptive fields agree with the lecture and with TensorFlow's gradients")
### BEGIN HIDDEN TESTS
for ks, ss in [([1, 1, 1], [1, 1, 1]), ([2, 3], [2, 1]), ([5, 2, 3, 3], [1, 2, 2, 1]), ([3, 1, 3], [1, 3, 1]),
               ([7, 3, 3, 3], [2, 2, 1, 1]), ([4], [4])]:
    check_field(ks, ss, measured_receptive_field(ks, ss))
check_field((3, 3, 3, 3, 3), None, 11)
expect_raises(lambda: receptive_field([3, 3], [1]), ValueError, "receptive_field([3, 3], strides=[1])",
              hint="two layers need two strides: raise ValueError when the lengths differ")
### END HIDDEN TESTS

# %% [markdown]
# What do AlexNet's units see? Its first layers are conv 11x11 stride 4, max-pool 3x3 stride 2,
# conv 5x5, max-pool 3x3 stride 2, three 3x3 convs and a last 3x3 stride-2 pool. The squares below
# are drawn to scale on a 227x227 photo (this cell uses your `receptive_field`):

# %% nbgrader={"grade": false, "grade_id": "given_19", "locked": true, "schema_version": 3, "solution": false, "task": false}
alexnet_kernels = [11, 3, 5, 3, 3, 3, 3, 3]
alexnet_strides = [4, 2, 1, 2, 1, 1, 1, 2]
alexnet_names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool3"]
cat = data.photo("chelsea", size=227)[:227, :227]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, (title, names, kernels, strides) in zip(axes, [
        ("stacked 3x3 convolutions, stride 1", ["1 layer", "2 layers", "3 layers"], [3, 3, 3], [1, 1, 1]),
        ("AlexNet's first layers", alexnet_names, alexnet_kernels, alexnet_strides)]):
    ax.imshow(cat)
    for depth, name in enumerate(names, start=1):
        r = receptive_field(kernels[:depth], strides[:depth])
        colour = plt.cm.viridis(depth / len(names))
        ax.add_patch(plt.Rectangle((113.5 - r / 2, 113.5 - r / 2), r, r, fill=False, lw=1.5, color=colour,
                                   label=f"{name}: {r}x{r}"))
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower left")
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Multiply-adds and memory
#
# Each number in the output volume of a convolution is a dot product of an F x F x C patch with
# one filter: F·F·C multiply-adds. The output volume holds out x out x K numbers, so the layer costs
#
# $$\text{MACs} = \text{out}^2 \cdot K \cdot F^2 C .$$
#
# Papers count multiply-adds (a "FLOP" count is usually twice this), and leave out the bias
# additions and the ReLUs, which are negligible; so do we. The lecture's comparison over an
# H x W x C volume: one 7x7 layer costs (H·W·C)(7·7·C) = 49HWC² multiply-adds, three 3x3
# layers 27HWC².
#
# The **activation memory** of a layer is the number of values in its output volume, out x out x K
# (x 4 bytes in float32): this is what a forward pass must keep for the backward pass, per image.

# %% nbgrader={"grade": false, "grade_id": "conv_macs", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_macs(n: int, c_in: int, f: int, k: int, stride: int = 1, padding=0) -> int:
    """Multiply-adds of k f x f filters over an n x n x c_in input (one image, biases not counted).

    padding as in conv_output_size (an int, "valid" or "same").
    """
    ### BEGIN SOLUTION
    out = conv_output_size(n, f, stride, padding)
    return out * out * k * f * f * c_in
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_conv_macs", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
def check_macs(n, c_in, f, k, stride, padding):
    layer, output = keras_conv(n, c_in, f, k, stride, padding)
    outputs = math.prod(output.shape[1:])                  # Keras' output volume
    per_output = math.prod(layer.kernel.shape[:3])          # f * f * c_in, from Keras' kernel
    expect_close(conv_macs(n, c_in, f, k, stride, padding), outputs * per_output,
                 f"conv_macs(n={n}, c_in={c_in}, f={f}, k={k}, stride={stride}, padding={padding!r})",
                 rtol=0, atol=0, hint="(number of values in the OUTPUT volume) x (f * f * c_in)",
                 mistakes={"the input size is used instead of the output size": n * n * k * per_output,
                           "FLOPs counted (2 per multiply-add) instead of multiply-adds": 2 * outputs * per_output,
                           "the bias is counted as one more multiply-add": outputs * (per_output + 1),
                           "the input channels are forgotten": outputs * f * f})


# The lecture, by hand, on a 56x56x64 volume: 49 HWC^2 for one 7x7 layer, 27 HWC^2 for three 3x3 layers.
H = W = 56
C = 64
expect_equal(conv_macs(H, C, 7, C, 1, 3), 49 * H * W * C**2, "one 7x7 layer: 49 HWC^2",
             hint="each of the H*W*C outputs costs 7*7*C multiply-adds")
expect_equal(3 * conv_macs(H, C, 3, C, 1, 1), 27 * H * W * C**2, "three 3x3 layers: 27 HWC^2",
             hint="each of the H*W*C outputs of one layer costs 3*3*C multiply-adds")
for n, c_in, f, k, stride, padding in [(227, 3, 11, 96, 4, 0), (28, 1, 5, 6, 1, 2), (32, 16, 3, 32, 2, "same")]:
    check_macs(n, c_in, f, k, stride, padding)
print("\u2714 multiply-adds agree with the lecture and with Keras' output volumes")
### BEGIN HIDDEN TESTS
for n, c_in, f, k, stride, padding in [(13, 256, 3, 384, 1, 1), (14, 512, 1, 128, 1, 0), (15, 3, 3, 8, 2, "valid"),
                                       (9, 4, 4, 5, 3, "same"), (224, 3, 7, 64, 2, "same"), (1, 7, 1, 3, 1, 0)]:
    check_macs(n, c_in, f, k, stride, padding)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. The lectures' tables: AlexNet and VGG-16
#
# A network is a list of layers, and its table follows from your three functions applied layer
# after layer. `course/arith.py` writes the lecture's networks as the slides do: a `conv`, `pool`
# or `fc` entry per layer (AlexNet's normalisation layers change neither shapes nor parameter
# counts, so they are left out; so are the ReLUs). The read-only cell below imports them and shows
# AlexNet's; `VGG16` is the same for VGG-16, and `vgg16(fc_units, classes)` builds variants of it.
# The tests build the very same network with plain Keras layers (`keras_model`, in
# `course/references.py`) and use it as the reference.
#
# Write `volume_table(input_shape, layers)`: one row (a dict) per layer with
# - `"name"`: the layer's name;
# - `"shape"`: its output volume, a tuple `(height, width, channels)` for conv and pool layers,
#   `(units,)` for a fully connected layer;
# - `"memory"`: the number of values in that output volume (its activation memory, one image);
# - `"params"`: learnable parameters, **biases included** (as Keras counts them);
# - `"macs"`: multiply-adds (convolutions as in part 4, a fully connected layer: inputs x units).
#
# Pooling works like a convolution without weights: the same output-size rule with Keras'
# `"valid"` padding, the channels unchanged, no parameters, no multiply-adds. A fully connected
# layer first flattens its input volume.

# %% nbgrader={"grade": false, "grade_id": "layer_specs", "locked": true, "schema_version": 3, "solution": false, "task": false}
from course.arith import ALEXNET, VGG16, conv, fc, pool, vgg16  # the lecture's networks, as layer specs
from course.references import check_table, keras_model  # the tests' reference: the same spec in Keras

pd.DataFrame(ALEXNET, dtype=object).fillna("")  # AlexNet, one layer per row (input 227x227x3)


# %% nbgrader={"grade": false, "grade_id": "volume_table", "locked": false, "schema_version": 3, "solution": true, "task": false}
def volume_table(input_shape: tuple, layers: list) -> list:
    """One dict per layer: name, shape, memory, params, macs (see above). input_shape = (n, n, channels)."""
    ### BEGIN SOLUTION
    shape = tuple(input_shape)
    rows = []
    for layer in layers:
        if layer["kind"] == "conv":
            n, c_in = shape[0], shape[2]
            size = conv_output_size(n, layer["size"], layer["stride"], layer["padding"])
            new_shape = (size, size, layer["filters"])
            params = conv_params(layer["size"], c_in, layer["filters"])
            macs = conv_macs(n, c_in, layer["size"], layer["filters"], layer["stride"], layer["padding"])
        elif layer["kind"] == "pool":
            size = conv_output_size(shape[0], layer["size"], layer["stride"], "valid")
            new_shape, params, macs = (size, size, shape[2]), 0, 0
        else:
            inputs = math.prod(shape)
            new_shape = (layer["units"],)
            params, macs = inputs * layer["units"] + layer["units"], inputs * layer["units"]
        rows.append({"name": layer["name"], "shape": new_shape, "memory": math.prod(new_shape),
                     "params": params, "macs": macs})
        shape = new_shape
    return rows
    ### END SOLUTION


# %% [markdown]
# Your AlexNet table, next to the slide's volumes:

# %%
alexnet_rows = volume_table((227, 227, 3), ALEXNET)
pd.DataFrame(alexnet_rows)

# %% [markdown]
# And the same network built with plain Keras layers: compare Keras' "Output Shape" and "Param #"
# columns with your table (the `_pad` and `_flatten` rows are the explicit zero padding and flattening,
# which have no parameters). AlexNet has about 62M parameters in this single-GPU form; the slide rounds to 60M.

# %%
keras_model((227, 227, 3), ALEXNET).summary()

# %% nbgrader={"grade": true, "grade_id": "test_volume_table_alexnet", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# The slide's volumes, copied from the lecture.
slide_volumes = {"CONV1": (55, 55, 96), "POOL1": (27, 27, 96), "CONV2": (27, 27, 256), "POOL2": (13, 13, 256),
                 "CONV3": (13, 13, 384), "CONV4": (13, 13, 384), "CONV5": (13, 13, 256), "POOL3": (6, 6, 256),
                 "FC6": (4096,), "FC7": (4096,), "FC8": (1000,)}
rows = volume_table((227, 227, 3), ALEXNET)
expect_equal({r["name"]: tuple(r["shape"]) for r in rows}, slide_volumes, "AlexNet's volumes (the slide)",
             hint="apply conv_output_size layer after layer; a pool keeps the channels")
check_table(rows, keras_model((227, 227, 3), ALEXNET), ALEXNET, "AlexNet")
### BEGIN HIDDEN TESTS
small_net = [conv("C1", 6, 5, padding=2), pool("S2"), conv("C3", 16, 5, stride=1, padding="valid"), pool("S4"),
             conv("C5", 32, 3, stride=2, padding="same"), conv("C6", 8, 1), fc("F7", 84), fc("F8", 10)]
check_table(volume_table((28, 28, 1), small_net), keras_model((28, 28, 1), small_net), small_net, "a LeNet-like net")
strided = [conv("A", 4, 3, stride=2, padding="same"), pool("B", 3, 2), conv("C", 5, 2, stride=2, padding=0),
           fc("D", 7)]
check_table(volume_table((33, 33, 2), strided), keras_model((33, 33, 2), strided), strided, "a strided net")
### END HIDDEN TESTS

# %% [markdown]
# ### VGG-16: where the memory goes and where the parameters are
#
# The VGG-16 slide lists, per layer, the output volume ("memory") and the weights ("params",
# **without** biases), and concludes: "TOTAL memory: 24M x 4 bytes ≈ 93MB / image" and
# "TOTAL params: 138M". Compute the table and check those totals yourself.

# %%
vgg_rows = volume_table((224, 224, 3), VGG16)
vgg_table = pd.DataFrame(vgg_rows)
input_memory = 224 * 224 * 3  # the slide also counts the input image
total_memory = input_memory + vgg_table["memory"].sum()
print(f"activations per image: {total_memory:,} values = {4 * total_memory / 1e6:.0f} MB in float32 "
      f"(the slide's total says 24M = 93 MB, but its own per-layer numbers add up to {total_memory / 1e6:.1f}M)")
print(f"parameters: {vgg_table['params'].sum():,} (the slide: 138M)")
print(f"multiply-adds per image: {vgg_table['macs'].sum() / 1e9:.1f} G")

if not profile.is_grading:  # 138M random weights take a few seconds: not while grading
    reference = keras.applications.VGG16(weights=None)  # Keras' own VGG-16 (no download: random weights)
    print(f"keras.applications.VGG16: {reference.count_params():,} parameters")

fig, axes = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
axes[0].bar(vgg_table["name"], vgg_table["memory"], color="tab:blue")
axes[0].set_ylabel("activations")
axes[0].set_title("VGG-16: memory sits in the early conv layers, parameters in the fully connected ones")
axes[1].bar(vgg_table["name"], vgg_table["params"], color="tab:orange")
axes[1].set_ylabel("parameters")
for ax in axes:
    ax.set_yscale("log")
plt.xticks(rotation=90)
plt.tight_layout()
plt.show()

# %% nbgrader={"grade": true, "grade_id": "test_volume_table_vgg16", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
rows = volume_table((224, 224, 3), VGG16)
by_name = {r["name"]: r for r in rows}
# The slide's per-layer numbers (memory = output volume; params without biases).
slide = {"CONV1_1": (224 * 224 * 64, 3 * 3 * 3 * 64), "CONV1_2": (224 * 224 * 64, 36_864),
         "POOL1": (112 * 112 * 64, 0), "CONV2_1": (112 * 112 * 128, 73_728), "CONV3_1": (56 * 56 * 256, 294_912),
         "CONV4_2": (28 * 28 * 512, 2_359_296), "POOL5": (7 * 7 * 512, 0), "FC6": (4096, 102_760_448),
         "FC7": (4096, 16_777_216), "FC8": (1000, 4_096_000)}
for name, (memory, weights) in slide.items():
    biases = by_name[name]["shape"][-1] if name[0] in "CF" else 0
    expect_equal((by_name[name]["memory"], by_name[name]["params"] - biases), (memory, weights),
                 f"VGG-16 {name}: (memory, params without biases) from the slide", quiet=True,
                 hint="memory = height * width * channels of the output; params = weights + one bias per filter")
print("\u2714 VGG-16 agrees with the slide's per-layer memory and weights")
expect_equal(sum(r["params"] for r in rows), 138_357_544, "VGG-16 total parameters (138M on the slide)",
             hint="add up the params column; biases included")
expect_equal(224 * 224 * 3 + sum(r["memory"] for r in rows), 15_237_608,
             "VGG-16 activations per image, input included (the slide's rows add up to 15.2M)",
             hint="add up the memory column")
### BEGIN HIDDEN TESTS
cifar_vgg = vgg16(fc_units=512, classes=10)
check_table(volume_table((32, 32, 3), cifar_vgg), keras_model((32, 32, 3), cifar_vgg), cifar_vgg, "VGG-16 on 32x32")
### END HIDDEN TESTS

# %% [markdown]
# ## Written questions
#
# Answer in a few sentences each, using numbers from this notebook.
#
# **Q1 (2 points).** VGG replaced large filters by stacks of 3x3 layers. Why use three 3x3 layers
# rather than one 7x7 layer? Compare what they see, what they cost (weights and multiply-adds), and
# what else the stack gives.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_3x3", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# Model answer. Three stacked 3x3 layers (stride 1) have the same 7x7 receptive field as one 7x7 layer
# (1 + 2 + 2 + 2 = 7), so they can respond to the same input region. With C channels in and out they cost
# 3·9C² = 27C² weights and 27HWC² multiply-adds against 49C² and 49HWC² — 45% fewer (for C = 64: 110,592
# against 200,704 weights). The stack also puts a non-linearity (ReLU) after each layer: three instead of
# one, so it computes more complex functions of the same region, and it is a factorised, regularised
# version of a 7x7 filter. Cost: three activation volumes to store for backprop instead of one.
# ### END SOLUTION

# %% [markdown]
# **Q2 (2 points).** A 1x1 convolution sees a single pixel. What does it buy? Use the bottleneck
# numbers above (256 channels, 3x3 at 64 channels) in your answer.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_1x1", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# Model answer. A 1x1 convolution is a fully connected layer applied to the channel vector of every
# pixel, with shared weights: it mixes channels without looking at neighbours. It therefore changes the
# depth cheaply: reducing 256 channels to 64 before the 3x3 convolution and expanding back afterwards
# costs 16,384 + 36,864 + 16,384 = 69,632 weights against 589,824 for a plain 3x3 layer at 256 channels
# (about 8.5x fewer, and as many fewer multiply-adds per pixel). It adds non-linearities (a ReLU after
# each 1x1), as in Network in Network, and it keeps the spatial size. Used in GoogLeNet's Inception
# modules (dimension reduction before the 3x3 and 5x5 branches) and in ResNet's bottleneck blocks.
# ### END SOLUTION
