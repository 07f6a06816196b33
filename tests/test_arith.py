"""course.arith against Keras itself and against the lectures' worked numbers."""
import math

import keras
import numpy as np
import pytest

from course import arith


# --------------------------------------------------------------------------- the lectures' numbers

def test_alexnet_worked_sizes():
    assert arith.conv_output_size(227, 11, stride=4) == 55  # (227-11)/4+1
    assert arith.pool_output_size(55, 3, stride=2) == 27    # (55-3)/2+1


def test_seven_by_seven_cases_from_the_slides():
    assert arith.conv_output_size(7, 3, stride=1) == 5
    assert arith.conv_output_size(7, 3, stride=2) == 3
    assert arith.conv_output_size(7, 3, stride=1, padding=1) == 7
    with pytest.raises(ValueError, match=r"does not fit.*2\.33"):
        arith.conv_output_size(7, 3, stride=3)


def test_ten_5x5_filters_on_32x32x3_with_pad_2():
    assert arith.conv_output_size(32, 5, stride=1, padding=2) == 32
    assert arith.conv_params(5, 3, 10) == 760  # (5*5*3 + 1) * 10
    assert arith.conv_params(5, 3, 10, bias=False) == 750


def test_stacked_3x3_receptive_fields():
    assert arith.receptive_field([3, 3]) == 5
    assert arith.receptive_field([3, 3, 3]) == 7
    # strides multiply the step of every layer above: conv 3 s2 then conv 3 -> 3 + 2*2 = 7
    assert arith.receptive_field([3, 3], strides=[2, 1]) == 7


@pytest.mark.parametrize("channels", [1, 64, 256])
def test_three_3x3_vs_one_7x7(channels):
    c = channels
    assert arith.conv_params(7, c, c, bias=False) == 49 * c * c
    assert 3 * arith.conv_params(3, c, c, bias=False) == 27 * c * c


def test_bottleneck_1x1_on_256_channels():
    plain = arith.conv_params(3, 256, 256, bias=False)  # ~590k
    bottleneck = (arith.conv_params(1, 256, 64, bias=False) + arith.conv_params(3, 64, 64, bias=False)
                  + arith.conv_params(1, 64, 256, bias=False))  # ~70k
    assert plain == 589_824 and round(plain, -4) == 590_000
    assert bottleneck == 69_632 and round(bottleneck, -4) == 70_000


# --------------------------------------------------------------------------- against Keras layers

@pytest.mark.parametrize("n,f,stride,padding", [
    (28, 5, 1, "valid"), (28, 5, 1, "same"), (28, 3, 2, "same"), (27, 3, 2, "same"),
    (32, 3, 3, "same"), (7, 3, 3, "valid"), (227, 11, 4, "valid"), (224, 7, 2, "same"), (5, 5, 2, "valid"),
])
def test_output_size_matches_keras(n, f, stride, padding):
    layer = keras.layers.Conv2D(4, f, strides=stride, padding=padding)
    out = layer.compute_output_shape((None, n, n, 3))
    assert arith.conv_output_size(n, f, stride, padding) == out[1]
    pool = keras.layers.MaxPooling2D(f, strides=stride, padding=padding)
    assert arith.pool_output_size(n, f, stride, padding) == pool.compute_output_shape((None, n, n, 3))[1]


def test_same_with_stride_is_ceil():
    for n in range(1, 40):
        for s in (1, 2, 3, 4):
            assert arith.conv_output_size(n, 3, s, "same") == math.ceil(n / s)


def test_pool_stride_defaults_to_window_like_keras():
    assert arith.pool_output_size(28, 2) == keras.layers.MaxPooling2D(2).compute_output_shape((None, 28, 28, 1))[1]


@pytest.mark.parametrize("f,c_in,k", [(3, 3, 64), (1, 256, 64), (5, 3, 10), (11, 3, 96)])
def test_conv_params_match_keras(f, c_in, k):
    for bias in (True, False):
        layer = keras.layers.Conv2D(k, f, use_bias=bias)
        layer.build((None, 32, 32, c_in))
        assert arith.conv_params(f, c_in, k, bias) == layer.count_params()


def test_receptive_field_matches_a_probe_through_keras():
    """Independent oracle: the gradient of one output unit w.r.t. the input is non-zero
    exactly on its receptive field."""
    import tensorflow as tf

    sizes, strides = [3, 3, 5, 3], [1, 2, 1, 2]
    x = keras.Input((64, 64, 1))
    y = x
    for k, s in zip(sizes, strides):
        y = keras.layers.Conv2D(1, k, strides=s, kernel_initializer="ones", use_bias=False)(y)
    model = keras.Model(x, y)
    image = tf.ones((1, 64, 64, 1))
    with tf.GradientTape() as tape:
        tape.watch(image)
        out = model(image)[0, 3, 3, 0]
    grad = tape.gradient(out, image)[0, :, :, 0].numpy()
    rows = np.flatnonzero(grad.any(axis=1))
    assert rows.max() - rows.min() + 1 == arith.receptive_field(sizes, strides)


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call,error,words", [
    (lambda: arith.conv_output_size(7.0, 3), TypeError, "must be an int"),
    (lambda: arith.conv_output_size(-7, 3), ValueError, "at least 1"),
    (lambda: arith.conv_output_size(7, 3, padding=-1), ValueError, "at least 0"),
    (lambda: arith.conv_output_size(3, 7), ValueError, "larger than the padded input"),
    (lambda: arith.conv_output_size(3, 7, padding="valid"), ValueError, "does not fit"),
    (lambda: arith.conv_output_size(7, 3, padding="full"), ValueError, "'valid' or 'same'"),
    (lambda: arith.conv_params(3, 0, 4), ValueError, "c_in"),
    (lambda: arith.receptive_field([3, 3], strides=[1]), ValueError, "one stride per layer"),
    (lambda: arith.conv_output_size(True, 3), TypeError, "must be an int"),
])
def test_bad_input_is_explained(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_layer_table_rejects_non_models():
    with pytest.raises(TypeError, match="keras.Model"):
        arith.layer_table("vgg16")


# --------------------------------------------------------------------------- model tables

# The VGG-16 slide, line by line: (output volume, weights without biases), as the slide writes them.
VGG16_SLIDE = [
    ((224, 224, 3), 0),
    ((224, 224, 64), 3 * 3 * 3 * 64), ((224, 224, 64), 3 * 3 * 64 * 64), ((112, 112, 64), 0),
    ((112, 112, 128), 3 * 3 * 64 * 128), ((112, 112, 128), 3 * 3 * 128 * 128), ((56, 56, 128), 0),
    ((56, 56, 256), 3 * 3 * 128 * 256), ((56, 56, 256), 3 * 3 * 256 * 256), ((56, 56, 256), 3 * 3 * 256 * 256),
    ((28, 28, 256), 0),
    ((28, 28, 512), 3 * 3 * 256 * 512), ((28, 28, 512), 3 * 3 * 512 * 512), ((28, 28, 512), 3 * 3 * 512 * 512),
    ((14, 14, 512), 0),
    ((14, 14, 512), 3 * 3 * 512 * 512), ((14, 14, 512), 3 * 3 * 512 * 512), ((14, 14, 512), 3 * 3 * 512 * 512),
    ((7, 7, 512), 0),
    ((4096,), 7 * 7 * 512 * 4096), ((4096,), 4096 * 4096), ((1000,), 4096 * 1000),
]


@pytest.fixture(scope="module")
def vgg16_table():
    model = keras.applications.VGG16(weights=None)
    return model, arith.layer_table(model)


def test_vgg16_table_reproduces_the_slide(vgg16_table):
    model, table = vgg16_table
    rows = [r for r in table.rows if r.activations]  # Flatten is a view: the slide skips it too
    assert [r.output_shape[1:] for r in rows] == [shape for shape, _ in VGG16_SLIDE]
    for row, (shape, weights) in zip(rows, VGG16_SLIDE):
        assert row.activations == math.prod(shape)
        biases = shape[-1] if weights else 0
        assert row.params == weights + biases
    assert table.total_params == model.count_params() == 138_357_544  # "138M parameters"


def test_vgg16_memory_total_disagrees_with_the_slide(vgg16_table):
    _, table = vgg16_table
    per_layer_sum = sum(math.prod(shape) for shape, _ in VGG16_SLIDE)
    assert table.total_activations == per_layer_sum  # ~15.2M values, ~58 MiB
    assert round(per_layer_sum / 1e6, 1) == 15.2
    verdict = table.compare_total_activations(24e6, "the slide")
    assert "disagrees" in verdict and "15.2M" in verdict
    assert "agrees with" in table.compare_total_activations(per_layer_sum)
    text = str(table)
    assert "TOTAL" in text and "138,357,544" in text


def test_macs_of_conv_and_dense_by_hand():
    x = keras.Input((32, 32, 3))
    y = keras.layers.Conv2D(10, 5, padding="same", name="conv")(x)
    y = keras.layers.MaxPooling2D(2)(y)
    y = keras.layers.Conv2D(8, 3, groups=2, name="grouped")(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    y = keras.layers.Dense(7, name="fc")(y)
    model = keras.Model(x, y)
    expected = (32 * 32 * 10 * 5 * 5 * 3) + (14 * 14 * 8 * 3 * 3 * 5) + 8 * 7
    assert arith.model_macs(model) == expected
    table = arith.layer_table(model)
    assert table.total_params == model.count_params()
    assert list(table.frame().columns)[:6] == ["name", "kind", "output_shape", "params", "macs", "activations"]


def test_nested_models_are_walked():
    inner = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Conv2D(4, 3, name="inner_conv")])
    x = keras.Input((8, 8, 2))
    model = keras.Model(x, keras.layers.Flatten()(inner(x)))
    assert arith.model_macs(model) == 6 * 6 * 4 * 3 * 3 * 2
    assert "inner_conv" in [r.name for r in arith.layer_table(model).rows]


# --------------------------------------------------------------------------- the lectures' networks as layer specs

def test_layer_spec_constructors():
    assert arith.conv("C", 8, 3, stride=2, padding="same") == {
        "kind": "conv", "name": "C", "filters": 8, "size": 3, "stride": 2, "padding": "same"}
    assert arith.pool("P") == {"kind": "pool", "name": "P", "size": 2, "stride": 2}
    assert arith.fc("F", 10) == {"kind": "fc", "name": "F", "units": 10}


def test_alexnet_spec_is_the_slide_network():
    assert [layer["name"] for layer in arith.ALEXNET] == [
        "CONV1", "POOL1", "CONV2", "POOL2", "CONV3", "CONV4", "CONV5", "POOL3", "FC6", "FC7", "FC8"]
    conv1 = arith.ALEXNET[0]
    assert (conv1["filters"], conv1["size"], conv1["stride"], conv1["padding"]) == (96, 11, 4, 0)  # 96 11x11 filters, stride 4
    # the slide's volumes follow from the formulas, layer by layer: 227 -> 55 -> 27 -> 27 -> 13 -> 13 -> 6
    size = 227
    for layer in arith.ALEXNET[:8]:
        size = (arith.conv_output_size(size, layer["size"], layer["stride"], layer["padding"]) if layer["kind"] == "conv"
                else arith.pool_output_size(size, layer["size"], layer["stride"]))
    assert size == 6 and arith.ALEXNET[-1]["units"] == 1000


def test_vgg16_spec_is_configuration_d():
    kinds = [layer["kind"] for layer in arith.VGG16]
    assert (kinds.count("conv"), kinds.count("pool"), kinds.count("fc")) == (13, 5, 3)  # 16 weight layers
    assert all(layer["size"] == 3 and layer["padding"] == 1 for layer in arith.VGG16 if layer["kind"] == "conv")
    assert [layer["filters"] for layer in arith.VGG16 if layer["kind"] == "conv"][::3] == [64, 128, 256, 512, 512]
    small = arith.vgg16(fc_units=512, classes=10)
    assert small[-3:] == [arith.fc("FC6", 512), arith.fc("FC7", 512), arith.fc("FC8", 10)]
    assert small[:-3] == arith.VGG16[:-3]
