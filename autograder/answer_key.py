"""The answer-key check, done on the submitted source instead of on live objects.

`course.grading.answer_key_use` inspects a function object, which in the
judge is only a stand-in for one in the student's kernel: asking that kernel
"do you use the course's answers?" would let it say no. So the judge reads
the student's cells (data it received) and looks, statically, at what the
function imports and names, following the other functions of the notebook
it calls.
"""
from __future__ import annotations

import ast
import re
from typing import Sequence

from course.grading import _is_answer  # one rule for what counts as the answer key


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id] + parts[::-1])
    return None


def _parse(source: str) -> ast.Module | None:
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


class StudentSources:
    """The student's cells, in order, and what their top-level names stand for."""

    def __init__(self) -> None:
        self.sources: list[str] = []
        self.definitions: dict[str, tuple[ast.AST, str]] = {}  # qualified name -> (node, cell source)
        self.aliases: dict[str, str] = {}                        # name -> dotted name it was imported as

    def add(self, source: str) -> None:
        self.sources.append(source)
        tree = _parse(source)
        if tree is None:
            return
        for node in tree.body:
            self._index(node, source)

    def add_instructor_imports(self, source: str) -> None:
        """The imports of a locked cell: names the student's code uses without importing them itself.

        A solution calling ``models.build`` after the notebook's own ``from course
        import models`` uses the answer key as surely as one that imports it.
        """
        tree = _parse(source)
        for node in tree.body if tree is not None else ():
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self._index(node, source)

    def _index(self, node: ast.AST, source: str, prefix: str = "") -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.definitions[prefix + node.name] = (node, source)
            if isinstance(node, ast.ClassDef):
                for child in node.body:
                    self._index(child, source, prefix + node.name + ".")
        elif prefix:
            return
        elif isinstance(node, ast.Import):
            for alias in node.names:
                self.aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                    alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if isinstance(node.value, ast.Lambda):
                self.definitions[node.targets[0].id] = (node.value, source)
            elif _dotted(node.value):
                self.aliases[node.targets[0].id] = _dotted(node.value)

    def _resolve(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        base = self.aliases.get(head)
        return dotted if base is None else base + ("." + rest if rest else "")

    def answer_key_use(self, qualname: str, answers: Sequence[str], _seen: set | None = None) -> str | None:
        """Where the student's ``qualname`` (or a notebook function it calls) uses one of ``answers``."""
        seen = set() if _seen is None else _seen
        if qualname not in self.definitions and qualname in self.aliases:  # `from course.x import answer`
            resolved = self.aliases[qualname]
            return f"{qualname} is {resolved}" if _is_answer(resolved, answers) else None
        if qualname in seen or qualname not in self.definitions:
            return None
        seen.add(qualname)
        node, source = self.definitions[qualname]
        short = qualname.rsplit(".", 1)[-1]
        text = ast.get_source_segment(source, node) or ""
        for answer in answers:
            if re.search(rf"\b{re.escape(answer)}\b", text):
                return f"{short} imports {answer}"
        for child in ast.walk(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if _is_answer(alias.name, answers):
                        return f"{short} imports {alias.name}"
            elif isinstance(child, ast.ImportFrom) and child.module:
                for alias in child.names:
                    if _is_answer(f"{child.module}.{alias.name}", answers):
                        return f"{short} imports {child.module}.{alias.name}"
            elif isinstance(child, (ast.Name, ast.Attribute)) and isinstance(getattr(child, "ctx", None), ast.Load):
                dotted = _dotted(child)
                if not dotted:
                    continue
                resolved = self._resolve(dotted)
                if resolved != dotted or dotted.split(".")[0] in self.aliases:
                    if _is_answer(resolved, answers):
                        return f"{short} uses {dotted.split('.')[0]!r} ({resolved})"
                for candidate in (dotted, dotted.split(".")[0]):
                    if candidate in self.definitions and candidate != qualname:
                        found = self.answer_key_use(candidate, answers, seen)
                        if found:
                            return found
        return None
