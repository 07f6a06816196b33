"""The profile switch and the start-up call every notebook makes."""
import numpy as np
import pytest

from course import runtime


def test_profile_resolution(monkeypatch):
    monkeypatch.delenv(runtime.PROFILE_ENV, raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert runtime.profile_name() == "full"
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert runtime.profile_name() == "grading"
    monkeypatch.setenv(runtime.PROFILE_ENV, "demo")
    assert runtime.profile_name() == "demo"
    assert runtime.profile_name("full") == "full"
    with pytest.raises(ValueError, match="choose one of"):
        runtime.profile_name("fast")


def test_grading_profile_is_small_cpu_and_deterministic():
    grading = runtime.PROFILES["grading"]
    assert grading.is_grading and not grading.use_gpu and grading.deterministic
    assert grading.train_size <= 5000 and runtime.PROFILES["full"].train_size is None


def test_start_seeds_and_reports(capsys):
    import keras

    runtime.start("grading", seed=7)
    a = np.random.rand(3), keras.random.uniform((3,)).numpy()
    runtime.start("grading", seed=7, verbose=False)
    b = np.random.rand(3), keras.random.uniform((3,)).numpy()
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    out = capsys.readouterr().out
    assert "profile : grading" in out and "device  : CPU" in out and "TensorFlow 2.21" in out
    assert keras.mixed_precision.global_policy().name == "float32"


def test_provenance_names_the_versions_the_command_and_the_wall_time():
    import platform
    import time

    import keras
    import tensorflow as tf

    record = runtime.provenance("python notebooks/data/example.py", time.time() - 2.0)
    assert record["command"] == "python notebooks/data/example.py"
    assert 2.0 <= record["wall_seconds"] < 60
    assert record["machine"].startswith(platform.machine())
    assert f"TensorFlow {tf.__version__}" in record["machine"] and f"Keras {keras.__version__}" in record["machine"]
