"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998): the textbook version and the paper's own.

Both take 32x32 inputs; smaller images (28x28 digits or clothes) are
zero-padded into the 32x32 field, as the paper did with MNIST.
"""
from __future__ import annotations

import keras
from keras import layers

from course.models._registry import register
from course.models.blocks import classifier, image_input
from course.models.layers import PartiallyConnectedConv2D, TrainableSubsampling, lecun_tanh

MIN_SIZE = 32  # C1 5x5 -> 28, S2 -> 14, C3 5x5 -> 10, S4 -> 5, C5 5x5 -> 1

# Table I of the paper: which S2 maps (0-5) each C3 map (0-15) reads. Six maps see
# three neighbours, nine see four, and the last sees all six.
C3_CONNECTIONS = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


def lenet5(input_shape=(32, 32, 1), num_classes: int = 10, *, activation: str = "tanh",
           classifier_activation: str | None = "softmax", name: str = "lenet5") -> keras.Model:
    """The LeNet-5 of today's textbooks: full C3, average pooling, softmax output (61,706 params).

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        activation: the activation of the hidden layers.
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    inputs, x = image_input(input_shape, min_size=MIN_SIZE, model=name, adapt="pad")
    x = layers.Conv2D(6, 5, activation=activation, name="c1")(x)
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    x = layers.AveragePooling2D(2, name="s4")(x)
    x = layers.Conv2D(120, 5, activation=activation, name="c5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, activation=activation, name="f6")(x)
    return keras.Model(inputs, classifier(x, num_classes, classifier_activation, name="output"), name=name)


def lenet5_paper(input_shape=(32, 32, 1), num_classes: int = 10, *,
                 classifier_activation: str | None = "softmax", name: str = "lenet5_paper") -> keras.Model:
    """The 1998 network layer by layer: C1 156, S2 12, C3 1516, S4 32, C5 48120, F6 10164 parameters.

    Subsampling layers have a trainable coefficient and bias per map, C3 follows
    the connection table, and units squash with 1.7159 tanh(2a/3). The paper's
    output layer of fixed Euclidean RBF units is replaced by a dense softmax layer.

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: the number of outputs.
        classifier_activation: the output activation; None returns logits.
        name: the model's name.

    Returns:
        A functional keras.Model.
    """
    inputs, x = image_input(input_shape, min_size=MIN_SIZE, model=name, adapt="pad")
    x = layers.Conv2D(6, 5, name="c1")(x)
    x = layers.Activation(lecun_tanh, name="c1_squash")(x)
    x = TrainableSubsampling(name="s2")(x)
    x = layers.Activation(lecun_tanh, name="s2_squash")(x)
    x = PartiallyConnectedConv2D(C3_CONNECTIONS, kernel_size=5, name="c3")(x)
    x = layers.Activation(lecun_tanh, name="c3_squash")(x)
    x = TrainableSubsampling(name="s4")(x)
    x = layers.Activation(lecun_tanh, name="s4_squash")(x)
    x = layers.Conv2D(120, 5, name="c5")(x)
    x = layers.Activation(lecun_tanh, name="c5_squash")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, name="f6")(x)
    x = layers.Activation(lecun_tanh, name="f6_squash")(x)
    return keras.Model(inputs, classifier(x, num_classes, classifier_activation, name="output"), name=name)


register("lenet5", lenet5)
register("lenet5_paper", lenet5_paper)
