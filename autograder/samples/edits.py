"""Typical mistakes written as small edits of an assignment's own solution.

A mistakes file states each wrong answer as "the solution, with this line
changed", so a reader sees exactly what the mistake is, and the two stay in
step: if the solution changes so that an edit no longer applies, importing
the mistakes file fails and names the mistake to update.
"""
from __future__ import annotations

from tools import REPO
from tools.nbsource import build, sources

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


class SolutionEdits:
    """The solution cells of one assignment, ready to be edited into mistakes."""

    def __init__(self, assignment_id: str):
        folder = REPO / "assignments" / assignment_id
        source = next((p for p in sources() if p.parent == folder), None)
        if source is None:
            raise FileNotFoundError(f"no notebook source in {folder}")
        self.cells = {cell.metadata["nbgrader"]["grade_id"]: cell.source
                      for cell in build(source).cells if "grade_id" in cell.metadata.get("nbgrader", {})}

    def edit(self, grade_id: str, *replacements: tuple[str, str], first_only: bool = False) -> dict[str, str]:
        """The solution cell as a student would submit it, with each (old, new) applied."""
        source = "\n".join(line for line in self.cells[grade_id].splitlines() if line.strip() not in MARKERS)
        for old, new in replacements:
            if old not in source:
                raise ValueError(f"mistake for {grade_id!r} no longer applies: {old!r} is not in the solution")
            source = source.replace(old, new, 1 if first_only else -1)
        return {grade_id: source}

    def body(self, grade_id: str, body: str) -> dict[str, str]:
        """The solution cell with the code between the solution markers replaced by ``body``."""
        source = self.cells[grade_id]
        start, end = source.index(MARKERS[0]), source.index(MARKERS[1]) + len(MARKERS[1])
        return {grade_id: source[:start] + body.strip() + source[end:]}
