"""A small nbgrader course of the kind nbgrader's documentation builds, to show ``--course`` on.

``python -m autograder.samples.nbgrader_course DIR`` writes one: an
``nbgrader_config.py`` that sets only the course id, ``source/ps1/problem1.ipynb``
(two functions to write, plain ``assert`` tests, one hidden, a written answer)
and three hand-ins in ``submitted/`` (right, one mistake, blank). Nothing in it
knows this repository: it is what an instructor who already teaches with
nbgrader has.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

COURSE_ID = "course101"
ASSIGNMENT = "ps1"
NOTEBOOK = "problem1.ipynb"

SQUARES = '''def squares(n):
    """The squares of 1..n: element i (from 0) is (i + 1) ** 2."""
    ### BEGIN SOLUTION
    if n < 1:
        raise ValueError("n must be at least 1")
    return [i ** 2 for i in range(1, n + 1)]
    ### END SOLUTION'''
TEST_SQUARES = '''assert squares(1) == [1]
assert squares(2) == [1, 4]
assert squares(10) == [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]'''
TEST_INVALID = '''try:
    squares(0)
except ValueError:
    pass
else:
    raise AssertionError("squares(0) did not raise a ValueError")'''
SUM_OF_SQUARES = '''def sum_of_squares(n):
    """1 ** 2 + 2 ** 2 + ... + n ** 2, using squares."""
    ### BEGIN SOLUTION
    return sum(squares(n))
    ### END SOLUTION'''
TEST_SUM = '''assert sum_of_squares(1) == 1
assert sum_of_squares(2) == 5
### BEGIN HIDDEN TESTS
assert sum_of_squares(10) == 385
assert sum_of_squares(11) == 506
### END HIDDEN TESTS'''
WRITTEN = '''Why does `squares` refuse `n = 0` instead of returning `[]`?

YOUR ANSWER HERE'''

# student -> (their squares cell, their sum_of_squares cell), or None for the blank stub; points by hand below.
# hacker's squares accepts 0 and their sum_of_squares knows only the visible tests' answers (the hidden ones fail).
HAND_INS = {
    "bitdiddle": (SQUARES, SUM_OF_SQUARES),
    "hacker": ("def squares(n):\n    return [i ** 2 for i in range(1, n + 1)]",
               "def sum_of_squares(n):\n    return {1: 1, 2: 5}[n]"),
    "blank": None,
}
EXPECTED = {"bitdiddle": {"correct_squares": 1, "squares_invalid_input": 1, "correct_sum_of_squares": 2},
            "hacker": {"correct_squares": 1, "squares_invalid_input": 0, "correct_sum_of_squares": 0},
            "blank": {"correct_squares": 0, "squares_invalid_input": 0, "correct_sum_of_squares": 0}}


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, points: int = 0) -> dict:
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": not solution,
            "schema_version": 3, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def source_notebook() -> nbformat.NotebookNode:
    """The instructor's notebook, with solutions and tests, as nbgrader's docs lay one out."""
    return new_notebook(cells=[
        new_markdown_cell("# Problem 1\n\nWrite `squares`, then use it in `sum_of_squares`."),
        new_code_cell(SQUARES, metadata=_meta("squares", solution=True)),
        new_code_cell(TEST_SQUARES, metadata=_meta("correct_squares", grade=True, points=1)),
        new_code_cell(TEST_INVALID, metadata=_meta("squares_invalid_input", grade=True, points=1)),
        new_code_cell(SUM_OF_SQUARES, metadata=_meta("sum_of_squares", solution=True)),
        new_code_cell(TEST_SUM, metadata=_meta("correct_sum_of_squares", grade=True, points=2)),
        new_markdown_cell(WRITTEN, metadata=_meta("why_value_error", solution=True, grade=True, points=1)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def _hand_in(cells: tuple[str, str] | None) -> nbformat.NotebookNode:
    """A student's notebook: the source with their two answers, or the stub nbgrader would release."""
    nb = source_notebook()
    for cell in nb.cells:
        grade_id = cell.metadata["nbgrader"]["grade_id"] if "nbgrader" in cell.metadata else ""
        if grade_id in ("squares", "sum_of_squares"):
            answer = dict(zip(("squares", "sum_of_squares"), cells))[grade_id] if cells else None
            cell.source = answer or re.sub(r"    ### BEGIN SOLUTION.*### END SOLUTION",
                                           "    # YOUR CODE HERE\n    raise NotImplementedError()",
                                           cell.source, flags=re.S)
    return nb


def build_course(root: Path) -> Path:
    """Write the course into ``root`` (created; must not exist yet) and return it."""
    root = Path(root)
    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(f'c = get_config()\nc.CourseDirectory.course_id = "{COURSE_ID}"\n')
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(source_notebook(), root / "source" / ASSIGNMENT / NOTEBOOK)
    for student, cells in HAND_INS.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(_hand_in(cells), folder / NOTEBOOK)
    return root


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where to write the course (must not exist)")
    print(f"wrote the nbgrader course {build_course(parser.parse_args().folder)}")
