"""Reusable building blocks of the model zoo, as functions on Keras tensors.

Each block takes a tensor and returns a tensor, naming its layers
``{name}_{part}`` (``conv2_block1_1_conv``, ``inception_3a_5x5_reduce``...)
so that a model summary reads like the paper's table. Assignments and demos
compose them with the functional API exactly as the builders do.
"""
from __future__ import annotations

import numbers

import math
from typing import Sequence

import keras
from keras import layers

from course.models.layers import DropPath, LocalResponseNormalization, ZeroPadShortcut

BN_EPSILON = 1.001e-5  # keras.applications' ResNet/DenseNet value; keeps the nets interchangeable
MAX_UPSCALE = 3        # the largest enlargement `image_input` applies to a too-small image
SHORTCUT_OPTIONS = ("A", "B", "C")


# --------------------------------------------------------------------------- input and output

def is_positive_int(value) -> bool:
    """A whole number of at least 1 (``True`` is an int in Python, but not a size)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def check_positive_int(value, what: str, detail: str = "") -> int:
    """``value`` as an int, or a ValueError naming ``what`` (``detail``: e.g. what the paper uses)."""
    if not is_positive_int(value):
        raise ValueError(f"{what} must be a positive whole number{detail}, got {value!r}")
    return int(value)


def image_input(input_shape: Sequence[int], *, min_size: int, model: str,
                adapt: str = "resize") -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The model's Input, and the tensor the network starts from.

    ``min_size`` is the smallest side the paper's layers can downsample. A
    smaller image is enlarged to it: bilinear resizing (``adapt="resize"``,
    layer ``resize``) or centred zero padding (``adapt="pad"``, layer
    ``pad``, which is how LeNet-5 put 28x28 digits in its 32x32 field). Beyond
    a x3 enlargement the network would see mostly interpolation or padding,
    so such inputs are refused with the smallest size that works.
    """
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    height, width, channels = (check_positive_int(d, "every input_shape entry") for d in input_shape)
    inputs = keras.Input(shape=(height, width, channels), name="image")
    if min(height, width) >= min_size:
        return inputs, inputs
    smallest = math.ceil(min_size / MAX_UPSCALE)
    if min(height, width) < smallest:
        raise ValueError(
            f"{model} needs images of at least {smallest}x{smallest}: its downsampling needs "
            f"{min_size}x{min_size}, and smaller images are enlarged at most x{MAX_UPSCALE}; "
            f"got {height}x{width}. Pass a larger input_shape.")
    new_h, new_w = max(height, min_size), max(width, min_size)
    if adapt == "pad":
        pad_h, pad_w = new_h - height, new_w - width
        x = layers.ZeroPadding2D(((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)),
                                 name="pad")(inputs)
    else:
        x = layers.Resizing(new_h, new_w, interpolation="bilinear", name="resize")(inputs)
    return inputs, x


def classifier(x, num_classes: int, activation: str | None = "softmax", name: str = "predictions"):
    """The final fully connected layer; ``activation=None`` returns logits.

    It always computes in float32: under a mixed-precision policy a float16
    softmax (or logits fed to one) rounds small probabilities to zero.
    """
    check_positive_int(num_classes, "num_classes")
    return layers.Dense(num_classes, activation=activation, name=name, dtype="float32")(x)


# --------------------------------------------------------------------------- plain convolutions

def conv_bn_relu(x, filters: int, kernel_size: int | tuple[int, int], strides: int = 1, *,
                 name: str, padding: str = "same", use_bias: bool = False, activation: str | None = "relu",
                 bn_scale: bool = True, bn_epsilon: float = BN_EPSILON):
    """Convolution, batch normalisation, then ReLU (``{name}_conv``, ``_bn``, ``_relu``).

    ``activation=None`` stops after the normalisation (the last conv of a residual branch).
    """
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=bn_epsilon, scale=bn_scale, name=f"{name}_bn")(x)
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_relu")(x)
    return x


def conv_relu(x, filters: int, kernel_size: int, strides: int = 1, *, name: str,
              padding: str = "same"):
    """Convolution with bias and ReLU, the pre-batch-norm style of AlexNet, VGG and GoogLeNet."""
    return layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, activation="relu",
                         name=name)(x)


def lrn(x, *, name: str):
    """Local response normalisation with AlexNet's constants (used by ZFNet, VGG-A-LRN, GoogLeNet)."""
    return LocalResponseNormalization(name=name)(x)


def mlpconv(x, filters: Sequence[int], kernel_size: int, strides: int = 1, *, name: str):
    """NiN's micro network: a k x k convolution followed by 1x1 convolutions, all with ReLU.

    The 1x1 layers are a small multilayer perceptron slid over every pixel
    (Lin et al. 2014); ``filters`` lists the widths, first the k x k one.
    """
    first, *rest = filters
    x = conv_relu(x, first, kernel_size, strides, name=f"{name}_conv")
    for i, width in enumerate(rest, start=1):
        x = conv_relu(x, width, 1, name=f"{name}_cccp{i}")
    return x


# --------------------------------------------------------------------------- Inception

def inception_module(x, n1x1: int, n3x3_reduce: int, n3x3: int, n5x5_reduce: int, n5x5: int,
                     pool_proj: int, *, name: str):
    """GoogLeNet's module (Szegedy et al. 2015, Fig. 2b): four parallel paths, concatenated.

    The 1x1 "reduce" convolutions shrink the channels before the expensive 3x3
    and 5x5 ones; the arguments are the columns of the paper's Table 1.
    """
    branch1 = conv_relu(x, n1x1, 1, name=f"{name}_1x1")
    branch3 = conv_relu(x, n3x3_reduce, 1, name=f"{name}_3x3_reduce")
    branch3 = conv_relu(branch3, n3x3, 3, name=f"{name}_3x3")
    branch5 = conv_relu(x, n5x5_reduce, 1, name=f"{name}_5x5_reduce")
    branch5 = conv_relu(branch5, n5x5, 5, name=f"{name}_5x5")
    pool = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    pool = conv_relu(pool, pool_proj, 1, name=f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_output")([branch1, branch3, branch5, pool])


AUX_POOL = 5  # both Inception papers pool the auxiliary head's input 5x5 with stride 3


def _aux_pool(x, name: str):
    """5x5 average pooling, stride 3 ('valid'). A grid smaller than the window (a small input
    image) is pooled whole instead, so Fashion-MNIST-sized models can keep their heads."""
    window = tuple(min(AUX_POOL, side) for side in x.shape[1:3])
    return layers.AveragePooling2D(window, strides=3, name=f"{name}_pool")(x)


def googlenet_aux_classifier(x, num_classes: int, *, name: str, activation: str | None = "softmax",
                             dropout: float = 0.7):
    """GoogLeNet's auxiliary classifier (Szegedy et al. 2015, section 5), for inception 4a and 4d.

    A training aid: its loss, weighted 0.3, adds gradient to the middle of the
    network; at test time it is dropped. Layers: 5x5/3 average pooling (14x14
    -> 4x4 at 224x224), 1x1 convolution to 128 maps with ReLU, a 1024-unit
    fully connected layer with ReLU, 70% dropout, and the linear classifier.
    """
    x = _aux_pool(x, name)
    x = conv_relu(x, 128, 1, name=f"{name}_conv")
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(dropout, name=f"{name}_drop")(x)
    return classifier(x, num_classes, activation, name=f"{name}_predictions")


def _v3_conv(x, filters, kernel_size, strides=1, padding="same", *, name):
    # Inception v3 convolutions: no bias, batch norm without scale (ReLU follows), as in TF's model.
    return conv_bn_relu(x, filters, kernel_size, strides, name=name, padding=padding,
                        bn_scale=False, bn_epsilon=1e-3)


def _v3_pool_branch(x, filters, name):
    pool = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    return _v3_conv(pool, filters, 1, name=f"{name}_pool_proj")


def inception_v3_a(x, pool_filters: int, *, name: str):
    """35x35 module (Szegedy et al. 2016, Fig. 5): the 5x5 path factorised into small convolutions."""
    branch1 = _v3_conv(x, 64, 1, name=f"{name}_1x1")
    branch5 = _v3_conv(x, 48, 1, name=f"{name}_5x5_reduce")
    branch5 = _v3_conv(branch5, 64, 5, name=f"{name}_5x5")
    branch3 = _v3_conv(x, 64, 1, name=f"{name}_3x3dbl_reduce")
    branch3 = _v3_conv(branch3, 96, 3, name=f"{name}_3x3dbl_1")
    branch3 = _v3_conv(branch3, 96, 3, name=f"{name}_3x3dbl_2")
    return layers.Concatenate(name=name)([branch1, branch5, branch3, _v3_pool_branch(x, pool_filters, name)])


def inception_v3_b(x, width: int, *, name: str):
    """17x17 module (Fig. 6): n x n convolutions factorised into 1 x 7 then 7 x 1."""
    branch1 = _v3_conv(x, 192, 1, name=f"{name}_1x1")
    branch7 = _v3_conv(x, width, 1, name=f"{name}_7x7_reduce")
    branch7 = _v3_conv(branch7, width, (1, 7), name=f"{name}_1x7")
    branch7 = _v3_conv(branch7, 192, (7, 1), name=f"{name}_7x1")
    double = _v3_conv(x, width, 1, name=f"{name}_7x7dbl_reduce")
    for i, (kernel, filters) in enumerate([((7, 1), width), ((1, 7), width), ((7, 1), width),
                                           ((1, 7), 192)], start=1):
        double = _v3_conv(double, filters, kernel, name=f"{name}_7x7dbl_{i}")
    return layers.Concatenate(name=name)([branch1, branch7, double, _v3_pool_branch(x, 192, name)])


def inception_v3_c(x, *, name: str):
    """8x8 module (Fig. 7): the filter bank is expanded into parallel 1 x 3 and 3 x 1 outputs."""
    branch1 = _v3_conv(x, 320, 1, name=f"{name}_1x1")
    branch3 = _v3_conv(x, 384, 1, name=f"{name}_3x3_reduce")
    branch3 = layers.Concatenate(name=f"{name}_3x3")([
        _v3_conv(branch3, 384, (1, 3), name=f"{name}_1x3"),
        _v3_conv(branch3, 384, (3, 1), name=f"{name}_3x1")])
    double = _v3_conv(x, 448, 1, name=f"{name}_3x3dbl_reduce")
    double = _v3_conv(double, 384, 3, name=f"{name}_3x3dbl")
    double = layers.Concatenate(name=f"{name}_3x3dbl_split")([
        _v3_conv(double, 384, (1, 3), name=f"{name}_3x3dbl_1x3"),
        _v3_conv(double, 384, (3, 1), name=f"{name}_3x3dbl_3x1")])
    return layers.Concatenate(name=name)([branch1, branch3, double, _v3_pool_branch(x, 192, name)])


def inception_v3_reduction(x, paths: Sequence[Sequence[tuple]], *, name: str):
    """Grid-size reduction (Fig. 10): strided convolution paths beside a max pool, concatenated.

    Each path is a list of ``(filters, kernel_size)``; its last convolution has
    stride 2 and 'valid' padding, so it halves the grid exactly as the pool does.
    """
    outputs = []
    for p, path in enumerate(paths, start=1):
        y = x
        for i, (filters, kernel) in enumerate(path, start=1):
            last = i == len(path)
            y = _v3_conv(y, filters, kernel, 2 if last else 1, "valid" if last else "same",
                         name=f"{name}_path{p}_{i}")
        outputs.append(y)
    outputs.append(layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x))
    return layers.Concatenate(name=name)(outputs)


def inception_v3_aux_classifier(x, num_classes: int, *, name: str, activation: str | None = "softmax"):
    """Inception v3's auxiliary classifier on the last 17x17 grid (Szegedy et al. 2016, Fig. 8).

    The paper keeps only this upper head and finds it acts as a regulariser,
    more so with batch normalisation in it. Layers as in TensorFlow's trained
    model: 5x5/3 average pooling (17x17 -> 5x5), a 1x1 convolution to 128
    maps, a 5x5 'valid' convolution to 768 maps (a fully connected layer over
    the 5x5 grid; smaller on a smaller grid), both batch-normalised, then the
    linear classifier.
    """
    x = _aux_pool(x, name)
    x = _v3_conv(x, 128, 1, name=f"{name}_1x1")
    x = _v3_conv(x, 768, tuple(min(AUX_POOL, side) for side in x.shape[1:3]), padding="valid",
                 name=f"{name}_5x5")
    x = layers.Flatten(name=f"{name}_flatten")(x)
    return classifier(x, num_classes, activation, name=f"{name}_predictions")


# --------------------------------------------------------------------------- residual blocks

def drop_path_rates(num_blocks: int, final_rate: float) -> list[float]:
    """Stochastic depth's linear decay rule: block l of L is dropped with rate (l / L) * final_rate.

    The survival probability falls linearly from 1 at the input to
    ``1 - final_rate`` at the last block (the paper uses 0.5).
    """
    if not 0.0 <= final_rate < 1.0:
        raise ValueError(f"stochastic_depth (drop rate of the last block) must be in [0, 1), "
                         f"got {final_rate}; the paper uses 0.5")
    return [final_rate * l / num_blocks for l in range(1, num_blocks + 1)]


def shortcut(x, filters: int, stride: int = 1, option: str = "B", *, name: str, use_bias: bool = False,
             normalize: bool = True):
    """The identity path of a residual block, adapted when the shape changes.

    Options of He et al. 2016 (section 4.1): A zero-pads the extra channels
    (no parameters), B projects with a 1x1 convolution only when the shape
    changes, C always projects. A projection is batch-normalised unless
    ``normalize=False`` (pre-activation blocks, where its input already is).
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
    if drop_rate > 0:
        residual = DropPath(drop_rate, name=f"{name}_drop")(residual)
    return layers.Add(name=f"{name}_add")([identity, residual])


def basic_block(x, filters: int, stride: int = 1, *, name: str, shortcut_option: str = "B",
                residual: bool = True, drop_rate: float = 0.0, use_bias: bool = False):
    """Two 3x3 convolutions plus the shortcut (ResNet-18/34 and the CIFAR nets).

    ``residual=False`` gives the plain block: the same layers without the shortcut.
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
    """1x1 reduce, 3x3, 1x1 expand to ``expansion * filters`` channels, plus the shortcut.

    The 1x1 convolutions cut the cost of the 3x3 one (~70K instead of ~600K
    multiply-adds per pixel at 256 channels). ``groups`` > 1 makes the 3x3 a
    grouped convolution of ``width`` channels: ResNeXt's aggregated transform.
    The stride sits on the first 1x1 as in the ResNet paper's model (and
    keras.applications), or on the 3x3 with ``stride_in_3x3`` (ResNeXt).
    """
    width = width or filters
    if width % groups:
        raise ValueError(f"the cardinality ({groups} groups) must divide the bottleneck width {width}; "
                         f"choose one of {[g for g in range(1, width + 1) if width % g == 0]}")
    out = expansion * filters
    identity = shortcut(x, out, stride, shortcut_option, name=name, use_bias=use_bias) if residual else None
    y = conv_bn_relu(x, width, 1, 1 if stride_in_3x3 else stride, name=f"{name}_1", use_bias=use_bias)
    if groups == 1:
        y = conv_bn_relu(y, width, 3, stride if stride_in_3x3 else 1, name=f"{name}_2", use_bias=use_bias)
    else:
        y = layers.Conv2D(width, 3, strides=stride if stride_in_3x3 else 1, padding="same", groups=groups,
                          use_bias=use_bias, name=f"{name}_2_conv")(y)
        y = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_2_bn")(y)
        y = layers.Activation("relu", name=f"{name}_2_relu")(y)
    y = conv_bn_relu(y, out, 1, name=f"{name}_3", use_bias=use_bias, activation=None)
    if residual:
        y = _add(identity, y, drop_rate, name)
    return layers.Activation("relu", name=f"{name}_out")(y)


def preact_block(x, filters: int, stride: int = 1, *, name: str, shortcut_option: str = "B",
                 dropout: float = 0.0, drop_rate: float = 0.0):
    """Pre-activation basic block (He et al., "Identity mappings", 2016): BN-ReLU-conv, twice.

    Nothing follows the addition, so the shortcut is a clean identity path.
    A projection shortcut reads the pre-activated input, as in the paper.
    ``dropout`` between the convolutions is the wide ResNet's variant.
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
    """Wide ResNet block (Zagoruyko & Komodakis 2016): a pre-activation block, k times wider,
    with dropout between its two 3x3 convolutions; ``filters`` is already multiplied by k."""
    return preact_block(x, filters, stride, name=name, dropout=dropout, drop_rate=drop_rate)


# --------------------------------------------------------------------------- DenseNet

def check_growth_rate(growth_rate) -> int:
    """A DenseNet's growth rate k: the number of maps each dense layer adds."""
    return check_positive_int(growth_rate, "growth_rate", " of maps per layer (the paper uses 12, 24, 32 or 40)")


def dense_layer(x, growth_rate: int, *, name: str, bottleneck: bool = True):
    """BN-ReLU-conv producing ``growth_rate`` new maps, concatenated to its input.

    With ``bottleneck`` (DenseNet-B) a 1x1 convolution to 4k maps comes first.
    """
    y = x
    if bottleneck:
        y = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_0_bn")(y)
        y = layers.Activation("relu", name=f"{name}_0_relu")(y)
        y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
    y = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_1_bn")(y)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return layers.Concatenate(name=f"{name}_concat")([x, y])


def dense_block(x, num_layers: int, growth_rate: int, *, name: str, bottleneck: bool = True):
    """``num_layers`` dense layers: each sees the maps of all layers before it."""
    check_growth_rate(growth_rate)
    for i in range(1, num_layers + 1):
        x = dense_layer(x, growth_rate, name=f"{name}_block{i}", bottleneck=bottleneck)
    return x


def transition(x, compression: float = 0.5, *, name: str):
    """BN-ReLU-1x1 conv keeping ``compression`` of the maps, then 2x2 average pooling (DenseNet-C)."""
    if not 0.0 < compression <= 1.0:
        raise ValueError(f"compression must be in (0, 1] (0.5 in DenseNet-BC, 1 without), got {compression}")
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[-1] * compression), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)
