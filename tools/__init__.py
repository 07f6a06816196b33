"""Repository tooling: notebooks generated from their sources (`nbsource`) and run headless (`nbrun`).

Not part of the student package `course` (which every student kernel imports and
every graded sandbox exposes): these modules know the repository's layout.
`REPO` is the repository root, computed here once for the tools and the grader.
"""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
