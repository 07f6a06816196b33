# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # Assignment 5: architectures with the functional API
#
# The lectures walk through a family tree: LeNet-5, VGG, GoogLeNet, ResNet, DenseNet. Each
# generation added one idea — stacks of small filters, parallel paths with 1x1 reductions,
# shortcut connections, concatenated features. In this assignment you build each idea as a
# small function with the Keras **functional API**, so that the networks of the papers become
# a few lines that call your blocks. Then you measure why the shortcut connection mattered:
# a deeper plain network trains *worse* than a shallower one, and a residual one does not.
#
# You will learn to
# - write a network as a function from tensors to tensors (`x = layer(x)`), with branches that
#   split and merge (`Concatenate`, `Add`);
# - reproduce LeNet-5, a VGG stage and GoogLeNet's Inception module 3a — and check your
#   parameters and multiply-adds against the paper's table;
# - build residual blocks with identity and projection shortcuts, the bottleneck block, and a
#   DenseNet dense block with its transition layer;
# - measure the gradient reaching every layer of a 56-layer plain and residual network, and
#   train plain and residual nets of two depths on Fashion-MNIST.
#
# It follows the lecture slides on LeNet-5, VGGNet ("only 3x3 CONV stride 1, pad 1 and 2x2 MAX
# POOL stride 2"), GoogLeNet (the Inception module, 1x1 convolutions for dimension reduction,
# the module table), ResNet (the residual module, the bottleneck, plain vs residual nets of 20
# and 56 layers, backpropagation through a residual block, stochastic depth) and DenseNets.
#
# | part | points |
# |---|---|
# | 1. LeNet-5 | 2 |
# | 2. a VGG stage | 2 |
# | 3. the Inception module | 3 |
# | 4. residual block: identity shortcut (and its plain twin) | 2 |
# | 4. residual block: projection shortcut | 2 |
# | 5. the bottleneck block | 2 |
# | 6. dense block | 2 |
# | 6. transition layer | 1 |
# | 7. plain and residual nets of depth 6n + 2 | 2 |
# | 8. gradient norms per layer | 2 |
# | 8. gradient flow: plain vs residual at 56 layers | 2 |
# | written: how can a larger network have a higher training error? | 3 |
# | written: what does the 1x1 reduction buy in module 3a? | 2 |
#
# **Total: 27 points** (22 autograded, 5 written)
#
# ### How your blocks are graded
#
# Each test builds your block on a fresh `keras.Input` and compares it **layer by layer** with
# the same block from the course's model zoo: layer types, output shapes, parameter counts,
# the settings that change what a layer computes (padding, strides, kernel size, activation,
# bias...) and which layers feed which. Layer names do not matter, nor the order in which you
# create parallel branches. The first difference is reported in plain words, for example
# `expected Conv2D with ... padding='same'; yours is ... padding='valid'`.
#
# Three conventions make two correct answers identical, so follow them:
# - a convolution followed by batch normalisation has **no bias** (`use_bias=False`): the batch
#   norm's shift β replaces it;
# - batch normalisation is `layers.BatchNormalization(epsilon=BN_EPSILON)` (the constant is
#   defined below; it is keras.applications' value);
# - a ReLU that is not part of a convolution is a separate `layers.Activation("relu")` layer.
#
# The model zoo is the answer key, so your solutions must not use `course.models`: a test
# checks your functions' code and gives zero to one that does.
#
# Write your code where it says `YOUR CODE HERE` (replace the `raise NotImplementedError()` line),
# then run the test cell below it. Hidden tests try other sizes, strides and widths when your
# work is graded, so write general code.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
try:
    from course.runtime import start
except ModuleNotFoundError:  # a kernel whose Python lacks the course package
    raise ModuleNotFoundError(
        "This kernel's Python does not have the course package: choose Kernel > Change Kernel > "
        "'CNN course (.venv)' (bash scripts/setup.sh in the course folder adds it), "
        "or install the package into this Python with: pip install -e COURSE_FOLDER"
    ) from None
profile = start()

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import layers

from course import arith, data, models
from course.grading import (GradingError, expect_close, expect_equal, expect_own_code, expect_raises,
                            expect_true, numerical_gradient)
from course.structure import expect_same_structure
from course.train import compile_classifier, fit, set_batchnorm_momentum

BN_EPSILON = 1.001e-5  # batch norm's epsilon in keras.applications' ResNet and DenseNet

# %% [markdown]
# The tests' helpers live in `course/model_checks.py` (read it if you want to know exactly how you
# are graded): they turn a block function into a model, build the reference from the model zoo,
# compare the two layer by layer, and measure gradients with the tests' own code.

# %% nbgrader={"grade": false, "grade_id": "grading_helpers", "locked": true, "schema_version": 3, "solution": false, "task": false}
from course.model_checks import (block_model, canonical_initialisation, check_block, conv_kernel_gradient_norms,
                                 expect_no_zoo, student_model, weights_without_biases)
from course.models import densenet as zoo_densenet, inception as zoo_inception, resnet as zoo_resnet


# %% [markdown]
# ## 1. LeNet-5
#
# LeCun's network for digits (1998) already has the shape of every convnet since:
# convolution and subsampling alternate, the maps shrink while their number grows, and fully
# connected layers finish the job. The version in today's textbooks (which the course's
# model zoo calls `lenet5`) is, on a 32x32x1 image:
#
# | layer | what | output |
# |---|---|---|
# | C1 | 6 filters 5x5, `"valid"`, activation | 28x28x6 |
# | S2 | 2x2 average pooling, stride 2 | 14x14x6 |
# | C3 | 16 filters 5x5, `"valid"`, activation | 10x10x16 |
# | S4 | 2x2 average pooling, stride 2 | 5x5x16 |
# | C5 | 120 filters 5x5, `"valid"`, activation | 1x1x120 |
# | | flatten | 120 |
# | F6 | 84 units, activation | 84 |
# | output | `num_classes` units, softmax | 10 |
#
# The activation is `tanh` by default (the paper's squashing function, up to a scale); put it
# inside the `Conv2D` and `Dense` layers with `activation=...`. LeNet-5's field is 32x32 pixels:
# like LeCun with MNIST, put a smaller image (Fashion-MNIST's 28x28) in the **centre** of a
# 32x32 field with `layers.ZeroPadding2D` first (2 pixels on each side for 28x28); a 32x32 image
# needs no padding layer.

# %% nbgrader={"grade": false, "grade_id": "lenet5", "locked": false, "schema_version": 3, "solution": true, "task": false}
def lenet5(input_shape=(32, 32, 1), num_classes: int = 10, activation: str = "tanh") -> keras.Model:
    """LeNet-5 as in the table above; images smaller than 32x32 are zero-padded to 32x32, centred."""
    ### BEGIN SOLUTION
    inputs = keras.Input(input_shape)
    x = inputs
    height, width = input_shape[0], input_shape[1]
    if (height, width) != (32, 32):
        pad_h, pad_w = 32 - height, 32 - width
        x = layers.ZeroPadding2D(((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)))(x)
    x = layers.Conv2D(6, 5, activation=activation)(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2D(16, 5, activation=activation)(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2D(120, 5, activation=activation)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(84, activation=activation)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)
    ### END SOLUTION


# %%
lenet5().summary()

# %% nbgrader={"grade": true, "grade_id": "test_lenet5", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lenet_hint = ("C1 6@5x5, S2 avg-pool 2, C3 16@5x5, S4 avg-pool 2, C5 120@5x5, flatten, F6 84, softmax output; "
              "'valid' convolutions, the activation inside Conv2D/Dense; ZeroPadding2D to 32x32 for smaller images")
expect_no_zoo(lenet5, "lenet5")
mine = student_model(lambda: lenet5(), "lenet5()", lenet_hint)
# By hand: C1 (5*5*1+1)*6, C3 (5*5*6+1)*16, C5 (5*5*16+1)*120, F6 (120+1)*84, output (84+1)*10.
by_hand = (25 + 1) * 6 + (150 + 1) * 16 + (400 + 1) * 120 + (120 + 1) * 84 + (84 + 1) * 10
expect_equal(mine.count_params(), by_hand, "LeNet-5's parameters (61,706 by hand)", hint=lenet_hint)
expect_same_structure(mine, models.build("lenet5"), "lenet5() on 32x32x1", hint=lenet_hint)
mine = student_model(lambda: lenet5((28, 28, 1)), "lenet5((28, 28, 1))", lenet_hint)
expect_same_structure(mine, models.build("lenet5", input_shape=(28, 28, 1)),
                      "lenet5 on Fashion-MNIST's 28x28x1", hint="pad 2 pixels on each side: ZeroPadding2D(2)")
### BEGIN HIDDEN TESTS
for shape, classes, activation in [((28, 28, 1), 5, "relu"), ((32, 32, 3), 100, "sigmoid"), ((27, 29, 2), 10, "tanh")]:
    mine = student_model(lambda: lenet5(shape, classes, activation), f"lenet5({shape}, {classes}, {activation!r})",
                         lenet_hint)
    expect_same_structure(mine, models.build("lenet5", input_shape=shape, num_classes=classes, activation=activation),
                          f"lenet5({shape}, num_classes={classes}, activation={activation!r})",
                          hint=lenet_hint + "; an odd padding puts the extra pixel at the bottom/right")
### END HIDDEN TESTS

# %% [markdown]
# ## 2. A VGG stage
#
# VGG's whole design fits in one sentence of the slides: only 3x3 convolutions with stride 1
# and pad 1, and 2x2 max pooling with stride 2. A *stage* is `num_convs` such convolutions
# with `filters` filters each and a ReLU (use `padding="same"` and `activation="relu"` in the
# `Conv2D`), then one pooling that halves the grid. VGG-16 is five stages (2, 2, 3, 3, 3
# convolutions with 64, 128, 256, 512, 512 filters) and three fully connected layers.

# %% nbgrader={"grade": false, "grade_id": "vgg_stage", "locked": false, "schema_version": 3, "solution": true, "task": false}
def vgg_stage(x, num_convs: int, filters: int):
    """num_convs 3x3 'same' convolutions with ReLU, then 2x2 max pooling with stride 2."""
    ### BEGIN SOLUTION
    for _ in range(num_convs):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.MaxPooling2D(2, strides=2)(x)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_vgg_stage", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
zoo_vggs = {}  # configuration -> the zoo's network, built once


def zoo_vgg_stage(config: str, block: int, input_shape) -> keras.Model:
    """Stage `block` of the zoo's VGG `config`, its layers rebuilt one by one on a new input."""
    if config not in zoo_vggs:
        zoo_vggs[config] = models.build("vgg", config=config, input_shape=(32, 32, 3), num_classes=10)
    network = zoo_vggs[config]
    inputs = x = keras.Input(input_shape)
    for layer in network.layers:
        if layer.name.startswith(f"block{block}_"):
            x = type(layer).from_config(layer.get_config())(x)
    return keras.Model(inputs, x)


def check_vgg_stage(config, block, input_shape, num_convs, filters):
    what = f"vgg_stage(x of shape {input_shape}, num_convs={num_convs}, filters={filters})"
    hint = "3x3 convolutions with padding='same' and activation='relu', then MaxPooling2D(2, strides=2)"
    expect_no_zoo(vgg_stage, what)
    mine = student_model(lambda: block_model(vgg_stage, input_shape, num_convs=num_convs, filters=filters),
                         what, hint)
    expect_same_structure(mine, zoo_vgg_stage(config, block, input_shape), what, hint=hint)
    return mine


stage3 = check_vgg_stage("D", 3, (56, 56, 128), 3, 256)  # VGG-16's third stage
# The slide's VGG-16 table: conv3-256 layers have 3*3*128*256 = 294,912 and 3*3*256*256 = 589,824 weights.
expect_equal(weights_without_biases(stage3), 294_912 + 2 * 589_824, "VGG-16 stage 3: weights (the slide's table)",
             hint="three 3x3 convolutions: 128 -> 256, 256 -> 256, 256 -> 256 channels")
### BEGIN HIDDEN TESTS
check_vgg_stage("D", 1, (224, 224, 3), 2, 64)
check_vgg_stage("E", 4, (28, 28, 256), 4, 512)
check_vgg_stage("A", 1, (32, 32, 3), 1, 64)
check_vgg_stage("C", 2, (15, 15, 64), 2, 128)  # odd grid: the pool drops the last row and column
### END HIDDEN TESTS

# %% [markdown]
# With your stage, VGG-16's convolutional part is one loop. Its output volume and parameter
# count match the lecture's table (14.7M of the 138M parameters are in the convolutions; of the
# other 123.6M, in the three fully connected layers, most but not all sit in the first one: 102.8M
# for FC6, 7·7·512·4096 weights + 4096 biases, against 16.8M for FC7 and 4.1M for FC8):

# %% nbgrader={"grade": false, "grade_id": "given_12", "locked": true, "schema_version": 3, "solution": false, "task": false}
inputs = x = keras.Input((224, 224, 3))
for num_convs, filters in [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]:
    x = vgg_stage(x, num_convs, filters)
vgg16_features = keras.Model(inputs, x)
print(f"VGG-16 features: output {tuple(vgg16_features.output.shape[1:])}, "
      f"{vgg16_features.count_params():,} parameters, {arith.model_macs(vgg16_features) / 1e9:.1f} G multiply-adds")

# %% [markdown]
# ## 3. The Inception module
#
# GoogLeNet's module runs four paths side by side on the same input and stacks their outputs
# along the **channel** axis (`layers.Concatenate()`, which joins on the last axis: Keras images
# are height x width x channels):
#
# 1. a 1x1 convolution with `n1x1` filters;
# 2. a 1x1 convolution down to `n3x3_reduce` channels, then a 3x3 convolution with `n3x3` filters;
# 3. a 1x1 convolution down to `n5x5_reduce` channels, then a 5x5 convolution with `n5x5` filters;
# 4. 3x3 max pooling with stride 1 (`padding="same"`), then a 1x1 "pool projection" with `pool_proj` filters.
#
# Every convolution has a ReLU (`activation="relu"`), a bias, and `padding="same"`, so all four
# paths keep the input's height and width and can be concatenated. The 1x1 convolutions before
# the 3x3 and 5x5 ones are the *dimension reduction* of the slides: they make the expensive
# convolutions run on few channels. The arguments are the columns of the paper's table; module
# 3a is `(64, 96, 128, 16, 32, 32)` on a 28x28x192 input.

# %% nbgrader={"grade": false, "grade_id": "inception_module", "locked": false, "schema_version": 3, "solution": true, "task": false}
def inception_module(x, n1x1: int, n3x3_reduce: int, n3x3: int, n5x5_reduce: int, n5x5: int, pool_proj: int):
    """GoogLeNet's Inception module with dimension reduction: four paths concatenated on the channels."""
    ### BEGIN SOLUTION
    def conv(t, filters, size):
        return layers.Conv2D(filters, size, padding="same", activation="relu")(t)

    path1 = conv(x, n1x1, 1)
    path3 = conv(conv(x, n3x3_reduce, 1), n3x3, 3)
    path5 = conv(conv(x, n5x5_reduce, 1), n5x5, 5)
    pool = conv(layers.MaxPooling2D(3, strides=1, padding="same")(x), pool_proj, 1)
    return layers.Concatenate()([path1, path3, path5, pool])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_inception_module", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# The paper's table (Szegedy et al. 2015, Table 1): input, the six columns, output depth,
# parameters in K (weights, 1K = 1024) and multiply-adds in M.
GOOGLENET_TABLE = {
    "3a": ((28, 28, 192), (64, 96, 128, 16, 32, 32), 256, 159, 128),
    "3b": ((28, 28, 256), (128, 128, 192, 32, 96, 64), 480, 380, 304),
    "4a": ((14, 14, 480), (192, 96, 208, 16, 48, 64), 512, 364, 73),
    "4e": ((14, 14, 528), (256, 160, 320, 32, 128, 128), 832, 840, 170),
    "5b": ((7, 7, 832), (384, 192, 384, 48, 128, 128), 1024, 1388, 71),
}
COLUMNS = ("n1x1", "n3x3_reduce", "n3x3", "n5x5_reduce", "n5x5", "pool_proj")
inception_hint = ("four paths, every conv with padding='same' and ReLU: 1x1; 1x1 reduce then 3x3; 1x1 reduce then "
                  "5x5; 3x3 max pool (stride 1, 'same') then 1x1; concatenate on the channel axis (the last one)")


def check_inception(module: str):
    input_shape, widths, depth, params_k, macs_m = GOOGLENET_TABLE[module]
    what = f"inception module {module} on {input_shape}"
    kwargs = dict(zip(COLUMNS, widths))
    mine = check_block(inception_module, lambda x, **kw: zoo_inception.inception_module(x, **kw, name="ref"),
                       input_shape, what, inception_hint, **kwargs)
    expect_equal(tuple(mine.output.shape[1:]), input_shape[:2] + (depth,), f"{what}: output (the paper's table)",
                 hint=inception_hint, quiet=True)
    # The table rounds (and is off by up to 1.5% for 5b), so agree within 2%.
    weights_k, macs = weights_without_biases(mine) / 1024, arith.model_macs(mine) / 1e6
    expect_close(weights_k, params_k, f"{what}: K weights (the paper's table)", rtol=0.02, hint=inception_hint,
                 quiet=True)
    expect_close(macs, macs_m, f"{what}: M multiply-adds (the paper's table)", rtol=0.02, hint=inception_hint,
                 quiet=True)
    print(f"\u2714 {what}: {input_shape[0]}x{input_shape[1]}x{depth}, {weights_k:.0f}K weights (table: {params_k}K), "
          f"{macs:.0f}M multiply-adds (table: {macs_m}M)")


check_inception("3a")
### BEGIN HIDDEN TESTS
for module in ("3b", "4a", "4e", "5b"):
    check_inception(module)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Residual blocks
#
# A residual block computes a correction F(x) and **adds** it to its input: y = ReLU(x + F(x)).
# The branch F of ResNet-18/34 and of the CIFAR ResNets is
#
# conv 3x3 (stride `stride`) → batch norm → ReLU → conv 3x3 → batch norm,
#
# both convolutions with `filters` filters, `padding="same"` and no bias. The ReLU comes
# **after** the addition (`layers.Add()`), so the block's output is never negative.
#
# The shortcut carries x unchanged when it already has F(x)'s shape (the **identity** shortcut).
# When the block halves the grid (`stride=2`) or changes the number of channels, x no longer
# fits and the shortcut becomes a **projection**: a 1x1 convolution with `filters` filters and
# the block's stride (no bias), followed by batch norm. This is option B of He et al. (2016).
#
# `residual=False` builds the block's *plain twin*: the same layers without the shortcut and
# the addition (conv-BN-ReLU-conv-BN-ReLU). You will need it for the depth experiment.

# %% nbgrader={"grade": false, "grade_id": "residual_block", "locked": false, "schema_version": 3, "solution": true, "task": false}
def residual_block(x, filters: int, stride: int = 1, residual: bool = True):
    """Basic residual block; a projection shortcut when the shape changes; residual=False: the plain twin."""
    ### BEGIN SOLUTION
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization(epsilon=BN_EPSILON)(y)
    y = layers.Activation("relu")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization(epsilon=BN_EPSILON)(y)
    if residual:
        shortcut = x
        if stride != 1 or x.shape[-1] != filters:
            shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(x)
            shortcut = layers.BatchNormalization(epsilon=BN_EPSILON)(shortcut)
        y = layers.Add()([shortcut, y])
    return layers.Activation("relu")(y)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_residual_identity", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
residual_hint = ("branch: conv3x3(stride) - BN - ReLU - conv3x3 - BN (padding='same', use_bias=False); "
                 "then Add() with the shortcut, then Activation('relu') after the addition")


def zoo_basic_block(x, **kwargs):
    return zoo_resnet.basic_block(x, name="ref", **kwargs)


def check_residual(input_shape, filters, stride, residual=True, hint=residual_hint):
    what = f"residual_block(x of shape {input_shape}, filters={filters}, stride={stride}, residual={residual})"
    return check_block(residual_block, zoo_basic_block, input_shape, what, hint,
                       filters=filters, stride=stride, residual=residual)


block = check_residual((56, 56, 64), 64, 1)  # ResNet-34's conv2_x: identity shortcut
expect_equal(sum(isinstance(layer, layers.Add) for layer in block.layers), 1, "identity block: one Add",
             hint=residual_hint)
check_residual((56, 56, 64), 64, 1, residual=False,
               hint="the plain twin: the same branch and the final ReLU, without shortcut and Add")
### BEGIN HIDDEN TESTS
check_residual((8, 8, 16), 16, 1)
check_residual((7, 9, 32), 32, 1)
check_residual((14, 14, 8), 8, 1, residual=False)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_residual_projection", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
projection_hint = ("when stride != 1 or the channels change, the shortcut is Conv2D(filters, 1, strides=stride, "
                   "use_bias=False) then BatchNormalization, applied to the block's input")
check_residual((56, 56, 64), 128, 2, hint=projection_hint)  # ResNet-34's first conv3_x block
# The projection's weights: 1x1x64x128 = 8,192 beside the branch's 3x3x64x128 + 3x3x128x128.
block = block_model(residual_block, (56, 56, 64), filters=128, stride=2)
expect_equal(weights_without_biases(block), 8_192 + 73_728 + 147_456, "projection block: weights by hand",
             hint=projection_hint)
### BEGIN HIDDEN TESTS
check_residual((32, 32, 16), 32, 2, hint=projection_hint)
check_residual((16, 16, 16), 32, 1, hint=projection_hint)  # more channels, same grid
check_residual((9, 9, 8), 8, 2, hint=projection_hint)      # same channels, halved (odd) grid
check_residual((16, 16, 16), 32, 2, residual=False, hint="the plain twin has no shortcut at all")
### END HIDDEN TESTS

# %% [markdown]
# ## 5. The bottleneck block
#
# ResNet-50 and deeper swap the two 3x3 convolutions for three: a 1x1 convolution reduces the
# channels to `filters`, a 3x3 convolution works on those few channels, and a 1x1 convolution
# expands to `4 * filters`. The lecture's count at 256 channels: 256·64 + 64·64·9 + 64·256 ≈ 70K
# weights instead of ≈ 600K for a 3x3 convolution from 256 to 256 channels.
#
# conv 1x1 (stride `stride`) → BN → ReLU → conv 3x3 → BN → ReLU → conv 1x1 (4·filters) → BN,
# then add the shortcut and apply a ReLU. As in the ResNet paper's model (and
# keras.applications), the stride sits on the first 1x1 convolution. The shortcut is the
# identity when x already has `4 * filters` channels and the stride is 1, otherwise the same
# projection as before (1x1 convolution to `4 * filters`, with the stride, then BN).
# No biases, 3x3 with `padding="same"`.

# %% nbgrader={"grade": false, "grade_id": "bottleneck_block", "locked": false, "schema_version": 3, "solution": true, "task": false}
def bottleneck_block(x, filters: int, stride: int = 1):
    """1x1 reduce to `filters`, 3x3, 1x1 expand to 4 * filters, plus the (projected if needed) shortcut."""
    ### BEGIN SOLUTION
    out = 4 * filters
    shortcut = x
    if stride != 1 or x.shape[-1] != out:
        shortcut = layers.Conv2D(out, 1, strides=stride, use_bias=False)(x)
        shortcut = layers.BatchNormalization(epsilon=BN_EPSILON)(shortcut)
    y = x
    for size, width, step in [(1, filters, stride), (3, filters, 1)]:
        y = layers.Conv2D(width, size, strides=step, padding="same", use_bias=False)(y)
        y = layers.BatchNormalization(epsilon=BN_EPSILON)(y)
        y = layers.Activation("relu")(y)
    y = layers.Conv2D(out, 1, use_bias=False)(y)
    y = layers.BatchNormalization(epsilon=BN_EPSILON)(y)
    return layers.Activation("relu")(layers.Add()([shortcut, y]))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_bottleneck_block", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
bottleneck_hint = ("1x1 (with the stride) - BN - ReLU - 3x3 'same' - BN - ReLU - 1x1 to 4*filters - BN, Add the "
                   "shortcut (projected to 4*filters when the shape changes), then ReLU; no biases")


def check_bottleneck(input_shape, filters, stride):
    what = f"bottleneck_block(x of shape {input_shape}, filters={filters}, stride={stride})"
    return check_block(bottleneck_block, lambda x, **kw: zoo_resnet.bottleneck_block(x, name="ref", **kw),
                       input_shape, what, bottleneck_hint, filters=filters, stride=stride)


block = check_bottleneck((56, 56, 256), 64, 1)  # ResNet-50's conv2_block2: identity shortcut
expect_equal(weights_without_biases(block), 256 * 64 + 64 * 64 * 9 + 64 * 256,
             "bottleneck at 256 channels: the lecture's ~70K weights", hint=bottleneck_hint)
check_bottleneck((56, 56, 64), 64, 1)  # ResNet-50's conv2_block1: 64 -> 256 channels, projection
### BEGIN HIDDEN TESTS
check_bottleneck((56, 56, 256), 128, 2)  # conv3_block1
check_bottleneck((8, 8, 32), 8, 1)
check_bottleneck((9, 9, 16), 4, 2)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. DenseNet: dense block and transition
#
# A dense block does not add: each layer **concatenates** its new maps to everything before it,
# so layer ℓ sees the input and the outputs of all ℓ - 1 earlier layers. Each layer adds only
# `growth_rate` (k) maps, which is why DenseNets are narrow and have few parameters.
# One dense layer (DenseNet-B, with a bottleneck) is
#
# BN → ReLU → conv 1x1 with 4k filters → BN → ReLU → conv 3x3 with k filters (`padding="same"`),
#
# pre-activation style (normalise and rectify *before* each convolution), no biases; its
# output is `Concatenate()([input, new maps])`. A block of L layers turns C channels into C + L·k.
#
# Between dense blocks a **transition layer** shrinks the volume: BN → ReLU → 1x1 convolution
# keeping `int(C * compression)` channels (no bias) → 2x2 average pooling with stride 2.
# DenseNet-121's first block (6 layers, k = 32) turns 56x56x64 into 56x56x256, and its first
# transition (compression 0.5) into 28x28x128.

# %% nbgrader={"grade": false, "grade_id": "dense_block", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dense_block(x, num_layers: int, growth_rate: int):
    """num_layers bottleneck dense layers, each concatenating growth_rate new maps to its input."""
    ### BEGIN SOLUTION
    for _ in range(num_layers):
        y = x
        for size, width in [(1, 4 * growth_rate), (3, growth_rate)]:
            y = layers.BatchNormalization(epsilon=BN_EPSILON)(y)
            y = layers.Activation("relu")(y)
            y = layers.Conv2D(width, size, padding="same", use_bias=False)(y)
        x = layers.Concatenate()([x, y])
    return x
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_dense_block", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
dense_hint = ("each layer: BN - ReLU - Conv2D(4k, 1) - BN - ReLU - Conv2D(k, 3, padding='same'), no biases, then "
              "Concatenate()([its input, its k new maps]) -- concatenate, do not add")


def check_dense(input_shape, num_layers, growth_rate):
    what = f"dense_block(x of shape {input_shape}, num_layers={num_layers}, growth_rate={growth_rate})"
    mine = check_block(dense_block, lambda x, **kw: zoo_densenet.dense_block(x, name="ref", **kw), input_shape, what,
                       dense_hint, num_layers=num_layers, growth_rate=growth_rate)
    expect_equal(mine.output.shape[-1], input_shape[-1] + num_layers * growth_rate,
                 f"{what}: C + L*k output channels", hint=dense_hint, quiet=True)


check_dense((56, 56, 64), 6, 32)  # DenseNet-121's first dense block: 64 + 6*32 = 256 channels
### BEGIN HIDDEN TESTS
check_dense((16, 16, 24), 4, 12)
check_dense((7, 7, 512), 2, 32)
check_dense((8, 8, 3), 1, 5)
### END HIDDEN TESTS

# %% nbgrader={"grade": false, "grade_id": "transition", "locked": false, "schema_version": 3, "solution": true, "task": false}
def transition(x, compression: float = 0.5):
    """BN, ReLU, 1x1 convolution to int(C * compression) channels (no bias), 2x2 average pooling, stride 2."""
    ### BEGIN SOLUTION
    x = layers.BatchNormalization(epsilon=BN_EPSILON)(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(int(x.shape[-1] * compression), 1, use_bias=False)(x)
    return layers.AveragePooling2D(2, strides=2)(x)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_transition", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
transition_hint = ("BN - ReLU - Conv2D(int(C * compression), 1, use_bias=False) - AveragePooling2D(2, strides=2): "
                   "fewer channels AND half the grid")


def check_transition(input_shape, compression):
    what = f"transition(x of shape {input_shape}, compression={compression})"
    check_block(transition, lambda x, **kw: zoo_densenet.transition(x, name="ref", **kw), input_shape, what,
                transition_hint, compression=compression)


check_transition((56, 56, 256), 0.5)  # DenseNet-121's first transition: 28x28x128
### BEGIN HIDDEN TESTS
check_transition((14, 14, 1024), 0.5)
check_transition((16, 16, 60), 1.0)
check_transition((9, 9, 45), 0.5)  # odd numbers: int() rounds 22.5 down, the pool drops a row
### END HIDDEN TESTS

# %% [markdown]
# Dense blocks are cheap in parameters: every layer adds only k maps. Your blocks reproduce
# DenseNet-121's convolutional body (the paper's Table 1: 6, 12, 24, 16 layers, k = 32) on a
# 56x56x64 input:

# %% nbgrader={"grade": false, "grade_id": "given_29", "locked": true, "schema_version": 3, "solution": false, "task": false}
inputs = x = keras.Input((56, 56, 64))
for i, num_layers in enumerate((6, 12, 24, 16)):
    x = dense_block(x, num_layers, 32)
    if i < 3:
        x = transition(x)
densenet_body = keras.Model(inputs, x)
print(f"DenseNet-121 body: output {tuple(densenet_body.output.shape[1:])} from {len(densenet_body.layers)} layers, "
      f"only {densenet_body.count_params() / 1e6:.2f}M parameters (VGG-16's convolutions: 14.7M)")

# %% [markdown]
# ## 7. Deeper is not always better: plain and residual nets
#
# He et al. trained "plain" networks of 20 and 56 layers on CIFAR-10 and found the 56-layer one
# worse — not only on the test set but on the **training** set, although it could in principle
# copy the 20-layer net and set its extra layers to the identity. The same nets with shortcuts
# (ResNets) got better with depth. Their CIFAR networks have 6n + 2 weight layers:
#
# - a stem: 3x3 convolution with `widths[0]` filters (`padding="same"`, no bias), BN, ReLU;
# - three stages of n blocks each, with `widths[0]`, `widths[1]`, `widths[2]` filters
#   (16, 32, 64 in the paper); the first block of the second and third stage has stride 2;
# - global average pooling (`layers.GlobalAveragePooling2D()`) and a softmax `Dense` layer.
#
# Each block has two convolutions, so 6n + 1 convolutions plus the classifier: 20 layers for
# n = 3, 56 for n = 9 (the two projection shortcuts are not counted: the paper's CIFAR nets
# use parameter-free shortcuts there, ours use the projections of your block). Use your `residual_block` (with `residual=False` for the plain net).
# A depth that is not 6n + 2 (n ≥ 1) is a `ValueError` whose message says which depths work.

# %% nbgrader={"grade": false, "grade_id": "cifar_net", "locked": false, "schema_version": 3, "solution": true, "task": false}
def cifar_net(depth: int, residual: bool = True, input_shape=(28, 28, 1), num_classes: int = 10,
              widths=(16, 32, 64)) -> keras.Model:
    """He et al.'s CIFAR network of `depth` = 6n + 2 layers; residual=False gives the plain net."""
    ### BEGIN SOLUTION
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110...), got {depth!r}")
    n = (depth - 2) // 6
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(widths[0], 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(epsilon=BN_EPSILON)(x)
    x = layers.Activation("relu")(x)
    for stage, filters in enumerate(widths):
        for b in range(n):
            x = residual_block(x, filters, stride=2 if stage > 0 and b == 0 else 1, residual=residual)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_cifar_net", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
net_hint = ("stem conv3x3 (no bias) - BN - ReLU; 3 stages of n = (depth - 2) / 6 residual_blocks with 16, 32, 64 "
            "filters, stride 2 on the first block of stages 2 and 3; GlobalAveragePooling2D; Dense softmax")


def zoo_cifar_net(depth, residual, input_shape=(28, 28, 1), num_classes=10):
    # The zoo's CIFAR ResNets use the paper's parameter-free option-A shortcuts; ours project (option B).
    options = dict(shortcut="B") if residual else dict(residual=False)
    return models.build("resnet_cifar", depth=depth, input_shape=input_shape, num_classes=num_classes, **options)


def check_net(depth, residual, input_shape=(28, 28, 1), num_classes=10):
    what = f"cifar_net({depth}, residual={residual}, input_shape={input_shape}, num_classes={num_classes})"
    expect_no_zoo(cifar_net, what)
    mine = student_model(lambda: cifar_net(depth, residual, input_shape, num_classes), what, net_hint)
    expect_same_structure(mine, zoo_cifar_net(depth, residual, input_shape, num_classes), what, hint=net_hint)


check_net(20, residual=False)  # the lectures' plain-20
check_net(20, residual=True)   # ResNet-20
expect_raises(lambda: cifar_net(21), ValueError, "cifar_net(21): 21 is not 6n + 2",
              hint="check that (depth - 2) is a positive multiple of 6 and raise ValueError otherwise")
### BEGIN HIDDEN TESTS
check_net(32, residual=False)
check_net(8, residual=True, input_shape=(32, 32, 3), num_classes=100)
check_net(14, residual=True, input_shape=(12, 12, 2), num_classes=4)
for bad in (2, 7, 0):
    expect_raises(lambda: cifar_net(bad), ValueError, f"cifar_net({bad}): not 6n + 2 with n >= 1",
                  hint="n = (depth - 2) / 6 must be a whole number of at least 1")
### END HIDDEN TESTS

# %% [markdown]
# ## 8. How the gradient reaches the first layers
#
# The lecture's argument: backpropagation multiplies one local derivative per layer, and a long
# product of factors far from 1 vanishes (or explodes). For z = a + F(a) the chain rule gives
# exactly ∂L/∂a = ∂L/∂z · (1 + F'(a)): the "1" carries the gradient past the block even when F'
# is small. Your block applies a ReLU after the addition, y = ReLU(a + F(a)), so its exact gradient
# is ∂L/∂a = (∂L/∂y ⊙ 1[a + F(a) > 0]) · (1 + F'(a)): the identity path still carries the gradient,
# but only through the units the ReLU lets pass (He et al.'s pre-activation ResNet, 2016, moves the
# ReLU into the branch to make the path a clean identity).
#
# Measure it. Write `conv_gradient_norms(model, x, y)`: the L2 norm of the gradient of the
# loss with respect to the **kernel** of every `Conv2D` layer, in the order of `model.layers`.
# The loss is the *mean* sparse categorical cross-entropy of `model(x, training=True)` against
# the labels `y` (`training=True`: batch normalisation uses the batch's statistics, as it does
# during training). Use `tf.GradientTape`; return a NumPy array of floats.

# %% nbgrader={"grade": false, "grade_id": "conv_gradient_norms", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_gradient_norms(model: keras.Model, x, y) -> np.ndarray:
    """||d loss / d kernel|| for each Conv2D layer of the model, in model.layers order."""
    ### BEGIN SOLUTION
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, layers.Conv2D)]
    with tf.GradientTape() as tape:
        predictions = model(x, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, predictions))
    return np.array([float(tf.norm(gradient)) for gradient in tape.gradient(loss, kernels)])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_conv_gradient_norms", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
expect_own_code(conv_gradient_norms, "conv_gradient_norms", ("course.model_checks",),
                "the tests measure with course.model_checks: write your own measurement with tf.GradientTape")


def check_gradient_norms(model, x, y, what):
    expected = conv_kernel_gradient_norms(model, x, y)
    got = conv_gradient_norms(model, x, y)
    expect_close(got, expected, what, rtol=1e-3, atol=1e-7,
                 hint="one norm per Conv2D kernel (not biases, not Dense), loss = MEAN cross-entropy of "
                      "model(x, training=True)",
                 mistakes={"the loss is summed over the batch instead of averaged": expected * len(y),
                           "squared norms": expected ** 2,
                           "batch norm in inference mode (training=False)":
                               conv_kernel_gradient_norms(model, x, y, training=False)})


rng = np.random.default_rng(0)
keras.utils.set_random_seed(0)
check_gradient_norms(models.build("plain20", input_shape=(8, 8, 1), num_classes=4),
                     rng.normal(size=(6, 8, 8, 1)).astype("float32"), rng.integers(0, 4, 6),
                     "conv_gradient_norms(plain-20 on 8x8 images)")
### BEGIN HIDDEN TESTS
# Independent oracle: centred finite differences of the loss with respect to one small kernel.
keras.utils.set_random_seed(1)
inputs = keras.Input((5, 5, 2))
h = layers.Conv2D(3, 2, name="tiny_conv")(inputs)
h = layers.BatchNormalization()(h)
h = layers.Activation("relu")(h)
h = layers.Conv2D(2, 1, use_bias=False, name="tiny_mix")(h)
h = layers.GlobalAveragePooling2D()(h)
tiny = keras.Model(inputs, layers.Dense(3, activation="softmax")(h))
x_tiny = rng.normal(size=(4, 5, 5, 2)).astype("float32")
y_tiny = np.array([0, 2, 1, 2])


def numerical_norm(layer):
    original = layer.kernel.numpy()

    def loss_at(kernel):
        layer.kernel.assign(kernel.astype("float32"))
        predictions = tiny(x_tiny, training=True)
        return float(np.mean(keras.losses.sparse_categorical_crossentropy(y_tiny, predictions)))

    gradient = numerical_gradient(loss_at, original.astype("float64"), h=1e-3)
    layer.kernel.assign(original)
    return np.linalg.norm(gradient)


expected = np.array([numerical_norm(tiny.get_layer("tiny_conv")), numerical_norm(tiny.get_layer("tiny_mix"))])
expect_close(conv_gradient_norms(tiny, x_tiny, y_tiny), expected, "conv_gradient_norms vs finite differences",
             rtol=2e-2, atol=1e-4, hint="one norm per Conv2D kernel, mean loss, training=True")
keras.utils.set_random_seed(2)
check_gradient_norms(models.build("resnet_cifar", depth=8, input_shape=(6, 6, 3), num_classes=5, shortcut="B"),
                     rng.normal(size=(5, 6, 6, 3)).astype("float32"), rng.integers(0, 5, 5),
                     "conv_gradient_norms(ResNet-8 with projections)")
### END HIDDEN TESTS

# %% [markdown]
# Now the lecture's comparison: the gradient reaching each convolution of freshly initialised
# plain and residual nets of 20 and 56 layers, on one batch of Fashion-MNIST (narrower than the
# paper's in the grading profile, so that it runs in seconds).

# %% nbgrader={"grade": false, "grade_id": "given_37", "locked": true, "schema_version": 3, "solution": false, "task": false}
(x_train_all, y_train_all), (x_test_all, y_test_all) = data.fashion_mnist()
x_batch, y_batch = data.stratified_subset(x_train_all, y_train_all, 32 if profile.is_grading else 128, seed=0)
x_batch = data.normalise(x_batch)
flow_widths = (4, 8, 16) if profile.is_grading else (16, 32, 64)

fig, ax = plt.subplots(figsize=(8, 3.5))
for depth, style in [(20, ":"), (56, "-")]:
    for residual, colour in [(False, "tab:red"), (True, "tab:green")]:
        keras.utils.set_random_seed(0)
        norms = conv_gradient_norms(cifar_net(depth, residual, widths=flow_widths), x_batch, y_batch)
        label = f"{'ResNet' if residual else 'plain'}-{depth}"
        ax.semilogy(np.arange(1, len(norms) + 1), norms, style, color=colour, label=label)
        print(f"{label:10s} gradient norm at the first conv {norms[0]:10.3g}, at the last {norms[-1]:.3g}: "
              f"ratio {norms[0] / norms[-1]:.3g}")
ax.set_xlabel("convolution (1 = next to the input)")
ax.set_ylabel("||dL/dW||")
ax.set_title("gradient reaching each layer at initialisation")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Look at the plain 56-layer net: with batch normalisation the gradient does not vanish but
# **explodes** towards the input — the first layers receive gradients about a thousand times
# larger than the last ones (Yang et al. 2019 show that batch norm makes deep plain nets do this
# at initialisation). That is a different effect from Balduzzi et al.'s (2017) "shattered
# gradients", which is about the gradient's *correlation*: in a deep plain net the gradients at
# nearby inputs become nearly uncorrelated, like white noise, whatever their size. Here the
# product of 56 Jacobians is badly conditioned: no single learning rate suits layers whose
# gradients are three orders of magnitude apart. The residual net keeps the gradients of all its
# layers within a small factor of one another — the identity path, the "1 +" in 1 + F'(a)
# (passed through the ReLU after each addition where that unit is active).

# %% nbgrader={"grade": true, "grade_id": "test_gradient_flow", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Behaviour of YOUR nets at initialisation: the gradient at the first convolution relative to the last
# one, measured by the tests' own gradient code, with initial weights the tests choose (below).
flow_hint = "build the nets with cifar_net (section 7) using your residual_block, with shortcuts only when residual=True"


def first_to_last(depth, residual, seed, widths=(4, 8, 16)):
    net = student_model(lambda: cifar_net(depth, residual, widths=widths), f"cifar_net({depth}, {residual})", flow_hint)
    canonical_initialisation(net, seed)
    norms = conv_kernel_gradient_norms(net, x_flow, y_flow)
    return norms[0] / norms[-1]


# The same 16 images in every profile (given_37's batch is larger outside the grading profile).
x_flow, y_flow = data.stratified_subset(x_train_all, y_train_all, 32, seed=0)
x_flow, y_flow = data.normalise(x_flow)[:16], y_flow[:16]


# Chance that a correct cifar_net fails these checks: 0, because the draw is deterministic. canonical_initialisation
# gives every net with the structure test_cifar_net asks for the same weights, however its code creates the layers,
# and for those weights the reference solution gives plain/residual = 508 here (seed 0, widths 4-8-16) and 279
# below (seed 3, widths 8-8-8), 28 times the threshold 10 or more; round-off (other hardware, thread counts) moves
# gradient norms by about 1e-6 relative. Random draws would not be safe: over seeds 0-29 the ratio ranged from 12.9
# to 689 (widths 4-8-16) and from 13.3 to 806 (8-8-8) with canonical_initialisation, and from 19 to 1572 and from 30
# to 927 with Keras' own seeded initialisers, whose draws for each layer depend on the order in which the student's
# code creates the layers (the old test used those). A plain net that keeps its shortcuts (or a residual net without
# them) has the same structure in both calls, hence the same weights and a ratio of exactly 1: it fails for certain.
plain, resnet = first_to_last(56, False, 0), first_to_last(56, True, 0)
expect_true(plain > 10 * resnet, "56 layers: the first layer's gradient, relative to the last layer's",
            f"plain net ratio {plain:.3g}, residual net ratio {resnet:.3g}: expected the plain one to be at least "
            "ten times more lopsided", flow_hint)
print(f"\u2714 56 layers at initialisation: first/last gradient {plain:.3g} (plain) vs {resnet:.3g} (residual)")
### BEGIN HIDDEN TESTS
plain, resnet = first_to_last(56, False, 3, (8, 8, 8)), first_to_last(56, True, 3, (8, 8, 8))
expect_true(plain > 10 * resnet, "56 layers, another seed and width",
            f"plain ratio {plain:.3g}, residual ratio {resnet:.3g}", flow_hint)
### END HIDDEN TESTS

# %% [markdown]
# ### The depth experiment
#
# Now train them. Plain and residual nets of a shallow and a deep depth, on the same images,
# with the same optimiser (Adam, learning rate 10⁻³), for the same number of epochs; we record
# the training loss after every batch and the final training and test errors. The experiment
# is sized by the profile: in the grading profile it is a tiny smoke run (256 images, one
# epoch, narrow nets of 8 and 14 layers, no test set — its numbers mean little); the **full**
# profile runs the lectures'
# 20 and 56 layers at the paper's widths on all of Fashion-MNIST. This cell is not graded.
# Set `STOCHASTIC_DEPTH = 0.5` to also train the deep ResNet with stochastic depth (Huang et
# al. 2016: during training each residual block is skipped at random, the last one half of
# the time), built by the model zoo.

# %%
DEPTH_EXPERIMENT = {  # depths, widths, training images, epochs
    "grading": dict(depths=(8, 14), widths=(4, 8, 16), train_size=256, epochs=1),
    "demo": dict(depths=(20, 56), widths=(8, 16, 32), train_size=4000, epochs=5),
    "full": dict(depths=(20, 56), widths=(16, 32, 64), train_size=None, epochs=profile.epochs),
}[profile.name]
STOCHASTIC_DEPTH = 0.0  # e.g. 0.5 (full profile) to add a deep ResNet trained with stochastic depth


class BatchLosses(keras.callbacks.Callback):
    """Record the running training loss after every batch, for curves even from one epoch."""

    def on_train_begin(self, logs=None):
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


x_exp, y_exp = (x_train_all, y_train_all) if DEPTH_EXPERIMENT["train_size"] is None else \
    data.stratified_subset(x_train_all, y_train_all, DEPTH_EXPERIMENT["train_size"], seed=0)
x_eval, y_eval = data.stratified_subset(x_test_all, y_test_all, profile.test_size or len(y_test_all), seed=0)
train_ds = data.make_dataset(x_exp, y_exp, profile.batch_size, training=True)
test_ds = data.make_dataset(x_eval, y_eval, 512, training=False)

candidates = {f"{'ResNet' if residual else 'plain'}-{depth}":
              (lambda depth=depth, residual=residual: cifar_net(depth, residual, widths=DEPTH_EXPERIMENT["widths"]))
              for residual in (False, True) for depth in DEPTH_EXPERIMENT["depths"]}
if STOCHASTIC_DEPTH:
    deepest = max(DEPTH_EXPERIMENT["depths"])
    candidates[f"ResNet-{deepest} + stochastic depth"] = lambda: models.build(
        "resnet_cifar", depth=deepest, input_shape=(28, 28, 1), shortcut="B", stochastic_depth=STOCHASTIC_DEPTH)

results, curves = [], {}
for label, build in candidates.items():
    keras.utils.set_random_seed(0)
    model = compile_classifier(set_batchnorm_momentum(build()))  # running averages that settle in a short run
    model.run_eagerly = profile.is_grading  # a handful of steps: tracing a graph would cost more than running them
    recorder = BatchLosses()
    # Every net gets the same epochs: a wall-clock budget would stop the slower, deeper nets sooner and
    # bias the comparison (only the grading profile's smoke run keeps its budget).
    history = fit(model, train_ds, profile=profile, epochs=DEPTH_EXPERIMENT["epochs"], callbacks=[recorder],
                  time_budget_s=None if profile.is_grading else float("inf"), verbose=0)
    curves[label] = recorder.losses
    train_error = 1 - history.history["accuracy"][-1]  # during the last epoch, as in the paper's curves
    test_error = np.nan if profile.is_grading else 1 - model.evaluate(test_ds, verbose=0)[1]  # grading: no time
    results.append({"net": label, "training error": train_error, "test error": test_error, "seconds": history.seconds})
    print(f"{label:32s} training error {train_error:.3f}  test error {test_error:.3f}  ({history.seconds:.0f} s)")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
for label, losses in curves.items():
    steps = np.arange(1, len(losses) + 1) * profile.batch_size / max(len(y_exp), 1)
    axes[0].plot(steps, losses, "-" if label.startswith("ResNet") else "--", label=label)
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("running training loss")
axes[0].legend()
table = pd.DataFrame(results).set_index("net")
table[["training error", "test error"]].plot.bar(ax=axes[1], rot=0)
axes[1].set_title(f"{profile.name} profile")
plt.tight_layout()
plt.show()
table

# %% [markdown]
# **What a longer run shows.** On the course's 2-core CPU (no GPU), with narrower nets than the
# paper's (widths 8, 16, 32), 4,000 training images, 5 epochs, Adam, batches of 128 and batch-norm
# momentum 0.9 (the `demo` entry above; about four minutes in all), we measured:
#
# | net | training error (last epoch) | test error (2,000 images) | seconds |
# |---|---|---|---|
# | plain-20 | 0.212 | 0.248 | 28 |
# | plain-56 | **0.612** | 0.629 | 83 |
# | ResNet-20 | 0.164 | 0.217 | 29 |
# | ResNet-56 | 0.187 | 0.246 | 94 |
#
# The plain 56-layer net is far behind the plain 20-layer one *on its own training images*:
# the lectures' degradation, and since its test error is just as bad, not overfitting. With
# shortcuts the 56-layer net trains almost as well as the 20-layer one (in the paper, trained
# for 64,000 iterations, it ends up better). Run the `full` profile (`COURSE_PROFILE=full`; a GPU
# helps, on a CPU it takes hours) to train the paper's widths on all of Fashion-MNIST. Every net
# gets the same number of epochs. Batch normalisation's running averages use momentum 0.9
# (`course.train.set_batchnorm_momentum`): with Keras's default of 0.99 they lag so far behind
# after a few hundred steps that every net scores near chance in inference mode. In the grading
# profile the run is only a smoke test: that is why the graded part of this section is the
# gradient measurement, not the accuracy.

# %% [markdown]
# ## Written questions
#
# **Q1 (3 points).** The lectures ask: *how can a larger network have a higher training error?*
# A 56-layer plain net contains a 20-layer one (set the extra layers to the identity), so it
# can represent everything the 20-layer net can. Explain why it nevertheless trains worse, why
# this is not overfitting, and how residual connections change the picture. Use your gradient
# measurements (and your training curves if you ran the full profile).

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_degradation", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# YOUR ANSWER HERE
#
# ### BEGIN SOLUTION
# Model answer. Overfitting would show a *lower* training error with a higher test error; here the
# training error itself is higher, so the problem is optimisation, not capacity or generalisation
# ("degradation"). A solution at least as good as the 20-layer net exists (extra layers = identity), but
# gradient descent does not find it: stacks of conv-BN-ReLU layers cannot easily represent the identity,
# and the gradient reaching the early layers is a product of 56 Jacobians. Our measurement at
# initialisation shows that product is badly conditioned: in the plain 56-layer net the first layer's
# gradient is ~10^3 times the last layer's (with batch norm it explodes; without it, it tends to vanish),
# so no learning rate suits all layers and training progresses slowly or erratically. A residual block
# computes ReLU(x + F(x)): the identity is the default (F = 0, easy to reach by shrinking weights; the
# ReLU then passes the non-negative x unchanged) and the gradient flows through the addition as
# dL/da = dL/dz (1 + F'(a)) (exact for z = a + F(a); the ReLU after the addition only masks the inactive
# units), so every layer receives a usable gradient; in our
# measurement the first/last ratio stays within a few tens. Hence ResNet-56 trains at least as well as ResNet-20,
# and depth helps again. (Stochastic depth goes further: dropping blocks trains shorter sub-networks.)
# ### END SOLUTION

# %% [markdown]
# **Q2 (2 points).** Inception module 3a has 159K weights and costs 128M multiply-adds (your
# test reproduced both). How much would the 3x3 and 5x5 paths cost **without** their 1x1
# reductions (the 3x3 and 5x5 convolutions working directly on the 192 input channels)?
# Compute it with your `inception_module` or by hand, and say what the reductions buy and
# what they might cost.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_reduction", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# YOUR ANSWER HERE
#
# ### BEGIN SOLUTION
# Model answer. Without reductions the 3x3 path has 3·3·192·128 = 221,184 weights and the 5x5 path
# 5·5·192·32 = 153,600, instead of 192·96 + 3·3·96·128 = 129,024 and 192·16 + 5·5·16·32 = 15,872. The
# module would have 12,288 + 221,184 + 153,600 + 6,144 = 393,216 weights (384K instead of 159K) and cost
# 28·28·393,216 ≈ 308M multiply-adds instead of 128M: 2.4 times more, with the 5x5 path alone 10 times
# dearer. The 1x1 convolutions compress the 192 channels to 96 and 16 before the expensive spatial
# filters (and add a ReLU each). The price is a bottleneck: if 16 channels cannot carry what the 5x5
# filters need, information is lost before they see it; GoogLeNet accepts this because the 5x5 path
# has few output filters and the other paths see the full input.
# ### END SOLUTION
