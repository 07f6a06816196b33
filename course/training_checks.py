"""Steps the tests of assignments 06 (transfer) and 07 (distillation) share around a student's training code.

Those tests train a student's model for a step or two and look at what changed:
which weights moved (batch norm's moving statistics included), what the model
outputs in inference mode, and whether a distillation loss matches an
independent NumPy computation, with the values of its typical mistakes. These
steps teach nothing about transfer or distillation, so they live here, tested
in ``tests/test_training_checks.py``, and the test cells keep the checks
themselves. A solution that calls the tests' own oracles proves nothing:
`expect_no_oracle` refuses it.
"""
from __future__ import annotations

from typing import Callable

import keras
import numpy as np

from course.grading import expect_own_code

ORACLES = ("course.training_checks",)
ORACLE_HINT = ("the tests compute the expected values with course.training_checks, so calling it proves "
               "nothing: write your own with TensorFlow operations")


def expect_no_oracle(fn: Callable, what: str) -> None:
    """The student's function (and the notebook helpers it calls) must not use the tests' oracles."""
    expect_own_code(fn, what, ORACLES, ORACLE_HINT)


# --------------------------------------------------------------------------- what training changed

def weight_snapshot(layer: keras.layers.Layer) -> dict[str, np.ndarray]:
    """Path -> value of every weight, trainable or not (batch norm's moving statistics included)."""
    return {w.path: keras.ops.convert_to_numpy(w) for w in layer.weights}


def changed_weights(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> list[str]:
    """The paths of the weights whose values differ between two snapshots, sorted."""
    return sorted(k for k in before if not np.allclose(before[k], after[k]))


def inference_output(model: keras.Model, x: np.ndarray):
    """Inference-mode output as NumPy, a dict of arrays for a dict-output model (a direct call: nothing to trace)."""
    out = model(x, training=False)
    return {k: np.asarray(v) for k, v in out.items()} if isinstance(out, dict) else np.asarray(out)


# --------------------------------------------------------------------------- distillation

def tiny_distillation_models(seed: int, num_classes: int = 10) -> tuple[keras.Model, keras.Model]:
    """``(student, teacher)`` on 28x28x1 images, seeded: a linear student and a trainable teacher.

    The teacher has batch norm and dropout, so that training it, or running it
    in training mode, shows in its weights or its outputs.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(16)(h)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.Dropout(0.5)(keras.layers.ReLU()(h))
    teacher = keras.Model(inputs, keras.layers.Dense(num_classes)(h), name="tiny_teacher")
    inputs = keras.Input((28, 28, 1))
    student = keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.Flatten()(inputs)),
                          name="tiny_student")
    return student, teacher


def log_softmax(z, temperature: float = 1.0) -> np.ndarray:
    """``log softmax(z / T)`` along the last axis, in float64."""
    z = np.asarray(z, np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def kl_divergence(log_p: np.ndarray, log_q: np.ndarray) -> float:
    """Batch mean of ``KL(p || q)`` from log-probabilities (classes on the last axis)."""
    return float(np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)))


def hard_label_loss(y, z) -> float:
    """Batch mean of the cross-entropy of integer labels ``y`` under logits ``z``."""
    return float(-np.mean(log_softmax(z)[np.arange(len(y)), y]))


def distillation_oracle(y, z, v, t: float, a: float) -> tuple[float, dict[str, float]]:
    """The distillation loss of student logits ``z`` and teacher logits ``v``, and the values of its typical mistakes.

    ``a * CE(y, softmax(z)) + (1 - a) * t^2 * KL(softmax(v / t) || softmax(z / t))``, batch means, in NumPy.
    """
    soft = kl_divergence(log_softmax(v, t), log_softmax(z, t))
    right = a * hard_label_loss(y, z) + (1 - a) * t * t * soft
    mistakes = {
        "the T^2 factor is missing": a * hard_label_loss(y, z) + (1 - a) * soft,
        "T instead of T^2": a * hard_label_loss(y, z) + (1 - a) * t * soft,
        "KL direction reversed (student first)":
            a * hard_label_loss(y, z) + (1 - a) * t * t * kl_divergence(log_softmax(z, t), log_softmax(v, t)),
        "student softmax without temperature":
            a * hard_label_loss(y, z) + (1 - a) * t * t * kl_divergence(log_softmax(v, t), log_softmax(z)),
        "teacher softmax without temperature":
            a * hard_label_loss(y, z) + (1 - a) * t * t * kl_divergence(log_softmax(v), log_softmax(z, t)),
        "alpha and 1 - alpha swapped": (1 - a) * hard_label_loss(y, z) + a * t * t * soft,
        "hard-label loss computed at temperature T":
            a * float(-np.mean(log_softmax(z, t)[np.arange(len(y)), y])) + (1 - a) * t * t * soft,
        "student and teacher swapped":
            a * hard_label_loss(y, v) + (1 - a) * t * t * kl_divergence(log_softmax(z, t), log_softmax(v, t)),
    }
    return right, mistakes
