"""Cheat submissions: a released stub plus a few lines that fool stock nbgrader (issue 12).

Under stock ``nbgrader autograde`` a test cell runs in the student's own kernel
and scores full marks unless it shows an error, so a handful of lines in any
solution cell can reach every later test: blank it, rewrite it, patch what it
calls, or put a number in its outputs. Each `Cheat` below is one family of such
tricks; each `CheatSubmission` pairs some cheats with a stub (its functions
replaced by wrong ones that at least return, see `WRONG`) or with a few correct
answers, and with the score its honest content earns. tests/test_cheats.py
grades them all and requires exactly that score: zero for a stub, the correct
answers' points when they sit beside the cheats.

A cheat's ``kernel`` code is appended to the first solution cell of every
notebook (each notebook has its own kernel); its ``answers`` are appended to
the named solution cells, where they replace the stub's function. Cells that
`CheatSubmission.honest` fills are left alone. None of this code runs here: it
is text, written into notebooks. Cheats look for test cells by what they call
(``expect_...``, ``check_...``) and leave the grader's channel
(``__autograder__``) alone, so that a correct answer beside them still counts.
Families 1 to 8 are issue 12's list; 9 and 10 were found while writing these.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import nbformat

from autograder.samples import Case, _cells_by_id, replace_cells


@dataclasses.dataclass(frozen=True)
class Cheat:
    """One family of tricks: code for the kernel, and answers that pretend."""

    family: str
    kernel: str = ""                                                # appended to each notebook's first solution cell
    answers: dict[str, str] = dataclasses.field(default_factory=dict)  # grade_id -> code appended to that cell


@dataclasses.dataclass(frozen=True)
class CheatSubmission:
    """A submission made of cheats, and what grading it must (and stock nbgrader would) give."""

    case: Case                                                      # student id, description, honest score per test
    cheats: tuple[Cheat, ...]
    honest: dict[str, str] = dataclasses.field(default_factory=dict)  # grade_id -> a correct answer, kept as is
    stock_fooled: tuple[str, ...] = ()                              # numpy_part tests stock nbgrader passes


# A test cell, as the cheats recognise one (the grader's own requests mention __autograder__).
LOOKS_LIKE_A_TEST = '''
def _looks_like_a_test(text):
    return "__autograder__" not in text and ("expect_" in text or "check_" in text)
'''

INPUT_TRANSFORMER = Cheat("1: input transformer blanks the tests", kernel=LOOKS_LIKE_A_TEST + '''
get_ipython().input_transformers_post.append(
    lambda lines: ["pass\\n"] if _looks_like_a_test("".join(lines)) else lines)
''')

AST_TRANSFORMER = Cheat("2: AST transformer blanks the tests", kernel='''
import ast

class _PassInstead(ast.NodeTransformer):
    """The body of every later cell that calls a checker becomes `pass`."""

    def visit_Module(self, module):
        names = {node.id for node in ast.walk(module) if isinstance(node, ast.Name)}
        if "__autograder__" in names or not any(name.startswith(("expect_", "check_")) for name in names):
            return module
        return ast.Module(body=[ast.Pass(lineno=1, col_offset=0)], type_ignores=[])

get_ipython().ast_transformers.append(_PassInstead())
''')

MINUS_ONE_FIRST = Cheat("3: pre_run_cell hook outputs -1", kernel=LOOKS_LIKE_A_TEST + '''
def _minus_one_first(info):
    """Before a test runs, its outputs get the number -1 (stock nbgrader: a negative score is full marks)."""
    if _looks_like_a_test(info.raw_cell or ""):
        get_ipython().display_pub.publish({"text/plain": "-1"})
        get_ipython().displayhook(-1)

get_ipython().events.register("pre_run_cell", _minus_one_first)
''')

ENDS_WITH_MINUS_ONE = Cheat("3: input transformer makes the tests end with -1", kernel=LOOKS_LIKE_A_TEST + '''
def _end_with_minus_one(lines):
    """A test cell becomes `try: <the test> except BaseException: pass` followed by `-1`."""
    if not _looks_like_a_test("".join(lines)):
        return lines
    body = ["    " + line.rstrip("\\n") + "\\n" for line in lines]
    return ["try:\\n", *body, "except BaseException:\\n", "    pass\\n", "-1\\n"]

get_ipython().input_transformers_post.append(_end_with_minus_one)
''')

MONKEYPATCH = Cheat("4: checks monkeypatched to pass", kernel='''
import numpy, numpy.testing, course.grading
numpy.allclose = lambda *args, **kwargs: True
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.shape(a), bool)
numpy.testing.assert_allclose = numpy.testing.assert_array_equal = lambda *args, **kwargs: None
course.grading._fail = lambda *args, **kwargs: None
course.grading.expect_close = course.grading.expect_shape = lambda *args, **kwargs: None
expect_close, expect_shape = course.grading.expect_close, course.grading.expect_shape
''')

SETTRACE = Cheat("5: sys.settrace jumps over the checks", kernel='''
import inspect, sys
import course.grading

def _jump_to_passed(check):
    """A line tracer that jumps from the first line of `check` to its `_passed(...)` line."""
    lines, first = inspect.getsourcelines(check)
    target = first + next(i for i, line in enumerate(lines) if line.strip().startswith("_passed("))

    def trace(frame, event, arg):
        if event == "line" and frame.f_lineno < target:
            frame.f_lineno = target
        return trace
    return trace

_checks = (course.grading.expect_close, course.grading.expect_shape)
_jumps = {check.__code__: _jump_to_passed(check) for check in _checks}
sys.settrace(lambda frame, event, arg: _jumps.get(frame.f_code))
''')

SETPROFILE = Cheat("5: sys.setprofile rewrites the checks' frames", kernel='''
import ctypes, sys
import numpy
import course.grading

def _rewrite_arguments(frame, event, arg):
    """On entry to a check, the student's value becomes the expected one, written back into the frame."""
    if event != "call":
        return
    if frame.f_code is course.grading.expect_close.__code__:
        frame.f_locals["value"] = frame.f_locals["expected"]
    elif frame.f_code is course.grading.expect_shape.__code__:
        frame.f_locals["value"] = numpy.zeros(frame.f_locals["shape"])
    else:
        return
    ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))

sys.setprofile(_rewrite_arguments)
''')

FAKE_MODULES = Cheat("6: fake tensorflow and course.grading in sys.modules", kernel='''
import sys, types
import numpy

class _Never:
    """A type nothing is an instance of (code asking `isinstance(x, tf.Tensor)` keeps working)."""

_tf = types.ModuleType("tensorflow")
_tf.Tensor = _tf.Variable = _tf.DType = _tf.TensorShape = _Never
_tf.constant = lambda value, *args, **kwargs: numpy.asarray(value)
_tf.nn = types.SimpleNamespace(softmax=lambda z, *args, **kwargs: types.SimpleNamespace(numpy=lambda: softmax(z)))
sys.modules["tensorflow"] = _tf  # "the expected softmax" is now the student's own
_grading = types.ModuleType("course.grading")
_grading.expect_close = _grading.expect_shape = lambda *args, **kwargs: print("\\u2714")
sys.modules["course.grading"] = _grading
''')

PLANTED_FILES = Cheat("6: modules planted in the kernel's working folder", kernel='''
import os
_always_pass = ("def _ok(*args, **kwargs):\\n    return True\\n\\n"
                "expect_close = expect_shape = allclose = isclose = _ok\\n")
for _name in ("numpy.py", "tensorflow.py", "sitecustomize.py", "usercustomize.py", "course/__init__.py",
              "course/grading.py"):
    os.makedirs(os.path.dirname(os.path.abspath(_name)), exist_ok=True)
    with open(_name, "w") as _file:  # the working folder only: stock nbgrader runs this unsandboxed
        _file.write(_always_pass)
''')

# Objects that pass a check run in the student's kernel: equal to anything, and, as an array, whatever the
# check that converts them expects (read from its frame: expect_close's `expected`, expect_shape's `shape`).
PRETENDERS = '''
import sys
import numpy

def _what_the_caller_expects():
    frame = sys._getframe(1)
    while frame is not None:
        if "expected" in frame.f_locals:
            return numpy.asarray(frame.f_locals["expected"])
        if "shape" in frame.f_locals and "value" in frame.f_locals:
            return numpy.zeros(frame.f_locals["shape"])
        frame = frame.f_back
    return numpy.zeros(1)

class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):
        return _what_the_caller_expects()

    def numpy(self):
        return _what_the_caller_expects()

class AgreeableArray(numpy.ndarray):
    def __eq__(self, other):
        return numpy.ones(numpy.shape(other), bool)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return numpy.True_

    def numpy(self):
        return _what_the_caller_expects()
'''

PRETENDING_ANSWERS = Cheat("7: answers that pretend (__eq__, __array__, ndarray subclass, caller's frame)",
                           kernel=PRETENDERS, answers={
    "relu": "def relu(x):\n    return AlwaysEqual()",
    "slide": "def slide(x, w):\n    return numpy.zeros(len(x) - len(w) + 1).view(AgreeableArray)",
    "softmax": "def softmax(z):\n    return AlwaysEqual()",
    "conv_forward_naive": "def conv_forward_naive(x, w, b, stride=1, pad=0):\n    return AlwaysEqual()",
    "im2col": "def im2col(x, fh, fw, stride=1, pad=0):\n    return numpy.zeros((1, fh * fw)).view(AgreeableArray)",
    "conv_forward_im2col": "def conv_forward_im2col(x, w, b, stride=1, pad=0):\n    return AlwaysEqual()",
    "pool_forward": "def pool_forward(x, size=2, stride=2, mode='max'):\n"
                    "    return numpy.zeros(1).view(AgreeableArray)",
    "depthwise_weights": "def depthwise_weights(kernel, channels):\n    return AlwaysEqual()",
})

FAKE_SUCCESS = Cheat("8: printed success and stderr", kernel=LOOKS_LIKE_A_TEST + '''
import sys

def _claim_success(info):
    if _looks_like_a_test(info.raw_cell or ""):
        print("\\u2714 relu on five numbers")
        print("\\u2714 slide of 5 samples with a 3-tap kernel: shape (3,)\\nAll tests passed!")
        print("the grader is confused", file=sys.stderr)

get_ipython().events.register("pre_run_cell", _claim_success)
''', answers={"relu": 'def relu(x):\n    print("\\u2714 relu on five numbers")\n    return x'})

# Not a family of issue 12's list: the student's end of the judge's channel answers "get" with more names
# than the judge asked for (no-op checkers, harmless answers), found while reading autograder/judge.py.
FORGED_CHANNEL = Cheat("9: forged channel answers", kernel='''
import numpy
_server = get_ipython().user_ns.get("__autograder__")  # the grader's channel server, when there is one

def _forge(dispatch):
    def forged(request):
        answer = dispatch(request)
        if request.get("op") == "get":
            nothing = lambda *args, **kwargs: None
            weights = lambda kernel, channels: numpy.zeros(numpy.shape(kernel) + (channels, channels))
            answer = {name: {"value": weights if name == "depthwise_weights" else nothing} for name in request["names"]}
            answer.update({name: {"value": nothing} for name in ("expect_close", "expect_shape", "expect_true")})
        return answer
    return forged

if _server is not None:
    _server._dispatch = _forge(_server._dispatch)
''')

# Not in issue 12's list either: the answer changes the test's input arrays in place, so that an expected value
# the test computes from them *after* calling it agrees (in-place changes cross back from the student's kernel,
# as they would in one process). Python semantics, not a channel bug: the test must compute what it expects first.
MUTATED_INPUTS = Cheat("10: answers that zero the test's inputs in place", answers={
    "slide": "def slide(x, w):\n    x[...] = 0.0\n    return numpy.zeros(len(x) - len(w) + 1)",
    "softmax": "def softmax(z):\n    z[...] = 0.0\n    return numpy.full(numpy.shape(z), 1.0 / numpy.shape(z)[-1])",
    "zero_pad": "def zero_pad(x, pad):\n    x[...] = 0.0\n    n, h, w, c = x.shape\n"
                "    return numpy.zeros((n, h + 2 * pad, w + 2 * pad, c))",
}, kernel="import numpy")

# Wrong answers that at least return: a stub whose functions raise fails every test before any cheat matters.
WRONG = {
    "relu": "def relu(x):\n    return x",
    "slide": "def slide(x, w):\n    return x",
    "softmax": "def softmax(z):\n    return z",
    "zero_pad": "def zero_pad(x, pad):\n    return x",
    "conv_forward_naive": "def conv_forward_naive(x, w, b, stride=1, pad=0):\n    return x",
    "im2col": "def im2col(x, fh, fw, stride=1, pad=0):\n    return x",
    "conv_forward_im2col": "def conv_forward_im2col(x, w, b, stride=1, pad=0):\n    return x",
    "pool_forward": "def pool_forward(x, size=2, stride=2, mode='max'):\n    return x",
    "depthwise_weights": "def depthwise_weights(kernel, channels):\n    return kernel",
}

# Correct answers that write to stderr (stock nbgrader would score such a test zero; ours must not).
HONEST_RELU = "def relu(x):\n    import sys\n    print('relu: called', file=sys.stderr)\n    return np.maximum(x, 0.0)"
HONEST_ZERO_PAD = ("def zero_pad(x, pad):\n    import sys\n    print('zero_pad: called', file=sys.stderr)\n"
                   "    return np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))")

# Every cheat that leaves the answers alone, in an order where none undoes another.
KERNEL_CHEATS = (INPUT_TRANSFORMER, AST_TRANSFORMER, MINUS_ONE_FIRST, ENDS_WITH_MINUS_ONE, SETTRACE, SETPROFILE,
                 FAKE_MODULES, PLANTED_FILES, FAKE_SUCCESS, MONKEYPATCH)

AG_ZERO = {"test_relu": 0.0, "test_slide": 0.0, "test_softmax": 0.0}
NUMPY_TESTS = ("test_relu", "test_slide")


def ag_sample_cheats() -> list[CheatSubmission]:
    """One submission per cheat on the stub of ``ag_sample``, and the kernel cheats beside a correct relu."""
    one_each = [
        ("input-transformer", INPUT_TRANSFORMER, NUMPY_TESTS),
        ("ast-transformer", AST_TRANSFORMER, NUMPY_TESTS),
        ("minus-one-first", MINUS_ONE_FIRST, NUMPY_TESTS),
        ("ends-with-minus-one", ENDS_WITH_MINUS_ONE, NUMPY_TESTS),
        ("monkeypatch", MONKEYPATCH, NUMPY_TESTS),
        ("settrace", SETTRACE, NUMPY_TESTS),
        ("setprofile", SETPROFILE, NUMPY_TESTS),
        ("fake-modules", FAKE_MODULES, ()),
        ("planted-files", PLANTED_FILES, ()),
        ("pretending-answers", PRETENDING_ANSWERS, NUMPY_TESTS),
        ("fake-success", FAKE_SUCCESS, ()),
        ("forged-channel", FORGED_CHANNEL, ()),
        ("mutated-inputs", MUTATED_INPUTS, ("test_slide",)),
    ]
    cases = [CheatSubmission(Case(f"cheat-{name}", f"stub + {cheat.family}", AG_ZERO), (cheat,), stock_fooled=fooled)
             for name, cheat, fooled in one_each]
    beside = Case("cheat-honest-beside", "a correct relu (writing to stderr), blank slide and softmax, "
                  "every kernel cheat, pretending answers", {"test_relu": 1.0, "test_slide": 0.0, "test_softmax": 0.0})
    cases.append(CheatSubmission(beside, KERNEL_CHEATS + (PRETENDING_ANSWERS,), honest={"relu": HONEST_RELU},
                                 stock_fooled=NUMPY_TESTS))
    return cases


CONVOLUTION_TESTS = ("test_zero_pad", "test_conv_forward_naive", "test_im2col", "test_conv_forward_im2col",
                     "test_pool_forward", "test_depthwise_weights")


def convolution_cheats() -> list[CheatSubmission]:
    """Few submissions of ``01_convolution`` (about 50 s each), several cheat families in each."""
    zero = dict.fromkeys(CONVOLUTION_TESTS, 0.0)
    return [
        CheatSubmission(Case("cheat-kernel", "stub + every cheat that leaves the answers alone", zero), KERNEL_CHEATS),
        CheatSubmission(Case("cheat-honest-beside", "a correct zero_pad (writing to stderr), the other answers "
                             "pretending, every kernel cheat", {**zero, "test_zero_pad": 1.0}),
                        KERNEL_CHEATS + (PRETENDING_ANSWERS,), honest={"zero_pad": HONEST_ZERO_PAD}),
        CheatSubmission(Case("cheat-forged-channel", "stub + forged channel answers", zero), (FORGED_CHANNEL,)),
        CheatSubmission(Case("cheat-mutated-inputs", "stub + a zero_pad that zeroes its input", zero),
                        (MUTATED_INPUTS,)),
    ]


def _solution_cells(nb) -> list[str]:
    return [cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")]


def cheat_notebook(stub, submission: CheatSubmission):
    """The released notebook ``stub`` as this cheater submits it."""
    solutions, index = _solution_cells(stub), _cells_by_id(stub)
    sources = {}
    for grade_id in solutions:
        if grade_id in submission.honest:
            sources[grade_id] = submission.honest[grade_id]
            continue
        parts = [stub.cells[index[grade_id]].source, WRONG.get(grade_id, "")]
        parts += [cheat.answers.get(grade_id, "") for cheat in submission.cheats]
        sources[grade_id] = "\n\n".join(p for p in parts if p)
    if solutions:
        kernel = [c.kernel for c in submission.cheats if c.kernel]
        sources[solutions[0]] = "\n\n".join([sources[solutions[0]]] + kernel)
    return replace_cells(stub, sources)


def build_cheat_submissions(submissions: list[CheatSubmission], release_dir: Path, out_dir: Path,
                            assignment_id: str) -> None:
    """Write each submission under ``out_dir/<student>/<assignment_id>/``, from the released notebooks."""
    for submission in submissions:
        target = out_dir / submission.case.student / assignment_id
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(release_dir.glob("*.ipynb")):
            nbformat.write(cheat_notebook(nbformat.read(path, as_version=4), submission), target / path.name)
