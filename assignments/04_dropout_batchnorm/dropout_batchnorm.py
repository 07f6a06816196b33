# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # Assignment 4: dropout and batch normalisation
#
# Two layers that behave differently while training and at test time. Dropout switches random
# units off during training; batch normalisation standardises each channel with the statistics of
# the current mini-batch during training, and with running averages at test time. Getting the
# train/test difference wrong does not crash anything: the network just silently predicts worse.
# That is why you will implement both in NumPy and check them, number for number, against Keras.
#
# You will learn to
# - implement dropout with a **keep probability** p, in both conventions (scale at train time,
#   "inverted dropout", as Keras does; or scale at test time, as in the original paper);
# - prove with the lecture's two-input neuron that rescaling keeps the expected activation, then
#   watch it happen with sampled numbers;
# - implement batch normalisation forward in training mode (batch statistics, running averages with
#   Keras' momentum convention) and inference mode (running statistics), and its backward pass;
# - see on Fashion-MNIST features what batch normalisation does to activations and why inference
#   needs running statistics.
#
# It follows the lecture slides on dropout ("Clarification: dropout during test time", the single
# neuron with two inputs) and on batch normalisation (normalise, then scale by γ and shift by β).
#
# | part | points |
# |---|---|
# | 1. dropout in training | 3 |
# | 1. dropout at inference | 2 |
# | 1. the expectation argument, by enumeration | 2 |
# | 2. batch norm forward, training | 3 |
# | 2. batch norm forward, inference | 2 |
# | 2. batch norm backward | 3 |
# | written: why must activations be rescaled? | 3 |
# | written: why running statistics at inference? | 2 |
#
# **Total: 20 points** (15 autograded, 5 written)
#
# Write your code where it says `YOUR CODE HERE` (replace the `raise NotImplementedError()` line),
# then run the test cell below it. Hidden tests, run when your work
# is graded, try other shapes, keep probabilities, momenta and a 4-D (convolutional) input.

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

import itertools

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from course import data
from course.grading import expect_close, expect_raises, expect_true, hidden_rng, hidden_seed, numerical_gradient

(train_images, train_labels), _ = data.fashion_mnist()  # for the demos

# %% [markdown]
# ## 1. Dropout
#
# In each training step, dropout keeps every unit with probability **p** (the *keep probability*;
# p = 0.5 is common) and sets it to zero otherwise, with a fresh random mask each time. A unit can
# no longer rely on any particular other unit being there, which acts as a strong regulariser and,
# in effect, trains an ensemble of thinned networks that share weights.
#
# Careful with names: the lecture's p is the probability of **keeping** a unit, while Keras'
# `Dropout(rate)` takes the probability of **dropping** it: `rate = 1 - p`.
#
# During training a unit survives only a fraction p of the time, so the next layer receives on
# average p times its usual input. At test time nothing is dropped. To make the two agree
# **in expectation**, one of them must be rescaled:
#
# | convention | training | inference |
# |---|---|---|
# | scale at train time ("inverted dropout", Keras, PyTorch) | `x * mask / p` | `x` |
# | scale at test time (the original paper) | `x * mask` | `x * p` |
#
# Inverted dropout is the usual choice because inference then costs nothing extra: the trained
# network is used as it is.
#
# Write `dropout_forward`. Draw the mask from the random generator you are given,
# `rng.random(x.shape) < keep_prob` (a NumPy `Generator`, so that results are reproducible), and
# return an array of the same shape as `x`.

# %% nbgrader={"grade": false, "grade_id": "dropout_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dropout_forward(x, keep_prob: float, training: bool, rng: np.random.Generator, scale_at: str = "train"):
    """Dropout keeping each unit with probability keep_prob.

    scale_at="train": inverted dropout, x * mask / keep_prob in training and x at inference.
    scale_at="test": x * mask in training and x * keep_prob at inference.
    keep_prob outside (0, 1], or scale_at not "train"/"test": ValueError.
    """
    ### BEGIN SOLUTION
    if not 0 < keep_prob <= 1:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
    if scale_at not in ("train", "test"):
        raise ValueError(f"scale_at must be 'train' or 'test', got {scale_at!r}")
    x = np.asarray(x)
    if not training:
        return x.copy() if scale_at == "train" else x * keep_prob
    mask = rng.random(x.shape) < keep_prob
    return x * mask / keep_prob if scale_at == "train" else x * mask
    ### END SOLUTION


# %% [markdown]
# Dropout on a Fashion-MNIST image: two training-time samples (inverted dropout, p = 0.5: the surviving
# pixels are twice as bright), the average of many samples, and the inference output.

# %% nbgrader={"grade": false, "grade_id": "given_5", "locked": true, "schema_version": 3, "solution": false, "task": false}
image = train_images[0].astype(np.float64) / 255
rng = np.random.default_rng(0)
samples = np.stack([dropout_forward(image, 0.5, training=True, rng=rng) for _ in range(500)])
panels = {"original": image, "training sample 1": samples[0], "training sample 2": samples[1],
          "mean of 500 samples": samples.mean(axis=0),
          "inference": dropout_forward(image, 0.5, training=False, rng=rng)}
fig, axes = plt.subplots(1, len(panels), figsize=(12, 2.8))
for ax, (title, picture) in zip(axes, panels.items()):
    ax.imshow(picture, cmap="gray", vmin=0, vmax=2)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.show()
print(f"mean pixel: original {image.mean():.4f}, one training sample {samples[0].mean():.4f}, "
      f"mean of the samples {samples.mean():.4f}")

# %% nbgrader={"grade": true, "grade_id": "test_dropout_train", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# The mask is random, so the statistical checks below (check_training_dropout, in course/references.py with its
# reasoning) get tolerances from Hoeffding's inequality: a correct dropout fails one with probability at most
# FAILURE (1e-9), whatever its shape, keep probability or way of drawing the mask (any draw that keeps each unit
# independently with probability keep_prob). Over the whole cell (7 fractions of zeros and 4 means at 1e-9 each,
# 2 comparisons with Keras at 2e-9 each, the new-mask check at 2^-2000) a correct dropout loses these points with
# probability at most 1.5e-8 (union bound).
from course.references import check_training_dropout, hoeffding_tolerance, keras_dropout

# Inverted dropout (Keras' convention), keep probability 0.8: compare with keras.layers.Dropout(rate=0.2).
x, ours = check_training_dropout(dropout_forward, 0.8, "train", (400, 250), seed=0)
theirs = keras_dropout(x.astype(np.float32), 0.8, seed=0)
# Both fractions are within t = hoeffding_tolerance(n ones) = 0.0103 of 0.2 except with probability FAILURE each,
# so their difference exceeds 2t with probability at most 2e-9 (union bound). Dropping with probability 0.8 instead
# of keeping gives a difference of 0.6, 29 times 2t.
expect_close(np.mean(ours == 0), np.mean(theirs == 0), "fraction zeroed: yours against keras.layers.Dropout(rate=0.2)",
             atol=2 * hoeffding_tolerance(np.ones(x.size)), rtol=0,
             hint="Keras' rate is the DROP probability: rate = 1 - keep_prob")
expect_close(np.median(ours[ours != 0] / x[ours != 0]), np.median(theirs[theirs != 0] / x[theirs != 0]),
             "scale of the surviving units: yours against keras.layers.Dropout", rtol=1e-5,
             hint="Keras divides the surviving units by 1 - rate = keep_prob")
print("\u2714 inverted dropout: survivors scaled by 1/p, about 1 - p zeroed, mean kept, as in Keras")

# Scaling at test time: the surviving units are left as they are during training.
check_training_dropout(dropout_forward, 0.8, "test", (400, 250), seed=1)
print("\u2714 dropout scaled at test time: survivors unchanged in training")

# The mask comes from the generator you are given: same seed, same mask; next call, a new mask.
x = np.ones((50, 40))
first = dropout_forward(x, 0.5, True, np.random.default_rng(7))
expect_close(dropout_forward(x, 0.5, True, np.random.default_rng(7)), first, "same seed, same mask",
             hint="draw the mask with rng.random(x.shape), not np.random.* (the global generator)")
rng = np.random.default_rng(7)
dropout_forward(x, 0.5, True, rng)
# Two independent masks of 2,000 units at keep_prob 0.5 are equal with probability (0.5^2 + 0.5^2)^2000 = 2^-2000
# (about 1e-602): a correct dropout fails this check with probability 2^-2000; the one above is deterministic.
expect_true(not np.array_equal(dropout_forward(x, 0.5, True, rng), first), "a new mask at every call",
            "two successive calls with the same generator returned the same mask",
            hint="draw a fresh mask from rng at every call (do not create a new generator inside)")
### BEGIN HIDDEN TESTS
for keep_prob, scale_at, shape, seed in [(0.5, "train", (20, 10, 10, 50), 3), (0.3, "train", (200_000,), 4),
                                         (0.5, "test", (1000, 100), 5), (0.9, "test", (8, 25, 25, 20), 6)]:
    check_training_dropout(dropout_forward, keep_prob, scale_at, shape, hidden_seed(seed))
x = hidden_rng(9).normal(size=(30, 7))
expect_close(dropout_forward(x, 1.0, True, hidden_rng(0)), x, "keep_prob=1.0: nothing is dropped",
             hint="with keep_prob = 1 every unit survives and the scale is 1")
x, ours = check_training_dropout(dropout_forward, 0.5, "train", (300, 300), seed=hidden_seed(11))
theirs = keras_dropout(x.astype(np.float32), 0.5, seed=hidden_seed(11))
# As above: each fraction within t = 0.0109 of 0.5 (n = 90,000) except with probability 1e-9, so P(fail) <= 2e-9.
expect_close(np.mean(ours == 0), np.mean(theirs == 0), "fraction zeroed against keras.layers.Dropout(rate=0.5)",
             atol=2 * hoeffding_tolerance(np.ones(x.size)), rtol=0)
for bad in (0.0, 1.5, -0.2):
    expect_raises(lambda: dropout_forward(x, bad, True, hidden_rng(0)), ValueError,
                  f"keep_prob={bad}", hint="a keep probability must be in (0, 1]")
expect_raises(lambda: dropout_forward(x, 0.5, True, hidden_rng(0), scale_at="sometimes"), ValueError,
              "scale_at='sometimes'", hint="scale_at must be 'train' or 'test'")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_dropout_inference", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
def check_inference_dropout(keep_prob, shape, seed):
    x = np.random.default_rng(seed).normal(size=shape)
    for scale_at, expected in (("train", x), ("test", keep_prob * x)):
        what = f"dropout_forward(keep_prob={keep_prob}, training=False, scale_at={scale_at!r})"
        expect_true(np.all(dropout_forward(x, keep_prob, False, np.random.default_rng(seed), scale_at) != 0),
                    what, "some units are zero at inference", hint="dropout is switched off at inference", quiet=True)
        expect_close(dropout_forward(x, keep_prob, training=False, rng=np.random.default_rng(seed), scale_at=scale_at),
                     expected, what, rtol=1e-12, atol=1e-12,
                     hint="inference drops nothing; scale_at='test' multiplies by keep_prob, scale_at='train' returns x",
                     mistakes={"units are still dropped at inference": expected * (np.random.default_rng(seed).random(shape) < keep_prob),
                               "no scaling at inference although scale_at='test'": x,
                               "scaled by keep_prob at inference although training already divided by it": keep_prob * x,
                               "divided by keep_prob at inference": x / keep_prob})


check_inference_dropout(0.8, (100, 30), seed=0)
x = np.random.default_rng(1).normal(size=(64, 10)).astype(np.float32)
keras_output = keras.layers.Dropout(rate=0.2, seed=0, dtype="float32")(x, training=False).numpy()
expect_close(dropout_forward(x, 0.8, training=False, rng=np.random.default_rng(0)), keras_output,
             "inference against keras.layers.Dropout(rate=0.2)(x, training=False)", hint="Keras returns x unchanged")
### BEGIN HIDDEN TESTS
check_inference_dropout(0.5, (4, 6, 6, 3), seed=hidden_seed(2))
check_inference_dropout(0.25, (1000,), seed=hidden_seed(3))
### END HIDDEN TESTS

# %% [markdown]
# ### The expectation argument
#
# The lecture's single neuron has two inputs x and y with weights w₁ and w₂, and keeps each input with
# probability p = ½. The four masks are equally likely (¼ each), so during training
#
# $$E[a] = \tfrac14(w_1x + w_2y) + \tfrac14(w_1x + 0y) + \tfrac14(0x + w_2y) + \tfrac14(0x + 0y) = \tfrac12(w_1x + w_2y),$$
#
# half of the test-time output w₁x + w₂y. In general a mask m has probability
# $\prod_i p^{m_i}(1-p)^{1-m_i}$ (masks are not equally likely when p ≠ ½).
#
# Write `expected_neuron_output` by **enumerating all the masks** (`itertools.product([0, 1], repeat=n)`),
# without rescaling: it is the expectation that the rescaling must correct.

# %% nbgrader={"grade": false, "grade_id": "expected_neuron_output", "locked": false, "schema_version": 3, "solution": true, "task": false}
def expected_neuron_output(w, x, keep_prob: float) -> float:
    """E[w . (mask * x)] over the 2**n dropout masks of the n inputs, each kept with probability keep_prob."""
    ### BEGIN SOLUTION
    w, x = np.asarray(w, dtype=float), np.asarray(x, dtype=float)
    expectation = 0.0
    for mask in itertools.product([0, 1], repeat=len(x)):
        mask = np.array(mask)
        probability = np.prod(np.where(mask == 1, keep_prob, 1 - keep_prob))
        expectation += probability * float(w @ (mask * x))
    return expectation
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_expected_neuron_output", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
def check_expectation(w, x, keep_prob):
    w, x = np.asarray(w, float), np.asarray(x, float)
    full = float(w @ x)
    expect_close(expected_neuron_output(w, x, keep_prob), keep_prob * full,  # linearity: E[m_i] = keep_prob
                 f"expected_neuron_output(w={w.tolist()}, x={x.tolist()}, keep_prob={keep_prob})",
                 rtol=1e-9, atol=1e-12, hint="weight each mask by the product of keep_prob (kept) and 1 - keep_prob (dropped)",
                 mistakes={"masks weighted equally (only right when keep_prob = 0.5)": 0.5 * full,
                           "keep and drop probabilities swapped": (1 - keep_prob) * full,
                           "only the all-kept mask counted": keep_prob ** len(x) * full,
                           "rescaled (that gives the test-time output, not the training expectation)": full})


check_expectation([0.5, 1.5], [2.0, 1.0], 0.5)   # the lecture's neuron: half of w1 x + w2 y
check_expectation([0.5, 1.5], [2.0, 1.0], 0.8)
check_expectation([1.0, -2.0, 0.5], [0.3, 0.7, -1.0], 0.9)
### BEGIN HIDDEN TESTS
check_expectation([2.0], [3.0], 0.25)
check_expectation(np.arange(1, 7) / 3, np.linspace(-1, 2, 6), 0.6)
check_expectation([0.2, -0.4, 1.1, 0.7], [1.0, 2.0, -0.5, 0.25], 0.3)
### END HIDDEN TESTS

# %% [markdown]
# Now with sampled numbers. Take the lecture's neuron with w₁ = 0.5, w₂ = 1.5, x = 2, y = 1 (test-time
# output w₁x + w₂y = 2.5) and run many training-time forward passes through your `dropout_forward`:
# without rescaling the running average settles at the expectation you just computed, ½ · 2.5 = 1.25;
# with inverted dropout it settles at the test-time output 2.5.

# %% nbgrader={"grade": false, "grade_id": "given_12", "locked": true, "schema_version": 3, "solution": false, "task": false}
w, inputs = np.array([0.5, 1.5]), np.array([2.0, 1.0])
passes = 4000
rng = np.random.default_rng(0)
unscaled = [w @ dropout_forward(inputs, 0.5, True, rng, scale_at="test") for _ in range(passes)]
inverted = [w @ dropout_forward(inputs, 0.5, True, rng, scale_at="train") for _ in range(passes)]
steps = np.arange(1, passes + 1)
plt.figure(figsize=(7, 3))
plt.plot(steps, np.cumsum(unscaled) / steps, label="training, no rescaling")
plt.plot(steps, np.cumsum(inverted) / steps, label="training, inverted dropout (x / p)")
plt.axhline(expected_neuron_output(w, inputs, 0.5), ls="--", color="tab:blue", label="E[a] by enumeration")
plt.axhline(w @ inputs, ls="--", color="tab:orange", label="test-time output $w_1x + w_2y$")
plt.xscale("log")
plt.xlabel("forward passes")
plt.ylabel("running mean of a")
plt.legend(fontsize=8)
plt.show()
print(f"after {passes} passes: no rescaling {np.mean(unscaled):.3f} (expected 1.25), "
      f"inverted {np.mean(inverted):.3f} (test time 2.5)")

# %% [markdown]
# ## 2. Batch normalisation
#
# Batch normalisation standardises every channel with the mean μ and variance σ² of the current
# mini-batch, then lets the network choose its own scale γ and shift β:
#
# $$\hat x = \frac{x - \mu_B}{\sqrt{\sigma_B^2 + \varepsilon}}, \qquad y = \gamma\,\hat x + \beta .$$
#
# The details that Keras' `BatchNormalization` fixes, and that you must match:
# - statistics are per **channel** (the last axis) and taken over every other axis: over the batch for
#   an input of shape (N, D), over the batch **and** both spatial axes for (N, H, W, C);
# - the variance is the **biased** one (divide by the number of values, as `np.var` does);
# - ε (default 1e-3) is added **inside** the square root;
# - in training, running statistics are updated with `momentum` (default 0.99) weighting the **old**
#   value: `running = momentum * running + (1 - momentum) * batch_statistic` (beware: PyTorch's
#   `momentum=0.1` weights the new value, and PyTorch uses the unbiased variance for its running estimate);
# - at inference the layer uses the running statistics and updates nothing, so the output of an image
#   no longer depends on which other images share its batch.
#
# Write `batchnorm_forward`. It returns the output and the running mean and variance after the call
# (the new ones in training, the unchanged ones at inference). Do not modify the arrays you are given.

# %% nbgrader={"grade": false, "grade_id": "batchnorm_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def batchnorm_forward(x, gamma, beta, running_mean, running_var, training: bool,
                      momentum: float = 0.99, epsilon: float = 1e-3):
    """Batch normalisation over all axes but the last, as keras.layers.BatchNormalization.

    Returns (out, new_running_mean, new_running_var).
    """
    ### BEGIN SOLUTION
    axes = tuple(range(x.ndim - 1))
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        new_mean = momentum * running_mean + (1 - momentum) * mean
        new_var = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean.copy(), running_var.copy()
    out = gamma * (x - mean) / np.sqrt(var + epsilon) + beta
    return out, new_mean, new_var
    ### END SOLUTION


# %% [markdown]
# The read-only cell below checks your function against Keras' `BatchNormalization` (in float64, so that
# the comparison can be tight), on test inputs whose channels have very different scales; the reference,
# the inputs and the outputs of typical mistakes come from `course/references.py`.

# %% nbgrader={"grade": false, "grade_id": "keras_batchnorm", "locked": true, "schema_version": 3, "solution": false, "task": false}
from course.references import batchnorm_case, batchnorm_mistakes, keras_batchnorm


def check_batchnorm(shape, training, momentum, epsilon, seed):
    """Your batchnorm_forward against Keras: output and running statistics."""
    x, gamma, beta, running_mean, running_var = batchnorm_case(shape, seed)
    layer = keras_batchnorm(shape, gamma, beta, running_mean, running_var, momentum, epsilon)
    expected = layer(x, training=training).numpy()
    what = f"batchnorm_forward(x of shape {shape}, training={training}, momentum={momentum}, epsilon={epsilon})"
    given = [a.copy() for a in (x, gamma, beta, running_mean, running_var)]
    result = batchnorm_forward(*given, training=training, momentum=momentum, epsilon=epsilon)
    expect_true(isinstance(result, tuple) and len(result) == 3, what,
                f"expected a tuple (out, new_running_mean, new_running_var), got {type(result).__name__}",
                hint="return out, new_running_mean, new_running_var", quiet=True)
    out, new_mean, new_var = result
    wrong = batchnorm_mistakes(x, gamma, beta, running_mean, running_var, momentum, epsilon, training)
    expect_close(out, expected, f"{what}: output", rtol=1e-7, atol=1e-9, mistakes=wrong["out"],
                 hint="per channel: gamma * (x - mean) / sqrt(var + epsilon) + beta, statistics over all axes but the last")
    expect_close(new_mean, layer.moving_mean.numpy(), f"{what}: new running mean", rtol=1e-9, atol=1e-12,
                 mistakes=wrong["mean"], hint="running = momentum * running + (1 - momentum) * batch mean (training only)")
    expect_close(new_var, layer.moving_variance.numpy(), f"{what}: new running variance", rtol=1e-9, atol=1e-12,
                 mistakes=wrong["var"], hint="running = momentum * running + (1 - momentum) * batch variance (biased)")
    for name, before, after in zip(("x", "gamma", "beta", "running_mean", "running_var"),
                                   (x, gamma, beta, running_mean, running_var), given):
        expect_true(np.array_equal(before, after), what, f"your function modified its argument {name!r} in place",
                    hint="compute new arrays (running_mean * momentum + ...) instead of using +=, *= or [...] =",
                    quiet=True)


# %% nbgrader={"grade": true, "grade_id": "test_batchnorm_train", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check_batchnorm((8, 5), training=True, momentum=0.9, epsilon=1e-3, seed=0)
check_batchnorm((16, 3), training=True, momentum=0.99, epsilon=1e-3, seed=1)
# A property, independent of Keras: in training, each channel of the output has mean beta and std about gamma.
x, gamma, beta, running_mean, running_var = batchnorm_case((200, 4), seed=2)
out, _, _ = batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True)
expect_close(out.mean(axis=0), beta, "training output: per-channel mean equals beta", atol=1e-9,
             hint="subtract the mean of the BATCH, per channel (axis 0 for a 2-D input)")
expect_close(out.std(axis=0), gamma * x.std(axis=0) / np.sqrt(x.var(axis=0) + 1e-3), "training output: per-channel std",
             rtol=1e-7, hint="divide by sqrt(batch variance + epsilon), per channel, then multiply by gamma")
print("\u2714 batch norm in training matches keras.layers.BatchNormalization (output and running statistics)")
### BEGIN HIDDEN TESTS
check_batchnorm((4, 5, 6, 3), training=True, momentum=0.99, epsilon=1e-3, seed=hidden_seed(3))
check_batchnorm((2, 7), training=True, momentum=0.8, epsilon=1e-5, seed=hidden_seed(4))
check_batchnorm((3, 2, 2, 4), training=True, momentum=0.5, epsilon=1e-2, seed=hidden_seed(5))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_batchnorm_inference", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check_batchnorm((8, 5), training=False, momentum=0.9, epsilon=1e-3, seed=10)
check_batchnorm((1, 6), training=False, momentum=0.99, epsilon=1e-3, seed=11)  # one example at a time
print("\u2714 batch norm at inference matches keras.layers.BatchNormalization(training=False)")
### BEGIN HIDDEN TESTS
check_batchnorm((5, 4, 4, 3), training=False, momentum=0.99, epsilon=1e-5, seed=hidden_seed(12))
check_batchnorm((1, 3, 3, 2), training=False, momentum=0.9, epsilon=1e-3, seed=hidden_seed(13))
### END HIDDEN TESTS

# %% [markdown]
# ### What batch norm does to real activations
#
# Below: a convolutional layer with random weights and a ReLU applied to Fashion-MNIST images, each of
# its 4 channels averaged over the image — the 4 features a dense layer would receive. They come out
# with very different means and spreads (left); batch norm in training mode puts each one at mean
# β = 0 and standard deviation γ = 1 (middle). On the right, running statistics estimated from a stream
# of mini-batches of 32: with momentum 0.9 they follow the data within a few dozen steps, with Keras'
# default 0.99 they need hundreds — one reason a batch-normalised network can evaluate poorly early in
# training, although its training loss looks fine.

# %% nbgrader={"grade": false, "grade_id": "given_20", "locked": true, "schema_version": 3, "solution": false, "task": false}
count = min(profile.train_size or len(train_images), 2000)
images = train_images[:count, :, :, None].astype(np.float32) / 255
random_conv = keras.layers.Conv2D(4, 5, activation="relu", dtype="float32",
                                  kernel_initializer=keras.initializers.RandomNormal(0.0, 0.3, seed=0),
                                  bias_initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=1))
features = random_conv(images).numpy().astype(np.float64).mean(axis=(1, 2))  # (images, 4 channels)
channels = features.shape[-1]
ones, zeros = np.ones(channels), np.zeros(channels)
normalised, _, _ = batchnorm_forward(features, ones, zeros, zeros, ones, training=True)

batch, steps = 32, count // 32
history = {}
for momentum in (0.9, 0.99):
    running_mean, running_var, trace = zeros.copy(), ones.copy(), []
    for step in range(steps):
        _, running_mean, running_var = batchnorm_forward(features[step * batch:(step + 1) * batch], ones, zeros,
                                                         running_mean, running_var, training=True, momentum=momentum)
        trace.append(running_mean[0])
    history[momentum] = trace

fig, axes = plt.subplots(1, 3, figsize=(13, 3))
for c in range(channels):
    axes[0].hist(features[:, c], bins=40, histtype="step", label=f"channel {c}")
    axes[1].hist(normalised[:, c], bins=40, histtype="step")
axes[0].set_title("random conv + ReLU, averaged per image")
axes[1].set_title("after batch norm (training mode)")
axes[0].legend(fontsize=7)
for momentum, trace in history.items():
    axes[2].plot(trace, label=f"momentum {momentum}")
axes[2].axhline(features[:, 0].mean(), ls="--", color="gray", label="mean over all images")
axes[2].set_xlabel("mini-batches of 32")
axes[2].set_title("running mean of channel 0")
axes[2].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# Why inference needs running statistics: classify **one** image on its own. With the statistics of its
# own "batch" of one, x - μ = 0 for every feature and the layer outputs β whatever the image; with the
# running statistics (here the statistics of all the images, which a running average with momentum 0
# would hold) its features keep their information.

# %%
_, mean_all, var_all = batchnorm_forward(features, ones, zeros, zeros, ones, training=True, momentum=0.0)
for index in (0, 1):
    one_image = features[index:index + 1]
    with_own_stats, _, _ = batchnorm_forward(one_image, ones, zeros, zeros, ones, training=True)
    with_running, _, _ = batchnorm_forward(one_image, ones, zeros, mean_all, var_all, training=False)
    print(f"image {index} ({data.CLASS_NAMES[train_labels[index]]:>11}): features {np.round(one_image[0], 3)}"
          f" -> own batch statistics {np.round(with_own_stats[0], 3)}, running statistics {np.round(with_running[0], 3)}")


# %% [markdown]
# ### Batch norm backward
#
# In training, μ and σ² depend on every input of the batch, so the gradient with respect to one input
# has three paths: directly through x̂, through the mean, and through the variance. Working it out
# (per channel, over the m values that share the statistics) gives
#
# $$\frac{\partial L}{\partial \beta} = \sum \frac{\partial L}{\partial y}, \qquad
#   \frac{\partial L}{\partial \gamma} = \sum \frac{\partial L}{\partial y}\,\hat x, \qquad
#   \frac{\partial L}{\partial x} = \frac{\gamma}{\sqrt{\sigma^2 + \varepsilon}}
#   \left(\frac{\partial L}{\partial y} - \operatorname{mean}\frac{\partial L}{\partial y}
#         - \hat x \operatorname{mean}\Big(\frac{\partial L}{\partial y}\,\hat x\Big)\right).$$
#
# Derive it yourself (the chain rule through x̂ = (x - μ)/σ, with μ and σ² functions of x), or backprop
# step by step through the computation graph. Write `batchnorm_backward` for training mode: given the
# upstream gradient `dout` (same shape as `x`), the input `x`, `gamma` and `epsilon`, return
# `(dx, dgamma, dbeta)`. Statistics, sums and means run over all axes but the last, as in the forward pass.

# %% nbgrader={"grade": false, "grade_id": "batchnorm_backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def batchnorm_backward(dout, x, gamma, epsilon: float = 1e-3):
    """Gradients of batch norm in training mode: returns (dx, dgamma, dbeta)."""
    ### BEGIN SOLUTION
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    inv_std = 1 / np.sqrt(var + epsilon)
    x_hat = (x - mean) * inv_std
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx = gamma * inv_std * (dout - dout.mean(axis=axes) - x_hat * (dout * x_hat).mean(axis=axes))
    return dx, dgamma, dbeta
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_batchnorm_backward", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
def tape_gradients(dout, x, gamma, epsilon):
    """The oracle: TensorFlow differentiates Keras' BatchNormalization in training mode."""
    channels = x.shape[-1]
    layer = keras_batchnorm(x.shape, gamma, np.zeros(channels), np.zeros(channels), np.ones(channels), 0.99, epsilon)
    x_var = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x_var, training=True) * dout)
    return [g.numpy() for g in tape.gradient(loss, [x_var, layer.gamma, layer.beta])]


def backward_mistakes(dout, x, gamma, epsilon):
    axes = tuple(range(x.ndim - 1))
    inv_std = 1 / np.sqrt(x.var(axis=axes) + epsilon)
    x_hat = (x - x.mean(axis=axes)) * inv_std
    g = gamma * inv_std
    return {"dx": {"dx through x_hat only (the mean and variance also depend on x)": g * dout,
                   "dx missing the variance term": g * (dout - dout.mean(axis=axes)),
                   "dx missing the mean term": g * (dout - x_hat * (dout * x_hat).mean(axis=axes))},
            "dgamma": {"dgamma = sum(dout): the x_hat factor is missing": dout.sum(axis=axes)},
            "dbeta": {"dbeta averaged instead of summed": dout.mean(axis=axes)}}


def check_backward(shape, epsilon, seed, oracle):
    rng = np.random.default_rng(seed)
    x, gamma, _, _, _ = batchnorm_case(shape, seed)
    dout = rng.normal(size=shape)
    expected = oracle(dout, x, gamma, epsilon)
    what = f"batchnorm_backward(dout, x of shape {shape}, gamma, epsilon={epsilon})"
    result = batchnorm_backward(dout.copy(), x.copy(), gamma.copy(), epsilon)
    expect_true(isinstance(result, tuple) and len(result) == 3, what,
                f"expected a tuple (dx, dgamma, dbeta), got {type(result).__name__}", quiet=True)
    wrong = backward_mistakes(dout, x, gamma, epsilon)
    for name, value, reference in zip(("dx", "dgamma", "dbeta"), result, expected):
        expect_close(value, reference, f"{what}: {name}", rtol=1e-6, atol=1e-8, mistakes=wrong[name],
                     hint="sum over all axes but the last; dx has three paths: x_hat, the mean and the variance")


def numerical_gradients(dout, x, gamma, epsilon):
    """A second, independent oracle: centred differences of a plain NumPy forward pass."""
    axes = tuple(range(x.ndim - 1))

    def forward(x, gamma, beta):
        return gamma * (x - x.mean(axis=axes)) / np.sqrt(x.var(axis=axes) + epsilon) + beta

    beta = np.zeros_like(gamma)
    return [numerical_gradient(lambda v: np.sum(forward(v, gamma, beta) * dout), x),
            numerical_gradient(lambda v: np.sum(forward(x, v, beta) * dout), gamma),
            numerical_gradient(lambda v: np.sum(forward(x, gamma, v) * dout), beta)]


check_backward((8, 4), epsilon=1e-3, seed=0, oracle=tape_gradients)
check_backward((5, 3), epsilon=1e-3, seed=1, oracle=numerical_gradients)
print("\u2714 batch norm backward matches tf.GradientTape and numerical gradients")
### BEGIN HIDDEN TESTS
check_backward((3, 4, 4, 2), epsilon=1e-3, seed=hidden_seed(2), oracle=tape_gradients)
check_backward((2, 3, 3, 2), epsilon=1e-5, seed=hidden_seed(3), oracle=numerical_gradients)
check_backward((2, 6), epsilon=1e-2, seed=hidden_seed(4), oracle=tape_gradients)
### END HIDDEN TESTS

# %% [markdown]
# ## Written questions
#
# **Q1 (3 points).** Why must dropout's activations be rescaled, by 1/p during training or by p at test
# time? Use the lecture's two-input neuron and your numbers above. What would go wrong at test time
# without the rescaling, and why does inverted dropout leave inference untouched?

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_rescaling", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# Model answer. With each input kept with probability p, a unit's pre-activation during training is on
# average p times what it is when nothing is dropped: for the two-input neuron with p = ½ the four equally
# likely masks give E[a] = ½(w₁x + w₂y) (1.25 against 2.5 in the sampled example). The next layers are
# trained on inputs of that size. At test time nothing is dropped, so without rescaling every unit would
# receive inputs 1/p times larger than anything seen in training (2x for p = ½, compounding through layers
# and saturating or shifting the non-linearities), and predictions degrade. Rescaling makes training and
# test activations agree in expectation: either multiply by p at test time, or divide the kept units by p
# during training (inverted dropout), so that E[x · m / p] = x already during training; then the trained
# network is used at test time as is, without any extra operation.
# ### END SOLUTION

# %% [markdown]
# **Q2 (2 points).** Why does batch normalisation use running statistics at inference instead of the
# statistics of the test batch? Use the single-image example above.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_running_stats", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# Model answer. With batch statistics the output for one image would depend on the other images in its
# batch, so the same image could get different predictions, and predictions would change with the batch
# size. In the extreme case of a batch of one (as in the example above), x - μ = 0 for every feature and
# every output becomes β: the input is erased, all images look the same. The running averages, accumulated during training with momentum,
# estimate the statistics of the whole training distribution, so inference is a fixed, deterministic
# affine map per channel, the same for any batch composition or size.
# ### END SOLUTION
