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


def pytest_addoption(parser):
    parser.addoption("--mistakes", action="store_true",
                     help="also grade every typical mistake of every course assignment (long)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--mistakes"):
        return
    skip = pytest.mark.skip(reason="typical-mistake grading of the course assignments: run with --mistakes")
    for item in items:
        if "mistakes" in item.keywords:
            item.add_marker(skip)
