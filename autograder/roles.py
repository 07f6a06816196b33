"""Which cells of a submission are the instructor's, decided against the gradebook.

The judge runs only trusted code, so a cell is trusted only when the
gradebook says so: its grade_id names a locked source cell of this notebook
and its text is that cell's text (nbgrader's `OverwriteCells` has restored
it just before). Metadata a student forged ("locked": true on a cell of their
own, a grade_id the gradebook does not know) makes nothing trusted.
"""
from __future__ import annotations

import ast

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


def answer_names(nb, gradebook: Gradebook, notebook: str, assignment: str) -> list[str]:
    """The names the student is asked to define: those the released solution cells bind at top level.

    Only these reach the judge from the student's kernel; any other name a
    student binds (``expect_close = lambda *a, **k: None``, a new ``np``)
    stays in their kernel, so a test can only ever call the student's answers.
    """
    names: set[str] = set()
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or not grade_id or not is_solution(cell):
            continue
        try:
            source = gradebook.find_source_cell(grade_id, notebook, assignment).source
            tree = ast.parse(source)
        except (MissingEntry, SyntaxError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                    names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return sorted(names)
