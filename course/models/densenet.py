"""DenseNet (Huang, Liu, van der Maaten & Weinberger 2017): Table 1 for ImageNet and the
DenseNet-BC of the CIFAR experiments.

Inside a dense block every layer receives the maps of all the layers before
it (concatenated, not added) and contributes ``growth_rate`` new ones;
transition layers between blocks compress the maps and halve the grid.
"""
from __future__ import annotations

import keras
from keras import layers

from course.models._registry import register
from course.models.blocks import (BN_EPSILON, check_positive_int, classifier, conv_bn_relu, image_input,
                                  is_positive_int)


# --------------------------------------------------------------------------- the blocks

def check_growth_rate(growth_rate) -> int:
    """Validate a DenseNet's growth rate k, the number of maps each dense layer adds.

    Args:
        growth_rate: the value to check.

    Returns:
        ``growth_rate`` as an int; a ValueError if it is not a positive whole number.
    """
    return check_positive_int(growth_rate, "growth_rate", " of maps per layer (the paper uses 12, 24, 32 or 40)")


def dense_layer(x, growth_rate: int, *, name: str, bottleneck: bool = True):
    """BN-ReLU-conv producing ``growth_rate`` new maps, concatenated to its input.

    Args:
        x: the input tensor: the maps of all the layers before.
        growth_rate: the number of maps k the layer adds.
        name: the prefix of its Keras layers, e.g. ``conv2_block1``.
        bottleneck: put a BN-ReLU-1x1 convolution to 4k maps first (DenseNet-B).

    Returns:
        The input with the ``growth_rate`` new maps appended.
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
    """``num_layers`` dense layers, each seeing the maps of all the layers before it.

    Args:
        x: the input tensor.
        num_layers: the number of dense layers.
        growth_rate: the number of maps each layer adds.
        name: the block's name; its layers are ``{name}_block1``, ``{name}_block2``...
        bottleneck: give each layer a 1x1 bottleneck convolution (DenseNet-B).

    Returns:
        The input with ``num_layers * growth_rate`` new maps appended.
    """
    check_growth_rate(growth_rate)
    for i in range(1, num_layers + 1):
        x = dense_layer(x, growth_rate, name=f"{name}_block{i}", bottleneck=bottleneck)
    return x


def transition(x, compression: float = 0.5, *, name: str):
    """BN-ReLU-1x1 conv compressing the maps, then 2x2 average pooling: between dense blocks.

    Args:
        x: the input tensor.
        compression: the fraction of the maps kept, in (0, 1] (0.5 in DenseNet-C and -BC).
        name: the prefix of the transition's layers, e.g. ``pool2``.

    Returns:
        The compressed tensor on a grid half the size.
    """
    if not 0.0 < compression <= 1.0:
        raise ValueError(f"compression must be in (0, 1] (0.5 in DenseNet-BC, 1 without), got {compression}")
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[-1] * compression), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


# Table 1: dense layers per block (each a 1x1 then a 3x3 convolution), growth rate 32.
IMAGENET_BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32), 264: (6, 12, 64, 48)}
IMAGENET_MIN_SIZE = 29  # 29 -> conv 15 -> pool 8 -> transitions 4, 2, 1
CIFAR_MIN_SIZE = 4      # two transitions


def _check_blocks(blocks) -> tuple[int, ...]:
    """``blocks`` as a tuple of positive layer counts, or a ValueError."""
    blocks = tuple(blocks)
    if not blocks or not all(map(is_positive_int, blocks)):
        raise ValueError(f"blocks must list a positive number of layers per dense block, "
                         f"e.g. {IMAGENET_BLOCKS[121]}; got {blocks!r}")
    return blocks


def _dense_stages(x, blocks, growth_rate, compression, bottleneck):
    """Dense blocks conv2, conv3... with transitions pool2, pool3... between them."""
    for i, num_layers in enumerate(blocks):
        x = dense_block(x, num_layers, growth_rate, name=f"conv{i + 2}", bottleneck=bottleneck)
        if i < len(blocks) - 1:
            x = transition(x, compression, name=f"pool{i + 2}")
    x = layers.BatchNormalization(epsilon=1.001e-5, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    return layers.GlobalAveragePooling2D(name="avg_pool")(x)


def densenet(blocks=(6, 12, 24, 16), input_shape=(224, 224, 3), num_classes: int = 1000, *,
             growth_rate: int = 32, compression: float = 0.5, bottleneck: bool = True,
             classifier_activation: str | None = "softmax", name: str = "densenet") -> keras.Model:
    """ImageNet DenseNet-BC (Table 1): a 7x7/2 convolution and a max pool, then the dense blocks.

    Args:
        blocks: the number of dense layers of each block, e.g. (6, 12, 24, 16) for DenseNet-121.
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        growth_rate: the number of maps each dense layer adds.
        compression: the fraction of the maps each transition keeps, in (0, 1].
        bottleneck: give each dense layer a 1x1 bottleneck convolution.
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    blocks, growth_rate = _check_blocks(blocks), check_growth_rate(growth_rate)
    inputs, x = image_input(input_shape, min_size=IMAGENET_MIN_SIZE, model=name)
    x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = conv_bn_relu(x, 2 * growth_rate, 7, 2, name="conv1", padding="valid")
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = _dense_stages(x, blocks, growth_rate, compression, bottleneck)
    return keras.Model(inputs, classifier(x, num_classes, classifier_activation), name=name)


def densenet_cifar(depth: int = 100, input_shape=(32, 32, 3), num_classes: int = 10, *,
                   growth_rate: int = 12, compression: float = 0.5, bottleneck: bool = True,
                   classifier_activation: str | None = "softmax", name: str = "densenet_cifar") -> keras.Model:
    """The CIFAR DenseNet(-BC) of section 4: a 3x3 convolution, then three dense blocks.

    Args:
        depth: the number of weight layers: 6n + 4 with bottlenecks (two convolutions per
            dense layer, n layers per block), 3n + 4 without.
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        growth_rate: the number of maps each dense layer adds.
        compression: the fraction of the maps each transition keeps, in (0, 1].
        bottleneck: give each dense layer a 1x1 bottleneck convolution.
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    check_growth_rate(growth_rate)
    per_layer = 2 if bottleneck else 1
    if not is_positive_int(depth) or (depth - 4) % (3 * per_layer) or depth <= 4:
        raise ValueError(f"depth must be {3 * per_layer}n + 4 for whole n >= 1 "
                         f"({'with' if bottleneck else 'without'} bottlenecks), e.g. 40 or 100; got {depth!r}")
    inputs, x = image_input(input_shape, min_size=CIFAR_MIN_SIZE, model=name)
    first = 2 * growth_rate if bottleneck else 16
    x = layers.Conv2D(first, 3, padding="same", use_bias=False, name="conv1_conv")(x)
    x = _dense_stages(x, [(depth - 4) // (3 * per_layer)] * 3, growth_rate, compression, bottleneck)
    return keras.Model(inputs, classifier(x, num_classes, classifier_activation), name=name)


register("densenet121", densenet, blocks=IMAGENET_BLOCKS[121])
register("densenet169", densenet, blocks=IMAGENET_BLOCKS[169])
register("densenet201", densenet, blocks=IMAGENET_BLOCKS[201])
register("densenet264", densenet, blocks=IMAGENET_BLOCKS[264])
register("densenet_bc100", densenet_cifar, depth=100, growth_rate=12)
register("densenet", densenet)          # any block layout: build("densenet", blocks=(6, 12, 36, 24), growth_rate=48)
register("densenet_cifar", densenet_cifar)
