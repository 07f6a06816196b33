# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # Assignment 7 — Knowledge distillation
#
# A big network (or an ensemble) is accurate but slow; a small one is fast but less accurate.
# Hinton, Vinyals and Dean (2015) train the small network — the **student** — to imitate the big one —
# the **teacher** — instead of learning from the labels alone. The teacher's full output distribution,
# softened by a **temperature** $T$, tells the student far more than a one-hot label: which wrong
# classes are *almost* right. This is "learning approach 4" of the transfer-learning lecture (the target
# is the output of a deeper model *and* the task's ground truth).
#
# You will
#
# 1. write a softmax with temperature and look at the teacher's soft targets on real Fashion-MNIST images;
# 2. implement the distillation loss: soft targets at temperature $T$, the $T^2$ factor, blended with the
#    ordinary hard-label loss;
# 3. implement a `Distiller` (a `keras.Model` with its own `train_step` and `test_step`, Keras 3);
# 4. measure whether the distilled student beats the *same* student trained alone on the *same* budget.
#
# The teacher is the course's shipped model `fashion_cnn` (trained by `scripts/train_pretrained.py`,
# loaded offline and checked by checksum).
#
# | part | points |
# |---|---|
# | 1. softmax with temperature | 2 |
# | 2. distillation loss | 5 |
# | 3. the `Distiller` | 6 |
# | 4. written questions | 4 |
#
# **Total: 17 points** (13 autograded, 4 written)

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
try:
    from course.runtime import start
except ModuleNotFoundError:  # a kernel whose Python lacks the course package
    raise ModuleNotFoundError(
        "This kernel's Python does not have the course package: choose Kernel > Change Kernel > "
        "'CNN course (.venv)' (bash scripts/setup.sh in the course folder adds it), "
        "or install the package into this Python with: pip install -e COURSE_FOLDER"
    ) from None

profile = start()

import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from course import arith, data, pretrained
from course.grading import (expect_close, expect_own_code, expect_shape, expect_true, gradients, hidden_rng,
                            hidden_seed)
from course.training_checks import (changed_weights, distillation_oracle, expect_no_oracle, hard_label_loss,
                                    tiny_distillation_models, weight_snapshot)

tf.get_logger().setLevel("ERROR")  # no retracing notices on stderr: we build many small models on purpose

# %% [markdown]
# ## The teacher
#
# `pretrained.load` rebuilds the architecture, verifies the weight file's SHA-256 and loads it. The model
# outputs **logits** $z$ (no softmax), which is exactly what distillation needs.

# %% nbgrader={"grade": false, "grade_id": "given_3", "locked": true, "schema_version": 3, "solution": false, "task": false}
teacher = pretrained.load("fashion_cnn")
print(f"teacher: {teacher.count_params():,} parameters; documented test accuracy "
      f"{pretrained.entry('fashion_cnn').test_accuracy:.3f}")

(x_train_all, y_train_all), (x_test_all, y_test_all) = data.fashion_mnist()
x_test_u8, y_test = data.stratified_subset(x_test_all, y_test_all, profile.test_size or len(y_test_all), seed=1)
x_test = data.normalise(x_test_u8)
teacher_accuracy = float(np.mean(np.argmax(teacher.predict(x_test, verbose=0), axis=1) == y_test))
print(f"teacher accuracy on our {len(y_test):,} test images: {teacher_accuracy:.3f}")

# %% [markdown]
# ## 1. Softmax with temperature
#
# $$q_i = \frac{\exp(z_i / T)}{\sum_j \exp(z_j / T)}$$
#
# $T = 1$ is the ordinary softmax. A larger $T$ flattens the distribution, so the small probabilities the
# teacher gives to wrong classes become visible — Hinton calls them the "dark knowledge". Implement it for
# a batch of logits (last axis = classes), with TensorFlow or `keras.ops` so that gradients flow through it.
# Subtracting the row maximum before `exp` (or calling `tf.nn.softmax`) keeps it from overflowing.

# %% nbgrader={"grade": false, "grade_id": "softmax_t", "locked": false, "schema_version": 3, "solution": true, "task": false}
def softmax_with_temperature(logits, temperature):
    """Softmax of ``logits / temperature`` along the last axis, as a float32 tensor."""
    ### BEGIN SOLUTION
    logits = tf.convert_to_tensor(logits, tf.float32)
    return tf.nn.softmax(logits / temperature, axis=-1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_softmax_t", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
expect_own_code(softmax_with_temperature, "softmax_with_temperature", ["course.distill"],
                "course.distill holds the lecture's own version, so calling it proves nothing: write yours")
expect_no_oracle(softmax_with_temperature, "softmax_with_temperature")

def _softmax_oracle(z, t):
    z = np.asarray(z, np.float64) / t
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_z = np.array([[2.0, 1.0, 0.1], [0.0, -1.0, 3.0]], np.float32)
for _t in (1.0, 4.0):
    expect_close(softmax_with_temperature(_z, _t), _softmax_oracle(_z, _t), f"softmax at T={_t}",
                 rtol=1e-4, atol=1e-6,
                 mistakes={"temperature applied after the softmax (softmax(z) / T)": _softmax_oracle(_z, 1) / _t,
                           "logits multiplied by T instead of divided": _softmax_oracle(_z * _t * _t, _t),
                           "softmax over the batch axis": _softmax_oracle(_z.T, _t).T},
                 hint="divide the logits by T, then take the softmax over the last axis")
### BEGIN HIDDEN TESTS
_rng = hidden_rng(7)
_z = (_rng.normal(size=(5, 10)) * 20).astype(np.float32)
expect_close(softmax_with_temperature(_z, 1.0), _softmax_oracle(_z, 1.0), "softmax of large logits (T=1)",
             rtol=1e-4, atol=1e-6, hint="subtract the row maximum before exp, or use tf.nn.softmax")
_q = softmax_with_temperature(_z, 1e4)
expect_close(_q, np.full((5, 10), 0.1), "a very high temperature gives a uniform distribution", atol=1e-3)
expect_close(softmax_with_temperature(_z, 0.5), _softmax_oracle(_z, 0.5), "softmax at T=0.5", rtol=1e-4, atol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# The teacher's soft targets for a few test images, at three temperatures (log scale, so that the small
# probabilities show). At $T=1$ the teacher is nearly one-hot; at $T=4$ you can read which other classes
# it finds similar (shirt, T-shirt, pullover and coat are neighbours; so are sandal, sneaker and boot).

# %%
def plot_soft_targets(model, images, labels, temperatures=(1, 4, 10)):
    logits = model.predict(images, verbose=0)
    fig, axes = plt.subplots(len(images), len(temperatures) + 1, figsize=(11, 1.9 * len(images)))
    for row, (image, label, z) in enumerate(zip(images, labels, logits)):
        axes[row, 0].imshow(image[..., 0], cmap="gray")
        axes[row, 0].set_title(data.CLASS_NAMES[label], fontsize=9)
        axes[row, 0].set_axis_off()
        for col, t in enumerate(temperatures, start=1):
            ax = axes[row, col]
            ax.bar(range(10), np.asarray(softmax_with_temperature(z[None], t))[0], color="tab:blue")
            ax.set_yscale("log")
            ax.set_ylim(1e-6, 1.5)
            ax.set_xticks(range(10))
            ax.set_xticklabels([n.split("/")[0][:5] for n in data.CLASS_NAMES], rotation=90, fontsize=7)
            if row == 0:
                ax.set_title(f"T = {t}")
    fig.tight_layout()
    return fig


_examples = [int(np.flatnonzero(y_test == c)[0]) for c in (6, 0, 7)]  # a shirt, a T-shirt, a sneaker
plot_soft_targets(teacher, x_test[_examples], y_test[_examples]);

# %% [markdown]
# ## 2. The distillation loss
#
# With student logits $z$, teacher logits $v$, hard labels $y$, temperature $T$ and weight $\alpha$:
#
# $$\mathcal{L} = \alpha \, \underbrace{\mathrm{CE}\big(y, \mathrm{softmax}(z)\big)}_{\text{hard-label loss, at } T=1}
#   + (1-\alpha)\, T^2 \, \underbrace{\mathrm{KL}\big(\mathrm{softmax}(v/T) \,\|\, \mathrm{softmax}(z/T)\big)}_{\text{soft targets}}$$
#
# where $\mathrm{KL}(p\,\|\,q) = \sum_i p_i \log(p_i/q_i)$: the teacher's distribution $p$ comes first,
# the student's $q$ second (that is also the order of `keras.losses.KLDivergence()(p, q)`). Both
# distributions use the **same** temperature. Each term is the **mean over the batch**.
#
# Why $T^2$? The gradient of the soft term with respect to a student logit is
# $\frac{1}{T}(q_i - p_i)$ and $q_i - p_i$ itself shrinks like $1/T$ for large $T$; so without the factor
# the soft targets' gradients fade as $1/T^2$ and changing $T$ would silently change their weight against
# the hard-label term.
#
# Use TensorFlow / `keras.ops` (your function is differentiated inside `train_step`). Labels are integers.

# %% nbgrader={"grade": false, "grade_id": "distillation_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def distillation_loss(y_true, student_logits, teacher_logits, temperature, alpha):
    """alpha * hard-label cross-entropy + (1 - alpha) * T^2 * KL(teacher_T || student_T), batch means."""
    ### BEGIN SOLUTION
    student_logits = tf.convert_to_tensor(student_logits, tf.float32)
    teacher_logits = tf.convert_to_tensor(teacher_logits, tf.float32)
    hard = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y_true, student_logits, from_logits=True))
    p_teacher = tf.nn.softmax(teacher_logits / temperature, axis=-1)
    log_q_student = tf.nn.log_softmax(student_logits / temperature, axis=-1)
    log_p_teacher = tf.nn.log_softmax(teacher_logits / temperature, axis=-1)
    kl = tf.reduce_mean(tf.reduce_sum(p_teacher * (log_p_teacher - log_q_student), axis=-1))
    return alpha * hard + (1.0 - alpha) * temperature ** 2 * kl
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_distillation_loss", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
expect_own_code(distillation_loss, "distillation_loss", ["course.distill"],
                "course.distill holds the lecture's own version, so calling it proves nothing: write yours")
expect_no_oracle(distillation_loss, "distillation_loss")


def _check_distillation_loss(seed, n, k, t, a):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    z = (rng.normal(size=(n, k)) * 2).astype(np.float32)
    v = (rng.normal(size=(n, k)) * 4).astype(np.float32)
    right, mistakes = distillation_oracle(y, z, v, t, a)
    got = distillation_loss(tf.constant(y), tf.constant(z), tf.constant(v), t, a)
    expect_shape(got, (), f"loss shape (batch {n}, {k} classes)", hint="return the batch mean: a scalar", quiet=True)
    expect_close(got, right, f"distillation loss (T={t}, alpha={a}, batch {n}, {k} classes)", rtol=1e-4, atol=1e-5,
                 mistakes=mistakes, hint="alpha * CE(y, softmax(z)) + (1 - alpha) * T^2 * KL(softmax(v/T) || softmax(z/T))")


_check_distillation_loss(seed=0, n=6, k=10, t=4.0, a=0.1)
_check_distillation_loss(seed=1, n=4, k=5, t=2.0, a=0.5)

# The loss must be differentiable with respect to the student's logits (it is used inside train_step).
_z = tf.constant(np.random.default_rng(2).normal(size=(3, 10)).astype(np.float32))
_loss, (_g,) = gradients(distillation_loss, tf.constant([1, 2, 3]), _z, tf.zeros((3, 10)), 3.0, 0.2, wrt=[1])
expect_true(_g is not None and bool(np.all(np.isfinite(np.asarray(_g)))) and float(tf.reduce_sum(tf.abs(_g))) > 0,
            "gradient with respect to the student logits", "no (or no finite) gradient reaches the student's logits",
            hint="use TensorFlow / keras.ops operations only; no NumPy inside the loss")
### BEGIN HIDDEN TESTS
_check_distillation_loss(seed=hidden_seed(3), n=16, k=10, t=8.0, a=0.3)
_check_distillation_loss(seed=hidden_seed(4), n=1, k=3, t=1.0, a=0.7)
_check_distillation_loss(seed=hidden_seed(5), n=8, k=10, t=5.0, a=0.0)

# Hinton's high-temperature limit: with alpha = 0 and zero-mean logits, the gradient of T^2 * KL with
# respect to the student logits tends to (z - v) / (N * K) for a batch of N and K classes.
_rng = hidden_rng(6)
_zs = _rng.normal(size=(4, 10)); _zs -= _zs.mean(axis=1, keepdims=True)
_vs = _rng.normal(size=(4, 10)); _vs -= _vs.mean(axis=1, keepdims=True)
_loss, (_g,) = gradients(distillation_loss, tf.constant([0, 1, 2, 3]), tf.constant(_zs.astype(np.float32)),
                         tf.constant(_vs.astype(np.float32)), 100.0, 0.0, wrt=[1])
expect_close(_g, (_zs - _vs) / (4 * 10), "gradient at T=100, alpha=0 (the high-temperature limit)",
             rtol=0.05, atol=2e-4, hint="the T^2 factor keeps the soft-target gradient the same size for every T")
### END HIDDEN TESTS

# %% [markdown]
# ## 3. The `Distiller`
#
# A `keras.Model` that owns a student and a teacher and replaces what `fit` and `evaluate` do on each batch:
#
# * `train_step((x, y))`: run the teacher **in inference mode** (`training=False`: its batch norm uses the
#   running statistics, its dropout is off) — outside the gradient tape, it is only a target; run the
#   student in training mode inside a `tf.GradientTape`; compute `distillation_loss`; take the gradient
#   with respect to the **student's** trainable variables only and apply it with `self.optimizer`.
# * `test_step((x, y))`: judge the student alone — its hard-label cross-entropy (mean over the batch) —
#   in inference mode.
#
# The code around your part is given: it updates the loss and accuracy trackers from the variables
# `loss` and `student_logits` you define, and returns the logs Keras prints.

# %% nbgrader={"grade": false, "grade_id": "distiller", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Distiller(keras.Model):
    """Trains ``student`` to match ``teacher``'s soft targets and the labels; the teacher never changes."""

    def __init__(self, student, teacher, temperature=4.0, alpha=0.1, **kwargs):
        super().__init__(**kwargs)
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
        x, y = data
        ### BEGIN SOLUTION
        teacher_logits = self.teacher(x, training=False)
        with tf.GradientTape() as tape:
            student_logits = self.student(x, training=True)
            loss = distillation_loss(y, student_logits, teacher_logits, self.temperature, self.alpha)
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        ### END SOLUTION
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(y, student_logits)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        ### BEGIN SOLUTION
        student_logits = self.student(x, training=False)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, student_logits, from_logits=True))
        ### END SOLUTION
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(y, student_logits)
        return {m.name: m.result() for m in self.metrics}


# %% [markdown]
# The tests build a tiny teacher that is deliberately **trainable** and contains batch norm and dropout,
# so that training it, or running it in training mode, shows (`course/training_checks.py` holds it, with
# the tests' NumPy version of the distillation loss).

# %% nbgrader={"grade": true, "grade_id": "test_distiller", "locked": true, "points": 6, "schema_version": 3, "solution": false, "task": false}
for step in (Distiller.train_step, Distiller.test_step):
    expect_own_code(step, f"Distiller.{step.__name__}", ["course.distill"],
                    "course.distill holds the lecture's own version, so calling it proves nothing: write yours")
    expect_no_oracle(step, f"Distiller.{step.__name__}")


def _check_distiller(seed, n, t, a, lr=0.1):
    student_, teacher_ = tiny_distillation_models(seed)
    x = data.normalise(x_train_all[seed * 100: seed * 100 + n])
    y = y_train_all[seed * 100: seed * 100 + n].astype(np.int64)
    teacher_before, student_before = weight_snapshot(teacher_), weight_snapshot(student_)
    z = np.asarray(student_(x, training=False))
    v = np.asarray(teacher_(x, training=False))
    right, mistakes = distillation_oracle(y, z, v, t, a)
    # The oracle's gradient of the same loss, by TensorFlow, for the expected SGD step.
    with tf.GradientTape() as tape:
        zt = student_(x, training=True)
        lt = tf.nn.log_softmax(tf.cast(zt, tf.float64) / t)
        lp = tf.nn.log_softmax(tf.constant(v, tf.float64) / t)
        hard = -tf.reduce_mean(tf.gather(tf.nn.log_softmax(tf.cast(zt, tf.float64)), y, batch_dims=1))
        oracle = a * hard + (1 - a) * t * t * tf.reduce_mean(tf.reduce_sum(tf.exp(lp) * (lp - lt), axis=-1))
    grads = tape.gradient(oracle, student_.trainable_variables)

    distiller = Distiller(student_, teacher_, temperature=t, alpha=a)
    distiller.compile(optimizer=keras.optimizers.SGD(lr))
    history = distiller.fit(x, y, batch_size=n, epochs=1, shuffle=False, verbose=0)
    changed = changed_weights(teacher_before, weight_snapshot(teacher_))
    expect_true(not changed, "the teacher is unchanged after fit",
                f"{len(changed)} of the teacher's {len(teacher_before)} weight arrays changed "
                "(moving statistics change when the teacher runs with training=True; "
                "weights change when its variables get gradients)",
                hint="call the teacher with training=False and differentiate only self.student.trainable_variables")
    expect_true("loss" in history.history, "train_step logs", "train_step did not report 'loss'")
    expect_close(history.history["loss"][0], right, f"loss of the first training batch (T={t}, alpha={a})",
                 rtol=1e-3, atol=1e-4, mistakes=mistakes,
                 hint="teacher(x, training=False), student(x, training=True), distillation_loss(y, student, teacher, T, alpha)")
    student_after = weight_snapshot(student_)
    for var, g in zip(student_.trainable_variables, grads):
        expect_close(student_after[var.path], student_before[var.path] - lr * np.asarray(g),
                     f"student weight {var.path} after one SGD step", rtol=1e-3, atol=1e-5,
                     quiet=True, hint="apply self.optimizer to the gradient of the loss w.r.t. the student's variables")
    print("\u2714 one SGD step moved the student by -lr * gradient of the distillation loss")

    logs = distiller.evaluate(x, y, batch_size=n, verbose=0, return_dict=True)
    z_after = np.asarray(student_(x, training=False))
    expect_close(logs["loss"], hard_label_loss(y, z_after), "evaluate(): the student's hard-label loss", rtol=1e-3, atol=1e-4,
                 hint="test_step: student(x, training=False) and the mean sparse cross-entropy from logits")
    expect_close(logs["accuracy"], np.mean(np.argmax(z_after, 1) == y), "evaluate(): the student's accuracy", atol=1e-6)


_check_distiller(seed=1, n=32, t=4.0, a=0.1)
### BEGIN HIDDEN TESTS
_check_distiller(seed=2, n=20, t=2.0, a=0.6)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Does the teacher help? Distilled student vs the same student alone
#
# The student is a small fully connected network (one hidden layer of 128 units): no convolutions and
# about 20 times fewer multiply-adds per image than the teacher (both printed below). We train it twice
# from the *same* initial weights, on the *same* images, for the same number of epochs: once alone on the
# labels, once with the `Distiller`. The grading profile runs one seed for a few epochs; the full profile
# repeats it over three seeds, so that you can compare the difference with the seed-to-seed spread.
#
# Where should a teacher help? Not where the student's problem is capacity: with 10,000 labels a 32-unit
# student gained nothing from the teacher (0.837 alone, 0.835 distilled). The teacher was trained on all
# 60,000 images, so its soft targets carry most when the student sees **few labels**: here 500 images, for
# 60 epochs, so that the student alone overfits them. We use $T = 4$ and Hinton et al.'s small
# $\alpha = 0.1$ (most of the weight on the soft targets). The search behind this setting is
# `notebooks/data/distillation_search.py` in the course repository.

# %%
def build_student(num_classes=10):
    inputs = keras.Input((28, 28, 1), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(128, activation="relu", name="hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(x), name="student")


def compare(seed, x_train, y_train, epochs, temperature=4.0, alpha=0.1, batch_size=64):
    """Accuracy of the student trained alone and distilled, both from the same initial weights."""
    keras.utils.set_random_seed(seed)
    alone = build_student()
    distilled = build_student()
    distilled.set_weights(alone.get_weights())
    steps = epochs * -(-len(y_train) // batch_size)

    def optimizer():  # the rate decays to 0, so the final accuracy is not the luck of the last noisy steps
        return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps))

    alone.compile(optimizer=optimizer(), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    keras.utils.set_random_seed(seed)
    alone.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0)
    distiller = Distiller(distilled, teacher, temperature=temperature, alpha=alpha)
    distiller.compile(optimizer=optimizer())
    keras.utils.set_random_seed(seed)
    distiller.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0)
    return {"alone": float(alone.evaluate(x_test, y_test, verbose=0)[1]),
            "distilled": float(distiller.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"])}


seeds = [0] if profile.is_grading else [0, 1, 2]
train_size = 500  # few labels: where the teacher's soft targets add what the labels do not
epochs = 10 if profile.is_grading else 60
x_sub, y_sub = data.stratified_subset(x_train_all, y_train_all, train_size, seed=0)
x_sub = data.normalise(x_sub)
started = time.perf_counter()
results = [compare(seed, x_sub, y_sub.astype(np.int64), epochs) for seed in seeds]
print(f"{len(seeds)} seed(s), {train_size:,} training images, {epochs} epochs, {time.perf_counter() - started:.0f} s")
for label, model in (("student", build_student()), ("teacher", teacher)):
    print(f"  {label}: {model.count_params():7,} parameters, {arith.model_macs(model):10,} multiply-adds per image")
for seed, r in zip(seeds, results):
    print(f"  seed {seed}: alone {r['alone']:.3f}   distilled {r['distilled']:.3f}   "
          f"difference {r['distilled'] - r['alone']:+.3f}")
alone_acc = np.array([r["alone"] for r in results])
distilled_acc = np.array([r["distilled"] for r in results])
print(f"mean: alone {alone_acc.mean():.3f} ± {alone_acc.std():.3f}, distilled {distilled_acc.mean():.3f} "
      f"± {distilled_acc.std():.3f}, teacher {teacher_accuracy:.3f}")

fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(["student alone", "distilled student", "teacher"], [alone_acc.mean(), distilled_acc.mean(), teacher_accuracy],
       yerr=[alone_acc.std(), distilled_acc.std(), 0], color=["tab:gray", "tab:blue", "tab:green"], capsize=4)
ax.set_ylim(min(alone_acc.min(), distilled_acc.min()) - 0.05, 1.0)
ax.set_ylabel("test accuracy")
ax.set_title(f"{len(seeds)} seed(s), {train_size:,} images, {epochs} epochs")
fig.tight_layout()

# %% [markdown]
# ## 5. Written questions
#
# Answer in a few sentences each, using your own measurements.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_temperature", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# **Q1 (2 points).** Look at your soft-target plot. What does the teacher's output at $T=4$ tell the
# student about a shirt that the one-hot label "Shirt" does not? What would happen to the soft-target
# term if you raised $T$ but forgot the $T^2$ factor?
#
# ### BEGIN SOLUTION
# At $T=1$ the teacher is almost one-hot, so it says little more than the label. At $T=4$ the small
# probabilities become visible: a shirt gets noticeable mass on T-shirt/top, pullover and coat and almost
# none on sandal or bag. That is the teacher's knowledge of which classes look alike (its "dark
# knowledge"), many bits per example instead of one label, which regularises the student. The soft term's
# gradient scales like $1/T^2$; without the factor, raising $T$ would make the soft targets' influence
# fade relative to the hard-label term, so $T$ and $\alpha$ could no longer be tuned independently.
# ### END SOLUTION

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_comparison", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# **Q2 (2 points).** Report your comparison (accuracies of the student alone, the distilled student and the
# teacher, and the seed-to-seed spread if you ran several seeds). Is the difference larger than the
# spread? Why must the two students start from the same weights and see the same data and epochs? Why is
# the teacher run with `training=False`?
#
# ### BEGIN SOLUTION
# (Numbers depend on the run.) On the course's CPU (full profile, 3 seeds, 500 labelled images, 60 epochs,
# $T=4$, $\alpha=0.1$, 10,000 test images) we measured 0.782 ± 0.001 alone, 0.802 ± 0.001 distilled, teacher
# 0.897: a gain of +0.020 in every seed, twenty times the seed-to-seed spread. The teacher saw all 60,000
# images; with only 500 labels the student alone overfits them, and the soft targets tell it, for every
# image, which classes are close, a far richer signal than one label. (With 10,000 labels and a 32-unit
# student we measured no gain, 0.837 vs 0.835: a student limited by its capacity gains nothing from
# better targets.) A good answer reports its own numbers and compares the difference with the spread. Same
# initialisation, data and epochs make the teacher's signal the only difference, so the comparison
# measures distillation and not luck or extra training. The teacher is a fixed target: in
# inference mode its batch norm uses its running statistics and its dropout is off, so its targets are
# the ones it was evaluated with, deterministic, and its moving statistics are not overwritten by the
# student's batches.
# ### END SOLUTION
