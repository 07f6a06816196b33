"""Cheating earns nothing (issue 12, item 2): each cheat submission scores what its honest content earns.

The submissions (`autograder.samples.cheats`) are released stubs plus a few lines of cheating code, or a
few correct answers beside such code. Stock nbgrader gives most of them full marks (checked below on the
sample's NumPy notebook). Our grader runs the test cells in the judge, so a stub plus cheats must score
zero on every test, correct answers beside cheats exactly their points, and a test cell's outputs must be
the judge's alone (streams and errors: never a number from the student's kernel).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import api
from autograder.layout import COURSE_ID, Workspace
from autograder.samples import SAMPLE_ID
from autograder.samples.cheats import ag_sample_cheats, build_cheat_submissions, convolution_cheats
from autograder.sandbox import Limits

CONVOLUTION = "01_convolution"
OPTIONS = dict(workers=2, cell_timeout=90, submission_timeout=600,
               limits=Limits(memory_mb=1536, processes=256), progress=False)
JUDGE_OUTPUT_TYPES = {"stream", "error"}                      # all the judge ever writes into a test cell
KERNEL_ONLY_TEXT = ("All tests passed!", "the grader is confused")  # printed by the cheats' hooks, never judged


def grade_cheats(root: Path, assignment_id: str, submissions) -> dict:
    """Release the assignment, build the cheat submissions from its stub, grade them in one run."""
    ws = Workspace.create(root / "work")
    api.release(assignment_id, ws.workdir)
    build_cheat_submissions(submissions, ws.folder("release", assignment_id), root / "submissions", assignment_id)
    started = time.monotonic()
    results = api.grade_submissions(assignment_id, root / "submissions", ws.workdir, **OPTIONS)
    print(f"\n[cheats] {len(results)} submissions of {assignment_id} in {time.monotonic() - started:.0f} s")
    return dict(ws=ws, assignment=assignment_id, results={r.student: r for r in results})


@pytest.fixture(scope="module")
def ag_batch(tmp_path_factory):
    return grade_cheats(tmp_path_factory.mktemp("cheats-ag"), SAMPLE_ID, ag_sample_cheats())


@pytest.fixture(scope="module")
def convolution_batch(tmp_path_factory):
    return grade_cheats(tmp_path_factory.mktemp("cheats-conv"), CONVOLUTION, convolution_cheats())


def graded_cells(notebook: Path):
    for cell in nbformat.read(notebook, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            yield meta["grade_id"], cell


def check_scored_honestly(batch: dict, submission) -> None:
    case = submission.case
    result = batch["results"][case.student]
    assert result.status == "graded", f"{case.student}: {result.status} ({result.reason})"
    got = {grade_id: score for grade_id, (score, _) in result.tests.items()}
    assert got == case.expected_tests, f"{case.student} ({case.what}): {result.reason}"
    notebooks = list(batch["ws"].folder("autograded", batch["assignment"], case.student).glob("*.ipynb"))
    assert notebooks, f"{case.student}: no autograded notebook"
    for notebook in notebooks:
        for grade_id, cell in graded_cells(notebook):
            kinds = {output.output_type for output in cell.outputs}
            assert kinds <= JUDGE_OUTPUT_TYPES, f"{case.student} {grade_id}: outputs from the student's kernel {kinds}"
            text = "".join(output.get("text", "") for output in cell.outputs)
            assert not any(marker in text for marker in KERNEL_ONLY_TEXT), f"{case.student} {grade_id}: {text}"


@pytest.mark.slow
@pytest.mark.parametrize("submission", ag_sample_cheats(), ids=lambda s: s.case.student)
def test_sample_cheat_scores_only_its_honest_content(ag_batch, submission):
    check_scored_honestly(ag_batch, submission)


@pytest.mark.slow
@pytest.mark.parametrize("submission", convolution_cheats(), ids=lambda s: s.case.student)
def test_convolution_cheat_scores_only_its_honest_content(convolution_batch, submission):
    check_scored_honestly(convolution_batch, submission)


# -- what stock nbgrader makes of the same submissions ----------------------------------------------------------

FOOLING = [s for s in ag_sample_cheats() if s.stock_fooled]


@pytest.fixture(scope="module")
def stock_scores(ag_batch, tmp_path_factory):
    """Stock ``nbgrader autograde`` (unsandboxed, one kernel per notebook) on numpy_part.ipynb only (~40 s)."""
    root = tmp_path_factory.mktemp("cheats-stock")
    ws, course = ag_batch["ws"], root / "course"
    source = course / "source" / SAMPLE_ID
    source.mkdir(parents=True)
    shutil.copy(ws.folder("source", SAMPLE_ID) / "numpy_part.ipynb", source)
    built = root / "built"
    build_cheat_submissions(FOOLING, ws.folder("release", SAMPLE_ID), built, SAMPLE_ID)
    for submission in FOOLING:
        target = course / "submitted" / submission.case.student / SAMPLE_ID
        target.mkdir(parents=True)
        shutil.copy(built / submission.case.student / SAMPLE_ID / "numpy_part.ipynb", target)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\nc.CourseDirectory.course_id = {COURSE_ID!r}\n")
    nbgrader = [sys.executable, "-m", "nbgrader"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in (["generate_assignment", SAMPLE_ID, "--force"], ["autograde", SAMPLE_ID, "--force"]):
        done = subprocess.run(nbgrader + command, cwd=course, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        return {s.case.student: {g.name: (g.auto_score, g.max_score) for n in gb.find_submission(
                SAMPLE_ID, s.case.student).notebooks for g in n.grades if g.cell_type == "code"} for s in FOOLING}


@pytest.mark.slow
@pytest.mark.parametrize("submission", FOOLING, ids=lambda s: s.case.student)
def test_stock_nbgrader_would_have_been_fooled(stock_scores, submission):
    """The same notebook, graded the stock way, gets full marks on tests its content earns nothing on."""
    scores = stock_scores[submission.case.student]
    for grade_id in submission.stock_fooled:
        score, max_score = scores[grade_id]
        assert score == max_score, f"{submission.case.student}: stock nbgrader gave {grade_id} {score}/{max_score}"
