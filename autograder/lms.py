"""The LMS round trip: a Canvas or Moodle bulk download into nbgrader's ``submitted/``, grades back out as CSV.

Instructors collect hand-ins in their LMS and enter grades there; nbgrader
wants ``<submitted>/<student>/<assignment>/<notebook>.ipynb`` and has its own
student ids. `plan_lms_import` reads the LMS's zip (never changing it) and
says, entry by entry, who it belongs to and what it is written as, and what is
refused and why; `format_plan` prints that (a dry run); `apply_import` writes
it. `canvas_csv` and `moodle_csv` turn the gradebook's scores into the file
each LMS imports.

The layouts and formats, as looked up (not guessed):

* Canvas, "Download Submissions": one flat folder of files named
  ``<lastfirst>_[LATE_]<Canvas user id>_<submission id>_<original name>``
  (the fields as mikewesthad/canvas-unzipper's README shows them; the LATE
  field as TimHanneman/Canvas_submission_sort's script skips it). A file
  uploaded again under the same name gets ``-1``, ``-2``... before its
  extension (students asking about it: nus-cs2103-AY2223S2/forum#361,
  IIC1253/IIC1253-2025-1#34), so the highest number is the newest.
* Moodle, "Download all submissions": since Moodle 3.1 a folder per
  participant, ``<Full Name>_<participant id>_assignsubmission_file_/<file>``,
  the student's own sub-folders kept ("Download submissions in folders",
  moodle/moodle MDL-62831); before, the same prefix on flat file names.
  Moodle writes the name's underscores as spaces, and the participant id is
  the assignment's own number for the student (``get_uniqueid_for_user`` in
  ``mod/assign/locallib.php``), not a user id: students are matched by name.
* Canvas's gradebook import: the columns ``Student, ID, SIS User ID, SIS Login
  ID, Section`` then the assignment's column (OSU's "Import a CSV file into
  Carmen Grades" guide), with Canvas's own export's "Points Possible" row
  under the header (as `autograder.roster` reads it).
* Moodle's grade import from CSV: an identifier column mapped ("Map from" /
  "Map to") to the user's email address, ID number or username, and a grade
  column (docs.moodle.org, "Grade import").

A hand-in whose student the roster does not know is never dropped: it is
imported under an id made from the LMS entry, ``canvas-<Canvas user id>`` or
``moodle-<full name>`` (``-<participant id>`` added when two strangers share
a name), and the plan lists it as "not on the roster". The zip entries' dates
are the LMS's clock when it built the download, read in the ``timezone`` given.
"""
from __future__ import annotations

import collections
import csv
import dataclasses
import datetime
import io
import os
import re
import stat
import tempfile
import unicodedata
import warnings
import zipfile
import zlib
import zoneinfo
from pathlib import Path

from nbgrader import api as nbgrader_api
from nbgrader.api import Assignment, Gradebook, MissingEntry

from .collect import mirror_submission
from .late import final_score
from .roster import Student
from .submission_files import NOTEBOOK_LIMIT, TIMESTAMP_FILE, csv_cell, kind, safe_label

ENTRY_LIMIT = NOTEBOOK_LIMIT        # bytes a zip entry may unpack to
TOTAL_LIMIT = 4_000_000_000         # bytes the whole zip may unpack to: more is a zip bomb, not a class's notebooks
ENTRY_COUNT_LIMIT = 50_000          # entries: a directory of millions costs memory before anything is read

_CANVAS = re.compile(r"(?P<name>[^_/]*)_(?P<late>LATE_)?(?P<user>\d+)_(?P<submission>\d+)_(?P<file>[^/]+)")
_MOODLE = re.compile(r"(?P<name>[^_/]+)_(?P<participant>\d+)_assignsubmission_(?P<plugin>[a-z]+)_"
                     r"(?:/(?P<path>.+)|(?P<file>[^/]+))")
# Canvas's "conv-1" for an upload again; "conv (2)" or "conv(2)" when the student's browser kept two downloads.
_VERSION = re.compile(r"(?P<stem>.+?)(?:-(?P<dash>\d+)| ?\((?P<paren>\d+)\))")
_STRANGER_CANVAS = re.compile(r"canvas-(?P<user>\d+)")   # the ids `plan_lms_import` gives strangers
_STRANGER = re.compile(r"(canvas|moodle)-.+")

DateTime = tuple[int, int, int, int, int, int]


class LmsError(ValueError):
    """The zip or the gradebook cannot be used as asked; the message says what is wrong and how to fix it."""


class LmsWarning(UserWarning):
    """A grade export left students out (each named, with the fix)."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One file of the zip: ``index`` is its place in the zip's directory (a name may appear twice)."""

    index: int
    name: str
    date_time: DateTime


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A zip entry left out: ``why`` in words, ``student`` when known."""

    entry: str
    why: str
    student: str | None = None


@dataclasses.dataclass
class StudentImport:
    """What one student's hand-in becomes: ``notebooks`` maps each expected notebook to the entry written as it."""

    student: str
    lms: str                 # who the LMS says it is, e.g. "Canvas user 1001, lovelaceada"
    stranger: str            # why the roster does not know them; "" when it does
    notebooks: dict[str, Entry]
    older: list[Skipped]     # copies of a notebook that a newer one replaces
    missing: list[str]       # expected notebooks they did not hand in
    timestamp: str | None    # for timestamp.txt, nbgrader's format, UTC; None when the zip's date is not a date


@dataclasses.dataclass
class ImportPlan:
    """Everything `apply_import` will do, and everything it will not, with the reasons."""

    zip_path: Path
    layout: str              # "Canvas" or "Moodle"
    assignment_id: str
    notebooks: tuple[str, ...]
    timezone: str
    entry_limit: int
    students: list[StudentImport]
    extra: list[Skipped]     # files that are not the assignment's notebooks: listed, not imported
    refused: list[Skipped]   # entries that are unsafe or damaged


@dataclasses.dataclass(frozen=True)
class Applied:
    """One student's outcome: "added", "unchanged" (the same files were there) or "replaced" (``moved_to`` keeps the old)."""

    student: str
    status: str
    moved_to: Path | None = None


@dataclasses.dataclass
class _Hand:
    """One participant's files in the zip, before they are matched to the roster."""

    layout: str
    key: str                 # Canvas's user id, Moodle's participant id
    name: str
    late: bool = False       # Canvas marked a file LATE
    files: list[tuple[Entry, str, int]] = dataclasses.field(default_factory=list)  # entry, notebook, version
    extra: list[Skipped] = dataclasses.field(default_factory=list)
    refused: list[Skipped] = dataclasses.field(default_factory=list)  # damaged copies of notebooks

    @property
    def lms(self) -> str:
        who = "user" if self.layout == "Canvas" else "participant"
        return f"{self.layout} {who} {self.key}, {self.name}" + (", marked LATE" if self.late else "")


def plan_lms_import(zip_path: str | Path, assignment_id: str, db_url: str, course_id: str, notebooks: list[str],
                    timezone: str = "UTC", entry_limit: int = ENTRY_LIMIT,
                    total_limit: int = TOTAL_LIMIT) -> ImportPlan:
    """Read a Canvas or Moodle bulk download and plan its import; nothing is written.

    ``notebooks``: the assignment's notebook file names (its release);
    ``timezone``: the zone of the LMS's clock (a zoneinfo name), which dated
    the zip's entries. `LmsError` when the file is not a zip, is over the
    limits, or matches neither layout.
    """
    zip_path = Path(zip_path)
    zone = _zone(timezone)
    with _open_zip(zip_path) as zf:
        infos = zf.infolist()
        if len(infos) > ENTRY_COUNT_LIMIT:
            raise LmsError(f"{zip_path} has {len(infos)} entries, over the {ENTRY_COUNT_LIMIT} limit: "
                           "not a bulk download of one assignment (download one assignment at a time)")
        unpacked = sum(info.file_size for info in infos)
        if unpacked > total_limit:
            raise LmsError(f"{zip_path} would unpack to {unpacked:,} bytes, over the {total_limit:,}-byte limit "
                           "(a zip bomb, or not a bulk download of notebooks): download it again from the LMS")
        refused, entries = [], []
        for index, info in enumerate(infos):
            why = _unsafe(info, entry_limit)
            if why:
                refused.append(Skipped(info.filename, why))
            elif not info.is_dir():
                entries.append(Entry(index, info.filename, info.date_time))
        layout, hands, extra = _read_layout(zip_path, entries, notebooks)
        for hand in hands.values():
            sound = []
            for entry, notebook, version in hand.files:
                try:
                    _read_entry(zf, infos[entry.index], entry_limit)  # a damaged entry is refused now, not mid-import
                    sound.append((entry, notebook, version))
                except _Damaged as exc:
                    hand.refused.append(Skipped(entry.name, str(exc)))
            hand.files = sound
    ids = _match(layout, list(hands.values()), _gradebook_students(db_url, course_id))
    students = []
    for key, hand in hands.items():
        student, stranger = ids[key]
        extra += [dataclasses.replace(skipped, student=student) for skipped in hand.extra]
        refused += [dataclasses.replace(skipped, student=student) for skipped in hand.refused]
        if hand.files:
            students.append(_student_import(layout, hand, student, stranger, notebooks, zone))
    return ImportPlan(zip_path, layout, assignment_id, tuple(notebooks), timezone, entry_limit,
                      sorted(students, key=lambda s: s.student), extra, refused)


def apply_import(plan: ImportPlan, dest_dir: str | Path) -> list[Applied]:
    """Write the plan: ``dest_dir/<student>/<assignment>/`` gets the notebooks and ``timestamp.txt``.

    An identical hand-in already there is left alone; a different one is
    moved aside to ``<assignment>.replaced-<UTC time>`` (`mirror_submission`),
    never deleted. The zip is only read.
    """
    dest_dir = Path(dest_dir)
    done = []
    with _open_zip(plan.zip_path) as zf, tempfile.TemporaryDirectory(prefix="lms-import-") as scratch:
        infos = zf.infolist()
        for item in plan.students:
            staged = Path(scratch) / item.student / plan.assignment_id
            staged.mkdir(parents=True)
            for notebook, entry in item.notebooks.items():
                (staged / notebook).write_bytes(_planned_bytes(plan, zf, infos, entry))
            if item.timestamp:
                (staged / TIMESTAMP_FILE).write_text(item.timestamp + "\n")
            existed = os.path.lexists(dest_dir / item.student / plan.assignment_id)
            moved = mirror_submission(staged, dest_dir / item.student / plan.assignment_id)
            done.append(Applied(item.student, "replaced" if moved else "unchanged" if existed else "added", moved))
    return done


def format_plan(plan: ImportPlan) -> str:
    """The plan as the instructor reads it: zip entry -> student -> file, then what is left out and why."""
    folder = f"{safe_label(plan.assignment_id)}/"
    lines = [f"{plan.layout} bulk download {safe_label(str(plan.zip_path))} -> assignment {folder} "
             f"(notebooks: {', '.join(map(safe_label, plan.notebooks))}; zip dates read as {plan.timezone})"]
    for item in plan.students:
        who = safe_label(item.student)
        lines.append(f"{who}: {safe_label(item.lms)}"
                     + (f"; not on the roster ({safe_label(item.stranger)})" if item.stranger else ""))
        for notebook, entry in item.notebooks.items():
            lines.append(f"  {safe_label(entry.name)} -> {who}/{folder}{safe_label(notebook)}")
        lines += [f"  {safe_label(old.entry)}: {safe_label(old.why)}" for old in item.older]
        if item.missing:
            lines.append(f"  missing: {', '.join(map(safe_label, item.missing))}")
        lines.append(f"  {TIMESTAMP_FILE}: {item.timestamp or 'not written (the zip dates the files impossibly)'}")
    strangers = [safe_label(item.student) for item in plan.students if item.stranger]
    if strangers:
        lines.append(f"not on the roster (imported under these ids): {', '.join(strangers)}")
    for title, skipped in (("extra files (listed, not imported)", plan.extra), ("refused", plan.refused)):
        if skipped:
            lines.append(f"{title}:")
            lines += [f"  {safe_label(s.entry)}" + (f" ({safe_label(s.student)})" if s.student else "")
                      + f": {safe_label(s.why)}" for s in skipped]
    return "\n".join(lines) + "\n"


def format_applied(done: list[Applied]) -> str:
    """One line per student written, kept or replaced (and where the replaced copy went)."""
    return "".join(f"{safe_label(a.student)}: {a.status}"
                   + (f" (the earlier copy is kept as {safe_label(a.moved_to.name)})" if a.moved_to else "") + "\n"
                   for a in done)


# -- reading the zip ---------------------------------------------------------------------------------

class _Damaged(Exception):
    """A zip entry that cannot be read back whole (its message says so)."""


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise LmsError(f"unknown time zone {name!r}: give the LMS's zone as a name such as 'UTC' or "
                       "'Europe/Paris'") from None


def _open_zip(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise LmsError(f"{path} does not exist: pass the zip the LMS downloaded (Canvas: \"Download Submissions\"; "
                       "Moodle: \"Download all submissions\")")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise LmsError(f"{path} is not a zip file ({exc}): pass the zip the LMS downloaded as it is "
                       "(Canvas: \"Download Submissions\"; Moodle: \"Download all submissions\")") from None


def _unsafe(info: zipfile.ZipInfo, limit: int) -> str:
    """Why an entry must not be read ("" when it may): an LMS download has none of these."""
    name = info.filename
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "has an absolute path: refused"
    if ".." in re.split(r"[/\\]", name):
        return "climbs out of its folder with '..': refused"
    mode = info.external_attr >> 16
    if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return f"is {kind(mode)}: refused"
    if info.flag_bits & 0x1:
        return "is encrypted: refused (download the submissions again, without a password)"
    if info.file_size > limit:
        return f"unpacks to {info.file_size:,} bytes, over the {limit:,}-byte limit: refused"
    return ""


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The entry's bytes, checked against its CRC; never more than ``limit`` of them."""
    try:
        with zf.open(info) as f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise _Damaged(f"cannot be read back ({exc}): refused (download the submissions again)") from None
    if len(data) > limit:
        raise _Damaged(f"unpacks to more than its {limit:,}-byte limit: refused")
    return data


def _planned_bytes(plan: ImportPlan, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], entry: Entry) -> bytes:
    info = infos[entry.index] if entry.index < len(infos) else None
    if info is None or (info.filename, info.date_time) != (entry.name, entry.date_time):
        raise LmsError(f"{plan.zip_path} changed since the import was planned: plan it again")
    try:
        return _read_entry(zf, info, plan.entry_limit)
    except _Damaged as exc:
        raise LmsError(f"{plan.zip_path}: {entry.name} {exc}") from None


def _read_layout(zip_path: Path, entries: list[Entry],
                 notebooks: list[str]) -> tuple[str, dict[str, _Hand], list[Skipped]]:
    """(layout, hand-ins by participant, files of no participant) by the layout most entries follow."""
    canvas = sum(bool(_CANVAS.fullmatch(e.name)) for e in entries)
    moodle = sum(bool(_MOODLE.fullmatch(e.name)) for e in entries)
    if not canvas and not moodle:
        names = ", ".join(safe_label(e.name) for e in entries[:3]) or "no files"
        raise LmsError(f"{zip_path}: this does not look like a Canvas or Moodle bulk download ({names}): "
                       "Canvas names each file <lastfirst>_<user id>_<submission id>_<file> (\"Download "
                       "Submissions\"), Moodle <Full Name>_<id>_assignsubmission_file_ (\"Download all "
                       "submissions\"); download the zip again there and pass it unchanged")
    layout, pattern = ("Canvas", _CANVAS) if canvas >= moodle else ("Moodle", _MOODLE)
    hands: dict[str, _Hand] = {}
    extra = []
    for entry in entries:
        found = pattern.fullmatch(entry.name)
        if not found:
            extra.append(Skipped(entry.name, f"not named as {layout} names a student's file"))
            continue
        if layout == "Canvas":
            key, filename = found["user"], found["file"]
        else:
            key, filename = found["participant"], os.path.basename(found["path"] or found["file"])
        hand = hands.setdefault(key, _Hand(layout, key, found["name"]))
        if layout == "Canvas" and found["late"]:
            hand.late = True
        elif layout == "Moodle" and found["plugin"] != "file":
            hand.extra.append(Skipped(entry.name, f"Moodle's {found['plugin']} submission, not a file"))
            continue
        notebook, version, why = _which_notebook(filename, notebooks)
        if notebook:
            hand.files.append((entry, notebook, version))
        else:
            hand.extra.append(Skipped(entry.name, why))
    return layout, hands, extra


def _which_notebook(filename: str, notebooks: list[str]) -> tuple[str | None, int, str]:
    """(the expected notebook a file is, its version number, why none) for ``conv.ipynb``, ``conv-1.ipynb``, ``Conv (2).ipynb``."""
    if filename in notebooks:
        return filename, 0, ""
    stem, extension = os.path.splitext(filename)
    if extension.lower() != ".ipynb":
        return None, 0, "not one of the assignment's notebooks"
    forms = [(stem, 0)]
    if versioned := _VERSION.fullmatch(stem):
        forms.append((versioned["stem"], int(versioned["dash"] or versioned["paren"])))
    fits = {nb: version for form, version in forms for nb in notebooks
            if nb.casefold() == (form + ".ipynb").casefold()}
    if len(fits) == 1:
        (notebook, version), = fits.items()
        return notebook, version, ""
    if fits:
        return None, 0, f"could be any of {', '.join(sorted(fits))}: not imported (rename it and import again)"
    return None, 0, f"a notebook the assignment does not have (expected: {', '.join(notebooks)})"


# -- the roster --------------------------------------------------------------------------------------

def _gradebook_students(db_url: str, course_id: str) -> list[Student]:
    with Gradebook(db_url, course_id) as gb:
        return [Student(s.id, s.first_name, s.last_name, s.email, s.lms_user_id) for s in gb.students]


def _words(name: str) -> list[str]:
    """A name's words, compared without case or punctuation (Moodle's file names drop some of it)."""
    return re.findall(r"\w+", unicodedata.normalize("NFKC", name).casefold())


def _name_key(name: str) -> str:
    return " ".join(_words(name))


def _match(layout: str, hands: list[_Hand], students: list[Student]) -> dict[str, tuple[str, str]]:
    """Participant key -> (student id, why they are a stranger or "")."""
    known: dict[str, set[str]] = collections.defaultdict(set)
    for s in students:
        if layout == "Canvas" and s.lms_user_id:
            known[s.lms_user_id].add(s.id)
        elif layout == "Moodle" and s.first_name and s.last_name:
            known[_name_key(f"{s.first_name} {s.last_name}")].add(s.id)
            known[_name_key(f"{s.last_name} {s.first_name}")].add(s.id)
    found = {h.key: known.get(h.key if layout == "Canvas" else _name_key(h.name), set()) for h in hands}
    claims = collections.Counter(next(iter(ids)) for ids in found.values() if len(ids) == 1)
    what = "Canvas ID" if layout == "Canvas" else "name"
    ids, strangers = {}, []
    for hand in hands:
        matches = sorted(found[hand.key])
        if len(matches) == 1 and claims[matches[0]] == 1:
            ids[hand.key] = (matches[0], "")
            continue
        if len(matches) > 1:
            why = f"the {what} {hand.key if layout == 'Canvas' else hand.name} fits {', '.join(matches)}"
        elif matches:
            why = f"{claims[matches[0]]} {layout} participants fit {matches[0]}"
        elif layout == "Canvas":
            why = f"nobody has the Canvas ID {hand.key}: `roster import` Canvas's gradebook export"
        else:
            why = f"nobody is named {hand.name}"
        strangers.append((hand, why))
    slugs = collections.Counter(_slug(h.name) for h, _ in strangers)
    for hand, why in strangers:
        if layout == "Canvas":
            student = f"canvas-{hand.key}"
        else:
            slug = _slug(hand.name)
            student = f"moodle-{slug}" + (f"-{hand.key}" if slugs[slug] > 1 else "") if slug else f"moodle-{hand.key}"
        ids[hand.key] = (student, why)
    return ids


def _slug(name: str) -> str:
    return "-".join(_words(name))


def _student_import(layout: str, hand: _Hand, student: str, stranger: str, notebooks: list[str],
                    zone: zoneinfo.ZoneInfo) -> StudentImport:
    """The newest copy of each notebook (Canvas: the highest -N; Moodle: the latest zip date) and the rest as older."""
    copies: dict[str, list[tuple[Entry, int]]] = collections.defaultdict(list)
    for entry, notebook, version in hand.files:
        copies[notebook].append((entry, version))
    def age(copy: tuple[Entry, int]) -> tuple:
        entry, version = copy
        return ((version, entry.date_time) if layout == "Canvas" else (entry.date_time, version)) + (entry.index,)

    chosen, older = {}, []
    for notebook in (nb for nb in notebooks if nb in copies):
        (winner, version), *rest = sorted(copies[notebook], key=age, reverse=True)
        chosen[notebook] = winner
        reason = (f"the highest -N, {version}" if layout == "Canvas" and version
                  else f"dated {_utc(winner.date_time, zone) or 'impossibly'}")
        older += [Skipped(entry.name, f"older copy of {notebook}: {winner.name} is imported ({reason})", student)
                  for entry, _ in rest]
    newest = max(entry.date_time for entry in chosen.values())
    return StudentImport(student, hand.lms, stranger, chosen, older,
                         [nb for nb in notebooks if nb not in chosen], _utc(newest, zone))


def _utc(date_time: DateTime, zone: zoneinfo.ZoneInfo) -> str | None:
    """A zip entry's date (the LMS's clock, in ``zone``) as nbgrader writes a submission time; None for day 0 and such."""
    try:
        moment = datetime.datetime(*date_time, tzinfo=zone)
    except ValueError:
        return None
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


# -- grades out --------------------------------------------------------------------------------------

def _moodle_id(student: nbgrader_api.Student) -> str | None:
    """The gradebook id as Moodle knows it (the roster's username or ID number); a stranger's id is ours, not Moodle's."""
    return None if _STRANGER.fullmatch(student.id) else student.id


# Moodle's "Map to" choices this gradebook can fill: the column written and where its value comes from.
MOODLE_IDENTIFIERS = {
    "email": ("Email address", lambda s: s.email),
    "idnumber": ("ID number", _moodle_id),
    "username": ("Username", _moodle_id),
}


def canvas_csv(db_url: str, course_id: str, assignment_id: str, column: str) -> str:
    """Canvas's gradebook import: ``Student, ID, SIS User ID, SIS Login ID, Section, <column>`` and "Points Possible".

    ``column`` is the assignment's column as Canvas's export names it (e.g.
    ``Lab 1 (4012)``). Canvas finds each student by its own ID: the roster's
    (a Canvas export) or the one in a ``canvas-<id>`` stranger's id; the SIS
    columns are left empty, since the gradebook does not know which of the two
    its id was. Students without a Canvas ID are left out, each named in an
    `LmsWarning`.
    """
    rows, missing = [], []
    with Gradebook(db_url, course_id) as gb:
        assignment = _assignment(gb, assignment_id)
        for submission in sorted(assignment.submissions, key=lambda s: s.student.id):
            s = submission.student
            stranger = _STRANGER_CANVAS.fullmatch(s.id)
            canvas_id = s.lms_user_id or (stranger["user"] if stranger else None)
            if not canvas_id:
                missing.append(s.id)
                continue
            name = f"{s.last_name}, {s.first_name}" if s.last_name and s.first_name else s.id
            rows.append([name, canvas_id, "", "", "", f"{final_score(submission):g}"])
        points = assignment.max_score
    _warn_left_out(missing, "Canvas", "Canvas ID",
                   "`roster import` Canvas's gradebook export, then export again, or enter their grades in Canvas")
    return _csv([["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column],
                 ["    Points Possible", "", "", "", "", f"{points:g}"], *rows])


def moodle_csv(db_url: str, course_id: str, assignment_id: str, column: str, identifier: str = "email") -> str:
    """Moodle's grade import from CSV: the identifier column (`MOODLE_IDENTIFIERS`) and the grade column.

    In Moodle, map the identifier column to the same field ("Email address" to
    useremail, ...) and ``column`` to the assignment. Students without the
    identifier (strangers imported from a zip have none) are left out, each
    named in an `LmsWarning`.
    """
    if identifier not in MOODLE_IDENTIFIERS:
        raise LmsError(f"unknown Moodle identifier {identifier!r}: use one of {', '.join(MOODLE_IDENTIFIERS)}")
    header, value = MOODLE_IDENTIFIERS[identifier]
    rows, missing = [], []
    with Gradebook(db_url, course_id) as gb:
        for submission in sorted(_assignment(gb, assignment_id).submissions, key=lambda s: s.student.id):
            s = submission.student
            key = value(s)
            if not key:
                missing.append(s.id)
                continue
            rows.append([key, f"{final_score(submission):g}"])
    _warn_left_out(missing, "Moodle", header,
                   "add it to the roster (`roster import`), then export again, or enter their grades in Moodle")
    return _csv([[header, column], *rows])


def _assignment(gb: Gradebook, assignment_id: str) -> Assignment:
    try:
        return gb.find_assignment(assignment_id)
    except MissingEntry:
        raise LmsError(f"no assignment {assignment_id!r} in the gradebook: grade it first") from None


def _warn_left_out(missing: list[str], lms: str, what: str, fix: str) -> None:
    if missing:
        warnings.warn(LmsWarning(f"left out of the {lms} CSV (no {what}): {', '.join(map(safe_label, missing))}; "
                                 f"{fix}"), stacklevel=3)


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([[csv_cell(cell) for cell in row] for row in rows])
    return out.getvalue()
