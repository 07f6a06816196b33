"""Training on more than one device: the strategy `start()` picks, `fit` under it, and the same results.

TensorFlow fixes its devices when it first runs an op, and this pytest process
has one CPU device. The tests that need two logical CPU devices or two worker
processes therefore start fresh Pythons (`course.distributed` does it); the
rest run here, with a one-replica ``MirroredStrategy`` where a strategy other
than the default is enough.

Every run is deterministic (fixed seeds, fixed batches, the grading profile's
op determinism), so no check here fails correct work by chance. The
tolerances allow for float32 round-off only: two devices add up the same
gradient terms and batch-norm sums in a different order (relative error about
1e-7 per operation). Measured on this machine: the loss agrees to 1e-7 (two
devices) and 6e-7 (two workers), relative; the weights after 16 Adam steps to
1e-5 (Adam divides by the root of tiny second moments, which magnifies
round-off in near-zero gradients: 2e-3 after 96 steps), after 4 SGD steps to 2e-7. Batch norm left unsynchronised moves
the loss by about 1e-3 (relative), 100x beyond the tolerance, so the checks do
tell the two apart.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from course import distributed, runtime, train

from conftest import lecture_record

LOSS_RTOL = 1e-5
ADAM_WEIGHTS_ATOL = 1e-3
SGD_WEIGHTS_ATOL = 1e-5


@pytest.mark.parametrize("value, cpus", [(None, 1), ("", 1), ("auto", 1), ("cpu:1", 1), ("cpu:2", 2), ("cpu:8", 8)])
def test_course_devices_reads_cpu_n_and_auto(value, cpus):
    assert runtime.logical_cpus(value) == cpus


@pytest.mark.parametrize("value", ["cpu", "cpu:0", "cpu:two", "gpu:2", "2", "cpu:-1"])
def test_course_devices_names_the_accepted_forms_when_it_cannot_read_the_value(value):
    with pytest.raises(ValueError, match=rf"COURSE_DEVICES='{value}' is not understood: use cpu:N .* or auto"):
        runtime.logical_cpus(value)


def test_course_devices_set_after_tensorflow_started_says_restart_the_kernel(monkeypatch):
    tf.config.list_logical_devices("CPU")  # TensorFlow has set up its devices (one CPU) in this process
    monkeypatch.setenv(runtime.DEVICES_ENV, "cpu:2")
    with pytest.raises(RuntimeError, match="COURSE_DEVICES='cpu:2' must be set before TensorFlow starts: "
                                           "restart the kernel"):
        runtime.start("grading", verbose=False)
    monkeypatch.delenv(runtime.DEVICES_ENV)
    runtime.start("grading", verbose=False)
    assert len(tf.config.list_logical_devices("CPU")) == 1


def test_one_device_trains_under_the_default_strategy():
    runtime.start("grading", verbose=False)
    assert runtime.strategy() is tf.distribute.get_strategy() and runtime.strategy().num_replicas_in_sync == 1


def _trained_weights(strategy, x, y):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = distributed.tiny_cnn()
    train.fit(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(64), epochs=1, profile="grading", verbose=0)
    return model.get_weights()


def test_fit_trains_a_model_built_in_a_strategy_scope_as_one_device_does():
    x, y = distributed.fashion_batches(256)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0"])  # not the default strategy, one replica
    with mirrored.scope():
        model = distributed.tiny_cnn()
    # What fit did before: the optimizer made outside the model's strategy
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    with pytest.raises((RuntimeError, ValueError), match="Mixing different tf.distribute.Strategy objects"):
        model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    # The oracle: the same seed and batches under TensorFlow's default strategy
    for got, expected in zip(_trained_weights(mirrored, x, y), _trained_weights(tf.distribute.get_strategy(), x, y)):
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_synchronize_batchnorm_turns_on_every_layer_nested_too():
    inner = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(name="inner_bn")], name="inner")
    inputs = keras.Input((3,))
    model = keras.Model(inputs, inner(keras.layers.BatchNormalization(name="outer_bn")(inputs)))
    assert not any(layer.synchronized for layer in train.batchnorm_layers(model))
    train.synchronize_batchnorm(model)
    assert [model.get_layer("outer_bn").synchronized, inner.get_layer("inner_bn").synchronized] == [True, True]


@pytest.mark.slow
def test_two_logical_devices_train_what_one_device_trains():
    runs = distributed.compare_devices(images=512, global_batch=64, epochs=2)
    one, two, unsynced = runs["one device"], runs["two devices"], runs["two devices, batch norm not synchronised"]
    assert (one["replicas"], two["replicas"], unsynced["replicas"]) == (1, 2, 2)
    assert one["loss"][-1] < one["loss"][0] < np.log(10) + 0.1, "16 Adam steps start near chance and learn"
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=LOSS_RTOL)
    for got, expected in zip(two["weights"], one["weights"]):
        np.testing.assert_allclose(got, expected, atol=ADAM_WEIGHTS_ATOL)
    assert distributed.agreement(unsynced, one)["loss, relative"] > 10 * LOSS_RTOL, \
        "each replica normalising its own half-batch should be visibly a different model"
    assert all(run["steps_per_second"] > 0 for run in runs.values())


@pytest.mark.slow
def test_two_workers_on_loopback_train_what_one_process_trains():
    steps, global_batch, learning_rate = 4, 64, 0.05
    workers = distributed.run_local_workers(2, steps, global_batch, learning_rate, seed=0)
    for a, b in zip(workers[0]["weights"], workers[1]["weights"]):
        assert np.array_equal(a, b), "the workers must hold the same model after every step"
    # The oracle: plain Keras in this process, one device, the whole global batch per step
    keras.utils.set_random_seed(0)
    model = distributed.tiny_cnn()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="sparse_categorical_crossentropy")
    x, y = distributed.fashion_batches(steps * global_batch, seed=0)
    losses = [float(model.train_on_batch(x[i:i + global_batch], y[i:i + global_batch]))
              for i in range(0, len(y), global_batch)]
    np.testing.assert_allclose(workers[0]["loss"], losses, rtol=LOSS_RTOL)
    for got, expected in zip(workers[0]["weights"], model.get_weights()):
        np.testing.assert_allclose(got, expected, atol=SGD_WEIGHTS_ATOL)
    assert not np.allclose(model.get_weights()[0], _initial_conv_kernel()), "the steps moved the weights"


def _initial_conv_kernel():
    keras.utils.set_random_seed(0)
    return distributed.tiny_cnn().get_weights()[0]


def test_the_lecture_record_was_written_by_its_recipe_and_shows_the_claims():
    script, record = lecture_record("data_parallel")
    assert record["recipe"] == script.RECIPE, "data_parallel.json is stale: run python notebooks/data/data_parallel.py"
    runs = record["runs"]
    assert [run["replicas"] for run in runs.values()] == [1, 2, 2]
    assert runs["two devices"]["loss vs one device (relative)"] < LOSS_RTOL
    assert runs["two devices, batch norm not synchronised"]["loss vs one device (relative)"] > 10 * LOSS_RTOL


@pytest.mark.slow
def test_a_failing_child_process_is_reported_with_its_log():
    with pytest.raises(RuntimeError, match=r"(?s)course.distributed devices .*exit status 1.*n must be between 1 and"):
        distributed.compare_devices(images=0)
