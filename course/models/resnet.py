"""Residual networks and their relatives, each from its paper's stage table.

* ResNet-18/34/50/101/152 for ImageNet and their plain twins (He et al. 2016, Table 1);
* the CIFAR-10 ResNets of depth 6n+2 and their plain twins (section 4.2);
* the pre-activation ResNet (He et al., "Identity mappings in deep residual networks", 2016);
* ResNeXt (Xie et al. 2017), wide ResNets (Zagoruyko & Komodakis 2016);
* stochastic depth (Huang et al. 2016) as an option of every residual builder.

Layer names follow keras.applications: ``conv3_block2_1_conv`` is the first
convolution of the second block of stage conv3_x.
"""
from __future__ import annotations

from typing import Callable

import keras
from keras import layers

from course.models._registry import register
from course.models.blocks import (BN_EPSILON, check_positive_int, classifier, conv_bn_relu, image_input,
                                  is_positive_int)
from course.models.layers import DropPath, ZeroPadShortcut


# --------------------------------------------------------------------------- the blocks

SHORTCUT_OPTIONS = ("A", "B", "C")


def drop_path_rates(num_blocks: int, final_rate: float) -> list[float]:
    """Stochastic depth's linear decay rule: block l of L is dropped with rate (l / L) * final_rate.

    The survival probability falls linearly from 1 at the input to
    ``1 - final_rate`` at the last block.

    Args:
        num_blocks: the number of residual blocks L.
        final_rate: the drop rate of the last block, in [0, 1) (the paper uses 0.5).

    Returns:
        The drop rate of each block, first to last.
    """
    if not 0.0 <= final_rate < 1.0:
        raise ValueError(f"stochastic_depth (drop rate of the last block) must be in [0, 1), "
                         f"got {final_rate}; the paper uses 0.5")
    return [final_rate * l / num_blocks for l in range(1, num_blocks + 1)]


def shortcut(x, filters: int, stride: int = 1, option: str = "B", *, name: str, use_bias: bool = False,
             normalize: bool = True):
    """The identity path of a residual block, adapted when the shape changes.

    Args:
        x: the block's input.
        filters: the number of maps the block outputs.
        stride: the block's stride.
        option: He et al. 2016 (section 4.1): "A" zero-pads the extra channels (no parameters),
            "B" projects with a 1x1 convolution only when the shape changes, "C" always projects.
        name: the block's name; the layers are ``{name}_0_conv``, ``_0_bn`` or ``_0_pad``.
        use_bias: whether a projection has biases.
        normalize: whether a projection is batch-normalised (False in pre-activation blocks,
            whose input already is).

    Returns:
        The tensor to add to the residual branch.
    """
    if option not in SHORTCUT_OPTIONS:
        raise ValueError(f"shortcut must be one of {SHORTCUT_OPTIONS} (He et al. 2016), got {option!r}")
    changes = stride != 1 or x.shape[-1] != filters
    if option == "C" or (option == "B" and changes):
        x = layers.Conv2D(filters, 1, strides=stride, use_bias=use_bias, name=f"{name}_0_conv")(x)
        return layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_0_bn")(x) if normalize else x
    if changes:
        return ZeroPadShortcut(filters, stride, name=f"{name}_0_pad")(x)
    return x


def _add(identity, residual, drop_rate: float, name: str):
    """Shortcut plus residual branch, the branch dropped per example with ``drop_rate``."""
    if drop_rate > 0:
        residual = DropPath(drop_rate, name=f"{name}_drop")(residual)
    return layers.Add(name=f"{name}_add")([identity, residual])


def basic_block(x, filters: int, stride: int = 1, *, name: str, shortcut_option: str = "B",
                residual: bool = True, drop_rate: float = 0.0, use_bias: bool = False):
    """Two 3x3 convolutions plus the shortcut: the block of ResNet-18/34 and the CIFAR nets.

    Args:
        x: the input tensor.
        filters: the number of maps of both convolutions.
        stride: the first convolution's stride.
        name: the prefix of the block's layers, e.g. ``conv2_block1``.
        shortcut_option: "A", "B" or "C" (see `shortcut`).
        residual: False gives the plain block: the same layers without the shortcut.
        drop_rate: the stochastic-depth rate of the residual branch.
        use_bias: whether the convolutions have biases.

    Returns:
        The block's output, after the final ReLU.
    """
    identity = shortcut(x, filters, stride, shortcut_option, name=name, use_bias=use_bias) if residual else None
    y = conv_bn_relu(x, filters, 3, stride, name=f"{name}_1", use_bias=use_bias)
    y = conv_bn_relu(y, filters, 3, name=f"{name}_2", use_bias=use_bias, activation=None)
    if residual:
        y = _add(identity, y, drop_rate, name)
    return layers.Activation("relu", name=f"{name}_out")(y)


def bottleneck_block(x, filters: int, stride: int = 1, *, name: str, width: int | None = None,
                     groups: int = 1, expansion: int = 4, stride_in_3x3: bool = False,
                     shortcut_option: str = "B", residual: bool = True, drop_rate: float = 0.0,
                     use_bias: bool = False):
    """1x1 reduce, 3x3, 1x1 expand, plus the shortcut: the 1x1s cut the cost of the 3x3.

    At 256 channels that is ~70K instead of ~600K multiply-adds per pixel.

    Args:
        x: the input tensor.
        filters: the bottleneck's maps; the block outputs ``expansion * filters``.
        stride: the block's stride.
        name: the prefix of the block's layers, e.g. ``conv2_block1``.
        width: the maps of the 1x1 reduce and the 3x3 convolution; None means ``filters``.
        groups: above 1, the 3x3 is a grouped convolution: ResNeXt's aggregated transform.
        expansion: how many times ``filters`` the block outputs.
        stride_in_3x3: put the stride on the 3x3 (ResNeXt) instead of the first 1x1 (the
            ResNet paper's model and keras.applications).
        shortcut_option: "A", "B" or "C" (see `shortcut`).
        residual: False gives the plain block: the same layers without the shortcut.
        drop_rate: the stochastic-depth rate of the residual branch.
        use_bias: whether the convolutions have biases.

    Returns:
        The block's output, after the final ReLU.
    """
    width = width or filters
    if width % groups:
        raise ValueError(f"the cardinality ({groups} groups) must divide the bottleneck width {width}; "
                         f"choose one of {[g for g in range(1, width + 1) if width % g == 0]}")
    out = expansion * filters
    identity = shortcut(x, out, stride, shortcut_option, name=name, use_bias=use_bias) if residual else None
    y = conv_bn_relu(x, width, 1, 1 if stride_in_3x3 else stride, name=f"{name}_1", use_bias=use_bias)
    y = conv_bn_relu(y, width, 3, stride if stride_in_3x3 else 1, name=f"{name}_2", groups=groups,
                     use_bias=use_bias)
    y = conv_bn_relu(y, out, 1, name=f"{name}_3", use_bias=use_bias, activation=None)
    if residual:
        y = _add(identity, y, drop_rate, name)
    return layers.Activation("relu", name=f"{name}_out")(y)


def preact_block(x, filters: int, stride: int = 1, *, name: str, shortcut_option: str = "B",
                 dropout: float = 0.0, drop_rate: float = 0.0):
    """Pre-activation basic block (He et al., "Identity mappings", 2016): BN-ReLU-conv, twice.

    Nothing follows the addition, so the shortcut is a clean identity path.
    A projection shortcut reads the pre-activated input, as in the paper.

    Args:
        x: the input tensor.
        filters: the number of maps of both convolutions.
        stride: the first convolution's stride.
        name: the prefix of the block's layers, e.g. ``conv2_block1``.
        shortcut_option: "A", "B" or "C" (see `shortcut`).
        dropout: the dropout rate between the convolutions (the wide ResNet's variant).
        drop_rate: the stochastic-depth rate of the residual branch.

    Returns:
        The sum of shortcut and residual branch, not activated.
    """
    pre = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_preact_bn")(x)
    pre = layers.Activation("relu", name=f"{name}_preact_relu")(pre)
    projects = shortcut_option == "C" or (shortcut_option == "B" and (stride != 1 or x.shape[-1] != filters))
    identity = shortcut(pre if projects else x, filters, stride, shortcut_option, name=name, normalize=False)
    y = conv_bn_relu(pre, filters, 3, stride, name=f"{name}_1")
    if dropout:
        y = layers.Dropout(dropout, name=f"{name}_dropout")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return _add(identity, y, drop_rate, name)


def wide_block(x, filters: int, stride: int = 1, *, name: str, dropout: float = 0.0, drop_rate: float = 0.0):
    """Wide ResNet block (Zagoruyko & Komodakis 2016): a pre-activation block, k times wider.

    Args:
        x: the input tensor.
        filters: the number of maps, already multiplied by the widening factor k.
        stride: the first convolution's stride.
        name: the prefix of the block's layers, e.g. ``conv2_block1``.
        dropout: the dropout rate between the two 3x3 convolutions.
        drop_rate: the stochastic-depth rate of the residual branch.

    Returns:
        The sum of shortcut and residual branch, not activated.
    """
    return preact_block(x, filters, stride, name=name, dropout=dropout, drop_rate=drop_rate)


# Table 1: block type and blocks per stage conv2_x .. conv5_x (64, 128, 256, 512 filters).
IMAGENET_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
IMAGENET_FILTERS = (64, 128, 256, 512)
IMAGENET_MIN_SIZE = 32  # five stride-2 steps
CIFAR_FILTERS = (16, 32, 64)
CIFAR_MIN_SIZE = 4      # two stride-2 steps


def _check_depth(depth, allowed: str, valid: Callable[[int], bool], examples) -> int:
    """``depth`` as an int, or a ValueError saying which depths are ``allowed``."""
    if not is_positive_int(depth) or not valid(depth):
        raise ValueError(f"depth must be {allowed}, e.g. {', '.join(map(str, examples))}; got {depth!r}")
    return int(depth)


def _imagenet_stages(depth) -> tuple[str, tuple[int, ...]]:
    """Table 1's block type and blocks per stage for an ImageNet ``depth``."""
    depth = _check_depth(depth, "one of the paper's ImageNet depths", IMAGENET_STAGES.__contains__,
                         IMAGENET_STAGES)
    return IMAGENET_STAGES[depth]


def _imagenet_stem(x, use_bias: bool = False):
    """7x7/2 convolution and 3x3/2 max pool: 224 -> 112 -> 56."""
    x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = conv_bn_relu(x, 64, 7, 2, name="conv1", padding="valid", use_bias=use_bias)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _stages(x, blocks_per_stage, block: Callable, first_stage: int, stochastic_depth: float):
    """Stack the stages; the first block of every stage but the first one halves the grid."""
    rates = iter(drop_path_rates(sum(blocks_per_stage), stochastic_depth))
    for s, num_blocks in enumerate(blocks_per_stage):
        for b in range(1, num_blocks + 1):
            stride = 2 if s > 0 and b == 1 else 1
            x = block(x, s, stride, name=f"conv{first_stage + s}_block{b}", drop_rate=next(rates))
    return x


def _head(x, num_classes, classifier_activation, pre_activation: bool = False):
    """Global average pooling and the classifier (after a last BN-ReLU in pre-activation nets)."""
    if pre_activation:  # the last block ends with an addition: normalise and rectify once more
        x = layers.BatchNormalization(epsilon=1.001e-5, name="post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return classifier(x, num_classes, classifier_activation)


def resnet(depth: int = 50, input_shape=(224, 224, 3), num_classes: int = 1000, *, shortcut: str = "B",
           residual: bool = True, conv_bias: bool = False, stochastic_depth: float = 0.0,
           classifier_activation: str | None = "softmax", name: str = "resnet") -> keras.Model:
    """The ImageNet ResNet of He et al. 2016, Table 1, or its plain twin.

    Args:
        depth: 18, 34, 50, 101 or 152.
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        shortcut: the shortcut option "A", "B" or "C" (see `shortcut`).
        residual: False builds the plain twin: the same layers without shortcuts.
        conv_bias: add the convolution biases of keras.applications' ResNet50/101/152 (redundant:
            batch norm removes them), whose parameter counts it then equals.
        stochastic_depth: the drop rate of the last block (0 turns stochastic depth off).
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    kind, blocks_per_stage = _imagenet_stages(depth)
    inputs, x = image_input(input_shape, min_size=IMAGENET_MIN_SIZE, model=name)
    x = _imagenet_stem(x, conv_bias)
    block_fn = basic_block if kind == "basic" else bottleneck_block

    def block(x, stage, stride, **kwargs):
        return block_fn(x, IMAGENET_FILTERS[stage], stride, shortcut_option=shortcut, residual=residual,
                        use_bias=conv_bias, **kwargs)

    x = _stages(x, blocks_per_stage, block, 2, stochastic_depth)
    return keras.Model(inputs, _head(x, num_classes, classifier_activation), name=name)


def preact_resnet(depth: int = 18, input_shape=(224, 224, 3), num_classes: int = 1000, *,
                  shortcut: str = "B", stochastic_depth: float = 0.0,
                  classifier_activation: str | None = "softmax", name: str = "preact_resnet") -> keras.Model:
    """ImageNet ResNet-18/34 with pre-activation blocks (BN and ReLU before each convolution).

    Args:
        depth: 18 or 34.
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        shortcut: the shortcut option "A", "B" or "C" (see `shortcut`).
        stochastic_depth: the drop rate of the last block (0 turns stochastic depth off).
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    kind, blocks_per_stage = _imagenet_stages(depth)
    if kind != "basic":
        raise ValueError(f"preact_resnet builds the basic-block depths 18 and 34, got {depth}")
    inputs, x = image_input(input_shape, min_size=IMAGENET_MIN_SIZE, model=name)
    x = _imagenet_stem(x)

    def block(x, stage, stride, **kwargs):
        return preact_block(x, IMAGENET_FILTERS[stage], stride, shortcut_option=shortcut, **kwargs)

    x = _stages(x, blocks_per_stage, block, 2, stochastic_depth)
    return keras.Model(inputs, _head(x, num_classes, classifier_activation, pre_activation=True), name=name)


def resnext(depth: int = 50, input_shape=(224, 224, 3), num_classes: int = 1000, *, cardinality: int = 32,
            width: int = 128, stochastic_depth: float = 0.0, classifier_activation: str | None = "softmax",
            name: str = "resnext") -> keras.Model:
    """ResNeXt (Table 1 of Xie et al.): ResNet's bottleneck stages with a grouped 3x3 convolution.

    Args:
        depth: 50, 101 or 152.
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        cardinality: the number of groups of the 3x3 convolutions.
        width: the bottleneck width of conv2_x, doubling each stage; 32x4d means 32 groups
            of 4 channels, width 128.
        stochastic_depth: the drop rate of the last block (0 turns stochastic depth off).
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    kind, blocks_per_stage = _imagenet_stages(depth)
    if kind != "bottleneck":
        raise ValueError(f"ResNeXt uses bottleneck blocks: depth must be 50, 101 or 152, got {depth}")
    cardinality, width = check_positive_int(cardinality, "cardinality"), check_positive_int(width, "width")
    if width % cardinality:
        raise ValueError(f"cardinality {cardinality} does not divide the bottleneck width {width}; "
                         f"choose a divisor of {width} such as {[c for c in (1, 2, 4, 8, 16, 32, 64) if width % c == 0]}")
    inputs, x = image_input(input_shape, min_size=IMAGENET_MIN_SIZE, model=name)
    x = _imagenet_stem(x)

    def block(x, stage, stride, **kwargs):
        return bottleneck_block(x, IMAGENET_FILTERS[stage], stride, width=width * 2 ** stage,
                                groups=cardinality, stride_in_3x3=True, **kwargs)

    x = _stages(x, blocks_per_stage, block, 2, stochastic_depth)
    return keras.Model(inputs, _head(x, num_classes, classifier_activation), name=name)


def resnet_cifar(depth: int = 20, input_shape=(32, 32, 3), num_classes: int = 10, *, shortcut: str = "A",
                 residual: bool = True, stochastic_depth: float = 0.0,
                 classifier_activation: str | None = "softmax", name: str = "resnet_cifar") -> keras.Model:
    """The CIFAR-10 ResNet of He et al. 2016, section 4.2, or its plain twin.

    A 3x3 convolution, then 3 stages of n basic blocks with 16, 32, 64 filters
    on 32, 16, 8 pixel grids: 6n + 2 layers.

    Args:
        depth: 6n + 2, e.g. 20, 32, 44, 56 or 110.
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        shortcut: the shortcut option "A", "B" or "C" (see `shortcut`); with the paper's A the
            residual net has exactly the parameters of its plain twin.
        residual: False builds the plain twin: the same layers without shortcuts.
        stochastic_depth: the drop rate of the last block (0 turns stochastic depth off).
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    depth = _check_depth(depth, "6n + 2 for whole n >= 1", lambda d: d >= 8 and (d - 2) % 6 == 0,
                         (20, 32, 44, 56, 110))
    inputs, x = image_input(input_shape, min_size=CIFAR_MIN_SIZE, model=name)
    x = conv_bn_relu(x, 16, 3, name="conv1")

    def block(x, stage, stride, **kwargs):
        return basic_block(x, CIFAR_FILTERS[stage], stride, shortcut_option=shortcut, residual=residual,
                           **kwargs)

    x = _stages(x, [(depth - 2) // 6] * 3, block, 2, stochastic_depth)
    return keras.Model(inputs, _head(x, num_classes, classifier_activation), name=name)


def wide_resnet(depth: int = 28, width: int = 10, input_shape=(32, 32, 3), num_classes: int = 10, *,
                dropout: float = 0.0, stochastic_depth: float = 0.0,
                classifier_activation: str | None = "softmax", name: str = "wide_resnet") -> keras.Model:
    """The wide ResNet WRN-depth-width (Zagoruyko & Komodakis 2016, Table 1) for CIFAR.

    A 3x3 convolution, then 3 stages of (depth - 4) / 6 wide blocks with 16k,
    32k, 64k filters.

    Args:
        depth: 6n + 4, e.g. 16, 22, 28 or 40.
        width: the widening factor k.
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        dropout: the dropout rate inside each block; the paper's best CIFAR results use 0.3.
        stochastic_depth: the drop rate of the last block (0 turns stochastic depth off).
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    depth = _check_depth(depth, "6n + 4 for whole n >= 1", lambda d: d >= 10 and (d - 4) % 6 == 0,
                         (16, 22, 28, 40))
    width = check_positive_int(width, "width (the widening factor k)")
    inputs, x = image_input(input_shape, min_size=CIFAR_MIN_SIZE, model=name)
    x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1_conv")(x)

    def block(x, stage, stride, **kwargs):
        return wide_block(x, CIFAR_FILTERS[stage] * width, stride, dropout=dropout, **kwargs)

    x = _stages(x, [(depth - 4) // 6] * 3, block, 2, stochastic_depth)
    return keras.Model(inputs, _head(x, num_classes, classifier_activation, pre_activation=True), name=name)


register("resnet18", resnet, depth=18)
register("resnet34", resnet, depth=34)
register("resnet50", resnet, depth=50)
register("resnet101", resnet, depth=101)
register("resnet152", resnet, depth=152)
register("plain18", resnet, depth=18, residual=False)
register("plain34", resnet, depth=34, residual=False)
register("resnet20", resnet_cifar, depth=20)
register("resnet56", resnet_cifar, depth=56)
register("resnet110", resnet_cifar, depth=110)
register("plain20", resnet_cifar, depth=20, residual=False)
register("plain56", resnet_cifar, depth=56, residual=False)
register("preact_resnet18", preact_resnet, depth=18)
register("resnext50_32x4d", resnext, depth=50, cardinality=32, width=128)
register("wide_resnet28_10", wide_resnet, depth=28, width=10)
register("resnet", resnet)              # any ImageNet depth: build("resnet", depth=34, shortcut="A")
register("resnet_cifar", resnet_cifar)  # any 6n+2 depth: build("resnet_cifar", depth=32)
register("resnext", resnext)
register("wide_resnet", wide_resnet)    # any WRN-d-k: build("wide_resnet", depth=16, width=8)
