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

import hashlib
import hmac
import inspect
import os
import re
from types import CodeType
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np


class GradingError(AssertionError):
    """A check failed; the message explains what was expected and how to fix it.

    Shown without a traceback (IPython's ``_render_traceback_``): the student
    reads what was checked first, not the test's internals. It is still an
    error, so nbgrader scores the cell zero.
    """

    def __init__(self, what: str, problem: str, hint: str | None = None):
        self.what, self.problem, self.hint = what, problem, hint
        super().__init__(self.message())

    def message(self) -> str:
        lines = [f"\u2718 {self.what}", *(f"  {line}" for line in self.problem.splitlines())]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __reduce__(self):  # rebuilt from its parts (the message is not the constructor's argument)
        return type(self), (self.what, self.problem, self.hint)

    def _render_traceback_(self) -> list[str]:
        return [self.message(), "(this check failed, so the test cell scores zero)"]


class NotWrittenYet(NotImplementedError):
    """A student's function that still raises the stub's ``NotImplementedError``, explained."""

    def __init__(self, function: str | None):
        self.function = function
        where = f"`{function}` is" if function else "this code is"
        super().__init__(f"\u2718 {where} not written yet: it still raises NotImplementedError.\n"
                         f"  Replace `raise NotImplementedError()` in "
                         f"{'the cell that defines `' + function + '`' if function else 'its cell'} "
                         "with your code, run that cell, then run this test again.")

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


def unwritten_function(frames: Sequence[tuple[str, str]]) -> str | None:
    """The student's function a ``NotImplementedError`` came from, given its (file, function) frames.

    Only a notebook cell's code counts (IPython names cells ``<ipython-input-...>``
    or ``.../ipykernel_<pid>/<n>.py``): a library raising NotImplementedError is
    not a stub, and keeps its own traceback. None when it is not the student's stub.
    """
    if not frames:
        return None
    filename, function = frames[-1]
    if not (filename.startswith("<") or "/ipykernel_" in filename):
        return None
    return function if function.isidentifier() else ""


def explain_unwritten_stubs() -> None:
    """In this IPython kernel, show a stub's ``NotImplementedError`` as "write `f` here", not a traceback."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def handler(shell, etype, value, tb, tb_offset=None):
        import traceback

        function = unwritten_function([(f.filename, f.name) for f in traceback.extract_tb(tb)])
        if function is None or isinstance(value, NotWrittenYet):
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        else:
            explained = NotWrittenYet(function or None)
            shell.showtraceback((NotWrittenYet, explained, tb))
        return None

    shell.set_custom_exc((NotImplementedError,), handler)


def rel_error(x, y) -> float:
    """CS231n's relative error: max |x - y| / max(1e-8, |x| + |y|), elementwise."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _fail(what: str, problem: str, hint: str | None) -> None:
    raise GradingError(what, problem, hint)


def _passed(what: str, quiet: bool) -> None:
    if not quiet:
        print(f"\u2714 {what}")


def _short(value: Any, limit: int = 300) -> str:
    text = np.array2string(value, precision=4, threshold=20, edgeitems=3) \
        if isinstance(value, np.ndarray) else repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def _number(value) -> str:
    value = np.asarray(value).item()
    return f"{value:.6g}" if isinstance(value, float) else repr(value)


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


HIDDEN_KEY_ENV = "COURSE_HIDDEN_KEY"  # set by the grader in the judge only, never in a student's kernel


def hidden_seed(case: int) -> int:
    """The seed of a hidden test's random case number `case`, for the student being graded.

    When the grader runs the hidden tests it gives the judge a key derived from
    the course secret and the student id (`autograder.pipeline.hidden_key`), so
    each student gets inputs of their own, and the same ones on a re-grade:
    one student's hidden-test results say nothing about another's inputs.
    Without a key (an instructor running the source notebook) the seed is `case`.
    The seed fits in 32 bits, as every NumPy, TensorFlow and Keras seed must.
    """
    key = os.environ.get(HIDDEN_KEY_ENV)
    if not key:
        return case
    digest = hmac.new(key.encode(), f"case {case}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


def hidden_rng(case: int) -> np.random.Generator:
    """NumPy's generator for hidden case `case` (`hidden_seed`)."""
    return np.random.default_rng(hidden_seed(case))


def inexact_divisions(sizes: Sequence[int], windows: Sequence[int], stride: int, pad: int = 0) -> str:
    """For a hint: each axis where (N + 2P - F) / S is not a whole number, and what floor makes of it ('' if none).

    Such cases are where an output size computed with ``round()`` or ``/`` goes wrong.
    """
    parts = []
    for axis, n, f in zip(("height", "width"), sizes, windows):
        span = n + 2 * pad - f
        if span % stride:
            padded = f"{n} + 2*{pad}" if pad else f"{n}"
            parts.append(f"{axis}: ({padded} - {f}) / {stride} = {span / stride:.4g}, floored to {span // stride}, "
                         f"so {span // stride + 1} outputs")
    return "; ".join(parts)


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
        _fail(what, _named_mistake(array, mistakes, rtol, atol)
              + f"expected shape {expected.shape}, got {array.shape}", hint)
    if not np.all(np.isfinite(array)):
        _fail(what, "the result contains NaN or infinity", hint or "look for a division by zero or an overflow")
    close = np.isclose(array, expected, rtol=rtol, atol=atol)
    if close.all():
        _passed(what, quiet)
        return
    index = tuple(int(i) for i in np.argwhere(~close)[0])
    problem = (f"{int((~close).sum())} of {array.size} values differ "
               f"(shape {array.shape}, max relative error {rel_error(array, expected):.2e}).\n"
               f"first difference at index {index}: expected {_number(expected[index])}, "
               f"got {_number(array[index])}\n"
               f"expected: {_short(expected)}\ngot:      {_short(array)}")
    _fail(what, _named_mistake(array, mistakes, rtol, atol) + problem, hint)


def _named_mistake(array: np.ndarray, mistakes: Mapping[str, Any] | None, rtol: float, atol: float) -> str:
    """The first line of the message when the answer is one of the typical mistakes (of any shape), else ''."""
    for description, wrong in (mistakes or {}).items():
        wrong = np.asarray(wrong)
        if wrong.shape == array.shape and np.allclose(array, wrong, rtol=rtol, atol=atol):
            return f"your result matches a typical mistake: {description}\n"
    return ""


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


def gradients(fn: Callable, *args, wrt: Sequence[int] = (0,), upstream=None, **kwargs):
    """``fn(*args, **kwargs)`` and its gradients with respect to ``args[i]`` for each ``i`` in ``wrt``.

    ``upstream`` is the gradient flowing in from above (``output_gradients``),
    or None for the gradient of the sum of the outputs. Tests call this
    instead of opening a ``tf.GradientTape`` around a student's function: the
    grader's judge holds only a stand-in for that function, and the tape must
    run where the function runs (the stand-in's ``__autograder_gradients__``).
    """
    judged = getattr(type(fn), "__autograder_gradients__", None)
    if judged is not None:
        return judged(fn, args, kwargs, tuple(wrt), upstream)
    import tensorflow as tf

    args = list(args)
    with tf.GradientTape() as tape:
        for i in wrt:
            args[i] = tf.convert_to_tensor(args[i])
            tape.watch(args[i])
        value = fn(*args, **kwargs)
    return value, tape.gradient(value, [args[i] for i in wrt], output_gradients=upstream)


# --------------------------------------------------------------------------- the student's own code

def _nested_code(code: CodeType) -> Iterator[CodeType]:
    yield code
    for const in code.co_consts:
        if inspect.iscode(const):
            yield from _nested_code(const)


def _dotted_name(value) -> str:
    """``package.module`` for a module, ``package.module.qualname`` for a function or class, else ''."""
    if inspect.ismodule(value):
        return value.__name__
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    return f"{module}.{qualname}" if isinstance(module, str) and isinstance(qualname, str) else ""


def _is_answer(name: str, answers: Sequence[str]) -> bool:
    """Whether ``name`` is an answer, lies inside one, or is a package through which one is reached."""
    return any(name == a or name.startswith(a + ".") or a.startswith(name + ".") for a in answers)


def answer_key_use(fn: Callable, answers: Sequence[str], _seen: set | None = None) -> str | None:
    """Where ``fn``, or a notebook function it calls, uses one of ``answers``; None if nowhere.

    The course package holds working versions of what some assignments ask
    for (the model zoo, the visualisation toolkit...). A test that compares a
    student's function with the course's own proves nothing if the function
    just calls it, so test cells reject such solutions. ``answers`` are dotted
    names of modules (``course.models``) or of single functions
    (``course.viz.saliency``, so that the module's other helpers stay usable).
    Two looks: the source text (an import inside the function) and the global
    names its code uses.
    """
    judged = getattr(type(fn), "__autograder_answer_key_use__", None)
    if judged is not None:  # a stand-in in the grader's judge: it reads the submitted source instead
        return judged(fn, answers)
    seen = set() if _seen is None else _seen
    fn = inspect.unwrap(fn)  # decorators such as tf.custom_gradient keep the student's function in __wrapped__
    if fn in seen or not inspect.isfunction(fn):
        return None
    seen.add(fn)
    if _is_answer(_dotted_name(fn), answers):
        return f"{fn.__name__} is {_dotted_name(fn)}"
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        source = ""
    for answer in answers:
        package, _, name = answer.rpartition(".")
        imported = rf"\b{re.escape(answer)}\b" + (rf"|\bfrom\s+{re.escape(package)}\s+import\b[^\n]*\b{name}\b"
                                                    if package else "")
        if re.search(imported, source):
            return f"{fn.__name__} imports {answer}"
    for code in _nested_code(fn.__code__):
        for global_name in code.co_names:
            value = fn.__globals__.get(global_name)
            dotted = _dotted_name(value)
            if dotted and _is_answer(dotted, answers):
                return f"{fn.__name__} uses {global_name!r} ({dotted})"
            if inspect.isfunction(value) and value.__module__ == fn.__module__:
                found = answer_key_use(value, answers, seen)
                if found:
                    return found
    return None


def expect_own_code(fn, what: str, answers: Sequence[str], hint: str) -> None:
    """``fn`` must be a function that does its work without the course's answers (see `answer_key_use`)."""
    expect_true(callable(fn), what, f"expected a function, got {type(fn).__name__}", "define the function above",
                quiet=True)
    found = answer_key_use(fn, answers)
    expect_true(found is None, what, f"your solution uses the course's own implementation ({found})", hint,
                quiet=True)
