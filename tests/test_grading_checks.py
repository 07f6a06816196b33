"""course.grading's check helpers: each passes a right answer and fails a wrong one with the message a student reads."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from course.grading import (GradingError, as_array, expect_close, expect_equal, expect_raises, expect_shape,
                            expect_true, numerical_gradient, rel_error)


def failure(check, *args, **kwargs) -> str:
    with pytest.raises(GradingError) as caught:
        check(*args, **kwargs)
    return str(caught.value)


def test_as_array_takes_numpy_tensors_and_lists_and_names_what_is_not_numbers():
    assert as_array([1, 2], "x").tolist() == [1, 2]
    assert as_array(tf.constant([[1.5]]), "x").tolist() == [[1.5]]
    assert "your function returned None" in failure(as_array, None, "relu(x)")
    assert "did you forget a `return`" in failure(as_array, None, "relu(x)")
    assert "not numeric" in failure(as_array, [object()], "relu(x)")


def test_expect_close_passes_within_tolerance_and_prints_a_tick(capsys):
    expect_close(np.array([1.0, 2.0]) + 1e-7, [1.0, 2.0], "relu(x)")
    assert capsys.readouterr().out == "\u2714 relu(x)\n"
    expect_close([1.0], [1.0], "relu(x)", quiet=True)
    assert capsys.readouterr().out == ""


def test_expect_close_names_the_first_difference():
    message = failure(expect_close, [1.0, 2.0, 3.5], [1.0, 2.0, 3.0], "relu(x)", hint="keep the negatives at 0")
    assert message.startswith("\u2718 relu(x)\n")
    assert "1 of 3 values differ" in message
    assert "first difference at index (2,): expected 3, got 3.5" in message
    assert f"max relative error {0.5 / 6.5:.2e}" in message  # CS231n's |x - y| / (|x| + |y|), by hand
    assert "hint: keep the negatives at 0" in message


def test_expect_close_refuses_a_wrong_shape_and_non_finite_values():
    assert "expected shape (2,), got (3,)" in failure(expect_close, [1.0, 2.0, 3.0], [1.0, 2.0], "x")
    assert "NaN or infinity" in failure(expect_close, [np.nan, 1.0], [0.0, 1.0], "x")


def test_expect_close_names_a_typical_mistake_of_any_shape():
    right, transposed = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3).T
    mistakes = {"rows and columns swapped": transposed, "sign flipped": -right}
    assert ("your result matches a typical mistake: sign flipped"
            in failure(expect_close, -right, right, "x", mistakes=mistakes))
    assert ("your result matches a typical mistake: rows and columns swapped"
            in failure(expect_close, transposed, right, "x", mistakes=mistakes))
    assert "typical mistake" not in failure(expect_close, right + 1, right, "x", mistakes=mistakes)


def test_expect_equal_is_exact_for_numbers_tuples_and_arrays():
    expect_equal((55, 55), (55, 55), "output size", quiet=True)
    expect_equal(np.array([1, 2]), np.array([1, 2]), "counts", quiet=True)
    assert "expected (55, 55), got (54, 55)" in failure(expect_equal, (54, 55), (55, 55), "output size")
    assert "expected" in failure(expect_equal, np.array([1, 3]), np.array([1, 2]), "counts")


def test_expect_shape_and_expect_true():
    expect_shape(np.zeros((2, 3)), (2, 3), "x", quiet=True)
    assert "expected shape (3, 2), got (2, 3)" in failure(expect_shape, np.zeros((2, 3)), (3, 2), "x")
    expect_true(True, "weights", "changed", quiet=True)
    assert failure(expect_true, False, "weights", "changed", "freeze them") == "\u2718 weights\n  changed\n  hint: freeze them"


def test_expect_raises_needs_that_exception_and_says_what_happened_instead():
    def too_big():
        raise ValueError("filter larger than the input")

    expect_raises(too_big, ValueError, "a filter that does not fit", quiet=True)
    assert ("expected ValueError, but the call returned 3"
            in failure(expect_raises, lambda: 3, ValueError, "a filter that does not fit"))
    assert ("expected ValueError, but KeyError was raised"
            in failure(expect_raises, lambda: {}["k"], ValueError, "a filter that does not fit"))


def test_numerical_gradient_matches_the_gradient_by_hand():
    x = np.array([[0.5, -1.0], [2.0, 0.25]])
    # f(x) = sum(x^3) + x[0,1] * x[1,0]: df/dx = 3x^2, plus the other factor at the two mixed entries
    by_hand = 3 * x ** 2 + np.array([[0.0, x[1, 0]], [x[0, 1], 0.0]])
    got = numerical_gradient(lambda v: np.sum(v ** 3) + v[0, 1] * v[1, 0], x)
    assert rel_error(got, by_hand) < 1e-8
    wrong = numerical_gradient(lambda v: np.sum(v ** 3), x)  # the mixed term forgotten: must not match
    assert rel_error(wrong, by_hand) > 0.1
    assert x.tolist() == [[0.5, -1.0], [2.0, 0.25]]  # the input is left as it was
