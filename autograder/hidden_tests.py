"""Feedback shows what the hidden tests found, never their code.

Autograded notebooks carry each test cell's full source, hidden region
included: nbgrader's OverwriteCells restores it from the gradebook. Stock
``generate_feedback`` therefore hands students the hidden tests, and next
year's class gets them too. The course's feedback pipeline (`layout`:
``GenerateFeedback.preprocessors``, so the formgrader's button does the same)
ends with `HiddenTestsStayHidden`, which removes the hidden region as
nbgrader's own ClearHiddenTests does when it releases an assignment, leaves a
line saying it ran, and shortens the cell's errors to their message (a
traceback quotes the failing line of code). The checks' names and results,
printed by the judge, stay. ``feedback --show-hidden-tests`` turns it off.
"""
from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests

PLACEHOLDER = "# [hidden tests ran here: their code is not shown; their results are below]"


class HiddenTestsStayHidden(ClearHiddenTests):
    """nbgrader's ClearHiddenTests for feedback: the region goes, a placeholder and the results stay."""

    def preprocess_cell(self, cell, resources, index):
        if not (cell.cell_type == "code" and utils.is_grade(cell) and self.begin_test_delimeter in cell.source):
            return cell, resources
        lines = cell.source.split("\n")
        start = next(i for i, line in enumerate(lines) if self.begin_test_delimeter in line)
        self._remove_hidden_test_region(cell)
        kept = cell.source.split("\n")
        cell.source = "\n".join(kept[:start] + [PLACEHOLDER] + kept[start:])
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


# nbgrader's feedback preprocessors (GenerateFeedback.preprocessors), and ours after them.
STOCK_FEEDBACK = ["nbgrader.preprocessors.GetGrades", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]
FEEDBACK = STOCK_FEEDBACK + ["autograder.hidden_tests.HiddenTestsStayHidden"]
