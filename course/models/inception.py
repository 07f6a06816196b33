"""GoogLeNet (Inception v1, Szegedy et al. 2015) and Inception v3 (Szegedy et al. 2016).

GoogLeNet's Table 1 is kept as data: one row per inception module with the
widths of its six convolutions. The auxiliary classifiers, a training aid
dropped at test time, are an option (``aux_classifiers=True``): they become
extra outputs after the main one, ``predictions``.
"""
from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from course.models._registry import register
from course.models.blocks import classifier, conv_bn_relu, conv_relu, image_input, lrn


# --------------------------------------------------------------------------- the modules

def inception_module(x, n1x1: int, n3x3_reduce: int, n3x3: int, n5x5_reduce: int, n5x5: int,
                     pool_proj: int, *, name: str):
    """GoogLeNet's module (Szegedy et al. 2015, Fig. 2b): four parallel paths, concatenated.

    The 1x1 "reduce" convolutions shrink the channels before the expensive 3x3
    and 5x5 ones; the width arguments are the columns of the paper's Table 1.

    Args:
        x: the input tensor.
        n1x1: the filters of the 1x1 path.
        n3x3_reduce: the filters of the 1x1 convolution before the 3x3.
        n3x3: the filters of the 3x3 path.
        n5x5_reduce: the filters of the 1x1 convolution before the 5x5.
        n5x5: the filters of the 5x5 path.
        pool_proj: the filters of the 1x1 convolution after the 3x3 max pool.
        name: the prefix of the module's layers, e.g. ``inception_3a``.

    Returns:
        The four paths' maps, concatenated.
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
    """5x5/3 average pooling, or the whole grid if smaller (so small models keep their heads)."""
    window = tuple(min(AUX_POOL, side) for side in x.shape[1:3])
    return layers.AveragePooling2D(window, strides=3, name=f"{name}_pool")(x)


def googlenet_aux_classifier(x, num_classes: int, *, name: str, activation: str | None = "softmax",
                             dropout: float = 0.7):
    """GoogLeNet's auxiliary classifier (Szegedy et al. 2015, section 5), for inception 4a and 4d.

    A training aid: its loss, weighted 0.3, adds gradient to the middle of the
    network; at test time it is dropped. Layers: 5x5/3 average pooling (14x14
    -> 4x4 at 224x224), 1x1 convolution to 128 maps with ReLU, a 1024-unit
    fully connected layer with ReLU, dropout, and the linear classifier.

    Args:
        x: the module output it reads.
        num_classes: the number of outputs.
        name: the prefix of its layers, e.g. ``aux1``.
        activation: the output activation; None returns logits.
        dropout: the dropout rate before the classifier (the paper's 70%).

    Returns:
        The auxiliary class scores.
    """
    x = _aux_pool(x, name)
    x = conv_relu(x, 128, 1, name=f"{name}_conv")
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(dropout, name=f"{name}_drop")(x)
    return classifier(x, num_classes, activation, name=f"{name}_predictions")


def _v3_conv(x, filters, kernel_size, strides=1, padding="same", *, name):
    """Inception v3's conv-BN-ReLU: no bias, batch norm without scale, as in TF's model."""
    return conv_bn_relu(x, filters, kernel_size, strides, name=name, padding=padding,
                        bn_scale=False, bn_epsilon=1e-3)


def _v3_pool_branch(x, filters, name):
    """3x3 average pooling then a 1x1 projection: the pool path of the v3 modules."""
    pool = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    return _v3_conv(pool, filters, 1, name=f"{name}_pool_proj")


def inception_v3_a(x, pool_filters: int, *, name: str):
    """35x35 module (Szegedy et al. 2016, Fig. 5): the 5x5 path factorised into small convolutions.

    Args:
        x: the input tensor.
        pool_filters: the filters of the pool path's 1x1 projection.
        name: the module's name, e.g. ``mixed0``, and the prefix of its layers.

    Returns:
        The four paths' maps, concatenated.
    """
    branch1 = _v3_conv(x, 64, 1, name=f"{name}_1x1")
    branch5 = _v3_conv(x, 48, 1, name=f"{name}_5x5_reduce")
    branch5 = _v3_conv(branch5, 64, 5, name=f"{name}_5x5")
    branch3 = _v3_conv(x, 64, 1, name=f"{name}_3x3dbl_reduce")
    branch3 = _v3_conv(branch3, 96, 3, name=f"{name}_3x3dbl_1")
    branch3 = _v3_conv(branch3, 96, 3, name=f"{name}_3x3dbl_2")
    return layers.Concatenate(name=name)([branch1, branch5, branch3, _v3_pool_branch(x, pool_filters, name)])


def inception_v3_b(x, width: int, *, name: str):
    """17x17 module (Szegedy et al. 2016, Fig. 6): n x n convolutions factorised into 1 x 7 then 7 x 1.

    Args:
        x: the input tensor.
        width: the filters of the factorised 7x7 paths before their last convolution.
        name: the module's name, e.g. ``mixed4``, and the prefix of its layers.

    Returns:
        The four paths' maps, concatenated.
    """
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
    """8x8 module (Szegedy et al. 2016, Fig. 7): the filter bank expanded into parallel 1x3 and 3x1 outputs.

    Args:
        x: the input tensor.
        name: the module's name, e.g. ``mixed9``, and the prefix of its layers.

    Returns:
        The four paths' maps, concatenated.
    """
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
    """Grid-size reduction (Szegedy et al. 2016, Fig. 10): strided convolution paths beside a max pool.

    Args:
        x: the input tensor.
        paths: the convolution paths, each a list of ``(filters, kernel_size)``; the last
            convolution of a path has stride 2 and 'valid' padding, so it halves the grid
            exactly as the pool does.
        name: the module's name, e.g. ``mixed3``, and the prefix of its layers.

    Returns:
        The paths' maps and the pooled input, concatenated.
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

    Args:
        x: the module output it reads.
        num_classes: the number of outputs.
        name: the prefix of its layers, e.g. ``aux``.
        activation: the output activation; None returns logits.

    Returns:
        The auxiliary class scores.
    """
    x = _aux_pool(x, name)
    x = _v3_conv(x, 128, 1, name=f"{name}_1x1")
    x = _v3_conv(x, 768, tuple(min(AUX_POOL, side) for side in x.shape[1:3]), padding="valid",
                 name=f"{name}_5x5")
    x = layers.Flatten(name=f"{name}_flatten")(x)
    return classifier(x, num_classes, activation, name=f"{name}_predictions")


# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj; "pool" = 3x3 max pool, stride 2.
GOOGLENET_TABLE = (
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    "pool",
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    "pool",
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
)
GOOGLENET_AUX_AFTER = ("4a", "4d")  # section 5: the modules the auxiliary classifiers sit on
GOOGLENET_MIN_SIZE = 32  # five stride-2 stages


def _model(inputs, main_output, aux_outputs: list, name: str) -> keras.Model:
    """A single-output model, or the main output followed by the auxiliary ones."""
    return keras.Model(inputs, [main_output, *aux_outputs] if aux_outputs else main_output, name=name)


def googlenet(input_shape=(224, 224, 3), num_classes: int = 1000, *, dropout: float = 0.4,
              aux_classifiers: bool = False, classifier_activation: str | None = "softmax",
              name: str = "googlenet") -> keras.Model:
    """GoogLeNet: a convolutional stem, nine inception modules, average pooling, one linear layer.

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        dropout: the dropout rate before the classifier.
        aux_classifiers: add the two auxiliary classifiers of section 5 as outputs
            ``aux1_predictions`` (on 4a) and ``aux2_predictions`` (on 4d) after ``predictions``;
            train with ``loss_weights=[1.0, 0.3, 0.3]`` as the paper does, and predict with
            the first output only.
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    inputs, x = image_input(input_shape, min_size=GOOGLENET_MIN_SIZE, model=name)
    x = conv_relu(x, 64, 7, 2, name="conv1_7x7_s2")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_3x3_s2")(x)
    x = lrn(x, name="pool1_norm1")
    x = conv_relu(x, 64, 1, name="conv2_3x3_reduce")
    x = conv_relu(x, 192, 3, name="conv2_3x3")
    x = lrn(x, name="conv2_norm2")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2_3x3_s2")(x)
    stage, aux_outputs = 3, []
    for row in GOOGLENET_TABLE:
        if row == "pool":
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{stage}_3x3_s2")(x)
            stage += 1
        else:
            module, widths = row
            x = inception_module(x, *widths, name=f"inception_{module}")
            if aux_classifiers and module in GOOGLENET_AUX_AFTER:
                aux_outputs.append(googlenet_aux_classifier(x, num_classes, name=f"aux{len(aux_outputs) + 1}",
                                                            activation=classifier_activation))
    x = layers.GlobalAveragePooling2D(name="pool5_7x7_s1")(x)
    x = layers.Dropout(dropout, name="pool5_drop")(x)
    return _model(inputs, classifier(x, num_classes, classifier_activation), aux_outputs, name)


INCEPTION_V3_MIN_SIZE = 75  # keras.applications' documented minimum, from the 'valid' convolutions


def inception_v3(input_shape=(299, 299, 3), num_classes: int = 1000, *, dropout: float = 0.2,
                 aux_classifiers: bool = False, classifier_activation: str | None = "softmax",
                 name: str = "inception_v3") -> keras.Model:
    """Inception v3 as TensorFlow trained it (and keras.applications builds it).

    The stem of the paper's Table 1, then modules of Fig. 5, 6 and 7.

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        dropout: the dropout rate before the classifier.
        aux_classifiers: add the auxiliary classifier on the last 17x17 module as a second
            output, ``aux_predictions``, after ``predictions``.
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    inputs, x = image_input(input_shape, min_size=INCEPTION_V3_MIN_SIZE, model=name)
    for layer, (filters, kernel, stride, padding) in enumerate(
            [(32, 3, 2, "valid"), (32, 3, 1, "valid"), (64, 3, 1, "same")], start=1):
        x = conv_bn_relu(x, filters, kernel, stride, name=f"conv{layer}", padding=padding,
                         bn_scale=False, bn_epsilon=1e-3)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = conv_bn_relu(x, 80, 1, name="conv4", padding="valid", bn_scale=False, bn_epsilon=1e-3)
    x = conv_bn_relu(x, 192, 3, name="conv5", padding="valid", bn_scale=False, bn_epsilon=1e-3)
    x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    for i, pool_filters in enumerate((32, 64, 64)):                   # 35 x 35
        x = inception_v3_a(x, pool_filters, name=f"mixed{i}")
    x = inception_v3_reduction(x, [[(384, 3)], [(64, 1), (96, 3), (96, 3)]], name="mixed3")
    for i, width in enumerate((128, 160, 160, 192), start=4):         # 17 x 17
        x = inception_v3_b(x, width, name=f"mixed{i}")
    aux_outputs = []
    if aux_classifiers:
        aux_outputs.append(inception_v3_aux_classifier(x, num_classes, name="aux", activation=classifier_activation))
    x = inception_v3_reduction(x, [[(192, 1), (320, 3)],
                                   [(192, 1), (192, (1, 7)), (192, (7, 1)), (192, 3)]], name="mixed8")
    for i in (9, 10):                                                  # 8 x 8
        x = inception_v3_c(x, name=f"mixed{i}")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return _model(inputs, classifier(x, num_classes, classifier_activation), aux_outputs, name)


register("googlenet", googlenet)
register("inception_v3", inception_v3)
