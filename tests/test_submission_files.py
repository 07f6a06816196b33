"""Submission files are data, never pointers (issue 12, item 4).

A link to the instructor's or a classmate's notebook, a named pipe, a device,
a socket or a sparse giant are refused with a reason, without ever being
followed, blocking the grader or filling its memory; student-chosen text
cannot forge a line in a report or a formula in a spreadsheet.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import socket
import stat
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from autograder import api, submission_files
from autograder.layout import COURSE_ID, Workspace, tree_digest
from autograder.pipeline import SubmissionResult, discover
from autograder.report import print_results
from autograder.samples import NUMPY_ONLY, SAMPLE_ID
from autograder.submission_files import (Refused, csv_cell, list_notebooks, parse_timestamp, read_regular,
                                         read_timestamp, safe_label)

LINK_REFUSED = "is a symbolic link: refused (submit the file itself)"


@pytest.fixture
def submission(tmp_path) -> Path:
    """``<root>/ana/hw/``, holding one honest notebook; the root is ``tmp_path``."""
    folder = tmp_path / "ana" / "hw"
    folder.mkdir(parents=True)
    (folder / "honest.ipynb").write_bytes(b'{"cells": []}')
    return folder


def finishes_quickly(fn, seconds: float = 10.0):
    """``fn()``'s result, or a failure if it takes longer (a blocked open on a FIFO never returns)."""
    outcome = {}

    def call():
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: it blocked"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# -- what is read, what is refused ---------------------------------------------------------------


def test_regular_notebooks_are_read_and_links_to_files_refused(submission, tmp_path):
    instructor = tmp_path / "source.ipynb"
    instructor.write_bytes(b"THE INSTRUCTOR'S SOLUTION")
    (submission / "stolen.ipynb").symlink_to(instructor)
    (submission / "dangling.ipynb").symlink_to(tmp_path / "nowhere")
    files, refused = list_notebooks(submission, root=tmp_path)
    assert files == {"honest.ipynb": b'{"cells": []}'}
    assert refused == {"stolen.ipynb": LINK_REFUSED, "dangling.ipynb": LINK_REFUSED}
    with pytest.raises(Refused, match="stolen.ipynb is a symbolic link: refused"):
        read_regular(submission / "stolen.ipynb", 1000)


def test_a_linked_student_folder_or_assignment_folder_is_refused_not_followed(submission, tmp_path):
    (tmp_path / "linker").symlink_to(tmp_path / "ana")                 # the student folder is a link
    (tmp_path / "copier").mkdir()
    (tmp_path / "copier" / "hw").symlink_to(submission)                 # the assignment folder is a link
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "hw").write_text("a file, not a folder")
    with pytest.raises(Refused, match=r"^linker is a symbolic link: refused \(submit the folder itself\)$"):
        list_notebooks(tmp_path / "linker" / "hw", root=tmp_path)
    with pytest.raises(Refused, match=r"^copier/hw is a symbolic link: refused"):
        list_notebooks(tmp_path / "copier" / "hw", root=tmp_path)
    with pytest.raises(Refused, match=r"^plain/hw is a regular file, not a folder"):
        list_notebooks(tmp_path / "plain" / "hw", root=tmp_path)
    assert read_timestamp(tmp_path / "linker" / "hw", root=tmp_path) == (None, "")  # said once, with the notebooks


def test_discover_lists_linked_folders_so_their_refusal_reaches_the_table(submission, tmp_path):
    (tmp_path / "linker").symlink_to(tmp_path / "ana")
    (tmp_path / "copier").mkdir()
    (tmp_path / "copier" / "hw").symlink_to(submission)
    (tmp_path / "no-hw").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "README").write_text("not a student")
    assert [student for student, _ in discover(tmp_path, "hw")] == ["ana", "copier", "linker"]


def test_a_fifo_is_refused_without_blocking(submission, tmp_path):
    os.mkfifo(submission / "pipe.ipynb")
    os.mkfifo(submission / "timestamp.txt")
    files, refused = finishes_quickly(lambda: list_notebooks(submission, root=tmp_path))
    assert refused == {"pipe.ipynb": "is a named pipe (FIFO): refused (submit the file itself)"}
    _, note = finishes_quickly(lambda: read_timestamp(submission, root=tmp_path))
    assert note == "timestamp.txt is a named pipe (FIFO): refused (submit the file itself); submission time unknown"
    finishes_quickly(lambda: tree_digest(submission))


def test_a_unix_socket_is_refused(submission, tmp_path, monkeypatch):
    monkeypatch.chdir(submission)  # a relative name: socket paths are limited to 108 bytes
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("sock.ipynb")
        _, refused = list_notebooks(submission, root=tmp_path)
    assert refused == {"sock.ipynb": "is a socket: refused (submit the file itself)"}


def test_a_device_node_is_refused_without_being_opened(submission, tmp_path, monkeypatch):
    try:
        os.mknod(submission / "zero.ipynb", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: endless
    except PermissionError:
        pytest.skip("creating a device node needs root (CAP_MKNOD)")
    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, *a, **k: opened.append(path) or real_open(path, *a, **k))
    _, refused = finishes_quickly(lambda: list_notebooks(submission, root=tmp_path))
    assert refused == {"zero.ipynb": "is a character device: refused (submit the file itself)"}
    assert "zero.ipynb" not in opened
    finishes_quickly(lambda: tree_digest(submission))


def test_a_sparse_giant_is_refused_by_its_size_before_any_read(submission, tmp_path, monkeypatch):
    giant = submission / "giant.ipynb"
    giant.touch()
    os.truncate(giant, 1_500_000_000)  # 1.5 GB of holes: no disk used, but 1.5 GB if read
    _, refused = list_notebooks(submission, root=tmp_path)
    assert refused["giant.ipynb"] == ("is 1500.0 MB, over the 50.0 MB limit: refused "
                                      "(submit a smaller file; a notebook shrinks when its outputs are cleared)")
    reads = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    with pytest.raises(Refused):
        read_regular(giant, submission_files.NOTEBOOK_LIMIT)
    assert not reads, "the size alone must refuse it"


def test_at_most_limit_plus_one_bytes_are_read_even_when_the_size_lies(submission, tmp_path, monkeypatch):
    """A file that grows after fstat (here: fstat says 0 bytes of a 1.5 GB file) costs no more than the limit."""
    giant = submission / "grows.ipynb"
    giant.touch()
    os.truncate(giant, 1_500_000_000)
    real_fstat = os.fstat

    def fstat_says_empty(fd):
        st = real_fstat(fd)
        return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, 0,
                               st.st_atime, st.st_mtime, st.st_ctime))

    monkeypatch.setattr(os, "fstat", fstat_says_empty)
    tracemalloc.start()
    try:
        with pytest.raises(Refused, match="grew past the 2.0 MB limit while it was read"):
            read_regular(giant, 2_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000, f"{peak / 1e6:.0f} MB allocated to refuse a file over a 2 MB limit"


def test_size_limits_are_inclusive(tmp_path):
    (tmp_path / "exact").write_bytes(b"x" * 1000)
    (tmp_path / "over").write_bytes(b"x" * 1001)
    assert read_regular(tmp_path / "exact", 1000) == b"x" * 1000
    with pytest.raises(Refused, match="over is 1001 bytes, over the 1000 bytes limit"):
        read_regular(tmp_path / "over", 1000)
    (tmp_path / "timestamp.txt").write_text("2024-05-01 10:00:00 UTC" + " " * submission_files.SIDE_FILE_LIMIT)
    assert read_timestamp(tmp_path, root=tmp_path) == (
        None, "timestamp.txt is 1.0 MB, over the 1.0 MB limit: refused (submit a smaller file; a notebook "
              "shrinks when its outputs are cleared); submission time unknown")


@pytest.mark.parametrize("swap", ["symlink", "fifo"])
def test_a_file_swapped_after_the_lstat_is_caught_at_open(submission, tmp_path, monkeypatch, swap):
    target = submission / "honest.ipynb"
    real_lstat = os.lstat

    def lstat_then_swap(path, *args, **kwargs):
        result = real_lstat(path, *args, **kwargs)
        if os.fspath(path) == "honest.ipynb":  # the attacker wins the race right after our look
            os.unlink(target)
            target.symlink_to(tmp_path / "elsewhere") if swap == "symlink" else os.mkfifo(target)
        return result

    monkeypatch.setattr(os, "lstat", lstat_then_swap)
    _, refused = finishes_quickly(lambda: list_notebooks(submission, root=tmp_path))
    kind = "a symbolic link" if swap == "symlink" else "a named pipe (FIFO)"
    assert refused == {"honest.ipynb": f"is {kind}: refused (submit the file itself)"}


# -- the digest that decides "unchanged" ---------------------------------------------------------


def _old_tree_digest(folder: Path) -> str:
    """tree_digest before links were told apart (records written by it must stay valid)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode("utf-8", "surrogateescape") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def test_tree_digest_keeps_its_value_for_regular_files_and_never_follows_links(submission, tmp_path):
    (submission / "data").mkdir()
    (submission / "data" / "x.csv").write_text("1,2\n")
    (submission / "data.txt").write_text("sorted after data/")
    assert tree_digest(submission) == _old_tree_digest(submission)
    target = tmp_path / "classmate.ipynb"
    target.write_text("v1")
    (submission / "link.ipynb").symlink_to(target)
    (submission / "linked-dir").symlink_to(tmp_path)  # a loop, if it were followed
    with_link = tree_digest(submission)
    assert with_link != _old_tree_digest(tmp_path / "nothing")
    target.write_text("v2: the classmate's file changes, the student's submission does not")
    assert tree_digest(submission) == with_link
    (submission / "link.ipynb").unlink()
    (submission / "link.ipynb").symlink_to(tmp_path / "another")
    assert tree_digest(submission) != with_link  # where a link points is part of the submission


def test_tree_digest_streams_a_sparse_giant(submission):
    """Hashing costs time, never memory (200 MB keeps the test quick; reading it whole would show)."""
    giant = submission / "giant.bin"
    giant.touch()
    os.truncate(giant, 200_000_000)
    tracemalloc.start()
    try:
        tree_digest(submission)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000, f"{peak / 1e6:.0f} MB allocated to hash a 200 MB file"


# -- student text in reports ----------------------------------------------------------------------


def test_safe_label_keeps_every_label_on_one_visible_line():
    assert safe_label("Ana María López") == "Ana María López"
    assert safe_label("o'brien; rm -rf ~ $(id) `id` | > &") == "o'brien; rm -rf ~ $(id) `id` | > &"
    hostile = "mallory\nclassmate  5 of 6\r\x1b[2K\u202egnp.\u2028x\x00\t\x85"
    label = safe_label(hostile)
    assert label == r"mallory\nclassmate  5 of 6\r\x1b[2K\u202egnp.\u2028x\x00\t\x85"
    assert len(label.splitlines()) == 1 and label.isprintable()
    assert safe_label("a\nb") != safe_label("a\\nb")  # a literal backslash cannot pass for an escape
    assert safe_label("\udcff") == r"\udcff"  # a file name that is not UTF-8


def test_report_rows_cannot_be_forged():
    forged = SubmissionResult("mallory\nclassmate  6 / 6", "hw", "graded", 0.0, 6.0,
                              "bad.ipynb\n  classmate: all good is a symbolic link", {"t": (0.0, 5.0)})
    honest = SubmissionResult("classmate", "hw", "graded", 3.0, 6.0, "", {"t": (3.0, 5.0)})
    out = io.StringIO()
    print_results("hw", [forged, honest], out)
    lines = out.getvalue().splitlines()
    rows = [line for line in lines if line.startswith("classmate")]
    assert len(rows) == 1 and "3 / 6" in rows[0], out.getvalue()
    assert not any(line.lstrip().startswith("classmate:") for line in lines)
    assert r"  mallory\nclassmate  6 / 6: bad.ipynb\n  classmate: all good is a symbolic link" in lines


@pytest.mark.parametrize("text, cell", [
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", r"\t=1"), ("\r=1", r"\r=1"),
    ("ana", "ana"), ("Ana María, \"the second\"", "Ana María, \"the second\""),
])
def test_csv_cells_are_one_line_and_never_formulas(text, cell):
    assert csv_cell(text) == cell


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's own, while it adds a submission
def test_export_writes_one_escaped_row_per_student(tmp_path):
    from nbgrader.api import Gradebook

    ws = Workspace.create(tmp_path)
    students = ["ana", "=cmd|' /C calc'!A0", "mallory\nclassmate,6,6", "o\"neil, jr"]
    with Gradebook(ws.db_url, COURSE_ID) as gb:
        gb.add_assignment("hw")
        for student in students:
            gb.add_student(student)
            gb.add_submission("hw", student)
    text = api.export(tmp_path)
    assert len(text.splitlines()) == 1 + len(students)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["student"] for r in rows) == sorted(["ana", "'=cmd|' /C calc'!A0",
                                                          r"mallory\nclassmate,6,6", "o\"neil, jr"])
    assert all(r["assignment"] == "hw" for r in rows)


def test_a_timestamp_is_kept_only_when_it_is_a_date(tmp_path):
    assert parse_timestamp(" 2024-05-01 10:00:00.123456 UTC\n") == "2024-05-01 10:00:00.123456 UTC"
    assert parse_timestamp("2024-05-01 10:00:00 Europe/Paris") == "2024-05-01 10:00:00 Europe/Paris"
    assert parse_timestamp("2024-05-01T10:00:00+02:00") == "2024-05-01T10:00:00+02:00"
    for text in ("tomorrow, promise", "", "2024-05-01 10:00:00 /dev/zero", "2024-05-01 10:00:00 ../../etc/x",
                 "2024-05-01 10:00:00 :/proc/self/fd/0", "9" * 200):
        assert parse_timestamp(text) is None, text
    (tmp_path / "timestamp.txt").write_text("late\n=cmd")
    assert read_timestamp(tmp_path, root=tmp_path) == (
        None, "timestamp.txt does not hold a date ('late\\n=cmd'): ignored")
    (tmp_path / "timestamp.txt").unlink()
    assert read_timestamp(tmp_path, root=tmp_path) == (None, "")


# -- through the real pipeline ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(600)  # a grader blocked on a FIFO fails here instead of hanging the suite
def test_linked_and_special_notebooks_score_zero_with_their_reason_and_hurt_no_one(tmp_path):
    """The grading of the sample assignment, with every kind of pointer a student could submit."""
    ws = Workspace.create(tmp_path / "work")
    api.release(SAMPLE_ID, ws.workdir)
    solution = ws.folder("source", SAMPLE_ID) / "numpy_part.ipynb"
    subs = tmp_path / "submissions"

    def folder(student: str) -> Path:
        (subs / student / SAMPLE_ID).mkdir(parents=True)
        return subs / student / SAMPLE_ID

    shutil.copy(solution, folder("classmate"))
    (subs / "classmate" / SAMPLE_ID / "timestamp.txt").write_text("2024-05-01 10:00:00.000000 UTC")
    linker = folder("linker")
    (linker / "numpy_part.ipynb").symlink_to(solution)                              # the instructor's
    (linker / "tf_part.ipynb").symlink_to(Path("../../classmate", SAMPLE_ID, "numpy_part.ipynb"))  # a classmate's
    os.mkfifo(folder("fifo") / "numpy_part.ipynb")
    os.mkfifo(subs / "fifo" / SAMPLE_ID / "timestamp.txt")
    newline_id = "mallory\nclassmate  5 of 6"
    shutil.copy(solution, folder(newline_id))
    (subs / newline_id / SAMPLE_ID / "timestamp.txt").write_text("the night before, honest")
    (subs / "dirlink").symlink_to(subs / "classmate")
    (subs / "assignlink").mkdir()
    (subs / "assignlink" / SAMPLE_ID).symlink_to(subs / "classmate" / SAMPLE_ID)

    started = time.monotonic()
    results = api.grade_submissions(SAMPLE_ID, subs, ws.workdir, workers=2, cell_timeout=60, progress=False)
    print(f"\n[submission files] {len(results)} submissions in {time.monotonic() - started:.0f} s")
    by = {r.student: r for r in results}
    assert set(by) == {"classmate", "linker", "fifo", newline_id, "dirlink", "assignlink"}
    assert all(r.status == "graded" for r in results), [(r.student, r.status, r.reason) for r in results]

    def tests(student):
        return {grade_id: score for grade_id, (score, _) in by[student].tests.items()}

    zero = dict.fromkeys(NUMPY_ONLY, 0.0)
    assert tests("classmate") == NUMPY_ONLY and tests(newline_id) == NUMPY_ONLY
    for student in ("linker", "fifo", "dirlink", "assignlink"):
        assert tests(student) == zero, (student, by[student].reason)
    assert f"numpy_part.ipynb {LINK_REFUSED}: scored zero" in by["linker"].reason
    assert f"tf_part.ipynb {LINK_REFUSED}: scored zero" in by["linker"].reason
    assert "numpy_part.ipynb is a named pipe (FIFO): refused" in by["fifo"].reason
    assert "timestamp.txt is a named pipe (FIFO): refused" in by["fifo"].reason
    assert "dirlink is a symbolic link: refused (submit the folder itself)" in by["dirlink"].reason
    assert f"assignlink/{SAMPLE_ID} is a symbolic link: refused" in by["assignlink"].reason
    assert "timestamp.txt does not hold a date" in by[newline_id].reason
    assert by["classmate"].reason == "tf_part.ipynb not submitted: scored zero"  # nothing about timestamp or links

    table = io.StringIO()
    print_results(SAMPLE_ID, results, table)
    lines = table.getvalue().splitlines()
    assert sum(line.startswith("classmate ") for line in lines) == 1, table.getvalue()
    assert any(line.startswith(r"mallory\nclassmate  5 of 6") for line in lines)
    assert any(f"linker: numpy_part.ipynb {LINK_REFUSED}" in line for line in lines)
    exported = [line for line in api.export(ws.workdir).splitlines() if f",{SAMPLE_ID}," in line]
    assert len(exported) == len(results) and r"mallory\nclassmate  5 of 6,ag_sample,3,6" in exported

    graded = ws.folder("autograded", SAMPLE_ID, "classmate") / "timestamp.txt"
    assert graded.read_text() == "2024-05-01 10:00:00.000000 UTC"
    assert not (ws.folder("autograded", SAMPLE_ID, "fifo") / "timestamp.txt").exists()
    assert [r.status for r in api.grade_submissions(SAMPLE_ID, subs, ws.workdir, workers=2, progress=False)
            if r.student in ("classmate", newline_id)] == ["unchanged", "unchanged"]
