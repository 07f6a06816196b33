# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # Assignment 6 — Transfer learning
#
# "You need a lot of data to train a CNN" — unless somebody already trained one on a related problem.
# This assignment follows the transfer-learning lectures: reuse a pretrained network as a **fixed feature
# extractor** (freeze it, train a new classifier on top), or **fine-tune** its top layers with a smaller
# learning rate (the lectures' tip: about 1/10 of the original rate for the top, 1/100 for intermediate
# layers), and compare both with training from scratch. You will fill the lectures' 2x2 table —
# *similar vs different data set* x *little vs a lot of data* — with accuracies you measure yourself,
# and finish with **learning without forgetting**: adding a task without destroying the old one.
#
# Pretrained ImageNet weights cannot be downloaded here, so the course ships its own source model,
# `fashion_source5`: a small CNN trained on five Fashion-MNIST classes only (T-shirt/top, Trouser,
# Pullover, Sandal, Sneaker). Our targets:
#
# * **similar data set**: the other five classes (Dress, Coat, Shirt, Bag, Ankle boot) — the same kind of
#   images, classes the source never saw, but each with a relative it did see (a coat or a shirt is
#   close to a pullover, an ankle boot to a sneaker);
# * **different data set**: scikit-learn's handwritten digits (8x8 scans, resized to 28x28);
# * **little data** = 50 labelled images (ten per class for the similar target); **a lot** = several
#   thousand (digits: all 1,297 we train on).
#
# | part | points |
# |---|---|
# | 1. feature extractor | 4 |
# | 2. unfreezing the top for fine-tuning | 5 |
# | 3. the 2x2 table (measured) | — |
# | 4. learning without forgetting: the two-head model | 3 |
# | 5. written questions | 7 |
#
# **Total: 19 points** (12 autograded, 7 written)

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

from course import data, pretrained
from course.grading import expect_close, expect_equal, expect_own_code, expect_shape, expect_true
from course.train import accuracy, compile_classifier
from course.training_checks import changed_weights, inference_output, weight_snapshot

tf.get_logger().setLevel("ERROR")  # no retracing notices on stderr: we build many small models on purpose
LEARNING_RATE = 3e-3  # the rate for new layers and from-scratch training; fine-tuning uses 1/10 and 1/100
BATCH_SIZE = 32  # for every training run of parts 3 and 4
SOURCE_CLASSES = list(pretrained.entry("fashion_source5").classes)  # what the source model was trained on
SIMILAR_CLASSES = [c for c in range(10) if c not in SOURCE_CLASSES]  # the similar target: the other five

# %% [markdown]
# ## The source model and the data
#
# `pretrained.load` rebuilds the architecture, checks the weight file's SHA-256 and loads the weights.
# Every call returns a **new, independent copy** — load a fresh one for each experiment, because
# fine-tuning changes the weights in place. Look at the layer names: the part up to `features` is what we
# reuse; `dropout` and `logits` are the old 5-class classifier.

# %%
source = pretrained.load("fashion_source5")
source.summary()

# %% nbgrader={"grade": false, "grade_id": "given_4", "locked": true, "schema_version": 3, "solution": false, "task": false}
(x_train_all, y_train_all), (x_test_all, y_test_all) = data.fashion_mnist()


def split(x, y, n_test, seed=0):
    """A fixed, stratified test set of ``n_test`` images and the rest for training."""
    test_idx, _ = data.stratified_subset(np.arange(len(y)), y, n_test, seed)  # indices of the test images
    train_mask = np.ones(len(y), bool)
    train_mask[test_idx] = False
    return (x[train_mask], y[train_mask]), (x[test_idx], y[test_idx])


N_TEST = 500 if profile.is_grading else None
x_old_test, y_old_test = data.fashion_classes(x_test_all, y_test_all, SOURCE_CLASSES)  # the source's own task
targets = {}
x_sim_train, y_sim_train = data.fashion_classes(x_train_all, y_train_all, SIMILAR_CLASSES)
x_sim_test, y_sim_test = data.fashion_classes(x_test_all, y_test_all, SIMILAR_CLASSES)
if N_TEST:
    x_sim_test, y_sim_test = data.stratified_subset(x_sim_test, y_sim_test, N_TEST, seed=0)
    x_old_test, y_old_test = data.stratified_subset(x_old_test, y_old_test, N_TEST, seed=0)
targets["similar"] = (x_sim_train, y_sim_train, x_sim_test, y_sim_test)
(x_dig_train, y_dig_train), (x_dig_test, y_dig_test) = split(*data.digits_28x28(), n_test=500)
targets["different"] = (x_dig_train, y_dig_train, x_dig_test, y_dig_test)
for name, (xa, ya, xt, yt) in targets.items():
    print(f"{name:9s}: {len(np.unique(ya))} classes, {len(ya):,} training images available, {len(yt):,} test images")

fig, axes = plt.subplots(3, 8, figsize=(9, 3.6))
for row, (title, images) in enumerate([("source: classes " + ", ".join(map(str, SOURCE_CLASSES)),
                                        x_train_all[np.isin(y_train_all, SOURCE_CLASSES)]),
                                       ("similar: classes " + ", ".join(map(str, SIMILAR_CLASSES)), x_sim_train),
                                       ("different: digits", x_dig_train)]):
    for col in range(8):
        axes[row, col].imshow(images[col * 97], cmap="gray")
        axes[row, col].set_axis_off()
    axes[row, 0].set_title(title, fontsize=9, loc="left")
fig.tight_layout()

# %% [markdown]
# ## 1. Feature extraction: a frozen base and a new head
#
# Build a model for a new task with `num_classes` classes:
#
# 1. `base = keras.Model(source.input, source.get_layer("features").output, name="base")` — the source up
#    to its `features` layer, reusing (not copying) its trained layers;
# 2. freeze it: `base.trainable = False`;
# 3. a new input `keras.Input((28, 28, 1))`, then `base(inputs, training=False)`, then a new
#    `keras.layers.Dense(num_classes, name="head")` producing **logits** (no softmax).
#
# The names `base` and `head` are part of the contract: the tests and part 2 look them up.
#
# **Batch norm and `training=False`, in Keras 3.** The Keras transfer-learning guide calls the base with
# `training=False` so that its batch-norm layers keep using the statistics of the source data. In Keras 3
# that recorded argument is *overridden* when `fit` runs the outer functional model with `training=True`
# (keras-team/keras issue #20285; measured below). What really keeps a batch-norm layer in inference
# mode in Keras 3 is `trainable = False` on that layer: a frozen `BatchNormalization` always normalises
# with its moving statistics and never updates them. A frozen base is therefore safe; part 2 must take
# care when it unfreezes layers.

# %% nbgrader={"grade": false, "grade_id": "feature_extractor", "locked": false, "schema_version": 3, "solution": true, "task": false}
def build_feature_extractor(source, num_classes):
    """A new classifier on top of ``source``'s frozen layers up to ``features``: layers named "base" and "head"."""
    ### BEGIN SOLUTION
    base = keras.Model(source.input, source.get_layer("features").output, name="base")
    base.trainable = False
    inputs = keras.Input((28, 28, 1), name="image")
    features = base(inputs, training=False)
    outputs = keras.layers.Dense(num_classes, name="head")(features)
    return keras.Model(inputs, outputs, name="feature_extractor")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_feature_extractor", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
expect_own_code(build_feature_extractor, "build_feature_extractor", ["course.transfer"],
                "course.transfer holds the lecture's own version, so calling it proves nothing: write yours")

def _check_feature_extractor(num_classes, n, seed, train=True):
    keras.utils.set_random_seed(seed)
    src = pretrained.load("fashion_source5")
    reference = pretrained.load("fashion_source5")  # an untouched copy: the oracle for the features
    x = data.normalise(x_sim_train[seed * 50: seed * 50 + n])
    y = np.arange(n) % num_classes
    model = build_feature_extractor(src, num_classes)
    expect_shape(inference_output(model, x), (n, num_classes), f"output for {n} images, {num_classes} classes",
                 hint="a Dense(num_classes) head on the features, no softmax")
    names = [layer.name for layer in model.layers]
    expect_true("base" in names and "head" in names, "layers named 'base' and 'head'",
                f"the model's layers are {names}", hint="keras.Model(..., name='base') and Dense(..., name='head')")
    base = model.get_layer("base")
    features = keras.Model(reference.input, reference.get_layer("features").output)
    expect_close(inference_output(base, x), inference_output(features, x),
                 "the base computes the source's `features` with the pretrained weights", rtol=1e-4, atol=1e-5,
                 hint="cut the source model at get_layer('features').output; do not rebuild or re-initialise it")
    trainable = sorted(w.path for w in model.trainable_weights)
    expect_equal(trainable, sorted(w.path for w in model.get_layer("head").weights),
                 "only the head's kernel and bias are trainable", hint="base.trainable = False")
    if not train:
        return
    before = weight_snapshot(base)
    head_before = weight_snapshot(model.get_layer("head"))
    compile_classifier(model, from_logits=True)
    model.run_eagerly = True  # a few steps: tracing a graph would cost more than running them
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    changed = changed_weights(before, weight_snapshot(base))
    expect_true(not changed, "the base is unchanged after fit (weights and batch-norm statistics)",
                f"these base weights changed: {changed}", hint="freeze the base: base.trainable = False")
    expect_true(bool(changed_weights(head_before, weight_snapshot(model.get_layer("head")))), "the head learns",
                "the head's weights did not change during fit", hint="the new Dense layer must be trainable")
    expect_close(model(x, training=True), model(x, training=False),
                 "same output in training and inference mode (frozen batch norm)", rtol=1e-4, atol=1e-5,
                 hint="a frozen base runs its batch norm in inference mode; add no dropout to the head")


_check_feature_extractor(num_classes=5, n=64, seed=0)
### BEGIN HIDDEN TESTS
_check_feature_extractor(num_classes=10, n=40, seed=3, train=False)
_check_feature_extractor(num_classes=2, n=24, seed=5, train=False)
### END HIDDEN TESTS

# %% [markdown]
# Measured: the Keras 3 pitfall. Below, a copy of the base is **unfrozen** and called with
# `training=False` inside a functional model; one `fit` step later its batch-norm moving means have moved,
# because `fit` passed `training=True` down through the graph. Only freezing the batch-norm layers
# themselves prevents it.

# %%
def bn_drift_after_fit(freeze_batch_norm):
    src = pretrained.load("fashion_source5")
    base = keras.Model(src.input, src.get_layer("features").output, name="base")
    for layer in base.layers:
        layer.trainable = freeze_batch_norm is False or not isinstance(layer, keras.layers.BatchNormalization)
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(5)(base(inputs, training=False)))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=True)  # one step: cheaper than tracing a graph
    before = keras.ops.convert_to_numpy(base.get_layer("bn1").moving_mean)
    model.fit(data.normalise(x_dig_train[:64]), y_dig_train[:64] % 5, epochs=1, verbose=0)
    return float(np.max(np.abs(keras.ops.convert_to_numpy(base.get_layer("bn1").moving_mean) - before)))


print(f"bn1 moving mean moved by {bn_drift_after_fit(False):.2e} with training=False only, "
      f"by {bn_drift_after_fit(True):.2e} with the batch-norm layers frozen")

# %% [markdown]
# ## 2. Fine-tuning: unfreeze the top, lower the learning rate, recompile
#
# After the head has been trained on frozen features, we may let the top of the base adapt too. Write
# `unfreeze_top(model, first_layer, learning_rate)` for a model built by part 1:
#
# * make the layers of `base` from `first_layer` (a layer name such as `"conv3"`) to the end trainable, and
#   keep every layer **before** it frozen;
# * keep every `BatchNormalization` layer frozen, even in the unfrozen part (inference mode, see above);
# * **recompile** the model — Keras collects the trainable variables when it builds the training function,
#   so a change of `trainable` has no effect on `fit` until `compile` is called again — with
#   `keras.optimizers.Adam(learning_rate)`, `SparseCategoricalCrossentropy(from_logits=True)` and the
#   `"accuracy"` metric. The caller passes the lower rate (e.g. `LEARNING_RATE / 10`).
#
# Hint: setting `base.trainable = True` first unfreezes every layer inside it; then refreeze what must stay.

# %% nbgrader={"grade": false, "grade_id": "unfreeze_top", "locked": false, "schema_version": 3, "solution": true, "task": false}
def unfreeze_top(model, first_layer, learning_rate):
    """Unfreeze ``base``'s layers from ``first_layer`` on (batch norm stays frozen) and recompile."""
    ### BEGIN SOLUTION
    base = model.get_layer("base")
    base.trainable = True
    names = [layer.name for layer in base.layers]
    start = names.index(first_layer)
    for i, layer in enumerate(base.layers):
        layer.trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_unfreeze_top", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
expect_own_code(unfreeze_top, "unfreeze_top", ["course.transfer"],
                "course.transfer holds the lecture's own version, so calling it proves nothing: write yours")

def _check_unfreeze(first_layer, lr, seed, n=48, train=True):
    """``train``: also check what the next fit changes (slower: two training functions are traced)."""
    keras.utils.set_random_seed(seed)
    model = build_feature_extractor(pretrained.load("fashion_source5"), 5)
    x = data.normalise(x_sim_train[100 + seed * 50: 100 + seed * 50 + n])
    y = y_sim_train[100 + seed * 50: 100 + seed * 50 + n]
    compile_classifier(model, from_logits=True)
    if train:
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # stage 1: the head (builds the training function)
    unfreeze_top(model, first_layer, lr)
    base = model.get_layer("base")
    names = [layer.name for layer in base.layers]
    start = names.index(first_layer)
    should_train = {layer.name for layer in base.layers[start:]
                    if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)}
    trains = {layer.name for layer in base.layers if layer.trainable_weights}
    expect_equal(sorted(trains), sorted(should_train), f"base layers with trainable weights after unfreeze_top(model, {first_layer!r})",
                 hint="layers before first_layer stay frozen; from first_layer on trainable, except batch norm")
    expect_true(model.optimizer is not None and np.isclose(float(model.optimizer.learning_rate), lr),
                "the model was recompiled with the lower learning rate",
                f"optimizer learning rate is {float(model.optimizer.learning_rate) if model.optimizer else None}, expected {lr}",
                hint="model.compile(optimizer=keras.optimizers.Adam(learning_rate), ...)")
    if not train:
        return
    before = weight_snapshot(base)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # stage 2: fine-tuning
    after = weight_snapshot(base)
    changed = set(changed_weights(before, after))
    moved_bn = sorted(k for k in changed if "moving" in k)
    expect_true(not moved_bn, "batch norm stays in inference mode during fine-tuning",
                f"batch-norm statistics changed: {moved_bn}", hint="keep the BatchNormalization layers frozen")
    frozen_changed = sorted(k for k in changed if k.split("/")[0] not in should_train)
    expect_true(not frozen_changed, "layers below first_layer are unchanged by fine-tuning",
                f"these changed: {frozen_changed}", hint="freeze every layer before first_layer")
    unchanged = sorted(name for name in should_train if not any(k.startswith(name + "/") for k in changed))
    expect_true(not unchanged, "the unfrozen layers learn during the next fit",
                f"these layers should have changed but did not: {unchanged}",
                hint="fit keeps the old training function until you call model.compile again after changing trainable")


_check_unfreeze("conv3", LEARNING_RATE / 10, seed=0)
### BEGIN HIDDEN TESTS
_check_unfreeze("conv2", LEARNING_RATE / 100, seed=1, train=False)
_check_unfreeze("features", 3e-4, seed=2, train=False)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. The 2x2 table, measured
#
# For each target (similar, different) and each amount of data (little, a lot) we compare, on the same
# images and the same total number of epochs $2E$:
#
# * **scratch**: the source's architecture with random weights, $2E$ epochs at the full learning rate
#   (`LEARNING_RATE`, also used for every new head);
# * **feature extraction**: the frozen base and a new head, $2E$ epochs;
# * **fine-tune top**: $E$ epochs of feature extraction, then `conv3` and `features` unfrozen for $E$ epochs
#   at 1/10 of the rate (the lectures' tip for the top layers);
# * **fine-tune deeper**: the same, but from `conv2` on and at 1/100 of the rate (the tip for
#   intermediate layers; Keras has one rate per optimizer, so the deeper run takes the cautious one).
#
# The grading profile only shows the mechanics on one cell (similar data, little data; few epochs, 500
# test images, no "fine-tune deeper"); the full profile measures all four cells (several minutes on a CPU).

# %% nbgrader={"grade": false, "grade_id": "given_14", "locked": true, "schema_version": 3, "solution": false, "task": false}
FINE_TUNING = {"feature extraction": (None, LEARNING_RATE),  # strategy -> (first unfrozen layer, rate)
               "fine-tune top": ("conv3", LEARNING_RATE / 10),
               "fine-tune deeper": ("conv2", LEARNING_RATE / 100)}


def run_cell(x_train, y_train, x_test, y_test, epochs, strategies, seed=0):
    """Test accuracy of each of ``strategies`` (scratch first) on one (target, size) cell of the table."""
    k = len(np.unique(y_train))
    results = {}
    keras.utils.set_random_seed(seed)
    # Batch-norm statistics must keep up within a few dozen steps: a faster moving average (momentum 0.9).
    scratch = pretrained.fashion_cnn_architecture(k, bn_momentum=0.9, name="scratch")
    compile_classifier(scratch, LEARNING_RATE, from_logits=True)
    scratch.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=2 * epochs, verbose=0)
    results["scratch"] = accuracy(scratch, x_test, y_test)

    keras.utils.set_random_seed(seed)
    stage1 = build_feature_extractor(pretrained.load("fashion_source5"), k)
    compile_classifier(stage1, LEARNING_RATE, from_logits=True)
    stage1.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)
    head = stage1.get_layer("head").get_weights()
    for strategy in strategies[1:]:
        first_layer, lr = FINE_TUNING[strategy]
        model = build_feature_extractor(pretrained.load("fashion_source5"), k)
        model.get_layer("head").set_weights(head)
        if first_layer is None:
            compile_classifier(model, lr, from_logits=True)
        else:
            unfreeze_top(model, first_layer, lr)
        keras.utils.set_random_seed(seed)
        model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)
        results[strategy] = accuracy(model, x_test, y_test)
    return results


# %% nbgrader={"grade": false, "grade_id": "given_15", "locked": true, "schema_version": 3, "solution": false, "task": false}
if profile.is_grading:
    budget = {"little": (100, 5), "a lot": (500, 2)}  # (training images, E)
    STRATEGIES = ("scratch", "feature extraction", "fine-tune top")
    CELLS = [("similar", "little")]
else:
    budget = {"little": (50, 40), "a lot": (5000, 5)}
    STRATEGIES = ("scratch", "feature extraction", "fine-tune top", "fine-tune deeper")
    CELLS = [(target, size) for target in targets for size in budget]

table = {}
started = time.perf_counter()
for target, size in CELLS:
    x_pool, y_pool, x_test_t, y_test_t = targets[target]
    n, epochs = budget[size]
    if n >= len(y_pool):  # "a lot" of digits: all of them (the classes are not exactly balanced)
        n, x_n, y_n = len(y_pool), x_pool, y_pool
    else:
        x_n, y_n = data.stratified_subset(x_pool, y_pool, n, seed=0)
    table[(target, size)] = run_cell(data.normalise(x_n), y_n, data.normalise(x_test_t), y_test_t, epochs,
                                     STRATEGIES)
    best = max(table[(target, size)], key=table[(target, size)].get)
    print(f"{target:9s} / {size:6s} ({n:5,} images, 2E={2 * epochs:2d} epochs): "
          + "  ".join(f"{s} {a:.3f}" for s, a in table[(target, size)].items()) + f"   -> best: {best}")
print(f"table measured in {time.perf_counter() - started:.0f} s")

# %%
fig, axes = plt.subplots(2, 2, figsize=(9, 5.5), sharey=True)
for i, size in enumerate(budget):
    for j, target in enumerate(targets):
        ax = axes[i, j]
        if (target, size) not in table:
            ax.text(0.5, 0.5, "measured in the full profile", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(f"{target} data set, {size} data", fontsize=9)
            continue
        accs = [table[(target, size)][s] for s in STRATEGIES]
        bars = ax.bar(range(len(STRATEGIES)), accs, color=["tab:gray", "tab:blue", "tab:orange", "tab:red"][:len(STRATEGIES)])
        for bar, a in zip(bars, accs):
            ax.text(bar.get_x() + bar.get_width() / 2, a + 0.01, f"{a:.2f}", ha="center", fontsize=8)
        ax.set_xticks(range(len(STRATEGIES)))
        ax.set_xticklabels([s.replace("feature extraction", "feat. extr.").replace("fine-tune", "FT") for s in STRATEGIES],
                           fontsize=8)
        ax.set_ylim(0, 1.1)
        ax.set_title(f"{target} data set, {size} data ({budget[size][0]:,} images)", fontsize=9)
axes[0, 0].set_ylabel("test accuracy")
axes[1, 0].set_ylabel("test accuracy")
fig.tight_layout()

# %% [markdown]
# ## 4. Learning without forgetting
#
# Fine-tuning adapts the shared layers to the new task — and the old task's classifier, which sits on
# those layers, silently degrades. Li and Hoiem's *learning without forgetting* (LwF) keeps both heads and
# adds a term that asks the **old** head to keep producing, on the *new* images, what the original network
# produced on them (recorded before training, compared at temperature $T$ as in distillation). It needs no
# old training data — unlike **joint training**, which trains on old and new data together and is the
# upper bound when the old data is still available.
#
# Write `build_two_head_model(source, num_new_classes)`:
#
# * a trunk `keras.Model(source.input, source.get_layer("features").output, name="trunk")`, **trainable**
#   (LwF adapts the shared layers) except its batch-norm layers, which stay frozen;
# * a new input, the trunk called on it, then two heads on the features: the source's own `logits` layer
#   (reuse `source.get_layer("logits")` itself, so the old classifier keeps its trained weights) and a new
#   `Dense(num_new_classes, name="new_head")`;
# * return `keras.Model(inputs, {"old": old_logits, "new": new_logits})`.

# %% nbgrader={"grade": false, "grade_id": "two_head_model", "locked": false, "schema_version": 3, "solution": true, "task": false}
def build_two_head_model(source, num_new_classes):
    """A shared, trainable trunk (batch norm frozen) with the source's old head and a new head."""
    ### BEGIN SOLUTION
    trunk = keras.Model(source.input, source.get_layer("features").output, name="trunk")
    for layer in trunk.layers:
        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    inputs = keras.Input((28, 28, 1), name="image")
    features = trunk(inputs, training=False)
    old = source.get_layer("logits")(features)
    new = keras.layers.Dense(num_new_classes, name="new_head")(features)
    return keras.Model(inputs, {"old": old, "new": new}, name="two_heads")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_two_head_model", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
expect_own_code(build_two_head_model, "build_two_head_model", ["course.transfer"],
                "course.transfer holds the lecture's own version, so calling it proves nothing: write yours")

def _check_two_heads(num_new, seed, n=32, train=True):
    keras.utils.set_random_seed(seed)
    model = build_two_head_model(pretrained.load("fashion_source5"), num_new)
    reference = pretrained.load("fashion_source5")
    x = data.normalise(x_dig_train[seed * 40: seed * 40 + n])
    out = inference_output(model, x)
    expect_true(isinstance(out, dict) and set(out) == {"old", "new"}, "outputs are a dict with keys 'old' and 'new'",
                f"got {type(out).__name__}" + (f" with keys {sorted(out)}" if isinstance(out, dict) else ""),
                hint="keras.Model(inputs, {'old': ..., 'new': ...})")
    expect_shape(out["new"], (n, num_new), "new head output", hint="Dense(num_new_classes) on the features")
    expect_close(out["old"], inference_output(reference, x), "the old head reproduces the source model's logits",
                 rtol=1e-4, atol=1e-4, hint="reuse source.get_layer('logits') on the trunk's features")
    trunk = next((layer for layer in model.layers if isinstance(layer, keras.Model)), None)
    expect_true(trunk is not None, "a trunk sub-model", "no sub-model found in the two-head model",
                hint="trunk = keras.Model(source.input, source.get_layer('features').output, name='trunk')")
    if not train:
        return
    before = weight_snapshot(trunk)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss={"old": keras.losses.MeanSquaredError(),
                        "new": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                  loss_weights={"old": 0.0, "new": 1.0}, run_eagerly=True)
    model.fit(x, {"old": out["old"], "new": y_dig_train[seed * 40: seed * 40 + n] % num_new},
              batch_size=16, epochs=1, verbose=0)
    changed = changed_weights(before, weight_snapshot(trunk))
    expect_true(any(k.startswith("conv1/") for k in changed) and any(k.startswith("features/") for k in changed),
                "the shared trunk learns from the new task", f"trunk weights that changed: {changed}",
                hint="the trunk must be trainable (except its batch-norm layers)")
    moved_bn = [k for k in changed if k.startswith("bn")]
    expect_true(not moved_bn, "the trunk's batch norm stays frozen", f"these changed: {moved_bn}",
                hint="set trainable = False on the BatchNormalization layers")


_check_two_heads(num_new=10, seed=0)
### BEGIN HIDDEN TESTS
_check_two_heads(num_new=3, seed=2, train=False)
### END HIDDEN TESTS

# %% [markdown]
# Now the comparison. The new task is the similar one (the other five classes, the "a lot" budget). Old-task
# accuracy is measured on the Fashion-MNIST test images of the source's five classes, with the old head.
#
# * **feature extraction**: the trunk is frozen, so the old task cannot change (by construction);
# * **fine-tuning**: both heads, but the old head's loss has weight 0 — the trunk drifts freely;
# * **LwF**: the old head's outputs on the new images are recorded first; training adds
#   $\lambda \cdot T^2\,\mathrm{KL}(\text{recorded}_T \,\|\, \text{old head}_T)$ with $\lambda = 1$, $T = 2$.
#
# The trunk is trained at the full rate here, so that forgetting shows within a few epochs.

# %%
def soft_target_loss(temperature):
    """T^2 * KL(softmax(recorded / T) || softmax(predicted / T)), a Keras loss on logits."""
    def loss(recorded_logits, predicted_logits):
        p = keras.ops.softmax(recorded_logits / temperature, axis=-1)
        log_p = keras.ops.log_softmax(recorded_logits / temperature, axis=-1)
        log_q = keras.ops.log_softmax(predicted_logits / temperature, axis=-1)
        return temperature ** 2 * keras.ops.sum(p * (log_p - log_q), axis=-1)
    return loss


def old_and_new_accuracy(model):
    """Accuracy of the old head on the old task and of the new head on the new task."""
    old_head, new_head = (keras.Model(model.input, model.output[key]) for key in ("old", "new"))
    return (accuracy(old_head, data.normalise(x_old_test), y_old_test),
            accuracy(new_head, data.normalise(x_sim_test), y_sim_test))


n_new, e_new = budget["a lot"]
x_new, y_new = data.stratified_subset(x_sim_train, y_sim_train, n_new, seed=1)
x_new = data.normalise(x_new)
forgetting = {}
for approach, old_weight in (("feature extraction", None), ("fine-tuning", 0.0), ("LwF", 1.0)):
    keras.utils.set_random_seed(0)
    model = build_two_head_model(pretrained.load("fashion_source5"), 5)
    if approach == "feature extraction":
        model.get_layer("trunk").trainable = False
    recorded = np.asarray(model(x_new, training=False)["old"])  # the old head's answers before any training
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                  loss={"old": soft_target_loss(2.0), "new": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                  loss_weights={"old": old_weight or 0.0, "new": 1.0})
    model.fit(x_new, {"old": recorded, "new": y_new}, batch_size=BATCH_SIZE,
              epochs=e_new if profile.is_grading else 2 * e_new, verbose=0)
    forgetting[approach] = old_and_new_accuracy(model)

source_old = accuracy(pretrained.load("fashion_source5"), data.normalise(x_old_test), y_old_test)
print(f"old task (the source's classes) before: {source_old:.3f}")
for approach, (old_acc, new_acc) in forgetting.items():
    print(f"{approach:18s}: old task {old_acc:.3f} ({old_acc - source_old:+.3f})   new task {new_acc:.3f}")

# %% [markdown]
# ## 5. Written questions

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_table", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# **Q1 (3 points).** Write your measured 2x2 table (best strategy and its accuracy in each cell, and the
# scratch baseline) next to the lectures' recommendations ("linear classifier on top layer", "fine-tune a
# few layers", "fine-tune a larger number of layers", "you're in trouble"). Where does your measurement
# agree, where not, and why? In which cell did transfer help most?
#
# ### BEGIN SOLUTION
# (Numbers from the run; ours, full profile on a CPU, one seed: similar/little (50 images) scratch 0.664,
# feature extraction 0.764, fine-tune top 0.774, fine-tune deeper 0.756; similar/a lot (5,000) scratch
# 0.907, feature extraction 0.830, fine-tune top 0.864; different/little (50 digits) scratch 0.694,
# feature extraction 0.536, fine-tune top 0.588; different/a lot (1,297) scratch 0.876, feature
# extraction 0.536, fine-tune top 0.620, fine-tune deeper 0.586.) Agreement: with little similar data,
# transfer wins clearly (+0.10 over scratch): the source has seen pullovers and sneakers, so its features
# already describe coats and ankle boots, and 50 labels are too few to learn such features from scratch.
# With more data, fine-tuning beats the frozen extractor in both rows, as the lectures say — the features
# must adapt. Different/little is the lectures' "you're in trouble": clothing features describe strokes
# poorly (0.54); features from an earlier layer would be the thing to try. Disagreement: with thousands
# of images, or with digits (an easy task for a from-scratch CNN), scratch wins here. A good answer
# explains why: our source is a three-layer CNN trained on 30,000 images of five classes, not an ImageNet
# network whose generic features took a million images to learn; with enough target data a small net
# learns its own features in a few epochs. Transfer helped most in the similar/little cell.
# ### END SOLUTION

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_finetune", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# **Q2 (2 points).** Why do we fine-tune with a smaller learning rate, and only after the new head has been
# trained on frozen features? Why must batch norm stay in inference mode, and what happens in Keras if
# you change `trainable` but do not recompile?
#
# ### BEGIN SOLUTION
# The pretrained weights are already good; large updates would destroy them before the new head is
# useful. A freshly initialised head produces large, random gradients; training it first on frozen
# features means that, when the base is unfrozen, the gradients reaching it are small and meaningful, and
# a small rate (1/10, 1/100) only nudges the features. Batch norm in training mode would normalise with the
# statistics of small target batches and overwrite the moving statistics learned on the source data, so
# the features the head was trained on would shift. Without recompiling, Keras keeps the training
# function (and the optimizer's variable list) built for the old trainable set: the newly unfrozen layers
# are not updated at all.
# ### END SOLUTION

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_lwf", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# **Q3 (2 points).** Report the old-task and new-task accuracies of feature extraction, fine-tuning and
# LwF. Which forgets, which does not, and what does each cost? When would you use joint training instead?
#
# ### BEGIN SOLUTION
# Feature extraction keeps the old task exactly (shared layers frozen) but its new-task accuracy is limited
# by fixed features. Fine-tuning reaches the best new-task accuracy but the old task drops clearly, because
# the old head sits on features that moved. LwF keeps the old task close to its original accuracy while
# reaching nearly the fine-tuning accuracy on the new task; it costs one extra forward pass to record the
# old outputs and a second loss term, and needs no old data. Joint training (old and new data together)
# is the best on both tasks but needs the old training data and retrains on all of it — use it when that
# data is available and training time is affordable.
# ### END SOLUTION
