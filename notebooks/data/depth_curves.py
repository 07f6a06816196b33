"""Precompute the plain-vs-residual training curves that notebook 04 shows in the demo profile.

    python notebooks/data/depth_curves.py            # writes notebooks/data/depth_curves.json

Trains plain-20, plain-56, ResNet-20 and ResNet-56 (course.models, He et al.'s
CIFAR design adapted to 28x28x1) on the same stratified Fashion-MNIST subset
with the same recipe (batch-norm momentum 0.9, so that the validation numbers
mean something after a short run), and records loss and accuracy per epoch. The notebook
runs the same function (`course.train.train_curves`) live in the full profile (more data and epochs).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = ("plain20", "plain56", "resnet20", "resnet56")
RECIPE = {"train_images": 5000, "validation_images": 1000, "epochs": 6, "batch_size": 128,
          "optimizer": "Adam", "batchnorm_momentum": 0.9, "learning_rate": 1e-3, "seed": 0}


def main() -> int:
    from course.runtime import provenance, start
    from course.train import train_curves

    start("grading", verbose=False)  # deterministic, CPU
    began = time.time()
    curves = train_curves(MODELS, **{k: v for k, v in RECIPE.items() if k not in ("optimizer", "batchnorm_momentum")},
                          verbose=0)
    record = {"recipe": RECIPE, "curves": curves,
              **provenance("python notebooks/data/depth_curves.py", began)}
    (HERE / "depth_curves.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'depth_curves.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
