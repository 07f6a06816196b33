"""The training helper: learns, respects the time budget, plots."""
import keras
import numpy as np
import pytest

from course import data, train
from course.runtime import current_profile


def small_cnn():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax"),
    ])


def test_fit_learns_within_budget_and_plots(fashion):
    keras.utils.set_random_seed(0)
    profile = current_profile("grading")
    train_ds, val_ds, test_ds = data.fashion_mnist_pipelines(profile)
    model = small_cnn()
    history = train.fit(model, train_ds, val_ds, profile=profile, verbose=0)
    accuracy = model.evaluate(test_ds, verbose=0)[1]
    assert accuracy > 0.6, "two epochs on 2,000 images should beat chance (0.1) by far"
    assert len(history.history["val_accuracy"]) == profile.epochs and not history.budget_exhausted
    fig = train.plot_history(history, "small CNN")
    assert len(fig.axes) == 2 and fig.axes[0].get_lines()


def test_time_budget_stops_training(fashion):
    train_ds, _, _ = data.fashion_mnist_pipelines("grading")
    history = train.fit(small_cnn(), train_ds, epochs=50, time_budget_s=0.5, profile="grading", verbose=0)
    assert history.budget_exhausted and len(history.history["loss"]) < 50


def test_a_compiled_model_keeps_its_own_settings(fashion):
    train_ds, _, _ = data.fashion_mnist_pipelines("grading")
    model = small_cnn()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    train.fit(model, train_ds.take(2), epochs=1, profile="grading", verbose=0)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert np.isfinite(model.evaluate(train_ds.take(1), verbose=0))


def test_batchnorm_momentum_sets_how_fast_running_averages_follow():
    inner = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(name="inner_bn")], name="inner")
    inputs = keras.Input((3,))
    outputs = inner(keras.layers.BatchNormalization(name="outer_bn")(inputs))
    model = train.set_batchnorm_momentum(keras.Model(inputs, outputs), 0.9)
    assert [model.get_layer("outer_bn").momentum, inner.get_layer("inner_bn").momentum] == [0.9, 0.9]
    # One training step: running mean = 0.9 * 0 + 0.1 * batch mean (by hand)
    x = np.array([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]], "float32")
    model(x, training=True)
    np.testing.assert_allclose(model.get_layer("outer_bn").moving_mean, 0.1 * x.mean(axis=0), rtol=1e-6)


@pytest.mark.parametrize("momentum, model, message", [
    (1.0, keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization()]), "must be in \\[0, 1\\)"),
    (0.9, keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="dense_only"),
     "'dense_only' has no BatchNormalization"),
])
def test_batchnorm_momentum_rejects_what_it_cannot_use(momentum, model, message):
    with pytest.raises(ValueError, match=message):
        train.set_batchnorm_momentum(model, momentum)
