"""Data-parallel training, measured: several devices in one process, several processes on one machine.

Data parallelism gives every device a copy of the model and a share of each
batch; the devices add up their gradients (an all-reduce) and take the same
step, so N devices compute what one device computes on the whole batch. This
module shows it on any laptop:

* `compare_devices` trains a tiny CNN on one device and on two logical CPU
  devices (a fresh Python started with ``COURSE_DEVICES=cpu:2``, since
  TensorFlow fixes its devices at start-up), with batch norm synchronised and
  not, and reports steps per second and how far the results are apart.
* `run_local_workers` starts worker processes on 127.0.0.1 that train together
  under ``MultiWorkerMirroredStrategy`` (each told the cluster by ``TF_CONFIG``),
  as machines on a network would. Keras 3's ``fit`` does not drive that strategy
  (TensorFlow 2.21, Keras 3.15: a model built and compiled in its scope stops in
  its first step with "ValueError: Attempt to convert a value (PerReplica:{...})
  with an unsupported type (...PerReplica) to a Tensor"), so the workers run a custom training loop:
  ``strategy.run`` of one replica's step, gradients all-reduced by the optimizer.

Run as ``python -m course.distributed devices|worker ARGS OUT`` it is the
child process of those two functions.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from course import data, runtime, train


def tiny_cnn() -> keras.Model:
    """Conv + batch norm + dense: the smallest network where batch statistics matter."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, use_bias=False), keras.layers.BatchNormalization(), keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax"),
    ], name="tiny_cnn")


def fashion_batches(images: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``images`` Fashion-MNIST training images (float32 in [0, 1], N x 28 x 28 x 1) and labels, stratified."""
    (x, y), _ = data.fashion_mnist()
    x, y = data.stratified_subset(x, y, images, seed)
    return data.normalise(x), y.astype(np.int64)


# --------------------------------------------------------------------------- several devices, one process

class EpochSeconds(keras.callbacks.Callback):
    """Wall time of each epoch (the first one also traces the training step)."""

    def __init__(self):
        super().__init__()
        self.seconds = []
        self.began = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.began = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.began)


def _train_tiny(strategy, x: np.ndarray, y: np.ndarray, global_batch: int, epochs: int, sync_batchnorm: bool,
                seed: int) -> dict:
    """The tiny CNN trained by `course.train.fit` under ``strategy``: losses, final weights, steps per second."""
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = tiny_cnn()
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch)  # the same batches for every run
    timer = EpochSeconds()
    history = train.fit(model, batches, epochs=epochs, learning_rate=1e-2, time_budget_s=float("inf"),
                        callbacks=[timer], verbose=0, sync_batchnorm=sync_batchnorm)
    return {"loss": history.history["loss"], "weights": [w.tolist() for w in model.get_weights()],
            "replicas": strategy.num_replicas_in_sync,
            "steps_per_second": math.ceil(len(y) / global_batch) / min(timer.seconds[1:] or timer.seconds)}


def _devices_main(images: int, global_batch: int, epochs: int, seed: int) -> dict:
    runtime.start("grading", seed=seed, verbose=False)  # COURSE_DEVICES=cpu:2: two logical CPU devices
    x, y = fashion_batches(images, seed)
    two = runtime.strategy()
    return {"one device": _train_tiny(tf.distribute.get_strategy(), x, y, global_batch, epochs, True, seed),
            "two devices": _train_tiny(two, x, y, global_batch, epochs, True, seed),
            "two devices, batch norm not synchronised": _train_tiny(two, x, y, global_batch, epochs, False, seed)}


def compare_devices(images: int = 1024, global_batch: int = 64, epochs: int = 2, seed: int = 0,
                    timeout_s: float = 300) -> dict:
    """Train the tiny CNN on one device and on two logical CPU devices, from one seed, on the same batches.

    Returns, per run ("one device", "two devices", "two devices, batch norm not
    synchronised"): the training loss of each epoch, the final weights (NumPy
    arrays), the number of replicas and steps per second (the fastest epoch after
    the first, which traces). Adam (`course.train.fit`'s recipe), learning rate 0.01.
    """
    args = {"images": images, "global_batch": global_batch, "epochs": epochs, "seed": seed}
    with tempfile.TemporaryDirectory(prefix="devices-") as scratch:
        [out] = _run_children(scratch, "devices", args, [{runtime.DEVICES_ENV: "cpu:2"}], timeout_s)
        runs = json.loads(out.read_text())
    for run in runs.values():
        run["weights"] = [np.asarray(w, np.float32) for w in run["weights"]]
    return runs


def agreement(a: dict, b: dict) -> dict:
    """How far two runs of `compare_devices` are apart: largest relative loss and absolute weight differences."""
    return {"loss, relative": max(abs(p - q) / abs(q) for p, q in zip(a["loss"], b["loss"])),
            "weights, absolute": max(float(np.max(np.abs(p - q))) for p, q in zip(a["weights"], b["weights"]))}


def summarise(runs: dict) -> dict:
    """One row per run of `compare_devices`: speed, final loss, and distance from the one-device run."""
    one = runs["one device"]
    rows = {}
    for name, run in runs.items():
        apart = agreement(run, one)
        rows[name] = {"replicas": run["replicas"], "steps per second": run["steps_per_second"],
                      "speed-up": run["steps_per_second"] / one["steps_per_second"],
                      "final training loss": run["loss"][-1],
                      "loss vs one device (relative)": apart["loss, relative"],
                      "weights vs one device (largest difference)": apart["weights, absolute"]}
    return rows


# --------------------------------------------------------------------------- several processes (workers)

def train_multiworker(steps: int, global_batch: int, learning_rate: float = 0.05, seed: int = 0) -> dict:
    """This worker's part of training the tiny CNN with SGD under ``MultiWorkerMirroredStrategy``.

    Call it in every worker process, each started with its ``TF_CONFIG``. Step s
    trains on images [s*B, (s+1)*B) of `fashion_batches` (B = ``global_batch``),
    worker i on its i-th share of them, batch norm synchronised over the workers.
    Returns the loss of every step (on the whole global batch, before the update)
    and the final weights. A custom loop, because Keras 3's ``model.fit`` fails
    under this strategy (see the module's docstring).
    """
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any op: it sets up this process's TensorFlow
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = train.synchronize_batchnorm(tiny_cnn())
        optimizer = keras.optimizers.SGD(learning_rate)
    per_image_loss = keras.losses.SparseCategoricalCrossentropy(reduction=None)
    x, y = fashion_batches(steps * global_batch, seed)

    def my_share(context: tf.distribute.InputContext):
        share = context.get_per_replica_batch_size(global_batch)
        rows = np.arange(len(y)).reshape(steps, context.num_input_pipelines, share)[:, context.input_pipeline_id]
        return tf.data.Dataset.from_tensor_slices((x[rows.ravel()], y[rows.ravel()])).batch(share)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(per_image_loss(labels, model(images, training=True)),
                                              global_batch_size=global_batch)  # this share's part of the mean
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    @tf.function
    def step(images, labels):
        return strategy.reduce("SUM", strategy.run(replica_step, args=(images, labels)), axis=None)

    losses = [float(step(*batch)) for batch in strategy.distribute_datasets_from_function(my_share)]
    return {"loss": losses, "weights": model.get_weights()}


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports on 127.0.0.1 that nothing listens on (all held open at once while chosen)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def run_local_workers(workers: int = 2, steps: int = 4, global_batch: int = 64, learning_rate: float = 0.05,
                      seed: int = 0, timeout_s: float = 120) -> list[dict]:
    """Train with `train_multiworker` in ``workers`` processes on 127.0.0.1; return each worker's result.

    The workers see no GPU: on one machine they would otherwise all take every GPU.
    """
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(workers)]}
    args = {"steps": steps, "global_batch": global_batch, "learning_rate": learning_rate, "seed": seed}
    envs = [{"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
             "CUDA_VISIBLE_DEVICES": ""} for i in range(workers)]
    with tempfile.TemporaryDirectory(prefix="workers-") as scratch:
        outputs = _run_children(scratch, "worker", args, envs, timeout_s)
        results = []
        for out in outputs:
            with np.load(out) as saved:
                results.append({"loss": saved["loss"].tolist(),
                                 "weights": [saved[f"w{i}"] for i in range(len(saved.files) - 1)]})
    return results


# --------------------------------------------------------------------------- child processes

def _run_children(scratch: str, command: str, args: dict, envs: list[dict], timeout_s: float) -> list[Path]:
    """Run ``python -m course.distributed COMMAND ARGS OUT`` once per env, all at once; return their OUT files.

    Each child's log goes to a file, not a pipe (a chatty child could fill a pipe
    while we wait on another). If one fails or overruns, all are stopped and its
    log ends the error message.
    """
    clean = {k: v for k, v in os.environ.items() if k not in (runtime.DEVICES_ENV, "TF_CONFIG")}
    clean.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    outputs = [Path(scratch, f"{command}{i}.out") for i in range(len(envs))]
    logs = [out.with_suffix(".log") for out in outputs]
    children = []
    for env, out, log in zip(envs, outputs, logs):
        with log.open("w") as sink:
            children.append(subprocess.Popen(
                [sys.executable, "-m", "course.distributed", command, json.dumps(args), str(out)],
                env={**clean, **env}, stdout=sink, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + timeout_s
    for child, log in zip(children, logs):
        try:
            failed = child.wait(timeout=max(0.0, deadline - time.monotonic())) != 0
        except subprocess.TimeoutExpired:
            failed = True
        if failed:
            for other in children:
                other.kill()
                other.wait()
            raise RuntimeError(f"course.distributed {command} did not finish within {timeout_s:.0f} s or failed "
                               f"(exit status {child.returncode}):\n{log.read_text()[-3000:]}")
    return outputs


def main(argv: list[str]) -> int:
    command, args, out = argv[0], json.loads(argv[1]), argv[2]
    if command == "devices":
        Path(out).write_text(json.dumps(_devices_main(**args)))
    else:
        result = train_multiworker(**args)
        with open(out, "wb") as sink:  # np.savez would add ".npz" to a name without it
            np.savez(sink, loss=np.asarray(result["loss"]), **{f"w{i}": w for i, w in enumerate(result["weights"])})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
