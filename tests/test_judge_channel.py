"""The judge's channel and rules, without kernels: what crosses, what is refused, what is trusted.

The end-to-end proofs (solution full marks and stub zero through the judge,
every cheat family) are in test_autograder.py, test_check_assignments.py and
test_cheats.py; these are the unit checks of the parts they rely on.
"""
from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.answer_key import StudentSources
from autograder.channel import AsHandle, ChannelError, Codec
from autograder.judge import StudentCallable, StudentCodeError, _student_error
from autograder.judged import judged_cells_also_run_by_student


class _Objects:
    """The student side's table of shared objects."""

    def __init__(self):
        self.table = {}

    def share(self, obj) -> int:
        self.table[id(obj)] = obj
        return id(obj)


def _student_codec():
    objects = _Objects()
    return Codec(share=objects.share, lookup=objects.table.__getitem__), objects


def _judge_codec():
    return Codec(share=None, lookup=None, remote=lambda d: ("stand-in", d["type"], d["callable"]))


@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 1.5, float("inf"), "text", b"\x00bytes", (1, (2, 3)), [1, [2]], {"a": 1, 2: (3,)},
    {1, 2}, slice(1, None, 2), Ellipsis, complex(1, -2), np.float32(2.5), np.int64(7),
    np.arange(12, dtype=np.float64).reshape(3, 4), np.array([True, False]), np.array(["ab", "c"]),
])
def test_data_crosses_unchanged(value):
    sent = _student_codec()[0].dumps(value)
    got = _judge_codec().loads(sent)
    if isinstance(value, np.ndarray):
        assert type(got) is np.ndarray and got.dtype == value.dtype and np.array_equal(got, value)
    elif isinstance(value, float) and value != value:
        assert got != got
    else:
        assert got == value and type(got) is type(value)


def test_array_subclasses_arrive_as_plain_arrays():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return True

    lying = np.zeros(3).view(Liar)
    got = _judge_codec().loads(_student_codec()[0].dumps(lying))
    assert type(got) is np.ndarray and not np.array_equal(got, np.ones(3))


def test_anything_else_stays_behind_a_handle():
    codec, objects = _student_codec()

    def relu(x):
        return x

    class Weird:
        def __eq__(self, other):
            return True

    for value, callable_ in ((relu, True), (Weird(), False), (np.array([object()]), False), (AsHandle(3), False)):
        got = _judge_codec().loads(codec.dumps(value))
        assert got[0] == "stand-in" and got[2] is callable_
    assert relu in objects.table.values()


def test_the_judge_never_sends_objects_only_data():
    with pytest.raises(ChannelError, match="cannot be sent"):
        _judge_codec().dumps(lambda: 1)
    with pytest.raises(ChannelError, match="dtype object"):
        _judge_codec().dumps(np.array([object()]))


@pytest.mark.parametrize("message", [
    {"$": "ndarray", "dtype": "|O", "shape": [1], "data": ""},            # object arrays: never
    {"$": "ndarray", "dtype": "<f8", "shape": [1000], "data": "AAAA"},     # size does not match shape
    {"$": "pickle", "data": "gASVAAAA"},                                   # unknown tags: refused
    {"$": "ref", "id": 1},                                                 # the judge has no shared objects
    {"$": "float", "v": "__import__('os')"},
    {"$": "dict", "items": [[[1], 2]]},                                    # unhashable key
])
def test_malformed_messages_are_refused(message):
    with pytest.raises((ChannelError, ValueError, TypeError)):
        Codec(share=None, lookup=None, remote=None).loads(json.dumps(message))


def test_student_errors_keep_their_builtin_class_but_never_a_student_class():
    error = _student_error({"type": "MyError", "bases": ["ValueError", "Exception"], "message": "bad",
                            "traceback": "line 3 in relu"})
    assert isinstance(error, ValueError) and isinstance(error, StudentCodeError)
    assert type(error).__name__ == "MyError" and error.student_traceback == "line 3 in relu"
    forged = _student_error({"type": "x; import os", "bases": ["SystemExit", "KeyboardInterrupt"]})
    assert isinstance(forged, Exception) and not isinstance(forged, (SystemExit, KeyboardInterrupt))


def test_stand_ins_have_no_dunder_back_door():
    asked = []

    class Link:
        codec = _judge_codec()

        def ask(self, request, objects=None):
            asked.append(request)
            return 1

    stand_in = StudentCallable(Link(), {"id": 5, "name": "relu", "callable": True})
    assert stand_in.__name__ == "relu" and callable(stand_in)
    with pytest.raises(AttributeError):
        stand_in.__globals__  # noqa: B018 - nothing of the judge is reachable through a stand-in
    assert stand_in(2) == 1 and asked[-1] == {"op": "call", "target": 5, "args": [2], "kwargs": {}}


def test_answer_key_is_read_from_the_submitted_source():
    sources = StudentSources()
    sources.add("from course import models as zoo\nimport numpy as np")
    sources.add("def helper(x):\n    return zoo.build('lenet5')\n\ndef lenet5():\n    return helper(1)")
    sources.add("def honest():\n    return np.zeros(3)")
    sources.add("class Distiller:\n    def train_step(self, data):\n        from course.distill import step\n")
    assert "course.models" in sources.answer_key_use("lenet5", ["course.models"])
    assert sources.answer_key_use("honest", ["course.models"]) is None
    assert "course.distill" in sources.answer_key_use("Distiller.train_step", ["course.distill"])


def test_a_name_the_notebook_imported_in_a_locked_cell_counts_as_the_answer_key():
    """05's setup cell does `from course import models`; a solution calling `models.build` uses the zoo."""
    sources = StudentSources()
    sources.add_instructor_imports("from course import arith, data, models\nimport keras\n\ndef given(): pass")
    sources.add("def lenet5():\n    return models.build('lenet5')")
    sources.add("def own():\n    return keras.Sequential()")
    assert "course.models" in sources.answer_key_use("lenet5", ["course.models"])
    assert sources.answer_key_use("own", ["course.models"]) is None
    assert "given" not in sources.definitions  # the instructor's functions are not the student's code
    sources.add("import my_models as models")  # a student's own rebinding wins, in cell order
    sources.add("def lenet5():\n    return models.build('lenet5')")
    assert sources.answer_key_use("lenet5", ["course.models"]) is None


def test_test_cells_run_in_the_student_kernel_only_when_a_later_cell_reads_their_names():
    nb = new_notebook(cells=[new_code_cell("def f(x):\n    return x"), new_code_cell("y = f(2)\nassert y == 2"),
                             new_code_cell("z = 1"), new_code_cell("print(z)"), new_code_cell("print(y)")])
    roles = ["student", "test", "test", "student", "student"]
    assert judged_cells_also_run_by_student(nb.cells, roles) == {1, 2}
    assert judged_cells_also_run_by_student(nb.cells[:3], roles[:3]) == set()


def test_random_generators_cross_in_their_state():
    rng = np.random.default_rng(3)
    rng.random(5)
    copy = _judge_codec().loads(_student_codec()[0].dumps(rng))
    assert np.array_equal(copy.random(4), rng.random(4))
    with pytest.raises(ChannelError, match="unknown random generator"):
        Codec().loads(json.dumps({"$": "rng", "state": {"$": "dict", "items": [["bit_generator", "os.system"]]}}))


def test_a_mirrored_model_takes_the_other_sides_trainable_flags_weights_and_compile_state():
    import keras

    from autograder.channel import load_state_into, model_fingerprint

    def build():
        inputs = keras.Input((4,))
        base = keras.Model(inputs, keras.layers.Dense(3, name="d1")(keras.layers.Dense(3, name="d0")(inputs)),
                           name="base")
        outer_in = keras.Input((4,))
        return keras.Model(outer_in, keras.layers.Dense(2, name="head")(base(outer_in)))

    mine, theirs = build(), build()
    theirs.get_layer("base").trainable = True
    theirs.get_layer("base").get_layer("d0").trainable = False
    theirs.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    assert model_fingerprint(mine) != model_fingerprint(theirs)
    load_state_into(mine, theirs)
    base = mine.get_layer("base")
    assert not base.get_layer("d0").trainable and base.get_layer("d1").trainable
    assert np.isclose(float(mine.optimizer.learning_rate), 0.01)
    assert all(np.array_equal(a, b) for a, b in zip(mine.get_weights(), theirs.get_weights()))


def test_an_answer_imported_straight_from_the_course_is_caught():
    sources = StudentSources()
    sources.add("from course.transfer import unfreeze_top")
    sources.add("import numpy as np\nsoftmax = np.exp")
    assert "course.transfer" in sources.answer_key_use("unfreeze_top", ["course.transfer"])
    assert sources.answer_key_use("softmax", ["course.distill"]) is None
