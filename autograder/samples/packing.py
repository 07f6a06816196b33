"""Pack typical mistakes into few submissions without blurring which mistake failed which test.

Grading one submission per mistake costs a kernel, a TensorFlow import and a
whole notebook run each: over a hundred runs for the course's assignments.
Mistakes in *independent* functions can share a submission as long as every
failure can still be pinned on one mistake. Static name analysis of the
notebook gives, for each solution cell, the test cells that depend on it
(directly, or through any earlier cell that uses it); two mistakes share a
submission only if neither's solution depends on the other's and their
dependent test cells do not overlap. A mistake is then proved caught when
one of *its* dependent test cells loses points.
"""
from __future__ import annotations

import ast
import dataclasses


def _names(source: str) -> tuple[set[str], set[str]]:
    """Top-level names a cell defines, and every name it reads."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(), set()
    defined, used = set(), set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    defined.add(sub.id)
    for sub in ast.walk(tree):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            used.add(sub.id)
    return defined, used


def analyse(nb) -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """Which test cells depend on each solution cell, and which solution cells use another.

    Returns ``(tests_of, uses)``: ``tests_of[solution_id]`` is the set of test
    cell grade_ids that read, directly or through earlier cells, a name the
    solution cell defines; ``(a, b) in uses`` when solution cell ``a`` does so for ``b``.
    """
    tainted: dict[str, set[str]] = {}  # name -> solution cells its value depends on
    solution_deps: dict[str, set[str]] = {}
    test_deps: dict[str, set[str]] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        defined, used = _names(cell.source)
        deps = set().union(*(tainted.get(n, set()) for n in used))
        if meta.get("solution") and not meta.get("grade"):
            solution_deps[meta["grade_id"]] = set(deps)
            deps = deps | {meta["grade_id"]}
        elif meta.get("grade"):
            test_deps[meta["grade_id"]] = deps
        for name in defined:
            tainted[name] = tainted.get(name, set()) | deps
    tests_of = {s: {t for t, d in test_deps.items() if s in d} for s in solution_deps}
    uses = {(s, d) for s, ds in solution_deps.items() for d in ds if d != s}
    return tests_of, uses


@dataclasses.dataclass
class Packed:
    """One submission's mistakes: description -> the test cells that must catch it."""

    replacements: dict[str, str] = dataclasses.field(default_factory=dict)
    mistakes: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    cells: set[str] = dataclasses.field(default_factory=set)   # solution cells replaced
    tests: set[str] = dataclasses.field(default_factory=set)   # test cells spoken for


def pack(mistakes: dict[str, dict[str, str]], notebooks: list) -> list[Packed]:
    """Group mistakes into submissions whose failures stay attributable (greedy, in file order)."""
    deps: dict[str, set[str]] = {}
    uses: set[tuple[str, str]] = set()
    for nb in notebooks:  # notebooks run in separate kernels: no dependency crosses them
        tests_of, used = analyse(nb)
        deps.update(tests_of)
        uses |= used
    related = lambda a, b: (a, b) in uses or (b, a) in uses  # noqa: E731
    packs: list[Packed] = []
    for description, replacements in mistakes.items():
        cells = set(replacements)
        tests = set().union(*(deps.get(c, set()) for c in cells))
        home = None
        if tests:  # a mistake no test depends on statically is graded alone
            home = next((p for p in packs if p.mistakes and p.tests
                         and not cells & p.cells and not tests & p.tests
                         and not any(related(a, b) for a in cells for b in p.cells)), None)
        if home is None:
            home = Packed()
            packs.append(home)
        home.replacements.update(replacements)
        home.mistakes[description] = tests
        home.cells |= cells
        home.tests |= tests
    return packs
