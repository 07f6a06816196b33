"""Closing tables: scores, and the submissions that need a human's attention.

Student ids, file names and reasons are the students' text: each is printed
through `safe_label`, so none can start a line (or a row) of its own.
"""
from __future__ import annotations

import sys
from typing import TextIO

from .submission_files import safe_label


def _table(headers: list[str], rows: list[list[str]], out: TextIO) -> None:
    rows = [[safe_label(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line, file=out)
    print("-" * len(line), file=out)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)), file=out)


def print_results(assignment_id: str, results, out: TextIO = sys.stdout) -> None:
    """One row per submission, then the failures and notes in full."""
    print(f"\n== {assignment_id}: {len(results)} submissions ==", file=out)
    rows = []
    for r in results:
        score = "-" if r.score is None else f"{r.score:g} / {r.max_score:g}"
        rows.append([r.student, score, _tests_score(r), r.status, f"{r.seconds:.1f}s"])
    _table(["student", "score (all points)", "autograded tests", "status", "time"], rows, out)
    noted = [r for r in results if r.reason or r.late]
    if noted:
        print("\nfailures and notes:", file=out)
        for r in noted:
            print(f"  {safe_label(r.student)}: {safe_label('; '.join(filter(None, [r.late, r.reason])))}", file=out)
    changed = score_changes(results)
    if changed:
        print(f"\nscores changed by this grading ({len(changed)}):", file=out)
        _table(["student", "before", "now", "change"],
               [[student, f"{before:g}", f"{now:g}", f"{now - before:+g}"] for student, before, now in changed], out)


def score_changes(results) -> list[tuple[str, float, float]]:
    """(student, score before, score now) for every re-graded submission whose score moved."""
    return [(r.student, r.previous_score, r.score) for r in results
            if r.status == "graded" and r.previous_score is not None and r.score != r.previous_score]


def _tests_score(result) -> str:
    """Points of the autograded test cells only (written answers wait for a human)."""
    if result.score is None:
        return "-"
    return f"{sum(s for s, _ in result.tests.values()):g} / {sum(m for _, m in result.tests.values()):g}"


def print_checks(reports, out: TextIO = sys.stdout) -> None:
    rows = []
    for rep in reports:
        rows.append([rep.assignment, " ".join(_tests_score(r) for r in rep.solutions),
                     " ".join(_tests_score(r) for r in rep.stubs), "ok" if rep.ok else "FAILED"])
    _table(["assignment", "solution (tests), per student", "stub (tests), per student", "check"], rows, out)
    for rep in reports:
        for problem in rep.problems:
            print(f"  {safe_label(rep.assignment)}: {safe_label(problem)}", file=out)


def print_similarity(report, shown: int = 10, out: TextIO = sys.stdout) -> None:
    """The most similar pairs, then where the full report is and what was left out."""
    print(f"\n== {report.assignment_id}: {len(report.students)} students, {len(report.pairs)} pairs ==", file=out)
    _table(["student", "student", "similarity", "shared tokens"],
           [[p.student_a, p.student_b, f"{p.similarity_a:.2f} / {p.similarity_b:.2f}", str(p.tokens_overlap)]
            for p in report.pairs[:shown]], out)
    print(f"\nside by side ({report.shown} pairs): {report.html}\nevery pair: {report.csv}", file=out)
    for line in report.skipped:
        print(f"  skipped: {safe_label(line)}", file=out)
