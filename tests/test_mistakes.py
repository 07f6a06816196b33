"""Every typical mistake an assignment's author lists must lose points; the solution must not.

For each ``autograder/samples/mistakes/<assignment>.py``, one submission per
mistake is built from the assignment's source notebook (all solutions in
place, only the named solution cells replaced) and all are graded in one
parallel batch, with the grading real submissions get. A mistake that still
scores full marks means the tests let a wrong answer through.
"""
from __future__ import annotations

import pytest

from autograder import api
from autograder.layout import Workspace, assignment_sources
from autograder.samples import MISTAKES_DIR, copy_notebooks, load_mistakes, mistake_submissions

MISTAKE_FILES = sorted(MISTAKES_DIR.glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("path", MISTAKE_FILES, ids=lambda p: p.stem)
def test_every_listed_mistake_loses_points(path, tmp_path):
    assignment_id = path.stem
    if assignment_id not in assignment_sources():
        pytest.skip(f"no assignment folder for {path.name}")
    assert load_mistakes(assignment_id), f"{path} lists no mistakes"
    ws = Workspace.create(tmp_path / "work")
    api.release(assignment_id, ws.workdir)
    submissions = tmp_path / "submissions"
    copy_notebooks(ws.folder("source", assignment_id), submissions / "solution" / assignment_id)
    described = mistake_submissions(assignment_id, ws.folder("source", assignment_id), submissions)
    results = {r.student: r for r in api.grade_submissions(assignment_id, submissions, ws.workdir,
                                                           cell_timeout=300, progress=False)}

    def tests_score(result) -> tuple[float, float]:
        return sum(s for s, _ in result.tests.values()), sum(m for _, m in result.tests.values())

    failed = {s: r.reason for s, r in results.items() if r.status != "graded"}
    assert not failed, f"submissions that could not be graded: {failed}"
    score, top = tests_score(results["solution"])
    assert top > 0 and score == top, f"the unmodified solution scores {score}/{top}: {results['solution'].reason}"
    let_through = [f"{described[s]!r} scores {tests_score(r)[0]:g}/{top:g}"
                   for s, r in results.items() if s != "solution" and tests_score(r)[0] >= top]
    assert not let_through, "mistakes the tests do not catch:\n" + "\n".join(let_through)
