# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # 1. Convolution: a dot product that slides
#
# *Lecture: "Convolutional layer anatomy" and "Convolutional layer example" (the
# 7x7x3 volume with two 3x3x3 filters), "Convolution Layer: 32x32x3 image, 5x5x3
# filter", "Simple Kernels / Filters", and "Efficient implementation of
# convolutions" (im2col).*
#
# A convolutional layer places a small filter at every position of the input,
# multiplies the overlapping numbers, adds them up with a bias, and writes one
# number into the output. In this notebook we
#
# 1. recompute the lecture's worked example and watch the window slide (stride and padding are knobs),
# 2. check that the "lower to a matrix multiply" trick (im2col) gives the same numbers, and how much faster it is,
# 3. run the classic hand-made kernels over real photos, and type our own.

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

import ipywidgets as widgets
import numpy as np
import pandas as pd
import tensorflow as tf

from course import arith, data
from course.demos import conv_stepper, fitted_size
from course.plots import image_panel, number_grid
from course.timing import best_time
from course.widgets import LiveFigure, parse_kernel

# %% [markdown]
# ## 1.1 The worked example from the slides
#
# The input is a 5x5 image with 3 channels (the slide shows it already padded
# by one pixel of zeros, 7x7x3). Two filters W0 and W1, each 3x3x3, with biases
# b0 = 1 and b1 = 0, slide with stride 2. These are the numbers printed on the slide.

# %%
X = np.stack([  # input x[:, :, c] without its padding: 5 x 5 x 3
    [[0, 1, 2, 2, 2], [2, 0, 1, 0, 2], [0, 0, 1, 1, 2], [1, 0, 2, 2, 0], [2, 1, 2, 1, 0]],
    [[0, 1, 0, 2, 2], [0, 1, 0, 2, 0], [2, 1, 1, 2, 0], [1, 0, 0, 0, 0], [0, 2, 1, 0, 0]],
    [[0, 1, 2, 1, 2], [2, 0, 1, 0, 1], [1, 1, 2, 1, 0], [1, 0, 2, 1, 0], [2, 0, 0, 2, 2]],
], axis=-1).astype(np.float32)
W = np.stack([  # W[..., c, k]: filter k, input channel c
    np.stack([[[0, 0, 1], [1, -1, -1], [1, 1, 0]],      # w0[:, :, 0]
              [[0, 1, 1], [0, 1, 0], [0, 0, 0]],        # w0[:, :, 1]
              [[1, 0, -1], [0, 1, 1], [-1, 1, 0]]], -1),  # w0[:, :, 2]
    np.stack([[[-1, 1, 0], [1, 1, -1], [0, -1, -1]],    # w1[:, :, 0]
              [[1, 1, -1], [1, 1, 1], [0, -1, 1]],      # w1[:, :, 1]
              [[1, 1, -1], [0, 0, 1], [-1, 1, -1]]], -1),  # w1[:, :, 2]
], axis=-1).astype(np.float32)
B = np.array([1, 0], dtype=np.float32)
print("input", X.shape, " filters", W.shape, " biases", B)

# %% [markdown]
# TensorFlow computes the whole output volume in one call. Padding is given
# explicitly (one pixel on each side of height and width), as on the slide.


# %%
def tf_conv(x, w, b, stride, pad):
    """The demo computation: tf.nn.conv2d (a correlation, like every deep-learning library)."""
    out = tf.nn.conv2d(x[None], w, strides=stride, padding=[[0, 0], [pad, pad], [pad, pad], [0, 0]])
    return (out[0] + b).numpy()


def window_dot(x, w, b, stride, pad, i, j, k):
    """One output number by hand: the 27 products under the window, summed, plus the bias."""
    padded = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    f = w.shape[0]
    patch = padded[i * stride:i * stride + f, j * stride:j * stride + f, :]
    return float(np.sum(patch * w[..., k]) + b[k])


O = tf_conv(X, W, B, stride=2, pad=1)
by_hand = np.array([[[window_dot(X, W, B, 2, 1, i, j, k) for k in range(2)] for j in range(3)]
                    for i in range(3)])
print("output volume:", O.shape, "(the slide says 3x3x2; the formula says",
      arith.conv_output_size(5, 3, stride=2, padding=1), ")")
print("o[:, :, 0] =\n", O[..., 0], "\no[:, :, 1] =\n", O[..., 1])
print("largest difference TensorFlow vs. 27 products by hand:", np.abs(O - by_hand).max())

# %% [markdown]
# The slide also prints an output volume. Does it follow from the inputs printed
# beside it? (The animation the slide was captured from draws new random numbers
# on every page load, so a screenshot can mix frames.)

# %%
slide_output = np.stack([[[np.nan, -1, 4], [4, 1, 1], [-3, 3, 1]],  # '?' where the slide shows none
                         [[2, 6, 6], [6, 2, 8], [6, 10, -2]]], -1)
agree = np.isclose(slide_output, O)
print(f"{agree.sum()} of {np.isfinite(slide_output).sum()} printed output numbers agree with the "
      "computation from the printed inputs")
print("recomputed o[:, :, 0] =", O[..., 0].astype(int).tolist(), " slide:", slide_output[..., 0].tolist())

# %% [markdown]
# **Lesson:** recompute, don't copy. Every number in these demos comes from running the code.
#
# ## 1.2 Watch the window slide
#
# Press ▶ to animate. Each step computes one output number: the window (red
# frame) covers 3x3 pixels in all three channels, those 27 numbers are
# multiplied by the filter's 27 weights, summed, and the bias is added. Change
# the stride and the padding: with stride 3 and padding 0 the filter **does not
# fit** — (5 - 3 + 0)/3 + 1 is not a whole number.

# %%
conv_stepper(X, W, B, tf_conv, stride=2, pad=1, first_step=4)  # the centre of o[:, :, 0]: not a corner

# %% [markdown]
# **Question for the class:** with stride 1 and padding 1 the output is 5x5,
# the size of the input. Which padding keeps the size for a 5x5 filter? For an FxF filter?
#
# ## 1.3 Output sizes for all strides and paddings at once
#
# The same formula, (N - F + 2P)/S + 1, for the whole grid of settings; "does not fit" marks the ones where
# (N - F + 2P)/S + 1 is not a whole number.

# %%
rows = []
for s in (1, 2, 3):
    for p in (0, 1, 2):
        size, warning = fitted_size(5, 3, s, p)
        rows.append({"stride": s, "padding": p, "output": f"{size}x{size}" if warning is None else "does not fit"})
sizes = pd.DataFrame(rows).pivot(index="stride", columns="padding", values="output")
sizes

# %% [markdown]
# ## 1.4 im2col: convolution as one matrix multiply
#
# Copy every 3x3x3 window into a column (27 numbers), stack the filters as
# rows, and one matrix product gives every output at once. It repeats input
# numbers (each pixel lands in several columns) in exchange for using the
# fastest routine a computer has.


# %%
def im2col(x, f, stride, pad):
    """Every f x f x C window as one column, without a Python loop (NumPy's sliding windows)."""
    padded = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (f, f), axis=(0, 1))[::stride, ::stride]
    n_out = windows.shape[0]  # windows: (n_out, n_out, C, f, f) -> rows ordered like W's (f, f, C)
    return windows.transpose(0, 1, 3, 4, 2).reshape(n_out * n_out, -1).T, n_out


cols, n_out = im2col(X, 3, stride=2, pad=1)
weights = W.reshape(-1, 2).T  # 2 filters x 27
O_mm = (weights @ cols + B[:, None]).T.reshape(n_out, n_out, 2)
print("columns matrix:", cols.shape, " filter matrix:", weights.shape,
      " largest difference from TensorFlow:", np.abs(O_mm - O).max())

# %% [markdown]
# How much faster is it? One real photo (128x128 RGB) and 16 random 3x3x3
# filters, three ways. The loop visits the positions one by one, as in the
# animation; im2col builds all windows at once and makes one matrix multiply;
# TensorFlow uses an optimised library (oneDNN on this CPU).

# %%
photo_x = data.photo("chelsea", size=128)[:128, :128].astype(np.float32) / 255
filters = np.random.default_rng(0).normal(size=(3, 3, 3, 16)).astype(np.float32)
zero_bias = np.zeros(16, np.float32)


def by_loop(x, w):
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    n = x.shape[0]
    out = np.empty((n, n, w.shape[-1]), np.float32)
    flat_w = w.reshape(-1, w.shape[-1])
    for i in range(n):
        for j in range(n):
            out[i, j] = padded[i:i + 3, j:j + 3].ravel() @ flat_w
    return out


def by_im2col(x, w):
    cols, n = im2col(x, 3, 1, 1)
    return (w.reshape(-1, w.shape[-1]).T @ cols).T.reshape(n, n, -1)


methods = {"loop over positions": lambda: by_loop(photo_x, filters),
           "im2col + matrix multiply": lambda: by_im2col(photo_x, filters),
           "tf.nn.conv2d": lambda: tf_conv(photo_x, filters, zero_bias, 1, 1)}
timings = {name: best_time(fn) for name, fn in methods.items()}
reference = timings["tf.nn.conv2d"][1]
speed = pd.DataFrame({name: {"milliseconds": 1e3 * t,
                             "max |difference| vs TF": float(np.abs(out - reference).max())}
                      for name, (t, out) in timings.items()}).T
speed["times faster than the loop"] = speed["milliseconds"].iloc[0] / speed["milliseconds"]
speed.round(3)

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 2.2))
ax.barh(speed.index, speed["milliseconds"], color=["tab:gray", "tab:blue", "tab:orange"])
ax.set_xscale("log")
ax.set_xlabel("milliseconds (log scale), 128x128x3 photo, 16 filters")
ax.invert_yaxis()
plt.show()

# %% [markdown]
# ## 1.5 The classic kernels on real photos
#
# The kernels from the slide "Simple Kernels / Filters". All of them go into
# **one** `tf.nn.conv2d` call as the 7 output channels of a single layer: a
# convolutional layer is exactly a bank of such filters, except that it learns
# the numbers instead of being told.

# %%
KERNELS = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "edges (diagonal)": [[1, 0, -1], [0, 0, 0], [-1, 0, 1]],
    "edges (Laplacian)": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "edges (strong)": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "box blur": np.ones((3, 3)) / 9,
    "Gaussian blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
}
bank = np.stack([np.asarray(k, np.float32) for k in KERNELS.values()], axis=-1)[:, :, None, :]  # 3x3x1x7


def apply_bank(gray_image, kernels):
    """Grayscale uint8 image (H, W) and kernels (f, f, 1, K) -> responses (H, W, K), 'same' size."""
    x = tf.constant(gray_image[None, :, :, None], tf.float32)
    return tf.nn.conv2d(x, kernels, strides=1, padding="SAME")[0].numpy()


def for_display(response, mode):
    if mode == "clip to 0..255 (an image editor)":
        return np.clip(response, 0, 255)
    magnitude = np.abs(response)  # rescaled so that the brightest 1% of pixels saturate
    return np.clip(255 * magnitude / max(np.percentile(magnitude, 99), 1e-6), 0, 255)


photo_control = widgets.Dropdown(options=data.photo_names(), value="camera", description="photo")
mode_control = widgets.Dropdown(options=["|response| rescaled", "clip to 0..255 (an image editor)"],
                                value="|response| rescaled", description="display", style={"description_width": "initial"})


def draw_gallery(fig, name, mode):
    image = data.photo(name, size=256, gray=True)
    responses = apply_bank(image, bank)
    axes = fig.subplots(2, 4).ravel()
    image_panel(axes[0], image, f"{name} (original)")
    for ax, title, response in zip(axes[1:], KERNELS, np.moveaxis(responses, -1, 0)):
        image_panel(ax, for_display(response, mode), title)


LiveFigure(draw_gallery, {"name": photo_control, "mode": mode_control}, figsize=(12, 6.5))

# %% [markdown]
# The pictures make claims we can measure. The identity kernel returns the
# photo unchanged; the edge kernels' weights **sum to zero**, so on flat regions
# they answer 0; the blurs' weights sum to one, so they keep the average
# brightness but lower the contrast (the standard deviation); sharpening raises it.

# %%
image = data.photo("camera", size=256, gray=True)
responses = apply_bank(image, bank)
inner = (slice(1, -1), slice(1, -1))  # leave out the zero-padded border
claims = pd.DataFrame({
    "sum of weights": bank[:, :, 0, :].sum(axis=(0, 1)),
    "mean output": responses[inner].mean(axis=(0, 1)),
    "std of output": responses[inner].std(axis=(0, 1)),
    "max |output - input|": np.abs(responses[inner] - image[inner][..., None]).max(axis=(0, 1)),
}, index=list(KERNELS)).astype(float).round(2)
print(f"the photo itself: mean {image[inner].mean():.2f}, std {image[inner].std():.2f}")
claims

# %% [markdown]
# **Question for the class:** what does a kernel whose weights sum to 2 do to
# the brightness? Type one below and check.
#
# ## 1.6 Your own kernel
#
# Type rows of numbers (one row per line, or separated by `;`; fractions like
# `1/9` work). The Sobel kernel below finds vertical edges; try `-2 -1 0; -1 1 1; 0 1 2` (emboss).

# %%
kernel_text = widgets.Textarea(value="1 0 -1\n2 0 -2\n1 0 -1", description="kernel",
                               continuous_update=False, layout=widgets.Layout(width="260px", height="90px"))
own_photo = widgets.Dropdown(options=data.photo_names(), value="coins", description="photo")


def draw_own(fig, text, name):
    image = data.photo(name, size=256, gray=True)
    try:
        kernel = parse_kernel(text)
    except ValueError as problem:
        fig.text(0.5, 0.5, "no kernel yet", ha="center")
        return f"<b>Cannot use this kernel:</b> {problem}"
    response = apply_bank(image, kernel[:, :, None, None])[..., 0]
    ax_in, ax_k, ax_out = fig.subplots(1, 3, gridspec_kw={"width_ratios": [3, 1.4, 3]})
    image_panel(ax_in, image, name)
    number_grid(ax_k, kernel, f"your {kernel.shape[0]}x{kernel.shape[1]} kernel", cmap="RdBu", fmt="{:.3g}")
    image_panel(ax_out, for_display(response, "|response| rescaled"),
                f"|response|: weights sum to {kernel.sum():.3g}, mean output {response.mean():.1f} "
                f"(input {image.mean():.1f})")
    return None


LiveFigure(draw_own, {"text": kernel_text, "name": own_photo}, figsize=(12, 4))

# %% [markdown]
# **Take-away.** A convolution is a dot product at every position; stride and
# padding decide where the positions are (and whether they fit); one matrix
# multiply computes them all; and the filters that a network learns in its first
# layer look a lot like the hand-made ones above (notebook 7 shows them).
