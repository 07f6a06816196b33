"""Any nbgrader course: `--course DIR` grades a course laid out as nbgrader's documentation lays one out.

The oracle is stock nbgrader itself (`nbgrader generate_assignment` and
`nbgrader autograde` on a copy of the same course), and the points each
hand-in deserves are written by hand in `autograder.samples.nbgrader_course`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder import api
from autograder.layout import REPO
from autograder.samples.nbgrader_course import ASSIGNMENT, COURSE_ID, EXPECTED, build_course

ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-3000:])
    return done.stdout


def auto_scores(course: Path) -> dict[str, dict[str, float]]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        return {s.student.id: {g.name: g.auto_score for nb in s.notebooks for g in nb.grades if g.cell_type == "code"}
                for s in gb.find_assignment(ASSIGNMENT).submissions}


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_our_grader_on_an_nbgrader_course_scores_as_stock_nbgrader_and_leaves_its_files_alone(tmp_path):
    stock, ours = build_course(tmp_path / "stock"), build_course(tmp_path / "ours")
    for command in (["generate_assignment", ASSIGNMENT], ["autograde", ASSIGNMENT]):
        run([sys.executable, "-m", "nbgrader", *command], cwd=stock)
    assert auto_scores(stock) == EXPECTED  # the course is well-behaved: stock nbgrader gets it right

    untouched = {name: files(ours / name) for name in ("source", "submitted")}
    config = (ours / "nbgrader_config.py").read_bytes()
    ag = [sys.executable, "-m", "autograder"]
    run(ag + ["release", ASSIGNMENT, "--course", str(ours)], cwd=REPO)
    out = run(ag + ["grade", ASSIGNMENT, "--course", str(ours)], cwd=REPO)
    assert auto_scores(ours) == EXPECTED, out
    assert (ours / "release" / ASSIGNMENT / "problem1.ipynb").is_file() and (ours / ".autograder").is_dir()
    assert {name: files(ours / name) for name in ("source", "submitted")} == untouched
    assert (ours / "nbgrader_config.py").read_bytes() == config, "the instructor's config is read, never written"

    report, = api.check(ASSIGNMENT, course=ours, students=1, workers=2, progress=False)
    assert report.ok, report.problems
    assert [r.tests for r in report.solutions] == [{k: (v, v) for k, v in EXPECTED["bitdiddle"].items()}]

    # The README's one line in the course's own config: nbgrader's Autograde now grades through our pipeline.
    (ours / "nbgrader_config.py").write_bytes(
        config + b"from autograder.layout import use_our_grader\nuse_our_grader(c)\n")
    log = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force", "--debug"], cwd=ours, env=ENV,
                         capture_output=True, text=True, timeout=900)
    assert log.returncode == 0 and "Applying preprocessor: GradeThroughOurPipeline" in log.stderr, log.stderr[-3000:]
    assert auto_scores(ours) == EXPECTED


def test_a_folder_that_is_not_an_nbgrader_course_is_refused_with_the_fix(tmp_path):
    done = subprocess.run([sys.executable, "-m", "autograder", "release", "--course", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "is not an nbgrader course: it has no source/ folder" in done.stderr
    course = build_course(tmp_path / "c")
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", "ps9", "--course", str(course)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "no assignment 'ps9'" in done.stderr and "known: ps1" in done.stderr
