"""AlexNet (Krizhevsky, Sutskever & Hinton 2012) and ZFNet (Zeiler & Fergus 2014).

Both are written as the table of the paper: a list of layers read top to
bottom, then three fully connected layers with dropout.
"""
from __future__ import annotations

import keras
from keras import layers

from course.models._registry import register
from course.models.blocks import classifier, image_input, lrn

# (kind, name, filters / pool size, kernel, stride, padding); "grouped" convolutions are
# the ones that, on the paper's two GPUs, only see the maps of their own GPU.
ALEXNET = (
    ("conv", "conv1", 96, 11, 4, "valid"),     # 227 -> 55
    ("lrn", "norm1"),
    ("pool", "pool1", 3, 2, "valid"),          # 55 -> 27
    ("grouped", "conv2", 256, 5, 1, "same"),   # 27 (pad 2)
    ("lrn", "norm2"),
    ("pool", "pool2", 3, 2, "valid"),          # 27 -> 13
    ("conv", "conv3", 384, 3, 1, "same"),
    ("grouped", "conv4", 384, 3, 1, "same"),
    ("grouped", "conv5", 256, 3, 1, "same"),
    ("pool", "pool5", 3, 2, "valid"),          # 13 -> 6
)
ALEXNET_MIN_SIZE = 67  # conv1 -> 15 -> pool 7 -> pool 3 -> pool 1

def zfnet_table(conv3: int = 384, conv4: int = 384, conv5: int = 256) -> tuple:
    """ZFNet's layer table: AlexNet's with a 7x7/2 conv1 (and a strided conv2) to keep more detail.

    Pools with 'same' padding reproduce the sizes of the paper's Fig. 3
    (110, 55, 26, 13, 6).

    Args:
        conv3: the filters of conv3.
        conv4: the filters of conv4.
        conv5: the filters of conv5.

    Returns:
        The table's rows, in the format of ``ALEXNET``.
    """
    return (
        ("pad", "conv1_pad", 1),
        ("conv", "conv1", 96, 7, 2, "valid"),      # 224 -> 110
        ("lrn", "norm1"),
        ("pool", "pool1", 3, 2, "same"),           # 110 -> 55
        ("conv", "conv2", 256, 5, 2, "valid"),     # 55 -> 26
        ("lrn", "norm2"),
        ("pool", "pool2", 3, 2, "same"),           # 26 -> 13
        ("conv", "conv3", conv3, 3, 1, "same"),
        ("conv", "conv4", conv4, 3, 1, "same"),
        ("conv", "conv5", conv5, 3, 1, "same"),
        ("pool", "pool5", 3, 2, "valid"),          # 13 -> 6
    )


ZFNET_MIN_SIZE = 53


def _features(x, table, groups: int = 1):
    """The convolutional part, read from a layer table; "grouped" rows get ``groups`` groups."""
    for kind, name, *args in table:
        if kind == "pad":
            x = layers.ZeroPadding2D(args[0], name=name)(x)
        elif kind == "lrn":
            x = lrn(x, name=name)
        elif kind == "pool":
            size, stride, padding = args
            x = layers.MaxPooling2D(size, strides=stride, padding=padding, name=name)(x)
        else:
            filters, kernel, stride, padding = args
            x = layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                              groups=groups if kind == "grouped" else 1, activation="relu", name=name)(x)
    return x


def _top(x, num_classes, classifier_activation, dropout: float):
    """Flatten, fc6 and fc7 with dropout, then the fc8 classifier."""
    x = layers.Flatten(name="flatten")(x)
    for fc in ("fc6", "fc7"):
        x = layers.Dense(4096, activation="relu", name=fc)(x)
        x = layers.Dropout(dropout, name=f"{fc}_dropout")(x)
    return classifier(x, num_classes, classifier_activation, name="fc8")


def alexnet(input_shape=(227, 227, 3), num_classes: int = 1000, *, two_streams: bool = False,
            dropout: float = 0.5, classifier_activation: str | None = "softmax",
            name: str = "alexnet") -> keras.Model:
    """AlexNet (62.4M parameters as one stream), at 227x227: the paper's 224 does not fit conv1.

    (227 - 11) / 4 + 1 = 55, the paper's conv1 grid.

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        two_streams: split conv2, conv4 and conv5 into two groups, as on the paper's two GPUs.
        dropout: the dropout rate after fc6 and fc7.
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    inputs, x = image_input(input_shape, min_size=ALEXNET_MIN_SIZE, model=name)
    x = _features(x, ALEXNET, groups=2 if two_streams else 1)
    return keras.Model(inputs, _top(x, num_classes, classifier_activation, dropout), name=name)


def zfnet(input_shape=(224, 224, 3), num_classes: int = 1000, *, conv345=(384, 384, 256),
          dropout: float = 0.5, classifier_activation: str | None = "softmax",
          name: str = "zfnet") -> keras.Model:
    """ZFNet (Zeiler & Fergus 2014) as in the paper's Fig. 3.

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        conv345: the filters of conv3, conv4 and conv5; (512, 1024, 512) is the larger variant
            the lecture slides quote.
        dropout: the dropout rate after fc6 and fc7.
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    if len(conv345) != 3:
        raise ValueError(f"conv345 must give three widths (conv3, conv4, conv5), got {conv345!r}")
    inputs, x = image_input(input_shape, min_size=ZFNET_MIN_SIZE, model=name)
    x = _features(x, zfnet_table(*conv345))
    return keras.Model(inputs, _top(x, num_classes, classifier_activation, dropout), name=name)


register("alexnet", alexnet)
register("zfnet", zfnet)
