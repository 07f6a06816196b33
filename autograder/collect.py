"""The course's ``submitted/`` folder: where nbgrader's own tools look for submissions.

The formgrader counts submissions, and its Autograde button and ``nbgrader
autograde`` grade them, from ``<course>/submitted/<student>/<assignment>/``.
A batch graded from another folder (``grade --submissions DIR``) is mirrored
there, so both front doors show the same submissions. The mirror holds the
regular files the grader read (notebooks, a valid ``timestamp.txt`` and
``submission_secret.txt``), never a link; a hand-in with no such notebook is
graded (zero, with the reason) but not mirrored. The student's folder is only read.
"""
from __future__ import annotations

import datetime
import os
import tempfile
from pathlib import Path

from .submission_files import SECRET_FILE, Refused, list_notebooks, read_submission_secret, read_timestamp


def submission_files(folder: Path) -> dict[str, bytes]:
    """What nbgrader needs of a submission (regular files only): its notebooks, its checked timestamp and
    the secret ``nbgrader submit`` wrote (the exchange finds the student's feedback by it)."""
    root = folder.parent.parent
    notebooks, _refused = list_notebooks(folder, root=root)
    timestamp, _why = read_timestamp(folder, root=root)
    secret, _why = read_submission_secret(folder, root=root)
    return {**notebooks, **({"timestamp.txt": (timestamp + "\n").encode()} if timestamp else {}),
            **({SECRET_FILE: secret.encode()} if secret else {})}


def mirror_submission(folder: Path, target: Path) -> Path | None:
    """Copy one submission to ``target`` (``<course>/submitted/<student>/<assignment>``); returns the folder an
    earlier, different copy was moved to.

    An identical copy is left as it is. A different one (an earlier hand-in)
    is moved aside to ``<student>/<assignment>.replaced-<UTC time>``, where
    nbgrader does not look, never deleted.
    """
    try:
        wanted = submission_files(folder)
    except Refused:
        wanted = {}
    if not any(name.endswith(".ipynb") for name in wanted):
        return None  # nothing the student owns to hand on (the report says why); nbgrader would stop at it
    if target.resolve() == folder.resolve():
        return None
    moved = None
    if os.path.lexists(target):
        try:
            if submission_files(target) == wanted:
                return None
        except Refused:
            pass
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        moved = target.with_name(f"{target.name}.replaced-{stamp}")
        os.rename(target, moved)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    for name, data in wanted.items():
        (partial / name).write_bytes(data)
    partial.chmod(0o755)
    os.rename(partial, target)  # whole or absent: the formgrader never sees half a copy
    return moved

