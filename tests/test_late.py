"""Due dates and late penalties per assignment (`autograder.late`), through nbgrader's plugin mechanism.

Expected penalties are computed by hand from the rule's definition; the
graded course is the nbgrader-docs-style sample (no TensorFlow), whose
hand-ins get submission times around a due date. nbgrader's own export is the
second oracle: its ``score`` column is its own ``max(0, raw - penalty)``.
"""
from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest

from autograder import api
from autograder.late import LateError, LateRule, parse_due, parse_rule
from autograder.samples.nbgrader_course import ASSIGNMENT, build_course

DAY = 86400


def test_a_per_day_rule_charges_each_started_day_and_zero_after_its_limit():
    rule = parse_rule("10%/day", zero_after_days=5, grace_minutes=10)
    assert rule == LateRule("per_day", 10.0, 5, 10)
    assert rule.penalty_for(4.0, 599) == 0.0                    # within the grace period
    assert rule.penalty_for(4.0, 601) == pytest.approx(0.4)     # one started day: 10% of 4
    assert rule.penalty_for(4.0, DAY + 1) == pytest.approx(0.8)  # two started days
    assert rule.penalty_for(4.0, 5 * DAY) == pytest.approx(2.0)
    assert rule.penalty_for(4.0, 5 * DAY + 1) == 4.0             # past five days: zero
    assert parse_rule("zero").penalty_for(3.0, 1) == 3.0
    assert parse_rule("none").penalty_for(3.0, 10 * DAY) == 0.0
    assert parse_rule("60%/day").penalty_for(3.0, 2 * DAY) == 3.0  # never more than the score


@pytest.mark.parametrize("penalty, zero_after, message", [
    ("10%", None, "use none, zero, or a percentage per day such as 10%/day"),
    ("150%/day", None, "use none, zero"),
    ("zero", 3, "--zero-after goes with a per-day penalty"),
])
def test_bad_rules_name_the_accepted_forms(penalty, zero_after, message):
    with pytest.raises(LateError, match=message):
        parse_rule(penalty, zero_after)


def test_a_due_date_is_read_on_the_clock_it_names():
    assert str(parse_due("2026-12-10 23:59", "Europe/Paris")) == "2026-12-10 22:59:00"  # CET is UTC+1
    assert str(parse_due("2026-07-10 23:59", "Europe/Paris")) == "2026-07-10 21:59:00"  # CEST is UTC+2
    with pytest.raises(LateError, match="YYYY-MM-DD HH:MM"):
        parse_due("10/12/2026")
    with pytest.raises(LateError, match="unknown timezone"):
        parse_due("2026-12-10 23:59", "Mars/Olympus")


def exported(course, workdir) -> dict[str, float]:
    return {row["student"]: float(row["score"])
            for row in csv.DictReader(io.StringIO(api.export(workdir, course=course))) if row["assignment"] == ASSIGNMENT}


def nbgrader_export(course) -> dict[str, tuple[float, float]]:
    """nbgrader's own CSV export run in the course folder: student -> (late penalty, score)."""
    subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", "grades.csv"], cwd=course, check=True,
                   capture_output=True)
    rows = csv.DictReader((course / "grades.csv").open())
    return {r["student_id"]: (round(float(r["late_submission_penalty"]), 9), round(float(r["score"]), 9)) for r in rows
            if r["assignment"] == ASSIGNMENT}


@pytest.mark.slow
def test_penalties_follow_the_rule_and_are_recomputed_when_it_changes_and_on_a_regrade(tmp_path):
    course = build_course(tmp_path / "course")
    for student, when in (("bitdiddle", "2026-12-10 12:00:00 UTC"),   # 2 h late: one started day
                          ("hacker", "2026-12-13 10:00:01 UTC"),      # 3 days and 1 s: four started days
                          ("blank", "2026-12-09 09:00:00 UTC")):      # on time
        (course / "submitted" / student / ASSIGNMENT / "timestamp.txt").write_text(when + "\n")
    work = tmp_path / "work"
    options = dict(workers=2, progress=False)
    api.release(ASSIGNMENT, work, course=course)
    with pytest.raises(api.AutograderError, match="is not in the gradebook"):
        api.set_due("ps9", "2026-12-10 10:00", workdir=work, course=course)
    api.set_due(ASSIGNMENT, "2026-12-10 11:00", "Europe/Paris", "10%/day", zero_after_days=5, workdir=work,
                course=course)  # 10:00 UTC
    results = {r.student: r for r in api.grade_submissions(ASSIGNMENT, None, work, course=course, **options)}
    # Raw autograded scores (EXPECTED): bitdiddle 4, hacker 1, blank 0 (the written answer awaits a human).
    assert {s: r.score for s, r in results.items()} == pytest.approx({"bitdiddle": 3.6, "hacker": 0.6, "blank": 0})
    assert results["bitdiddle"].late == "late by 2 h 0 min: -0.4 points" and results["blank"].late == ""
    assert exported(course, work) == pytest.approx({"bitdiddle": 3.6, "hacker": 0.6, "blank": 0})
    assert nbgrader_export(course) == {"bitdiddle": (0.4, 3.6), "hacker": (0.4, 0.6), "blank": (0, 0)}

    api.set_due(ASSIGNMENT, "2026-12-10 10:00", penalty="zero", workdir=work, course=course)  # applied at once
    assert exported(course, work) == {"bitdiddle": 0, "hacker": 0, "blank": 0}
    regraded = {r.student: r for r in api.grade_submissions(ASSIGNMENT, None, work, course=course, regrade=True,
                                                            **options)}
    assert {s: r.score for s, r in regraded.items()} == {"bitdiddle": 0, "hacker": 0, "blank": 0}
    assert regraded["hacker"].late == "late by 3 d 0 h: -1 points"

    api.set_due(ASSIGNMENT, "2026-12-14 10:00", workdir=work, course=course)  # a later date: nobody late
    assert exported(course, work) == {"bitdiddle": 4, "hacker": 1, "blank": 0}
