"""Re-grading after the instructor fixes a hidden test: new scores, kept manual grades, a report of changes.

The scenario is written out by hand: ada's ReLU clips at 3, which the visible
test (largest input 3.0) cannot see; the fixed test adds an input of 10, so
ada loses that test's 1 point and alan (a correct ReLU) keeps his.
"""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import api, layout
from autograder.layout import COURSE_ID, Workspace
from autograder.report import print_results
from autograder.sandbox import Limits

SAMPLE = "ag_sample"
OPTIONS = dict(workers=2, cell_timeout=90, submission_timeout=600,
               limits=Limits(memory_mb=1536, processes=256), progress=False)
VISIBLE_TEST = 'expect_close(relu(x), [0.0, 0.0, 0.0, 0.5, 3.0], "relu on five numbers",'
FIXED_TEST = 'expect_close(relu(np.array([10.0])), [10.0], "relu of 10")\n' + VISIBLE_TEST


def submit(ws: Workspace, folder: Path, student: str, relu_body: str) -> None:
    """The source notebook, with the student's ReLU, handed in as numpy_part.ipynb only."""
    nb = nbformat.read(ws.folder("source", SAMPLE) / "numpy_part.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "relu":
            cell.source = f"def relu(x):\n    return {relu_body}\n"
    (folder / student / SAMPLE).mkdir(parents=True)
    nbformat.write(nb, folder / student / SAMPLE / "numpy_part.ipynb")


def written_grade(ws: Workspace, student: str):
    with Gradebook(ws.db_url, COURSE_ID) as gb:
        grade = gb.find_grade("written_relu", "numpy_part", SAMPLE, student)
        comment = gb.find_comment("written_relu", "numpy_part", SAMPLE, student)
        return grade.manual_score, grade.needs_manual_grade, comment.manual_comment


@pytest.mark.slow
def test_a_fixed_test_regrades_everyone_keeps_manual_grades_and_reports_the_change(tmp_path, monkeypatch):
    source = tmp_path / "assignments" / SAMPLE
    shutil.copytree(layout.SAMPLES_DIR / SAMPLE, source)
    monkeypatch.setattr(layout, "assignment_sources", lambda include_samples=True: {SAMPLE: source})
    ws = Workspace.create(tmp_path / "work")
    api.release(SAMPLE, ws.workdir)
    submissions = tmp_path / "submitted"
    submit(ws, submissions, "ada", "np.clip(x, 0.0, 3.0)")
    submit(ws, submissions, "alan", "np.maximum(x, 0.0)")
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name,last_name\nada,Ada,Lovelace\n")
    api.import_roster(roster, ws.workdir)

    first = {r.student: r for r in api.grade_submissions(SAMPLE, submissions, ws.workdir, **OPTIONS)}
    assert first["ada"].tests["test_relu"] == first["alan"].tests["test_relu"] == (1.0, 1.0)
    assert "not on the roster" in first["alan"].reason and "not on the roster" not in first["ada"].reason
    with Gradebook(ws.db_url, COURSE_ID) as gb:  # the instructor grades ada's written answer in the formgrader
        grade = gb.find_grade("written_relu", "numpy_part", SAMPLE, "ada")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.find_comment("written_relu", "numpy_part", SAMPLE, "ada").manual_comment = "Exactly."
        gb.db.commit()
    ada_before = api.grade_submissions(SAMPLE, submissions, ws.workdir, **OPTIONS)[0]
    assert ada_before.status == "unchanged" and ada_before.score == first["ada"].score + 1

    notebook = source / "numpy_part.py"
    notebook.write_text(notebook.read_text().replace(VISIBLE_TEST, FIXED_TEST))
    second = {r.student: r for r in api.grade_submissions(SAMPLE, submissions, ws.workdir, **OPTIONS)}
    assert {r.status for r in second.values()} == {"graded"}, "a changed test cell must re-grade everyone"
    assert second["ada"].tests["test_relu"] == (0.0, 1.0) and second["alan"].tests["test_relu"] == (1.0, 1.0)
    assert written_grade(ws, "ada") == (1.0, False, "Exactly."), "the manual grade, its review and comment stay"
    assert (second["ada"].previous_score, second["ada"].score) == (ada_before.score, ada_before.score - 1)
    out = io.StringIO()
    print_results(SAMPLE, list(second.values()), out)
    report = out.getvalue().split("scores changed by this grading (1):")[1]
    assert "ada" in report and "-1" in report and "alan" not in report

    only_alan = api.grade_submissions(SAMPLE, submissions, ws.workdir, students=["alan"], regrade=True, **OPTIONS)
    assert [(r.student, r.status, r.score) for r in only_alan] == [("alan", "graded", second["alan"].score)]
    with pytest.raises(FileNotFoundError, match="no submission of ag_sample from 'zoe'"):
        api.grade_submissions(SAMPLE, submissions, ws.workdir, students=["zoe"], **OPTIONS)
