"""Grading through a Dask cluster against grading here, side by side, on one machine.

    .venv/bin/python bench/bench_cluster.py [--students 12]

The same submissions (copies of the three hand-ins of the nbgrader-style sample
course, `autograder.samples.nbgrader_course`: no TensorFlow, so what is
measured is the grading machinery, not the students' training) are graded
four times in one run, each in a fresh copy of the course: locally with 1 and 2
workers, and through ``--cluster`` on a loopback scheduler with 1 and then 2
workers of one slot each (`autograder.loopback`). It prints submissions per
minute for each and the ratios: what the cluster path costs against local
grading with as many slots, and how it scales from 1 to 2 workers. On a
machine with fewer than 3 cores the 2-worker runs share the cores with the
parent, so their scaling is a lower bound of what separate machines give.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from nbgrader.api import Gradebook

from autograder import api
from autograder.loopback import LoopbackCluster
from autograder.samples.nbgrader_course import ASSIGNMENT, COURSE_ID, HAND_INS, build_course


def course_with(root: Path, copies: int) -> Path:
    """The sample course with ``copies`` copies of each hand-in, released (so only grading is timed)."""
    course = build_course(root)
    submitted = course / "submitted"
    for student in HAND_INS:
        for copy in range(copies):
            shutil.copytree(submitted / student, submitted / f"{student}-{copy}")
        shutil.rmtree(submitted / student)
    api.release(ASSIGNMENT, course=course)
    return course


def timed(course: Path, **options) -> tuple[float, dict[str, float]]:
    started = time.monotonic()
    results = api.grade_submissions(ASSIGNMENT, None, course=course, progress=False, **options)
    seconds = time.monotonic() - started
    failed = [r.student for r in results if r.status != "graded"]
    if failed:
        sys.exit(f"not graded: {failed}")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        return seconds, {s.student.id: float(s.score) for s in gb.find_assignment(ASSIGNMENT).submissions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=12, help="submissions per run (a multiple of 3)")
    args = parser.parse_args()
    copies = max(1, args.students // len(HAND_INS))
    count = copies * len(HAND_INS)
    root = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    runs: dict[str, tuple[float, dict[str, float]]] = {}
    try:
        print(f"{count} submissions per run, {os.cpu_count()} cores")
        for workers in (1, 2):
            runs[f"local, {workers} worker(s)"] = timed(course_with(root / f"local-{workers}", copies), workers=workers)
        with LoopbackCluster(root / "cluster") as cluster:
            for workers in (1, 2):
                cluster.add_worker()
                runs[f"cluster, {workers} worker(s)"] = timed(course_with(root / f"cluster-{workers}", copies),
                                                              cluster=cluster.address)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    rate = {name: 60 * count / seconds for name, (seconds, _) in runs.items()}
    print(f"\n{'':26}{'seconds':>10}{'submissions/min':>18}")
    for name, (seconds, _) in runs.items():
        print(f"{name:26}{seconds:10.1f}{rate[name]:18.2f}")
    for workers in (1, 2):
        print(f"cluster / local, {workers} slot(s): {rate[f'cluster, {workers} worker(s)'] / rate[f'local, {workers} worker(s)']:.2f}x")
    print(f"cluster, 2 workers / 1 worker: {rate['cluster, 2 worker(s)'] / rate['cluster, 1 worker(s)']:.2f}x")
    scores = {name: result for name, (_, result) in runs.items()}
    first = next(iter(scores.values()))
    print("scores: identical in every run" if all(s == first for s in scores.values())
          else f"scores differ: {scores}")


if __name__ == "__main__":
    main()
