"""Checks for test cells that teach: what was expected, what came back, a hint.

Used by the public and hidden tests of the assignments. A failing check raises
`GradingError` (an ``AssertionError``, so nbgrader scores the cell zero) whose
message a student can act on; a passing check prints one line with a tick.
When a wrong answer matches one of the typical mistakes the test knows about
(a flipped kernel, a forgotten bias...), the message names that mistake.

This module holds no reference solutions: expected values are computed by the
test cells themselves, from TensorFlow/Keras or independent computations.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np


class GradingError(AssertionError):
    """A check failed; the message explains what was expected and how to fix it."""


def rel_error(x, y) -> float:
    """CS231n's relative error: max |x - y| / max(1e-8, |x| + |y|), elementwise."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _fail(what: str, problem: str, hint: str | None) -> None:
    message = f"\n{what}: {problem}"
    if hint:
        message += f"\n  hint: {hint}"
    raise GradingError(message)


def _passed(what: str, quiet: bool) -> None:
    if not quiet:
        print(f"\u2714 {what}")


def _short(value: Any, limit: int = 300) -> str:
    text = np.array2string(np.asarray(value), precision=4, threshold=20, edgeitems=3) \
        if isinstance(value, (np.ndarray, list, tuple)) else repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def as_array(value, what: str) -> np.ndarray:
    """Convert a student's result (NumPy, TensorFlow, list) to a NumPy array, or explain why not."""
    if value is None:
        _fail(what, "your function returned None", "did you forget a `return` statement?")
    if hasattr(value, "numpy"):
        value = value.numpy()
    try:
        array = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - any conversion failure is the student's to fix
        _fail(what, f"could not turn the result ({type(value).__name__}) into an array: {exc}",
              "return a NumPy array")
    if array.dtype == object:
        _fail(what, f"the result is not numeric (got an object array from {type(value).__name__})",
              "return a NumPy array of numbers")
    return array


def expect_shape(value, shape: tuple, what: str, hint: str | None = None, quiet: bool = False) -> None:
    array = as_array(value, what)
    if tuple(array.shape) != tuple(shape):
        _fail(what, f"expected shape {tuple(shape)}, got {tuple(array.shape)}", hint)
    _passed(f"{what}: shape {tuple(shape)}", quiet)


def expect_close(value, expected, what: str, *, rtol: float = 1e-5, atol: float = 1e-6,
                 hint: str | None = None, mistakes: Mapping[str, Any] | None = None,
                 quiet: bool = False) -> None:
    """Values match ``expected`` within tolerance, with the same shape.

    ``mistakes`` maps a description of a typical error to the result that
    error would produce; if the student's answer matches one, the message says so.
    """
    array = as_array(value, what)
    expected = np.asarray(expected)
    if array.shape != expected.shape:
        _fail(what, f"expected shape {expected.shape}, got {array.shape}", hint)
    if not np.all(np.isfinite(array)):
        _fail(what, "the result contains NaN or infinity", hint or "look for a division by zero or an overflow")
    close = np.isclose(array, expected, rtol=rtol, atol=atol)
    if close.all():
        _passed(what, quiet)
        return
    for description, wrong in (mistakes or {}).items():
        wrong = np.asarray(wrong)
        if wrong.shape == array.shape and np.allclose(array, wrong, rtol=rtol, atol=atol):
            _fail(what, f"your result matches a typical mistake: {description}", hint)
    index = tuple(int(i) for i in np.argwhere(~close)[0])
    problem = (f"{int((~close).sum())} of {array.size} values differ "
               f"(max relative error {rel_error(array, expected):.2e}).\n"
               f"  first difference at index {index}: expected {expected[index]!r}, got {array[index]!r}\n"
               f"  expected: {_short(expected)}\n  got:      {_short(array)}")
    _fail(what, problem, hint)


def expect_equal(value, expected, what: str, hint: str | None = None, quiet: bool = False) -> None:
    """Exact equality for integers, strings, tuples (e.g. an output size)."""
    if isinstance(value, np.ndarray) or isinstance(expected, np.ndarray):
        ok = np.array_equal(np.asarray(value), np.asarray(expected))
    else:
        ok = value == expected
    if not ok:
        _fail(what, f"expected {_short(expected)}, got {_short(value)}", hint)
    _passed(what, quiet)


def expect_true(condition: bool, what: str, problem: str, hint: str | None = None,
                quiet: bool = False) -> None:
    """A property that must hold (e.g. 'weights unchanged after fit')."""
    if not condition:
        _fail(what, problem, hint)
    _passed(what, quiet)


def expect_raises(fn: Callable[[], Any], exception: type[BaseException], what: str,
                  hint: str | None = None, quiet: bool = False) -> None:
    """Calling ``fn()`` must raise ``exception`` (e.g. a filter that does not fit)."""
    try:
        result = fn()
    except exception:
        _passed(what, quiet)
        return
    except Exception as exc:  # noqa: BLE001
        _fail(what, f"expected {exception.__name__}, but {type(exc).__name__} was raised: {exc}", hint)
    _fail(what, f"expected {exception.__name__}, but the call returned {_short(result)}", hint)


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Centred-difference gradient of a scalar function, an independent oracle for backprop."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad
