"""Precompute the plain-vs-residual training curves that notebook 04 shows in the demo profile.

    python notebooks/data/depth_curves.py            # writes notebooks/data/depth_curves.json

Trains plain-20, plain-56, ResNet-20 and ResNet-56 (course.models, He et al.'s
CIFAR design adapted to 28x28x1) on the same stratified Fashion-MNIST subset
with the same recipe (batch-norm momentum 0.9, so that the validation numbers
mean something after a short run), and records loss and accuracy per epoch. The notebook
runs exactly this function live in the full profile (more data and epochs).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = ("plain20", "plain56", "resnet20", "resnet56")
RECIPE = {"train_images": 5000, "validation_images": 1000, "epochs": 6, "batch_size": 128,
          "optimizer": "Adam", "batchnorm_momentum": 0.9, "learning_rate": 1e-3, "seed": 0}


def train_curves(names=MODELS, train_images=4000, validation_images=1000, epochs=6, batch_size=128,
                 learning_rate=1e-3, seed=0, verbose=0) -> dict:
    """Per-epoch training loss/accuracy and validation accuracy of each model, same data and recipe."""
    import keras

    from course import data, models, train
    from course.runtime import training_precision

    (x, y), _ = data.fashion_mnist()
    x, y = data.stratified_subset(x, y, train_images + validation_images, seed)
    train_ds = data.make_dataset(x[:train_images], y[:train_images], batch_size, training=True, seed=seed)
    val_ds = data.make_dataset(x[train_images:], y[train_images:], batch_size, training=False)
    curves = {}
    for name in names:
        keras.utils.set_random_seed(seed)
        with training_precision():  # mixed precision on a GPU with tensor cores, float32 here
            model = train.set_batchnorm_momentum(models.build(name, input_shape=(28, 28, 1), num_classes=10))
        history = train.fit(model, train_ds, val_ds, epochs=epochs, learning_rate=learning_rate,
                            time_budget_s=float("inf"), verbose=verbose)
        curves[name] = {key: [float(v) for v in values] for key, values in history.history.items()}
        curves[name]["seconds"] = history.seconds
        print(f"{name}: final training loss {curves[name]['loss'][-1]:.3f}, "
              f"validation accuracy {curves[name]['val_accuracy'][-1]:.3f}, {history.seconds:.0f} s", flush=True)
    return curves


def main() -> int:
    from course.runtime import provenance, start

    start("grading", verbose=False)  # deterministic, CPU
    began = time.time()
    curves = train_curves(**{k: v for k, v in RECIPE.items() if k not in ("optimizer", "batchnorm_momentum")})
    record = {"recipe": RECIPE, "curves": curves,
              **provenance("python notebooks/data/depth_curves.py", began)}
    (HERE / "depth_curves.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'depth_curves.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
