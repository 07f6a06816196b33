"""The "comparing architectures" slide, computed from our builders.

`compare` tabulates depth, parameters, multiply-adds and activation memory
of any list of model names, beside the ImageNet top-5 errors the lectures
quote; `against_papers` sets our counts beside the papers' (`PAPER_SIZES`), and
`styled` formats that table for the lecture; `plot_comparison` draws it as the
slide does (error against operations, bubble area proportional to parameters).
"""
from __future__ import annotations

from typing import Iterable

import keras

from course import arith
from course.models._registry import build

# Single-model top-5 error (%) on ILSVRC-2012 validation, as the lecture slides give it.
PAPER_TOP5 = {
    "alexnet": (18.2, "Krizhevsky et al. 2012, Table 2 (1 CNN)"),
    "zfnet": (16.0, "Simonyan & Zisserman 2015, Table 7 (Zeiler & Fergus, 1 net)"),
    "vgg16": (9.33, "He et al. 2016, Table 3 (10-crop)"),
    "googlenet": (9.15, "He et al. 2016, Table 3 (10-crop)"),
    "plain34": (10.02, "He et al. 2016, Table 3 (10-crop)"),
    "resnet34": (7.46, "He et al. 2016, Table 3 (10-crop, option B)"),
    "resnet50": (6.71, "He et al. 2016, Table 3 (10-crop)"),
    "resnet101": (6.05, "He et al. 2016, Table 3 (10-crop)"),
    "resnet152": (5.71, "He et al. 2016, Table 3 (10-crop)"),
}
# The winning (or placed) ILSVRC entries of the "ImageNet Challenge 2012-2015" slide:
# ensembles and extra tricks, test set, no external data.
ILSVRC_TOP5 = {
    "alexnet": 16.4,    # SuperVision 2012, 7 layers
    "zfnet": 11.7,      # Clarifai 2013
    "vgg16": 7.32,      # VGG 2014, 2nd place
    "googlenet": 6.67,  # GoogLeNet 2014, 1st place
    "resnet152": 3.57,  # ResNet 2015, 1st place
}

# Sizes as the papers and the lecture slides give them: (parameters, multiply-adds, where), for
# `against_papers`.
PAPER_SIZES = {
    "lenet5_paper": (60_000, None, "LeCun et al. 1998: about 60,000 trainable parameters"),
    "alexnet": (60e6, None, "AlexNet slide: 60M params"),
    "vgg11": (133e6, None, "VGG Table 2, config A"),
    "vgg11_lrn": (133e6, None, "VGG Table 2, config A-LRN"),
    "vgg13": (133e6, None, "VGG Table 2, config B"),
    "vgg16_conv1": (134e6, None, "VGG Table 2, config C"),
    "vgg16": (138e6, None, "VGG Table 2, config D; VGG-16 slide: 138M"),
    "vgg19": (144e6, None, "VGG Table 2, config E"),
    "googlenet": (6.8e6, 1.5e9, "GoogLeNet table: sum of the params and ops columns"),
    "resnet18": (None, 1.8e9, "ResNet 'Architectures for ImageNet': FLOPs"),
    "resnet34": (None, 3.6e9, "ResNet table"),
    "resnet50": (None, 3.8e9, "ResNet table"),
    "resnet101": (None, 7.6e9, "ResNet table"),
    "resnet152": (None, 11.3e9, "ResNet table"),
}


def _is_weight_layer(layer) -> bool:
    """Whether ``layer`` counts towards depth: a convolution, a dense layer, or one that says so."""
    return (isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D | keras.layers.Conv3D
                       | keras.layers.Dense | keras.layers.DepthwiseConv2D)
            or getattr(layer, "is_weight_layer", False))


def network_depth(model: keras.Model) -> int:
    """Weight layers (convolutions, dense) on the longest input-to-output path.

    This is how the papers count: ResNet-50's projection shortcuts and
    GoogLeNet's parallel branches do not add depth, DenseNet-121's
    transitions do.
    """
    depth: dict[int, int] = {}
    for layer in model.layers:  # a functional model lists its layers in topological order
        parents = [parent.operation for node in layer._inbound_nodes for parent in node.parent_nodes]
        below = max((depth.get(id(p), 0) for p in parents), default=0)
        depth[id(layer)] = below + _is_weight_layer(layer)
    return max(depth.values())


def compare(names: Iterable[str], input_shape=None, num_classes: int | None = None):
    """One row per model: depth, parameters, multiply-adds and activation memory per image,
    with the papers' top-5 errors where the lectures quote one.

    Models are built at their paper's input size unless ``input_shape`` is given.
    Weights are never initialised (a stateless scope), so even VGG is cheap to count.
    """
    import pandas as pd

    rows = []
    for name in names:
        with keras.StatelessScope():
            model = build(name, input_shape=input_shape, num_classes=num_classes)
        table = arith.layer_table(model)
        top5, source = PAPER_TOP5.get(name, (float("nan"), ""))
        rows.append({
            "model": name,
            "input": "x".join(str(d) for d in model.input_shape[1:]),
            "depth": network_depth(model),
            "params": model.count_params(),
            "macs": table.total_macs,
            "activations": table.total_activations,
            "activation_mib": 4 * table.total_activations / 2**20,
            "top5_error": top5,
            "ilsvrc_top5": ILSVRC_TOP5.get(name, float("nan")),
            "source": source,
        })
    return pd.DataFrame(rows).set_index("model")


def plot_comparison(frame, ax=None):
    """Top-5 error against multiply-adds, bubble area proportional to parameters.

    Models without a quoted error are drawn along the bottom edge, so every
    row of ``frame`` (from `compare`) appears. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    gmacs = frame["macs"] / 1e9
    has_error = frame["top5_error"].notna()
    floor = (frame.loc[has_error, "top5_error"].min() if has_error.any() else 1.0) * 0.8
    error = frame["top5_error"].where(has_error, floor)
    sizes = 20 + 1000 * frame["params"] / frame["params"].max()
    ax.scatter(gmacs, error, s=sizes, c=np.where(has_error, "tab:blue", "tab:gray"), alpha=0.5,
               edgecolors="k")
    for name, x, y in zip(frame.index, gmacs, error):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("multiply-adds per image (G, log scale)")
    ax.set_ylabel("ImageNet top-5 error (%)")
    ax.set_title("Architectures: error vs. operations (bubble area ~ parameters; grey: no error quoted)")
    ax.grid(True, alpha=0.3)
    return ax


def against_papers(names: Iterable[str]):
    """`compare`'s rows beside the papers' parameter and multiply-add counts (`PAPER_SIZES`), with their ratios."""
    frame = compare(names)
    frame["paper params"] = [PAPER_SIZES.get(n, (None,))[0] for n in frame.index]
    frame["paper MACs"] = [PAPER_SIZES.get(n, (None, None))[1] for n in frame.index]
    frame["params / paper"] = frame["params"] / frame["paper params"].astype(float)
    frame["MACs / paper"] = frame["macs"] / frame["paper MACs"].astype(float)
    frame["where"] = [PAPER_SIZES.get(n, (None, None, ""))[2] for n in frame.index]
    return frame


def styled(frame):
    """An `against_papers` table as the lecture shows it: millions, billions, ratios to three places."""
    import pandas as pd

    columns = ["input", "depth", "params", "paper params", "params / paper", "macs", "paper MACs",
               "MACs / paper", "activation_mib", "where"]
    millions = (lambda v: "" if pd.isna(v) else f"{v / 1e6:,.2f}M")
    billions = (lambda v: "" if pd.isna(v) else f"{v / 1e9:,.2f}G")
    ratio = (lambda v: "" if pd.isna(v) else f"{v:.3f}")
    return frame[columns].style.format({"params": millions, "paper params": millions, "macs": billions,
                                        "paper MACs": billions, "params / paper": ratio,
                                        "MACs / paper": ratio, "activation_mib": "{:,.1f} MiB"})
