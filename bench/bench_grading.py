"""Our parallel, sandboxed grading against stock sequential ``nbgrader autograde``, side by side.

    .venv/bin/python bench/bench_grading.py [--assignment ag_sample] [--copies K] [--workers N]

The same submissions (the source solution, the released stub and one per
typical mistake of the assignment's mistakes file, at least 8 in all) are
graded twice in one run: by the stock ``nbgrader autograde`` command in its
own course folder, and by ``autograder.api.grade_submissions``. It prints
submissions per minute for each, their ratio, and whether every submission got
the same score from both.

Stock nbgrader scores a test cell zero when TensorFlow logs to stderr in it;
to compare scores at all, its ``IgnorePattern`` preprocessor is given
TensorFlow's log lines (the best a stock installation can do). Ours needs no
pattern.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbgrader.api import Gradebook

from autograder import api
from autograder.layout import COURSE_ID, Workspace
from autograder.samples import SAMPLE_ID, copy_notebooks, mistake_submissions

# absl's log-line prefix ("E0000 00:00:1795315837.014619    4731 cuda_platform.cc:52] ...") and its preamble.
MIN_SUBMISSIONS = 8  # fewer would measure start-up more than grading
TF_LOG_LINES = r"(absl::InitializeLog|[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\])"


def build_submissions(ws: Workspace, assignment_id: str, folder: Path, copies: int | None) -> list[str]:
    """Solution, stub and mistake packs, ``copies`` times (default: enough copies for 8 submissions)."""
    base = folder / "_base"
    copy_notebooks(ws.folder("source", assignment_id), base / "solution" / assignment_id)
    copy_notebooks(ws.folder("release", assignment_id), base / "blank" / assignment_id)
    mistake_submissions(assignment_id, ws.folder("source", assignment_id), base)
    students = []
    for copy in range(copies or -(-MIN_SUBMISSIONS // len(list(base.iterdir())))):
        for student_dir in sorted(base.iterdir()):
            student = f"{student_dir.name}-{copy}"
            shutil.copytree(student_dir, folder / student)
            students.append(student)
    shutil.rmtree(base)
    return students


def stock_scores(course: Path, assignment_id: str, students: list[str]) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        return {s: gb.find_submission(assignment_id, s).score for s in students}


def run_stock(ws: Workspace, assignment_id: str, submissions: Path, students: list[str], root: Path,
              cell_timeout: int) -> tuple[float, dict[str, float]]:
    course = root / "stock-course"
    shutil.copytree(ws.folder("source", assignment_id), course / "source" / assignment_id)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Execute.timeout = {cell_timeout}\n"
        "c.IgnorePattern.enabled = True\n"
        f"c.IgnorePattern.pattern = {TF_LOG_LINES!r}\n")
    nbgrader = [sys.executable, "-m", "nbgrader"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run(nbgrader + ["generate_assignment", assignment_id, "--force"], cwd=course, env=env,
                   check=True, capture_output=True)
    shutil.copytree(submissions, course / "submitted")
    started = time.monotonic()
    done = subprocess.run(nbgrader + ["autograde", assignment_id, "--force"], cwd=course, env=env,
                          capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
    return seconds, stock_scores(course, assignment_id, students)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default=SAMPLE_ID)
    parser.add_argument("--copies", type=int, default=None,
                        help=f"copies of each submission (default: enough for {MIN_SUBMISSIONS} in all)")
    parser.add_argument("--workers", type=int, default=None, help="ours: submissions side by side (default: cores)")
    parser.add_argument("--cell-timeout", type=int, default=300)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        ws = Workspace.create(root / "ours")
        api.release(args.assignment, ws.workdir)
        submissions = root / "submissions"
        students = build_submissions(ws, args.assignment, submissions, args.copies)
        if len(students) < MIN_SUBMISSIONS:
            sys.exit(f"only {len(students)} submissions: leave --copies out, or pass at least "
                     f"{-(-MIN_SUBMISSIONS * args.copies // len(students))}")
        print(f"{len(students)} submissions of {args.assignment}, {os.cpu_count()} cores")

        stock_seconds, stock = run_stock(ws, args.assignment, submissions, students, root, args.cell_timeout)
        started = time.monotonic()
        results = api.grade_submissions(args.assignment, submissions, ws.workdir, workers=args.workers,
                                        cell_timeout=args.cell_timeout, force=True, progress=False)
        our_seconds = time.monotonic() - started
        ours = {r.student: r.score for r in results}

        rate = lambda seconds: 60 * len(students) / seconds  # noqa: E731
        print(f"\n{'':28}{'seconds':>10}{'submissions/min':>18}")
        print(f"{'stock nbgrader autograde':28}{stock_seconds:10.1f}{rate(stock_seconds):18.2f}")
        print(f"{'ours (parallel, sandboxed)':28}{our_seconds:10.1f}{rate(our_seconds):18.2f}")
        print(f"ratio: {stock_seconds / our_seconds:.2f}x (goal: at least 2x)")
        differ = {s: (stock.get(s), ours.get(s)) for s in students if stock.get(s) != ours.get(s)}
        print("scores: identical for all submissions" if not differ else f"scores differ: {differ}")
        for student in students:
            print(f"  {student:16} stock {stock.get(student)!s:>5}   ours {ours.get(student)!s:>5}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
