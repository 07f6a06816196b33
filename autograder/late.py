"""Due dates and late penalties, per assignment, through nbgrader's own late-penalty plugin mechanism.

nbgrader keeps each assignment's due date in the gradebook (the formgrader
shows it, and each submission's lateness from its ``timestamp.txt``); when a
notebook is scored, its ``AssignLatePenalties`` asks the configured
``plugin_class`` for the penalty of a late notebook. Its own plugin has one
rule for the whole course ('none' or 'zero'); `LatePolicy` reads a rule per
assignment from ``<workdir>/late_policy.json``, written by
``python -m autograder due``:

- ``none``: no penalty (nbgrader's default);
- ``zero``: a late notebook scores zero;
- ``P%/day``: each started day late costs P% of the notebook's score, and
  (``--zero-after D``) after D days late it scores zero.

A grace period (minutes) forgives a submission that late. A score never goes
below zero (`final_score`, as nbgrader's own export computes it). Changing a
rule or a due date re-applies the penalties at once (`apply`): grading is
not repeated, nothing a student handed in is read again.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import math
import re
import zoneinfo
from pathlib import Path

from nbformat.v4 import new_notebook
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Unicode

_PER_DAY = re.compile(r"(\d+(?:\.\d+)?)%/day")


class LateError(ValueError):
    """A due date or a penalty rule that cannot be used (the message says the accepted forms)."""


@dataclasses.dataclass(frozen=True)
class LateRule:
    penalty: str = "none"               # "none", "zero" or "per_day"
    percent: float = 0.0                # per started day late, for "per_day"
    zero_after_days: float | None = None
    grace_minutes: float = 0.0

    def penalty_for(self, score: float, seconds_late: float) -> float:
        """The points a notebook scoring ``score`` loses for being ``seconds_late``."""
        if seconds_late <= self.grace_minutes * 60 or self.penalty == "none":
            return 0.0
        days = math.ceil(seconds_late / 86400)
        if self.penalty == "zero" or (self.zero_after_days is not None and seconds_late > self.zero_after_days * 86400):
            return score
        return min(score, score * self.percent / 100 * days)

    def describe(self) -> str:
        text = {"none": "no penalty", "zero": "late scores zero"}.get(self.penalty, f"{self.percent:g}% per day late")
        if self.zero_after_days is not None and self.penalty == "per_day":
            text += f", zero after {self.zero_after_days:g} days"
        return text + (f", {self.grace_minutes:g} min grace" if self.grace_minutes else "")


def parse_rule(penalty: str, zero_after_days: float | None = None, grace_minutes: float = 0.0) -> LateRule:
    """``none``, ``zero`` or ``P%/day`` (e.g. ``10%/day``) into a rule."""
    text = penalty.strip().lower().replace(" ", "")
    if grace_minutes < 0 or (zero_after_days is not None and zero_after_days <= 0):
        raise LateError("--grace must be 0 or more minutes and --zero-after a positive number of days")
    if text in ("none", "zero"):
        if zero_after_days is not None:
            raise LateError(f"--zero-after goes with a per-day penalty (e.g. --penalty 10%/day), not {penalty!r}")
        return LateRule(text, grace_minutes=grace_minutes)
    match = _PER_DAY.fullmatch(text)
    if not match or not 0 < float(match.group(1)) <= 100:
        raise LateError(f"unknown penalty {penalty!r}: use none, zero, or a percentage per day such as 10%/day")
    return LateRule("per_day", float(match.group(1)), zero_after_days, grace_minutes)


def parse_due(text: str, timezone: str = "UTC") -> datetime.datetime:
    """``2026-12-10 23:59`` in ``timezone`` as the naive UTC time nbgrader's gradebook stores."""
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise LateError(f"unknown timezone {timezone!r}: use a name such as UTC or Europe/Paris") from None
    try:
        local = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise LateError(f"cannot read the due date {text!r}: write it as YYYY-MM-DD HH:MM") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    return local.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def load_rules(path: Path) -> dict[str, LateRule]:
    """Assignment id -> its rule, from a ``late_policy.json`` (none yet: no rules)."""
    if not path.exists():
        return {}
    return {aid: LateRule(**rule) for aid, rule in json.loads(path.read_text()).items()}


def save_rule(path: Path, assignment_id: str, rule: LateRule) -> None:
    rules = {**load_rules(path), assignment_id: rule}
    path.write_text(json.dumps({aid: dataclasses.asdict(r) for aid, r in sorted(rules.items())}, indent=2) + "\n")


class LatePolicy(LateSubmissionPlugin):
    """nbgrader's late-penalty plugin, with the rule of the assignment being scored (`LatePolicy.rules_file`)."""

    rules_file = Unicode("", help="late_policy.json written by `python -m autograder due`").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        rules = load_rules(Path(self.rules_file)) if self.rules_file else {}
        rule = rules.get(self.parent.assignment_id)  # the parent: nbgrader's AssignLatePenalties
        if rule is None:
            return super().late_submission_penalty(student_id, score, total_seconds_late)
        return rule.penalty_for(score, total_seconds_late)


def final_score(submission) -> float:
    """A gradebook submission's score after its late penalty, never below zero (nbgrader's export rule)."""
    return max(0.0, float(submission.score) - float(submission.late_submission_penalty or 0.0))


def late_note(submission) -> str:
    """"late by 1 d 2 h: -1.5 points" for the report, "" when on time."""
    seconds = float(submission.total_seconds_late or 0.0)
    if seconds <= 0:
        return ""
    hours = int(seconds // 3600)
    when = f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h {int(seconds % 3600 // 60)} min"
    penalty = float(submission.late_submission_penalty or 0.0)
    return f"late by {when}: " + (f"-{penalty:g} points" if penalty else "no penalty")


def apply(config, db_url: str, course_id: str, assignment_id: str) -> None:
    """Re-apply the late penalties of every graded submission, as nbgrader's AssignLatePenalties does."""
    from nbgrader.preprocessors import AssignLatePenalties

    with Gradebook(db_url, course_id) as gb:
        try:
            assignment = gb.find_assignment(assignment_id)
        except MissingEntry:
            raise LateError(f"assignment {assignment_id!r} is not in the gradebook: run "
                            f"`python -m autograder release {assignment_id}` first") from None
        pairs = [(s.student.id, nb.name) for s in assignment.submissions for nb in s.notebooks]
    for student, notebook in pairs:
        resources = {"nbgrader": {"db_url": db_url, "assignment": assignment_id, "student": student,
                                  "notebook": notebook}}
        AssignLatePenalties(config=config).preprocess(new_notebook(), resources)
