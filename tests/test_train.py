"""The training helper: learns, respects the time budget, plots."""
import keras
import numpy as np

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
