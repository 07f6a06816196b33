"""VGG (Simonyan & Zisserman 2015): the configurations A to E of the paper's Table 1.

The table is kept as text, column by column, and read by `vgg`: "conv3-64"
is a 3x3 convolution with 64 filters (stride 1, pad 1, ReLU), "conv1-256" a
1x1 one, "LRN" AlexNet's normalisation, "maxpool" a 2x2 pool with stride 2.
"""
from __future__ import annotations

import keras
from keras import layers

from course.models._registry import register
from course.models.blocks import classifier, image_input, lrn

VGG_CONFIGS: dict[str, tuple[str, ...]] = {
    "A": ("conv3-64", "maxpool", "conv3-128", "maxpool",
          "conv3-256", "conv3-256", "maxpool",
          "conv3-512", "conv3-512", "maxpool",
          "conv3-512", "conv3-512", "maxpool"),
    "A-LRN": ("conv3-64", "LRN", "maxpool", "conv3-128", "maxpool",
              "conv3-256", "conv3-256", "maxpool",
              "conv3-512", "conv3-512", "maxpool",
              "conv3-512", "conv3-512", "maxpool"),
    "B": ("conv3-64", "conv3-64", "maxpool", "conv3-128", "conv3-128", "maxpool",
          "conv3-256", "conv3-256", "maxpool",
          "conv3-512", "conv3-512", "maxpool",
          "conv3-512", "conv3-512", "maxpool"),
    "C": ("conv3-64", "conv3-64", "maxpool", "conv3-128", "conv3-128", "maxpool",
          "conv3-256", "conv3-256", "conv1-256", "maxpool",
          "conv3-512", "conv3-512", "conv1-512", "maxpool",
          "conv3-512", "conv3-512", "conv1-512", "maxpool"),
    "D": ("conv3-64", "conv3-64", "maxpool", "conv3-128", "conv3-128", "maxpool",
          "conv3-256", "conv3-256", "conv3-256", "maxpool",
          "conv3-512", "conv3-512", "conv3-512", "maxpool",
          "conv3-512", "conv3-512", "conv3-512", "maxpool"),
    "E": ("conv3-64", "conv3-64", "maxpool", "conv3-128", "conv3-128", "maxpool",
          "conv3-256", "conv3-256", "conv3-256", "conv3-256", "maxpool",
          "conv3-512", "conv3-512", "conv3-512", "conv3-512", "maxpool",
          "conv3-512", "conv3-512", "conv3-512", "conv3-512", "maxpool"),
}
MIN_SIZE = 32  # five 2x2 pools


def vgg(config: str = "D", input_shape=(224, 224, 3), num_classes: int = 1000, *, dropout: float = 0.5,
        classifier_activation: str | None = "softmax", name: str = "vgg") -> keras.Model:
    """One column of Table 1, then FC-4096, FC-4096 (with dropout) and the classifier.

    Layer names follow keras.applications (``block3_conv2``, ``fc1``...).

    Args:
        config: the column of Table 1: "A", "A-LRN", "B", "C", "D" (VGG-16) or "E" (VGG-19).
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        dropout: the dropout rate after fc1 and fc2.
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    if config not in VGG_CONFIGS:
        raise ValueError(f"unknown VGG configuration {config!r}; the paper's are {', '.join(VGG_CONFIGS)}")
    inputs, x = image_input(input_shape, min_size=MIN_SIZE, model=name)
    block, conv = 1, 0
    for entry in VGG_CONFIGS[config]:
        if entry == "maxpool":
            x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
            block, conv = block + 1, 0
        elif entry == "LRN":
            x = lrn(x, name=f"block{block}_lrn")
        else:
            kernel, filters = (int(n) for n in entry.removeprefix("conv").split("-"))
            conv += 1
            x = layers.Conv2D(filters, kernel, padding="same", activation="relu",
                              name=f"block{block}_conv{conv}")(x)
    x = layers.Flatten(name="flatten")(x)
    for fc in ("fc1", "fc2"):
        x = layers.Dense(4096, activation="relu", name=fc)(x)
        x = layers.Dropout(dropout, name=f"{fc}_dropout")(x)
    return keras.Model(inputs, classifier(x, num_classes, classifier_activation), name=name)


register("vgg11", vgg, config="A")
register("vgg11_lrn", vgg, config="A-LRN")
register("vgg13", vgg, config="B")
register("vgg16_conv1", vgg, config="C")
register("vgg16", vgg, config="D")
register("vgg19", vgg, config="E")
register("vgg", vgg)  # any configuration: build("vgg", config="A-LRN")
