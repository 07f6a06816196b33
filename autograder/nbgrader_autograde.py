"""nbgrader's own Autograde, grading through our pipeline: the formgrader's button and ``nbgrader autograde``.

nbgrader's ``Autograde`` converter runs two preprocessor lists on each
notebook: its sanitize list, then ``Autograde.autograde_preprocessors``
(stock: execute in the student's kernel, then save the scores). The course's
``nbgrader_config.py`` (`autograder.layout.Workspace.write_nbgrader_config_file`)
replaces the second list with `GradeThroughOurPipeline` alone, so whichever
door an instructor uses, a submission is graded the way ``python -m autograder
grade`` grades it: safe reading, sandboxed kernel, the judge, stderr not a
failure, scores saved by the grader. nbgrader asks notebook by notebook; the
first notebook of a submission grades the whole submission (one student, one
worker), the others take their graded copy. Batches are faster through
``python -m autograder grade``, which grades many students side by side.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from .layout import Workspace, tree_digest

# (gradebook, assignment, student, submission digest) -> graded notebooks nbgrader has not asked for yet
_WAITING: dict[tuple[str, str, str, str], dict[str, nbformat.NotebookNode]] = {}
_LOCK = threading.Lock()  # the formgrader may autograde two students at once


class GradeThroughOurPipeline(NbGraderPreprocessor):
    """Return the notebook as our pipeline graded it (its scores are already in the gradebook)."""

    workdir = Unicode("", help="the grader's work folder of this repository's course; "
                               "empty for an existing nbgrader course (its .autograder folder)").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        assignment, student, name = info["assignment"], info["student"], f"{info['notebook']}.ipynb"
        root = CourseDirectory(config=self.config).root
        ws = (Workspace.create(self.workdir, info["db_url"]) if self.workdir
              else Workspace.for_course(root, info["db_url"]))
        key = (ws.db_url, assignment, student, tree_digest(ws.folder("submitted", assignment, student)))
        with _LOCK:
            waiting = _WAITING.get(key)
            if waiting is None or name not in waiting:
                waiting = _WAITING[key] = _grade(ws, assignment, student)
            graded = waiting.pop(name)
            if not waiting:
                del _WAITING[key]
        return graded, resources


def _grade(ws: Workspace, assignment: str, student: str) -> dict[str, nbformat.NotebookNode]:
    """Grade one student's submission from the course's ``submitted/``; each notebook as nbgrader should save it."""
    from .pipeline import GradingOptions, grade_folder

    result, = grade_folder(ws, assignment, ws.course_root / "submitted",
                           GradingOptions(workers=1, regrade=True, progress=False), students=[student])
    if result.status == "failed":
        raise RuntimeError(f"{student}'s {assignment} could not be graded: {result.reason}")
    with Gradebook(ws.db_url, ws.course_id) as gb:  # the notebooks nbgrader will ask for: submitted and known
        known = {f"{nb.name}.ipynb" for nb in gb.find_assignment(assignment).notebooks}
    graded = {}
    for name in sorted(known & set(os.listdir(ws.folder("submitted", assignment, student)))):
        copy = ws.folder("autograded", assignment, student) / name
        graded[name] = nbformat.read(copy, as_version=4) if copy.is_file() else _not_graded(result.reason)
    return graded


def _not_graded(reason: str) -> nbformat.NotebookNode:
    """What nbgrader saves for a notebook the grader refused (a link, unreadable): the reason, not its content."""
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"**Not graded:** {reason}")])
