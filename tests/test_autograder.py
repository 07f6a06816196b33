"""The autograder on its sample assignment: right scores, hostile submissions, resume, determinism.

The expected scores come from what each sample submission does (see
`autograder.samples.sample_cases`), not from the grader: a correct answer must
get every point, a blank or sabotaged one none, and every hostile case must
leave the batch, the gradebook and the submissions on disk untouched.
"""
from __future__ import annotations

import csv
import hashlib
import html
import io
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder import api
from autograder.layout import REPO, Workspace
from autograder.samples import SAMPLE_ID, build_sample_submissions, sample_cases
from autograder.sandbox import UID_RANGE, Limits, _processes_of, probe

ISOLATED = probe().namespaces
# TensorFlow's import inside a sandboxed kernel takes seconds on a busy 2-core machine.
OPTIONS = dict(workers=2, cell_timeout=90, submission_timeout=600,
               limits=Limits(memory_mb=1536, processes=256), progress=False)


def files_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def attack_targets(ws: Workspace, submissions: Path, decoy: Path) -> dict[str, list[str]]:
    """The vandal and the snoop aim at this test's own gradebook, sources, submissions and a decoy."""
    source = ws.folder("source", SAMPLE_ID)
    return {
        "delete": [str(ws.workdir / "gradebook.db"), str(submissions / "solution"), str(source), str(decoy)],
        "write": [str(ws.workdir / "gradebook.db"), str(submissions / "blank" / SAMPLE_ID / "numpy_part.ipynb"),
                  str(decoy / "numpy_part.py"), str(ws.workdir / "PWNED.txt"), f"/tmp/PWNED-{os.getpid()}"],
        "read": [str(source / "numpy_part.ipynb"), str(ws.workdir / "gradebook.db"),
                 str(REPO / "autograder" / "samples" / "assignments" / SAMPLE_ID / "numpy_part.py")],
    }


def cell_text(notebook: Path, grade_id: str) -> str:
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return "".join(o.get("ename", "") + o.get("text", "") + "".join(o.get("traceback", []))
                           for o in cell.get("outputs", []))
    raise KeyError(grade_id)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Release the sample, build every sample submission, grade them all in one parallel run."""
    root = tmp_path_factory.mktemp("ag")
    ws = Workspace.create(root / "work")
    api.release(SAMPLE_ID, ws.workdir)
    submissions, decoy = root / "submissions", root / "decoy-course-sources"
    shutil.copytree(REPO / "autograder" / "samples" / "assignments" / SAMPLE_ID, decoy)
    targets = attack_targets(ws, submissions, decoy) if ISOLATED else {"delete": [], "write": [], "read": []}
    build_sample_submissions(submissions, ws.folder("source", SAMPLE_ID), ws.folder("release", SAMPLE_ID), targets)
    before, decoy_before = files_digest(submissions), files_digest(decoy)
    started = time.monotonic()
    results = api.grade_submissions(SAMPLE_ID, submissions, ws.workdir, **OPTIONS)
    seconds = time.monotonic() - started
    print(f"\n[autograder batch] {len(results)} submissions in {seconds:.0f} s")
    return dict(ws=ws, submissions=submissions, decoy=decoy, before=before, decoy_before=decoy_before,
                results={r.student: r for r in results})


@pytest.mark.slow
@pytest.mark.parametrize("case", sample_cases(), ids=lambda c: c.student)
def test_every_sample_gets_the_score_its_behaviour_deserves(batch, case):
    result = batch["results"][case.student]
    assert result.status == "graded", f"{case.student}: {result.status} ({result.reason})"
    if case.expected_tests is not None:
        got = {grade_id: score for grade_id, (score, _) in result.tests.items()}
        assert got == case.expected_tests, f"{case.student} ({case.what}): {result.reason}"
    assert case.reason_contains in result.reason
    assert result.max_score == 6  # 5 autograded points + 1 written answer


@pytest.mark.slow
def test_tensorflow_stderr_inside_a_test_cell_costs_nothing_but_errors_still_do(batch):
    solution = batch["results"]["solution"]
    assert solution.tests["test_softmax"] == (2.0, 2.0)
    graded = batch["ws"].folder("autograded", SAMPLE_ID, "solution") / "tf_part.ipynb"
    # TensorFlow starts in that very cell; stock nbgrader scores it zero for its stderr lines. In the
    # judge they go to the worker's log, and the cell shows only the checks.
    assert "absl" not in cell_text(graded, "test_softmax") and "softmax of two rows" in cell_text(graded, "test_softmax")
    partly = batch["ws"].folder("autograded", SAMPLE_ID, "partly-right") / "tf_part.ipynb"
    assert "GradingError" in cell_text(partly, "test_softmax")
    assert batch["results"]["partly-right"].tests["test_softmax"] == (0.0, 2.0)


@pytest.mark.slow
def test_the_typical_mistakes_file_is_never_released(batch):
    assert (REPO / "autograder" / "samples" / "assignments" / SAMPLE_ID / "mistakes.py").is_file()
    for kind in ("source", "release"):
        shipped = sorted(p.name for p in batch["ws"].folder(kind, SAMPLE_ID).rglob("*"))
        assert shipped and "mistakes.py" not in shipped, (kind, shipped)


@pytest.mark.slow
def test_submissions_and_course_files_are_untouched(batch):
    assert files_digest(batch["submissions"]) == batch["before"]
    assert files_digest(batch["decoy"]) == batch["decoy_before"]
    assert not (batch["ws"].workdir / "PWNED.txt").exists()
    assert not Path(f"/tmp/PWNED-{os.getpid()}").exists()
    leftovers = [uid for uid in UID_RANGE if _processes_of(uid)]
    assert not leftovers, f"sandbox processes still running for uids {leftovers}"


@pytest.mark.slow
@pytest.mark.skipif(not ISOLATED, reason="needs root and mount/network namespaces")
def test_student_code_cannot_read_sources_or_gradebook_nor_write_outside(batch):
    graded = batch["ws"].folder("autograded", SAMPLE_ID, "snoop") / "numpy_part.ipynb"
    snoop = "".join("".join(o.get("text", "") for o in c.get("outputs", []))
                    for c in nbformat.read(graded, as_version=4).cells)
    assert "READ OK" not in snoop and snoop.count("blocked read") == 3, snoop
    vandal = "".join("".join(o.get("text", "") for o in c.get("outputs", []))
                     for c in nbformat.read(batch["ws"].folder("autograded", SAMPLE_ID, "vandal") / "numpy_part.ipynb",
                                            as_version=4).cells)
    assert "DELETED" not in vandal and vandal.count("blocked delete") == 4, vandal
    # The gradebook survived with everyone's grades in it.
    with sqlite3.connect(batch["ws"].workdir / "gradebook.db") as db:
        students = {row[0] for row in db.execute("select student_id from submitted_assignment")}
    assert students == {case.student for case in sample_cases()}


@pytest.mark.slow
def test_feedback_shows_the_teaching_message_and_export_lists_every_student(batch):
    ws = batch["ws"]
    written = api.feedback(SAMPLE_ID, ws.workdir)
    nothing_readable = {"empty", "truncated", "not-json"}
    assert set(written) == {case.student for case in sample_cases()} - nothing_readable
    html = (ws.folder("feedback", SAMPLE_ID, "partly-right") / "numpy_part.html").read_text()
    assert "flipped the kernel (true convolution)" in html  # the typical mistake the test recognised
    # The message comes first, with no traceback through the test's internals (issue 14).
    message = html.index("\u2718 slide")
    assert "Traceback" not in html[message - 3000:message] and "grading.py" not in html
    blank = (ws.folder("feedback", SAMPLE_ID, "blank") / "numpy_part.html").read_text()
    assert "`relu` is not written yet" in blank and "the cell that defines `relu`" in blank
    assert (ws.folder("feedback", SAMPLE_ID, "Ana María López") / "numpy_part.html").exists()
    rows = list(csv.DictReader(io.StringIO(api.export(ws.workdir))))
    by_student = {r["student"]: r for r in rows if r["assignment"] == SAMPLE_ID}
    assert by_student["solution"]["score"] == "5" and by_student["solution"]["max_score"] == "6"
    assert by_student["blank"]["score"] == "0"
    assert set(by_student) == {case.student for case in sample_cases()}


@pytest.mark.slow
def test_regrading_with_one_worker_gives_the_same_scores(batch, tmp_path):
    """Scores depend neither on the number of workers nor on being graded twice."""
    chosen = ["solution", "os-exit", "duplicate-id"]
    subset = tmp_path / "subset"
    for student in chosen:
        shutil.copytree(batch["submissions"] / student, subset / student)
    again = api.grade_submissions(SAMPLE_ID, subset, batch["ws"].workdir, **{**OPTIONS, "workers": 1, "regrade": True})
    for result in again:
        first = batch["results"][result.student]
        assert (result.score, result.tests) == (first.score, first.tests), result.student


def _numpy_only_submissions(batch, folder: Path, students: list[str]) -> None:
    for student in students:
        target = folder / student / SAMPLE_ID
        target.mkdir(parents=True)
        shutil.copy(batch["ws"].folder("source", SAMPLE_ID) / "numpy_part.ipynb", target)


@pytest.mark.slow
def test_kill_9_halfway_then_rerun_finishes_without_duplicates(batch, tmp_path):
    submissions, workdir = tmp_path / "subs", tmp_path / "work"
    students = ["s1", "s2", "s3", "s4"]
    _numpy_only_submissions(batch, submissions, students)
    api.release(SAMPLE_ID, workdir)
    grader = subprocess.Popen([sys.executable, "-m", "autograder", "grade", SAMPLE_ID, "--submissions",
                               str(submissions), "--workdir", str(workdir), "--workers", "1"],
                              cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = workdir / "state" / SAMPLE_ID
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(state.glob("*.json"))) < 2 and grader.poll() is None:
        time.sleep(0.2)
    grader.send_signal(signal.SIGKILL)
    grader.wait()
    done_before = len(list(state.glob("*.json"))) - 1  # released.json is not a submission
    assert 1 <= done_before < len(students), "the grader was not stopped halfway"
    results = api.grade_submissions(SAMPLE_ID, submissions, workdir, **OPTIONS)
    assert [r.status for r in results].count("unchanged") == done_before
    assert all(r.tests == {"test_relu": (1.0, 1.0), "test_slide": (2.0, 2.0), "test_softmax": (0.0, 2.0)}
               for r in results), [(r.student, r.tests, r.reason) for r in results]
    with sqlite3.connect(workdir / "gradebook.db") as db:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        counts = db.execute("select student_id, count(*) from submitted_assignment group by student_id").fetchall()
        grades = db.execute("select count(*) from grade").fetchone()[0]
    assert sorted(counts) == [(s, 1) for s in students]
    assert grades == len(students) * 4  # 3 test cells + 1 written answer each, no duplicates


def test_check_judges_solution_full_and_stub_zero():
    from autograder.api import _judge
    from autograder.pipeline import SubmissionResult

    def result(student, tests):
        return SubmissionResult(student, "a", "graded", 0, 0, "", tests)

    full, zero = result("solution-1", {"t": (2.0, 2.0)}), result("stub-1", {"t": (0.0, 2.0)})
    assert _judge([full, full], [zero, zero]) == (True, [])
    ok, problems = _judge([full, result("solution-2", {"t": (1.0, 2.0)})], [zero, result("stub-2", {"t": (2.0, 2.0)})])
    assert not ok and len(problems) == 2
    assert "full marks" in problems[0] and "solution-2" in problems[0]
    assert "checks nothing" in problems[1] and "stub-2" in problems[1]


@pytest.mark.slow
def test_check_command_proves_the_sample_sound(tmp_path):
    done = subprocess.run([sys.executable, "-m", "autograder", "check", SAMPLE_ID, "--workdir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok" in done.stdout and "5 / 5 5 / 5 5 / 5" in done.stdout and "0 / 5 0 / 5 0 / 5" in done.stdout  # 3 each


def test_bad_input_gets_a_clear_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", "no_such_assignment",
                           "--workdir", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "no assignment 'no_such_assignment'" in done.stderr


def autograded_points(assignment_id: str) -> float:
    """The points of an assignment's test cells, read from its source notebook's nbgrader metadata."""
    total = 0.0
    for path in (REPO / "assignments" / assignment_id).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                total += meta["points"]
    return total


@pytest.mark.slow
def test_demo_command_grades_writes_feedback_and_reruns_without_duplicates(tmp_path):
    """`python -m autograder demo` as main.sh runs it, narrowed to one quick assignment, twice."""
    aid, full = "02_arithmetic", autograded_points("02_arithmetic")
    command = [sys.executable, "-m", "autograder", "demo", aid, "--workdir", str(tmp_path)]
    for _ in range(2):
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout + done.stderr
        rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith(("solution", "blank"))}
        assert f"{full:g} / {full:g}" in rows["solution"] and f"0 / {full:g}" in rows["blank"], done.stdout
    ws = Workspace.create(tmp_path)
    for student in ("solution", "blank"):
        assert list((ws.course_root / "feedback" / student / aid).glob("*.html")), f"no feedback for {student}"
    with sqlite3.connect(tmp_path / "gradebook.db") as db:
        students = db.execute("SELECT student.id FROM submitted_assignment JOIN assignment "
                              "ON assignment.id = submitted_assignment.assignment_id "
                              "JOIN student ON student.id = submitted_assignment.student_id "
                              "WHERE assignment.name = ?", (aid,)).fetchall()
    assert sorted(s for (s,) in students) == ["blank", "solution"]

    unknown = subprocess.run(command[:4] + ["no_such_assignment", "--workdir", str(tmp_path)], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    assert unknown.returncode == 2 and "no assignment named no_such_assignment" in unknown.stderr


@pytest.mark.slow
def test_feedback_shows_hidden_tests_results_not_their_code_unless_asked(batch):
    ws = batch["ws"]
    page = ws.folder("feedback", SAMPLE_ID, "solution") / "numpy_part.html"
    hidden_code = "for n, k in [(10, 1), (7, 7), (50, 5)]"  # the sample's hidden slide test (numpy_part.py)

    def text() -> str:  # the page's text, as the student reads it (code is split into highlighting spans)
        return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))

    try:
        api.feedback(SAMPLE_ID, ws.workdir, show_hidden_tests=True)
        assert hidden_code in text()  # stock nbgrader's feedback: next year's hidden tests leak
        api.feedback(SAMPLE_ID, ws.workdir)
        shown = text()
        assert hidden_code not in shown and "rng.normal" not in shown
        assert "hidden tests ran here" in shown and "np.correlate(x, w" in shown  # the visible test stays
    finally:
        api.feedback(SAMPLE_ID, ws.workdir)
