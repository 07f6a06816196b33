"""One system, two front doors: what `grade` did is what nbgrader's own tools see, and they grade the same way.

`grade --submissions DIR` mirrors each submission into the course's
``submitted/`` (regular files only), so the formgrader counts it; ``nbgrader
autograde`` run by hand in the course folder, and the formgrader's Autograde
button, grade through our pipeline: the same scores, and a cheat that fools
stock nbgrader (tests/test_cheats.py shows it does) earns nothing.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder import api
from autograder.layout import COURSE_ID, Workspace
from autograder.samples import SAMPLE_ID
from autograder.samples.cheats import ag_sample_cheats, build_cheat_submissions
from autograder.sandbox import Limits

from conftest import jupyterlab

OPTIONS = dict(workers=2, cell_timeout=90, submission_timeout=600,
               limits=Limits(memory_mb=1536, processes=256), progress=False)
CHEAT = next(s for s in ag_sample_cheats() if s.stock_fooled)
TIMESTAMP = "2026-11-30 17:05:00.000000 UTC"


def digests(folder: Path) -> dict[str, tuple[str, bool]]:
    """Every entry below ``folder``: a hash of its bytes (links by target, not followed) and whether it is a link."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(folder))] = (os.readlink(path), True)
        elif path.is_file():
            found[str(path.relative_to(folder))] = (hashlib.sha256(path.read_bytes()).hexdigest(), False)
    return found


def auto_scores(ws: Workspace) -> dict[str, dict[str, float]]:
    with Gradebook(ws.db_url, COURSE_ID) as gb:
        return {s.student.id: {g.name: g.auto_score for nb in s.notebooks for g in nb.grades if g.cell_type == "code"}
                for s in gb.find_assignment(SAMPLE_ID).submissions}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The sample released; four hand-ins outside the course: right, blank, a stock-fooling cheat, a link."""
    root = tmp_path_factory.mktemp("front-door")
    ws = Workspace.create(root / "work")
    api.release(SAMPLE_ID, ws.workdir)
    inbox = root / "inbox"
    for student, step in (("ada", "source"), ("bob", "release")):
        (inbox / student / SAMPLE_ID).mkdir(parents=True)
        shutil.copy(ws.folder(step, SAMPLE_ID) / "numpy_part.ipynb", inbox / student / SAMPLE_ID)
    (inbox / "ada" / SAMPLE_ID / "timestamp.txt").write_text(TIMESTAMP + "\n")
    build_cheat_submissions([CHEAT], ws.folder("release", SAMPLE_ID), inbox, SAMPLE_ID)
    (inbox / "mallory" / SAMPLE_ID).mkdir(parents=True)
    (inbox / "mallory" / SAMPLE_ID / "numpy_part.ipynb").symlink_to(inbox / "ada" / SAMPLE_ID / "numpy_part.ipynb")
    (root / "roster.csv").write_text("id,first_name,last_name\nada,Ada,Lovelace\nbob,Bob,Babbage\n")
    api.import_roster(root / "roster.csv", ws.workdir)
    before = digests(inbox)
    results = {r.student: r for r in api.grade_submissions(SAMPLE_ID, inbox, ws.workdir, **OPTIONS)}
    return dict(ws=ws, inbox=inbox, before=before, results=results, scores=auto_scores(ws))


@pytest.mark.slow
def test_grade_mirrors_each_submission_into_the_course_as_regular_files(course):
    ws, inbox = course["ws"], course["inbox"]
    assert digests(inbox) == course["before"], "the hand-ins must only be read"
    submitted = ws.course_root / "submitted"
    assert sorted(os.listdir(submitted)) == sorted(["ada", "bob", CHEAT.case.student]), "mallory owns no notebook"
    for student in ("ada", "bob", CHEAT.case.student):
        copy = submitted / student / SAMPLE_ID / "numpy_part.ipynb"
        assert not copy.is_symlink() and copy.read_bytes() == (inbox / student / SAMPLE_ID / "numpy_part.ipynb").read_bytes()
    assert (submitted / "ada" / SAMPLE_ID / "timestamp.txt").read_text().strip() == TIMESTAMP
    assert "symbolic link" in course["results"]["mallory"].reason


@pytest.mark.slow
def test_nbgrader_autograde_by_hand_grades_through_our_pipeline_with_the_same_scores(course):
    ws = course["ws"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", SAMPLE_ID, "--force"], cwd=ws.course_root,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert auto_scores(ws) == course["scores"]
    cheat = auto_scores(ws)[CHEAT.case.student]
    for grade_id in CHEAT.stock_fooled:  # full marks from stock nbgrader; here only what the content earns
        assert cheat[grade_id] == CHEAT.case.expected_tests[grade_id], (grade_id, cheat)
    assert course["scores"]["ada"]["test_slide"] == 2.0 and course["scores"]["bob"]["test_slide"] == 0.0
    again = api.grade_submissions(SAMPLE_ID, course["inbox"], ws.workdir, **OPTIONS)
    assert {r.status for r in again} == {"unchanged"}, [(r.student, r.status, r.reason) for r in again]
    assert not list((ws.course_root / "submitted").glob(f"*/{SAMPLE_ID}.replaced-*"))


@pytest.mark.slow
def test_a_new_hand_in_replaces_the_mirror_and_the_earlier_copy_is_kept(course, tmp_path):
    ws = course["ws"]
    inbox = tmp_path / "inbox"
    shutil.copytree(course["inbox"] / "bob", inbox / "bob")
    shutil.copy(ws.folder("source", SAMPLE_ID) / "numpy_part.ipynb", inbox / "bob" / SAMPLE_ID)  # bob's fixed work
    old = (ws.course_root / "submitted" / "bob" / SAMPLE_ID / "numpy_part.ipynb").read_bytes()
    bob, = api.grade_submissions(SAMPLE_ID, inbox, ws.workdir, **OPTIONS)
    kept, = (ws.course_root / "submitted" / "bob").glob(f"{SAMPLE_ID}.replaced-*")
    assert (kept / "numpy_part.ipynb").read_bytes() == old and kept.name in bob.reason
    assert bob.tests["test_slide"] == (2.0, 2.0) and bob.previous_score == 0.0


@pytest.mark.slow
def test_formgrader_shows_our_grading_and_its_autograde_button_uses_our_pipeline(course, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    ws = course["ws"]
    with jupyterlab(ws.course_root, tmp_path / "runtime") as (url, token):
        browser.get(f"{url}/formgrader?token={token}")  # logs in: the session cookie and _xsrf are set
        browser.get(f"{url}/formgrader/manage_submissions/{SAMPLE_ID}")
        wait = WebDriverWait(browser, 120)
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#main-table .student-id")))
        rows = {row.find_element(By.CSS_SELECTOR, ".student-id").text: row
                for row in browser.find_elements(By.CSS_SELECTOR, "#main-table tr")}
        assert sorted(rows) == sorted(["ada", "bob", CHEAT.case.student, "mallory"])  # mallory: graded zero
        assert rows["ada"].find_element(By.CSS_SELECTOR, ".student-name").text == "Lovelace, Ada"
        assert rows["ada"].find_element(By.CSS_SELECTOR, ".status").text == "needs manual grading"
        assert rows["ada"].find_element(By.CSS_SELECTOR, ".timestamp").text.startswith("2026-11-30 17:05:00")
        cheat_row = rows[CHEAT.case.student]
        shown = cheat_row.find_element(By.CSS_SELECTOR, ".score").text
        cheat_row.find_element(By.CSS_SELECTOR, ".autograde a").click()
        modal = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, "#success-modal, #error-modal")))
        assert modal.get_attribute("id") == "success-modal", modal.text
        browser.get(f"{url}/formgrader/manage_submissions/{SAMPLE_ID}")
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#main-table .student-id")))
        after = {row.find_element(By.CSS_SELECTOR, ".student-id").text: row.find_element(By.CSS_SELECTOR, ".score").text
                 for row in browser.find_elements(By.CSS_SELECTOR, "#main-table tr")}
        assert after[CHEAT.case.student] == shown, (after, browser.page_source[-3000:])
    assert auto_scores(ws)[CHEAT.case.student] == course["scores"][CHEAT.case.student]
