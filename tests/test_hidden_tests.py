"""Feedback keeps hidden tests hidden: their code goes, a placeholder and their results stay.

Expected cells are written out by hand.
"""
from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.hidden_tests import PLACEHOLDER, HiddenTestsStayHidden

HIDDEN = "check(f(1))\n### BEGIN HIDDEN TESTS\nfor n in secret_cases():\n    check(f(n))\n### END HIDDEN TESTS\ndone()"


def graded_cell(source: str, grade: bool = True):
    cell = new_code_cell(source, metadata={"nbgrader": {"grade": grade, "solution": False, "grade_id": "t",
                                                        "points": 1, "schema_version": 3}})
    cell.outputs = [new_output("stream", name="stdout", text="\u2714 f(1)\n"),
                    new_output("error", ename="GradingError", evalue="f(7) is 3, expected 5",
                               traceback=["Traceback", "----> 4     check(f(n))  # for n in secret_cases()"])]
    return cell


def run(*cells):
    nb, _ = HiddenTestsStayHidden().preprocess(new_notebook(cells=list(cells)), {})
    return nb.cells


def test_the_hidden_region_becomes_a_placeholder_and_errors_keep_only_their_message():
    cell, = run(graded_cell(HIDDEN))
    assert cell.source == f"check(f(1))\n{PLACEHOLDER}\ndone()"
    assert cell.outputs[0].text == "\u2714 f(1)\n"  # the results stay
    assert cell.outputs[1].traceback == ["GradingError: f(7) is 3, expected 5"]
    assert "secret" not in nbformat.writes(nbformat.v4.new_notebook(cells=[cell]))


def test_cells_without_hidden_tests_are_left_as_they_are():
    visible, plain = graded_cell("check(f(1))"), graded_cell(HIDDEN, grade=False)
    kept = [nbformat.writes(new_notebook(cells=[c])) for c in (visible, plain)]
    assert [nbformat.writes(new_notebook(cells=[c])) for c in run(visible, plain)] == kept
