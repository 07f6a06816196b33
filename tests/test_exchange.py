"""The exchange, end to end, as two Unix users: the instructor (root, who may start sandboxes) and a student.

`exchange setup` makes the folder; `release` publishes to it; in the student's
own JupyterLab (their uid, their home) the Assignment List fetches and
submits; the formgrader's Collect button brings the hand-in into
``submitted/``, where `grade` looks by default; `feedback` writes the HTML and
the formgrader's Release Feedback button hands it out; the student's "Fetch
Feedback" puts it in their home, hidden tests' code left out.
"""
from __future__ import annotations

import datetime
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder import api
from autograder.exchange import ExchangeError, setup
from autograder.hidden_tests import PLACEHOLDER
from autograder.layout import COURSE_ID, Workspace
from autograder.samples import SAMPLE_ID

from conftest import as_user, jupyterlab, user_env

STUDENT, CLASSMATE = "cnnex-student", "cnnex-classmate"
OPTIONS = dict(workers=1, cell_timeout=90, submission_timeout=600, progress=False)


def unix_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


@pytest.fixture(scope="module")
def machine():
    """A shared folder (others may enter it), two student accounts, each with a fresh home in it."""
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("useradd", "unshare", "setpriv")):
        pytest.skip("needs root, useradd, unshare and setpriv: the test plays several Unix users")
    base = Path(tempfile.mkdtemp(prefix="cnn-exchange-"))
    base.chmod(0o755)
    homes = {}
    for name in (STUDENT, CLASSMATE):
        account = unix_user(name)
        homes[name] = base / "home" / name
        settings = homes[name] / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)  # "No" to JupyterLab's news prompt: its toast would cover the buttons
        (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
        for path in [homes[name], *homes[name].rglob("*")]:
            shutil.chown(path, account.pw_uid, account.pw_gid)
    yield base, homes
    shutil.rmtree(base, ignore_errors=True)


def open_from_menu(wait, menu: str, item: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready

    wait.until(ready.element_to_be_clickable(
        (By.XPATH, f"//div[contains(@class,'lm-MenuBar-itemLabel')][text()='{menu}']"))).click()
    wait.until(ready.element_to_be_clickable(
        (By.XPATH, f"//div[contains(@class,'lm-Menu-itemLabel')][text()='{item}']"))).click()


def formgrader_button(wait, column: str) -> None:
    """Click the sample's button in a column of the formgrader's Manage Assignments; it must report success."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready

    row = wait.until(ready.presence_of_element_located(
        (By.XPATH, f"//tr[.//td[contains(@class,'name')][.//*[text()='{SAMPLE_ID}'] or text()='{SAMPLE_ID}']]")))
    wait.until(lambda _: row.find_elements(By.CSS_SELECTOR, f".{column} a"))[0].click()
    modal = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, "#success-modal, #error-modal")))
    assert modal.get_attribute("id") == "success-modal", modal.text


def run_as(user: str, home: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(as_user(user) + list(command), cwd=home, env=user_env(home, user),
                          capture_output=True, text=True, timeout=120)


def test_setup_refuses_a_root_students_cannot_reach(tmp_path):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    ws = Workspace.create(tmp_path / "work")
    with pytest.raises(ExchangeError, match=r"students cannot reach the exchange: .*closed .*chmod o\+x"):
        setup(ws, closed / "exchange")
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ExchangeError, match="not a folder"):
        setup(ws, tmp_path / "file")


@pytest.mark.slow
def test_release_fetch_submit_collect_grade_feedback_as_two_unix_users(machine, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    base, homes = machine
    home = homes[STUDENT]
    ws = Workspace.create(base / "work")
    api.release(SAMPLE_ID, ws.workdir)
    done = api.setup_exchange(base / "exchange", ws.workdir)
    assert stat.S_IMODE(done.root.stat().st_mode) == 0o1777
    outbound = done.root / COURSE_ID / "outbound" / SAMPLE_ID
    assert sorted(p.name for p in outbound.iterdir()) == sorted(p.name for p in ws.folder("release", SAMPLE_ID).iterdir())
    for name, folder in homes.items():  # the one setting students need, where nbgrader reads a user's own
        shutil.copy(done.student_config, folder / ".jupyter" / "nbgrader_config.py")
    wait = WebDriverWait(browser, 120)

    def assignment_in(list_id: str):
        return wait.until(ready.presence_of_element_located(
            (By.XPATH, f"//div[@id='{list_id}']//div[contains(@class, 'list_item')][.//*[text()='{SAMPLE_ID}']]")))

    # The student: their own JupyterLab, their uid; the Assignment List from nbgrader's menu.
    with jupyterlab(home, home / ".runtime", user=STUDENT) as (url, token):
        url = url.replace("127.0.0.1", "localhost")  # its own cookies, apart from the instructor's server
        browser.get(f"{url}/lab?token={token}")
        open_from_menu(wait, "Nbgrader", "Assignment List")
        assignment_in("released_assignments_list").find_element(By.CSS_SELECTOR, ".item_status button").click()
        assignment_in("fetched_assignments_list")
        assert sorted(p.name for p in (home / SAMPLE_ID).iterdir()) == ["numpy_part.ipynb", "tf_part.ipynb"]
        assert (home / SAMPLE_ID / "numpy_part.ipynb").stat().st_uid == pwd.getpwnam(STUDENT).pw_uid
        solved = json.loads((ws.folder("source", SAMPLE_ID) / "numpy_part.ipynb").read_text())
        save = urllib.request.Request(  # what the notebook editor's Save does
            f"{url}/api/contents/{SAMPLE_ID}/numpy_part.ipynb", method="PUT",
            data=json.dumps({"type": "notebook", "format": "json", "content": solved}).encode(),
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
        urllib.request.urlopen(save, timeout=30)
        browser.refresh()
        open_from_menu(wait, "Nbgrader", "Assignment List")
        assignment_in("fetched_assignments_list").find_element(By.CSS_SELECTOR, ".item_status button").click()
        assignment_in("submitted_assignments_list")

    inbound = done.root / COURSE_ID / "inbound"
    peek = run_as(CLASSMATE, homes[CLASSMATE], "ls", str(inbound))
    assert peek.returncode != 0 and "Permission denied" in peek.stderr, "a classmate must not list the hand-ins"

    # The instructor: the formgrader's Collect button, then our grade (the course's submitted/ by default).
    with jupyterlab(ws.course_root, base / "runtime") as (url, token):
        browser.get(f"{url}/formgrader?token={token}")
        browser.get(f"{url}/formgrader/manage_assignments")
        formgrader_button(wait, "collect")
        collected = ws.folder("submitted", SAMPLE_ID, STUDENT)
        assert {"numpy_part.ipynb", "tf_part.ipynb", "timestamp.txt", "submission_secret.txt"} <= set(os.listdir(collected))

        due = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)  # handed in ~1 h late
        api.set_due(SAMPLE_ID, f"{due:%Y-%m-%d %H:%M}", penalty="10%/day", workdir=ws.workdir)
        result, = api.grade_submissions(SAMPLE_ID, None, ws.workdir, **OPTIONS)
        assert (result.student, result.status) == (STUDENT, "graded"), result.reason
        with Gradebook(ws.db_url, COURSE_ID) as gb:
            grades = {(nb.name, g.name): (g.auto_score, g.max_score) for nb in gb.find_submission(SAMPLE_ID, STUDENT).notebooks
                      for g in nb.grades if g.cell_type == "code"}
        assert all(score == top for (nb, _), (score, top) in grades.items() if nb == "numpy_part"), grades
        assert all(score == 0 for (nb, _), (score, _top) in grades.items() if nb == "tf_part"), grades  # the stub
        earned = sum(score for score, _top in grades.values())
        assert result.score == pytest.approx(0.9 * earned), result  # one started day late: 10% off
        assert re.fullmatch(rf"late by (0 h 5\d|1 h \d) min: -{0.1 * earned:g} points", result.late), result.late
        assert api.feedback(SAMPLE_ID, ws.workdir)[STUDENT]

        browser.get(f"{url}/formgrader/manage_assignments")
        shown = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#main-table .duedate"))).text
        assert f"{due:%Y-%m-%d %H:%M}" in shown, shown
        formgrader_button(wait, "release-feedback")

    # The student again: "Fetch Feedback" in the Assignment List.
    with jupyterlab(home, home / ".runtime", user=STUDENT) as (url, token):
        url = url.replace("127.0.0.1", "localhost")
        browser.get(f"{url}/lab?token={token}")
        open_from_menu(wait, "Nbgrader", "Assignment List")
        button = assignment_in("submitted_assignments_list").find_element(By.CSS_SELECTOR, ".item_status button")
        assert button.text == "Fetch Feedback"
        button.click()
        wait.until(lambda _: list((home / SAMPLE_ID / "feedback").glob("*/numpy_part.html")))
    html_file, = (home / SAMPLE_ID / "feedback").glob("*/numpy_part.html")
    assert html_file.stat().st_uid == pwd.getpwnam(STUDENT).pw_uid
    html = html_file.read_text()
    assert PLACEHOLDER.lstrip("# ") in html and "slide([1,2,0,-1,3], [1,0,-2])" in html
    assert "default_rng" not in html, "the hidden test's code reached the student"
    assert "Late submission penalty (Score: -" in html


def test_feedback_release_names_hand_ins_that_did_not_come_through_the_exchange(tmp_path, capsys):
    from autograder.__main__ import main

    work = tmp_path / "work"
    assert main(["feedback", SAMPLE_ID, "--release", "--workdir", str(work)]) == 2
    assert "run `python -m autograder exchange setup` first" in capsys.readouterr().err
    shared = Path(tempfile.mkdtemp(prefix="cnn-exchange-"))
    shared.chmod(0o755)
    assert main(["exchange", "setup", "--root", str(shared / "exchange"), "--workdir", str(work)]) == 0
    assert f"exchange ready: {shared / 'exchange'}" in capsys.readouterr().out
    folder = Workspace.create(work).folder("feedback", SAMPLE_ID, "ada")
    folder.mkdir(parents=True)
    (folder / "numpy_part.html").write_text("<html>feedback</html>")  # e.g. graded from an LMS download
    assert main(["feedback", SAMPLE_ID, "--release", "--workdir", str(work)]) == 0
    out = capsys.readouterr().out
    assert "released to the exchange: nobody" in out and "not handed in through the exchange" in out and "ada" in out
    shutil.rmtree(shared)
