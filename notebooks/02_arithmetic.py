# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # 2. Convolution arithmetic: sizes, parameters, receptive fields
#
# *Lecture: "7x7 input, 3x3 filter, stride 2 => 3x3 output; stride 3?", "Output
# size: (N - F)/stride + 1", "zero-padding the border", "Examples time: input
# volume 32x32x3, 10 5x5 filters with stride 1, pad 2" (760 parameters), VGG's
# "three 3x3 conv layers need only 27K² weights" and ResNet's bottleneck
# ("256 -> 64 -> 256: ~70K instead of ~600K").*
#
# Every number below is computed twice: by the lecture's formula (`course.arith`)
# and by Keras itself (a real layer's output shape or parameter count).

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
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf

from course import arith
from course.demos import padding_explorer
from course.widgets import LiveFigure

# %% [markdown]
# ## 2.1 Where does the filter land? The output size formula
#
# Along one axis, an input of N pixels, padded by P zeros on each side, and a
# filter of F pixels moved S pixels at a time give **(N - F + 2P)/S + 1**
# positions. When that is not a whole number, the filter **does not fit**: the
# last step would hang over the border. Keras offers two names instead of
# numbers: `"valid"` (no padding, leftover pixels are silently dropped) and
# `"same"` (pad just enough that the output is ceil(N/S)).


# %%
def keras_output_size(n, f, stride, padding):
    """The oracle: what a real Keras layer says (explicit padding = ZeroPadding2D, then 'valid')."""
    if isinstance(padding, str):
        shape = keras.layers.Conv2D(1, f, strides=stride, padding=padding).compute_output_shape((1, n, n, 1))
    else:
        shape = keras.layers.Conv2D(1, f, strides=stride).compute_output_shape((1, n + 2 * padding, n + 2 * padding, 1))
    return shape[1]


padding_explorer(keras_output_size, "Keras")  # the slide: 7x7 input, 3x3 filter, stride 2 -> 3x3 output

# %% [markdown]
# The slide's follow-up question: **and with stride 3?** Here is the same
# explorer started there. The formula refuses; Keras quietly drops the last pixel.

# %%
padding_explorer(keras_output_size, "Keras", stride=3)

# %% [markdown]
# The slides' examples in one table, formula beside Keras:

# %%
cases = [  # (N, F, S, padding, where it comes from)
    (7, 3, 1, 0, "7x7 input, 3x3 filter"), (7, 3, 2, 0, "... stride 2"), (7, 3, 3, 0, "... stride 3?"),
    (32, 5, 1, 2, "32x32x3, 5x5 filters, stride 1, pad 2"), (5, 3, 2, 1, "worked 7x7x3 example (5x5 + pad 1)"),
    (227, 11, 4, 0, "AlexNet CONV1: 227, 11x11, stride 4"), (224, 3, 1, 1, "VGG: 3x3, stride 1, pad 1"),
    (7, 3, 3, "valid", "stride 3, Keras 'valid'"), (7, 3, 3, "same", "stride 3, Keras 'same'"),
]
rows = []
for n, f, s, p, source in cases:
    try:
        by_formula = arith.conv_output_size(n, f, stride=s, padding=p)
    except ValueError:
        by_formula = "does not fit"
    rows.append({"slide": source, "N": n, "F": f, "S": s, "P": p, "formula": by_formula,
                 "Keras": keras_output_size(n, f, s, p)})
pd.DataFrame(rows)

# %% [markdown]
# **Question for the class:** which padding keeps a 32x32 input at 32x32 for a
# 5x5 filter with stride 1? For FxF? (Check: the row "pad 2" above.)
#
# ## 2.2 Parameters: the filter's size, never the image's
#
# Each filter has F·F·C_in weights plus one bias. The slide's example: ten 5x5
# filters on a 3-channel input have 10·(5·5·3 + 1) = **760** parameters,
# whatever the image size. A dense layer producing the same 32x32x10 output
# from the same 32x32x3 input would need a weight per input-output pair.

# %%
conv = keras.layers.Conv2D(10, 5, padding="same")
conv.build((None, 32, 32, 3))
dense = keras.layers.Dense(32 * 32 * 10)
dense.build((None, 32 * 32 * 3))
print(f"formula: 10 filters of 5x5x3 + bias = {arith.conv_params(5, 3, 10):,} parameters; "
      f"Keras Conv2D: {conv.count_params():,}")
print(f"a Dense layer 32*32*3 -> 32*32*10 needs {dense.count_params():,} parameters "
      f"({dense.count_params() / conv.count_params():,.0f} times more)")

# %% [markdown]
# ## 2.3 The receptive field grows through a stack
#
# One unit after a 3x3 convolution sees 3x3 input pixels. After two stacked
# 3x3 layers it sees **5x5**, after three **7x7**: each layer adds F - 1
# pixels times the product of the strides below it. We measure it instead of
# believing it: build the stack in Keras with all-ones kernels, take the
# gradient of one output unit with respect to the input, and count the pixels
# whose gradient is not zero. The colours also show that the centre pixels
# have far more paths to the unit than the border ones.


# %%
def measured_field(depth, strides):
    """Influence map of the top-left output unit on the input, from tf.GradientTape."""
    size = 96
    layers = [keras.layers.Conv2D(1, 3, strides=s, use_bias=False, kernel_initializer="ones")
              for s in strides[:depth]]
    x = tf.zeros((1, size, size, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x
        for layer in layers:
            y = layer(y)
        unit = y[0, 0, 0, 0]
    influence = tape.gradient(unit, x)[0, :, :, 0].numpy()
    seen = np.flatnonzero(influence.any(axis=0))
    return influence, int(seen.max() + 1)


def draw_field(fig, depth, stride_pattern):
    strides = [1] * 8 if stride_pattern == "all stride 1" else [1, 2] * 4
    influence, measured = measured_field(depth, strides)
    formula = arith.receptive_field([3] * depth, strides[:depth])
    ax_map, ax_curve = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    window = influence[:max(measured, 3) + 2, :max(measured, 3) + 2]
    ax_map.imshow(window, cmap="magma")
    ax_map.set_title(f"{depth} layer(s) of 3x3: the unit sees {measured}x{measured} pixels\n"
                     f"(colour: number of paths from each pixel)", fontsize=9)
    ax_map.set_xticks([])
    ax_map.set_yticks([])
    depths = np.arange(1, 9)
    for pattern, style in (([1] * 8, "o-"), ([1, 2] * 4, "s--")):
        label = "stride 1" if pattern[1] == 1 else "stride 2 every other layer"
        ax_curve.plot(depths, [arith.receptive_field([3] * d, pattern[:d]) for d in depths], style, label=label)
    ax_curve.plot([depth], [measured], "r*", markersize=16, label="measured with GradientTape")
    ax_curve.set_xlabel("3x3 layers stacked")
    ax_curve.set_ylabel("receptive field (pixels)")
    ax_curve.grid(alpha=0.3)
    ax_curve.legend(fontsize=8)
    if measured != formula:
        return f"<b>Formula {formula} and measurement {measured} disagree!</b>"
    return None


LiveFigure(draw_field, {
    "depth": widgets.IntSlider(value=3, min=1, max=8, description="layers", continuous_update=False),
    "stride_pattern": widgets.ToggleButtons(options=["all stride 1", "stride 2 every other layer"]),
}, figsize=(10, 4))

# %%
table = pd.DataFrame([{"3x3 layers": d,
                       "formula (stride 1)": arith.receptive_field([3] * d),
                       "measured (stride 1)": measured_field(d, [1] * 8)[1],
                       "formula (stride 2 every other)": arith.receptive_field([3] * d, ([1, 2] * 4)[:d]),
                       "measured (stride 2 every other)": measured_field(d, [1, 2] * 4)[1]}
                      for d in range(1, 6)])
table

# %% [markdown]
# ## 2.4 Three 3x3 layers or one 7x7?
#
# Both see 7x7 pixels. With C channels in and out, one 7x7 layer has 49·C²
# weights, three 3x3 layers 3·9·C² = **27·C²**, and they put three
# non-linearities where the 7x7 has one. Counted by the formula and by Keras
# (biases left out, as on the slide):


# %%
def keras_params(layers, channels, size=56):
    model = keras.Sequential([keras.Input((size, size, channels)), *layers])
    return model.count_params(), arith.model_macs(model)


rows = []
for c in (64, 128, 256, 512):
    seven_params, seven_macs = keras_params([keras.layers.Conv2D(c, 7, padding="same", use_bias=False)], c)
    three_params, three_macs = keras_params(
        [keras.layers.Conv2D(c, 3, padding="same", use_bias=False, activation="relu") for _ in range(3)], c)
    rows.append({"C": c, "7x7: 49C²": 49 * c * c, "7x7 Keras": seven_params,
                 "3 x 3x3: 27C²": 3 * arith.conv_params(3, c, c, bias=False), "3 x 3x3 Keras": three_params,
                 "ratio": seven_params / three_params,
                 "MACs 7x7 (56x56 map)": seven_macs, "MACs 3 x 3x3": three_macs})
stack = pd.DataFrame(rows)
stack.style.format({col: "{:,.0f}" for col in stack.columns if col != "ratio"} | {"ratio": "{:.2f}"})

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(stack["C"], stack["7x7 Keras"] / 1e6, "o-", label="one 7x7 layer")
ax.plot(stack["C"], stack["3 x 3x3 Keras"] / 1e6, "s-", label="three 3x3 layers")
ax.set_xlabel("channels C")
ax.set_ylabel("weights (millions)")
ax.set_title(f"same 7x7 receptive field, {stack['ratio'].iloc[0]:.2f}x fewer weights (49/27)")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ## 2.5 The 1x1 bottleneck
#
# ResNet's deeper blocks work on 256 channels. A plain 3x3 convolution from 256
# to 256 channels has 3·3·256·256 weights. The bottleneck squeezes to 64
# channels with a 1x1 convolution, does the 3x3 on 64 channels, and expands back
# with another 1x1:

# %%
direct = [keras.layers.Conv2D(256, 3, padding="same", use_bias=False)]
bottleneck = [keras.layers.Conv2D(64, 1, use_bias=False, activation="relu"),
              keras.layers.Conv2D(64, 3, padding="same", use_bias=False, activation="relu"),
              keras.layers.Conv2D(256, 1, use_bias=False)]
direct_params, direct_macs = keras_params(direct, 256)
bottleneck_params, bottleneck_macs = keras_params(bottleneck, 256)
parts = {"1x1, 256 -> 64": arith.conv_params(1, 256, 64, bias=False),
         "3x3, 64 -> 64": arith.conv_params(3, 64, 64, bias=False),
         "1x1, 64 -> 256": arith.conv_params(1, 64, 256, bias=False)}
for name, count in parts.items():
    print(f"  {name:<16}{count:>9,}")
print(f"bottleneck total  {sum(parts.values()):>9,}  (Keras: {bottleneck_params:,}; the slide: ~70K)")
print(f"direct 3x3        {arith.conv_params(3, 256, 256, bias=False):>9,}  (Keras: {direct_params:,}; "
      "the slide: ~600K)")
print(f"-> {direct_params / bottleneck_params:.1f}x fewer weights, and {direct_macs / bottleneck_macs:.1f}x "
      f"fewer multiply-adds on a 56x56 map ({direct_macs / 1e6:,.0f}M vs {bottleneck_macs / 1e6:,.0f}M)")

# %%
fig, ax = plt.subplots(figsize=(6, 2.4))
left = 0
for (name, count), colour in zip(parts.items(), ["tab:green", "tab:orange", "tab:green"]):
    ax.barh("bottleneck", count, left=left, color=colour, edgecolor="white")
    ax.text(left + count / 2, 0, name, ha="center", va="center", fontsize=7, rotation=90)
    left += count
ax.barh("3x3, 256 -> 256", direct_params, color="tab:gray")
ax.set_xlabel("weights")
ax.set_title(f"{direct_params:,} vs {bottleneck_params:,} weights")
plt.show()

# %% [markdown]
# **Question for the class:** the bottleneck saves weights by squeezing to 64
# channels. What could it lose? (Hint: the 3x3 now sees only 64 numbers per pixel.)
# ResNet-50 uses exactly this block; notebook 3 counts its parameters layer by layer.
