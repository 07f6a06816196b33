# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # 3. Architecture tour: from LeNet-5 to DenseNet, counted
#
# *Lecture: "ImageNet Challenge 2012-2014" and "Summary: ILSVRC 2012-2015"
# (top-5 error by year), AlexNet ("60M params", CONV1: 96 11x11 filters, 35K
# parameters, 55x55x96 output), VGG's "Table 2: Number of parameters" and the
# VGG-16 memory/parameter walk-through ("TOTAL memory: 24M * 4 bytes", "TOTAL
# params: 138M"), GoogLeNet's table (params and ops per module), ResNet's
# "Architectures for ImageNet" (FLOPs 1.8 to 11.3 x 10^9), DenseNet.*
#
# Every architecture is built with `course.models` (Keras functional models,
# the papers' configurations), and its depth, parameters, multiply-adds and
# activation memory are **counted from the built model** and put beside the
# numbers the slides quote. Nothing is trained here, and no weights are even
# allocated (`keras.StatelessScope`), so VGG-19 costs seconds, not gigabytes.

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

from course import arith, models
from course.models import compare
from course.widgets import LiveFigure

# The demo profile builds a few members of each family so that no cell waits
# more than a few seconds; the full profile builds them all.
FULL = profile.name == "full"
tables = {}

# %% [markdown]
# ## 3.1 The first generation: LeNet-5, AlexNet, ZFNet, Network-in-Network, GoogLeNet

# %%
tables["early"] = compare.against_papers(["lenet5_paper", "alexnet", "zfnet", "nin", "googlenet"])
compare.styled(tables["early"])

# %% [markdown]
# AlexNet's first layer, as the slide computes it: 96 filters of 11x11x3 at
# stride 4 on a 227x227 image give a 55x55x96 volume and (11·11·3)·96 = 34,848
# weights (plus 96 biases): "35K".

# %%
with keras.StatelessScope():
    alexnet = models.build("alexnet")
alex_rows = arith.layer_table(alexnet).frame()
conv1 = alex_rows[alex_rows["kind"] == "Conv2D"].iloc[0]
print(f"input {alexnet.input_shape[1:]}, first conv output {conv1['output_shape'][1:]}, "
      f"parameters {conv1['params']:,} (formula: {arith.conv_params(11, 3, 96):,}; "
      f"output size by formula: {arith.conv_output_size(227, 11, stride=4)})")

# %% [markdown]
# ## 3.2 VGG: Table 2 and the memory walk-through

# %%
tables["vgg"] = compare.against_papers(["vgg11", "vgg11_lrn", "vgg13", "vgg16_conv1", "vgg16", "vgg19"] if FULL
                     else ["vgg11", "vgg16", "vgg19"])
compare.styled(tables["vgg"])

# %% [markdown]
# The VGG-16 slide adds up memory and parameters layer by layer: "TOTAL memory:
# 24M * 4 bytes ≈ 93MB / image; TOTAL params: 138M". We add the same per-layer
# numbers from the built model. Move the knob to see any other model's layers:
# where the **memory** goes (early, large feature maps) and where the
# **parameters** go (late layers: in VGG-16 and AlexNet the fully connected
# ones; GoogLeNet, ResNet-50 and DenseNet-121 end with global average pooling
# and a single 1000-way classifier of 1.0-2.0M weights, so most of their
# parameters sit in the convolutions).

# %%
with keras.StatelessScope():
    vgg16_table = arith.layer_table(models.build("vgg16"))
print(f"VGG-16: {vgg16_table.total_params:,} parameters (slide: 138M)")
print(vgg16_table.compare_total_activations(24e6, "the VGG-16 slide"))
slide_rows = [(224, 3), (224, 64), (224, 64), (112, 64), (112, 128), (112, 128), (56, 128), (56, 256),
              (56, 256), (56, 256), (28, 256), (28, 512), (28, 512), (28, 512), (14, 512), (14, 512),
              (14, 512), (14, 512), (7, 512)]  # the slide's "memory:" lines, input image first
slide_sum = sum(n * n * c for n, c in slide_rows) + 4096 + 4096 + 1000
print(f"the slide's own per-layer memory lines add up to {slide_sum / 1e6:.1f}M values "
      f"({4 * slide_sum / 2**20:.0f} MiB), not 24M: recompute, don't copy")

# %%
def draw_layers(fig, name):
    with keras.StatelessScope():
        table = arith.layer_table(models.build(name)).frame()
    table = table[(table["params"] > 0) | table["kind"].str.contains("Pool")]
    ax_mem, ax_par = fig.subplots(2, 1, sharex=True)
    x = np.arange(len(table))
    ax_mem.bar(x, table["activation_bytes"] / 2**20, color="tab:blue")
    ax_mem.set_ylabel("activation memory\n(MiB per image)")
    ax_par.bar(x, table["params"] / 1e6, color="tab:orange")
    ax_par.set_ylabel("parameters (M)")
    step = max(1, len(table) // 30)
    ax_par.set_xticks(x[::step], table["name"].iloc[::step], rotation=90, fontsize=7)
    total_mem, total_par = table["activation_bytes"].sum() / 2**20, table["params"].sum() / 1e6
    early = table["activation_bytes"].iloc[: len(table) // 3].sum() / 2**20
    late = table["params"].iloc[-3:].sum() / 1e6
    ax_mem.set_title(f"{name}: {early / total_mem:.0%} of the memory in the first third of the layers, "
                     f"{late / total_par:.0%} of the parameters in the last three")


LiveFigure(draw_layers, {"name": widgets.Dropdown(options=["vgg16", "alexnet", "googlenet", "resnet50", "densenet121"],
                                                  value="vgg16", description="model")}, figsize=(11, 5))

# %% [markdown]
# ## 3.3 ResNet and DenseNet

# %%
tables["resnet"] = compare.against_papers(["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"] if FULL
                        else ["resnet18", "resnet50", "resnet152"])
compare.styled(tables["resnet"])

# %%
tables["densenet"] = compare.against_papers(["densenet121", "densenet169", "densenet201", "densenet264"] if FULL
                          else ["densenet121"])
compare.styled(tables["densenet"])

# %% [markdown]
# ## 3.4 The whole tour in two pictures
#
# Left: the ILSVRC top-5 error by year, as on the "Summary: ILSVRC 2012-2015"
# slide, with the depth of each winner **counted** from our build. Right: error
# against multiply-adds (bubble area: parameters) for everything built above.

# %%
ilsvrc = pd.DataFrame([("2012 SuperVision (AlexNet)", "alexnet", 16.4), ("2013 Clarifai (ZFNet)", "zfnet", 11.7),
                       ("2014 VGG (2nd)", "vgg16", 7.32), ("2014 GoogLeNet", "googlenet", 6.67),
                       ("2015 ResNet", "resnet152", 3.57)], columns=["entry", "model", "top-5 error (%)"])
everything = pd.concat(tables.values())
ilsvrc["depth (counted)"] = [int(everything.loc[m, "depth"]) for m in ilsvrc["model"]]
fig, (ax_year, ax_bubble) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [1, 1.4]})
bars = ax_year.bar(ilsvrc["entry"], ilsvrc["top-5 error (%)"], color="tab:blue")
ax_year.bar_label(bars, labels=[f"{e}%\n{d} layers" for e, d in zip(ilsvrc["top-5 error (%)"], ilsvrc["depth (counted)"])],
                  fontsize=8)
ax_year.axhline(5.1, color="gray", ls=":", label="human expert (slide): 5.1%")
ax_year.set_ylabel("ILSVRC top-5 error (%)")
ax_year.tick_params(axis="x", rotation=30, labelsize=8)
ax_year.set_ylim(0, 19)
ax_year.legend(fontsize=8)
compare.plot_comparison(everything, ax=ax_bubble)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3.5 Why 3x3 stacks and 1x1 bottlenecks (notebook 2 in detail)
#
# VGG replaces large filters with stacks of 3x3; ResNet-50 and deeper use the
# 1x1 bottleneck. With C channels: one 7x7 layer 49C² weights, three 3x3 layers
# 27C²; a 3x3 on 256 channels 589,824 weights, the 256-64-64-256 bottleneck 69,632:

# %%
c = 256
print(f"one 7x7 layer, C={c}: {arith.conv_params(7, c, c, bias=False):,} = 49C²;  three 3x3: "
      f"{3 * arith.conv_params(3, c, c, bias=False):,} = 27C²")
print(f"3x3, 256->256: {arith.conv_params(3, 256, 256, bias=False):,};  bottleneck 1x1 256->64, 3x3 64->64, "
      f"1x1 64->256: {arith.conv_params(1, 256, 64, False) + arith.conv_params(3, 64, 64, False) + arith.conv_params(1, 64, 256, False):,}")

# %% [markdown]
# **Question for the class:** ResNet-152 has about as many parameters as
# AlexNet (compare the rows above) but over 150 layers and ten times the
# multiply-adds. Where did AlexNet's parameters go, and what does ResNet spend
# its multiply-adds on?
