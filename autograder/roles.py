"""Which cells of a submission are the instructor's, decided against the gradebook.

The judge runs only trusted code, so a cell is trusted only when the
gradebook says so: its grade_id names a locked source cell of this notebook
and its text is that cell's text (nbgrader's `OverwriteCells` has restored
it just before). Metadata a student forged ("locked": true on a cell of their
own, a grade_id the gradebook does not know) makes nothing trusted.
"""
from __future__ import annotations

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.utils import is_grade, is_solution

STUDENT, TRUSTED, TEST, MARKDOWN = "student", "trusted", "test", "markdown"


def cell_roles(nb, gradebook: Gradebook, notebook: str, assignment: str) -> list[str]:
    """One role per cell: ``test`` (scored by the judge), ``trusted``, ``student`` or ``markdown``."""
    roles = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            roles.append(MARKDOWN)
            continue
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        role = STUDENT
        if grade_id:
            try:
                source = gradebook.find_source_cell(grade_id, notebook, assignment)
            except MissingEntry:
                source = None
            if source is not None and source.locked and source.cell_type == "code" and cell.source == source.source:
                role = TEST if is_grade(cell) and not is_solution(cell) else TRUSTED
        roles.append(role)
    return roles
