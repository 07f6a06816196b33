"""Notebooks are authored as text (jupytext percent format), ``.ipynb`` is generated.

The ``.py`` file is the one source of truth: it diffs and reviews like code,
and carries the nbgrader cell metadata on its ``# %%`` lines. The ``.ipynb``
beside it is generated (no outputs) so that students, graders and lecturers
can open it directly; ``python -m tools.nbsource --check`` (run by the test
suite) fails when the two disagree, and ``python -m tools.nbsource`` rebuilds.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from course.runtime import KERNEL_SPEC
from tools import REPO

SOURCE_FOLDERS = ("assignments", "notebooks")
_JUPYTEXT_NOISE = ("lines_to_next_cell",)


def is_notebook_source(path: Path) -> bool:
    """A percent-format notebook starts with a jupytext YAML header."""
    try:
        head = path.read_text(encoding="utf-8")[:400]
    except (OSError, UnicodeDecodeError):
        return False
    return head.startswith("# ---") and "jupyter:" in head and "# %%" in path.read_text(encoding="utf-8")


def sources(root: Path = REPO) -> list[Path]:
    found = []
    for folder in SOURCE_FOLDERS:
        found += [p for p in sorted((root / folder).rglob("*.py"))
                  if ".ipynb_checkpoints" not in p.parts and is_notebook_source(p)]
    return found


def build(source: Path):
    """The notebook a source file describes, as an ``nbformat`` node without outputs."""
    import jupytext
    import nbformat

    nb = jupytext.read(source, fmt="py:percent")
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = dict(KERNEL_SPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    for i, cell in enumerate(nb.cells):
        for key in _JUPYTEXT_NOISE:
            cell.metadata.pop(key, None)
        cell["id"] = f"cell-{i:03d}"  # stable ids so regeneration is byte-identical
    nb.nbformat, nb.nbformat_minor = 4, 5
    nbformat.validator.normalize(nb)
    return nb


def render(source: Path) -> str:
    import nbformat

    return nbformat.writes(build(source)) + "\n"


def stale(root: Path = REPO) -> list[Path]:
    """Sources whose generated ``.ipynb`` is missing or differs."""
    out = []
    for src in sources(root):
        target = src.with_suffix(".ipynb")
        if not target.exists() or target.read_text(encoding="utf-8") != render(src):
            out.append(src)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report out-of-date notebooks")
    args = parser.parse_args(argv)
    out_of_date = stale()
    if args.check:
        for src in out_of_date:
            print(f"out of date: {src.relative_to(REPO)} -> run: python -m tools.nbsource")
        return 1 if out_of_date else 0
    for src in out_of_date:
        src.with_suffix(".ipynb").write_text(render(src), encoding="utf-8")
        print(f"wrote {src.with_suffix('.ipynb').relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
