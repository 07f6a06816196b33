# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # 7. Visualizing what convnets learn
#
# *Lecture: "Visualizing and Understanding ConvNets": visualize the weights,
# the patches that maximally activate neurons and the representation space
# (t-SNE of the "code" before the classifier), occlusion experiments, the
# "deconv approaches" (gradients back to the image, guided backpropagation),
# and "Optimization to Image".*
#
# A trained network is a pile of numbers; these techniques turn it into
# pictures. We look inside the course's own CNN (`pretrained.load("fashion_cnn")`:
# three 3x3 conv blocks trained on all of Fashion-MNIST) with real test images,
# and measure each picture's claim instead of taking it on faith. The code lives
# in `course.viz` (assignment 8 asks students to write the same functions).

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
import time

import ipywidgets as widgets
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib.patches import Rectangle

from course import arith, data, pretrained, viz
from course.plots import number_grid
from course.widgets import LiveFigure

# %% [markdown]
# ## 7.0 The model and the images
#
# The model outputs class **scores** (logits, before the softmax), as on the
# slides. One test image per class serves as the running example: the first of
# the test set that the model classifies correctly with probability above 0.9
# (the same images in every profile).

# %%
model = pretrained.load("fashion_cnn")
card = pretrained.card("fashion_cnn")
(_, _), (x_all, y_all) = data.fashion_mnist()
x_test, y_test = data.stratified_subset(x_all, y_all, profile.test_size or len(y_all), seed=0)
x_test, y_test = data.normalise(x_test), y_test.astype(int)
accuracy = np.mean(model.predict(x_test, batch_size=256, verbose=0).argmax(1) == y_test)
print(f"fashion_cnn: {model.count_params():,} parameters; accuracy {accuracy:.2%} on {len(y_test)} test images "
      f"(its card: {card['test_accuracy']:.2%} on {card['test_images']:,})")

first_images = data.normalise(x_all[:1000])
first_scores = model.predict(first_images, verbose=0)
first_probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(first_scores))
items = {}
for c, name in enumerate(data.CLASS_NAMES):
    index = np.flatnonzero((y_all[:1000] == c) & (first_probabilities.argmax(1) == c)
                           & (first_probabilities.max(1) > 0.9))[0]
    items[c] = first_images[index]
item_options = [(f"{c}: {name}", c) for c, name in enumerate(data.CLASS_NAMES)]


def score(image, class_index):
    """The model's score (logit) for one class of one image."""
    return float(model(image[None], training=False)[0, class_index])


pd.DataFrame([{"layer": layer.name, "output shape": tuple(layer.output.shape[1:]),
               "parameters": layer.count_params()} for layer in model.layers]).set_index("layer").T

# %%
fig, axes = plt.subplots(1, 10, figsize=(12, 1.8))
for (c, image), ax in zip(items.items(), axes):
    ax.imshow(image[..., 0], cmap="gray")
    ax.set_title(f"{data.CLASS_NAMES[c]}\nscore {score(image, c):.1f}", fontsize=8)
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ## 7.1 The weights: first-layer filters
#
# *Slide: "Visualize the filters/kernels (raw weights)": interpretable on the
# first layer only.*
#
# `conv1` has sixteen 3x3 filters over one grey channel. Each is shown on its
# own grey scale (black = its most negative weight, white = its most positive).
# Beside them, a network with the same architecture before training. A filter
# whose weights sum to about zero ignores flat regions and answers to changes,
# like the edge kernels of notebook 1; the table measures it for both.

# %%
trained_filters = model.get_layer("conv1").get_weights()[0]
untrained_filters = pretrained.build("fashion_cnn").get_layer("conv1").get_weights()[0]
viz.filter_grid(trained_filters, suptitle="conv1 after training")
plt.show()
viz.filter_grid(untrained_filters, suptitle="conv1 before training (random initialisation)")
plt.show()


def balance(kernel):
    """Per filter: sum of the weights / sum of their absolute values (0: pure edge filter, ±1: one sign)."""
    return kernel.sum(axis=(0, 1, 2)) / np.abs(kernel).sum(axis=(0, 1, 2))


pd.DataFrame({"trained": balance(trained_filters), "untrained": balance(untrained_filters)}).T.round(2)

# %% [markdown]
# **Question for the class:** AlexNet's first-layer filters (11x11 in colour)
# look like oriented edges and colour blobs. Ours are 3x3 and grey: how much can
# nine numbers show, and where would you look for the "object parts"?
#
# ## 7.2 Activations: what each layer responds to
#
# *Slide: "Visualizing arbitrary neurons along the way to the top" (Zeiler & Fergus).*
#
# Pick an image and a layer: the sixteen most active channels of that layer
# (after the ReLU). Convolution, batch norm, ReLU and pooling do not care about
# the image size, so `viz.any_size` runs the same trained layers over real
# photos as well as over 28x28 test images.

# %%
probed_layers = ["relu1", "relu2", "relu3"]
stems = {name: viz.any_size(model, name) for name in probed_layers}
sources = {f"{c}: {name}": items[c] for c, name in enumerate(data.CLASS_NAMES)}
for name in ("camera", "coins", "chelsea"):
    sources[f"photo: {name}"] = data.photo(name, size=112, gray=True)[..., None].astype(np.float32) / 255


def draw_maps(fig, source, layer):
    image = sources[source]
    maps = viz.feature_maps(stems[layer], image, layer)[0]
    strongest = np.argsort(maps.mean(axis=(0, 1)))[::-1][:16]
    left, right = fig.subfigures(1, 2, width_ratios=[1, 1.2])
    ax = left.subplots()
    ax.imshow(image[..., 0], cmap="gray")
    ax.set_title(f"{source} ({image.shape[0]}x{image.shape[1]})", fontsize=9)
    ax.set_axis_off()
    for ax, k in zip(right.subplots(4, 4).flat, strongest):
        ax.imshow(maps[..., k], cmap="viridis")
        ax.set_title(f"channel {k}", fontsize=7)
        ax.set_axis_off()
    right.suptitle(f"{layer}: {'x'.join(map(str, maps.shape))}, 16 most active channels; "
                   f"{np.mean(maps == 0):.0%} of its values are 0", fontsize=9)


LiveFigure(draw_maps, {
    "source": widgets.Dropdown(options=list(sources), value="photo: camera", description="image"),
    "layer": widgets.ToggleButtons(options=probed_layers, value="relu1", description="layer"),
}, figsize=(10, 4.8))

# %% [markdown]
# Measured over 500 test images: each layer's size, how many of its values
# the ReLU sets to zero, and how many channels never fire at all.

# %%
rows = []
for name in probed_layers + ["features"]:
    values = viz.feature_maps(model, x_test[:500], name)
    per_channel_max = values.reshape(-1, values.shape[-1]).max(axis=0)
    rows.append({"layer": name, "shape": values.shape[1:], "values per image": int(np.prod(values.shape[1:])),
                 "fraction exactly 0": float(np.mean(values == 0)),
                 "channels never active": int(np.sum(per_channel_max == 0))})
pd.DataFrame(rows).set_index("layer").round(3)

# %% [markdown]
# ### The test images that excite one channel most
#
# *Slide: "Visualize patches that maximally activate neurons".* For a channel
# of `relu3`, the eight test images with its largest value anywhere. Each unit
# of `relu3` sees an 18x18 window of the input (its receptive field, computed
# below); the box marks the window of the strongest unit.

# %%
kernels, strides = [3, 2, 3, 2, 3], [1, 2, 1, 2, 1]  # conv1, pool1, conv2, pool2, conv3
field, jump = arith.receptive_field(kernels, strides), int(np.prod(strides))
top_maps = viz.feature_maps(model, x_test, "relu3")
print(f"relu3: receptive field {field}x{field} pixels, one unit every {jump} pixels; "
      f"searched {len(x_test)} test images")


def field_corner(row, col):
    """Top-left pixel edge of relu3 unit (row, col)'s receptive field ('same' convs, 2x2 pools)."""
    centre_x, centre_y = jump * col + (jump - 1) / 2, jump * row + (jump - 1) / 2
    return centre_x - field / 2, centre_y - field / 2


def draw_top(fig, channel):
    peaks = top_maps[..., channel].reshape(len(top_maps), -1)
    best = np.argsort(peaks.max(axis=1))[::-1][:8]
    for ax, i in zip(fig.subplots(1, 8), best):
        row, col = np.unravel_index(peaks[i].argmax(), top_maps.shape[1:3])
        ax.imshow(x_test[i, ..., 0], cmap="gray")
        ax.add_patch(Rectangle(field_corner(row, col), field, field, fill=False, edgecolor="orange", linewidth=2))
        ax.set_xlim(-0.5, 27.5)
        ax.set_ylim(27.5, -0.5)
        ax.set_title(f"{data.CLASS_NAMES[y_test[i]]}\n{peaks[i].max():.1f}", fontsize=8)
        ax.set_axis_off()
    fig.suptitle(f"relu3 channel {channel}: the 8 strongest test images", fontsize=10)


LiveFigure(draw_top, {"channel": widgets.IntSlider(value=0, min=0, max=top_maps.shape[-1] - 1,
                                                   description="channel", continuous_update=False)},
           figsize=(12, 2.2))

# %% [markdown]
# **Question for the class:** does a channel pick one class, or one *shape*
# shared by several classes (a sole, a collar, a strap)? Slide through a few.
#
# ## 7.3 Occlusion experiments
#
# *Slide: "Occlusion experiments [Zeiler & Fergus 2013]": the class score as a
# function of the position of a square that hides part of the image.*
#
# Slide a patch over the image and record the true class's score at each
# position; the map shows how much the score **drops**. Fashion-MNIST items lie
# on an exactly black background, so the patch's colour matters: a black patch
# changes only item pixels, a grey one (the paper's choice on photos) also
# paints a new grey shape on the background.

# %%
fills = {"black (background)": 0.0, "grey 0.5": 0.5, "white": 1.0}


def occlusion_drops(c, patch, stride, fill):
    """Score drop map for item c, and the mean drop over windows mostly on the item / only on background."""
    image = items[c]
    drops = score(image, c) - viz.occlusion_map(model, image, c, patch, stride, fill)
    coverage = viz.window_coverage(image[..., 0] > 0, patch, stride)
    on_item = drops[coverage >= 0.5].mean() if np.any(coverage >= 0.5) else np.nan
    on_background = drops[coverage == 0].mean() if np.any(coverage == 0) else np.nan
    return drops, on_item, on_background


def draw_occlusion(fig, c, patch, stride, fill):
    drops, on_item, on_background = occlusion_drops(c, patch, stride, fills[fill])
    i, j = np.unravel_index(drops.argmax(), drops.shape)
    occluded = items[c][..., 0].copy()
    occluded[i * stride:i * stride + patch, j * stride:j * stride + patch] = fills[fill]
    ax_image, ax_map = fig.subplots(1, 2)
    ax_image.imshow(occluded, cmap="gray", vmin=0, vmax=1)
    ax_image.add_patch(Rectangle((j * stride - 0.5, i * stride - 0.5), patch, patch, fill=False, edgecolor="red"))
    ax_image.set_title(f"worst position: score {score(items[c], c):.2f} -> {score(items[c], c) - drops[i, j]:.2f}",
                       fontsize=9)
    first = (patch - 1) / 2 - stride / 2  # each map cell is centred on its patch's centre
    extent = (first, first + drops.shape[1] * stride, first + drops.shape[0] * stride, first)
    shown = ax_map.imshow(drops, cmap="magma", extent=extent)
    ax_map.set_xlim(-0.5, 27.5)
    ax_map.set_ylim(27.5, -0.5)
    ax_map.set_title(f"drop of the {data.CLASS_NAMES[c]} score, {patch}x{patch} patch, stride {stride}", fontsize=9)
    fig.colorbar(shown, ax=ax_map, fraction=0.046)
    for ax in (ax_image, ax_map):
        ax.set_xticks([])
        ax.set_yticks([])
    return (f"mean drop with the patch mostly on the item: <b>{on_item:.2f}</b>; "
            f"only on background: <b>{on_background:.2f}</b> (nan: no such window)")


LiveFigure(draw_occlusion, {
    "c": widgets.Dropdown(options=item_options, value=9, description="item"),
    "patch": widgets.IntSlider(value=6, min=2, max=14, description="patch", continuous_update=False),
    "stride": widgets.IntSlider(value=2, min=1, max=6, description="stride", continuous_update=False),
    "fill": widgets.ToggleButtons(options=list(fills), value="black (background)", description="colour"),
}, figsize=(9, 3.8))

# %% [markdown]
# Does hiding the item cost more than hiding background? Measured on all ten
# items with a 4x4 patch, stride 2 (small enough that every item has
# background-only windows), for a black and a grey patch:

# %%
rows = []
for c, name in enumerate(data.CLASS_NAMES):
    row = {"item": name}
    for fill in ("black (background)", "grey 0.5"):
        _, on_item, on_background = occlusion_drops(c, 4, 2, fills[fill])
        row[f"{fill}: on item"], row[f"{fill}: on background"] = on_item, on_background
    rows.append(row)
drops_table = pd.DataFrame(rows).set_index("item")
for fill in ("black (background)", "grey 0.5"):
    on_item, on_background = drops_table[f"{fill}: on item"], drops_table[f"{fill}: on background"]
    print(f"{fill} patch: mean score drop {on_item.mean():.2f} on the item vs {on_background.mean():.2f} on "
          f"background; the item costs more for {int(np.sum(on_item > on_background))} of {len(rows)} items")
drops_table.round(2)

# %% [markdown]
# A black patch over pure background changes no pixel, so its drop is zero by
# construction: the informative number is what hiding the item costs. A grey
# patch is a new shape on the black background, and the table says how much the
# network minds it next to hiding part of the item.
#
# **Question for the class:** what would it tell us about this network if a
# grey square *beside* an item hurt its score more than a square *on* it? Find
# such items in the table. Which patch colour would you choose for photos,
# which have no uniform background?
#
# ## 7.4 Saliency: the gradient of the score with respect to the pixels
#
# *Slide: "Deconv approaches", Simonyan et al. 2014: feed the image, set the
# gradient of the scores to [0, ..., 1, ..., 0], backpropagate to the image.*
#
# |d score / d pixel| says which pixels would change the score most if they
# changed a little. One backward pass per image, no patches.

# %%
saliencies = {c: viz.saliency(model, items[c], c) for c in items}
fig, axes = plt.subplots(2, 10, figsize=(12, 2.9))
for c, (ax_image, ax_map) in enumerate(axes.T):
    ax_image.imshow(items[c][..., 0], cmap="gray")
    ax_map.imshow(saliencies[c], cmap="hot")
    ax_image.set_title(data.CLASS_NAMES[c], fontsize=8)
    ax_image.set_axis_off()
    ax_map.set_axis_off()
fig.suptitle("top: test images; bottom: |d score / d pixel| for the true class")
plt.show()

on_item = {c: saliencies[c][items[c][..., 0] > 0].sum() / saliencies[c].sum() for c in items}
item_pixels = {c: np.mean(items[c] > 0) for c in items}
pd.DataFrame({"share of saliency on item pixels": on_item, "share of pixels that are item": item_pixels},
             ).rename(index=dict(enumerate(data.CLASS_NAMES))).T.round(2)

# %% [markdown]
# **Question for the class:** if the two rows are close, the gradient is spread
# over the whole image, background included. Is a pixel with a large gradient
# "important", or only "sensitive"? (Compare with the occlusion maps above.)
#
# ## 7.5 Three backward rules for a ReLU, and guided backpropagation
#
# *Slides: "Deconv approaches" and "Backward pass: guided backpropagation"
# (Springenberg et al. 2015).* A ReLU's forward pass is f_out = max(f_in, 0). The
# slides give three ways to send the upstream gradient R back through it:
#
# * **backpropagation** (the true gradient): R_in = (f_in > 0) · R
# * **"deconvnet"** (Zeiler & Fergus): R_in = (R > 0) · R, whatever the input was
# * **guided backpropagation**: R_in = (f_in > 0) · (R > 0) · R, both masks
#
# Here they are on a small example. The three results are computed by
# `tf.GradientTape` through `tf.nn.relu`, `viz.deconvnet_relu` and
# `viz.guided_relu` (ReLUs with a custom gradient), then checked against the formulas.

# %%
f_in = np.array([[1, -1, 5, -2], [2, -5, -7, 3], [-3, 2, 4, -1], [0.5, 6, -4, 2]], np.float32)
upstream = np.array([[-2, 3, -1, 1], [6, -3, 1, -4], [2, -1, 3, 2], [-5, 4, 2, -1]], np.float32)
relus = {"backpropagation": tf.nn.relu, "deconvnet": viz.deconvnet_relu, "guided backpropagation": viz.guided_relu}
formulas = {"backpropagation": (f_in > 0) * upstream, "deconvnet": (upstream > 0) * upstream,
            "guided backpropagation": (f_in > 0) * (upstream > 0) * upstream}
backward = {}
for name, relu in relus.items():
    x = tf.constant(f_in)
    with tf.GradientTape() as tape:
        tape.watch(x)
        f_out = relu(x)
    backward[name] = tape.gradient(f_out, x, output_gradients=tf.constant(upstream)).numpy() + 0.0  # -0 -> 0
    print(f"{name:>23}: GradientTape vs the slide's formula, max difference "
          f"{np.abs(backward[name] - formulas[name]).max():g}")

fig, axes = plt.subplots(1, 6, figsize=(13, 2.6))
panels = {"forward input f_in": f_in, "forward output max(f_in, 0)": f_out.numpy(), "upstream gradient R": upstream,
          **{f"R_in, {name}": values for name, values in backward.items()}}
for ax, (title, values) in zip(axes, panels.items()):
    number_grid(ax, values, title, cmap="RdBu")
plt.show()

# %% [markdown]
# The same three rules applied to every ReLU of the network (`viz.relu_swapped`
# copies the model with its ReLUs replaced; `viz.guided_backprop` is the third
# one). Red: a brighter pixel would raise the score, blue: lower it.

# %%
backward_models = {"backpropagation": model,
                   "deconvnet": viz.relu_swapped(model, viz.deconvnet_relu),
                   "guided backpropagation": viz.relu_swapped(model, viz.guided_relu)}


def image_gradient(rule, image, c):
    return viz.class_score_gradient(backward_models[rule], image, c)[1][0, ..., 0]


def draw_rules(fig, c):
    axes = fig.subplots(1, 4)
    axes[0].imshow(items[c][..., 0], cmap="gray")
    axes[0].set_title(data.CLASS_NAMES[c], fontsize=9)
    for ax, rule in zip(axes[1:], backward_models):
        gradient = image_gradient(rule, items[c], c)
        ax.imshow(viz.signed_to_rgb(gradient[..., None]), cmap="RdBu_r", vmin=0, vmax=1)
        ax.set_title(f"{rule}\n{np.mean(gradient > 0):.0%} positive, {np.mean(gradient < 0):.0%} negative",
                     fontsize=9)
    for ax in axes:
        ax.set_axis_off()


LiveFigure(draw_rules, {"c": widgets.Dropdown(options=item_options, value=9, description="item")},
           figsize=(10, 3.0))

# %% [markdown]
# Measured on the ten items: which share of each map's total |value| lies on
# the item's pixels (for comparison, the share of pixels that are item), and
# which fraction of the pixels is pushed *down* (a negative value).

# %%
rows = []
for c in items:
    mask = items[c][..., 0] > 0
    row = {"item": data.CLASS_NAMES[c], "item pixels": mask.mean()}
    for rule in backward_models:
        gradient = image_gradient(rule, items[c], c)
        row[f"{rule}: on item"] = np.abs(gradient)[mask].sum() / np.abs(gradient).sum()
        row[f"{rule}: negative"] = np.mean(gradient < 0)
    rows.append(row)
rules_table = pd.DataFrame(rows).set_index("item")
rules_table.loc["mean"] = rules_table.mean()
rules_table.round(2)

# %% [markdown]
# **Question for the class:** guided backpropagation "looks" cleaner than the
# true gradient. It is also no longer the gradient of anything. Which rule would
# you trust to tell you what the network *uses*?
#
# ## 7.6 Grad-CAM: where is the evidence for a class?
#
# *Not on the slides (Selvaraju et al. 2017 came later), but built from the same
# two ingredients: feature maps and gradients.* Average the class score's
# gradient over each channel of a late conv layer to get a weight per channel,
# add the channels up with those weights, keep the positive part, upsample.
# Because it starts from the **class score**, asking about another class gives
# another map. Pick the image, the class to explain and the layer.

# %%
def draw_cam(fig, c, explain, layer):
    scores = model(items[c][None], training=False)[0].numpy()
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(scores))
    axes = fig.subplots(1, 2)
    for ax, k in zip(axes, (c, explain)):
        cam = viz.grad_cam(model, items[c], k, layer)
        viz.overlay(ax, items[c], cam, f"explain '{data.CLASS_NAMES[k]}': score {scores[k]:.1f}, "
                                       f"p = {probabilities[k]:.3f}" + ("" if cam.max() > 0 else "\n(no positive evidence)"))
    fig.suptitle(f"Grad-CAM at {layer} for a {data.CLASS_NAMES[c]}: true class (left) vs another class (right)",
                 fontsize=10)


LiveFigure(draw_cam, {
    "c": widgets.Dropdown(options=item_options, value=1, description="item"),
    "explain": widgets.Dropdown(options=item_options, value=3, description="explain"),
    "layer": widgets.ToggleButtons(options=probed_layers, value="relu3", description="layer"),
}, figsize=(8, 3.8))

# %% [markdown]
# Is the map really class-specific? For each item, the true class against the
# class the model ranks second: the correlation between the two Grad-CAM maps
# (1 would mean "the same map whatever you ask").

# %%
rows = []
for c in items:
    scores = model(items[c][None], training=False)[0].numpy()
    runner_up = int(np.argsort(scores)[-2])
    true_map, other_map = viz.grad_cam(model, items[c], c, "relu3"), viz.grad_cam(model, items[c], runner_up, "relu3")
    rows.append({"item": data.CLASS_NAMES[c], "runner-up class": data.CLASS_NAMES[runner_up],
                 "correlation of the maps": np.corrcoef(true_map.ravel(), other_map.ravel())[0, 1]
                 if other_map.max() > 0 else np.nan})
cam_table = pd.DataFrame(rows).set_index("item")
print(f"mean correlation between the true-class and runner-up maps: {cam_table['correlation of the maps'].mean():.2f} "
      f"(range {cam_table['correlation of the maps'].min():.2f} to {cam_table['correlation of the maps'].max():.2f})")
cam_table.round(2)

# %% [markdown]
# **Question for the class:** `relu1` gives a sharp map, `relu3` a blurry one.
# Why does Grad-CAM use the *last* conv layer all the same?
#
# ## 7.7 Optimization to image: what does the model think a class looks like?
#
# *Slides: "Optimization to Image": arg max over I of S_c(I) - λ‖I‖², starting
# from zeros, with the score before the softmax.*
#
# Gradient ascent on the image itself (`viz.class_model`: start from a black
# image, step along the gradient of the regularised objective). The L2 term
# keeps the image from growing without bound. Pick a class, λ and the number of
# steps (a second or two each).

# %%
ascent_steps = {"grading": 30, "demo": 100, "full": 300}[profile.name]
zero_scores = model(np.zeros((1, 28, 28, 1), np.float32), training=False)[0].numpy()
ascended = {}


def ascend(c, l2, steps):
    if (c, l2, steps) not in ascended:
        ascended[c, l2, steps] = viz.class_model(model, c, steps=steps, learning_rate=0.1, l2=l2)
    return ascended[c, l2, steps]


def draw_class_model(fig, c, l2, steps):
    image = ascend(c, l2, steps)
    scores = model(image[None], training=False)[0].numpy()
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(scores))
    ax_image, ax_bars = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
    ax_image.imshow(image[..., 0], cmap="gray")
    ax_image.set_title(f"pixels from {image.min():.1f} to {image.max():.1f}, ‖I‖ = {np.linalg.norm(image):.1f}",
                       fontsize=9)
    ax_image.set_axis_off()
    ax_bars.barh(data.CLASS_NAMES, probabilities, color=["tab:orange" if k == c else "tab:gray" for k in range(10)])
    ax_bars.invert_yaxis()
    ax_bars.set_xlim(0, 1)
    ax_bars.set_xlabel("softmax probability of the generated image")
    fig.suptitle(f"'{data.CLASS_NAMES[c]}': score {zero_scores[c]:.1f} (black image) -> {scores[c]:.1f} "
                 f"after {steps} steps, λ = {l2}", fontsize=10)


LiveFigure(draw_class_model, {
    "c": widgets.Dropdown(options=item_options, value=1, description="class"),
    "l2": widgets.Dropdown(options=[0.0, 0.01, 0.1, 0.3], value=0.01, description="λ"),
    "steps": widgets.Dropdown(options=sorted({30, ascent_steps, 2 * ascent_steps}), value=ascent_steps,
                              description="steps"),
}, figsize=(9, 3.4))

# %% [markdown]
# What λ does, measured for one class:

# %%
rows = []
for l2 in (0.0, 0.01, 0.1):
    image = ascend(1, l2, ascent_steps)
    scores = model(image[None], training=False)[0].numpy()
    rows.append({"λ": l2, "score S_c (black image)": zero_scores[1], "score S_c (after ascent)": scores[1],
                 "‖I‖": np.linalg.norm(image), "largest |pixel|": np.abs(image).max(),
                 "probability of the class": float(keras.ops.softmax(scores)[1])})
print(f"class '{data.CLASS_NAMES[1]}', {ascent_steps} steps of size 0.1 from a black image; the black image "
      f"itself is classified as '{data.CLASS_NAMES[zero_scores.argmax()]}' (score {zero_scores.max():.1f})")
pd.DataFrame(rows).set_index("λ").round(3)

# %% [markdown]
# **Question for the class:** the black starting image already gets a class
# (printed above). Why might a black image look like that class to this network? The generated pixels leave [0, 1]: what would
# it take to make the image look "natural" (the slides' Yosinski et al. add blur
# and clipping)?
#
# ## 7.8 The representation space: t-SNE of the penultimate layer
#
# *Slides: "Visualizing the representation" (the code of each image in the layer
# just before the classifier) and "t-SNE visualization": similar things end up
# in similar places.*
#
# We embed test images in 2-D twice: from their raw pixels (784 numbers) and
# from the model's code (the 128 numbers of the `features` layer). "Similar
# things in similar places" becomes a number: `viz.neighbour_agreement`, the
# fraction of each point's 5 nearest neighbours that have its class (chance: about 0.1).

# %%
n_points = {"grading": 200, "demo": 500, "full": 2000}[profile.name]
points, labels = data.stratified_subset(x_test, y_test, n_points, seed=1)
codes = viz.penultimate_features(model, points)
started = time.perf_counter()
code_map = viz.tsne(codes, seed=0)
print(f"t-SNE of {n_points} codes ({codes.shape[1]} numbers each): {time.perf_counter() - started:.1f} s")

# %%
started = time.perf_counter()
pixel_map = viz.tsne(points.reshape(n_points, -1), seed=0)
print(f"t-SNE of {n_points} images ({np.prod(points.shape[1:])} pixels each): {time.perf_counter() - started:.1f} s")

# %%
agreement = pd.DataFrame({
    "in the original space": [viz.neighbour_agreement(points.reshape(n_points, -1), labels),
                              viz.neighbour_agreement(codes, labels)],
    "in the 2-D t-SNE map": [viz.neighbour_agreement(pixel_map, labels),
                             viz.neighbour_agreement(code_map, labels)],
}, index=["raw pixels", "learned features"])
fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
viz.tsne_scatter(axes[0], pixel_map, labels, data.CLASS_NAMES,
                 f"raw pixels: neighbour agreement {agreement.iloc[0, 1]:.2f}")
viz.tsne_scatter(axes[1], code_map, labels, data.CLASS_NAMES,
                 f"learned features: neighbour agreement {agreement.iloc[1, 1]:.2f}")
axes[0].get_legend().remove()
fig.suptitle(f"t-SNE of {n_points} test images (5 nearest neighbours of the same class)")
plt.tight_layout()
plt.show()
agreement.round(3)

# %% [markdown]
# **Question for the class:** which classes stay mixed up even in the learned
# features, and do they match the runner-up classes of 7.6? Is t-SNE's 2-D map
# a faithful picture of distances, or only of neighbourhoods?
#
# **Take-away.** Each technique answers a different question: the weights (what
# the first layer filters), activations (what a layer responds to), occlusion
# (what the score needs), gradients (what the score is sensitive to), Grad-CAM
# (where the evidence for one class is), optimization to image (what maximises
# a score), and t-SNE (which images the network considers alike). None of them
# is the explanation; each is a measurement, and they can disagree.
