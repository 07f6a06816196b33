"""The LMS round trip (issue 13, item 5): Canvas's and Moodle's bulk downloads in, grades out for each.

The zips are built here with zipfile in each LMS's layout; the roster is
imported into one gradebook for the module (creating a gradebook is the slow
part). Every expectation (who a file belongs to, what it is written as, the
CSV rows) is written out by hand from the files below.
"""
from __future__ import annotations

import csv
import hashlib
import io
import stat
import warnings
import zipfile
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from autograder import api, lms
from autograder.layout import COURSE_ID, Workspace
from autograder.lms import LmsError, LmsWarning, Skipped, apply_import, format_applied, format_plan, plan_lms_import
from autograder.submission_files import parse_timestamp

AID = "ps1"
NOTEBOOKS = ["conv.ipynb", "train.ipynb"]
# Canvas's gradebook export gives the Canvas IDs; our own CSV adds emails and students Canvas does not have.
CANVAS_ROSTER = ("Student,ID,SIS User ID,SIS Login ID,Section\n"
                 '"Lovelace, Ada",1001,S-1,ada,CS101\n'
                 '"Hopper, Grace",1002,S-2,grace,CS101\n')
PLAIN_ROSTER = ("id,first_name,last_name,email\n"
                "ada,Ada,Lovelace,ada@uni.example\n"
                "edsger,Edsger,Dijkstra,ewd@uni.example\n"
                "alan1,Alan,Turing,a1@uni.example\n"
                "alan2,Alan,Turing,a2@uni.example\n")
MON = (2026, 11, 30, 9, 0, 0)
TUE = (2026, 12, 1, 9, 0, 0)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Workspace:
    """The roster above, and ps1 graded: ada 7.5, grace 10, edsger 6, two strangers 4 and 3 (out of 10)."""
    root = tmp_path_factory.mktemp("course")
    ws = Workspace.create(root / "w")
    for name, text in (("canvas.csv", CANVAS_ROSTER), ("plain.csv", PLAIN_ROSTER)):
        (root / name).write_text(text)
        api.import_roster(root / name, ws.workdir)
    scores = {"ada": 7.5, "grace": 10, "edsger": 6, "canvas-1003": 4, "moodle-zoe-ng": 3}
    with Gradebook(ws.db_url, COURSE_ID) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own, while it adds a submission
        gb.add_assignment(AID)
        gb.add_notebook("conv", AID)
        gb.add_grade_cell("tests", "conv", AID, max_score=10, cell_type="code")
        for student, score in scores.items():
            gb.update_or_create_student(student)
            gb.add_submission(AID, student)
            gb.find_grade("tests", "conv", AID, student).manual_score = score
        gb.db.commit()
    return ws


def make_zip(path: Path, entries: list[tuple[str, bytes, tuple]], symlinks: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, date_time in entries:
            info = zipfile.ZipInfo(name, date_time)
            if name in symlinks:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, data)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def plan(course: Workspace, zip_path: Path, **options) -> lms.ImportPlan:
    return plan_lms_import(zip_path, AID, course.db_url, COURSE_ID, NOTEBOOKS, **options)


def test_canvas_download_maps_each_file_to_its_student_and_the_highest_resubmission_wins(course, tmp_path):
    zip_path = make_zip(tmp_path / "submissions.zip", [
        ("lovelaceada_1001_501_conv.ipynb", b"ada first", TUE),
        ("lovelaceada_LATE_1001_502_conv-2.ipynb", b"ada third", MON),  # older by date, but Canvas's -2
        ("lovelaceada_1001_503_conv-1.ipynb", b"ada second", TUE),
        ("lovelaceada_1001_504_notes.pdf", b"%PDF", TUE),
        ("hoppergrace_1002_505_Train (2).ipynb", b"grace", TUE),
        ("turingalan_1003_506_conv.ipynb", b"alan", MON),
    ])
    before = digest(zip_path)
    dest = tmp_path / "submitted"
    the_plan = plan(course, zip_path, timezone="America/New_York")
    text = format_plan(the_plan)
    assert not dest.exists() and digest(zip_path) == before  # planning and printing write nothing

    assert the_plan.layout == "Canvas"
    ada, stranger, grace = the_plan.students
    assert [s.student for s in the_plan.students] == ["ada", "canvas-1003", "grace"]
    assert {nb: e.name for nb, e in ada.notebooks.items()} == {"conv.ipynb": "lovelaceada_LATE_1001_502_conv-2.ipynb"}
    assert sorted(old.entry for old in ada.older) == ["lovelaceada_1001_501_conv.ipynb",
                                                      "lovelaceada_1001_503_conv-1.ipynb"]
    assert ada.missing == ["train.ipynb"] and ada.stranger == "" and "marked LATE" in ada.lms
    assert ada.timestamp == "2026-11-30 14:00:00.000000 UTC"  # 9:00 in New York, the LMS's clock
    assert parse_timestamp(ada.timestamp) == ada.timestamp
    assert {nb: e.name for nb, e in grace.notebooks.items()} == {"train.ipynb": "hoppergrace_1002_505_Train (2).ipynb"}
    assert "Canvas ID 1003" in stranger.stranger
    assert the_plan.extra == [Skipped("lovelaceada_1001_504_notes.pdf", "not one of the assignment's notebooks", "ada")]
    assert the_plan.refused == []
    for line in ("lovelaceada_LATE_1001_502_conv-2.ipynb -> ada/ps1/conv.ipynb",
                 "hoppergrace_1002_505_Train (2).ipynb -> grace/ps1/train.ipynb",
                 "turingalan_1003_506_conv.ipynb -> canvas-1003/ps1/conv.ipynb",
                 "lovelaceada_1001_501_conv.ipynb: older copy of conv.ipynb: lovelaceada_LATE_1001_502_conv-2.ipynb "
                 "is imported (the highest -N, 2)",
                 "not on the roster (imported under these ids): canvas-1003",
                 "lovelaceada_1001_504_notes.pdf (ada): not one of the assignment's notebooks"):
        assert line in text, line

    done = apply_import(the_plan, dest)
    assert [(a.student, a.status) for a in done] == [("ada", "added"), ("canvas-1003", "added"), ("grace", "added")]
    assert files_under(dest) == {
        "ada/ps1/conv.ipynb": b"ada third", "ada/ps1/timestamp.txt": b"2026-11-30 14:00:00.000000 UTC\n",
        "canvas-1003/ps1/conv.ipynb": b"alan", "canvas-1003/ps1/timestamp.txt": b"2026-11-30 14:00:00.000000 UTC\n",
        "grace/ps1/train.ipynb": b"grace", "grace/ps1/timestamp.txt": b"2026-12-01 14:00:00.000000 UTC\n",
    }
    again = apply_import(the_plan, dest)
    assert [a.status for a in again] == ["unchanged"] * 3 and digest(zip_path) == before
    assert format_applied(again) == "ada: unchanged\ncanvas-1003: unchanged\ngrace: unchanged\n"


def test_moodle_download_matches_full_names_and_the_latest_copy_wins(course, tmp_path):
    zip_path = make_zip(tmp_path / "moodle.zip", [
        ("Ada Lovelace_77_assignsubmission_file_/conv.ipynb", b"ada early", TUE),
        ("Ada Lovelace_77_assignsubmission_file_/work/conv (2).ipynb", b"ada late", (2026, 12, 1, 10, 0, 0)),
        ("Ada Lovelace_77_assignsubmission_onlinetext_/onlinetext.html", b"<p>hi</p>", TUE),
        ("dijkstra EDSGER_80_assignsubmission_file_/Conv.ipynb", b"edsger", MON),  # last name first, any case
        ("Alan Turing_78_assignsubmission_file_/conv.ipynb", b"alan?", MON),       # two Alan Turings on the roster
        ("Zoë Ng_79_assignsubmission_file_train.ipynb", b"zoe", MON),              # Moodle before 3.1: flat
        ("Sam Lee_81_assignsubmission_file_/conv.ipynb", b"sam 81", MON),
        ("Sam Lee_82_assignsubmission_file_/conv.ipynb", b"sam 82", MON),
    ])
    the_plan = plan(course, zip_path)
    assert the_plan.layout == "Moodle"
    found = {s.student: s for s in the_plan.students}
    assert sorted(found) == ["ada", "edsger", "moodle-alan-turing", "moodle-sam-lee-81", "moodle-sam-lee-82",
                             "moodle-zoë-ng"]
    assert found["ada"].notebooks["conv.ipynb"].name == "Ada Lovelace_77_assignsubmission_file_/work/conv (2).ipynb"
    assert [old.entry for old in found["ada"].older] == ["Ada Lovelace_77_assignsubmission_file_/conv.ipynb"]
    assert "dated 2026-12-01 10:00:00.000000 UTC" in found["ada"].older[0].why
    assert found["edsger"].notebooks["conv.ipynb"].name == "dijkstra EDSGER_80_assignsubmission_file_/Conv.ipynb"
    assert found["ada"].stranger == found["edsger"].stranger == ""
    assert "fits alan1, alan2" in found["moodle-alan-turing"].stranger
    assert "nobody is named Zoë Ng" in found["moodle-zoë-ng"].stranger
    assert list(found["moodle-zoë-ng"].notebooks) == ["train.ipynb"]
    assert the_plan.extra == [Skipped("Ada Lovelace_77_assignsubmission_onlinetext_/onlinetext.html",
                                      "Moodle's onlinetext submission, not a file", "ada")]
    apply_import(the_plan, tmp_path / "s")
    written = files_under(tmp_path / "s")
    assert written["ada/ps1/conv.ipynb"] == b"ada late"
    assert written["moodle-sam-lee-82/ps1/conv.ipynb"] == b"sam 82"
    assert written["moodle-alan-turing/ps1/conv.ipynb"] == b"alan?"


def test_a_different_earlier_hand_in_is_moved_aside_and_kept(course, tmp_path):
    dest = tmp_path / "submitted"
    earlier = dest / "ada" / AID
    earlier.mkdir(parents=True)
    (earlier / "conv.ipynb").write_bytes(b"ada's hand-in of last week")
    zip_path = make_zip(tmp_path / "c.zip", [("lovelaceada_1001_9_conv.ipynb", b"ada today", MON)])
    (done,) = apply_import(plan(course, zip_path), dest)
    assert done.status == "replaced" and done.moved_to.name.startswith(f"{AID}.replaced-")
    assert files_under(done.moved_to) == {"conv.ipynb": b"ada's hand-in of last week"}
    assert files_under(earlier) == {"conv.ipynb": b"ada today", "timestamp.txt": b"2026-11-30 09:00:00.000000 UTC\n"}
    assert f"ada: replaced (the earlier copy is kept as {done.moved_to.name})" in format_applied([done])


def _set_encrypted_flag(path: Path, name: str) -> None:
    """zipfile cannot encrypt: set the 'encrypted' bit of ``name``'s local and central headers, as a real one has."""
    data = bytearray(path.read_bytes())
    for signature, name_at, flags_at in ((b"PK\x03\x04", 30, 6), (b"PK\x01\x02", 46, 8)):
        at = data.index(signature)
        while data[at + name_at:at + name_at + len(name)] != name.encode():
            at = data.index(signature, at + 1)
        data[at + flags_at] |= 0x01
    path.write_bytes(bytes(data))


def test_unsafe_and_damaged_entries_are_refused_and_the_rest_imported(course, tmp_path):
    zip_path = make_zip(tmp_path / "hostile.zip", [
        ("lovelaceada_1001_1_conv.ipynb", b"ada", MON),
        ("../hoppergrace_1002_2_conv.ipynb", b"slip", MON),
        ("/etc/hoppergrace_1002_3_conv.ipynb", b"absolute", MON),
        ("hoppergrace_1002_4_conv.ipynb", b"/work/main/work/course/source/ps1/conv.ipynb", MON),
        ("hoppergrace_1002_5_train.ipynb", b"secret", MON),
        ("hoppergrace_1002_6_big.ipynb", b"x" * 2000, MON),
        ("turingalan_1003_7_conv.ipynb", b"CRC will not match", MON),
    ], symlinks=("hoppergrace_1002_4_conv.ipynb",))
    _set_encrypted_flag(zip_path, "hoppergrace_1002_5_train.ipynb")
    data = zip_path.read_bytes()
    zip_path.write_bytes(data.replace(b"CRC will not match", b"CRC will not catch"))
    the_plan = plan(course, zip_path, entry_limit=1000)
    assert {s.entry: s.why for s in the_plan.refused} == {
        "../hoppergrace_1002_2_conv.ipynb": "climbs out of its folder with '..': refused",
        "/etc/hoppergrace_1002_3_conv.ipynb": "has an absolute path: refused",
        "hoppergrace_1002_4_conv.ipynb": "is a symbolic link: refused",
        "hoppergrace_1002_5_train.ipynb": "is encrypted: refused (download the submissions again, without a password)",
        "hoppergrace_1002_6_big.ipynb": "unpacks to 2,000 bytes, over the 1,000-byte limit: refused",
        "turingalan_1003_7_conv.ipynb": "cannot be read back (Bad CRC-32 for file 'turingalan_1003_7_conv.ipynb'): "
                                        "refused (download the submissions again)",
    }
    assert [s.student for s in the_plan.students] == ["ada"]
    assert [s.student for s in the_plan.refused if s.entry.startswith("turingalan")] == ["canvas-1003"]
    dest = tmp_path / "out" / "submitted"
    apply_import(the_plan, dest)
    assert files_under(tmp_path / "out") == {"submitted/ada/ps1/conv.ipynb": b"ada",
                                             "submitted/ada/ps1/timestamp.txt": b"2026-11-30 09:00:00.000000 UTC\n"}
    assert "refused:\n  ../hoppergrace_1002_2_conv.ipynb: climbs out" in format_plan(the_plan)


def test_a_zip_bomb_is_refused_whole(course, tmp_path):
    zip_path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            zf.writestr(f"lovelaceada_1001_{i}_conv.ipynb", b"\0" * 2_000_000)
    assert zip_path.stat().st_size < 30_000
    with pytest.raises(LmsError, match=r"would unpack to 6,000,000 bytes, over the 5,000,000-byte limit \(a zip bomb"):
        plan(course, zip_path, total_limit=5_000_000)


def test_too_many_entries_are_refused_whole(course, tmp_path, monkeypatch):
    monkeypatch.setattr(lms, "ENTRY_COUNT_LIMIT", 2)
    zip_path = make_zip(tmp_path / "many.zip", [(f"lovelaceada_1001_{i}_conv.ipynb", b"", MON) for i in range(3)])
    with pytest.raises(LmsError, match="has 3 entries, over the 2 limit"):
        plan(course, zip_path)


def test_files_that_are_not_a_bulk_download_are_refused_with_the_fix(course, tmp_path):
    text = tmp_path / "grades.zip"
    text.write_text("student,score\n")
    with pytest.raises(LmsError, match=r"grades\.zip is not a zip file .*Canvas: \"Download Submissions\""):
        plan(course, text)
    with pytest.raises(LmsError, match="does not exist"):
        plan(course, tmp_path / "nowhere.zip")
    other = make_zip(tmp_path / "other.zip", [("readme.txt", b"hi", MON), ("conv.ipynb", b"{}", MON)])
    with pytest.raises(LmsError, match=r"this does not look like a Canvas or Moodle bulk download \(readme\.txt, "
                                       r"conv\.ipynb\)"):
        plan(course, other)
    with pytest.raises(LmsError, match="unknown time zone 'Mars/Olympus'"):
        plan(course, other, timezone="Mars/Olympus")


@pytest.mark.parametrize("filename, expected", [
    ("conv.ipynb", ("conv.ipynb", 0, "")),
    ("conv-3.ipynb", ("conv.ipynb", 3, "")),
    ("Conv (2).ipynb", ("conv.ipynb", 2, "")),
    ("conv(12).ipynb", ("conv.ipynb", 12, "")),
    ("conv-1.ipynb", ("conv-1.ipynb", 0, "")),  # the name itself comes first
    ("Conv-1.ipynb", (None, 0, "could be any of conv-1.ipynb, conv.ipynb: not imported (rename it and import again)")),
    ("convolution.ipynb", (None, 0, "a notebook the assignment does not have (expected: conv.ipynb, conv-1.ipynb)")),
    ("conv.py", (None, 0, "not one of the assignment's notebooks")),
])
def test_a_renamed_notebook_maps_only_when_exactly_one_fits(filename, expected):
    assert lms._which_notebook(filename, ["conv.ipynb", "conv-1.ipynb"]) == expected


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_canvas_csv_has_canvas_columns_and_points_and_names_who_it_leaves_out(course):
    with pytest.warns(LmsWarning, match=r"left out of the Canvas CSV \(no Canvas ID\): edsger, moodle-zoe-ng; "):
        text = lms.canvas_csv(course.db_url, COURSE_ID, AID, "=Lab 1 (4012)")
    assert rows(text) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "'=Lab 1 (4012)"],
        ["    Points Possible", "", "", "", "", "10"],
        ["Lovelace, Ada", "1001", "", "", "", "7.5"],
        ["canvas-1003", "1003", "", "", "", "4"],
        ["Hopper, Grace", "1002", "", "", "", "10"],
    ]


def test_moodle_csv_by_email_or_username_names_who_it_leaves_out(course):
    with pytest.warns(LmsWarning, match=r"\(no Email address\): canvas-1003, grace, moodle-zoe-ng; add it"):
        by_email = lms.moodle_csv(course.db_url, COURSE_ID, AID, "Assignment: PS 1")
    assert rows(by_email) == [["Email address", "Assignment: PS 1"], ["ada@uni.example", "7.5"],
                              ["ewd@uni.example", "6"]]
    with pytest.warns(LmsWarning, match=r"\(no Username\): canvas-1003, moodle-zoe-ng;"):
        by_username = lms.moodle_csv(course.db_url, COURSE_ID, AID, "PS 1", identifier="username")
    assert rows(by_username) == [["Username", "PS 1"], ["ada", "7.5"], ["edsger", "6"], ["grace", "10"]]
    with pytest.raises(LmsError, match="unknown Moodle identifier 'phone': use one of email, idnumber, username"):
        lms.moodle_csv(course.db_url, COURSE_ID, AID, "PS 1", identifier="phone")
    with pytest.raises(LmsError, match="no assignment 'ps9' in the gradebook"):
        lms.canvas_csv(course.db_url, COURSE_ID, "ps9", "PS 9")


@pytest.mark.slow
def test_the_round_trip_through_the_commands_canvas_zip_in_grades_out(tmp_path):
    """roster import → lms import (dry run, then for real) → grade → lms export canvas, as an instructor types it."""
    import csv as csv_module
    import io
    import shutil
    import subprocess
    import sys

    from autograder.layout import REPO

    work = tmp_path / "work"
    ag = [sys.executable, "-m", "autograder"]

    def run(*arguments: str) -> str:
        done = subprocess.run(ag + list(arguments) + ["--workdir", str(work)], cwd=REPO, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, (arguments, done.stdout[-2000:], done.stderr[-3000:])
        return done.stdout

    roster = tmp_path / "canvas.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n    Points Possible,,,,\n"
                      '"Lovelace, Ada",1001,S1,ada,A\n"Babbage, Charles",1002,S2,charles,A\n')
    run("roster", "import", str(roster))
    run("release", "ag_sample")
    source = work / "course" / "source" / "ag_sample" / "numpy_part.ipynb"
    stub = work / "course" / "release" / "ag_sample" / "numpy_part.ipynb"
    download = make_zip(tmp_path / "submissions.zip", [
        ("lovelaceada_1001_90001_numpy_part.ipynb", source.read_bytes(), MON),
        ("babbagecharles_LATE_1002_90002_numpy_part-1.ipynb", stub.read_bytes(), TUE)])
    before = digest(download)
    dry = run("lms", "import", str(download), "ag_sample", "--dry-run")
    assert "ada" in dry and "charles" in dry and "dry run: nothing written" in dry
    assert not (work / "course" / "submitted").exists()
    run("lms", "import", str(download), "ag_sample")
    assert digest(download) == before
    graded = run("grade", "ag_sample")
    assert "ada" in graded and "charles" in graded and "not on the roster" not in graded
    exported = list(csv_module.reader(io.StringIO(run("lms", "export", "canvas", "ag_sample",
                                                      "--column", "Autograder sample (777)"))))
    assert exported[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Autograder sample (777)"]
    scores = {row[1]: row[-1] for row in exported[2:]}
    assert scores == {"1001": "3", "1002": "0"}  # numpy part only: relu 1 + slide 2; the stub earns nothing
    shutil.rmtree(work)
