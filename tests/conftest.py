"""Shared set-up: quiet, deterministic TensorFlow in the grading profile; one
TensorFlow import per test process, data loaded once per session."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("COURSE_PROFILE", "grading")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests prove the CPU path, identical everywhere

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def fashion():
    from course import data

    return data.fashion_mnist()
