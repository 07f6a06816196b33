"""The course's own pretrained models: small CNNs trained on Fashion-MNIST, shipped with checksums.

Pretrained ImageNet weights cannot be downloaded in class or by the grader, so
the course trains its own models with ``scripts/train_pretrained.py``
(reproducible from a seed, a few CPU minutes each) and ships the small weight
files in ``course/weights/`` beside a card (``<name>.json``) that records how
each was made. `load` rebuilds the architecture, checks the file's SHA-256
against the registry below and only then loads the weights, so a truncated,
edited or swapped file is refused with a message saying how to fix it.

Shipped models
--------------
``fashion_source5``  trained on five Fashion-MNIST classes only: 0, 1, 2, 5, 7
                     (T-shirt/top, Trouser, Pullover, Sandal, Sneaker). The
                     *source* model of the transfer-learning assignment: the
                     other five classes (Dress, Coat, Shirt, Bag, Ankle boot)
                     are a similar task it has never seen, scikit-learn's
                     digits a different one.
``fashion_cnn``      trained on all ten classes. The course's model: the teacher
                     in the distillation assignment and the network the
                     visualization and quantization demos look inside.

Two models rather than one: a source model that had already seen the target
classes would make the "similar data set" transfer experiment meaningless. The
source's classes are interleaved rather than 0-4 on purpose: "similar" must
mean that the source learned features the target needs. A source trained on
tops, trousers, dresses and coats has never seen a shoe, and on 0-4 -> 5-9 a
network trained from scratch beat every transfer strategy (measured, see
``assignments/06_transfer``); with a pullover and a sneaker among its classes,
the source knows what a coat and an ankle boot are made of.

Both share one architecture (`fashion_cnn_architecture`): three conv blocks
(conv -> batch norm -> ReLU, pooling between blocks), global average pooling, a
dense ``features`` layer, dropout and a ``logits`` layer. The models output
**logits** (no softmax): use ``from_logits=True`` losses, or
``keras.ops.softmax`` for probabilities. Every layer has an explicit name, so
``model.get_layer("features")`` or ``"conv3"`` work in notebooks.

Online, `imagenet_model` offers keras.applications' ImageNet weights as an
option; nothing in the course requires it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Callable

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
TRAIN_SCRIPT = "scripts/train_pretrained.py"


class PretrainedError(RuntimeError):
    """A shipped model is unknown, missing or corrupt; the message says how to fix it."""


def fashion_cnn_architecture(num_classes: int = 10, input_shape: tuple = (28, 28, 1),
                             widths: tuple[int, int, int] = (16, 32, 64), feature_units: int = 128,
                             dropout: float = 0.3, bn_momentum: float = 0.99, name: str = "fashion_cnn"):
    """The shipped models' architecture (functional API, every layer named).

    ``conv1..3`` (3x3, no bias: the batch norm after each has a shift) ->
    ``bn1..3`` -> ``relu1..3``, with ``pool1``/``pool2`` after the first two
    blocks; then ``gap`` (global average pooling), ``features`` (dense, ReLU),
    ``dropout`` and ``logits``. The layers up to ``features`` are the part a
    transfer-learning notebook reuses as a feature extractor. ``bn_momentum``
    is the batch-norm moving-average rate: a run of only a few dozen steps needs a
    lower one (e.g. 0.9), or its moving statistics are still near their initial values.
    """
    import keras
    from keras import layers

    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for i, width in enumerate(widths, start=1):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        if i < len(widths):
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(feature_units, activation="relu", name="features")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, name="logits", dtype="float32")(x)  # float32 even under mixed precision
    return keras.Model(inputs, outputs, name=name)


@dataclasses.dataclass(frozen=True)
class Shipped:
    """One registry entry: how to build the model and what its weight file must be."""

    builder: Callable[[], object]
    classes: tuple[int, ...]  # Fashion-MNIST classes it was trained on, in output order
    sha256: str               # of the weight file as shipped
    test_accuracy: float      # on the Fashion-MNIST test images of ``classes`` (see the card)
    summary: str

    def path(self, name: str) -> Path:
        return WEIGHTS_DIR / f"{name}.weights.h5"


# Checksums and accuracies are those printed by scripts/train_pretrained.py
# (and recorded in the card beside each weight file).
REGISTRY: dict[str, Shipped] = {
    "fashion_source5": Shipped(
        builder=lambda: fashion_cnn_architecture(5, name="fashion_source5"),
        classes=(0, 1, 2, 5, 7),
        sha256="d4b1f0186d4aa69ea20477b3a8ccc1966c27f55a6ba683c7d22820369d6d0859",
        test_accuracy=0.975,
        summary="source model for transfer learning: Fashion-MNIST classes 0, 1, 2, 5, 7 only"),
    "fashion_cnn": Shipped(
        builder=lambda: fashion_cnn_architecture(10, name="fashion_cnn"),
        classes=tuple(range(10)),
        sha256="1664098f6b37ba76e9291a54cd4479396bfcc8ddff181f9df7c4c53aa1196f50",
        test_accuracy=0.8972,
        summary="the course's model: all ten Fashion-MNIST classes (distillation teacher, demos)"),
}


def names() -> list[str]:
    return sorted(REGISTRY)


def entry(name: str) -> Shipped:
    if name not in REGISTRY:
        raise PretrainedError(f"no shipped model called {name!r}; choose one of {names()}")
    return REGISTRY[name]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _how_to_fix(name: str) -> str:
    return (f"Fix: restore the shipped file with `git checkout -- course/weights/{name}.weights.h5`, "
            f"or retrain it with `.venv/bin/python {TRAIN_SCRIPT} --only {name}` (a few CPU minutes; "
            f"then put the checksum it prints into REGISTRY in course/pretrained.py).")


def verify(name: str, path: Path | None = None) -> Path:
    """Check that the weight file exists and has the registry's SHA-256; return its path."""
    spec = entry(name)
    path = Path(path) if path is not None else spec.path(name)
    if not path.is_file():
        raise PretrainedError(f"the weight file of {name!r} is missing: {path}\n{_how_to_fix(name)}")
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise PretrainedError(
            f"the weight file of {name!r} is corrupt or not the shipped one: {path}\n"
            f"  SHA-256 expected {spec.sha256}\n  SHA-256 found    {actual}\n{_how_to_fix(name)}")
    return path


def build(name: str):
    """The model's architecture with fresh random weights (e.g. a from-scratch baseline)."""
    return entry(name).builder()


def load(name: str, path: str | Path | None = None):
    """A new Keras model with the shipped weights, after checking the file's checksum.

    Each call returns an independent model, so fine-tuning one copy never
    changes another. ``path`` loads a copy of the file from elsewhere (it must
    still match the registry's checksum).
    """
    verified = verify(name, path)
    model = build(name)
    model.load_weights(verified)
    return model


def card(name: str) -> dict:
    """The training card written beside the weights: accuracy, seed, data, command, time."""
    path = WEIGHTS_DIR / f"{name}.json"
    entry(name)
    if not path.is_file():
        raise PretrainedError(f"the card of {name!r} is missing: {path}\n{_how_to_fix(name)}")
    return json.loads(path.read_text(encoding="utf-8"))


def imagenet_model(arch: str = "MobileNetV2", input_shape: tuple = (96, 96, 3), include_top: bool = False):
    """Optional: a keras.applications model with ImageNet weights (needs the internet once).

    Keras caches the download in ``~/.keras/models``; offline and without that
    cache this raises `PretrainedError` saying so. Nothing in the course depends
    on it: the shipped Fashion-MNIST models are the offline default.
    """
    import keras

    builder = getattr(keras.applications, arch, None)
    if builder is None or not callable(builder):
        raise PretrainedError(f"keras.applications has no model {arch!r} (e.g. MobileNetV2, ResNet50, VGG16)")
    try:
        return builder(weights="imagenet", input_shape=input_shape, include_top=include_top)
    except Exception as exc:  # noqa: BLE001 - any download failure gets the same advice
        raise PretrainedError(
            f"could not get ImageNet weights for {arch} ({type(exc).__name__}: {exc}).\n"
            "They are downloaded once into ~/.keras/models: run this on a machine with internet, or copy "
            "that folder here. Offline, use the course's own models: course.pretrained.load('fashion_cnn')."
        ) from exc
