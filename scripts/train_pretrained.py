"""Train the course's shipped models (course/pretrained.py) reproducibly on the CPU.

    .venv/bin/python scripts/train_pretrained.py                   # every shipped model
    .venv/bin/python scripts/train_pretrained.py --only fashion_cnn

For each model: seed everything, make TensorFlow's ops deterministic, train on
the Fashion-MNIST training images of the model's classes, print the accuracy on
the matching test images, and write into ``--out`` (default
``course/weights/``) the weights ``<name>.weights.h5``, a card ``<name>.json``
(accuracy, seed, data, recipe, command, time, checksum) and ``README.md``, a
table of all cards. Same seed and same TensorFlow build -> same weights. If the
checksum differs from the registry's, the script prints the lines to paste into
``REGISTRY`` in course/pretrained.py (load() refuses files it does not know).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from course import data, pretrained

# One recipe for every shipped model: a few epochs of Adam whose rate decays to zero along a cosine
# (without the decay the final weights land wherever the last noisy steps left them), no augmentation.
RECIPE = {"optimizer": "Adam", "learning_rate": 2e-3, "schedule": "cosine decay to 0", "batch_size": 128,
          "epochs": 5}


def class_subset(x, y, classes):
    """Images of ``classes`` only, labels renumbered 0..len(classes)-1 in the given order."""
    import numpy as np

    keep = np.isin(y, classes)
    lookup = np.full(256, -1, np.int64)
    lookup[list(classes)] = np.arange(len(classes))
    return x[keep], lookup[y[keep]]


def train(name: str, seed: int = 0, epochs: int | None = None, train_size: int | None = None,
          test_size: int | None = None, verbose: int = 2):
    """Train one shipped model from scratch; return the model and its card (a dict)."""
    import keras
    import tensorflow as tf

    spec = pretrained.entry(name)
    epochs = RECIPE["epochs"] if epochs is None else epochs
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    (x_train, y_train), (x_test, y_test) = data.fashion_mnist()
    x_train, y_train = class_subset(x_train, y_train, spec.classes)
    x_test, y_test = class_subset(x_test, y_test, spec.classes)
    if train_size:
        x_train, y_train = data.stratified_subset(x_train, y_train, train_size, seed)
    if test_size:
        x_test, y_test = data.stratified_subset(x_test, y_test, test_size, seed)
    train_ds = data.make_dataset(x_train, y_train, RECIPE["batch_size"], training=True, seed=seed)
    test_ds = data.make_dataset(x_test, y_test, 512, training=False)

    model = pretrained.build(name)
    steps = epochs * -(-len(y_train) // RECIPE["batch_size"])
    schedule = keras.optimizers.schedules.CosineDecay(RECIPE["learning_rate"], decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(train_ds, epochs=epochs, verbose=verbose, shuffle=False)  # the pipeline shuffles, seeded
    seconds = time.perf_counter() - started
    _, accuracy = model.evaluate(test_ds, verbose=0)
    card = {
        "name": name,
        "summary": spec.summary,
        "test_accuracy": round(float(accuracy), 4),
        "test_images": int(len(y_test)),
        "data": f"Fashion-MNIST (course.data.fashion_mnist), classes {list(spec.classes)} "
                f"({', '.join(data.CLASS_NAMES[c] for c in spec.classes)}), labels renumbered 0..{len(spec.classes) - 1}",
        "train_images": int(len(y_train)),
        "seed": seed,
        "recipe": dict(RECIPE, epochs=epochs, loss="sparse categorical cross-entropy on logits",
                       augmentation="none", deterministic_ops=True),
        "parameters": int(model.count_params()),
        "train_seconds": round(seconds, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU threads, TensorFlow {tf.__version__}, "
                   f"Keras {keras.__version__}",
        "command": "python " + " ".join(shlex.quote(a) for a in [pretrained.TRAIN_SCRIPT, *sys.argv[1:]]),
        "outputs": "logits (use from_logits=True, or keras.ops.softmax for probabilities)",
    }
    return model, card



def write(model, card: dict, out_dir: Path) -> Path:
    """Save the weights and the card; return the weight file's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{card['name']}.weights.h5"
    bare = pretrained.build(card["name"])  # uncompiled: the file holds no optimizer state
    bare.set_weights(model.get_weights())
    bare.save_weights(weights)
    card = dict(card, weight_file=weights.name, sha256=pretrained.sha256_of(weights),
                size_bytes=weights.stat().st_size)
    (out_dir / f"{card['name']}.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    write_readme(out_dir)
    return weights


def write_readme(out_dir: Path) -> None:
    """A markdown table of every card in ``out_dir``, so the accuracies are readable on GitHub."""
    rows = []
    for path in sorted(out_dir.glob("*.json")):
        c = json.loads(path.read_text(encoding="utf-8"))
        rows.append(f"| `{c['name']}` | {c['summary']} | {c['test_accuracy']:.4f} on {c['test_images']:,} "
                    f"test images | {c['parameters']:,} | {c['size_bytes'] / 1024:.0f} KiB | {c['seed']} | "
                    f"{c['recipe']['epochs']} epochs, {c['train_seconds']:.0f} s | `{c['command']}` |")
    text = ("# Shipped weights\n\nWritten by `scripts/train_pretrained.py`; load with "
            "`course.pretrained.load(name)` (checks the SHA-256 first). Details in each `<name>.json`.\n\n"
            "| model | what | test accuracy | parameters | file | seed | training (this machine) | command |\n"
            "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    (out_dir / "README.md").write_text(text, encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=pretrained.names(),
                        help="train only this model (repeatable); default: all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help=f"default {RECIPE['epochs']}")
    parser.add_argument("--train-size", type=int, help="train on a stratified subset (quick checks only)")
    parser.add_argument("--out", type=Path, default=pretrained.WEIGHTS_DIR)
    args = parser.parse_args(argv)
    stale = []
    for name in args.only or pretrained.names():
        print(f"== {name}: {pretrained.entry(name).summary}")
        model, card = train(name, args.seed, args.epochs, args.train_size)
        weights = write(model, card, args.out)
        sha = pretrained.sha256_of(weights)
        print(f"{name}: test accuracy {card['test_accuracy']:.4f} on {card['test_images']} images, "
              f"{card['train_seconds']:.0f} s, {weights.stat().st_size / 1024:.0f} KiB -> {weights}")
        if sha != pretrained.entry(name).sha256:
            stale.append(f'    "{name}": sha256="{sha}", test_accuracy={card["test_accuracy"]}')
    if stale:
        print("\nThe registry does not know these files yet; update REGISTRY in course/pretrained.py:\n"
              + "\n".join(stale))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
