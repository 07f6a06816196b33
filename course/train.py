"""Training helper for the notebooks: fit within the profile's budget, show progress, plot.

`fit` compiles a classifier with sensible defaults when the caller has not,
trains on ``tf.data`` pipelines for the profile's epochs, and stops early when
the profile's wall-clock budget is spent (so a grading run or a lecture cell
never overruns). The returned ``History`` also records the seconds taken and
whether the budget cut training short.

A model built inside ``course.runtime.strategy().scope()`` trains on every
device of that strategy: `compile_classifier` creates the optimizer, loss and
metrics under the model's own strategy (outside it TensorFlow refuses with
"Mixing different tf.distribute.Strategy objects"), and on more than one
replica `fit` synchronises batch normalization (`synchronize_batchnorm`).
"""
from __future__ import annotations

import time
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from course.runtime import Profile, current_profile


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of wall time have passed (checked after every batch)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.started = 0.0
        self.exhausted = False

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.started > self.seconds:
            self.exhausted = True
            self.model.stop_training = True


def compile_classifier(model: keras.Model, learning_rate: float = 1e-3, *, from_logits: bool = False,
                       decay_steps: int | None = None) -> keras.Model:
    """Adam + sparse categorical cross-entropy + accuracy: the course's one recipe.

    Args:
        model: a classifier ending in probabilities (softmax), or in logits with ``from_logits=True``.
        learning_rate: Adam's rate; with ``decay_steps`` its starting value.
        from_logits: whether the model's outputs are logits (the transfer-learning heads).
        decay_steps: if given, the rate falls to zero along a cosine over that many steps, so a
            short run ends on a settled model instead of wherever its last noisy steps left it.

    Compiling is also what makes new ``trainable`` flags take effect. The optimizer's
    variables are created under the strategy the model was built in (``model.distribute_strategy``).
    """
    with model.distribute_strategy.scope():
        if decay_steps is not None:
            learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
                      metrics=["accuracy"])
    return model


def fit(model: keras.Model, train_ds, val_ds=None, profile: Profile | str | None = None,
        epochs: int | None = None, learning_rate: float = 1e-3, time_budget_s: float | None = None,
        callbacks: list | tuple = (), verbose: int | str = "auto",
        sync_batchnorm: bool = True) -> keras.callbacks.History:
    """Train ``model`` on the pipelines within the profile's epochs and time budget.

    The model is compiled with `compile_classifier` unless it was compiled
    already (so transfer-learning code can pass its own optimizer and loss).
    A model built inside a multi-device strategy's scope trains on all its devices,
    each replica on its share of every batch, with batch norm synchronised
    (`synchronize_batchnorm`; ``sync_batchnorm=False`` leaves each replica's
    statistics its own, as Keras does, for comparison).
    """
    profile = profile if isinstance(profile, Profile) else current_profile(profile)
    epochs = profile.epochs if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if not getattr(model, "compiled", False) or model.optimizer is None:
        compile_classifier(model, learning_rate)
    if sync_batchnorm and model.distribute_strategy.num_replicas_in_sync > 1:
        synchronize_batchnorm(model)
    budget = TimeBudget(profile.time_budget_s if time_budget_s is None else time_budget_s)
    started = time.perf_counter()
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, shuffle=False,
                        callbacks=[budget, *callbacks], verbose=verbose)  # the pipeline shuffles
    history.seconds = time.perf_counter() - started
    history.budget_exhausted = budget.exhausted
    if budget.exhausted:
        print(f"stopped after {history.seconds:.1f} s: the {profile.name} profile's budget of "
              f"{budget.seconds:.0f} s was spent (use the full profile for longer training)")
    return history


def set_batchnorm_momentum(model: keras.Model, momentum: float = 0.9) -> keras.Model:
    """Make the BatchNormalization running averages of ``model`` (nested models too) follow faster.

    Keras's default momentum of 0.99 averages over about a hundred steps and
    starts from mean 0 and variance 1, so after the few hundred steps of a
    lecture or homework run the statistics used in inference mode still lag
    far behind: a deep net then scores near chance on its validation images
    while its training loss falls. 0.9 (Torch's default, which He et al.
    trained with) settles within a few dozen steps. Call it before compiling.
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1) (the share of the old average kept per step), got {momentum!r}")
    norms = batchnorm_layers(model)
    if not norms:
        raise ValueError(f"model {model.name!r} has no BatchNormalization layer: there is nothing to set")
    for layer in norms:
        layer.momentum = momentum
    return model


def synchronize_batchnorm(model: keras.Model) -> keras.Model:
    """Normalize with the mean and variance of the whole batch, over every replica (all-reduced).

    Data-parallel training gives each replica a share of the batch. Unsynchronised,
    each BatchNormalization layer normalizes with the statistics of its own share:
    a different (noisier) model from the one-device run, worse as shares shrink
    (a few images per GPU). Synchronised, two devices compute what one device
    computes, for one small all-reduce of per-channel sums per layer and step.
    Only training steps change; inference uses the running averages either way.
    Call it before the first training step (a traced train step keeps its old setting).
    """
    for layer in batchnorm_layers(model):
        layer.synchronized = True
    return model


def batchnorm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer of ``model``, inside nested models too."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += batchnorm_layers(layer)
        elif isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
    return found


def plot_history(history, title: str | None = None):
    """Loss and accuracy curves, training and validation, side by side; returns the figure."""
    import matplotlib.pyplot as plt

    logs = history.history if hasattr(history, "history") else dict(history)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + metric in logs:
                values = logs[prefix + metric]
                ax.plot(range(1, len(values) + 1), values, style, marker="o",
                        label="validation" if prefix else "training")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def train_curves(names: Sequence[str], train_images: int = 4000, validation_images: int = 1000, epochs: int = 6,
                 batch_size: int = 128, learning_rate: float = 1e-3, seed: int = 0, verbose="auto") -> dict:
    """Per-epoch training loss/accuracy and validation accuracy of each model: the same data, recipe and seed.

    What lecture 04 compares (plain against residual networks of the same depth),
    live in the full profile and precomputed by ``notebooks/data/depth_curves.py``.
    Batch norm's momentum is 0.9 (`set_batchnorm_momentum`), so that validation
    numbers mean something after a short run. On several GPUs each model trains on all of them.
    """
    from course import data, models
    from course.runtime import strategy, training_precision

    (x, y), _ = data.fashion_mnist()
    x, y = data.stratified_subset(x, y, train_images + validation_images, seed)
    train_ds = data.make_dataset(x[:train_images], y[:train_images], batch_size, training=True, seed=seed)
    val_ds = data.make_dataset(x[train_images:], y[train_images:], batch_size, training=False)
    curves = {}
    for name in names:
        keras.utils.set_random_seed(seed)
        with training_precision(), strategy().scope():  # mixed precision on tensor cores; every GPU there is
            model = set_batchnorm_momentum(models.build(name, input_shape=(28, 28, 1), num_classes=10))
        history = fit(model, train_ds, val_ds, epochs=epochs, learning_rate=learning_rate,
                            time_budget_s=float("inf"), verbose=verbose)
        curves[name] = {key: [float(v) for v in values] for key, values in history.history.items()}
        curves[name]["seconds"] = history.seconds
        print(f"{name}: final training loss {curves[name]['loss'][-1]:.3f}, "
              f"validation accuracy {curves[name]['val_accuracy'][-1]:.3f}, {history.seconds:.0f} s", flush=True)
    return curves


def predict(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Inference-mode outputs (logits or probabilities, float32) by direct calls in batches.

    No ``predict`` function to trace: cheap for the many small models a lecture builds.
    """
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)]).astype(np.float32)


def accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of inference-mode outputs (the argmax of logits and of probabilities is the same)."""
    return float(np.mean(np.argmax(predict(model, x), axis=1) == np.asarray(y)))


def fit_arrays(model: keras.Model, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int,
               seed: int = 0) -> None:
    """``epochs`` passes over (x, y), reshuffled each pass, as one long Keras epoch.

    One ``fit`` epoch over a repeated dataset does the same steps as ``fit(epochs=...)``
    without Keras' fixed cost per epoch, which dominates when an epoch is a few batches.
    """
    batches = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed).repeat(epochs).batch(batch_size)
    model.fit(batches, shuffle=False, verbose=0)
