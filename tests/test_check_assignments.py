"""`python -m autograder check` for every course assignment, as CI must prove:
the source solution scores full marks and the released stub zero, under the
grading real submissions get (sandboxed kernels, nbgrader's scoring)."""
import time

import pytest

from autograder import api
from autograder.layout import real_assignment_ids

ASSIGNMENTS = real_assignment_ids()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    started = time.perf_counter()
    found = {r.assignment: r for r in api.check(None, tmp_path_factory.mktemp("check"))}
    print(f"\nchecked {len(found)} assignments in {time.perf_counter() - started:.0f} s")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_assignment_is_sound(reports, assignment):
    report = reports[assignment]
    assert report.ok, f"{assignment}: " + "; ".join(report.problems)
    assert report.solution.tests and report.stub.tests.keys() == report.solution.tests.keys()
