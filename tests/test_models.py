"""The model zoo against independent oracles: keras.applications, the papers' tables,
hand computations from the lecture slides, and TensorFlow's own ops.

ImageNet-size models are built once per session inside a `keras.StatelessScope`
(no weights are initialised: counting parameters and multiply-adds needs shapes
only); models that must run are the small Fashion-MNIST-sized adaptations.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import keras
import numpy as np
import pytest

from course import arith, models
from course.models import resnet
from course.models.blocks import conv_bn_relu
from course.models.compare import (ILSVRC_TOP5, PAPER_SIZES, PAPER_TOP5, against_papers, compare, network_depth,
                                   plot_comparison, styled)
from course.models.layers import (DropPath, LocalResponseNormalization, PartiallyConnectedConv2D,
                                  TrainableSubsampling, ZeroPadShortcut)

SPEC_NAMES = ["lenet5", "lenet5_paper", "alexnet", "zfnet", "vgg11", "vgg11_lrn", "vgg13", "vgg16_conv1",
              "vgg16", "vgg19", "nin", "googlenet", "inception_v3", "resnet18", "resnet34", "resnet50",
              "resnet101", "resnet152", "plain18", "plain34", "resnet20", "resnet56", "resnet110", "plain20",
              "plain56", "preact_resnet18", "resnext50_32x4d", "wide_resnet28_10", "densenet121",
              "densenet169", "densenet201", "densenet264"]


@functools.cache
def shapes_only(name: str, **options) -> keras.Model:
    """Our model in its paper configuration, built once, weights never initialised."""
    with keras.StatelessScope():
        return models.build(name, **options)


@functools.cache
def keras_application(cls: str) -> keras.Model:
    with keras.StatelessScope():
        return getattr(keras.applications, cls)(weights=None)


def trainable(model) -> int:
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def kernels(model) -> dict[str, tuple]:
    return {layer.name: tuple(layer.kernel.shape) for layer in model.layers if hasattr(layer, "kernel")}


def out_shape(model, layer: str) -> tuple:
    return tuple(model.get_layer(layer).output.shape[1:])


# --------------------------------------------------------------------------- the contract

def test_every_spec_name_is_registered():
    assert set(SPEC_NAMES) <= set(models.names()), set(SPEC_NAMES) - set(models.names())


# --------------------------------------------------------------------------- keras.applications

def _keras_conv_biases(reference) -> int:
    return sum(layer.bias.shape[0] for layer in reference.layers
               if isinstance(layer, keras.layers.Conv2D) and layer.use_bias)


@pytest.mark.slow
@pytest.mark.parametrize("name, cls", [("vgg16", "VGG16"), ("vgg19", "VGG19"), ("densenet121", "DenseNet121"),
                                       ("densenet169", "DenseNet169"), ("densenet201", "DenseNet201"),
                                       ("inception_v3", "InceptionV3")])
def test_parameters_equal_keras_applications(name, cls):
    ours, reference = shapes_only(name), keras_application(cls)
    assert ours.count_params() == reference.count_params()
    if not name.startswith("inception"):  # VGG and DenseNet share keras.applications' layer names
        assert kernels(ours) == kernels(reference)


@pytest.mark.slow
@pytest.mark.parametrize("depth", [50, 101, 152])
def test_resnet_equals_keras_applications_but_for_conv_biases(depth):
    """keras.applications adds a (redundant) bias to every convolution; the paper's model has none."""
    ours, reference = shapes_only(f"resnet{depth}"), keras_application(f"ResNet{depth}")
    assert kernels(ours) == kernels(reference)
    assert ours.count_params() + _keras_conv_biases(reference) == reference.count_params()


# --------------------------------------------------------------------------- the papers' tables

@pytest.mark.slow
@pytest.mark.parametrize("name, millions", [("vgg11", 133), ("vgg11_lrn", 133), ("vgg13", 133),
                                            ("vgg16_conv1", 134), ("vgg16", 138), ("vgg19", 144)])
def test_vgg_parameters_match_table_2(name, millions):
    assert round(shapes_only(name).count_params() / 1e6) == millions


def test_vgg_configurations_differ_where_table_1_says():
    lrn = shapes_only("vgg11_lrn")
    assert isinstance(lrn.get_layer("block1_lrn"), LocalResponseNormalization)
    conv1 = shapes_only("vgg16_conv1")
    assert [conv1.get_layer(f"block{b}_conv3").kernel.shape[:2] for b in (3, 4, 5)] == [(1, 1)] * 3


def test_vgg16_layers_match_the_memory_table():
    """The slide's VGG-16 walk-through: output volume and weights (biases aside) of each layer."""
    model = shapes_only("vgg16")
    rows = [("block1_conv1", (224, 224, 64), 1728), ("block1_conv2", (224, 224, 64), 36864),
            ("block1_pool", (112, 112, 64), 0), ("block2_conv1", (112, 112, 128), 73728),
            ("block2_conv2", (112, 112, 128), 147456), ("block2_pool", (56, 56, 128), 0),
            ("block3_conv1", (56, 56, 256), 294912), ("block3_conv3", (56, 56, 256), 589824),
            ("block3_pool", (28, 28, 256), 0), ("block4_conv1", (28, 28, 512), 1179648),
            ("block4_conv3", (28, 28, 512), 2359296), ("block4_pool", (14, 14, 512), 0),
            ("block5_conv3", (14, 14, 512), 2359296), ("block5_pool", (7, 7, 512), 0),
            ("fc1", (4096,), 102760448), ("fc2", (4096,), 16777216), ("predictions", (1000,), 4096000)]
    for layer, shape, weights in rows:
        assert out_shape(model, layer) == shape, layer
        kernel = getattr(model.get_layer(layer), "kernel", None)
        assert (0 if kernel is None else math.prod(kernel.shape)) == weights, layer
    assert model.count_params() == pytest.approx(138e6, rel=0.005)


def test_alexnet_volumes_and_parameters_on_227():
    model = shapes_only("alexnet")
    volumes = {"conv1": (55, 55, 96), "pool1": (27, 27, 96), "conv2": (27, 27, 256), "pool2": (13, 13, 256),
               "conv3": (13, 13, 384), "conv4": (13, 13, 384), "conv5": (13, 13, 256), "pool5": (6, 6, 256)}
    assert {layer: out_shape(model, layer) for layer in volumes} == volumes
    # single stream: (f*f*c_in + 1) * k per layer, by hand
    params = {"conv1": (11 * 11 * 3 + 1) * 96, "conv2": (5 * 5 * 96 + 1) * 256, "conv3": (9 * 256 + 1) * 384,
              "conv4": (9 * 384 + 1) * 384, "conv5": (9 * 384 + 1) * 256, "fc6": (9216 + 1) * 4096,
              "fc7": (4096 + 1) * 4096, "fc8": (4096 + 1) * 1000}
    assert {layer: model.get_layer(layer).count_params() for layer in params} == params
    assert model.count_params() == sum(params.values()) == 62_378_344


@pytest.mark.slow
def test_alexnet_two_streams_halves_the_grouped_layers():
    model = shapes_only("alexnet", two_streams=True)
    assert model.get_layer("conv2").count_params() == (5 * 5 * 48 + 1) * 256
    assert model.count_params() == 60_965_224  # the paper's "60 million"


def test_zfnet_volumes_match_figure_3():
    model = shapes_only("zfnet")
    sizes = {"conv1": 110, "pool1": 55, "conv2": 26, "pool2": 13, "conv5": 13, "pool5": 6}
    assert {layer: out_shape(model, layer)[0] for layer in sizes} == sizes


GOOGLENET_TABLE_1 = {  # widths, output depth, params (K) as printed in the paper
    "3a": ((64, 96, 128, 16, 32, 32), 256, 159), "3b": ((128, 128, 192, 32, 96, 64), 480, 380),
    "4a": ((192, 96, 208, 16, 48, 64), 512, 364), "4b": ((160, 112, 224, 24, 64, 64), 512, 437),
    "4c": ((128, 128, 256, 24, 64, 64), 512, 463), "4d": ((112, 144, 288, 32, 64, 64), 528, 580),
    "4e": ((256, 160, 320, 32, 128, 128), 832, 840), "5a": ((256, 160, 320, 32, 128, 128), 832, 1072),
    "5b": ((384, 192, 384, 48, 128, 128), 1024, 1388),
}


def test_googlenet_modules_match_table_1():
    model = shapes_only("googlenet")
    for module, ((n1, r3, n3, r5, n5, pool), depth, paper_k) in GOOGLENET_TABLE_1.items():
        out = model.get_layer(f"inception_{module}_output")
        c_in = model.get_layer(f"inception_{module}_1x1").input.shape[-1]
        weights = sum(math.prod(layer.kernel.shape) for layer in model.layers
                      if layer.name.startswith(f"inception_{module}_") and hasattr(layer, "kernel"))
        assert out.output.shape[-1] == depth, module
        assert weights == c_in * (n1 + r3 + r5 + pool) + 9 * r3 * n3 + 25 * r5 * n5, module
        # The table counts weights in units of 1024; its 4c and 5a entries disagree with its
        # own widths (by 7% and 5%), the other seven agree within 2%.
        assert weights / 1024 == pytest.approx(paper_k, rel=0.08 if module in ("4c", "5a") else 0.02), module
    assert network_depth(model) == 22


def _aux_head(model, prefix: str) -> int:
    return sum(layer.count_params() for layer in model.layers if layer.name.startswith(prefix))


def _main_path_is_unchanged(with_aux, plain):
    """The option adds the heads and nothing else; off (the default), the model is the paper's."""
    assert [layer.name for layer in with_aux.layers if not layer.name.startswith("aux")] == [
        layer.name for layer in plain.layers]
    assert plain.output_names == ["predictions"] and with_aux.output_names[0] == "predictions"


def test_googlenet_auxiliary_classifiers_follow_section_5():
    plain, aux = shapes_only("googlenet"), shapes_only("googlenet", aux_classifiers=True)
    _main_path_is_unchanged(aux, plain)
    assert aux.output_names == ["predictions", "aux1_predictions", "aux2_predictions"]
    assert [tuple(output.shape) for output in aux.outputs] == [(None, 1000)] * 3
    # By hand, at 224x224: 4a gives 14x14x512 and 4d 14x14x528; 5x5/3 average pooling -> 4x4.
    # 1x1 conv to 128 with biases, FC 4*4*128 -> 1024, linear 1024 -> 1000 classes:
    #   aux1: 512*128 + 128 + (2048*1024 + 1024) + (1024*1000 + 1000) = 65,664 + 2,098,176 + 1,025,000
    #   aux2: 528*128 + 128 + ... = 67,712 + 2,098,176 + 1,025,000
    assert (out_shape(aux, "aux1_pool"), out_shape(aux, "aux2_pool")) == ((4, 4, 512), (4, 4, 528))
    assert _aux_head(aux, "aux1_") == 3_188_840
    assert _aux_head(aux, "aux2_") == 3_190_888
    assert aux.get_layer("aux1_drop").rate == 0.7
    assert aux.count_params() == plain.count_params() + 3_188_840 + 3_190_888


def test_inception_v3_auxiliary_classifier_sits_on_the_17x17_grid():
    plain, aux = shapes_only("inception_v3"), shapes_only("inception_v3", aux_classifiers=True)
    _main_path_is_unchanged(aux, plain)
    assert aux.output_names == ["predictions", "aux_predictions"]
    assert [tuple(output.shape) for output in aux.outputs] == [(None, 1000)] * 2
    assert aux.get_layer("aux_pool").input.shape[1:] == (17, 17, 768)  # the last 17x17 module
    # By hand, at 299x299: 5x5/3 pooling -> 5x5x768; convolutions without biases, batch norm
    # without scale (beta, moving mean and variance: 3 numbers per channel):
    #   1x1 conv to 128:                 768*128 + 3*128      =    98,688
    #   5x5 'valid' conv to 768 (-> 1x1): 25*128*768 + 3*768   = 2,459,904
    #   linear 768 -> 1000:              768*1000 + 1000      =   769,000
    assert out_shape(aux, "aux_5x5_conv") == (1, 1, 768)
    assert isinstance(aux.get_layer("aux_5x5_bn"), keras.layers.BatchNormalization)
    assert _aux_head(aux, "aux_") == 98_688 + 2_459_904 + 769_000 == 3_327_592
    assert aux.count_params() == plain.count_params() + 3_327_592


@pytest.mark.slow
@pytest.mark.parametrize("depth, gflops", [(18, 1.8), (34, 3.6), (50, 3.8), (101, 7.6), (152, 11.3)])
def test_resnet_multiply_adds_match_table_1(depth, gflops):
    model = shapes_only(f"resnet{depth}")
    assert arith.model_macs(model) / 1e9 == pytest.approx(gflops, rel=0.10)
    assert network_depth(model) == depth


def test_resnet_stages_are_56_28_14_7():
    model = shapes_only("resnet50")
    assert out_shape(model, "conv1_relu")[:2] == (112, 112)
    for stage, size, blocks_ in [(2, 56, 3), (3, 28, 4), (4, 14, 6), (5, 7, 3)]:
        assert out_shape(model, f"conv{stage}_block{blocks_}_out") == (size, size, 256 * 2 ** (stage - 2))


def test_resnext50_matches_its_table():
    model = shapes_only("resnext50_32x4d")
    assert model.get_layer("conv2_block1_2_conv").groups == 32
    assert model.get_layer("conv2_block1_2_conv").kernel.shape == (3, 3, 4, 128)  # 32 groups of 4 channels
    assert round(trainable(model) / 1e6, 1) == 25.0   # Xie et al., Table 1
    assert trainable(model) == 25_028_904             # torchvision's resnext50_32x4d


def test_wide_resnet_28_10_matches_its_table():
    model = shapes_only("wide_resnet28_10")
    assert out_shape(model, "conv4_block4_add") == (8, 8, 640)
    assert round(trainable(model) / 1e6, 1) == 36.5   # Zagoruyko & Komodakis, Table 3
    assert trainable(model) == 36_479_194             # the authors' PyTorch model


def _densenet_params(blocks_, k=32, classes=1000) -> int:
    """DenseNet-BC parameters by hand (keras counting: 4 numbers per batch-norm channel)."""
    bn = 4
    c = 2 * k
    total = 7 * 7 * 3 * c + bn * c
    for i, layers_ in enumerate(blocks_):
        for _ in range(layers_):
            total += bn * c + c * 4 * k + bn * 4 * k + 9 * 4 * k * k
            c += k
        if i < len(blocks_) - 1:
            total += bn * c + c * (c // 2)
            c //= 2
    return total + bn * c + (c + 1) * classes


@pytest.mark.slow
def test_densenet_264_matches_the_hand_count_checked_on_keras():
    for cls, blocks_ in [("DenseNet121", (6, 12, 24, 16)), ("DenseNet169", (6, 12, 32, 32))]:
        assert _densenet_params(blocks_) == keras_application(cls).count_params()  # the oracle is right
    model = shapes_only("densenet264")
    assert model.count_params() == _densenet_params((6, 12, 64, 48))
    assert round(trainable(model) / 1e6, 1) == 33.3
    # Table 1 gives 1 + 2 * (6 + 12 + 64 + 48) + 3 + 1 = 265 weight layers: the name is off by one
    assert network_depth(model) == 265


@pytest.mark.slow
def test_cifar_models_match_their_tables():
    # He et al. Table 6; Huang et al. Table 2 (DenseNet-BC, L=100, k=12); Lin et al. by hand.
    for name, millions, digits in [("resnet20", 0.27, 2), ("resnet56", 0.85, 2), ("resnet110", 1.7, 1),
                                   ("densenet_bc100", 0.8, 1)]:
        assert round(trainable(shapes_only(name)) / 1e6, digits) == millions, name
    nin = shapes_only("nin")
    assert nin.count_params() == (5 * 5 * 3 * 192 + 192 + 192 * 160 + 160 + 160 * 96 + 96
                                  + 5 * 5 * 96 * 192 + 192 + 2 * (192 * 192 + 192)
                                  + 3 * 3 * 192 * 192 + 192 + 192 * 192 + 192 + 192 * 10 + 10)
    assert not any(isinstance(layer, keras.layers.Dense) for layer in nin.layers)
    assert network_depth(shapes_only("densenet_bc100")) == 100


def test_lenet5_paper_layer_by_layer():
    model = shapes_only("lenet5_paper")
    expected = {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}
    assert {layer: model.get_layer(layer).count_params() for layer in expected} == expected
    sizes = {"c1": 28, "s2": 14, "c3": 10, "s4": 5, "c5": 1}
    assert {layer: out_shape(model, layer)[0] for layer in sizes} == sizes
    assert shapes_only("lenet5").count_params() == 61_706  # the textbook LeNet-5
    assert network_depth(model) == 5
    # C3 does 25 multiply-adds per connection and output pixel: 100 * 25 * 60
    c3 = model.get_layer("c3")
    assert arith.layer_macs(c3, c3.input.shape, c3.output.shape) == 150_000


# --------------------------------------------------------------------------- plain twins

@pytest.mark.slow
@pytest.mark.parametrize("plain, residual", [("plain18", "resnet18"), ("plain34", "resnet34"),
                                             ("plain20", "resnet20"), ("plain56", "resnet56")])
def test_plain_nets_are_their_residual_twins_minus_shortcuts(plain, residual):
    p, r = shapes_only(plain), shapes_only(residual)
    shortcut_parts = ("_0_conv", "_0_bn", "_0_pad", "_add")
    assert [l.name for l in r.layers if not l.name.endswith(shortcut_parts)] == [l.name for l in p.layers]
    assert all(type(p.get_layer(l.name)) is type(l) for l in p.layers)
    assert kernels(p) == {n: s for n, s in kernels(r).items() if not n.endswith("_0_conv")}
    if residual == "resnet20":  # option A shortcuts: not a single extra parameter
        assert p.count_params() == r.count_params()


# --------------------------------------------------------------------------- shared blocks

def test_conv_bn_relu_groups_its_convolution_and_names_the_activation():
    inputs = keras.Input((8, 8, 16))
    model = keras.Model(inputs, conv_bn_relu(inputs, 32, 3, name="unit", groups=4, activation="tanh"))
    assert [layer.name for layer in model.layers[1:]] == ["unit_conv", "unit_bn", "unit_tanh"]
    assert model.get_layer("unit_conv").kernel.shape == (3, 3, 4, 32)  # 4 groups of 4 input channels


# --------------------------------------------------------------------------- custom layers

def test_lrn_equals_tensorflow():
    import tensorflow as tf

    x = np.random.default_rng(0).normal(size=(2, 5, 5, 16)).astype("float32") * 10
    ours = LocalResponseNormalization()(x)
    reference = tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    np.testing.assert_allclose(ours, reference, rtol=1e-5)


def test_drop_path_is_identity_at_test_time_and_drops_whole_examples_in_training():
    x = np.ones((2000, 3, 3, 4), "float32")
    layer = DropPath(0.25, seed=1)
    np.testing.assert_array_equal(layer(x, training=False), x)
    y = np.asarray(layer(x, training=True))
    per_example = y.reshape(len(x), -1)
    assert np.all(per_example.min(axis=1) == per_example.max(axis=1))      # all or nothing per example
    assert np.all(np.isclose(y, 0) | np.isclose(y, 1 / 0.75))                # kept ones rescaled
    assert (per_example[:, 0] == 0).mean() == pytest.approx(0.25, abs=0.04)


def test_stochastic_depth_follows_the_linear_decay_rule():
    assert resnet.drop_path_rates(4, 0.5) == [0.125, 0.25, 0.375, 0.5]  # p_l = 1 - l/L (1 - p_L)
    model = shapes_only("resnet20", stochastic_depth=0.5)
    rates = [layer.rate for layer in model.layers if isinstance(layer, DropPath)]
    assert rates == pytest.approx([0.5 * l / 9 for l in range(1, 10)])


def test_zero_pad_shortcut_subsamples_and_pads():
    x = np.arange(2 * 4 * 4 * 3, dtype="float32").reshape(2, 4, 4, 3)
    y = np.asarray(ZeroPadShortcut(8, 2)(x))
    assert y.shape == (2, 2, 2, 8)
    np.testing.assert_array_equal(y[..., 2:5], x[:, ::2, ::2, :])
    assert not y[..., :2].any() and not y[..., 5:].any()


def test_trainable_subsampling_is_coefficient_times_window_sum_plus_bias():
    x = np.random.default_rng(1).normal(size=(1, 4, 4, 2)).astype("float32")
    layer = TrainableSubsampling()
    layer.build(x.shape)
    layer.set_weights([np.array([2.0, -1.0], "float32"), np.array([0.5, 0.0], "float32")])
    window_sum = x.reshape(1, 2, 2, 2, 2, 2).sum(axis=(2, 4))
    np.testing.assert_allclose(layer(x), window_sum * [2.0, -1.0] + [0.5, 0.0], rtol=1e-5)


def test_partial_connection_equals_a_masked_keras_convolution():
    from course.models.lenet import C3_CONNECTIONS

    x = np.random.default_rng(2).normal(size=(2, 14, 14, 6)).astype("float32")
    layer = PartiallyConnectedConv2D(C3_CONNECTIONS, name="c3")
    y = layer(x)
    compact = np.asarray(layer.kernel)
    full = np.zeros((5, 5, 6, 16), "float32")
    slot = 0
    for j, inputs in enumerate(C3_CONNECTIONS):  # the slide's table, column by column
        for i in inputs:
            full[:, :, i, j] = compact[:, :, slot]
            slot += 1
    reference = keras.layers.Conv2D(16, 5)
    reference.build(x.shape)
    reference.set_weights([full, np.asarray(layer.bias)])
    np.testing.assert_allclose(y, reference(x), rtol=1e-4, atol=1e-5)
    assert sum(map(len, C3_CONNECTIONS)) == 60 and layer.count_params() == 1516


# --------------------------------------------------------------------------- Fashion-MNIST size and round trips

FASHION = {"input_shape": (28, 28, 1), "num_classes": 10}
BATCH = np.random.default_rng(0).uniform(size=(2, 28, 28, 1)).astype("float32")
# A family builder's defaults are one of the registered models; round-trip it in another
# configuration instead, one that exercises an option or a custom layer.
FAMILY_OPTIONS = {"vgg": {"config": "A", "dropout": 0.3},
                  "resnet": {"depth": 18, "shortcut": "A", "stochastic_depth": 0.2},
                  "resnet_cifar": {"depth": 8, "stochastic_depth": 0.5},
                  "resnext": {"depth": 50, "cardinality": 8, "width": 32},
                  "wide_resnet": {"depth": 10, "width": 2, "dropout": 0.3},
                  "densenet": {"blocks": (2, 2, 2, 2), "growth_rate": 12},
                  "densenet_cifar": {"depth": 16}}
VARIANTS = [("googlenet", {"aux_classifiers": True}), ("inception_v3", {"aux_classifiers": True}),
            ("alexnet", {"two_streams": True})]
QUICK = {"lenet5", "lenet5_paper", "nin", "resnet_cifar", "densenet_cifar"}  # round trip in 1-5 s under load


def _case(name: str, options: dict):
    marks = () if name in QUICK else pytest.mark.slow
    return pytest.param((name, options), id="-".join([name, *options]), marks=marks)


class RoundTrip(NamedTuple):
    model: keras.Model
    loaded: keras.Model
    before: list   # predictions on BATCH, one array per output
    after: list


def _predict(model: keras.Model) -> list:
    return [np.asarray(y) for y in keras.tree.flatten(model(BATCH, training=False))]


@pytest.fixture(scope="module", params=[_case(name, FAMILY_OPTIONS.get(name, {})) for name in models.names()]
                + [_case(name, options) for name, options in VARIANTS])
def round_trip(request, tmp_path_factory) -> RoundTrip:
    """Every name, built once at Fashion-MNIST size, saved to .keras and loaded back."""
    name, options = request.param
    model = models.build(name, **FASHION, **options)
    path = tmp_path_factory.mktemp("zoo") / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    path.unlink()  # up to a quarter of a gigabyte each
    return RoundTrip(model, loaded, _predict(model), _predict(loaded))


def test_every_name_adapts_to_fashion_mnist(round_trip):
    model = round_trip.model
    assert isinstance(model, keras.Model) and model.input_shape == (None, 28, 28, 1)
    assert [tuple(output.shape) for output in model.outputs] == [(None, 10)] * len(model.outputs)
    for probabilities in round_trip.before:
        np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-4)


def test_round_trip_keeps_every_layer_and_parameter(round_trip):
    model, loaded = round_trip.model, round_trip.loaded
    assert [(layer.name, type(layer)) for layer in loaded.layers] == [
        (layer.name, type(layer)) for layer in model.layers]
    assert loaded.output_names == model.output_names
    assert loaded.count_params() == model.count_params()


def test_round_trip_predicts_identically(round_trip):
    assert len(round_trip.after) == len(round_trip.before)
    for after, before in zip(round_trip.after, round_trip.before):
        np.testing.assert_array_equal(after, before)


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("name, shape, smallest", [("alexnet", (16, 16, 1), 23), ("vgg16", (10, 10, 1), 11),
                                                   ("inception_v3", (24, 24, 3), 25), ("lenet5", (8, 8, 1), 11)])
def test_too_small_input_names_the_smallest_that_works(name, shape, smallest):
    with pytest.raises(ValueError, match=f"at least {smallest}x{smallest}"):
        models.build(name, input_shape=shape)


def test_smallest_native_input_needs_no_resize():
    # AlexNet by hand: (67-11)/4+1 = 15 -> pool 7 -> pool 3 -> pool 1; 66 no longer fits
    with keras.StatelessScope():
        fits = models.build("alexnet", input_shape=(67, 67, 3))
        resized = models.build("alexnet", input_shape=(66, 66, 3))
    assert out_shape(fits, "pool5") == (1, 1, 256) and "resize" not in [l.name for l in fits.layers]
    assert out_shape(resized, "resize") == (67, 67, 3)
    with keras.StatelessScope():
        padded = models.build("lenet5_paper", input_shape=(28, 28, 1))
    assert out_shape(padded, "pad") == (32, 32, 1)  # the paper's 28x28 digits in a 32x32 field


@pytest.mark.parametrize("name, options, message", [
    ("vgg", {"config": "F"}, "A, A-LRN, B, C, D, E"),
    ("densenet121", {"growth_rate": 0}, "growth_rate must be a positive"),
    ("resnext", {"cardinality": 5}, "does not divide the bottleneck width 128"),
    ("resnet_cifar", {"depth": -2}, "6n \\+ 2"),
    ("resnet_cifar", {"depth": 21}, "6n \\+ 2"),
    ("wide_resnet", {"depth": 27}, "6n \\+ 4"),
    ("resnet", {"depth": 42}, "18, 34, 50, 101, 152"),
    ("resnet50", {"shortcut": "D"}, "one of \\('A', 'B', 'C'\\)"),
    ("resnet50", {"depth": 18}, "fixes depth=50"),
    ("resnet50", {"widht": 3}, "no option widht; its options are"),
    ("resnet20", {"stochastic_depth": 1.0}, "in \\[0, 1\\)"),
    ("resnet51", {}, "unknown model 'resnet51'; choose one of"),
])
def test_bad_options_say_what_is_allowed(name, options, message):
    with pytest.raises(ValueError, match=message), keras.StatelessScope():
        models.build(name, **options)


# --------------------------------------------------------------------------- comparison table

def test_comparison_table_equals_the_builders_counts_and_quotes_the_slides():
    frame = compare(["lenet5", "nin", "alexnet"])
    for name in frame.index:
        model = shapes_only(name)
        table = arith.layer_table(model)
        row = frame.loc[name]
        assert (row.params, row.macs, row.activations, row.depth) == (
            model.count_params(), table.total_macs, table.total_activations, network_depth(model))
    assert frame.loc["alexnet", "top5_error"] == 18.2 and frame.loc["alexnet", "ilsvrc_top5"] == 16.4
    assert np.isnan(frame.loc["nin", "top5_error"])
    # the slides' figures (He et al. Table 3; the ILSVRC 2012-2015 summary)
    assert {n: PAPER_TOP5[n][0] for n in ("vgg16", "googlenet", "resnet50", "resnet152")} == {
        "vgg16": 9.33, "googlenet": 9.15, "resnet50": 6.71, "resnet152": 5.71}
    assert ILSVRC_TOP5 == {"alexnet": 16.4, "zfnet": 11.7, "vgg16": 7.32, "googlenet": 6.67, "resnet152": 3.57}

    import matplotlib
    matplotlib.use("Agg")
    ax = plot_comparison(frame)
    assert len(ax.collections[0].get_offsets()) == 3 and "top-5" in ax.get_ylabel()


# --------------------------------------------------------------------------- mixed precision (the GPU path)

@pytest.mark.parametrize("name, options", [("lenet5", {}), ("nin", {}), ("resnet20", {}),
                                           ("googlenet", {"aux_classifiers": True})])
def test_under_mixed_precision_layers_compute_in_float16_but_outputs_stay_float32(name, options):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with keras.StatelessScope():
            model = models.build(name, **FASHION, **options)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(layer.compute_dtype == "float16" for layer in convs)
    assert all(layer.variable_dtype == "float32" for layer in convs)  # master weights
    assert [output.dtype for output in model.outputs] == ["float32"] * len(model.outputs)


def test_against_papers_puts_our_counts_beside_the_papers():
    frame = against_papers(["vgg16", "resnet50", "lenet5"])
    vgg16 = keras.applications.VGG16(weights=None).count_params()  # the oracle: 138,357,544
    assert frame.loc["vgg16", "params"] == vgg16
    assert frame.loc["vgg16", "params / paper"] == pytest.approx(vgg16 / 138e6)
    assert frame.loc["resnet50", "MACs / paper"] == pytest.approx(frame.loc["resnet50", "macs"] / 3.8e9)
    assert 0.95 < frame.loc["resnet50", "MACs / paper"] < 1.15  # He et al.'s 3.8 GFLOPs are multiply-adds
    assert frame.loc["vgg16", "where"] == PAPER_SIZES["vgg16"][2] and frame.loc["lenet5", "where"] == ""
    html = styled(frame).to_html()
    assert "138.36M" in html and "138.00M" in html and "1.003" in html
