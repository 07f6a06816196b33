"""course.distill: the loss against a NumPy oracle, the Distiller's update against TensorFlow's gradient,
the teacher untouched, and compare_students' pairing (same start, same data)."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from course import distill, train  # noqa: E402


def _log_softmax(z, t=1.0):
    z = np.asarray(z, np.float64) / t
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def oracle_loss(y, z, v, t, a):
    """Independent NumPy: a * CE(y, z) + (1 - a) * T^2 * KL(softmax(v/T) || softmax(z/T)), batch means."""
    hard = -np.mean(_log_softmax(z)[np.arange(len(y)), y])
    log_p, log_q = _log_softmax(v, t), _log_softmax(z, t)
    kl = np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1))
    return a * hard + (1 - a) * t * t * kl, kl


@pytest.mark.parametrize("t, a, n, k", [(4.0, 0.1, 6, 10), (2.0, 0.5, 4, 5), (8.0, 0.0, 16, 10), (1.0, 1.0, 3, 3)])
def test_loss_matches_numpy_oracle_with_the_t_squared_factor(t, a, n, k):
    rng = np.random.default_rng(int(t * 10 + n))
    y = rng.integers(0, k, n)
    z = (rng.normal(size=(n, k)) * 2).astype(np.float32)
    v = (rng.normal(size=(n, k)) * 4).astype(np.float32)
    expected, kl = oracle_loss(y, z, v, t, a)
    got = float(distill.distillation_loss(tf.constant(y), z, v, t, a))
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-6)
    if a < 1 and t > 1:  # the factor is there: without it the value would differ by (1 - a)(T^2 - 1) KL
        assert abs(got - (expected - (1 - a) * (t * t - 1) * kl)) > 1e-3


def test_high_temperature_gradient_is_hintons_limit():
    """Hinton et al.: for large T and zero-mean logits, d(T^2 KL)/dz -> (z - v) / (N K) (batch mean)."""
    rng = np.random.default_rng(6)
    z = rng.normal(size=(4, 10)); z -= z.mean(axis=1, keepdims=True)
    v = rng.normal(size=(4, 10)); v -= v.mean(axis=1, keepdims=True)
    zv = tf.Variable(z.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = distill.distillation_loss(tf.constant([0, 1, 2, 3]), zv, v.astype(np.float32), 100.0, 0.0)
    np.testing.assert_allclose(tape.gradient(loss, zv), (z - v) / 40, rtol=0.05, atol=2e-4)


@pytest.mark.parametrize("t, a, message", [(0.0, 0.5, "temperature must be positive"), (2.0, 1.5, "alpha")])
def test_bad_hyperparameters_are_refused(t, a, message):
    with pytest.raises(ValueError, match=message):
        distill.distillation_loss(tf.constant([0]), tf.zeros((1, 2)), tf.zeros((1, 2)), t, a)
    with pytest.raises(ValueError, match=message):
        distill.Distiller(distill.mlp_student(4), distill.mlp_student(4), temperature=t, alpha=a)


def _tiny_pair(seed):
    """A trainable teacher with batch norm and dropout (so misuse shows) and a linear student."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(16)(keras.layers.Flatten()(inputs)))
    h = keras.layers.Dropout(0.5)(keras.layers.ReLU()(h))
    teacher = keras.Model(inputs, keras.layers.Dense(10)(h))
    inputs = keras.Input((28, 28, 1))
    student = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    return student, teacher


def _numpy_weights(model):
    return [keras.ops.convert_to_numpy(w) for w in model.weights]  # batch norm's moving statistics included


@pytest.fixture(scope="module")
def batch(fashion):
    (x, y), _ = fashion
    return (x[:32, ..., None] / 255.0).astype(np.float32), y[:32].astype(np.int64)


@pytest.mark.parametrize("cached", [False, True], ids=["teacher_run_per_batch", "cached_teacher_logits"])
def test_one_step_moves_only_the_student_by_the_oracle_gradient(batch, cached):
    x, y = batch
    t, a, lr = 4.0, 0.1, 0.1
    student, teacher = _tiny_pair(1)
    teacher_before, student_before = _numpy_weights(teacher), _numpy_weights(student)
    v = np.asarray(teacher(x, training=False), np.float64)
    with tf.GradientTape() as tape:  # the oracle's loss in float64, from the teacher's inference-mode logits
        z = tf.cast(student(x, training=True), tf.float64)
        hard = -tf.reduce_mean(tf.gather(tf.nn.log_softmax(z), y, batch_dims=1))
        lp, lq = tf.nn.log_softmax(v / t), tf.nn.log_softmax(z / t)
        loss = a * hard + (1 - a) * t * t * tf.reduce_mean(tf.reduce_sum(tf.exp(lp) * (lp - lq), axis=-1))
    grads = tape.gradient(loss, student.trainable_variables)

    distiller = distill.Distiller(student, teacher, temperature=t, alpha=a)
    distiller.compile(optimizer=keras.optimizers.SGD(lr))
    targets = (y, train.predict(teacher, x)) if cached else y
    history = distiller.fit(x, targets, batch_size=len(y), epochs=1, shuffle=False, verbose=0)

    for before, after in zip(teacher_before, _numpy_weights(teacher)):
        np.testing.assert_array_equal(before, after)  # no gradient, no moving-statistics update
    assert history.history["loss"][0] == pytest.approx(float(loss), rel=1e-4)
    for before, grad, after in zip(student_before, grads, _numpy_weights(student)):
        np.testing.assert_allclose(after, before - lr * np.asarray(grad), rtol=1e-4, atol=1e-6)


def test_teacher_receives_no_gradient(batch):
    x, y = batch
    student, teacher = _tiny_pair(2)
    distiller = distill.Distiller(student, teacher)
    seen = []

    class Recording(keras.optimizers.SGD):
        def apply_gradients(self, grads_and_vars):
            grads_and_vars = list(grads_and_vars)
            seen.extend(v.path for _, v in grads_and_vars)
            return super().apply_gradients(grads_and_vars)

    distiller.compile(optimizer=Recording(0.1), run_eagerly=True)
    distiller.fit(x, y, batch_size=len(y), epochs=1, verbose=0)
    assert sorted(seen) == sorted(v.path for v in student.trainable_variables)
    assert not {v.path for v in teacher.trainable_variables} & set(seen)


def test_evaluate_judges_the_student_alone(batch):
    x, y = batch
    student, teacher = _tiny_pair(3)
    distiller = distill.Distiller(student, teacher, temperature=2.0, alpha=0.3)
    distiller.compile(optimizer="sgd")
    logs = distiller.evaluate(x, y, batch_size=len(y), verbose=0, return_dict=True)
    z = np.asarray(student(x, training=False))
    assert logs["loss"] == pytest.approx(-np.mean(_log_softmax(z)[np.arange(len(y)), y]), rel=1e-4)
    assert logs["accuracy"] == pytest.approx(np.mean(z.argmax(1) == y))


@pytest.fixture(scope="module")
def small_task(fashion):
    from course import data, pretrained

    (x, y), (xt, yt) = fashion
    x, y = data.stratified_subset(x, y, 200, seed=0)
    xt, yt = data.stratified_subset(xt, yt, 300, seed=1)
    return pretrained.load("fashion_cnn"), data.normalise(x), y, data.normalise(xt), yt


@pytest.mark.slow
def test_compare_students_pairs_the_two_runs(small_task):
    """With alpha = 1 the distillation loss *is* the hard-label loss: paired runs must agree exactly."""
    teacher, x, y, xt, yt = small_task
    teacher_before = _numpy_weights(teacher)
    kwargs = dict(seeds=(0, 1), epochs=2, batch_size=50, temperature=4.0)
    same = distill.compare_students(lambda: distill.mlp_student(16), teacher, x, y, xt, yt, alpha=1.0, **kwargs)
    assert same.seeds == (0, 1) and len(same.alone) == 2
    assert same.alone == pytest.approx(same.distilled, abs=1e-9)
    assert all(0.3 < acc <= 1.0 for acc in same.alone)  # learned something: 10 classes, chance is 0.1
    soft = distill.compare_students(lambda: distill.mlp_student(16), teacher, x, y, xt, yt, alpha=0.1, **kwargs)
    assert soft.alone == pytest.approx(same.alone, abs=1e-9)  # the same students alone, run again
    assert soft.distilled != pytest.approx(soft.alone, abs=1e-9)  # the teacher's signal changes the result
    for before, after in zip(teacher_before, _numpy_weights(teacher)):
        np.testing.assert_array_equal(before, after)
    assert "gain" in soft.summary()


def test_compare_students_refuses_mismatched_data(small_task):
    teacher, x, y, xt, yt = small_task
    with pytest.raises(ValueError, match="differ in number"):
        distill.compare_students(distill.mlp_student, teacher, x, y[:-1], xt, yt)
    with pytest.raises(ValueError, match="at least one seed"):
        distill.compare_students(distill.mlp_student, teacher, x, y, xt, yt, seeds=())
