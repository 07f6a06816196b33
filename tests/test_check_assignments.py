"""`python -m autograder check` for every course assignment, as CI must prove:
the source solution scores full marks and the released stub zero, under the
grading real submissions get (sandboxed kernels, nbgrader's scoring), for
several students, each with hidden inputs of their own."""
import time

import nbformat
import pytest

from autograder import api
from autograder.layout import real_assignment_ids

ASSIGNMENTS = real_assignment_ids()
STUDENTS = 1  # per role, against the 30-minute CI budget: every run has a fresh course secret, so each CI run
              # draws new hidden inputs; `check` itself grades 3 students a role (test_autograder checks it)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("check")


@pytest.fixture(scope="module")
def reports(workdir):
    started = time.perf_counter()
    found = {r.assignment: r for r in api.check(None, workdir, students=STUDENTS)}
    print(f"\nchecked {len(found)} assignments in {time.perf_counter() - started:.0f} s")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_assignment_is_sound(reports, assignment):
    report = reports[assignment]
    assert report.ok, f"{assignment}: " + "; ".join(report.problems)
    assert len(report.solutions) == len(report.stubs) == STUDENTS
    for solution, stub in zip(report.solutions, report.stubs):
        assert solution.tests and stub.tests.keys() == solution.tests.keys()


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_graded_notebooks_hold_no_log_noise(reports, workdir, assignment):
    """What the instructor and the student read (autograded notebook, feedback) has no start-up log line."""
    from course.quiet import is_noise

    graded = sorted((workdir / "check" / assignment / "course" / "autograded").glob(f"*/{assignment}/*.ipynb"))
    assert len(graded) == 2 * STUDENTS
    for path in graded:
        nb = nbformat.read(path, as_version=4)
        lines = [line for cell in nb.cells for out in cell.get("outputs", [])
                 for line in (out.get("text", "") + "\n".join(out.get("traceback", []))).splitlines()]
        assert not [line for line in lines if is_noise(line)], path
