# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # 5. Dropout and batch normalization: training is not inference
#
# *Lecture: "Clarification: Dropout" (keep each neuron with probability p,
# p = 0.5 is common), "Clarification: Dropout During Test Time" (the single
# neuron a = w1·x + w2·y and its expectation), and "Batch Normalization after
# every CONV layer" (ResNet's recipe).*
#
# Both layers behave differently while training and while predicting. Dropout
# because it is random during training; batch normalization because it uses
# the statistics of the current batch during training and running averages
# afterwards. This notebook measures both behaviours.

# %%
try:
    from course.runtime import start
except ModuleNotFoundError:  # a kernel whose Python lacks the course package
    raise ModuleNotFoundError(
        "This kernel's Python does not have the course package: choose Kernel > Change Kernel > "
        "'CNN course (.venv)' (bash scripts/setup.sh in the course folder adds it), "
        "or install the package into this Python with: pip install -e COURSE_FOLDER"
    ) from None

profile = start()

# %%
import itertools

import ipywidgets as widgets
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course.widgets import LiveFigure

rng = np.random.default_rng(0)

# %% [markdown]
# ## 5.1 The expectation argument, on the slide's neuron
#
# One neuron with two inputs, a = w1·x + w2·y. During training, dropout keeps
# each input with probability p (here p = 0.5, as on the slide). Four masks
# are possible, each with probability 1/4:

# %%
w1, w2, x, y = 2.0, 3.0, 1.0, 1.0
p = 0.5
at_test = w1 * x + w2 * y
masks = pd.DataFrame([{"keep x": kx, "keep y": ky,
                       "probability": (p if kx else 1 - p) * (p if ky else 1 - p),
                       "a = w1·x·keep_x + w2·y·keep_y": w1 * x * kx + w2 * y * ky}
                      for kx, ky in itertools.product([1, 0], repeat=2)])
expected = float((masks["probability"] * masks["a = w1·x·keep_x + w2·y·keep_y"]).sum())
print(f"test time (no dropout): a = {at_test}")
print(f"training, expectation over the 4 masks: E[a] = {expected} = p * {at_test}")
masks

# %% [markdown]
# So during training the neuron's output is, on average, only p times what it
# will be at test time: the next layer would see bigger numbers at test time than it
# was trained on. Two fixes: multiply by p at test time (the original paper), or
# divide by p during training (**inverted dropout**, what Keras and PyTorch
# do), so that test time needs no change.
#
# Does sampling agree? Move p and the number of samples; the running averages
# should settle on p·a (no rescaling) and on a (inverted dropout).


# %%
def sample_neuron(keep, samples, seed=0):
    """Outputs of the neuron under `samples` random dropout masks: plain and inverted."""
    kept = np.random.default_rng(seed).random((samples, 2)) < keep
    plain = w1 * x * kept[:, 0] + w2 * y * kept[:, 1]
    return plain, plain / keep


def draw_expectation(fig, keep, samples):
    plain, inverted = sample_neuron(keep, samples)
    n = np.arange(1, samples + 1)
    ax_run, ax_hist = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    ax_run.plot(n, np.cumsum(plain) / n, label=f"plain dropout: mean {plain.mean():.3f}")
    ax_run.plot(n, np.cumsum(inverted) / n, label=f"inverted (÷p): mean {inverted.mean():.3f}")
    ax_run.axhline(keep * at_test, color="tab:blue", ls=":", label=f"p·a = {keep * at_test:.3f}")
    ax_run.axhline(at_test, color="tab:orange", ls=":", label=f"a at test time = {at_test:g}")
    ax_run.set_xscale("log")
    ax_run.set_xlabel("masks sampled")
    ax_run.set_ylabel("running mean of the output")
    ax_run.legend(fontsize=8)
    ax_run.grid(alpha=0.3)
    values, counts = np.unique(plain, return_counts=True)
    ax_hist.bar([f"{v:g}" for v in values], counts / samples, color="tab:blue")
    ax_hist.set_xlabel("output a during training (plain)")
    ax_hist.set_ylabel("fraction of samples")
    fig.suptitle(f"keep probability p = {keep:.2f}")


LiveFigure(draw_expectation, {
    "keep": widgets.FloatSlider(value=0.5, min=0.05, max=1.0, step=0.05, description="keep p",
                                continuous_update=False),
    "samples": widgets.IntSlider(value=10_000, min=10, max=100_000, step=10, description="samples",
                                 continuous_update=False),
}, figsize=(11, 3.6))

# %%
rows = []
for keep in (0.2, 0.5, 0.8):
    plain, inverted = sample_neuron(keep, 200_000, seed=1)
    error = plain.std() / np.sqrt(len(plain))
    rows.append({"keep p": keep, "p·a (theory)": keep * at_test, "sampled mean, plain": plain.mean(),
                 "± std. error": error, "sampled mean, inverted": inverted.mean(), "a at test time": at_test})
pd.DataFrame(rows).round(4)

# %% [markdown]
# **Question for the class:** the slide writes "at test time, multiply by
# (1 - p)" while calling p the *keep* probability two slides earlier. Which
# probability is meant? (Keras' `Dropout(rate)` takes the *drop* probability.)
#
# ## 5.2 Keras' `Dropout`, measured
#
# `Dropout(rate=0.5)` applied to a million ones. In training mode about half
# become 0 and the survivors become 1/(1 - rate) = 2, so the mean stays 1; in
# inference mode (the default of `model.predict`) the layer does nothing.

# %%
ones = np.ones((1, 1_000_000), np.float32)
rows = []
for rate in (0.2, 0.5, 0.8):
    layer = keras.layers.Dropout(rate, seed=0)
    for training in (True, False):
        out = np.asarray(layer(ones, training=training))
        rows.append({"rate (drop prob.)": rate, "training": training,
                     "fraction zeroed": float((out == 0).mean()),
                     "value of survivors": float(out[out != 0].mean()),
                     "1/(1 - rate)": 1 / (1 - rate), "mean output": float(out.mean())})
pd.DataFrame(rows).round(4)

# %% [markdown]
# In a model: the same input twice in training mode gives two different
# answers, in inference mode the same answer, and the averages agree.

# %%
inputs = keras.Input((64,))
hidden = keras.layers.Dropout(0.5, seed=1)(keras.layers.Dense(256, activation="relu")(inputs))
net = keras.Model(inputs, keras.layers.Dense(10)(hidden))
batch = rng.normal(size=(512, 64)).astype(np.float32)
train_a, train_b = np.asarray(net(batch, training=True)), np.asarray(net(batch, training=True))
infer_a, infer_b = np.asarray(net(batch, training=False)), np.asarray(net(batch, training=False))
samples = np.stack([np.asarray(net(batch, training=True)) for _ in range(200)])
print(f"training mode, two calls:  max difference {np.abs(train_a - train_b).max():.3f}")
print(f"inference mode, two calls: max difference {np.abs(infer_a - infer_b).max():.3f}")
print(f"mean output over 200 training-mode calls vs. inference: max difference "
      f"{np.abs(samples.mean(0) - infer_a).max():.3f} (outputs range over {np.ptp(infer_a):.1f})")

# %% [markdown]
# ## 5.3 Batch normalization: batch statistics while training, running averages after
#
# In training mode `BatchNormalization` standardises each channel with the
# mean and variance **of the current batch**, then scales by γ and shifts by β
# (initially 1 and 0). It also keeps running averages (`momentum=0.99`) that are
# used in inference mode. A freshly created layer's running averages are 0 and
# 1, so on data with mean 5 and standard deviation 3:

# %%
data = rng.normal(loc=5.0, scale=3.0, size=(256, 8)).astype(np.float32)
bn = keras.layers.BatchNormalization()
trained_mode = np.asarray(bn(data, training=True))
inference_mode = np.asarray(bn(data, training=False))
pd.DataFrame({"input": [data.mean(), data.std()],
              "training mode": [trained_mode.mean(), trained_mode.std()],
              "inference mode (fresh layer)": [inference_mode.mean(), inference_mode.std()]},
             index=["mean", "std"]).round(3)

# %% [markdown]
# In inference mode the fresh layer barely changes the data: its running mean
# has moved only 1% of the way to 5 after one batch. The running averages
# approach the data's statistics as 1 - momentumⁿ after n training batches.
# Try momentum 0.9 (fast, noisy) against 0.99 (Keras' default, slow, smooth).


# %%
def running_mean_curve(momentum, steps, batch_size=64, seed=0):
    gen = np.random.default_rng(seed)
    layer = keras.layers.BatchNormalization(momentum=momentum)
    means = []
    for _ in range(steps):
        layer(gen.normal(5.0, 3.0, size=(batch_size, 8)).astype(np.float32), training=True)
        means.append(float(np.mean(layer.moving_mean)))
    return np.array(means)


def draw_running(fig, momentum, steps):
    measured = running_mean_curve(momentum, steps)
    n = np.arange(1, steps + 1)
    ax = fig.subplots()
    ax.plot(n, measured, label="Keras moving_mean (average over 8 channels)")
    ax.plot(n, 5.0 * (1 - momentum ** n), "--", label="5·(1 - momentumⁿ)")
    ax.axhline(5.0, color="gray", ls=":", label="true mean 5")
    ax.set_xlabel("training batches seen")
    ax.set_ylabel("running mean")
    ax.set_title(f"momentum {momentum}: after {steps} batches the running mean is {measured[-1]:.2f}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


LiveFigure(draw_running, {
    "momentum": widgets.Dropdown(options=[0.9, 0.99, 0.999], value=0.99, description="momentum"),
    "steps": widgets.IntSlider(value=300, min=10, max=1000, step=10, description="batches",
                               continuous_update=False),
}, figsize=(8, 3.4))

# %% [markdown]
# **In training mode an example's output depends on the other examples in its
# batch**; in inference mode it does not. Same image, two different batch-mates:

# %%
example = rng.normal(5.0, 3.0, size=(1, 8)).astype(np.float32)
bn = keras.layers.BatchNormalization(momentum=0.9)
for _ in range(200):  # let the running averages settle
    bn(rng.normal(5.0, 3.0, size=(64, 8)).astype(np.float32), training=True)
rows = []
for batch_size in (2, 8, 64):
    outs = {}
    for mode in (True, False):
        answers = [np.asarray(bn(np.concatenate([example, rng.normal(5.0, 3.0, size=(batch_size - 1, 8))
                                                 .astype(np.float32)]), training=mode))[0]
                   for _ in range(20)]
        outs[mode] = np.std(answers, axis=0).mean()
    rows.append({"batch size": batch_size, "spread of the example's output, training mode": outs[True],
                 "inference mode": outs[False]})
pd.DataFrame(rows).round(4)

# %% [markdown]
# The smaller the batch, the noisier the example's output during training,
# which is one reason batch normalization struggles with tiny batches, and
# why the model must be switched to inference mode (`training=False`,
# which `predict` and `evaluate` do for you) before it is used.
#
# **Question for the class:** when fine-tuning a pretrained network with
# frozen BatchNormalization layers, Keras runs them in inference mode. Why is that
# the right choice? (Notebook 6 comes back to it.)
