"""The similarity report (issue 13, item 8): students' solution code compared pairwise, the template subtracted.

Five students answer one convolution exercise: alice and bob hand in the same
code under other names, carol writes her own, dave and erin leave the
released stub as it is. Copying must rank first; the stub, which everyone was
given, must count for nothing, and would count for everything if it were not
subtracted.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import nbformat
import pytest

from autograder import similarity
from autograder.similarity import SimilarityError, similarity_report

AID = "conv"
GIVEN = '''def conv2d(image, kernel, stride=1):
    """Valid cross-correlation of a 2-D image with a 2-D kernel, as a Conv2D layer computes it."""
    kh, kw = kernel.shape
    out_h = (image.shape[0] - kh) // stride + 1
    out_w = (image.shape[1] - kw) // stride + 1
'''  # what the template gives: the stub is this and nbgrader's "raise NotImplementedError()"
STUB = GIVEN + "    # YOUR CODE HERE\n    raise NotImplementedError()\n"
ALICE = GIVEN + '''    result = np.zeros((out_h, out_w))
    for row in range(out_h):
        for col in range(out_w):
            patch = image[row * stride:row * stride + kh, col * stride:col * stride + kw]
            result[row, col] = np.sum(patch * kernel)
    return result
'''
BOB = GIVEN + '''    # slide the kernel over the image
    output = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = image[i * stride:i * stride + kh, j * stride:j * stride + kw]
            output[i, j] = np.sum(window * kernel)   # multiply and add up
    return output
'''
CAROL = GIVEN + '''    windows = np.lib.stride_tricks.sliding_window_view(image, (kh, kw))[::stride, ::stride]
    return np.einsum("ijkl,kl->ij", windows[:out_h, :out_w], kernel)
'''
TEST_CELL = "assert conv2d(np.ones((3, 3)), np.ones((2, 2))).tolist() == [[4.0, 4.0], [4.0, 4.0]]\n"
ANSWER = "A stride of 2 keeps every other position of the output, as a pooling layer would."
CODE = {"alice": ALICE, "bob": BOB, "carol": CAROL, "dave": STUB, "erin": STUB}


def notebook(solution: str, *, marked: bool = True) -> str:
    """The exercise as nbgrader releases it: a solution cell (``marked``: with its metadata) and a locked test."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("Implement `conv2d`."),
        nbformat.v4.new_code_cell(solution, metadata={"nbgrader": {
            "solution": True, "grade": False, "locked": False, "grade_id": "conv2d", "schema_version": 3}}
            if marked else {}),
        nbformat.v4.new_markdown_cell(ANSWER, metadata={"nbgrader": {
            "solution": True, "grade": True, "locked": False, "grade_id": "why", "points": 1, "schema_version": 3}}),
        nbformat.v4.new_code_cell(TEST_CELL, metadata={"nbgrader": {
            "solution": False, "grade": True, "locked": True, "grade_id": "test_conv2d", "points": 1,
            "schema_version": 3}}),
    ]
    return nbformat.writes(nb)


@pytest.fixture
def course(tmp_path) -> tuple[Path, Path, Path]:
    """(submissions, release, output) folders: the five students and the released stub."""
    submissions, release = tmp_path / "submitted", tmp_path / "release" / AID
    for student, code in CODE.items():
        (submissions / student / AID).mkdir(parents=True)
        (submissions / student / AID / "conv.ipynb").write_text(notebook(code))
    release.mkdir(parents=True)
    (release / "conv.ipynb").write_text(notebook(STUB))
    return submissions, release, tmp_path / "out"


def by_pair(report) -> dict[frozenset, similarity.SimilarPair]:
    return {frozenset((p.student_a, p.student_b)): p for p in report.pairs}


def pair(report, a: str, b: str) -> similarity.SimilarPair:
    return by_pair(report)[frozenset((a, b))]


def test_the_copied_pair_ranks_first_and_the_original_pair_is_low(course):
    report = similarity_report(AID, *course)
    assert report.students == sorted(CODE)
    assert len(report.pairs) == 10  # every pair of five, once
    first = report.pairs[0]
    assert {first.student_a, first.student_b} == {"alice", "bob"}
    assert first.similarity_a > 0.9 and first.similarity_b > 0.9  # renamed variables and comments do not hide it
    # Not 0: the k-grams that straddle the end of the given lines and the start of an answer ("... + 1" then
    # "name = np.something(") are in no template k-gram, and carol's answer is two lines long.
    assert pair(report, "alice", "carol").similarity < 0.5
    assert pair(report, "bob", "carol").similarity < 0.5
    sims = [p.similarity for p in report.pairs]
    assert sims == sorted(sims, reverse=True)


def test_the_stub_counts_for_nothing_because_the_template_is_subtracted(course, tmp_path):
    submissions, release, out = course
    report = similarity_report(AID, submissions, release, out)
    for other in ("alice", "bob", "carol", "erin"):
        assert pair(report, "dave", other).similarity == pytest.approx(0, abs=0.01), other
    # The oracle: the same release with its stub cell not marked as a solution subtracts nothing...
    unmarked = tmp_path / "release-unmarked" / AID
    unmarked.mkdir(parents=True)
    (unmarked / "conv.ipynb").write_text(notebook(STUB, marked=False))
    raw = similarity_report(AID, submissions, unmarked, tmp_path / "out-raw")
    assert any("no template subtracted" in line for line in raw.skipped)
    # ...and then the two blank hand-ins look identical, and the stub is most of a blank one's overlap with anyone.
    assert pair(raw, "dave", "erin").similarity_a == pytest.approx(1) == pair(raw, "dave", "erin").similarity_b
    for other in ("alice", "bob", "carol"):
        assert pair(raw, "dave", other).similarity > 0.5, other
    assert pair(raw, "alice", "carol").similarity > pair(report, "alice", "carol").similarity + 0.1


def test_only_solution_cells_are_compared(course):
    report = similarity_report(AID, *course, threshold=0.5)
    html = report.html.read_text()
    assert "for col in range(out_w)" in html and "sliding_window_view" not in html  # carol is not flagged
    assert "tolist()" not in html  # the locked test cell, the same in every notebook, is not the students' code
    assert "every other position" not in html  # markdown answers are not compared (copydetect keeps no prose)


def test_csv_and_html_are_written(course):
    report = similarity_report(AID, *course, threshold=0.5)
    rows = list(csv.reader(io.StringIO(report.csv.read_text())))
    assert rows[0] == similarity.CSV_HEADER
    assert len(rows) == 1 + len(report.pairs)
    top = rows[1]
    assert set(top[:2]) == {"alice", "bob"} and float(top[2]) > 0.9 and float(top[3]) > 0.9 and int(top[4]) > 100
    html = report.html.read_text()
    assert "alice.py" in html and "bob.py" in html
    assert "highlight-red" in html and "patch * kernel" in html and "window * kernel" in html  # side by side, marked
    assert report.shown == 1 == html.count("Token overlap:")
    assert "https://" not in html  # opens offline, contacting nobody
    assert os.path.join(tempfile.gettempdir(), "similarity-") not in html  # the files' names, not their paths


def test_top_and_threshold_limit_the_html_not_the_csv(course):
    submissions, release, out = course
    everything = similarity_report(AID, submissions, release, out, threshold=0)
    above_zero = sum(1 for p in everything.pairs if p.similarity > 0)
    assert everything.shown == above_zero == everything.html.read_text().count("Token overlap:") >= 2
    one = similarity_report(AID, submissions, release, out, threshold=0, top=1)
    assert one.shown == 1 == one.html.read_text().count("Token overlap:")
    assert len(one.pairs) == 10 == len(one.csv.read_text().splitlines()) - 1


def test_a_linked_notebook_is_skipped_and_reported_and_an_unreadable_one_reported(course):
    submissions, release, out = course
    (submissions / "frank" / AID).mkdir(parents=True)
    os.symlink(submissions / "alice" / AID / "conv.ipynb", submissions / "frank" / AID / "conv.ipynb")
    (submissions / "gina" / AID).mkdir(parents=True)
    (submissions / "gina" / AID / "conv.ipynb").write_text('{"cells": [')
    os.symlink(submissions / "alice", submissions / "hugo")
    report = similarity_report(AID, submissions, release, out)
    assert "frank" not in report.students and "gina" not in report.students and "hugo" not in report.students
    assert len(report.pairs) == 10  # nobody is compared with alice's notebook through frank's link
    assert "frank: conv.ipynb is a symbolic link: refused (submit the file itself)" in report.skipped
    assert any(line.startswith("gina: conv.ipynb cannot be read (") for line in report.skipped), report.skipped
    assert any(line.startswith("hugo: hugo is a symbolic link: refused") for line in report.skipped), report.skipped


def test_a_notebook_that_lost_its_metadata_is_still_compared_by_grade_id(course):
    submissions, release, out = course
    nb = nbformat.reads(notebook(BOB), as_version=4)
    nb.cells[1].metadata["nbgrader"] = {"grade_id": "conv2d"}  # "solution" dropped
    (submissions / "bob" / AID / "conv.ipynb").write_text(nbformat.writes(nb))
    report = similarity_report(AID, submissions, release, out)
    assert pair(report, "alice", "bob").similarity > 0.9


def test_submissions_are_only_read(course):
    submissions, release, out = course
    os.symlink(submissions / "alice" / AID / "conv.ipynb", submissions / "dave" / AID / "copy.ipynb")

    def snapshot():
        seen = {}
        for folder, dirs, files in os.walk(submissions):
            for name in dirs + files:
                path = Path(folder, name)
                st = os.lstat(path)
                seen[path] = (st.st_mode, st.st_mtime_ns, st.st_size,
                              os.readlink(path) if path.is_symlink() else
                              path.read_bytes() if path.is_file() else None)
        return seen

    before = snapshot()
    similarity_report(AID, submissions, release, out)
    assert snapshot() == before
    with pytest.raises(SimilarityError, match="only read: choose another output folder"):
        similarity_report(AID, submissions, release, submissions / "alice" / "report")


def test_student_chosen_text_cannot_inject_html_or_a_formula(course):
    submissions, release, out = course
    hostile = "=HYPERLINK(1)<img src=x onerror=alert(1)>"
    (submissions / hostile / AID).mkdir(parents=True)
    (submissions / hostile / AID / "conv.ipynb").write_text(
        notebook(ALICE + '    print("</code></pre><script>alert(2)</script>")\n'))
    report = similarity_report(AID, submissions, release, out)
    assert hostile in report.students
    html = report.html.read_text()
    assert "<img src=x" not in html and "<script" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html  # the student's code, shown as text
    cells = {cell for row in csv.reader(io.StringIO(report.csv.read_text())) for cell in row[:2]}
    assert "'" + hostile in cells and hostile not in cells


def test_file_names_are_safe_and_distinct():
    names = similarity._file_names(["alice", "a b", "a_b", "../x", ".hidden", "é", "a" * 200])
    assert names["alice"] == "alice" and names["a_b"] == "a_b"
    assert len(set(names.values())) == 7
    assert all(similarity._SAFE_NAME.fullmatch(n) for n in names.values())


def test_errors_say_what_to_fix(course, tmp_path):
    submissions, release, out = course
    with pytest.raises(SimilarityError, match=r"run `python -m autograder release conv` first"):
        similarity_report(AID, submissions, tmp_path / "nowhere", out)
    with pytest.raises(SimilarityError, match="submissions folder .* does not exist"):
        similarity_report(AID, tmp_path / "nowhere", release, out)
    for student in ("bob", "carol", "dave", "erin"):
        (submissions / student / AID / "conv.ipynb").write_text(notebook(""))
    with pytest.raises(SimilarityError, match=r"1 student\(s\) .* have solution code for conv: nothing to compare"):
        similarity_report(AID, submissions, release, out)
    with pytest.raises(SimilarityError, match="between 0 and 1"):
        similarity_report(AID, submissions, release, out, threshold=33)
    assert not out.exists()


def test_default_threshold_is_copydetects():
    from copydetect import defaults

    assert similarity.DEFAULT_THRESHOLD == defaults.DISPLAY_THRESHOLD


def test_similarity_command_on_a_released_assignment(tmp_path):
    """`python -m autograder similarity`: the course's release as template; two identical hand-ins pair at 1.00."""
    import shutil
    import subprocess
    import sys

    from autograder import api
    from autograder.layout import REPO, Workspace

    ws = Workspace.create(tmp_path / "work")
    api.release("ag_sample", ws.workdir)
    for student in ("ann", "ben"):
        (tmp_path / "in" / student / "ag_sample").mkdir(parents=True)
        shutil.copy(ws.folder("source", "ag_sample") / "numpy_part.ipynb", tmp_path / "in" / student / "ag_sample")
    command = [sys.executable, "-m", "autograder", "similarity", "ag_sample", "--submissions", str(tmp_path / "in"),
               "--workdir", str(ws.workdir)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    top_row = done.stdout.split("-\n")[1].split()
    assert top_row[:2] == ["ann", "ben"] and top_row[2:5] == ["1.00", "/", "1.00"], done.stdout
    report = ws.workdir / "similarity" / "ag_sample"
    assert (report / "similarity.html").is_file() and "ann,ben,1" in (report / "similarity.csv").read_text()
    done = subprocess.run(command[:4] + ["no_such_assignment"] + command[5:], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2 and "no assignment 'no_such_assignment'" in done.stderr
