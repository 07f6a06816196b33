"""nbgrader's exchange: how releases reach students, and hand-ins and feedback come back, on one machine.

On a machine shared by the instructor and the students (a JupyterHub, a lab
server), nbgrader's exchange is one folder every user may write to (nbgrader's
docs: ``mkdir -p /srv/nbgrader/exchange; chmod ugo+rw`` it). nbgrader itself
creates in it, per course, ``outbound/`` (releases, readable by all),
``inbound/`` (hand-ins: a student may add one, not list the others') and
``feedback/`` (files named by a hash only the student's own hand-in knows).

`setup` makes that folder (mode 1777: like ``/tmp``, nobody removes or renames
another user's entries) and checks that every folder above it lets students
through. From then on ``release`` also publishes each release there; students
fetch and submit in JupyterLab's Assignment List; the formgrader's Collect
button (or ``nbgrader collect``) brings the hand-ins into ``submitted/``, where
``grade`` looks by default; ``feedback --release`` puts each student's
feedback where their Assignment List's "Fetch Feedback" finds it.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import stat
from pathlib import Path

from .layout import EXCHANGE_RECORD, NBGRADER_EXCHANGE, LayoutError, Workspace, tree_digest
from .submission_files import SECRET_FILE

STUDENT_CONFIG = "nbgrader_config.student.py"  # in the workdir: the one setting students need
ROOT_MODE = 0o1777


class ExchangeError(LayoutError):
    """The exchange cannot be set up or used as asked (the message says how to fix it)."""


@dataclasses.dataclass
class ExchangeSetup:
    root: Path
    student_config: Path   # what students' Jupyter must read (nothing, where root is nbgrader's default)


@dataclasses.dataclass
class FeedbackRelease:
    released: list[str]             # students whose Assignment List can now fetch their feedback
    not_through_exchange: list[str]  # feedback written, but the hand-in did not come through the exchange


def is_set_up(ws: Workspace) -> bool:
    return (ws.workdir / EXCHANGE_RECORD).exists()


def setup(ws: Workspace, root: str | Path | None = None) -> ExchangeSetup:
    """Create (or repair the mode of) the exchange folder and point the course at it."""
    if root is None:
        root = NBGRADER_EXCHANGE if ws.is_ours else ws.exchange_root
    root = Path(os.path.abspath(root))
    if not ws.is_ours and root != ws.exchange_root:
        raise ExchangeError(f"{ws.config_file} has the exchange at {ws.exchange_root}, not {root}: add "
                            f"`c.Exchange.root = {str(root)!r}` to it (students need the same line), or omit --root")
    _make_root(root)
    _check_reachable(root)
    (ws.workdir / EXCHANGE_RECORD).write_text(json.dumps({"root": str(root)}) + "\n")
    ws.write_nbgrader_config_file()
    student_config = ws.workdir / STUDENT_CONFIG
    student_config.write_text(
        f"# nbgrader settings for the students of {ws.course_id!r}, written by `python -m autograder exchange setup`.\n"
        "# Put it where each student's Jupyter reads it: /etc/jupyter/nbgrader_config.py (every user of this\n"
        "# machine) or ~/.jupyter/nbgrader_config.py (one user). Not needed where the exchange is nbgrader's\n"
        f"# default, {NBGRADER_EXCHANGE}.\n"
        "c = get_config()  # noqa: F821\n"
        f"c.Exchange.root = {str(root)!r}\n")
    return ExchangeSetup(root, student_config)


def _make_root(root: Path) -> None:
    if root.is_symlink():
        raise ExchangeError(f"{root} is a link: the exchange must be a folder of its own (remove the link, "
                            "or choose another --root)")
    if root.exists() and not root.is_dir():
        raise ExchangeError(f"{root} exists and is not a folder: choose another --root")
    try:
        if not root.exists():
            root.mkdir(parents=True)
        if stat.S_IMODE(root.stat().st_mode) & ROOT_MODE != ROOT_MODE:
            os.chmod(root, stat.S_IMODE(root.stat().st_mode) | ROOT_MODE)
    except PermissionError:
        raise ExchangeError(f"cannot create {root} with mode 1777 (every user may add, none remove another's): "
                            f"run `sudo mkdir -p {root} && sudo chmod 1777 {root}`, or choose a --root you "
                            "may create") from None


def _check_reachable(root: Path) -> None:
    for folder in root.parents:
        mode = stat.S_IMODE(folder.stat().st_mode)
        if not mode & stat.S_IXOTH:
            raise ExchangeError(f"students cannot reach the exchange: {folder} (mode {mode:o}) does not let other "
                                f"users through; `chmod o+x {folder}`, or choose a --root elsewhere")


def publish(ws: Workspace, assignment_id: str) -> bool:
    """Put the student version in the exchange's ``outbound/`` (nbgrader's release_assignment), when the
    exchange is set up and its copy differs from ``release/``; True when it published."""
    if not is_set_up(ws):
        return False
    outbound = ws.exchange_root / ws.course_id / "outbound" / assignment_id
    if outbound.is_dir() and tree_digest(outbound) == tree_digest(ws.folder("release", assignment_id)):
        return False
    outcome = ws.nbgrader_api(**{"ExchangeReleaseAssignment.force": True}).release_assignment(assignment_id)
    if not outcome["success"]:
        raise ExchangeError(f"nbgrader could not put {assignment_id} in the exchange {ws.exchange_root}:\n"
                            f"{outcome.get('error', '')}\n{outcome.get('log', '')}")
    return True


def release_feedback(ws: Workspace, assignment_id: str, students: list[str]) -> FeedbackRelease:
    """nbgrader's release_feedback for each student whose hand-in came through the exchange.

    Feedback is found by a hash of the secret ``nbgrader submit`` wrote into
    the hand-in; a submission from elsewhere (``grade --submissions``, an LMS
    download) has none, and its feedback HTML is to be handed over directly.
    """
    if not is_set_up(ws):
        raise ExchangeError("no exchange to release feedback to: run `python -m autograder exchange setup` first "
                            f"(or hand out the HTML files in {ws.course_root / 'feedback'})")
    api = ws.nbgrader_api()
    done = FeedbackRelease([], [])
    for student in students:
        if not (ws.folder("feedback", assignment_id, student) / SECRET_FILE).is_file():
            done.not_through_exchange.append(student)
            continue
        outcome = api.release_feedback(assignment_id, glob.escape(student))
        if not outcome["success"]:
            raise ExchangeError(f"nbgrader could not release {student}'s feedback on {assignment_id}:\n"
                                f"{outcome.get('error', '')}\n{outcome.get('log', '')}")
        done.released.append(student)
    return done
