"""Start-up for every notebook: one profile switch, seeds, device set-up.

Every notebook (assignment or lecture demo) begins with::

    from course.runtime import start
    profile = start()

`start` picks the profile, seeds Python/NumPy/TensorFlow, configures the
device (GPU memory growth when a GPU exists, CPU otherwise; the precision
for long training runs; the devices training is spread over) and prints one
line per finding, so that a student, a grader and a lecturer all see what the
notebook is running on.

Devices
-------
`strategy()` is the ``tf.distribute.Strategy`` that training runs under:
``MirroredStrategy`` over every GPU when the profile uses GPUs and there are
several, TensorFlow's default one-device strategy otherwise.
``COURSE_DEVICES=cpu:N`` splits the CPU into N logical devices and mirrors
over them, so that the multi-device path runs (and is tested) on any laptop.
TensorFlow fixes its devices when it first runs an op, so the variable must be
set before the process starts, and `start()` must come first.

Profiles
--------
``grading``  small, deterministic, CPU only. Used by the test suite and by
             nbgrader (``NBGRADER_EXECUTION`` is set during validate/autograde).
``demo``     lecture demos: every cell in about ten seconds on a laptop CPU.
``full``     what students run at home: the whole data set, GPU when present.

The profile comes from, in order: the ``profile=`` argument, the environment
variable ``COURSE_PROFILE``, ``grading`` when nbgrader is executing, and
``full`` otherwise.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import random
import sys
import time

PROFILE_ENV = "COURSE_PROFILE"
PRECISION_ENV = "COURSE_PRECISION"
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
DEVICES_ENV = "COURSE_DEVICES"
# The Jupyter kernel every notebook names (scripts/setup.sh registers it for the repository's .venv).
KERNEL_SPEC = {"display_name": "CNN course (.venv)", "language": "python", "name": "cnn-course"}
# What a notebook's first cell says under a kernel without this package; the cell holds the text itself
# (nothing of the package can be imported there), and a test checks that every notebook's is this one.
KERNEL_HINT = ("This kernel's Python does not have the course package: choose Kernel > Change Kernel > "
               "'CNN course (.venv)' (bash scripts/setup.sh in the course folder adds it), "
               "or install the package into this Python with: pip install -e COURSE_FOLDER")
_training_policy = "float32"  # chosen by configure_device(); used by training_precision()
_strategy = None  # chosen by configure_device(); returned by strategy()
_strategy_devices: tuple[str, ...] = ()  # the devices _strategy mirrors over (none: the default strategy)


@dataclasses.dataclass(frozen=True)
class Profile:
    """How much work a notebook does. Read these numbers instead of hard-coding sizes."""

    name: str
    train_size: int | None  # None: the whole training set
    test_size: int | None
    epochs: int
    batch_size: int
    time_budget_s: float  # wall-clock budget of one training run
    use_gpu: bool
    deterministic: bool

    @property
    def is_grading(self) -> bool:
        return self.name == "grading"


PROFILES: dict[str, Profile] = {
    "grading": Profile("grading", train_size=2000, test_size=1000, epochs=2, batch_size=64,
                       time_budget_s=20.0, use_gpu=False, deterministic=True),
    "demo": Profile("demo", train_size=6000, test_size=2000, epochs=3, batch_size=128,
                    time_budget_s=10.0, use_gpu=True, deterministic=True),
    "full": Profile("full", train_size=None, test_size=None, epochs=15, batch_size=128,
                    time_budget_s=1800.0, use_gpu=True, deterministic=False),
}


def profile_name(requested: str | None = None) -> str:
    """Resolve the profile name without importing TensorFlow."""
    name = requested or os.environ.get(PROFILE_ENV)
    if not name:
        name = "grading" if os.environ.get("NBGRADER_EXECUTION") else "full"
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}: choose one of {sorted(PROFILES)} "
            f"(argument profile= or environment variable {PROFILE_ENV})")
    return name


def current_profile(requested: str | None = None) -> Profile:
    return PROFILES[profile_name(requested)]


def _quiet_tensorflow_logs() -> None:
    # Must happen before TensorFlow is imported to have any effect.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (through Keras) with one number."""
    import numpy as np
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def choose_precision(requested: str | None, gpu_capabilities: list) -> str:
    """The Keras dtype policy for long training runs (see `training_precision`).

    ``requested`` (from ``COURSE_PRECISION``) wins unless it is ``auto`` or
    unset. Auto means ``mixed_float16`` when there are GPUs and every one has
    tensor cores (compute capability 7.0 or more, given as ``(major, minor)``
    or None when unknown): older cards compute float16 no faster and only
    lose precision. Without a GPU, float32.
    """
    requested = requested or "auto"
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r} (environment variable {PRECISION_ENV}): "
                         f"choose one of {', '.join(PRECISIONS)}")
    if requested != "auto":
        return requested
    fast_float16 = bool(gpu_capabilities) and all(c is not None and tuple(c) >= (7, 0) for c in gpu_capabilities)
    return "mixed_float16" if fast_float16 else "float32"


def _compute_capability(gpu):
    import tensorflow as tf

    try:
        return tf.config.experimental.get_device_details(gpu).get("compute_capability")
    except (RuntimeError, ValueError):
        return None


def logical_cpus(requested: str | None) -> int:
    """How many logical CPU devices ``COURSE_DEVICES`` asks for: ``cpu:N``, or 1 when unset or ``auto``."""
    if requested in (None, "", "auto"):
        return 1
    kind, _, count = requested.partition(":")
    if kind != "cpu" or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{DEVICES_ENV}={requested!r} is not understood: use cpu:N to train on N logical CPU "
                         f"devices (e.g. cpu:2), or auto (every GPU when there are several, one device otherwise)")
    return int(count)


def _split_cpu(count: int) -> None:
    """Make the CPU appear as ``count`` logical devices; only possible before TensorFlow runs its first op."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or [cpu]) == count:
        return  # already so (start() called again)
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise RuntimeError(f"{DEVICES_ENV}={os.environ.get(DEVICES_ENV)!r} must be set before TensorFlow starts: "
                           f"restart the kernel (with the variable set) and call start() first") from None


def _choose_strategy(devices: tuple[str, ...]) -> None:
    """Train under MirroredStrategy over ``devices`` when there are several, the default strategy otherwise."""
    global _strategy, _strategy_devices
    import tensorflow as tf

    if len(devices) < 2:
        devices = ()
    if _strategy is None or devices != _strategy_devices:
        _strategy = tf.distribute.MirroredStrategy(list(devices)) if devices else tf.distribute.get_strategy()
        _strategy_devices = devices


def strategy():
    """The ``tf.distribute.Strategy`` that `start()` chose for training (the default one before `start()`).

        with strategy().scope():
            model = models.build("lenet5", input_shape=(28, 28, 1), num_classes=10)
        train.fit(model, train_ds, val_ds)  # each replica takes its share of every batch

    Build the model inside its scope so that its variables are mirrored onto every device.
    """
    import tensorflow as tf

    return _strategy or tf.distribute.get_strategy()


def configure_device(profile: Profile) -> dict:
    """Set up the device the profile asks for; return what was found.

    On a GPU: memory growth (so several notebooks can share a card). Op
    determinism when the profile wants reproducible numbers. The global dtype
    policy is always float32, so that every check in a notebook means the same
    on a laptop, a GPU and the grader; mixed precision is for the long
    training runs that build their models inside `training_precision()`:
    ``mixed_float16`` on cards with tensor cores, float32 elsewhere.
    ``COURSE_PRECISION`` overrides that choice: ``float32`` turns it off on a
    GPU, ``mixed_float16`` rehearses it on a CPU (slowly: CPUs emulate float16).
    Training is mirrored over several GPUs when the profile uses them, or over
    the N logical CPU devices that ``COURSE_DEVICES=cpu:N`` asks for (see `strategy`).
    """
    global _training_policy
    import tensorflow as tf
    import keras

    tf.get_logger().setLevel("ERROR")  # retracing warnings on stderr would cost a test cell its points
    cpus = logical_cpus(os.environ.get(DEVICES_ENV))
    _split_cpu(cpus)  # first: it must come before anything makes TensorFlow set up its devices
    gpus = tf.config.list_physical_devices("GPU")
    info = {"gpus": [g.name for g in gpus], "device": "CPU"}
    in_use = gpus if profile.use_gpu else []
    capabilities = []
    if in_use:
        for gpu in gpus:
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                pass  # already initialised by an earlier cell: growth cannot change any more
        capabilities = [_compute_capability(gpu) for gpu in gpus]
        known = [f"{c[0]}.{c[1]}" for c in capabilities if c]
        info["device"] = f"GPU x{len(gpus)}" + (f" (compute capability {', '.join(known)})" if known else "")
    elif gpus:  # grading profile on a GPU machine: stay on CPU, identical to the grader
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:
            pass
    _training_policy = info["training_policy"] = choose_precision(os.environ.get(PRECISION_ENV), capabilities)
    _choose_strategy(tuple(f"/cpu:{i}" for i in range(cpus)) if cpus > 1
                     else tuple(f"/gpu:{i}" for i in range(len(in_use))))
    info["mirrored"] = _strategy_devices
    keras.mixed_precision.set_global_policy("float32")
    if profile.deterministic:
        tf.config.experimental.enable_op_determinism()
    info["threads"] = os.cpu_count()
    return info


@contextlib.contextmanager
def dtype_policy(name: str):
    """Build layers under a Keras dtype policy ('float32', 'mixed_float16', ...), then restore the old one."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def training_precision():
    """Build a model for a long training run in the precision `start()` chose for it.

        with training_precision():
            model = models.build("resnet56", input_shape=(28, 28, 1), num_classes=10)

    Mixed precision on a GPU with tensor cores (the model's outputs stay
    float32, its variables too), float32 elsewhere or before `start()`.
    """
    return dtype_policy(_training_policy)


def start(profile: str | None = None, seed: int = 0, verbose: bool = True) -> Profile:
    """Seed everything, configure the device and print what was found.

    Call once, in the first code cell of a notebook.
    """
    _quiet_tensorflow_logs()
    chosen = current_profile(profile)
    from course.grading import explain_unwritten_stubs
    from course.quiet import native_logs_held_back

    explain_unwritten_stubs()
    with native_logs_held_back():  # TensorFlow's first import, and first look at the devices
        seed_everything(seed)
        info = configure_device(chosen)
    if verbose:
        import tensorflow as tf
        import keras

        print(f"profile : {chosen.name} (train {chosen.train_size or 'all'}, "
              f"{chosen.epochs} epochs, budget {chosen.time_budget_s:.0f} s per run)")
        print(f"device  : {info['device']}"
              + (f"; long training runs in mixed precision ({info['training_policy']})"
                 if info["training_policy"] != "float32" else "")
              + (f"; GPUs seen: {', '.join(info['gpus'])}" if info["gpus"] else "; no GPU found"))
        if info["mirrored"]:
            print(f"training: mirrored over {len(info['mirrored'])} devices ({', '.join(info['mirrored'])}): "
                  f"each takes its share of every batch (course.runtime.strategy())")
        print(f"versions: Python {sys.version.split()[0]}, TensorFlow {tf.__version__}, Keras {keras.__version__}")
        print(f"seed    : {seed}")
    return chosen


def provenance(command: str, began: float) -> dict:
    """Where a precomputed result came from, to store beside it: machine, versions, command, wall time.

    A notebook that draws stored numbers instead of measuring them live must say
    what produced them, so that anyone can re-run the command and compare.
    """
    import keras
    import tensorflow as tf

    return {"machine": f"{platform.machine()}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
                       f"Python {sys.version.split()[0]}",
            "command": command,
            "wall_seconds": round(time.time() - began, 1)}
