"""best_time: the minimum over repeats, the function's result, a clear error for nonsense."""
import time

import pytest

from course.timing import best_time


def test_best_time_takes_the_fastest_run_and_returns_the_result():
    delays = iter([0.05, 0.01, 0.03])

    def work():
        time.sleep(next(delays))
        return "done"

    seconds, result = best_time(work, repeats=3)
    assert result == "done" and 0.01 <= seconds < 0.03


def test_best_time_rejects_zero_repeats():
    with pytest.raises(ValueError, match="at least 1"):
        best_time(lambda: None, repeats=0)
