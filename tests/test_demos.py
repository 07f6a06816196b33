"""The lecture demos' figures (`course.demos`), driven as a lecturer drives them: by moving the knobs.

Oracles: TensorFlow's convolution for output sizes and values, Keras's layers
for padding, a hand count for the windows.
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from course.demos import conv_stepper, fitted_size, padding_explorer, same_padding


def tf_conv(x, w, b, stride, pad):
    out = tf.nn.conv2d(x[None], w, strides=stride, padding=[[0, 0], [pad, pad], [pad, pad], [0, 0]])
    return (out[0] + b).numpy()


@pytest.mark.parametrize("n, f, stride, pad", [(5, 3, 2, 1), (5, 3, 1, 0), (5, 3, 3, 0), (7, 3, 2, 2), (6, 3, 2, 0)])
def test_fitted_size_is_tensorflows_and_warns_when_the_windows_do_not_fit(n, f, stride, pad):
    size, warning = fitted_size(n, f, stride, pad)
    assert size == tf_conv(np.zeros((n, n, 1), np.float32), np.zeros((f, f, 1, 1), np.float32),
                           np.zeros(1, np.float32), stride, pad).shape[0]
    fits = (n + 2 * pad - f) % stride == 0  # the lecture formula is a whole number
    assert (warning is None) == fits and (fits or "Does not fit" in warning)


def test_the_stepper_walks_every_output_of_every_filter_and_follows_the_knobs():
    rng = np.random.default_rng(0)
    x, w, b = (rng.integers(-2, 3, size=s).astype(np.float32) for s in ((5, 5, 3), (3, 3, 3, 2), (2,)))
    live = conv_stepper(x, w, b, tf_conv, stride=2, pad=1, first_step=4)
    step, stride = live.controls["step"], live.controls["stride"]
    assert step.max == 2 * 3 * 3 - 1 and step.value == 4 and live.message is None
    expected = tf_conv(x, w, b, 2, 1)[1, 1, 0]  # step 4: filter 0, the centre window
    text = "\n".join(t.get_text() for ax in live.figure.axes for t in ax.texts)
    assert "o[1, 1, 0] =" in text and f"total:     {expected:g}" in text
    stride.value = 1  # 5x5 output: the animation gets longer
    assert step.max == 2 * 5 * 5 - 1
    stride.value = 3  # (5 + 2 - 3) / 3 + 1 is not whole: a warning, and TensorFlow's floored size
    assert "Does not fit" in live.message and step.max == 2 * 2 * 2 - 1


@pytest.mark.parametrize("n, f, stride", [(7, 3, 2), (8, 3, 2), (5, 2, 3), (1, 3, 1)])
def test_same_padding_is_what_keras_adds(n, f, stride):
    import keras

    left, right = same_padding(n, f, stride)
    same = keras.layers.Conv2D(1, f, strides=stride, padding="same").compute_output_shape((1, n, n, 1))[1]
    assert left in (right, right - 1) and (n + left + right - f) // stride + 1 == same


def test_the_explorer_shows_the_oracle_and_the_pixels_no_window_sees():
    def library(n, f, stride, padding):
        return 99  # any oracle: shown, not trusted

    live = padding_explorer(library, n=7, f=3, stride=2)
    title = live.figure.axes[0].get_title()
    assert "formula: 3" in title and "library: 99" in title and "red: 0 pixel(s)" in title
    live.controls["n"].value = 8  # (8 - 3) / 2 + 1 = 3.5: does not fit, and the last pixel is never seen
    title = live.figure.axes[0].get_title()
    assert "does not fit" in title and "red: 1 pixel(s)" in title and "Does not fit" in live.message
