"""Python API of the autograder (the CLI and the tests call these).

``release(assignment_id=None, workdir=None, db_url=None) -> list[str]``
    Copy ``assignments/<id>/`` (notebooks and data, not the ``.py`` sources)
    into nbgrader's source folder and generate the student version with
    nbgrader; records the assignment in the gradebook. Default: every folder
    of ``assignments/``.

``grade_submissions(assignment_id, submissions_dir, workdir=None, db_url=None, workers=None, students=None,
**options) -> list[SubmissionResult]``
    Autograde every ``<submissions_dir>/<student>/<assignment_id>/*.ipynb``
    (or only those of ``students``), in parallel, each kernel sandboxed;
    releases the assignment first when its source changed, and then
    re-grades everyone (a fixed test). ``options`` are fields of
    `autograder.pipeline.GradingOptions` (``cell_timeout``,
    ``submission_timeout``, ``limits``, ``regrade``, ``progress``...). Each
    result has ``student``, ``score``, ``max_score`` (all points, manually
    graded ones included), ``previous_score`` (before this run), ``status``
    ("graded", "unchanged": graded before and skipped, or "failed"),
    ``reason`` (human-readable notes, "" when none; a student missing from
    the roster is named there) and ``tests`` = {grade_id: (score, max)} for
    every autograded test cell. Manual grades and comments are kept.
    Submissions are only read.

``similarity(assignment_id, submissions_dir=None, workdir=None, out_dir=None, top=50, threshold=0.33)
-> SimilarityReport``
    The most similar pairs of students' solution code (the released template
    subtracted), as copydetect's side-by-side HTML and a CSV.

``lms_import(zip_path, assignment_id, ..., timezone="UTC", dry_run=False) -> (ImportPlan, applied)``
    Canvas's or Moodle's bulk download of submissions into the course's
    ``submitted/``, students matched through the roster (strangers kept).

``lms_export(lms_name, assignment_id, column, ..., identifier="email") -> str``
    Grades as Canvas's gradebook-import CSV or Moodle's grade-import CSV.

Every function above also takes ``course=DIR``: an existing nbgrader course
instead of this repository's (`autograder.layout.Workspace.for_course`).

``import_roster(path, workdir=None, db_url=None) -> ImportReport``
    The class list (a plain CSV, or Canvas's or Moodle's export) into the
    gradebook's students: added, updated, unchanged.

``check(assignment_id=None, workdir=None, workers=None, **options) -> list[CheckReport]``
    Prove an assignment sound, under exactly the grading above, in a
    throw-away course folder and gradebook: the source solution scores full
    marks on every test cell and the released stub scores zero on every one.
    All assignments (no ``assignment_id``) are graded two at a time.

``feedback(assignment_id, workdir=None, db_url=None, show_hidden_tests=False) -> dict[str, list[Path]]``
    nbgrader's feedback HTML per graded student (failed tests show their
    teaching message; hidden tests show their results, not their code).

``export(workdir=None, db_url=None) -> str``
    CSV, one row per student and assignment: student, assignment, score (after any late penalty), max_score.

``set_due(assignment_id, due, timezone="UTC", penalty="none", zero_after_days=None, grace_minutes=0)``
    The due date and late-penalty rule of one assignment (`autograder.late`), applied at once.

``setup_exchange(root=None)``, ``release_feedback(assignment_id)``
    nbgrader's exchange for the students of one machine (`autograder.exchange`).

``demo(workdir=None, workers=None, mistakes=False) -> list[SubmissionResult]``
    The main job's demonstration: release everything, grade the sample
    submissions (and each real assignment's solution and stub, and with
    ``mistakes`` its typical mistakes), write feedback, print the grade table.
"""
from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import datetime
import glob
import io
import json
import shutil
import sys
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .layout import Workspace, assignment_sources
from . import exchange, late, roster
from .collect import mirror_submission
from .pipeline import GradingOptions, SubmissionResult, grade_folder
from .report import print_results


class AutograderError(RuntimeError):
    """A command could not do its job; the message says what to do."""


def workspace(workdir=None, db_url=None, course=None) -> Workspace:
    """This repository's course, or (``course``: a folder holding ``source/``) an existing nbgrader course."""
    return Workspace.for_course(course, db_url, workdir) if course else Workspace.create(workdir, db_url)


def _release_one(ws: Workspace, assignment_id: str, force: bool) -> None:
    ws.write_nbgrader_config_file()
    ws.sync_source(assignment_id)
    marker = ws.state_root / assignment_id / "released.json"
    stamp = {"source": ws.source_digest(assignment_id), "db": ws.db_url}
    if force or not marker.exists() or json.loads(marker.read_text()) != stamp \
            or not ws.folder("release", assignment_id).is_dir() or not _in_gradebook(ws, assignment_id):
        outcome = ws.nbgrader_api().generate_assignment(assignment_id, force=True, create=True)
        if not outcome["success"]:
            raise AutograderError(f"nbgrader could not release {assignment_id}:\n{outcome['error']}\n{outcome['log']}")
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(stamp))
    exchange.publish(ws, assignment_id)  # students fetch it in their Assignment List (once `exchange setup` ran)


def _in_gradebook(ws: Workspace, assignment_id: str) -> bool:
    with Gradebook(ws.db_url, ws.course_id) as gb:
        try:
            gb.find_assignment(assignment_id)
            return True
        except MissingEntry:
            return False


def release(assignment_id: str | None = None, workdir=None, db_url=None, force: bool = False,
            course=None) -> list[str]:
    ws = workspace(workdir, db_url, course)
    ids = [assignment_id] if assignment_id else ws.assignment_ids()
    for aid in ids:
        _release_one(ws, aid, force)
    return ids


def grade_submissions(assignment_id: str, submissions_dir, workdir=None, db_url=None, workers: int | None = None,
                      students: list[str] | None = None, course=None, **options) -> list[SubmissionResult]:
    ws = workspace(workdir, db_url, course)
    _release_one(ws, assignment_id, force=False)
    submissions_dir = Path(submissions_dir) if submissions_dir else ws.course_root / "submitted"
    results = grade_folder(ws, assignment_id, submissions_dir.resolve(), GradingOptions(workers=workers, **options),
                           students)
    for result in results:  # what nbgrader's formgrader counts and its Autograde button grades
        moved = mirror_submission(submissions_dir / result.student / assignment_id,
                                  ws.folder("submitted", assignment_id, result.student))
        if moved is not None:
            _note(result, f"an earlier, different copy in the course's submitted/ folder was kept as {moved.name}")
    strangers = set(roster.Roster(ws.workdir).not_on_it([r.student for r in results]))
    for result in results:
        if result.student in strangers:
            _note(result, "not on the roster (graded; add the student with `python -m autograder roster import`)")
    return results


def _note(result: SubmissionResult, text: str) -> None:
    result.reason = "; ".join(filter(None, [result.reason, text]))


def similarity(assignment_id: str, submissions_dir=None, workdir=None, out_dir=None, course=None, **limits):
    """The similarity report of one assignment's solution code (`autograder.similarity`).

    Default submissions: the course's ``submitted/``; default output: ``<workdir>/similarity/<id>/``.
    ``limits``: ``top`` and ``threshold`` of `autograder.similarity.similarity_report`.
    """
    from .similarity import similarity_report

    ws = workspace(workdir, None, course)
    _release_one(ws, assignment_id, force=False)  # the template to subtract is the current release
    submissions_dir = Path(submissions_dir) if submissions_dir else ws.course_root / "submitted"
    out_dir = Path(out_dir) if out_dir else ws.workdir / "similarity" / assignment_id
    return similarity_report(assignment_id, submissions_dir, ws.folder("release", assignment_id), out_dir, **limits)


def lms_import(zip_path, assignment_id: str, workdir=None, db_url=None, course=None, timezone: str = "UTC",
               dry_run: bool = False):
    """An LMS bulk download (Canvas's or Moodle's zip) into the course's ``submitted/``; see `autograder.lms`.

    Returns (plan, applied); ``applied`` is None on a dry run, which writes nothing.
    """
    from . import lms

    ws = workspace(workdir, db_url, course)
    _release_one(ws, assignment_id, force=False)  # the notebooks a hand-in must hold are the released ones
    notebooks = sorted(p.name for p in ws.folder("release", assignment_id).glob("*.ipynb"))
    plan = lms.plan_lms_import(zip_path, assignment_id, ws.db_url, ws.course_id, notebooks, timezone=timezone)
    return plan, None if dry_run else lms.apply_import(plan, ws.course_root / "submitted")


def lms_export(lms_name: str, assignment_id: str, column: str, workdir=None, db_url=None, course=None,
               identifier: str = "email") -> str:
    """One assignment's grades as Canvas's gradebook CSV or Moodle's grade-import CSV, matched through the roster."""
    from . import lms

    ws = workspace(workdir, db_url, course)
    if lms_name == "canvas":
        return lms.canvas_csv(ws.db_url, ws.course_id, assignment_id, column)
    return lms.moodle_csv(ws.db_url, ws.course_id, assignment_id, column, identifier)


def import_roster(path, workdir=None, db_url=None, course=None) -> roster.ImportReport:
    """The students of a roster CSV (ours, Canvas's or Moodle's) into the gradebook; see `autograder.roster`."""
    ws = workspace(workdir, db_url, course)
    return roster.import_roster(Path(path), ws.db_url, ws.course_id, roster.Roster(ws.workdir))


@dataclasses.dataclass
class CheckReport:
    assignment: str
    ok: bool
    problems: list[str]
    solutions: list[SubmissionResult]  # the source solution, handed in by each check student
    stubs: list[SubmissionResult]      # the released stub, likewise


CHECK_STUDENTS = 3  # each draws other hidden inputs (course.grading.hidden_seed): soundness for more than one
CHECKS_SIDE_BY_SIDE = 2  # a stub's grading ends early, so one assignment alone leaves cores idle


def check(assignment_id: str | None = None, workdir=None, workers: int | None = None,
          students: int = CHECK_STUDENTS, course=None, **options) -> list[CheckReport]:
    course_ws = workspace(workdir, None, course)
    options.setdefault("progress", False)
    aids = [assignment_id] if assignment_id else course_ws.assignment_ids()
    # Releases one after another (nbgrader's converters change the working directory), gradings side by side.
    prepared = [_prepare_check(course_ws, aid, students) for aid in aids]

    def grade(item: tuple[str, Workspace, Path]) -> CheckReport:
        aid, ws, submissions = item
        graded = grade_folder(ws, aid, submissions, GradingOptions(workers=workers, regrade=True, **options))
        solutions = [r for r in graded if r.student.startswith("solution-")]
        stubs = [r for r in graded if r.student.startswith("stub-")]
        return CheckReport(aid, *_judge(solutions, stubs), solutions, stubs)

    with concurrent.futures.ThreadPoolExecutor(min(CHECKS_SIDE_BY_SIDE, len(prepared)) or 1) as pool:
        return list(pool.map(grade, prepared))


def _prepare_check(course_ws: Workspace, aid: str, students: int) -> tuple[str, Workspace, Path]:
    """A throw-away course releasing ``aid``, and its ``students`` solution and stub hand-ins."""
    folder = course_ws.workdir / "check" / aid
    shutil.rmtree(folder, ignore_errors=True)
    ws = _throwaway(course_ws, aid, folder)  # its own gradebook and secret: a check never touches the course's
    _release_one(ws, aid, force=True)
    submissions = folder / "submissions"
    for i in range(1, students + 1):
        _copy_notebooks(ws.folder("source", aid), submissions / f"solution-{i}" / aid)
        _copy_notebooks(ws.folder("release", aid), submissions / f"stub-{i}" / aid)
    return aid, ws, submissions


def _throwaway(course_ws: Workspace, assignment_id: str, folder: Path) -> Workspace:
    """A fresh course in ``folder`` holding one assignment's source, with the course's own nbgrader settings."""
    if course_ws.is_ours:
        return Workspace.create(folder)
    course_ws.sync_source(assignment_id)  # refuses an unknown assignment
    ws = dataclasses.replace(course_ws, workdir=folder, db_url=f"sqlite:///{folder / 'gradebook.db'}",
                             course_root=folder / "course")
    shutil.copytree(course_ws.folder("source", assignment_id), ws.folder("source", assignment_id))
    return ws


def _judge(solutions: list[SubmissionResult], stubs: list[SubmissionResult]) -> tuple[bool, list[str]]:
    problems = []
    for who in solutions + stubs:
        if who.status == "failed":
            problems.append(f"{who.student} could not be graded: {who.reason}")
    if not all(solution.tests for solution in solutions):
        problems.append("the assignment has no autograded test cell")
    for solution in solutions:
        for grade_id, (score, top) in solution.tests.items():
            if score != top:
                problems.append(f"the source solution ({solution.student}) scores {score:g}/{top:g} on {grade_id} "
                                "(expected full marks)" + (f" [{solution.reason}]" if solution.reason else ""))
    for stub in stubs:
        for grade_id, (score, top) in stub.tests.items():
            if score != 0:
                problems.append(f"the released stub ({stub.student}) scores {score:g}/{top:g} on {grade_id} "
                                "(expected zero: a test that passes on an empty answer checks nothing)")
    return not problems, problems


def _copy_notebooks(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.ipynb"):
        shutil.copy(path, target / path.name)


def feedback(assignment_id: str, workdir=None, db_url=None, show_hidden_tests: bool = False,
             course=None) -> dict[str, list[Path]]:
    from .hidden_tests import STOCK_FEEDBACK

    ws = workspace(workdir, db_url, course)
    api = ws.nbgrader_api(**({"GenerateFeedback.preprocessors": STOCK_FEEDBACK} if show_hidden_tests else {}))
    written: dict[str, list[Path]] = {}
    graded = ws.course_root / "autograded"
    for student_dir in sorted(graded.iterdir()) if graded.is_dir() else []:
        if not any((student_dir / assignment_id).glob("*.ipynb")):
            continue  # nothing was submitted that could be graded: nothing to give feedback on
        student = student_dir.name
        outcome = api.generate_feedback(assignment_id, glob.escape(student))
        if not outcome["success"]:
            raise AutograderError(f"feedback for {student!r} failed:\n{outcome['error']}\n{outcome['log']}")
        written[student] = sorted(ws.folder("feedback", assignment_id, student).glob("*.html"))
    return written


def setup_exchange(root=None, workdir=None, db_url=None, course=None) -> exchange.ExchangeSetup:
    """nbgrader's exchange for several users of one machine (`autograder.exchange.setup`); releases
    already made are published to it."""
    ws = workspace(workdir, db_url, course)
    done = exchange.setup(ws, root)
    released = ws.course_root / "release"
    for aid in sorted(p.name for p in released.iterdir() if p.is_dir()) if released.is_dir() else []:
        if _in_gradebook(ws, aid):
            exchange.publish(ws, aid)
    return done


def release_feedback(assignment_id: str, workdir=None, db_url=None, course=None) -> exchange.FeedbackRelease:
    """The feedback `feedback` wrote, to the exchange: each student fetches theirs in the Assignment List."""
    ws = workspace(workdir, db_url, course)
    folder = ws.course_root / "feedback"
    students = sorted(p.name for p in folder.iterdir() if (p / assignment_id).is_dir()) if folder.is_dir() else []
    return exchange.release_feedback(ws, assignment_id, students)


def set_due(assignment_id: str, due: str, timezone: str = "UTC", penalty: str = "none",
            zero_after_days: float | None = None, grace_minutes: float = 0.0, workdir=None, db_url=None,
            course=None) -> tuple[datetime.datetime, late.LateRule]:
    """An assignment's due date (in the gradebook, where the formgrader shows it) and late-penalty rule;
    the penalties of submissions already graded are re-applied at once. Returns (due in UTC, rule)."""
    ws = workspace(workdir, db_url, course)
    when, rule = late.parse_due(due, timezone), late.parse_rule(penalty, zero_after_days, grace_minutes)
    if not _in_gradebook(ws, assignment_id):
        raise AutograderError(f"assignment {assignment_id!r} is not in the gradebook: run "
                              f"`python -m autograder release {assignment_id}` first")
    with Gradebook(ws.db_url, ws.course_id) as gb:
        gb.update_or_create_assignment(assignment_id, duedate=when)
    late.save_rule(ws.late_rules, assignment_id, rule)
    late.apply(ws.nbgrader_config(), ws.db_url, ws.course_id, assignment_id)
    return when, rule


def export(workdir=None, db_url=None, course=None) -> str:
    """The grades as CSV; ids go through `csv_cell`: one line per row, never a spreadsheet formula."""
    from .submission_files import csv_cell

    ws = workspace(workdir, db_url, course)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "assignment", "score", "max_score"])
    with Gradebook(ws.db_url, ws.course_id) as gb:
        for assignment in gb.assignments:
            for submission in sorted(assignment.submissions, key=lambda s: s.student.id):
                writer.writerow([csv_cell(submission.student.id), csv_cell(assignment.name),
                                 f"{late.final_score(submission):g}", f"{submission.max_score:g}"])
    return out.getvalue()


def demo(workdir=None, workers: int | None = None, mistakes: bool = False,
         assignment_ids: list[str] | None = None) -> list[SubmissionResult]:
    """Release, grade the bundled samples, write feedback, print the tables.

    Each real assignment gets its source solution and its blank stub as two
    students, plus (``mistakes=True``) one student per typical mistake of
    its mistakes file; the sample assignment gets every sample case.
    ``assignment_ids`` narrows the run (default: every assignment).
    """
    from .samples import SAMPLE_ID, build_sample_submissions, mistake_submissions
    from .sandbox import probe

    ws = Workspace.create(workdir)
    submissions = ws.workdir / "demo-submissions"
    shutil.rmtree(submissions, ignore_errors=True)
    everything = list(assignment_sources())
    unknown = sorted(set(assignment_ids or ()) - set(everything))
    if unknown:
        raise AutograderError(f"no assignment named {', '.join(unknown)}; the demo knows: {', '.join(everything)}")
    results = []
    for aid in assignment_ids or everything:
        _release_one(ws, aid, force=False)
        if aid == SAMPLE_ID:
            isolated = probe().namespaces
            build_sample_submissions(submissions, ws.folder("source", aid), ws.folder("release", aid),
                                     demo_attack_targets(ws, submissions) if isolated else _harmless_targets())
        else:
            _copy_notebooks(ws.folder("source", aid), submissions / "solution" / aid)
            _copy_notebooks(ws.folder("release", aid), submissions / "blank" / aid)
            if mistakes:
                mistake_submissions(aid, ws.folder("source", aid), submissions)
        graded = grade_submissions(aid, submissions, ws.workdir, ws.db_url, workers)
        feedback(aid, ws.workdir, ws.db_url)
        print_results(aid, graded)
        results += graded
    print(f"\nfeedback: {ws.course_root / 'feedback'}\ngradebook: {ws.db_url}\n"
          f"formgrader: cd {ws.course_root} && jupyter lab  (Nbgrader > Formgrader)", file=sys.stdout)
    return results


def demo_attack_targets(ws: Workspace, submissions: Path) -> dict[str, list[str]]:
    """What the sample vandal and snoop aim at: this run's gradebook, sources and submissions.

    Deletes and writes aim only at files of this work folder, never at the repo.
    """
    from .layout import SAMPLES_DIR

    gradebook = ws.workdir / "gradebook.db"
    source = ws.folder("source", "ag_sample") / "numpy_part.ipynb"
    return {
        "delete": [str(gradebook), str(submissions / "solution"), str(ws.folder("source", "ag_sample"))],
        "write": [str(gradebook), str(submissions / "blank" / "ag_sample" / "numpy_part.ipynb"),
                  str(source), str(ws.workdir / "PWNED.txt"), "/tmp/autograder-demo-PWNED.txt"],
        "read": [str(source), str(gradebook), str(SAMPLES_DIR / "ag_sample" / "numpy_part.py")],
    }


def _harmless_targets() -> dict[str, list[str]]:
    # Without namespaces the kernel runs with our rights: never aim the vandal at real files then.
    return {"delete": [], "write": [], "read": []}

