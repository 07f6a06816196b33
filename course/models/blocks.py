"""The primitives the zoo's families share, as functions on Keras tensors.

Input checks, the classifier head, convolution + batch norm + activation, and
local response normalisation. Each family's own blocks live beside its builder,
as in keras.applications: the residual blocks in `resnet`, the dense layer,
block and transition in `densenet`, the Inception modules in `inception`,
mlpconv in `nin`. Every block takes a tensor and returns a tensor, naming its
layers ``{name}_{part}`` so that a model summary reads like the paper's table.
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import keras
from keras import layers

from course.models.layers import LocalResponseNormalization

BN_EPSILON = 1.001e-5  # keras.applications' ResNet/DenseNet value; keeps the nets interchangeable
MAX_UPSCALE = 3        # the largest enlargement `image_input` applies to a too-small image


# --------------------------------------------------------------------------- input and output

def is_positive_int(value) -> bool:
    """Whether ``value`` is a whole number of at least 1, as sizes and counts must be.

    Args:
        value: anything; ``True`` is an int in Python, but not a size.

    Returns:
        True for a positive integer that is not a bool.
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def check_positive_int(value, what: str, detail: str = "") -> int:
    """Validate a size or count, so that a bad option fails with a message naming it.

    Args:
        value: the number to check.
        what: the option's name, for the error message.
        detail: text appended to "positive whole number" in the message, e.g. what the paper uses.

    Returns:
        ``value`` as an int; a ValueError if it is not a positive whole number.
    """
    if not is_positive_int(value):
        raise ValueError(f"{what} must be a positive whole number{detail}, got {value!r}")
    return int(value)


def image_input(input_shape: Sequence[int], *, min_size: int, model: str,
                adapt: str = "resize") -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The model's Input and the tensor the network starts from, enlarged if the image is too small.

    Beyond a x3 enlargement the network would see mostly interpolation or
    padding, so such inputs are refused with the smallest size that works.

    Args:
        input_shape: (height, width, channels) of the images.
        min_size: the smallest side the paper's layers can downsample; a smaller image is enlarged to it.
        model: the model's name, for the error message.
        adapt: how to enlarge: "resize" (bilinear, layer ``resize``) or "pad" (centred zeros, layer
            ``pad``, which is how LeNet-5 put 28x28 digits in its 32x32 field).

    Returns:
        The ``image`` Input and the tensor the first layer reads (the same tensor if no enlargement is needed).
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
    """The final fully connected layer, always in float32.

    Under a mixed-precision policy a float16 softmax (or logits fed to one)
    rounds small probabilities to zero, so this layer never computes in float16.

    Args:
        x: the flat features.
        num_classes: the number of outputs.
        activation: the output activation; None returns logits.
        name: the layer's name.

    Returns:
        The class scores, shape (batch, num_classes).
    """
    check_positive_int(num_classes, "num_classes")
    return layers.Dense(num_classes, activation=activation, name=name, dtype="float32")(x)


# --------------------------------------------------------------------------- plain convolutions

def conv_bn_relu(x, filters: int, kernel_size: int | tuple[int, int], strides: int = 1, *,
                 name: str, padding: str = "same", groups: int = 1, use_bias: bool = False,
                 activation: str | None = "relu", bn_scale: bool = True, bn_epsilon: float = BN_EPSILON):
    """Convolution, batch normalisation, then the activation: the unit of every batch-normalised net.

    Args:
        x: the input tensor.
        filters: the number of output maps.
        kernel_size: the window, one int or (height, width).
        strides: the convolution's stride.
        name: the prefix of the layers ``{name}_conv``, ``{name}_bn`` and ``{name}_{activation}``.
        padding: "same" or "valid".
        groups: the number of groups of a grouped convolution (ResNeXt's cardinality).
        use_bias: whether the convolution has biases (batch norm makes them redundant).
        activation: the activation's name; None stops after the normalisation (the last
            convolution of a residual branch).
        bn_scale: whether batch norm learns a scale (unneeded when ReLU follows).
        bn_epsilon: batch norm's epsilon.

    Returns:
        The output tensor.
    """
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, groups=groups, use_bias=use_bias,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=bn_epsilon, scale=bn_scale, name=f"{name}_bn")(x)
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def conv_relu(x, filters: int, kernel_size: int, strides: int = 1, *, name: str,
              padding: str = "same"):
    """Convolution with bias and ReLU, the pre-batch-norm style of AlexNet, VGG and GoogLeNet.

    Args:
        x: the input tensor.
        filters: the number of output maps.
        kernel_size: the square window's side.
        strides: the convolution's stride.
        name: the layer's name.
        padding: "same" or "valid".

    Returns:
        The output tensor.
    """
    return layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, activation="relu",
                         name=name)(x)


def lrn(x, *, name: str):
    """Local response normalisation with AlexNet's constants (used by ZFNet, VGG-A-LRN, GoogLeNet).

    Args:
        x: the input tensor.
        name: the layer's name.

    Returns:
        The normalised tensor, of the input's shape.
    """
    return LocalResponseNormalization(name=name)(x)
