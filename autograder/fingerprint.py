"""What a grading machine must agree on with the grading parent before it gets a submission.

A worker machine of a cluster (`autograder.cluster`) grades with its own copy
of the course, its own packages, its own Fashion-MNIST and its own sandbox.
Any difference can change a score, so both sides compute the same fingerprint
here and the parent hands jobs only to workers whose fingerprint matches its
own: the course's code (the ``course`` and ``autograder`` packages, weights
included), the ``requirements.lock`` pins, the data files the assignments read
(checksums of their decompressed content), the TensorFlow/Keras/Python
versions, and an isolation at least as strong as the parent's.
"""
from __future__ import annotations

import gzip
import hashlib
import platform
from importlib import metadata
from pathlib import Path

from tools import REPO

# Isolation, weakest first within each: a worker may have more than the parent, never less.
ISOLATION = ("separate_uid", "namespaces", "cgroups")
PACKAGES = ("course", "autograder")


def _code_digest() -> str:
    """SHA-256 over the ``course`` and ``autograder`` packages' files (bytecode caches left out)."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _data_checksums() -> dict[str, str]:
    """Fashion-MNIST as the assignments will load it (`course.data`): each file's SHA-256, or "missing"."""
    from course import data

    for folder in data.search_dirs():
        if all((folder / name).is_file() for name in data.FASHION_FILES):
            found = {}
            for name in data.FASHION_FILES:
                with gzip.open(folder / name, "rb") as fh:
                    found[f"fashion-mnist/{name}"] = hashlib.sha256(fh.read()).hexdigest()
            return found
    return {f"fashion-mnist/{name}": "missing" for name in data.FASHION_FILES}


def fingerprint() -> dict:
    """This machine's fingerprint (JSON-serialisable); `mismatches` compares two."""
    from .sandbox import probe

    capabilities = probe()
    return {
        "course": f"{metadata.version('cnn-course')} ({_code_digest()[:16]})",
        "requirements.lock": hashlib.sha256((REPO / "requirements.lock").read_bytes()).hexdigest()[:16],
        "data": _data_checksums(),
        "python": platform.python_version(),
        "tensorflow": metadata.version("tensorflow"),
        "keras": metadata.version("keras"),
        "isolation": {name: bool(getattr(capabilities, name)) for name in ISOLATION},
    }


def mismatches(parent: dict, worker: dict) -> list[str]:
    """What in `worker` differs from `parent`, one readable line each ([] when the worker may grade)."""
    found = []
    for key in ("course", "requirements.lock", "python", "tensorflow", "keras"):
        if parent.get(key) != worker.get(key):
            found.append(f"{key}: worker has {worker.get(key)}, this grader {parent.get(key)}")
    for name, checksum in parent.get("data", {}).items():
        theirs = worker.get("data", {}).get(name)
        if theirs != checksum:
            found.append(f"data file {name}: worker's is {str(theirs)[:16]}, this grader's {checksum[:16]}")
    for name in ISOLATION:
        if parent.get("isolation", {}).get(name) and not worker.get("isolation", {}).get(name):
            found.append(f"isolation: the worker lacks {name} (weaker sandbox than this grader's: "
                         "run the worker as root with bubblewrap and a writable cgroup)")
    return found
