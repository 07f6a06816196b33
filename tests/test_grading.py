"""course.grading's answer-key check: solutions that call the course's own implementation are caught."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from course import data, viz
from course.viz import relu_swapped, saliency
from course.grading import GradingError, answer_key_use, expect_own_code

ANSWERS = ("course.viz",)


def honest(image):
    return np.clip(data.normalise(image), 0, 1)


def calls_the_answer_module(model, image):
    return viz.saliency(model, image, 0)


def imports_it_inside(model, image):
    from course.viz import saliency
    return saliency(model, image, 0)


def imports_it_from_the_package(model, image):
    from course import viz as v  # noqa: F401 - the import itself is what is caught
    return None


def uses_an_imported_answer(model, image):
    return saliency(model, image, 0)


def uses_a_given_helper(model):
    return relu_swapped(model, np.abs)


def hides_it_in_a_helper(model, image):
    return calls_the_answer_module(model, image) * 2


@tf.custom_gradient
def decorated_own_relu(x):
    return tf.nn.relu(x), lambda upstream: upstream * tf.cast(x > 0, upstream.dtype)


def test_own_code_passes():
    assert answer_key_use(honest, ANSWERS) is None
    assert answer_key_use(decorated_own_relu, ANSWERS) is None
    expect_own_code(honest, "honest", ANSWERS, "write it yourself")


@pytest.mark.parametrize("fn, trace", [
    (calls_the_answer_module, "uses 'viz' (course.viz)"),
    (imports_it_inside, "imports course.viz"),
    (imports_it_from_the_package, "imports course.viz"),
    (hides_it_in_a_helper, "calls_the_answer_module uses 'viz'"),
    (uses_an_imported_answer, "uses 'saliency' (course.viz.saliency)"),
    (viz.guided_relu, "is course.viz.guided_relu"),
])
def test_answer_module_use_is_found_and_named(fn, trace):
    assert trace in answer_key_use(fn, ANSWERS)
    with pytest.raises(GradingError, match="course's own implementation") as caught:
        expect_own_code(fn, "the function", ANSWERS, "build it with tf.GradientTape")
    assert "hint: build it with tf.GradientTape" in str(caught.value)


def test_other_course_modules_and_helpers_are_allowed_and_non_functions_refused():
    assert answer_key_use(honest, ("course.models",)) is None
    only_saliency = ("course.viz.saliency",)
    assert answer_key_use(uses_a_given_helper, only_saliency) is None
    assert "saliency" in answer_key_use(uses_an_imported_answer, only_saliency)
    with pytest.raises(GradingError, match="expected a function"):
        expect_own_code(None, "missing", ANSWERS, "hint")


def test_hidden_seeds_come_from_the_students_key_or_are_the_case_number(monkeypatch):
    import hashlib
    import hmac

    from course.grading import HIDDEN_KEY_ENV, hidden_rng, hidden_seed

    monkeypatch.delenv(HIDDEN_KEY_ENV, raising=False)
    assert [hidden_seed(n) for n in (0, 1, 7)] == [0, 1, 7]  # the instructor's own run: the numbers as written
    monkeypatch.setenv(HIDDEN_KEY_ENV, "a1b2")
    oracle = int.from_bytes(hmac.new(b"a1b2", b"case 7", hashlib.sha256).digest()[:4], "big")
    assert hidden_seed(7) == oracle < 2**32 and hidden_seed(7) != hidden_seed(8)
    assert hidden_rng(7).normal() == np.random.default_rng(oracle).normal()
    monkeypatch.setenv(HIDDEN_KEY_ENV, "c3d4")
    assert hidden_seed(7) != oracle


def test_each_student_and_assignment_gets_a_key_of_its_own():
    import hashlib
    import hmac

    from autograder.pipeline import hidden_key

    secret = b"s" * 64
    assert hidden_key(secret, "01", "ada") == hmac.new(secret, b"01\0ada", hashlib.sha256).hexdigest()
    assert hidden_key(secret, "01", "ada") == hidden_key(secret, "01", "ada")  # a re-grade: the same inputs
    keys = {hidden_key(secret, a, s) for a in ("01", "03") for s in ("ada", "alan")}
    assert len(keys) == 4 and hidden_key(b"t" * 64, "01", "ada") not in keys
