"""One training step of our ResNet-50 and DenseNet-121 against keras.applications', side by side.

Same batch (8 random 224x224 images), same optimizer and loss, same compile
settings. The steps of the two models are interleaved (ours, theirs, ours,
theirs...) so that a busy machine slows both alike; after warm-up steps the
median step time is printed with the ratio ours / keras (1.00 = as fast).

    .venv/bin/python bench/bench_models.py [--batch 8] [--repeats 10] [--warmup 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

from course import models

PAIRS = [  # our builder (with the options that make it the same network), keras.applications class
    ("resnet50", {"conv_bias": True}, "ResNet50"),
    ("densenet121", {}, "DenseNet121"),
]


def _step_timer(model: keras.Model, x, y):
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")

    def step() -> float:
        start = time.perf_counter()
        model.train_on_batch(x, y)
        return time.perf_counter() - start

    return step


def compare_pair(ours: keras.Model, theirs: keras.Model, x, y, warmup: int, repeats: int) -> tuple[float, float]:
    """Median seconds per training step of each model, measured alternately."""
    timers = [_step_timer(ours, x, y), _step_timer(theirs, x, y)]
    for _ in range(warmup):
        for step in timers:
            step()
    times = [[], []]
    for _ in range(repeats):
        for i, step in enumerate(timers):
            times[i].append(step())
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(args.batch, 224, 224, 3)).astype("float32")
    y = rng.integers(0, 1000, size=args.batch)
    print(f"training step, batch {args.batch} x 224x224x3, median of {args.repeats} after {args.warmup} warm-up")
    print(f"{'model':<14}{'ours (s)':>10}{'keras (s)':>11}{'ours/keras':>12}")
    for name, options, cls in PAIRS:
        keras.utils.set_random_seed(0)
        ours = models.build(name, **options)
        theirs = getattr(keras.applications, cls)(weights=None)
        if ours.count_params() != theirs.count_params():
            raise SystemExit(f"{name} and {cls} are not the same network: "
                             f"{ours.count_params():,} vs {theirs.count_params():,} parameters")
        t_ours, t_keras = compare_pair(ours, theirs, x, y, args.warmup, args.repeats)
        print(f"{name:<14}{t_ours:>10.3f}{t_keras:>11.3f}{t_ours / t_keras:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
