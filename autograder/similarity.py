"""Which students' solution code looks alike, for one assignment: copydetect, the released template subtracted.

Why: a TA reviewing a class cannot read every pair of submissions. This ranks
the pairs by how much of their solution code they share, so the few worth a
look come first, and shows them side by side with the shared regions marked.

How: each student's solution cells (nbgrader's ``"solution": true`` code
cells, or a cell holding the grade id of a released solution cell) are joined
into one Python file per student; copydetect (`copydetect.CopyDetector`:
tokenized, so renamed variables still match; winnowed fingerprints) compares
every pair of files, with the released template's solution cells as its
boilerplate. Without that subtraction, the stub every student starts from
(the function's signature, its docstring, ``raise NotImplementedError()``)
would make two blank hand-ins look identical and pad every pair.

Markdown answers (nbgrader's solution markdown cells) are left out:
copydetect's tokenizer keeps no prose (its filter drops text tokens), so they
would need a second, unfiltered comparison of their own.

Submissions are only read, with the grader's readers (`submission_files`):
regular files only, never through a link (a linked notebook is skipped and
reported, never read); a notebook that cannot be parsed is reported too.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
import sys
import tempfile
import warnings
from pathlib import Path

from .submission_files import Refused, csv_cell, list_notebooks, safe_label

# copydetect's own display threshold (copydetect.defaults.DISPLAY_THRESHOLD), kept here so that importing this
# module does not import copydetect (and with it matplotlib.pyplot).
DEFAULT_THRESHOLD = 0.33
HTML_NAME = "similarity.html"
CSV_NAME = "similarity.csv"
CSV_HEADER = ["student_a", "student_b", "similarity_a", "similarity_b", "tokens_overlap"]

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
# The report's template loads Bootstrap from a CDN: a report of students' code must open offline and
# contact nobody, so those two tags are replaced by the little layout the report needs.
_CDN_TAG = re.compile(r'<link href="https://cdn\.jsdelivr\.net/[^>]*>|<script src="https://cdn\.jsdelivr\.net/[^>]*>'
                      r"</script>")
_OFFLINE_STYLE = ("<style>.row, .d-flex { display: flex; gap: 1em; } .col { flex: 1 1 0; min-width: 0; "
                  "overflow-x: auto; } table { width: 100%; border-collapse: collapse; } "
                  "td { border-top: 1px solid #ccc; padding: 1em 0; } button { display: none; }</style>")


class SimilarityError(ValueError):
    """The similarity report cannot be made; the message says what to fix."""


@dataclasses.dataclass(frozen=True)
class SimilarPair:
    """Two students (``student_a`` sorts first).

    ``similarity_a``: the share of a's solution tokens (template excluded) in regions also found in b's;
    ``tokens_overlap``: how many of a's tokens those regions hold (copydetect's count; names count one each).
    """

    student_a: str
    student_b: str
    similarity_a: float
    similarity_b: float
    tokens_overlap: int

    @property
    def similarity(self) -> float:
        """The larger of the two: a short answer copied into a long one is still a copy."""
        return max(self.similarity_a, self.similarity_b)


@dataclasses.dataclass(frozen=True)
class SimilarityReport:
    """What `similarity_report` compared and found.

    ``pairs``: every pair of ``students``, most similar first (also the rows of
    ``csv``); ``shown``: how many of the first pairs ``html`` displays (above
    the threshold, at most ``top``); ``skipped``: one line per notebook or
    student left out, and why.
    """

    assignment_id: str
    students: list[str]
    pairs: list[SimilarPair]
    skipped: list[str]
    shown: int
    html: Path
    csv: Path


def similarity_report(assignment_id: str, submissions_dir: Path, release_dir: Path, out_dir: Path, *,
                      top: int = 50, threshold: float = DEFAULT_THRESHOLD) -> SimilarityReport:
    """Compare the solution code of every ``<submissions_dir>/<student>/<assignment_id>/*.ipynb``.

    ``release_dir`` holds the released notebooks (``<course>/release/<id>/``),
    whose solution cells are subtracted. Writes ``out_dir/similarity.html``
    (copydetect's report of the ``top`` most similar pairs whose larger
    similarity is above ``threshold``) and ``out_dir/similarity.csv`` (every
    pair). Draws its two plots with pyplot's global state (the Agg backend
    unless pyplot was already imported): call it where no figure is open.
    """
    submissions_dir, release_dir, out_dir = Path(submissions_dir), Path(release_dir), Path(out_dir)
    if not 0 <= threshold <= 1:
        raise SimilarityError(f"threshold {threshold} is not a similarity: give one between 0 and 1")
    if top < 0:
        raise SimilarityError(f"top {top} is negative: give how many pairs the HTML report shows")
    template, solution_ids = _template_code(assignment_id, release_dir)
    if out_dir.resolve().is_relative_to(submissions_dir.resolve()):
        raise SimilarityError(f"the output folder {out_dir} is inside the submissions {submissions_dir}, which "
                              "are only read: choose another output folder")
    codes, skipped = _students_code(assignment_id, submissions_dir, solution_ids)
    if len(codes) < 2:
        raise SimilarityError(
            f"{len(codes)} student(s) in {submissions_dir} have solution code for {assignment_id}: nothing to "
            f"compare (collect at least two submissions into <dir>/<student>/{assignment_id}/*.ipynb)"
            + "".join(f"\n  {line}" for line in skipped))
    if not template:
        skipped.append(f"the released notebooks in {release_dir} have no solution cells: no template subtracted")
    out_dir.mkdir(parents=True, exist_ok=True)
    students = sorted(codes)
    with tempfile.TemporaryDirectory(prefix="similarity-") as tmp:
        pairs, html = _compare(codes, template, Path(tmp), out_dir / HTML_NAME, top, threshold)
    shown = sum(1 for p in pairs[:top] if p.similarity > threshold)
    (out_dir / HTML_NAME).write_text(html, encoding="utf-8")
    (out_dir / CSV_NAME).write_text(_csv(pairs), encoding="utf-8")
    return SimilarityReport(assignment_id, students, pairs, skipped, shown, out_dir / HTML_NAME, out_dir / CSV_NAME)


# -- reading the notebooks -------------------------------------------------------------------------

def _cells(data: bytes) -> list[dict]:
    """The cells of a notebook's bytes, read as nbformat 4 (`ValueError` etc. when it is not a notebook)."""
    import nbformat

    with warnings.catch_warnings():  # nbformat's notices (missing cell ids, an invalid schema): not ours to judge
        warnings.simplefilter("ignore")
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise ValueError("no list of cells")
    return [cell for cell in cells if isinstance(cell, dict)]


def _nbgrader(cell: dict) -> dict:
    meta = cell.get("metadata")
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


def _grade_id(cell: dict) -> str | None:
    grade_id = _nbgrader(cell).get("grade_id")
    return grade_id if isinstance(grade_id, str) else None


def _is_solution(cell: dict, solution_ids: set[str]) -> bool:
    """A code cell marked ``"solution": true``, or holding a released solution cell's id (metadata lost)."""
    if cell.get("cell_type") != "code":
        return False
    return _nbgrader(cell).get("solution") is True or _grade_id(cell) in solution_ids


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def _solution_text(notebook: str, cells: list[dict], solution_ids: set[str]) -> str:
    """The solution cells of one notebook, each under a comment naming it (copydetect ignores comments)."""
    parts = []
    for cell in cells:
        if _is_solution(cell, solution_ids) and _source(cell).strip():
            where = safe_label(f"{notebook}, cell {_grade_id(cell) or '(no id)'}")
            parts.append(f"# {where}\n{_source(cell).rstrip()}\n")
    return "\n".join(parts)


def _template_code(assignment_id: str, release_dir: Path) -> tuple[str, set[str]]:
    """The released solution cells (the stubs every student starts from), and their grade ids."""
    notebooks = sorted(release_dir.glob("*.ipynb")) if release_dir.is_dir() else []
    if not notebooks:
        raise SimilarityError(f"no released notebooks in {release_dir}: run "
                              f"`python -m autograder release {assignment_id}` first")
    texts, ids = [], set()
    for path in notebooks:
        try:
            cells = _cells(path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - the message names the file
            raise SimilarityError(f"the released notebook {path} cannot be read ({type(exc).__name__}: {exc}): "
                                  f"run `python -m autograder release {assignment_id}` again") from None
        ids |= {_grade_id(c) for c in cells if _is_solution(c, set()) and _grade_id(c)}
        texts.append(_solution_text(path.name, cells, set()))
    return "\n".join(t for t in texts if t), ids


def _students_code(assignment_id: str, submissions_dir: Path,
                   solution_ids: set[str]) -> tuple[dict[str, str], list[str]]:
    """Student id -> their solution code; and a line for everything left out."""
    from .pipeline import discover

    try:
        found = discover(submissions_dir, assignment_id)
    except FileNotFoundError as exc:
        raise SimilarityError(str(exc)) from None
    codes, skipped = {}, []
    for student, folder in found:
        who = safe_label(student)
        try:
            notebooks, refused = list_notebooks(folder, root=submissions_dir)
        except (Refused, FileNotFoundError) as exc:
            skipped.append(f"{who}: {exc if isinstance(exc, Refused) else 'folder gone'}: not compared")
            continue
        skipped.extend(f"{who}: {safe_label(name)} {why}" for name, why in refused.items())
        texts = []
        for name, data in notebooks.items():
            try:
                texts.append(_solution_text(name, _cells(data), solution_ids))
            except Exception as exc:  # noqa: BLE001 - truncated, not JSON, not a notebook...
                skipped.append(f"{who}: {safe_label(name)} cannot be read "
                               f"({type(exc).__name__}: {safe_label(str(exc)[:200])}): not compared")
        text = "\n".join(t for t in texts if t)
        if text:
            codes[student] = text
        elif notebooks or not refused:
            skipped.append(f"{who}: no solution code in {', '.join(map(safe_label, notebooks)) or 'no notebook'}")
    return codes, skipped


# -- comparing -------------------------------------------------------------------------------------

def _file_names(students: list[str]) -> dict[str, str]:
    """Student id -> a file name that is safe in a path and in copydetect's HTML (it prints names unescaped)."""
    names, used = {}, set()
    for student in students:
        name = student if _SAFE_NAME.fullmatch(student) else None
        if name is None or name in used:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", student)[:40].strip("._-") or "student"
            name = f"{slug}-{hashlib.sha256(student.encode('utf-8', 'surrogateescape')).hexdigest()[:12]}"
        names[student] = name
        used.add(name)
    return names


def _compare(codes: dict[str, str], template: str, tmp: Path, out_file: Path, top: int,
             threshold: float) -> tuple[list[SimilarPair], str]:
    """Every pair's similarity (ranked) and copydetect's HTML report, for files written under ``tmp``."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # the report's plots, on a machine without a display
    from copydetect import CopyDetector

    class TopPairs(CopyDetector):
        def get_copied_code_list(self):
            """copydetect's list of pairs above its threshold, most similar (either way) first, at most ``top``."""
            listed = super().get_copied_code_list()
            listed.sort(key=lambda entry: (-max(entry[0], entry[1]), -entry[6]))
            return listed[:top]

    students_dir, template_dir = tmp / "students", tmp / "template"
    students_dir.mkdir()
    template_dir.mkdir()
    if template:
        (template_dir / "template.py").write_bytes(template.encode("utf-8", "replace"))
    detector = TopPairs(boilerplate_dirs=[str(template_dir)] if template else [], extensions=["py"],
                        display_t=threshold, out_file=str(out_file), autoopen=False, silent=True)
    names = _file_names(sorted(codes))
    student_of = {}
    for student, name in names.items():
        path = students_dir / f"{name}.py"
        path.write_bytes(codes[student].encode("utf-8", "replace"))
        detector.add_file(str(path))  # both a test and a reference file; copydetect never compares a file to itself
        student_of[str(path)] = student
    detector.run()
    index = {path: i for i, path in enumerate(detector.ref_files)}
    pairs = []
    for i, path_a in enumerate(detector.test_files):
        for path_b in detector.ref_files:
            a, b = student_of[path_a], student_of[path_b]
            if a >= b:
                continue
            sim_a, sim_b = detector.similarity_matrix[i, index[path_b]]
            overlap = detector.token_overlap_matrix[i, index[path_b]]
            pairs.append(SimilarPair(a, b, float(sim_a), float(sim_b), int(overlap)))
    pairs.sort(key=lambda p: (-p.similarity, -p.tokens_overlap, p.student_a, p.student_b))
    html = detector.generate_html_report(output_mode="return")
    # "alice.py", not a path into a temporary folder that is gone when the report is read
    html = html.replace(f"{students_dir}/", "").replace(str(tmp), "(temporary folder)")
    return pairs, _CDN_TAG.sub(lambda m: _OFFLINE_STYLE if m.group().startswith("<link") else "", html)


def _csv(pairs: list[SimilarPair]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for p in pairs:
        writer.writerow([csv_cell(p.student_a), csv_cell(p.student_b), f"{p.similarity_a:.4f}",
                         f"{p.similarity_b:.4f}", p.tokens_overlap])
    return out.getvalue()
