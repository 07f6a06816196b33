"""Knowledge distillation (Hinton, Vinyals and Dean 2015): a small student learns from a teacher's soft targets.

The lecture's "learning approach 4": the student's targets are the output of a
bigger model *and* the task's labels. The teacher's logits, softened by a
temperature T, say which wrong classes are almost right (a shirt looks like a
T-shirt, not like a bag); a one-hot label cannot. This module holds the pieces
the lecture demo needs:

* `distillation_loss`: alpha * hard-label cross-entropy + (1 - alpha) * T^2 * KL(teacher_T || student_T);
* `Distiller`: a `keras.Model` whose ``train_step`` trains only the student on that loss;
* `compare_students`: the honest experiment, the same student trained alone and
  distilled from the same initial weights, on the same images and budget, over several seeds;
* `mlp_student`: the small fully connected students the comparisons use.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from course.train import accuracy, predict

# The lecture's setting (notebook 06 and assignment 07's full profile), which notebooks/data/distillation_search.py
# chose: a clear gain, every seed agreeing, a student with 20 times fewer multiply-adds than the teacher,
# and one seed in under ten CPU seconds.
LECTURE_SETTING = {"hidden_units": 128, "train_images": 500, "epochs": 60, "temperature": 4.0, "alpha": 0.1,
                   "batch_size": 64}


def distillation_loss(y_true, student_logits, teacher_logits, temperature: float, alpha: float) -> tf.Tensor:
    """``alpha * CE(y, softmax(z)) + (1 - alpha) * T^2 * KL(softmax(v/T) || softmax(z/T))``, batch means.

    The hard-label term stays at T = 1: it is the task's own loss. Both soft
    distributions use the same T. The T^2 factor keeps the soft term's gradient
    (which shrinks like 1/T^2) the same size for every T, so T and alpha can be
    tuned independently. Written with TensorFlow ops: it is differentiated in
    `Distiller.train_step`.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}; T = 1 is the ordinary softmax")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha weights the hard-label loss and must lie in [0, 1], got {alpha}")
    student_logits = tf.cast(student_logits, tf.float32)
    teacher_logits = tf.cast(teacher_logits, tf.float32)
    hard = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y_true, student_logits, from_logits=True))
    log_p = tf.nn.log_softmax(teacher_logits / temperature, axis=-1)
    log_q = tf.nn.log_softmax(student_logits / temperature, axis=-1)
    soft = tf.reduce_mean(tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1))
    return alpha * hard + (1.0 - alpha) * temperature ** 2 * soft


class Distiller(keras.Model):
    """Trains ``student`` on `distillation_loss` against ``teacher``; the teacher never changes.

    ``fit(x, y)`` runs the teacher on every batch in inference mode (its batch
    norm uses its running statistics, its dropout is off), outside the gradient
    tape, and updates only the student's variables. ``fit(x, (y, teacher_logits))``
    uses logits computed beforehand instead: without data augmentation the
    teacher's answer for an image never changes, so computing it once
    (`course.train.predict`) saves the teacher's forward pass in every epoch, most of
    the cost when the student is small. ``evaluate`` judges the student alone:
    hard-label cross-entropy and accuracy.
    """

    def __init__(self, student: keras.Model, teacher: keras.Model, temperature: float = 4.0,
                 alpha: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        distillation_loss(tf.constant([0]), tf.zeros((1, 2)), tf.zeros((1, 2)), temperature, alpha)  # validates
        self.student = student
        self.teacher = teacher
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def call(self, x, training=False):
        return self.student(x, training=training)

    def train_step(self, data):
        x, targets = data
        if isinstance(targets, (tuple, list)):
            y, teacher_logits = targets
        else:
            y, teacher_logits = targets, self.teacher(x, training=False)
        with tf.GradientTape() as tape:
            student_logits = self.student(x, training=True)
            loss = distillation_loss(y, student_logits, teacher_logits, self.temperature, self.alpha)
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._update_metrics(loss, y, student_logits)

    def test_step(self, data):
        x, targets = data
        y = targets[0] if isinstance(targets, (tuple, list)) else targets
        student_logits = self.student(x, training=False)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, student_logits, from_logits=True))
        return self._update_metrics(loss, y, student_logits)

    def _update_metrics(self, loss, y, student_logits):
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(y, student_logits)
        return {m.name: m.result() for m in self.metrics}


def mlp_student(hidden_units: int = 32, num_classes: int = 10, input_shape: tuple = (28, 28, 1)) -> keras.Model:
    """A small fully connected student: no convolutions, far fewer multiply-adds than the course's CNN."""
    if hidden_units < 1:
        raise ValueError(f"hidden_units must be at least 1, got {hidden_units}")
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits", dtype="float32")(x), name=f"mlp{hidden_units}")


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Test accuracies of the student alone and distilled, one entry per seed (same order as ``seeds``)."""

    seeds: tuple[int, ...]
    alone: tuple[float, ...]
    distilled: tuple[float, ...]

    @property
    def gain(self) -> np.ndarray:
        """Distilled minus alone, per seed (a paired difference: both started from the same weights)."""
        return np.array(self.distilled) - np.array(self.alone)

    def summary(self) -> str:
        alone, distilled = np.array(self.alone), np.array(self.distilled)
        return (f"alone {alone.mean():.3f} ± {alone.std():.3f}, distilled {distilled.mean():.3f} ± "
                f"{distilled.std():.3f}, gain {self.gain.mean():+.3f} (per seed {', '.join(f'{g:+.3f}' for g in self.gain)})")


def compare_students(build_student: Callable[[], keras.Model], teacher: keras.Model,
                     x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                     seeds: Sequence[int] = (0, 1, 2), epochs: int = 30, batch_size: int = 64,
                     temperature: float = 4.0, alpha: float = 0.1, learning_rate: float = 2e-3,
                     train_logits: np.ndarray | None = None) -> Comparison:
    """Train the same student alone and distilled, per seed, and return both test accuracies.

    For each seed both students start from the *same* initial weights and see
    the *same* images in the same order for the same epochs, with the same
    optimizer (Adam, learning rate decaying to 0 by a cosine, so the final
    accuracy is not the luck of the last noisy steps): the teacher's signal is
    the only difference. ``train_logits`` (the teacher's logits on ``x_train``)
    may be passed when several comparisons share them.
    """
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError(f"images and labels differ in number: train {len(x_train)} vs {len(y_train)}, "
                         f"test {len(x_test)} vs {len(y_test)}")
    if not seeds:
        raise ValueError("give at least one seed; three or more show the seed-to-seed spread")
    y_train = np.asarray(y_train, np.int64)
    if train_logits is None:
        train_logits = predict(teacher, x_train)
    steps = epochs * -(-len(y_train) // batch_size)

    def batches(targets):
        # All epochs in one pass of a seeded, reshuffled-per-epoch dataset: both students see the same
        # images in the same order, and one long `fit` epoch avoids Keras' per-epoch overhead.
        order = tf.data.Dataset.from_tensor_slices((x_train, targets)).shuffle(len(y_train), seed=0)
        return order.repeat(epochs).batch(batch_size)

    def optimizer():
        return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps))

    alone, distilled = [], []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        solo = build_student()
        twin = build_student()
        twin.set_weights(solo.get_weights())
        solo.compile(optimizer=optimizer(), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        solo.fit(batches(y_train), shuffle=False, verbose=0)
        distiller = Distiller(twin, teacher, temperature=temperature, alpha=alpha)
        distiller.compile(optimizer=optimizer())
        distiller.fit(batches((y_train, train_logits)), shuffle=False, verbose=0)
        alone.append(accuracy(solo, x_test, y_test))
        distilled.append(accuracy(twin, x_test, y_test))
    return Comparison(tuple(seeds), tuple(alone), tuple(distilled))
