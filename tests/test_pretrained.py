"""The shipped models: checksums verified, corrupt copies refused, documented accuracy reached,
training reproducible from a seed."""
import hashlib
import importlib.util
import json
import shutil

import numpy as np
import pytest

from course import data, pretrained

REPO = pretrained.WEIGHTS_DIR.parent.parent


def _train_script():
    spec = importlib.util.spec_from_file_location("train_pretrained", REPO / pretrained.TRAIN_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", pretrained.names())
def test_shipped_file_matches_registry_and_card(name):
    spec = pretrained.entry(name)
    path = spec.path(name)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()  # computed here, not by the module
    assert digest == spec.sha256, f"{path} does not have the registry's checksum"
    assert pretrained.verify(name) == path
    card = json.loads((pretrained.WEIGHTS_DIR / f"{name}.json").read_text())
    assert card["sha256"] == digest and card["test_accuracy"] == spec.test_accuracy
    assert card["seed"] == 0 and "train_pretrained.py" in card["command"]
    assert path.stat().st_size < 1_000_000, "weight files are committed to git: keep them small"


def test_corrupt_or_missing_copy_is_refused(tmp_path):
    name = "fashion_cnn"
    corrupt = tmp_path / "copy.weights.h5"
    shutil.copyfile(pretrained.entry(name).path(name), corrupt)
    raw = bytearray(corrupt.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte in the middle of the weights
    corrupt.write_bytes(bytes(raw))
    with pytest.raises(pretrained.PretrainedError, match=r"corrupt(.|\n)*git checkout(.|\n)*train_pretrained"):
        pretrained.load(name, path=corrupt)
    with pytest.raises(pretrained.PretrainedError, match=r"missing(.|\n)*--only fashion_cnn"):
        pretrained.load(name, path=tmp_path / "absent.weights.h5")
    with pytest.raises(pretrained.PretrainedError, match="choose one of"):
        pretrained.load("resnet_imagenet")
    with pytest.raises(pretrained.PretrainedError, match="keras.applications has no model"):
        pretrained.imagenet_model("NoSuchNet")


def test_architecture_has_named_layers_and_outputs_logits():
    model = pretrained.build("fashion_source5")
    names = [layer.name for layer in model.layers]
    for expected in ("image", "conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "gap", "features", "logits"):
        assert expected in names
    assert model.output.shape == (None, 5) and pretrained.build("fashion_cnn").output.shape == (None, 10)
    assert model.get_layer("logits").activation.__name__ == "linear"


@pytest.mark.slow
@pytest.mark.parametrize("name", pretrained.names())
def test_loaded_model_reaches_documented_accuracy(name, fashion):
    spec = pretrained.entry(name)
    _, (x_test, y_test) = fashion
    keep = np.isin(y_test, spec.classes)
    x, y = data.stratified_subset(x_test[keep], np.searchsorted(spec.classes, y_test[keep]), 1000, seed=123)
    model = pretrained.load(name)
    accuracy = np.mean(np.argmax(model.predict(data.normalise(x), verbose=0, batch_size=500), axis=1) == y)
    # 1,000 images: the standard error of an accuracy near 0.9 is about 0.01
    assert abs(accuracy - spec.test_accuracy) < 0.03, f"{name}: {accuracy:.3f} vs documented {spec.test_accuracy}"
    assert pretrained.load(name) is not model  # every call gives an independent copy


@pytest.mark.slow
def test_training_is_reproducible_from_a_seed(fashion):
    script = _train_script()
    runs = [script.train("fashion_source5", seed=seed, epochs=1, train_size=256, test_size=100, verbose=0)
            for seed in (7, 7, 8)]
    first, again, other = ([np.asarray(w) for w in model.get_weights()] for model, _ in runs)
    assert all(np.array_equal(a, b) for a, b in zip(first, again)), "same seed, different weights"
    assert not all(np.array_equal(a, b) for a, b in zip(first, other)), "the seed has no effect"
    card = runs[0][1]
    assert card["seed"] == 7 and card["train_images"] == 256 and card["recipe"]["epochs"] == 1


def test_card_writer_records_checksum(tmp_path):
    script = _train_script()
    model = pretrained.build("fashion_source5")
    card = {"name": "fashion_source5", "summary": "s", "test_accuracy": 0.5, "test_images": 10, "seed": 3,
            "parameters": model.count_params(), "train_seconds": 1.0, "recipe": {"epochs": 1},
            "command": "python scripts/train_pretrained.py"}
    weights = script.write(model, card, tmp_path)
    written = json.loads((tmp_path / "fashion_source5.json").read_text())
    assert written["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert "fashion_source5" in (tmp_path / "README.md").read_text()
