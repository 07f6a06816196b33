"""GoogLeNet (Inception v1, Szegedy et al. 2015) and Inception v3 (Szegedy et al. 2016).

GoogLeNet's Table 1 is kept as data: one row per inception module with the
widths of its six convolutions. The auxiliary classifiers, a training aid
dropped at test time, are an option (``aux_classifiers=True``): they become
extra outputs after the main one, ``predictions``.
"""
from __future__ import annotations

import keras
from keras import layers

from course.models._registry import register
from course.models.blocks import (classifier, conv_bn_relu, conv_relu, googlenet_aux_classifier, image_input,
                                  inception_module, inception_v3_a, inception_v3_aux_classifier, inception_v3_b,
                                  inception_v3_c, inception_v3_reduction, lrn)

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

    ``aux_classifiers=True`` adds the two auxiliary classifiers of section 5 as
    outputs ``aux1_predictions`` (on 4a) and ``aux2_predictions`` (on 4d) after
    ``predictions``; train with ``loss_weights=[1.0, 0.3, 0.3]`` as the paper
    does, and predict with the first output only.
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
    """Inception v3 as TensorFlow trained it (and keras.applications builds it): the stem of
    the paper's Table 1, then modules of Fig. 5, 6 and 7.

    ``aux_classifiers=True`` adds the auxiliary classifier on the last 17x17
    module as a second output, ``aux_predictions``, after ``predictions``.
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
