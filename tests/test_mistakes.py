"""Every typical mistake an assignment's author lists must lose points; the solution must not.

For each assignment's ``mistakes.py`` (beside its notebooks), submissions are
built from the assignment's source notebook (all solutions in place, only the
mistaken solution cells replaced) and all are graded in one parallel batch,
with the grading real submissions get. Independent mistakes share a
submission (`autograder.samples.packing`); each is proved caught by a test
cell that depends on its function losing points. A mistake whose tests keep
full marks means the tests let a wrong answer through.
"""
from __future__ import annotations

import pytest

from autograder import api
from autograder.layout import Workspace, assignment_sources
from autograder.samples import SAMPLE_ID, copy_notebooks, load_mistakes, mistake_submissions, mistakes_file

def _params():
    """The autograder's own sample always runs; the course assignments' mistakes (about 150
    notebook runs, ~20-40 minutes on 2 cores) run when asked: bash test.sh --mistakes."""
    for assignment_id in assignment_sources():
        if mistakes_file(assignment_id):
            marks = [] if assignment_id == SAMPLE_ID else [pytest.mark.mistakes]
            yield pytest.param(assignment_id, id=assignment_id, marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", _params())
def test_every_listed_mistake_loses_points(assignment_id, tmp_path):
    assert load_mistakes(assignment_id), f"{mistakes_file(assignment_id)} lists no mistakes"
    ws = Workspace.create(tmp_path / "work")
    api.release(assignment_id, ws.workdir)
    submissions = tmp_path / "submissions"
    copy_notebooks(ws.folder("source", assignment_id), submissions / "solution" / assignment_id)
    packs = mistake_submissions(assignment_id, ws.folder("source", assignment_id), submissions)
    results = {r.student: r for r in api.grade_submissions(assignment_id, submissions, ws.workdir,
                                                           cell_timeout=300, progress=False)}
    failed = {s: r.reason for s, r in results.items() if r.status != "graded"}
    assert not failed, f"submissions that could not be graded: {failed}"

    solution = results["solution"].tests
    assert solution and all(score == top for score, top in solution.values()), \
        f"the unmodified solution does not score full marks: {solution}"
    let_through = []
    for student, packed in packs.items():
        lost = {g for g, (score, top) in results[student].tests.items() if score < top}
        for description, own_tests in packed.mistakes.items():
            caught = lost & own_tests if own_tests else lost  # alone in its submission when no own tests
            if not caught:
                let_through.append(f"{description!r} (its tests: {sorted(own_tests) or 'all'})")
    assert not let_through, "mistakes the tests do not catch:\n" + "\n".join(let_through)
