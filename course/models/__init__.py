"""The model zoo: every architecture of the lectures as a Keras functional model.

    from course import models
    models.names()                                       # 'lenet5', ..., 'densenet264'
    model = models.build("resnet50")                     # the paper's configuration
    small = models.build("vgg16", input_shape=(28, 28, 1), num_classes=10)

Defaults reproduce each paper (ImageNet size and 1000 classes, or 32x32 CIFAR
images and 10 classes). ``input_shape`` and ``num_classes`` adapt any model;
an image smaller than the paper's downsampling allows is enlarged (bilinear
``resize`` layer, or zero ``pad`` for LeNet-5) up to that size, by at most x3,
and a smaller one gets a ValueError naming the smallest size that works.
Every other keyword is a builder option (``models.options(name)`` lists them).

The families live in lenet, alexnet, vgg, nin, inception, resnet and densenet,
each with its own blocks beside its builders (`resnet.basic_block`,
`densenet.dense_block`, `inception.inception_module`...); the primitives they
share are in `course.models.blocks`, the custom layers in `course.models.layers`,
and `course.models.compare` tabulates them beside the papers.
"""
# Importing a family registers its names; the order is the lectures' (names() keeps it).
from course.models import lenet, alexnet, vgg, nin, inception, resnet, densenet  # noqa: F401,I001
from course.models._registry import build, names, options

__all__ = ["build", "names", "options"]
