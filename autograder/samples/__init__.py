"""Sample submissions: the cases a real course meets, built from an assignment's own notebooks.

`build_sample_submissions` writes, for the autograder's sample assignment
``ag_sample``, one submission per case below (solution, blank, partly right,
and every hostile case of issue 4) into ``<dir>/<student>/ag_sample/``.
Building them from the synced source and released notebooks (instead of
storing ``.ipynb`` files) keeps them in step with the sample assignment, and
lets the vandal and the snoop aim at the real paths of the run they attack.

`mistake_submissions` turns an assignment's typical-mistakes file
(``mistakes.py`` beside the assignment's notebooks) into submissions: the
source notebooks, solutions in place, with only the named solution cells
replaced; independent mistakes share a submission (see `packing`).
"""
from __future__ import annotations

import copy
import dataclasses
import importlib.util
import shutil
from pathlib import Path

import nbformat

from autograder.layout import MISTAKES_FILE, assignment_sources
from autograder.samples.packing import Packed, pack

SAMPLE_ID = "ag_sample"


@dataclasses.dataclass(frozen=True)
class Case:
    """One sample student: what they did and the score that proves we graded it right."""

    student: str
    what: str
    expected_tests: dict[str, float] | None   # grade_id -> expected score; None: any score will do
    reason_contains: str = ""                 # a phrase the recorded reason must contain


def _cells_by_id(nb) -> dict[str, int]:
    return {cell.metadata.get("nbgrader", {}).get("grade_id"): i for i, cell in enumerate(nb.cells)
            if cell.metadata.get("nbgrader", {}).get("grade_id")}


def replace_cells(nb, sources: dict[str, str]):
    """A copy of ``nb`` whose cells with the given grade_ids get new sources."""
    nb = copy.deepcopy(nb)
    index = _cells_by_id(nb)
    for grade_id, source in sources.items():
        if grade_id not in index:
            raise KeyError(f"no cell with grade_id {grade_id!r} (cells: {', '.join(index)})")
        nb.cells[index[grade_id]].source = source
    return nb


def _append(nb, grade_id: str, code: str):
    return replace_cells(nb, {grade_id: nb.cells[_cells_by_id(nb)[grade_id]].source + "\n\n" + code})


def _write(folder: Path, name: str, nb) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)


def _vandal_code(targets: list[str], writes: list[str]) -> str:
    return f"""
import os, shutil
report = []
for target in {targets!r}:
    try:
        shutil.rmtree(target) if os.path.isdir(target) else os.remove(target)
        report.append("DELETED " + target)
    except Exception as exc:
        report.append("blocked delete of " + target + ": " + type(exc).__name__)
for target in {writes!r}:
    try:
        with open(target, "w") as f:
            f.write("pwned")
        report.append("WROTE " + target)
    except Exception as exc:
        report.append("blocked write to " + target + ": " + type(exc).__name__)
print("\\n".join(report))
"""


def _snoop_code(targets: list[str]) -> str:
    return f"""
for target in {targets!r}:
    try:
        with open(target, "rb") as f:
            f.read(100)
        print("READ OK " + target)
    except Exception as exc:
        print("blocked read of " + target + ": " + type(exc).__name__)
"""


SLOW_RELU_LOOP = "while True:\n    pass"
MEMORY_BOMB = "blocks = []\nwhile True:\n    blocks.append(bytearray(10**8))\n    blocks[-1][::4096] = b'x' * len(blocks[-1][::4096])"
PROCESS_BOMB = "import os\nwhile True:\n    os.fork()"
FULL = {"test_relu": 1.0, "test_slide": 2.0, "test_softmax": 2.0}
NUMPY_ONLY = {"test_relu": 1.0, "test_slide": 2.0, "test_softmax": 0.0}


def sample_cases() -> list[Case]:
    zero = {"test_relu": 0.0, "test_slide": 0.0, "test_softmax": 0.0}
    return [
        Case("solution", "the source solution", FULL),
        Case("blank", "the released stub, unchanged", zero),
        Case("partly-right", "relu right, slide flipped, softmax unstable",
             {"test_relu": 1.0, "test_slide": 0.0, "test_softmax": 0.0}),
        Case("Ana María López", "a student id with spaces and non-ASCII letters", FULL),
        Case("infinite-loop", "an endless loop after defining relu", NUMPY_ONLY, "timed out"),
        Case("memory-bomb", "allocates until the memory limit", NUMPY_ONLY),
        Case("process-bomb", "a fork bomb", None),
        Case("vandal", "deletes and rewrites the gradebook, submissions and sources", NUMPY_ONLY),
        Case("snoop", "reads the source notebook and the gradebook", NUMPY_ONLY),
        Case("sys-exit", "calls sys.exit()", NUMPY_ONLY),
        Case("os-exit", "calls os._exit() before the slide test", {"test_relu": 1.0, "test_slide": 0.0,
                                                                     "test_softmax": 0.0}, "kernel died"),
        Case("segfault", "crashes the interpreter", {"test_relu": 1.0, "test_slide": 0.0, "test_softmax": 0.0},
             "kernel died"),
        Case("big-output", "prints 100 MB", NUMPY_ONLY),
        Case("edited-tests", "blank answers, test cells edited to pass", zero),
        Case("deleted-tests", "right answers, test cells deleted", NUMPY_ONLY),
        Case("duplicate-id", "copied the relu cell; the last copy is right", NUMPY_ONLY, "same grade_id"),
        Case("truncated", "a notebook cut in half", zero, "cannot be read"),
        Case("not-json", "a text file named .ipynb", zero, "cannot be read"),
        Case("empty", "an empty folder", zero, "no notebook submitted"),
        Case("wrong-name", "the notebook saved under another name", NUMPY_ONLY, "wrong notebook name"),
    ]


def build_sample_submissions(out_dir: Path, source_dir: Path, release_dir: Path,
                             attack_targets: dict[str, list[str]]) -> list[Case]:
    """Write every sample case under ``out_dir/<student>/ag_sample/``; return the cases.

    ``attack_targets`` has keys ``delete``, ``write`` and ``read``: the paths the
    vandal and the snoop go after (the caller's gradebook, sources, submissions).
    """
    solution = {name: nbformat.read(source_dir / name, as_version=4) for name in ("numpy_part.ipynb", "tf_part.ipynb")}
    stub = {name: nbformat.read(release_dir / name, as_version=4) for name in solution}
    np_sol, np_stub = solution["numpy_part.ipynb"], stub["numpy_part.ipynb"]
    relu_def = "def relu(x):\n    return np.maximum(x, 0.0)"
    flipped = "def slide(x, w):\n    return np.convolve(x, w, mode='valid')"
    unstable = "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)"

    def folder(student: str) -> Path:
        return out_dir / student / SAMPLE_ID

    for case in sample_cases():
        target = folder(case.student)
        target.mkdir(parents=True, exist_ok=True)
        if case.student in ("solution", "Ana María López"):
            for name, nb in solution.items():
                _write(target, name, nb)
        elif case.student == "blank":
            for name, nb in stub.items():
                _write(target, name, nb)
        elif case.student == "partly-right":
            _write(target, "numpy_part.ipynb", replace_cells(np_stub, {"relu": relu_def, "slide": flipped}))
            _write(target, "tf_part.ipynb", replace_cells(stub["tf_part.ipynb"], {"softmax": unstable}))
        elif case.student == "wrong-name":
            _write(target, "numpy_part (1).ipynb", np_sol)
        elif case.student == "truncated":
            text = nbformat.writes(np_sol)
            (target / "numpy_part.ipynb").write_text(text[: len(text) // 2])
        elif case.student == "not-json":
            (target / "numpy_part.ipynb").write_text("I wrote my answers in Word, sorry.\n")
        elif case.student == "empty":
            pass
        elif case.student == "edited-tests":
            _write(target, "numpy_part.ipynb", replace_cells(np_stub, {"test_relu": "pass",
                                                                       "test_slide": "print('all good')"}))
        elif case.student == "deleted-tests":
            nb = copy.deepcopy(np_sol)
            nb.cells = [c for c in nb.cells
                        if c.metadata.get("nbgrader", {}).get("grade_id") not in ("test_relu", "test_slide")]
            _write(target, "numpy_part.ipynb", nb)
        elif case.student == "duplicate-id":
            nb = replace_cells(np_sol, {"relu": "def relu(x):\n    return x"})
            index = _cells_by_id(nb)["relu"]
            right = copy.deepcopy(np_sol.cells[_cells_by_id(np_sol)["relu"]])
            right["id"] = "copied-cell"
            nb.cells.insert(index + 1, right)
            _write(target, "numpy_part.ipynb", nb)
        else:
            attacks = {
                "infinite-loop": ("relu", SLOW_RELU_LOOP),
                "memory-bomb": ("relu", MEMORY_BOMB),
                "process-bomb": ("relu", PROCESS_BOMB),
                "vandal": ("relu", _vandal_code(attack_targets["delete"], attack_targets["write"])),
                "snoop": ("relu", _snoop_code(attack_targets["read"])),
                "sys-exit": ("relu", "import sys\nsys.exit(3)"),
                "os-exit": ("slide", "import os\nos._exit(1)"),
                "segfault": ("slide", "import ctypes\nctypes.string_at(0)"),
                "big-output": ("relu", "print(('x' * 1023 + '\\n') * 102400)"),
            }
            grade_id, code = attacks[case.student]
            _write(target, "numpy_part.ipynb", _append(np_sol, grade_id, code))
    return sample_cases()


def mistakes_file(assignment_id: str) -> Path | None:
    """The assignment's typical-mistakes file, or None when it has none."""
    folder = assignment_sources().get(assignment_id)
    path = folder / MISTAKES_FILE if folder else None
    return path if path and path.is_file() else None


def load_mistakes(assignment_id: str) -> dict[str, dict[str, str]]:
    """The MISTAKES dict of the assignment's ``mistakes.py`` ({} when it has none)."""
    path = mistakes_file(assignment_id)
    if path is None:
        return {}
    spec = importlib.util.spec_from_file_location(f"_mistakes_{assignment_id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mistakes = getattr(module, "MISTAKES", None)
    if not isinstance(mistakes, dict) or not all(isinstance(v, dict) for v in mistakes.values()):
        raise ValueError(f"{path} must define MISTAKES = {{'description': {{'<grade_id>': '<code>'}}, ...}}")
    return mistakes


def mistake_submissions(assignment_id: str, source_dir: Path, out_dir: Path) -> dict[str, Packed]:
    """Submissions carrying the typical mistakes, packed by `packing.pack`; student id -> its pack."""
    notebooks = {p.name: nbformat.read(p, as_version=4) for p in sorted(source_dir.glob("*.ipynb"))}
    mistakes = load_mistakes(assignment_id)
    known = set().union(*(_cells_by_id(nb) for nb in notebooks.values()))
    for description, replacements in mistakes.items():
        missing = set(replacements) - known
        if missing:
            raise KeyError(f"mistake {description!r} of {assignment_id}: no cell with grade_id "
                           f"{', '.join(map(repr, sorted(missing)))} in {', '.join(notebooks)}")
    students = {}
    for number, packed in enumerate(pack(mistakes, list(notebooks.values())), start=1):
        student = f"mistakes-{number:02d}"
        for name, nb in notebooks.items():
            mine = {g: s for g, s in packed.replacements.items() if g in _cells_by_id(nb)}
            _write(out_dir / student / assignment_id, name, replace_cells(nb, mine))
        students[student] = packed
    return students


def copy_notebooks(source: Path, target: Path) -> None:
    """Copy the notebooks of one folder into another (a submission made of the given files)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.ipynb"):
        shutil.copy(path, target / path.name)

