"""The class list: a CSV of students (ours, or an LMS export) into the gradebook's students.

nbgrader keeps students in its gradebook (``Student``: id, first and last
name, email, LMS id); the formgrader shows them by name once they are there.
Instructors have the list as an LMS export, so the column names Canvas and
Moodle write are understood as well as plain ones (`FORMATS`, first match wins).

The ids imported are also recorded in the work folder (`Roster`): a student
who hands something in without being on the list is graded like anyone else
and named in the grading report, never dropped.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry


class RosterError(ValueError):
    """The roster file cannot be imported (the message names the row or column and the fix)."""


@dataclasses.dataclass(frozen=True)
class RosterFormat:
    """How one kind of export names its columns (lower case, spaces for ``_``)."""

    name: str
    signature: tuple[str, ...]   # columns that tell this format apart
    id: tuple[str, ...]          # the student id: the first of these columns that has a value
    first_name: tuple[str, ...] = ()
    last_name: tuple[str, ...] = ()
    full_name: str = ""          # "Last, First" in one column (Canvas)
    email: tuple[str, ...] = ()
    lms_id: str = ""             # the LMS's own user id, kept for the grade export


FORMATS = (
    # Canvas's gradebook export: "Student" (Last, First), "ID" (Canvas's), "SIS User ID", "SIS Login ID".
    RosterFormat("canvas", signature=("student", "section"), id=("sis login id", "sis user id"),
                 full_name="student", lms_id="id"),
    # Moodle's participants and grades exports.
    RosterFormat("moodle", signature=("email address",), id=("username", "id number", "email address"),
                 first_name=("first name",), last_name=("last name", "surname"), email=("email address",)),
    RosterFormat("plain", signature=(), id=("id", "student id", "student", "username"),
                 first_name=("first name", "given name"), last_name=("last name", "family name", "surname"),
                 email=("email", "e-mail")),
)

# Canvas puts a "Points Possible" row (and sometimes a read-only row) under its header.
_NOT_STUDENTS = {"points possible", "student, test"}


@dataclasses.dataclass(frozen=True)
class Student:
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    lms_user_id: str | None = None


def _column(name: str) -> str:
    return " ".join(name.replace("_", " ").lower().split())


def read_roster(path: Path) -> tuple[str, list[Student]]:
    """(format name, students) from a CSV file; `RosterError` names what is wrong and where."""
    path = Path(path)
    if not path.is_file():
        raise RosterError(f"roster {path} does not exist: pass the CSV exported from your LMS or written by hand "
                          "(columns id, first_name, last_name, email)")
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel and Canvas write a byte-order mark
    except UnicodeDecodeError:
        raise RosterError(f"roster {path} is not UTF-8 text: save it as 'CSV UTF-8' and import it again") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise RosterError(f"roster {path} is empty: its first line must name the columns (id, first_name, ...)")
    header = [_column(cell) for cell in rows[0]]
    fmt = next(f for f in FORMATS if all(column in header for column in f.signature))
    if not any(column in header for column in fmt.id):
        raise RosterError(f"roster {path} has no student id column: expected one of "
                          f"{', '.join(fmt.id)} (found: {', '.join(rows[0])})")
    students: list[Student] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        record = {column: value.strip() for column, value in zip(header, row)}
        if not any(record.values()) or record.get(fmt.full_name or "student", "").lower() in _NOT_STUDENTS:
            continue
        student = _student(fmt, record)
        if not student.id:
            raise RosterError(f"{path}, line {line}: no student id in {' / '.join(fmt.id)}: fill it in or delete the row")
        if "/" in student.id or student.id.startswith(".") or student.id != student.id.strip():
            raise RosterError(f"{path}, line {line}: {student.id!r} cannot be a student id (it names the student's "
                              "submission folder): no '/', no leading '.' or space")
        if student.id in seen:
            raise RosterError(f"{path}: lines {seen[student.id]} and {line} both have the id {student.id!r}: "
                              "keep one of them")
        seen[student.id] = line
        students.append(student)
    return fmt.name, students


def _student(fmt: RosterFormat, record: dict[str, str]) -> Student:
    def first(columns: tuple[str, ...]) -> str | None:
        return next((record[c] for c in columns if record.get(c)), None)

    first_name, last_name = first(fmt.first_name), first(fmt.last_name)
    if fmt.full_name and record.get(fmt.full_name):
        last, _, given = record[fmt.full_name].partition(",")
        last_name, first_name = last.strip() or None, given.strip() or None
    return Student(first(fmt.id) or "", first_name, last_name, first(fmt.email),
                   (record.get(fmt.lms_id) or None) if fmt.lms_id else None)


@dataclasses.dataclass
class ImportReport:
    format: str
    added: list[str]
    updated: list[str]
    unchanged: list[str]


class Roster:
    """The ids on the class list, kept beside the gradebook (``<workdir>/roster.json``)."""

    def __init__(self, workdir: Path):
        self.path = Path(workdir) / "roster.json"

    def ids(self) -> set[str] | None:
        """The roster's ids, or None when no roster was ever imported."""
        if not self.path.exists():
            return None
        return set(json.loads(self.path.read_text())["students"])

    def add(self, ids: list[str]) -> None:
        known = self.ids() or set()
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps({"students": sorted(known | set(ids))}, indent=1))
        os.replace(partial, self.path)

    def not_on_it(self, students: list[str]) -> list[str]:
        """Those of ``students`` not on the roster ([] when there is no roster: then nobody is a stranger)."""
        ids = self.ids()
        return [] if ids is None else sorted(s for s in students if s not in ids)


def import_roster(path: Path, db_url: str, course_id: str, roster: Roster) -> ImportReport:
    """Add or update every student of the file in the gradebook; nobody is removed."""
    fmt, students = read_roster(path)
    report = ImportReport(fmt, [], [], [])
    with Gradebook(db_url, course_id) as gb:
        for student in students:
            fields = {k: v for k, v in dataclasses.asdict(student).items() if k != "id" and v is not None}
            try:
                old = gb.find_student(student.id)
                changed = any(getattr(old, k) != v for k, v in fields.items())
            except MissingEntry:
                old, changed = None, True
            if changed:
                gb.update_or_create_student(student.id, **fields)
            (report.added if old is None else report.updated if changed else report.unchanged).append(student.id)
    roster.add([s.id for s in students])
    return report
