"""Static soundness of every source assignment: metadata, points table, structure.

(Execution, full marks for the solution and zero for the stub are proved by
the autograder's `check`, tested in test_autograder*.py.)
"""
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENTS = sorted(p for p in (REPO / "assignments").iterdir() if p.is_dir()) \
    if (REPO / "assignments").is_dir() else []
TOTAL_LINE = re.compile(r"\*\*Total: (\d+) points\*\* \((\d+) autograded, (\d+) written\)")


def notebooks(folder: Path):
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def nb_meta(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.mark.parametrize("folder", ASSIGNMENTS, ids=lambda p: p.name)
def test_assignment_structure(folder):
    nbs = notebooks(folder)
    assert len(nbs) == 1, f"{folder.name}: expected one notebook, found {[p.name for p in nbs]}"
    assert nbs[0].with_suffix(".py").exists(), "the jupytext source (.py) must sit beside the notebook"
    nb = nbformat.read(nbs[0], as_version=4)
    nbformat.validate(nb)
    cells = nb.cells

    ids = [nb_meta(c)["grade_id"] for c in cells if nb_meta(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade_id in {folder.name}"

    tests = [c for c in cells if nb_meta(c).get("grade") and not nb_meta(c).get("solution")]
    written = [c for c in cells if nb_meta(c).get("grade") and nb_meta(c).get("solution")]
    solutions = [c for c in cells if nb_meta(c).get("solution") and not nb_meta(c).get("grade")]
    assert tests and written and solutions, "needs graded functions, their tests and a written question"
    for c in tests:
        assert nb_meta(c).get("locked") and nb_meta(c).get("points", 0) > 0, nb_meta(c)["grade_id"]
    for c in solutions + [c for c in written if c.cell_type == "code"]:
        assert "### BEGIN SOLUTION" in c.source and "### END SOLUTION" in c.source, nb_meta(c)["grade_id"]
    assert any("### BEGIN HIDDEN TESTS" in c.source for c in tests), "no hidden tests at all"

    auto = sum(nb_meta(c)["points"] for c in tests)
    manual = sum(nb_meta(c)["points"] for c in written)
    first_markdown = next(c for c in cells if c.cell_type == "markdown")
    match = TOTAL_LINE.search(first_markdown.source)
    assert match, "the first markdown cell must state '**Total: N points** (A autograded, W written)'"
    assert tuple(map(int, match.groups())) == (auto + manual, auto, manual)

    first_code = next(c for c in cells if c.cell_type == "code")
    assert "start(" in first_code.source, "the first code cell must call course.runtime.start()"
    for c in cells:
        assert "weights=\"imagenet\"" not in c.source and "urlretrieve" not in c.source, "no downloads"


LOCKED_HELPER_LIMIT, TEST_CELL_LIMIT = 40, 60  # lines: plumbing beyond this belongs in course/, tested there


@pytest.mark.parametrize("folder", ASSIGNMENTS, ids=lambda p: p.name)
def test_locked_and_test_cells_stay_short(folder):
    nb = nbformat.read(notebooks(folder)[0], as_version=4)
    too_long = []
    for cell in nb.cells:
        meta, lines = nb_meta(cell), len(cell.source.splitlines())
        if cell.cell_type != "code" or meta.get("solution"):
            continue
        if meta.get("grade") and lines > TEST_CELL_LIMIT:
            too_long.append(f"test cell {meta['grade_id']}: {lines} lines > {TEST_CELL_LIMIT}")
        elif meta.get("locked") and not meta.get("grade") and lines > LOCKED_HELPER_LIMIT:
            too_long.append(f"locked helper cell {meta['grade_id']}: {lines} lines > {LOCKED_HELPER_LIMIT}")
    assert not too_long, f"{folder.name}: move the plumbing into course/ (with a unit test): {too_long}"
