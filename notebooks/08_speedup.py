# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # 8. Speed-up: 8-bit inference and mixed precision, measured on this machine
#
# *Lecture: "Can we speed up the inference?", "FP32 is not inevitable", and the
# "8-bit inference" table (TensorRT: AlexNet, GoogLeNet, VGG and ResNet-152 lose
# 0.1-0.6 points of top-1 accuracy in INT8 and run 3.0-3.7x faster).*
#
# A trained network's weights and activations do not need 32-bit floats: 256
# levels, well chosen, are nearly as good. TensorRT does this on NVIDIA GPUs;
# here we do the same with **TensorFlow Lite** on the CPU in front of us:
#
# 1. train the course's small CNN on Fashion-MNIST (within the profile's budget),
# 2. convert it to TensorFlow Lite in FP32 and in INT8 (post-training quantization with a representative dataset),
# 3. measure top-1 accuracy and latency side by side and fill in the slide's table with our numbers,
# 4. try mixed precision (16-bit arithmetic, 32-bit master weights) on this CPU.
# 5. train on two devices at once (data parallelism) and check that it computes the same model.

# %%
try:
    from course.runtime import start
except ModuleNotFoundError:  # a kernel whose Python lacks the course package
    raise ModuleNotFoundError(
        "This kernel's Python does not have the course package: choose Kernel > Change Kernel > "
        "'CNN course (.venv)' (bash scripts/setup.sh in the course folder adds it), "
        "or install the package into this Python with: pip install -e COURSE_FOLDER"
    ) from None

profile = start()

# %%
import contextlib
import io
import os
import time
import warnings

import ipywidgets as widgets
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf

from course import arith, data, distributed, pretrained, train
from course.quiet import native_logs_held_back
from course.runtime import dtype_policy, strategy, training_precision
from course.widgets import LiveFigure

tf.get_logger().setLevel("ERROR")  # the converter logs every temporary file it writes

try:  # the stand-alone TensorFlow Lite runtime; tf.lite.Interpreter is its deprecated twin
    from ai_edge_litert.interpreter import Interpreter
except ImportError:
    Interpreter = tf.lite.Interpreter

# %% [markdown]
# ## 8.1 The model: the course's CNN on Fashion-MNIST
#
# Three 3x3 conv blocks with batch normalization, global average pooling and
# two dense layers (`course.pretrained.fashion_cnn_architecture`). In the demo
# and grading profiles we quantize the **shipped course model** (trained on all
# 60,000 images by `scripts/train_pretrained.py`): a wall-clock budget of a few
# seconds on a busy laptop can leave a model barely trained, and quantizing an
# untrained model proves nothing. The full profile trains it here, with
# `course.train`, on the GPU if there is one.

# %%
train_ds, val_ds, test_ds = data.fashion_mnist_pipelines(profile)
x_test = np.concatenate([x for x, _ in test_ds])
y_test = np.concatenate([y for _, y in test_ds])
print(f"test images: {len(x_test)}, shape {x_test.shape[1:]}, values in [{x_test.min()}, {x_test.max()}]")


def train_course_model():
    with training_precision(), strategy().scope():  # mixed precision on tensor cores; every GPU there is (8.6)
        model = pretrained.fashion_cnn_architecture()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # the model outputs logits
    history = train.fit(model, train_ds, val_ds, profile=profile, verbose=0)
    print(f"trained {len(history.history['loss'])} epoch(s) in {history.seconds:.1f} s")
    train.plot_history(history, title="the course's CNN on Fashion-MNIST")
    plt.show()
    return model


model = None
if profile.name != "full":
    try:
        model = pretrained.load("fashion_cnn")
        card = pretrained.card("fashion_cnn")
        print(f"shipped course model: {card['parameters']:,} parameters, {card['recipe']['epochs']} epochs on "
              f"{card['train_images']:,} images, test accuracy {card['test_accuracy']:.2%} on "
              f"{card['test_images']:,} images (its card)")
    except pretrained.PretrainedError as reason:
        print(f"the shipped course model is not available ({str(reason).splitlines()[0]}); training one now")
if model is None:
    model = train_course_model()

# %% [markdown]
# For conversion we want a plain FP32 copy (if the model was trained in mixed
# precision on a GPU, its variables are FP32 already, only the arithmetic was 16-bit).

# %%
with dtype_policy("float32"):
    fp32_model = pretrained.fashion_cnn_architecture()
fp32_model.set_weights(model.get_weights())
keras_accuracy = float(np.mean(fp32_model.predict(x_test, batch_size=256, verbose=0).argmax(1) == y_test))
print(f"Keras FP32 top-1 accuracy on {len(y_test)} test images: {keras_accuracy:.2%}; "
      f"{fp32_model.count_params():,} parameters, {arith.model_macs(fp32_model) / 1e6:.1f}M multiply-adds per image")

# %% [markdown]
# ## 8.2 Convert: FP32 and INT8 TensorFlow Lite models
#
# Post-training quantization maps every tensor's real values r to 8-bit
# integers q with r ≈ scale · (q - zero_point). Weights are easy (their range
# is known). For activations the converter must *see* typical inputs: the
# **representative dataset**, a few hundred training images, fixes each
# tensor's range. This is what TensorRT calls calibration.

# %%
calibration_images = np.concatenate([x for x, _ in train_ds.take(4)])  # a few batches of training images


def convert(keras_model, int8=False, representative=None):
    """Keras model -> TensorFlow Lite flatbuffer (bytes); int8=True quantizes everything to 8 bits."""
    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for image in representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8  # integer in, integer out: no float anywhere
        converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), native_logs_held_back():
        warnings.simplefilter("ignore")  # the converter's chatter; the result is checked below
        return converter.convert()


t0 = time.perf_counter()
tflite_fp32 = convert(fp32_model)
t1 = time.perf_counter()
tflite_int8 = convert(fp32_model, int8=True, representative=calibration_images)
t2 = time.perf_counter()
print(f"FP32 model: {len(tflite_fp32) / 1024:7.1f} KiB (converted in {t1 - t0:.1f} s)")
print(f"INT8 model: {len(tflite_int8) / 1024:7.1f} KiB (converted in {t2 - t1:.1f} s, "
      f"{len(calibration_images)} calibration images) -> {len(tflite_fp32) / len(tflite_int8):.1f}x smaller")

# %% [markdown]
# ## 8.3 Run them: accuracy and latency
#
# Both models run in the same runtime (the TensorFlow Lite interpreter with its
# XNNPACK CPU kernels) with the same number of threads, so the comparison is
# FP32 arithmetic against INT8 arithmetic and nothing else. An INT8 model takes
# integer input: each image is quantized with the input tensor's scale and zero point.


# %%
class LiteModel:
    """A TensorFlow Lite model ready to classify float images, whatever its input type."""

    def __init__(self, flatbuffer: bytes, threads: int = os.cpu_count()):
        with native_logs_held_back():  # the runtime's start-up line on stderr
            self.interpreter = Interpreter(model_content=flatbuffer, num_threads=threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.batch = None

    def _feed(self, images):
        if self.batch != len(images):
            self.interpreter.resize_tensor_input(self.input["index"], (len(images), *images.shape[1:]))
            with native_logs_held_back():  # "Created TensorFlow Lite XNNPACK delegate for CPU"
                self.interpreter.allocate_tensors()
            self.batch = len(images)
        scale, zero_point = self.input["quantization"]
        if self.input["dtype"] != np.float32:
            info = np.iinfo(self.input["dtype"])
            images = np.clip(np.round(images / scale + zero_point), info.min, info.max)
        self.interpreter.set_tensor(self.input["index"], images.astype(self.input["dtype"]))

    def predict(self, images):
        self._feed(images)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])

    def latency_ms(self, image, runs=300):
        """Median milliseconds of one single-image inference, after a warm-up."""
        self._feed(image[None])
        for _ in range(20):
            self.interpreter.invoke()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            self.interpreter.invoke()
            times.append(time.perf_counter() - t0)
        return 1e3 * float(np.median(times))

    def throughput(self, images, repeats=3):
        """Images per second when classifying a whole batch (best of `repeats`)."""
        self.predict(images)  # warm-up and allocation
        best = min(_timed(lambda: self.predict(images)) for _ in range(repeats))
        return len(images) / best


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


lite = {"FP32": LiteModel(tflite_fp32), "INT8": LiteModel(tflite_int8)}
print("INT8 input: scale", lite["INT8"].input["quantization"][0], "zero point", lite["INT8"].input["quantization"][1],
      "-> pixel 0.0 is", int(np.round(0 / lite["INT8"].input["quantization"][0] + lite["INT8"].input["quantization"][1])),
      "and pixel 1.0 is", int(np.round(1 / lite["INT8"].input["quantization"][0] + lite["INT8"].input["quantization"][1])))

# %%
results = {}
batch = x_test[:256]
for name, m in lite.items():
    predictions = m.predict(x_test).argmax(axis=1)
    results[name] = {"top-1 accuracy": float(np.mean(predictions == y_test)),
                     "latency, 1 image (ms)": m.latency_ms(x_test[0]),
                     "throughput, batch 256 (images/s)": m.throughput(batch),
                     "model size (KiB)": len(tflite_fp32 if name == "FP32" else tflite_int8) / 1024}
agree = np.mean(lite["FP32"].predict(x_test).argmax(1) == lite["INT8"].predict(x_test).argmax(1))
measured = pd.DataFrame(results).T
print(f"Keras FP32 accuracy {keras_accuracy:.2%}; TFLite FP32 {results['FP32']['top-1 accuracy']:.2%} "
      f"(same model, same answers expected); INT8 agrees with FP32 on {agree:.2%} of the test images")
measured.round(4)

# %% [markdown]
# ### The slide's table, with our numbers
#
# Same columns as the lecture's "8-bit inference" table. Perf gain is measured
# throughput on a batch (as TensorRT reports it) and single-image latency.

# %%
slide = pd.DataFrame({
    "FP32 Top1": [57.22, 68.87, 68.56, 75.18], "INT8 Top1": [56.96, 68.49, 68.45, 74.56],
    "Perf Gain": [3.70, 3.01, 3.23, 3.42]}, index=["AlexNet", "GoogLeNet", "VGG", "ResNet-152"])
slide["Difference"] = slide["FP32 Top1"] - slide["INT8 Top1"]
ours = pd.DataFrame({
    "FP32 Top1": [100 * results["FP32"]["top-1 accuracy"]],
    "INT8 Top1": [100 * results["INT8"]["top-1 accuracy"]],
    "Perf Gain": [results["INT8"]["throughput, batch 256 (images/s)"]
                  / results["FP32"]["throughput, batch 256 (images/s)"]],
    "Perf Gain, 1 image": [results["FP32"]["latency, 1 image (ms)"] / results["INT8"]["latency, 1 image (ms)"]],
}, index=[f"course CNN, Fashion-MNIST ({len(y_test)} test images, this CPU)"])
ours["Difference"] = ours["FP32 Top1"] - ours["INT8 Top1"]
table = pd.concat([slide.assign(source="slide: TensorRT, ImageNet, GPU"),
                   ours.assign(source="measured here: TensorFlow Lite")])
table[["FP32 Top1", "INT8 Top1", "Difference", "Perf Gain", "Perf Gain, 1 image", "source"]].round(2)

# %%
fig, (ax_acc, ax_gain) = plt.subplots(1, 2, figsize=(11, 3.4))
labels = [name.split(" (")[0] for name in table.index]
colours = ["tab:gray"] * len(slide) + ["tab:orange"]
ax_acc.barh(labels, table["Difference"], color=colours)
ax_acc.set_xlabel("top-1 points lost in INT8 (lower is better)")
ax_gain.barh(labels, table["Perf Gain"], color=colours)
ax_gain.axvline(1, color="black", lw=0.8)
ax_gain.set_xlabel("INT8 speed-up over FP32 (x)")
for ax in (ax_acc, ax_gain):
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
ax_gain.set_yticks([])
fig.suptitle("grey: the slide (TensorRT on a GPU); orange: measured here (TensorFlow Lite on this CPU)")
plt.show()

# %% [markdown]
# **Question for the class:** our network needs a few million multiply-adds
# per image (printed in 8.1); AlexNet about 0.7 billion, VGG-16 over 15 billion.
# Where would you expect the INT8 speed-up to be larger, and why? (Hint: what
# else costs time besides the arithmetic?)
#
# Let us answer it by measurement: the same architecture made 2x and 4x wider
# (random weights: only the speed matters here; calibration on real images).
# Pick a width; both versions are converted and timed (a few seconds).

# %%
width_cache = {}


def speed_for_width(multiplier):
    if multiplier not in width_cache:
        wide = pretrained.fashion_cnn_architecture(widths=(16 * multiplier, 32 * multiplier, 64 * multiplier))
        pair = {"FP32": LiteModel(convert(wide)),
                "INT8": LiteModel(convert(wide, int8=True, representative=calibration_images[:64]))}
        width_cache[multiplier] = {"macs": arith.model_macs(wide),
                                   **{k: m.throughput(x_test[:256]) for k, m in pair.items()}}
    return width_cache[multiplier]


def draw_width(fig, multiplier):
    chosen = speed_for_width(multiplier)
    ax_bar, ax_gain = fig.subplots(1, 2)
    bars = ax_bar.bar(["FP32", "INT8"], [chosen["FP32"], chosen["INT8"]], color=["tab:blue", "tab:orange"])
    ax_bar.bar_label(bars, labels=[f"{chosen[k]:,.0f}/s" for k in ("FP32", "INT8")])
    ax_bar.set_ylabel("images per second (batch 256)")
    ax_bar.set_title(f"width x{multiplier}: {chosen['macs'] / 1e6:.1f}M multiply-adds per image")
    done = sorted(width_cache)
    gains = [width_cache[m]["INT8"] / width_cache[m]["FP32"] for m in done]
    ax_gain.plot([width_cache[m]["macs"] / 1e6 for m in done], gains, "o-", color="tab:orange")
    for m, gain in zip(done, gains):
        ax_gain.annotate(f"x{m}: {gain:.2f}x", (width_cache[m]["macs"] / 1e6, gain))
    ax_gain.axhline(1, color="black", lw=0.8)
    ax_gain.set_xscale("log")
    ax_gain.xaxis.set_minor_formatter(plt.NullFormatter())
    ax_gain.margins(x=0.3, y=0.2)
    ax_gain.set_xlabel("multiply-adds per image (M, log scale)")
    ax_gain.set_ylabel("INT8 speed-up (x)")
    ax_gain.set_title("widths measured so far")


width_cache[1] = {"macs": arith.model_macs(fp32_model),
                  **{k: results[k]["throughput, batch 256 (images/s)"] for k in ("FP32", "INT8")}}
LiveFigure(draw_width, {"multiplier": widgets.Dropdown(options=[1, 2, 4], value=4, description="width x")},
           figsize=(11, 3.4))

# %% [markdown]
# ## 8.4 Calibration matters
#
# The representative dataset sets every activation's range. Choose what the
# converter sees: real training images, random noise, or black images, and how
# many. The INT8 model's accuracy follows. (Each choice converts the model again:
# a few seconds.)

# %%
calibration_cache = {}


def calibrated_accuracy(source, count):
    if (source, count) not in calibration_cache:
        gen = np.random.default_rng(0)
        images = {"real training images": calibration_images[:count],
                  "uniform noise": gen.random((count, 28, 28, 1), dtype=np.float32),
                  "black images": np.zeros((count, 28, 28, 1), np.float32)}[source]
        m = LiteModel(convert(fp32_model, int8=True, representative=images))
        calibration_cache[source, count] = float(np.mean(m.predict(x_test).argmax(1) == y_test))
    return calibration_cache[source, count]


def draw_calibration(fig, source, count):
    accuracy = calibrated_accuracy(source, count)
    ax = fig.subplots()
    bars = ax.bar(["FP32", f"INT8\n({count} x {source})"], [results["FP32"]["top-1 accuracy"], accuracy],
                  color=["tab:blue", "tab:orange"])
    ax.bar_label(bars, labels=[f"{v:.1%}" for v in (results["FP32"]["top-1 accuracy"], accuracy)])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("top-1 accuracy")
    ax.set_title("INT8 accuracy depends on what the converter saw during calibration")


LiveFigure(draw_calibration, {
    "source": widgets.Dropdown(options=["real training images", "uniform noise", "black images"],
                               value="black images", description="calibrate on", style={"description_width": "initial"}),
    "count": widgets.Dropdown(options=[1, 10, 100], value=100, description="images"),
}, figsize=(6, 3.4))

# %% [markdown]
# ## 8.5 Mixed precision
#
# Mixed precision keeps the weights in FP32 but computes in 16 bits: float16
# (NVIDIA tensor cores) or bfloat16 (same exponent range as FP32, fewer
# mantissa bits; this CPU has bfloat16 matrix units if its flags list `amx_bf16`
# or `avx512_bf16`). On a GPU with tensor cores `start()` picks `mixed_float16` for
# the long training runs (models built inside `runtime.training_precision()`).
# Here we run the trained weights under each policy and measure.

# %%
flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
print("CPU 16-bit features:", ", ".join(f for f in ("avx512_bf16", "amx_bf16", "avx512_fp16", "f16c")
                                          if f" {f}" in flags) or "none found")
policies = ["float32", "mixed_bfloat16", "mixed_float16"]
subset = tf.constant(x_test[:512])  # float16 can be very slow on a CPU: keep the measurement short
timing_batch = tf.constant(x_test[:64])
mixed = {}
for policy in policies:
    with dtype_policy(policy):
        m = pretrained.fashion_cnn_architecture()
    m.set_weights(model.get_weights())
    predict = tf.function(lambda x, m=m: m(x, training=False))
    predictions = predict(subset).numpy().argmax(1)  # also traces and warms up
    seconds = min(_timed(lambda: predict(timing_batch).numpy()) for _ in range(3))
    mixed[policy] = {"compute dtype": m.get_layer("conv1").compute_dtype,
                     "variable dtype": m.get_layer("conv1").variable_dtype,
                     f"top-1 accuracy ({len(subset)} images)": float(np.mean(predictions == y_test[:len(subset)])),
                     "same answer as float32": float(np.mean(predictions == mixed["float32"]["predictions"]))
                     if policy != "float32" else 1.0,
                     "µs per image (batch 64)": 1e6 * seconds / len(timing_batch), "predictions": predictions}
mixed = pd.DataFrame(mixed).T.drop(columns="predictions").infer_objects()
mixed["speed-up vs float32"] = mixed.loc["float32", "µs per image (batch 64)"] / mixed["µs per image (batch 64)"]
mixed

# %%
fig, ax = plt.subplots(figsize=(7, 2.6))
names = ["Keras " + p for p in policies] + ["TFLite FP32", "TFLite INT8"]
per_image_us = [mixed.loc[p, "µs per image (batch 64)"] for p in policies] + [
    1e6 / results[k]["throughput, batch 256 (images/s)"] for k in ("FP32", "INT8")]
bars = ax.barh(names, per_image_us, color=["tab:blue", "tab:purple", "tab:red", "tab:gray", "tab:orange"])
ax.bar_label(bars, labels=[f"{v:,.0f} µs" for v in per_image_us], fontsize=8)
ax.set_xscale("log")
ax.set_xlabel("microseconds per image (log scale; Keras: batch 64, TFLite: batch 256; this CPU)")
ax.invert_yaxis()
ax.grid(axis="x", alpha=0.3)
plt.show()

# %% [markdown]
# **Take-away.** Calibrated on real data, INT8 costs a fraction of a point of
# accuracy (8.3) and shrinks the file about 3-4x. Its speed-up is not a
# constant: on a tiny network, the fixed costs (reading the input, quantizing
# it, pooling, the interpreter itself) dominate and INT8 barely helps; the more
# multiply-adds per image, the closer it gets to the slide's 3-4x (8.3, widths).
# 16-bit arithmetic pays only where the hardware computes in 16 bits natively
# (tensor cores, AMX) and the kernels use it; otherwise the conversions cost
# more than they save. Always measure on the machine you deploy to.

# %% [markdown]
# ## 8.6 Data parallelism: two devices, one model
#
# Another way to go faster is more hardware. In **data parallelism** every
# device holds a copy of the model and takes a share of each batch; the devices
# add up their gradients (an *all-reduce*) and all take the same step. Done
# right, N devices compute what one device computes on the whole batch, only
# sooner. "Done right" includes batch normalization: each device sees only its
# share, so unless the layers *synchronise* their mean and variance over all
# devices (`course.train.synchronize_batchnorm`, which `train.fit` applies on
# several devices), the two-device model is a different, noisier one.
#
# `start()` trains on every GPU when there are several (`course.runtime.strategy()`);
# `COURSE_DEVICES=cpu:2` splits a CPU into two logical devices, so we can try the
# idea on a laptop. Build the model inside the strategy's scope and train as usual:
#
# ```python
# with runtime.strategy().scope():
#     model = models.build("lenet5", input_shape=(28, 28, 1), num_classes=10)
# train.fit(model, train_ds, val_ds)   # each device takes half of every batch
# ```
#
# Below: a tiny CNN (conv, batch norm, dense) trained from one seed on the same
# batches, on one device and on two (a fresh Python with its CPU split in two),
# with batch norm synchronised and not. In the demo and grading profiles the
# numbers come from `notebooks/data/data_parallel.json` (written by
# `python notebooks/data/data_parallel.py`); the full profile measures them now.

# %%
if profile.name == "full":
    parallel = distributed.summarise(distributed.compare_devices(images=8192, epochs=3))
    print("measured now, on this machine")
else:
    record = data.lecture_record("data_parallel")
    parallel = record["runs"]
    print(f"measured by `{record['command']}` ({record['recipe']}) on {record['machine']}, "
          f"{record['wall_seconds']:.0f} s")
parallel = pd.DataFrame(parallel).T
parallel.style.format({"steps per second": "{:.1f}", "speed-up": "{:.2f}x", "final training loss": "{:.6f}",
                       "loss vs one device (relative)": "{:.1e}",
                       "weights vs one device (largest difference)": "{:.1e}"})

# %%
fig, (ax_speed, ax_apart) = plt.subplots(1, 2, figsize=(11, 3.0), layout="constrained")
colours = ["tab:blue", "tab:green", "tab:red"]
bars = ax_speed.barh(parallel.index, parallel["steps per second"], color=colours)
ax_speed.bar_label(bars, labels=[f"{v:.1f}/s" for v in parallel["steps per second"]], fontsize=8)
ax_speed.margins(x=0.15)
ax_speed.set_xlabel("training steps per second (same global batch)")
ax_speed.invert_yaxis()
ax_apart.barh(["two, synchronised", "two, not synchronised"], parallel["loss vs one device (relative)"].iloc[1:],
              color=colours[1:])
ax_apart.axvline(np.finfo(np.float32).eps, color="black", lw=0.8, ls="--")
ax_apart.annotate(" float32 round-off", (np.finfo(np.float32).eps, 0.5), fontsize=8)
ax_apart.set_xscale("log")
ax_apart.set_xlabel("training loss, relative difference from one device (log)")
ax_apart.invert_yaxis()
for ax in (ax_speed, ax_apart):
    ax.grid(axis="x", alpha=0.3)
plt.show()

# %% [markdown]
# With batch norm synchronised the two-device run agrees with the one-device run
# to float32 round-off (the sums are the same, added in another order); without
# it, each device normalises with the statistics of half a batch and the loss
# drifts orders of magnitude further. The same holds across machines:
# `course.distributed.run_local_workers` trains the model in two processes that
# talk over the network (`MultiWorkerMirroredStrategy`, here on 127.0.0.1).
#
# **Question for the class:** the two logical devices compute the same model,
# yet they are *slower* than one. Why is there no speed-up on this CPU, and what
# changes with two GPUs, or two machines? What does each step now cost besides
# the arithmetic, and how does that cost compare with the arithmetic as the
# batch (or the model) grows?
