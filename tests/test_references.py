"""course.references against hand computations, plain NumPy loops and the lectures' numbers."""
import math

import numpy as np
import pytest

from course import arith, references
from course.grading import GradingError, numerical_gradient

# --------------------------------------------------------------------------- 02: layer tables

SMALL_NET = [arith.conv("C", 4, 3, padding=1), arith.pool("P"), arith.fc("F", 5)]
# by hand, on an 8x8x2 input: 4 filters of 3x3x2 (+ bias) keep 8x8; the pool halves it; 4*4*4 = 64 inputs to F
SMALL_ROWS = [{"name": "C", "shape": (8, 8, 4), "memory": 256, "params": 4 * (9 * 2 + 1), "macs": 8 * 8 * 4 * 9 * 2},
              {"name": "P", "shape": (4, 4, 4), "memory": 64, "params": 0, "macs": 0},
              {"name": "F", "shape": (5,), "memory": 5, "params": 64 * 5 + 5, "macs": 64 * 5}]


@pytest.fixture(scope="module")
def small_model():
    return references.keras_model((8, 8, 2), SMALL_NET)


def test_keras_model_of_alexnet_has_the_slide_volumes():
    model = references.keras_model((227, 227, 3), arith.ALEXNET)
    slide = {"CONV1": (55, 55, 96), "POOL1": (27, 27, 96), "CONV2": (27, 27, 256), "POOL2": (13, 13, 256),
             "CONV5": (13, 13, 256), "POOL3": (6, 6, 256), "FC6": (4096,), "FC8": (1000,)}
    assert {name: tuple(model.get_layer(name).output.shape[1:]) for name in slide} == slide
    assert model.get_layer("CONV2_pad").output.shape[1:3] == (31, 31)  # an int padding is an explicit ZeroPadding2D


def test_check_table_accepts_the_hand_computed_table(small_model, capsys):
    references.check_table([dict(row) for row in SMALL_ROWS], small_model, SMALL_NET, "the small net")
    assert "\u2714 the small net: 3 rows agree with Keras" in capsys.readouterr().out


@pytest.mark.parametrize("row,column,value,words", [
    (0, "params", 4 * 9 * 2, "the small net, C: 'params'"),              # conv biases forgotten
    (2, "params", 64 * 5, "hint: conv: k * (f*f*c_in + 1)"),              # fc biases forgotten
    (0, "memory", 64, "expected 256, got 64"),                            # one channel only
    (2, "macs", 4 * 5, "the small net, F: 'macs'"),                       # fc without flattening
    (1, "shape", (4, 4), "expected (4, 4, 4), got (4, 4)"),
])
def test_check_table_names_the_wrong_cell(small_model, row, column, value, words):
    rows = [dict(r) for r in SMALL_ROWS]
    rows[row][column] = value
    with pytest.raises(GradingError) as failure:
        references.check_table(rows, small_model, SMALL_NET, "the small net")
    assert words in str(failure.value)


def test_check_table_wants_one_dict_per_layer_in_order(small_model):
    with pytest.raises(GradingError, match="expected a list of dicts, got tuple"):
        references.check_table(tuple(SMALL_ROWS), small_model, SMALL_NET, "the small net")
    with pytest.raises(GradingError, match="layer names"):
        references.check_table(SMALL_ROWS[::-1], small_model, SMALL_NET, "the small net")


# --------------------------------------------------------------------------- 03: gradients by TensorFlow

def loop_conv(x, w, b, stride, pad):
    """The lecture's cross-correlation with plain loops: an oracle that shares nothing with TensorFlow."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    fh, fw, _, k = w.shape
    out_h, out_w = (x.shape[1] - fh) // stride + 1, (x.shape[2] - fw) // stride + 1
    out = np.zeros((x.shape[0], out_h, out_w, k))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, i * stride:i * stride + fh, j * stride:j * stride + fw, :]
            out[:, i, j, :] = np.tensordot(window, w, axes=([1, 2, 3], [0, 1, 2])) + b
    return out


def conv_case(stride, pad, seed=0):
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=(2, 6, 5, 2)), rng.normal(size=(3, 3, 2, 3)), rng.normal(size=3)
    return x, w, b, rng.normal(size=loop_conv(x, w, b, stride, pad).shape)


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (3, 2)])
def test_conv_forward_is_the_cross_correlation(stride, pad):
    x, w, b, _ = conv_case(stride, pad)
    np.testing.assert_allclose(references.conv_forward(x, w, b, stride, pad), loop_conv(x, w, b, stride, pad), rtol=1e-12)


@pytest.mark.parametrize("stride,pad", [(1, 1), (2, 0)])
def test_tf_conv_grads_are_the_numerical_gradients(stride, pad):
    x, w, b, dout = conv_case(stride, pad, seed=1)
    dx, dw, db = references.tf_conv_grads(dout, x, w, b, stride, pad)
    np.testing.assert_allclose(dx, numerical_gradient(lambda v: np.sum(loop_conv(v, w, b, stride, pad) * dout), x),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, numerical_gradient(lambda v: np.sum(loop_conv(x, v, b, stride, pad) * dout), w),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 1, 2)), rtol=1e-12)  # by hand: the bias touches every output
    assert not np.allclose(dw, dw[::-1, ::-1])  # a flipped dW (a typical mistake) is told apart


def test_tf_pool_grad_routes_to_the_winner_by_hand():
    x = np.array([[1, 3, 2, 1], [4, 2, 0, 1], [3, 1, 1, 5], [0, 2, 6, 2]], dtype=float)[None, :, :, None]
    dout = np.array([[1.0, 2.0], [3.0, 4.0]])[None, :, :, None]
    routed = np.array([[0, 0, 2, 0], [1, 0, 0, 0], [3, 0, 0, 0], [0, 0, 4, 0]], dtype=float)[None, :, :, None]
    np.testing.assert_array_equal(references.tf_pool_grad(dout, x, 2, 2, "max"), routed)
    np.testing.assert_allclose(references.tf_pool_grad(dout, x, 2, 2, "avg"),
                               np.repeat(np.repeat(dout, 2, axis=1), 2, axis=2) / 4)


# --------------------------------------------------------------------------- 04: dropout statistics

def test_hoeffding_tolerance_by_hand():
    assert references.hoeffding_tolerance(np.ones(100_000)) == pytest.approx(math.sqrt(math.log(2e9) / 2e5))
    assert round(references.hoeffding_tolerance(np.ones(100_000)), 4) == 0.0103  # the number the notebook quotes
    # widths 2 instead of 1 double the tolerance
    assert references.hoeffding_tolerance(2 * np.ones(500)) == pytest.approx(2 * references.hoeffding_tolerance(np.ones(500)))


def right_dropout(x, keep_prob, training, rng, scale_at="train"):
    mask = rng.random(x.shape) < keep_prob
    return x * mask / keep_prob if scale_at == "train" else x * mask


@pytest.mark.parametrize("keep_prob,scale_at", [(0.8, "train"), (0.3, "train"), (0.8, "test")])
def test_check_training_dropout_accepts_a_right_dropout(keep_prob, scale_at):
    x, out = references.check_training_dropout(right_dropout, keep_prob, scale_at, (300, 300), seed=0)
    assert x.shape == out.shape == (300, 300) and x.min() >= 0.5


@pytest.mark.parametrize("dropout,words", [
    (lambda x, p, training, rng, scale_at: x * (rng.random(x.shape) < p),
     "typical mistake: no rescaling in training"),
    (lambda x, p, training, rng, scale_at: x * (rng.random(x.shape) < 1 - p) / p,
     "you DROP with probability keep_prob instead of KEEPING with it"),
    (lambda x, p, training, rng, scale_at: x * (x > np.quantile(x, 1 - p)) / p,  # keeps the largest: biased mean
     "inverted dropout keeps the mean"),
    (lambda x, p, training, rng, scale_at: (x * (rng.random(x.shape) < p) / p)[:10],
     "expected shape (300, 300), got (10, 300)"),
])
def test_check_training_dropout_rejects_wrong_ones(dropout, words):
    with pytest.raises(GradingError) as failure:
        references.check_training_dropout(dropout, 0.8, "train", (300, 300), seed=0)
    assert words in str(failure.value)


def test_keras_dropout_drops_one_minus_keep_prob_and_scales_by_its_inverse():
    out = references.keras_dropout(np.ones((400, 250), np.float32), 0.8, seed=0)
    assert set(np.unique(out)) <= {0.0, np.float32(1.25)}
    assert abs(np.mean(out == 0) - 0.2) < 0.0103


# --------------------------------------------------------------------------- 04: batch normalisation

def numpy_batchnorm(x, gamma, beta, mean, var, epsilon):
    return gamma * (x - mean) / np.sqrt(var + epsilon) + beta


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 3, 2)])
def test_keras_batchnorm_is_the_lecture_formula(shape):
    x, gamma, beta, running_mean, running_var = references.batchnorm_case(shape, seed=0)
    axes = tuple(range(len(shape) - 1))
    layer = references.keras_batchnorm(shape, gamma, beta, running_mean, running_var, 0.9, 1e-3)
    np.testing.assert_allclose(layer(x, training=False).numpy(),
                               numpy_batchnorm(x, gamma, beta, running_mean, running_var, 1e-3), rtol=1e-10)
    np.testing.assert_allclose(layer(x, training=True).numpy(),
                               numpy_batchnorm(x, gamma, beta, x.mean(axis=axes), x.var(axis=axes), 1e-3), rtol=1e-10)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.9 * running_mean + 0.1 * x.mean(axis=axes), rtol=1e-12)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 * running_var + 0.1 * x.var(axis=axes), rtol=1e-12)


def test_batchnorm_case_is_reproducible_with_channels_of_very_different_scales():
    first, again = references.batchnorm_case((400, 4), seed=3), references.batchnorm_case((400, 4), seed=3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    x, gamma, _, _, running_var = first
    spread = x.std(axis=0)
    assert np.all(np.diff(spread) > 0) and spread[-1] / spread[0] > 30  # scales 0.05 ... 5
    assert gamma.min() >= 0.5 and running_var.min() >= 0.5


@pytest.mark.parametrize("training", [True, False])
def test_every_batchnorm_mistake_is_wrong(training):
    """Each typical mistake must differ from the right answer, or naming it would mislead."""
    shape, momentum, epsilon = (6, 2, 2, 3), 0.9, 1e-2
    x, gamma, beta, running_mean, running_var = references.batchnorm_case(shape, seed=1)
    layer = references.keras_batchnorm(shape, gamma, beta, running_mean, running_var, momentum, epsilon)
    right = {"out": layer(x, training=training).numpy(), "mean": layer.moving_mean.numpy(),
             "var": layer.moving_variance.numpy()}
    wrong = references.batchnorm_mistakes(x, gamma, beta, running_mean, running_var, momentum, epsilon, training)
    assert set(wrong) == {"out", "mean", "var"}
    for part, mistakes in wrong.items():
        assert mistakes
        for description, value in mistakes.items():
            assert not np.allclose(value, right[part], rtol=1e-7, atol=1e-9), description


def test_batchnorm_mistakes_by_hand():
    x = np.array([[1.0], [3.0]])  # mean 2, biased variance 1, unbiased 2
    one, zero = np.ones(1), np.zeros(1)
    training = references.batchnorm_mistakes(x, one, zero, zero, one, 0.9, 0.0, training=True)
    np.testing.assert_allclose(training["out"]["gamma and beta not applied"], [[-1.0], [1.0]])
    np.testing.assert_allclose(
        training["out"]["unbiased variance (ddof=1) used: Keras divides by the number of values"],
        [[-1 / math.sqrt(2)], [1 / math.sqrt(2)]])
    np.testing.assert_allclose(training["mean"]["momentum inverted: it weights the OLD value in Keras"], [1.8])
    inference = references.batchnorm_mistakes(x, one, zero, zero, one, 0.9, 0.0, training=False)
    np.testing.assert_allclose(inference["mean"]["running mean updated at inference"], [0.2])
