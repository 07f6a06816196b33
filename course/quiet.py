"""Keep TensorFlow's native start-up chatter out of notebooks; let real warnings and errors through.

TensorFlow's C++ libraries write to file descriptor 2 before its logging is
set up, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them: "All log messages
before absl::InitializeLog() ...", "oneDNN custom operations are on", "Could
not find cuda drivers", the CUDA factory registrations of a GPU build, and
TensorFlow Lite's "Created TensorFlow Lite XNNPACK delegate". Jupyter shows
every such line in red under the first cell. `native_logs_held_back` holds
back what the native code writes to fd 2 inside its block and passes on the
rest: Python's own warnings and errors never go through fd 2 in a kernel, and
a native line at error level is kept unless it is one of the known harmless
start-up ones (`is_noise` says which).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator

# absl's prefix: level letter, MMDD, time, thread id, source file:line]
_ABSL_LINE = re.compile(r"^(?P<level>[IWEF])\d{4} \d\d:\d\d:[\d.]+ +\d+ (?P<source>[\w.-]+):\d+\] (?P<text>.*)$")
_HARMLESS_ERRORS = re.compile(  # a GPU build registering its CUDA plug-ins twice, at every start
    r"Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|failed call to cuInit")
_NOISE_LINES = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|INFO: Created TensorFlow Lite (XNNPACK )?delegate for CPU\.?"
    r"|INFO: Initialized TensorFlow Lite runtime\.?"
    r"|fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, output_inference_type: \w+)$")


def is_noise(line: str) -> bool:
    """A native start-up line no student needs: absl info and warning lines, and the known harmless errors."""
    if _NOISE_LINES.match(line.strip()):
        return True
    absl = _ABSL_LINE.match(line.strip())
    if absl is None:
        return False
    return absl["level"] in "IW" or bool(_HARMLESS_ERRORS.search(absl["text"]))


@contextlib.contextmanager
def native_logs_held_back() -> Iterator[None]:
    """Run the block with fd 2 going to a file; afterwards write its lines that are not noise to stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().decode("utf-8", "replace").splitlines() if not is_noise(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)
