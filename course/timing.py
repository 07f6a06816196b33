"""Timing for the speed comparisons in notebooks: best of several runs."""
from __future__ import annotations

import time
from typing import Any, Callable


def best_time(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    """Shortest wall time of ``repeats`` calls, and the last result.

    The minimum is the run least disturbed by other work (and the first run
    of anything pays one-off costs), so it is the fairest figure to compare.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result
