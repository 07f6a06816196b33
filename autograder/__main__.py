"""``python -m autograder COMMAND``: the instructor's commands (see autograder/__init__.py)."""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    from .pipeline import GradingOptions  # the defaults' one source
    from .lms import MOODLE_IDENTIFIERS
    from .similarity import DEFAULT_THRESHOLD

    defaults = GradingOptions()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workdir", type=Path, default=None,
                        help="where releases, autograded copies, feedback and the default gradebook go "
                             "(default: work/ in the repo)")
    common.add_argument("--db", default=None, metavar="URL",
                        help="gradebook as an SQLAlchemy URL, e.g. postgresql+psycopg2://user@host/db "
                             "(default: SQLite in the work folder)")
    common.add_argument("--course", type=Path, default=None, metavar="DIR",
                        help="an existing nbgrader course (the folder holding source/ and its nbgrader_config.py) "
                             "instead of this repository's assignments")
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("release", parents=[common], help="generate student versions")
    p.add_argument("assignment", nargs="?", help="default: every folder of assignments/")
    p = commands.add_parser("check", parents=[common], help="prove assignments sound (solution full, stub zero)")
    p.add_argument("assignment", nargs="?", help="default: every folder of assignments/")
    p.add_argument("--workers", type=int, default=None)
    p = commands.add_parser("grade", parents=[common], help="autograde every submission, in parallel, isolated")
    p.add_argument("assignment")
    p.add_argument("--submissions", type=Path, default=None,
                   help="folder laid out as <dir>/<student>/<assignment>/*.ipynb (default: the course's submitted/)")
    p.add_argument("--workers", type=int, default=None, help="submissions graded side by side (default: cores)")
    p.add_argument("--cell-timeout", type=int, default=None, help=f"seconds per cell (default {defaults.cell_timeout})")
    p.add_argument("--submission-timeout", type=int, default=None, help=f"seconds per submission (default {defaults.submission_timeout})")
    p.add_argument("--regrade", "--force", dest="regrade", action="store_true",
                   help="re-score submissions already graded and unchanged (a changed test cell re-grades "
                        "everyone by itself); manual grades and comments are kept")
    p.add_argument("--student", action="append", default=None, metavar="ID",
                   help="grade only this student's submission (repeat for several)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="execute on the Dask cluster whose scheduler is at tls://HOST:PORT (or tcp://127.0.0.1:PORT); "
                        "this machine still prepares, scores and writes the gradebook")
    p.add_argument("--tls-dir", type=Path, default=None, metavar="DIR",
                   help="the cluster's certificates: ca.pem, cert.pem, key.pem (needed off 127.0.0.1)")
    p.add_argument("--gpu", action="store_true", help="the kernels need a GPU: only the cluster's GPU workers grade")
    p = commands.add_parser("worker", help="a grading worker of a Dask cluster (wraps `dask worker`; see README)")
    p.add_argument("address", help="the scheduler: tls://HOST:PORT, or tcp://127.0.0.1:PORT on this machine")
    p.add_argument("--slots", type=int, default=None, help="submissions graded side by side (default: cores)")
    p.add_argument("--gpus", type=int, default=0, help="GPUs offered to GPU assignments (default 0)")
    p.add_argument("--tls-dir", type=Path, default=None, metavar="DIR",
                   help="this machine's certificates: ca.pem, cert.pem, key.pem (needed off 127.0.0.1)")
    p = commands.add_parser("roster", parents=[common], help="the class list: import a CSV into the gradebook")
    p.add_argument("action", choices=["import"])
    p.add_argument("file", type=Path, help="CSV with id, first_name, last_name, email (or Canvas's / Moodle's export)")
    p = commands.add_parser("lms", help="LMS round trip: import a bulk download, export grades")
    lms = p.add_subparsers(dest="lms_action", required=True)
    q = lms.add_parser("import", parents=[common], help="Canvas's or Moodle's submissions zip into submitted/")
    q.add_argument("zip", type=Path)
    q.add_argument("assignment")
    q.add_argument("--timezone", default="UTC", help="the LMS's clock, for the zip's file times (default UTC)")
    q.add_argument("--dry-run", action="store_true", help="show which file goes to which student; write nothing")
    q = lms.add_parser("export", parents=[common], help="grades as Canvas's or Moodle's import CSV")
    q.add_argument("lms_name", choices=["canvas", "moodle"])
    q.add_argument("assignment")
    q.add_argument("--column", required=True,
                   help="the LMS's grade column, e.g. 'Lab 1 (4012)' as in Canvas's export, or Moodle's item name")
    q.add_argument("--identifier", default="email", choices=MOODLE_IDENTIFIERS,
                   help="Moodle: the column students are matched by (default email)")
    q.add_argument("--to", type=Path, default=None, help="file to write (default: stdout)")
    p = commands.add_parser("similarity", parents=[common],
                            help="the most similar pairs of solution code (template subtracted): HTML and CSV")
    p.add_argument("assignment")
    p.add_argument("--submissions", type=Path, default=None,
                   help="folder laid out as <dir>/<student>/<assignment>/*.ipynb (default: the course's submitted/)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: <workdir>/similarity/<assignment>)")
    p.add_argument("--top", type=int, default=50, help="pairs shown in the HTML report (default 50; the CSV has all)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"smallest similarity shown in the HTML, 0-1 (default {DEFAULT_THRESHOLD})")
    p = commands.add_parser("feedback", parents=[common], help="feedback HTML per student")
    p.add_argument("assignment")
    p.add_argument("--show-hidden-tests", action="store_true",
                   help="include the code of hidden tests (by default feedback shows only their results)")
    p.add_argument("--release", action="store_true",
                   help="also release it to the exchange: students fetch it in their Assignment List")
    p = commands.add_parser("exchange", parents=[common],
                            help="nbgrader's exchange for the students of this machine (release, submit, collect)")
    p.add_argument("action", choices=["setup"])
    p.add_argument("--root", type=Path, default=None,
                   help="the exchange folder (default: nbgrader's, /srv/nbgrader/exchange, or the course's own)")
    p = commands.add_parser("due", parents=[common], help="an assignment's due date and late penalty")
    p.add_argument("assignment")
    p.add_argument("date", help="the due date, YYYY-MM-DD HH:MM (in --timezone)")
    p.add_argument("--timezone", default="UTC", help="the due date's clock, e.g. Europe/Paris (default UTC)")
    p.add_argument("--penalty", default="none",
                   help="none (default), zero (late scores zero), or a share of the score per started day late, "
                        "e.g. 10%%/day")
    p.add_argument("--zero-after", type=float, default=None, metavar="DAYS",
                   help="with a per-day penalty: later than this many days scores zero")
    p.add_argument("--grace", type=float, default=0.0, metavar="MINUTES", help="lateness forgiven (default 0)")
    p = commands.add_parser("export", parents=[common], help="grades as CSV")
    p.add_argument("--to", type=Path, default=None, help="file to write (default: stdout)")
    p = commands.add_parser("demo", parents=[common],
                            help="release everything, grade the sample submissions, write feedback, print grades")
    p.add_argument("assignments", nargs="*", help="assignments to demonstrate (default: all)")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--mistakes", action="store_true",
                   help="also grade one submission per typical mistake of every assignment (slower)")
    return parser


def _write(text: str, to: Path | None) -> None:
    """A command's CSV to ``--to FILE``, or to stdout."""
    if to:
        to.write_text(text)
    else:
        sys.stdout.write(text)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from . import api
    from .layout import LayoutError
    from .report import print_checks, print_results, print_similarity
    from .roster import RosterError
    from .lms import LmsError, LmsWarning, format_applied, format_plan
    from .similarity import SimilarityError
    from .late import LateError

    try:
        if args.command == "release":
            for aid in api.release(args.assignment, args.workdir, args.db, force=True, course=args.course):
                print(f"released {aid}")
        elif args.command == "check":
            if args.db:
                print("check uses its own throw-away gradebook; --db is ignored", file=sys.stderr)
            reports = api.check(args.assignment, args.workdir, args.workers, course=args.course)
            print_checks(reports)
            return 0 if reports and all(r.ok for r in reports) else 1
        elif args.command == "grade":
            options = {k: v for k, v in (("cell_timeout", args.cell_timeout),
                                         ("submission_timeout", args.submission_timeout),
                                         ("cluster", args.cluster), ("tls_dir", args.tls_dir)) if v is not None}
            if args.gpu and not args.cluster:
                raise api.AutograderError("--gpu sends jobs to a cluster's GPU workers: give --cluster ADDRESS too")
            results = api.grade_submissions(args.assignment, args.submissions, args.workdir, args.db,
                                            args.workers, args.student, course=args.course, regrade=args.regrade,
                                            gpu=args.gpu, **options)
            print_results(args.assignment, results)
            return 1 if any(r.status == "failed" for r in results) else 0
        elif args.command == "worker":
            from .cluster import run_worker

            run_worker(args.address, args.slots or os.cpu_count() or 1, args.gpus, args.tls_dir)
        elif args.command == "roster":
            report = api.import_roster(args.file, args.workdir, args.db, course=args.course)
            print(f"roster ({report.format} format): {len(report.added)} added, {len(report.updated)} updated, "
                  f"{len(report.unchanged)} unchanged")
        elif args.command == "lms" and args.lms_action == "import":
            plan, applied = api.lms_import(args.zip, args.assignment, args.workdir, args.db, args.course,
                                           args.timezone, args.dry_run)
            print(format_plan(plan))
            print("dry run: nothing written" if applied is None else format_applied(applied))
        elif args.command == "lms":
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", LmsWarning)
                text = api.lms_export(args.lms_name, args.assignment, args.column, args.workdir, args.db,
                                      args.course, args.identifier)
            for warning in caught:
                print(f"warning: {warning.message}", file=sys.stderr)
            _write(text, args.to)
        elif args.command == "similarity":
            if args.db:
                print("similarity reads submissions, not the gradebook; --db is ignored", file=sys.stderr)
            report = api.similarity(args.assignment, args.submissions, args.workdir, args.out, course=args.course,
                                    top=args.top, threshold=args.threshold)
            print_similarity(report)
        elif args.command == "feedback":
            for student, paths in api.feedback(args.assignment, args.workdir, args.db, args.show_hidden_tests,
                                               args.course).items():
                for path in paths:
                    print(f"{student}: {path}")
            if args.release:
                done = api.release_feedback(args.assignment, args.workdir, args.db, args.course)
                print(f"released to the exchange: {', '.join(done.released) or 'nobody'}")
                if done.not_through_exchange:
                    print("not handed in through the exchange (give them the HTML above): "
                          + ", ".join(done.not_through_exchange))
        elif args.command == "exchange":
            done = api.setup_exchange(args.root, args.workdir, args.db, args.course)
            print(f"exchange ready: {done.root} (mode 1777); releases are published there, students fetch and "
                  "submit in JupyterLab's Assignment List, the formgrader's Collect button brings hand-ins in")
            print(f"students' setting: {done.student_config}")
        elif args.command == "due":
            when, rule = api.set_due(args.assignment, args.date, args.timezone, args.penalty, args.zero_after,
                                     args.grace, args.workdir, args.db, args.course)
            print(f"{args.assignment} due {when:%Y-%m-%d %H:%M} UTC ({rule.describe()}); "
                  "the penalties of graded submissions are updated")
        elif args.command == "export":
            text = api.export(args.workdir, args.db, args.course)
            _write(text, args.to)
        elif args.command == "demo":
            if args.course:
                raise api.AutograderError("demo grades this repository's samples; --course is for the other commands")
            results = api.demo(args.workdir, args.workers, args.mistakes, args.assignments)
            return 1 if any(r.status == "failed" for r in results) else 0
    except (api.AutograderError, LayoutError, RosterError, SimilarityError, LmsError, LateError, FileNotFoundError,
            RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
