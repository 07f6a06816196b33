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


@pytest.mark.parametrize("requested, capabilities, policy", [
    (None, [], "float32"),                            # CPU only
    ("auto", [(8, 0)], "mixed_float16"),              # an A100: tensor cores
    (None, [(7, 5), (8, 6)], "mixed_float16"),
    (None, [(6, 1)], "float32"),                      # a GTX 1080: float16 no faster
    (None, [(8, 0), (6, 1)], "float32"),              # one old card in the mix
    (None, [None], "float32"),                        # details unknown: stay safe
    ("float32", [(8, 0)], "float32"),                 # the student turns it off
    ("mixed_float16", [], "mixed_float16"),           # rehearsing the GPU path on a CPU
])
def test_precision_follows_the_hardware_unless_asked(requested, capabilities, policy):
    assert runtime.choose_precision(requested, capabilities) == policy


def test_unknown_precision_names_the_variable_and_the_choices():
    with pytest.raises(ValueError, match="COURSE_PRECISION.*auto, float32, mixed_float16, mixed_bfloat16"):
        runtime.choose_precision("half", [])


def test_global_policy_stays_float32_and_training_runs_get_the_chosen_one(monkeypatch, capsys):
    """The GPU path rehearsed on this CPU: a zoo model built for training computes in float16 and learns."""
    import keras

    from course import data, models, train

    monkeypatch.setenv(runtime.PRECISION_ENV, "mixed_float16")
    try:
        runtime.start("grading")
        assert "long training runs in mixed precision (mixed_float16)" in capsys.readouterr().out
        assert keras.mixed_precision.global_policy().name == "float32"  # every check means the same everywhere
        with runtime.training_precision():
            model = models.build("resnet_cifar", depth=8, input_shape=(28, 28, 1), num_classes=10)
        assert keras.mixed_precision.global_policy().name == "float32"
        assert model.get_layer("conv1_conv").compute_dtype == "float16" and model.outputs[0].dtype == "float32"
        (x, y), _ = data.fashion_mnist()
        ds = data.make_dataset(x[:64], y[:64], 32, training=False)
        history = train.fit(model, ds, epochs=3, learning_rate=3e-3, profile="grading", verbose=0)
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)  # Keras scales the loss itself
        assert np.all(np.isfinite(history.history["loss"])) and history.history["loss"][-1] < history.history["loss"][0]
    finally:
        monkeypatch.delenv(runtime.PRECISION_ENV)
        runtime.start("grading", verbose=False)
    with runtime.training_precision():  # back to the CPU's choice
        assert keras.mixed_precision.global_policy().name == "float32"
