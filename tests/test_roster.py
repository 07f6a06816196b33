"""The class list into the gradebook: our CSV, Canvas's and Moodle's exports, and clear errors.

The expected students are written out by hand from each file below; the
gradebook is read back through nbgrader's own API.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder import api
from autograder.layout import COURSE_ID, REPO, Workspace
from autograder.roster import Roster, RosterError, read_roster

PLAIN = "id,first_name,last_name,email\nada,Ada,Lovelace,ada@uni.example\nalan,Alan,Turing,\n"
# Canvas's gradebook export: a BOM, "Last, First", its own ID, SIS ids, a "Points Possible" row, the test student.
CANVAS = ("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Lab 1 (4012)\n"
          "    Points Possible,,,,,10\n"
          '"Lovelace, Ada",1001,S-1,ada,CS101,\n'
          '"Hopper, Grace",1002,S-2,grace,CS101,\n'
          '"Student, Test",1003,,,CS101,\n')
# Moodle's grades export: no username column, the ID number is the id.
MOODLE = ("First name,Last name,ID number,Institution,Department,Email address,Lab 1 (Real)\n"
          "Ada,Lovelace,ada,Uni,CS,ada@uni.example,-\n"
          "Edsger,Dijkstra,edsger,Uni,CS,ewd@uni.example,-\n")


def students(ws: Workspace) -> dict[str, tuple]:
    with Gradebook(ws.db_url, COURSE_ID) as gb:
        return {s.id: (s.first_name, s.last_name, s.email, s.lms_user_id) for s in gb.students}


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.create(tmp_path / "work")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_roster_fills_the_gradebook_and_a_second_import_changes_nothing(ws, tmp_path):
    path = write(tmp_path, "roster.csv", PLAIN)
    report = api.import_roster(path, ws.workdir)
    assert (report.format, report.added, report.updated) == ("plain", ["ada", "alan"], [])
    assert students(ws) == {"ada": ("Ada", "Lovelace", "ada@uni.example", None),
                            "alan": ("Alan", "Turing", None, None)}
    again = api.import_roster(path, ws.workdir)
    assert (again.added, again.updated, again.unchanged) == ([], [], ["ada", "alan"])
    renamed = write(tmp_path, "renamed.csv", PLAIN.replace("Alan,Turing", "Alan M.,Turing"))
    assert api.import_roster(renamed, ws.workdir).updated == ["alan"]
    assert students(ws)["alan"][0] == "Alan M."


def test_canvas_export_uses_the_sis_login_and_skips_points_possible_and_the_test_student(ws, tmp_path):
    report = api.import_roster(write(tmp_path, "canvas.csv", CANVAS), ws.workdir)
    assert report.format == "canvas"
    assert students(ws) == {"ada": ("Ada", "Lovelace", None, "1001"), "grace": ("Grace", "Hopper", None, "1002")}


def test_moodle_export_uses_the_id_number_and_email(ws, tmp_path):
    report = api.import_roster(write(tmp_path, "moodle.csv", MOODLE), ws.workdir)
    assert report.format == "moodle"
    assert students(ws) == {"ada": ("Ada", "Lovelace", "ada@uni.example", None),
                            "edsger": ("Edsger", "Dijkstra", "ewd@uni.example", None)}


def test_nobody_is_a_stranger_without_a_roster_and_importing_never_removes_anyone(ws, tmp_path):
    roster = Roster(ws.workdir)
    assert roster.ids() is None and roster.not_on_it(["zoe"]) == []
    api.import_roster(write(tmp_path, "a.csv", PLAIN), ws.workdir)
    api.import_roster(write(tmp_path, "b.csv", MOODLE), ws.workdir)
    assert roster.not_on_it(["ada", "alan", "edsger", "zoe"]) == ["zoe"]
    assert sorted(students(ws)) == ["ada", "alan", "edsger"]


@pytest.mark.parametrize("text, message", [
    ("name,mail\nAda,a@x\n", "no student id column: expected one of id, student id, student, username (found: name, mail)"),
    ("id,first_name\nada,Ada\nada,Ada again\n", "lines 2 and 3 both have the id 'ada'"),
    ("id,first_name\n,Ada\n", "line 2: no student id"),
    ("id\n../bob\n", "'../bob' cannot be a student id"),
    ("", "is empty"),
])
def test_a_bad_roster_is_refused_with_the_line_and_the_fix(ws, tmp_path, text, message):
    with pytest.raises(RosterError) as caught:
        read_roster(write(tmp_path, "bad.csv", text))
    assert message in str(caught.value)
    assert students(ws) == {}


def test_not_utf8_and_missing_files_say_what_to_do(tmp_path):
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("id,first_name\nfranz,Fran\xe7ois\n".encode("latin-1"))
    with pytest.raises(RosterError, match="not UTF-8 text: save it as 'CSV UTF-8'"):
        read_roster(latin)
    with pytest.raises(RosterError, match="does not exist"):
        read_roster(tmp_path / "nope.csv")


def test_roster_command_reports_counts_and_bad_input_exits_2(tmp_path):
    path = write(tmp_path, "canvas.csv", CANVAS)
    command = [sys.executable, "-m", "autograder", "roster", "import", str(path), "--workdir", str(tmp_path / "w")]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "roster (canvas format): 2 added, 0 updated, 0 unchanged" in done.stdout
    bad = write(tmp_path, "bad.csv", "name\nAda\n")
    done = subprocess.run(command[:5] + [str(bad)] + command[6:], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no student id column" in done.stderr
