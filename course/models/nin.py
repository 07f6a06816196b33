"""Network in Network (Lin, Chen & Yan 2014), the CIFAR-10 model of the paper.

Three mlpconv layers (a convolution followed by 1x1 convolutions); the last
one outputs one map per class and global average pooling replaces the fully
connected classifier: no dense layer at all.
"""
from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from course.models._registry import register
from course.models.blocks import conv_relu, image_input


# --------------------------------------------------------------------------- the block

def mlpconv(x, filters: Sequence[int], kernel_size: int, strides: int = 1, *, name: str):
    """NiN's micro network: a k x k convolution followed by 1x1 convolutions, all with ReLU.

    The 1x1 layers are a small multilayer perceptron slid over every pixel (Lin et al. 2014).

    Args:
        x: the input tensor.
        filters: the widths of the convolutions, first the k x k one, then the 1x1 ones.
        kernel_size: k, the first convolution's window.
        strides: the first convolution's stride.
        name: the prefix of the layers ``{name}_conv``, ``{name}_cccp1``...

    Returns:
        The output tensor.
    """
    first, *rest = filters
    x = conv_relu(x, first, kernel_size, strides, name=f"{name}_conv")
    for i, width in enumerate(rest, start=1):
        x = conv_relu(x, width, 1, name=f"{name}_cccp{i}")
    return x


# (filters of the conv and its two 1x1 layers, kernel size, pooling after it); None = the classes.
NIN_CIFAR = (
    ((192, 160, 96), 5, "max"),
    ((192, 192, 192), 5, "average"),
    ((192, 192, None), 3, "global"),
)
MIN_SIZE = 4  # two 3x3 stride-2 pools


def nin(input_shape=(32, 32, 3), num_classes: int = 10, *, dropout: float = 0.5,
        classifier_activation: str | None = "softmax", name: str = "nin") -> keras.Model:
    """The CIFAR-10 NiN: three mlpconv layers, the last one with a map per class, then global pooling.

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        dropout: the dropout rate after the first two mlpconv layers.
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    inputs, x = image_input(input_shape, min_size=MIN_SIZE, model=name)
    for i, (filters, kernel, pool) in enumerate(NIN_CIFAR, start=1):
        x = mlpconv(x, [num_classes if f is None else f for f in filters], kernel, name=f"mlpconv{i}")
        if pool == "global":
            x = layers.GlobalAveragePooling2D(name="global_pool")(x)
        else:
            pooling = layers.MaxPooling2D if pool == "max" else layers.AveragePooling2D
            x = pooling(3, strides=2, padding="same", name=f"pool{i}")(x)
            x = layers.Dropout(dropout, name=f"dropout{i}")(x)
    outputs = layers.Activation(classifier_activation or "linear", name="predictions", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


register("nin", nin)
