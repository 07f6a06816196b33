"""course.training_checks: the steps the tests of assignments 06 and 07 share, each against Keras, TF or by hand."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from course.grading import GradingError, expect_close
from course.training_checks import (ORACLE_HINT, changed_weights, distillation_oracle, expect_no_oracle,
                                    hard_label_loss, inference_output, kl_divergence, log_softmax,
                                    tiny_distillation_models, weight_snapshot)
from course.training_checks import log_softmax as imported_oracle


def failure(check, *args, **kwargs) -> str:
    with pytest.raises(GradingError) as caught:
        check(*args, **kwargs)
    return str(caught.value)


def dense_bn_model() -> keras.Model:
    inputs = keras.Input((3,))
    outputs = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(2, name="d")(inputs))
    return keras.Model(inputs, outputs)


def test_weight_snapshot_holds_every_weight_and_changed_weights_names_the_ones_that_moved():
    model = dense_bn_model()
    before = weight_snapshot(model)
    assert sorted(before) == ["bn/beta", "bn/gamma", "bn/moving_mean", "bn/moving_variance", "d/bias", "d/kernel"]
    kernel, bias = model.get_layer("d").get_weights()
    assert np.array_equal(before["d/kernel"], kernel) and np.array_equal(before["d/bias"], bias)
    assert changed_weights(before, weight_snapshot(model)) == []

    model(np.ones((4, 3), np.float32), training=False)  # inference mode: the moving statistics stay
    assert changed_weights(before, weight_snapshot(model)) == []
    model(np.arange(12, dtype=np.float32).reshape(4, 3), training=True)  # training mode: they move
    assert changed_weights(before, weight_snapshot(model)) == ["bn/moving_mean", "bn/moving_variance"]
    model.get_layer("d").bias.assign([1e-12, 0.0])  # within allclose's tolerance: not a change
    assert "d/bias" not in changed_weights(before, weight_snapshot(model))
    model.get_layer("d").bias.assign([0.5, 0.0])
    assert "d/bias" in changed_weights(before, weight_snapshot(model))


def test_inference_output_is_numpy_in_inference_mode_and_keeps_a_dict_s_keys():
    inputs = keras.Input((3,))
    dense = keras.layers.Dense(2)
    logits = dense(keras.layers.Dropout(0.9)(inputs))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    kernel, bias = dense.get_weights()
    by_hand = x @ kernel + bias  # no dropout in inference mode

    out = inference_output(keras.Model(inputs, logits), x)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, by_hand, rtol=1e-5)
    both = inference_output(keras.Model(inputs, {"old": logits, "new": 2 * logits}), x)
    assert sorted(both) == ["new", "old"] and all(isinstance(v, np.ndarray) for v in both.values())
    np.testing.assert_allclose(both["new"], 2 * by_hand, rtol=1e-5)


def test_log_softmax_kl_and_cross_entropy_agree_with_tensorflow_and_keras():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 4)) * 30  # large logits: exp would overflow without the shift
    v = rng.normal(size=(5, 4))
    y = np.array([0, 3, 1, 2, 3])
    np.testing.assert_allclose(log_softmax(z, 4.0), tf.nn.log_softmax(z / 4.0).numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(log_softmax(z), tf.nn.log_softmax(z).numpy(), rtol=1e-9, atol=1e-12)
    keras_ce = np.mean(keras.losses.sparse_categorical_crossentropy(y, z.astype(np.float32), from_logits=True))
    assert hard_label_loss(y, z) == pytest.approx(float(keras_ce), rel=1e-5)
    p, q = tf.nn.softmax(v).numpy(), tf.nn.softmax(z / 30).numpy()
    keras_kl = keras.losses.KLDivergence()(p.astype(np.float32), q.astype(np.float32))
    assert kl_divergence(np.log(p), np.log(q)) == pytest.approx(float(keras_kl), rel=1e-4)
    assert kl_divergence(np.log(p), np.log(p)) == pytest.approx(0.0, abs=1e-12)


def test_distillation_oracle_matches_keras_and_its_mistakes_are_the_named_variants():
    rng = np.random.default_rng(1)
    y, t, a = rng.integers(0, 6, 8), 3.0, 0.25
    z, v = (rng.normal(size=(8, 6)) * 2).astype(np.float32), (rng.normal(size=(8, 6)) * 4).astype(np.float32)
    ce = float(np.mean(keras.losses.sparse_categorical_crossentropy(y, z, from_logits=True)))
    p, q = tf.nn.softmax(v / t), tf.nn.softmax(z / t)
    kl = float(keras.losses.KLDivergence()(p, q))

    right, mistakes = distillation_oracle(y, z, v, t, a)
    assert right == pytest.approx(a * ce + (1 - a) * t * t * kl, rel=1e-4)
    assert mistakes["the T^2 factor is missing"] == pytest.approx(a * ce + (1 - a) * kl, rel=1e-4)
    assert mistakes["alpha and 1 - alpha swapped"] == pytest.approx((1 - a) * ce + a * t * t * kl, rel=1e-4)
    assert mistakes["KL direction reversed (student first)"] == pytest.approx(
        a * ce + (1 - a) * t * t * float(keras.losses.KLDivergence()(q, p)), rel=1e-4)
    assert len(mistakes) == 8 and all(abs(m - right) > 1e-3 * abs(right) for m in mistakes.values())
    expect_close(right, right, "loss", rtol=1e-4, mistakes=mistakes, quiet=True)
    message = failure(expect_close, a * ce + (1 - a) * kl, right, "loss", rtol=1e-4, mistakes=mistakes)
    assert "typical mistake: the T^2 factor is missing" in message


def test_tiny_distillation_models_are_seeded_and_only_the_teacher_has_batch_norm_and_dropout():
    student, teacher = tiny_distillation_models(seed=3, num_classes=4)
    again, _ = tiny_distillation_models(seed=3, num_classes=4)
    assert all(np.array_equal(w, u) for w, u in zip(student.get_weights(), again.get_weights()))
    teacher_kinds = {type(layer).__name__ for layer in teacher.layers}
    assert {"BatchNormalization", "Dropout"} <= teacher_kinds and teacher.trainable_weights
    assert {type(layer).__name__ for layer in student.layers} == {"InputLayer", "Flatten", "Dense"}
    x = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    assert student(x).shape == (5, 4) and teacher(x).shape == (5, 4)
    assert not np.allclose(teacher(x, training=True), teacher(x, training=False))  # dropout and batch statistics


def own_softmax(z, t):
    return tf.nn.softmax(z / t)


def imported_inside(z, t):
    from course.training_checks import log_softmax
    return np.exp(log_softmax(z, t))


def through_a_global(z, t):
    return np.exp(imported_oracle(z, t))


def test_expect_no_oracle_refuses_a_solution_that_uses_the_tests_oracles():
    expect_no_oracle(own_softmax, "softmax_with_temperature")
    message = failure(expect_no_oracle, imported_inside, "softmax_with_temperature")
    assert message.startswith("\u2718 softmax_with_temperature\n")
    assert "your solution uses the course's own implementation (imported_inside imports course.training_checks)" \
        in message
    assert f"hint: {ORACLE_HINT}" in message
    assert "through_a_global uses 'imported_oracle' (course.training_checks.log_softmax)" in failure(
        expect_no_oracle, through_a_global, "softmax_with_temperature")
