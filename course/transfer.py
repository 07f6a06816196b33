"""Transfer learning from the course's source model: feature extraction, fine-tuning, and the 2x2 table.

The lectures' recipe: train on a big data set, then for a new task either keep
the network as a fixed **feature extractor** and train a new classifier on top
(little data), or **fine-tune** its top layers at about 1/10 of the original
learning rate (more data). Which is best depends on two things, the lectures'
2x2 table: how similar the new data is to the source's, and how much of it
there is. The source here is `fashion_source5` (five Fashion-MNIST classes,
see `course.pretrained`); the targets are the other five classes (similar,
`SIMILAR_CLASSES`) and scikit-learn's digits (different).

Two Keras 3 facts shape the code:

* ``base(x, training=False)`` inside a functional model does **not** keep its
  batch norm in inference mode once ``fit`` runs the outer model with
  ``training=True``; a *frozen* ``BatchNormalization`` layer does. So every
  builder here freezes the batch-norm layers, also in the fine-tuned part.
* Changing ``trainable`` takes effect in ``fit`` only after ``compile``.

`measure_cell` runs the three strategies quickly enough for a lecture: frozen
layers are a fixed function, so their output is computed **once** and only the
layers that learn are run in every step (the same numbers as training the whole
model with those layers frozen, at a fraction of the cost).
"""
from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from course import pretrained
from course.train import accuracy, batchnorm_layers, compile_classifier, fit_arrays, predict

SOURCE = "fashion_source5"
SOURCE_CLASSES = pretrained.entry(SOURCE).classes  # the Fashion-MNIST classes the source was trained on
SIMILAR_CLASSES = tuple(c for c in range(10) if c not in SOURCE_CLASSES)  # the similar target: the other five
FEATURE_LAYER = "features"  # the source's layers up to here are reused; dropout and logits are the old classifier
TOP_LAYER = "conv3"         # fine-tuning unfreezes the layers from here to FEATURE_LAYER
STRATEGIES = ("from scratch", "feature extraction", "fine-tuning")


def freeze_batch_norm(model: keras.Model) -> None:
    """Freeze every BatchNormalization layer: in Keras 3 that is what keeps it in inference mode under ``fit``."""
    for layer in batchnorm_layers(model):
        layer.trainable = False


def base_of(source: keras.Model, name: str = "base") -> keras.Model:
    """The source up to its ``features`` layer, sharing (not copying) the trained layers."""
    return keras.Model(source.input, source.get_layer(FEATURE_LAYER).output, name=name)


def build_feature_extractor(source: keras.Model, num_classes: int) -> keras.Model:
    """A frozen ``base`` and a new trainable ``head`` (logits): the lectures' small-data recipe."""
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    base = base_of(source)
    base.trainable = False
    inputs = keras.Input(source.input_shape[1:], name="image")
    outputs = keras.layers.Dense(num_classes, name="head")(base(inputs, training=False))
    return keras.Model(inputs, outputs, name="feature_extractor")


def unfreeze_top(model: keras.Model, first_layer: str, learning_rate: float) -> keras.Model:
    """Make ``base``'s layers from ``first_layer`` on trainable (batch norm stays frozen) and recompile."""
    base = model.get_layer("base")
    names = [layer.name for layer in base.layers]
    if first_layer not in names:
        raise ValueError(f"the base has no layer {first_layer!r}; its layers are {names}")
    start = names.index(first_layer)
    base.trainable = True
    for i, layer in enumerate(base.layers):
        layer.trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
    return compile_classifier(model, learning_rate, from_logits=True)


def split(source: keras.Model, first_layer: str, num_classes: int) -> tuple[keras.Model, keras.Model]:
    """``(bottom, top)``: the source's layers before ``first_layer``, and those from it to ``features`` + a new head.

    ``top`` reuses the source's layer objects (so their trained weights), with
    its batch norm frozen and everything except the new ``head`` frozen too; call
    `set_top_trainable` to fine-tune. ``top(bottom(x))`` is the feature-extractor
    model's output. Requires a chain of layers, as the course's architecture is.
    """
    names = [layer.name for layer in source.layers]
    if first_layer not in names or names.index(first_layer) > names.index(FEATURE_LAYER):
        raise ValueError(f"first_layer must be one of the source's layers up to {FEATURE_LAYER!r}: "
                         f"{names[1:names.index(FEATURE_LAYER) + 1]}, got {first_layer!r}")
    start, stop = names.index(first_layer), names.index(FEATURE_LAYER)
    bottom = keras.Model(source.input, source.layers[start - 1].output, name="bottom")
    inputs = keras.Input(source.layers[start - 1].output.shape[1:], name="bottom_output")
    x = inputs
    for layer in source.layers[start:stop + 1]:
        layer.trainable = False
        x = layer(x)
    top = keras.Model(inputs, keras.layers.Dense(num_classes, name="head")(x), name="top")
    return bottom, top


def set_top_trainable(top: keras.Model, trainable: bool) -> None:
    """Unfreeze (or freeze) the reused layers of a `split` top; the head stays trainable, batch norm frozen."""
    for layer in top.layers:
        if layer.name != "head":
            layer.trainable = trainable and not isinstance(layer, keras.layers.BatchNormalization)


@dataclasses.dataclass(frozen=True)
class Budget:
    """One cell's training budget: E epochs; scratch and feature extraction get 2E, fine-tuning E + E."""

    epochs: int
    learning_rate: float = 3e-3   # new layers and from-scratch training
    fine_tune_factor: float = 0.1  # the lectures' tip: about 1/10 of the rate for the top layers
    batch_size: int = 32
    seed: int = 0


def measure_cell(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                 budget: Budget, strategies: tuple[str, ...] = STRATEGIES) -> dict[str, float]:
    """Test accuracy of each strategy on one cell of the 2x2 table (images normalised, labels 0..k-1).

    * from scratch: the source's architecture with random weights, 2E epochs;
    * feature extraction: frozen source up to ``features``, a new head, 2E epochs;
    * fine-tuning: the head after E epochs of feature extraction, then ``conv3`` to
      ``features`` unfrozen for E epochs at 1/10 of the rate (recompiled).
    Same images, same total number of epochs for all three; each run's rate
    decays along a cosine to zero by its last step.
    """
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; choose from {STRATEGIES}")
    num_classes = len(np.unique(y_train))
    batch_size = min(budget.batch_size, len(y_train))
    steps = -(-len(y_train) // batch_size) * budget.epochs  # steps in E epochs
    results = {}
    if "from scratch" in strategies:
        keras.utils.set_random_seed(budget.seed)
        # A faster batch-norm moving average: a few dozen steps must be enough for its statistics.
        scratch = pretrained.fashion_cnn_architecture(num_classes, bn_momentum=0.9, name="scratch")
        compile_classifier(scratch, budget.learning_rate, from_logits=True, decay_steps=2 * steps)
        fit_arrays(scratch, x_train, y_train, 2 * budget.epochs, batch_size, budget.seed)
        results["from scratch"] = accuracy(scratch, x_test, y_test)
    if {"feature extraction", "fine-tuning"} & set(strategies):
        keras.utils.set_random_seed(budget.seed)
        bottom, top = split(pretrained.load(SOURCE), TOP_LAYER, num_classes)
        h_train, h_test = predict(bottom, x_train), predict(bottom, x_test)  # the frozen part, run once
        compile_classifier(top, budget.learning_rate, from_logits=True, decay_steps=2 * steps)
        fit_arrays(top, h_train, y_train, budget.epochs, batch_size, budget.seed)
        head_after_e = top.get_layer("head").get_weights()
        fit_arrays(top, h_train, y_train, budget.epochs, batch_size, budget.seed)
        results["feature extraction"] = accuracy(top, h_test, y_test)
        if "fine-tuning" in strategies:
            top.get_layer("head").set_weights(head_after_e)  # the reused layers were frozen: still the source's
            set_top_trainable(top, True)
            compile_classifier(top, budget.learning_rate * budget.fine_tune_factor, from_logits=True,
                               decay_steps=steps)
            fit_arrays(top, h_train, y_train, budget.epochs, batch_size, budget.seed)
            results["fine-tuning"] = accuracy(top, h_test, y_test)
    return {s: results[s] for s in strategies}
