"""Where things live: the repo's assignments, the work folder, the gradebook, nbgrader's config.

The source assignments are authored in the repo (``assignments/<id>/``, plus the
autograder's own sample under ``autograder/samples/assignments/``). Everything
generated goes under the work folder (git-ignored)::

    <workdir>/course/                nbgrader's CourseDirectory.root
        nbgrader_config.py           the same settings, for the nbgrader CLI and the formgrader
        source/<id>/                 the .ipynb notebooks and data files (never the .py sources)
        release/<id>/                student versions
        submitted/<student>/<id>/    default place to collect submissions
        autograded/<student>/<id>/   executed, scored copies
        feedback/<student>/<id>/     feedback HTML
    <workdir>/gradebook.db           default gradebook (SQLite)
    <workdir>/state/<id>/            one record per graded submission (resume after a crash)
    <workdir>/exchange.json          the exchange's folder, once `exchange setup` chose it (`autograder.exchange`)
    <workdir>/late_policy.json       each assignment's late-penalty rule (`autograder.late`)
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import sys
import warnings
from pathlib import Path

from tools import REPO

from .hidden_tests import FEEDBACK

ASSIGNMENTS_DIR = REPO / "assignments"
SAMPLES_DIR = Path(__file__).resolve().parent / "samples" / "assignments"
DEFAULT_WORKDIR = REPO / "work"
COURSE_ID = "cnn-course"
NBGRADER_EXCHANGE = "/srv/nbgrader/exchange"  # nbgrader's default Exchange.root: students need no setting
EXCHANGE_RECORD = "exchange.json"            # in the workdir: the root `exchange setup` chose
LATE_POLICY = "autograder.late.LatePolicy"     # nbgrader's late-penalty plugin, with a rule per assignment

# Student HTML is shown, never run, in the formgrader and in feedback (see autograder/htmlsafety.py).
HTML_SAFETY = {
    "HTMLExporter.filters": {"markdown2html": "autograder.htmlsafety.markdown2html"},
    "HTMLExporter.preprocessors": ["autograder.htmlsafety.SanitizeOutputs"],
}

# nbgrader's own commands and buttons, the course's way: Autograde (the formgrader's button, `nbgrader
# autograde`) grades through our pipeline; feedback never shows the code of hidden tests.
NBGRADER_HOOKS = {
    "Autograde.autograde_preprocessors": ["autograder.nbgrader_autograde.GradeThroughOurPipeline"],
    "GenerateFeedback.preprocessors": FEEDBACK,
}

# The wrong-but-plausible answers an assignment's tests must reject (tests/test_mistakes.py):
# kept beside the assignment for its author, never released to students.
MISTAKES_FILE = "mistakes.py"

# Never copied into nbgrader's source folder.
_SKIPPED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".DS_Store", MISTAKES_FILE}


class LayoutError(ValueError):
    """The course layout is not what the command needs (the message says how to fix it)."""


def _is_notebook_source(path: Path) -> bool:
    from tools.nbsource import is_notebook_source

    return path.suffix == ".py" and is_notebook_source(path)


def assignment_sources(include_samples: bool = True) -> dict[str, Path]:
    """Assignment id -> folder holding its source, real assignments first."""
    found: dict[str, Path] = {}
    roots = [ASSIGNMENTS_DIR] + ([SAMPLES_DIR] if include_samples else [])
    for root in roots:
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in _SKIPPED_NAMES):
            if any(folder.glob("*.ipynb")) or any(_is_notebook_source(p) for p in folder.glob("*.py")):
                found.setdefault(folder.name, folder)
    return found


def real_assignment_ids() -> list[str]:
    """The folders of ``assignments/`` (what ``release``/``check`` cover by default)."""
    return list(assignment_sources(include_samples=False))


@dataclasses.dataclass(frozen=True)
class Workspace:
    """One course folder, its gradebook, and the grader's own files (``workdir``: records, jobs, the secret).

    Two kinds: this repository's course (`create`: generated under the work
    folder from ``assignments/``, with a generated ``nbgrader_config.py``), or
    an existing nbgrader course (`for_course`: its own ``source/`` and
    ``nbgrader_config.py``, which are read, never written).
    """

    workdir: Path
    db_url: str
    course_root: Path
    course_id: str = COURSE_ID
    config_file: Path | None = None   # an existing course's own nbgrader_config.py (None: ours, generated)

    @classmethod
    def create(cls, workdir: str | Path | None = None, db_url: str | None = None) -> "Workspace":
        _put_environment_on_path()
        workdir = Path(workdir or DEFAULT_WORKDIR).resolve()
        (workdir / "course").mkdir(parents=True, exist_ok=True)
        return cls(workdir, db_url or f"sqlite:///{workdir / 'gradebook.db'}", workdir / "course")

    @classmethod
    def for_course(cls, course_dir: str | Path, db_url: str | None = None,
                   workdir: str | Path | None = None) -> "Workspace":
        """An nbgrader course laid out as nbgrader's documentation lays one out (``source/<assignment>/``).

        Its gradebook and course id come from its ``nbgrader_config.py``, as for
        nbgrader's own commands; the grader's files go to ``<course>/.autograder``.
        """
        _put_environment_on_path()
        root = Path(course_dir).resolve()
        if not (root / "source").is_dir():
            raise LayoutError(f"{root} is not an nbgrader course: it has no source/ folder (nbgrader's layout: "
                              "<course>/source/<assignment>/*.ipynb, see nbgrader's 'Creating and grading "
                              "assignments'); pass the folder that holds source/")
        config_file = root / "nbgrader_config.py"
        config = _read_config(config_file)
        configured = config.get("CourseDirectory", {}).get("root")
        if configured and Path(configured).resolve() != root:
            raise LayoutError(f"{config_file} sets CourseDirectory.root = {configured!r}, not {str(root)!r}: "
                              f"pass --course {configured} or fix the setting")
        db_url = db_url or config.get("CourseDirectory", {}).get("db_url") or f"sqlite:///{root / 'gradebook.db'}"
        workdir = Path(workdir).resolve() if workdir else root / ".autograder"
        workdir.mkdir(parents=True, exist_ok=True)
        return cls(workdir, db_url, root, config.get("CourseDirectory", {}).get("course_id", ""), config_file)

    @property
    def is_ours(self) -> bool:
        """This repository's course (sources synced from ``assignments/``), not an existing nbgrader course."""
        return self.config_file is None

    def assignment_ids(self) -> list[str]:
        """What ``release`` and ``check`` cover by default."""
        if self.is_ours:
            return real_assignment_ids()
        return sorted(p.name for p in (self.course_root / "source").iterdir()
                      if p.is_dir() and not p.name.startswith(".") and any(p.glob("*.ipynb")))

    def folder(self, step: str, assignment_id: str, student: str | None = None) -> Path:
        """nbgrader's ``{step}/{student}/{assignment}`` (no student for source and release)."""
        if student is None:
            return self.course_root / step / assignment_id
        return self.course_root / step / student / assignment_id

    @property
    def state_root(self) -> Path:
        return self.workdir / "state"

    @property
    def late_rules(self) -> Path:
        """Each assignment's late-penalty rule (`autograder.late`), written by `python -m autograder due`."""
        return self.workdir / "late_policy.json"

    @property
    def exchange_root(self) -> Path:
        """Where nbgrader's exchange lives: the root `python -m autograder exchange setup` chose, else
        the course's own setting (an existing course) or ``<workdir>/exchange`` (this repository's)."""
        record = self.workdir / EXCHANGE_RECORD
        if record.exists():
            return Path(json.loads(record.read_text())["root"])
        if not self.is_ours:
            return Path(self.nbgrader_config().Exchange.get("root", NBGRADER_EXCHANGE))
        return self.workdir / "exchange"

    def course_secret(self) -> bytes:
        """The course's secret (created on first use, readable by its owner only), from which every
        student's hidden-test inputs are derived (`autograder.pipeline.hidden_key`).

        Keep it with the gradebook: with a new secret, a re-grade draws new hidden inputs.
        """
        path = self.workdir / "course-secret"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        return path.read_text().strip().encode()

    def nbgrader_config(self, **overrides):
        """The traitlets config every nbgrader call of ours uses (an existing course's own settings first)."""
        from traitlets.config import Config

        c = _read_config(self.config_file) if self.config_file else Config()
        c.CourseDirectory.root = str(self.course_root)
        c.CourseDirectory.db_url = self.db_url
        c.CourseDirectory.course_id = self.course_id
        c.OverwriteCells.add_missing_cells = True  # a deleted test cell comes back and is graded
        c.LimitOutput.max_lines = 1000
        c.LimitOutput.max_traceback = 100
        if self.is_ours:
            c.Exchange.root = str(self.exchange_root)
            c.GradeThroughOurPipeline.workdir = str(self.workdir)
        c.AssignLatePenalties.plugin_class = LATE_POLICY
        c.LatePolicy.rules_file = str(self.late_rules)
        use_our_grader(c)
        for dotted, value in overrides.items():
            section, key = dotted.split(".")
            setattr(getattr(c, section), key, value)
        return c

    def nbgrader_api(self, **overrides):
        """nbgrader's own Python API (what its CLI and the formgrader call) on this course."""
        from nbgrader.apps import NbGraderAPI

        return NbGraderAPI(config=self.nbgrader_config(**overrides))

    def write_nbgrader_config_file(self) -> Path:
        """``nbgrader_config.py`` in the course root, so the nbgrader CLI and the formgrader agree with us.

        Only for this repository's course: an existing course's file is the instructor's (see `NBGRADER_HOOKS`).
        """
        path = self.course_root / "nbgrader_config.py"
        if not self.is_ours:
            return path
        text = (
            "# Generated by `python -m autograder`; edit autograder/layout.py instead.\n"
            "c = get_config()  # noqa: F821\n"
            f"c.CourseDirectory.root = {str(self.course_root)!r}\n"
            f"c.CourseDirectory.db_url = {self.db_url!r}\n"
            f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
            "c.OverwriteCells.add_missing_cells = True\n"
            f"c.Exchange.root = {str(self.exchange_root)!r}\n"
            f"c.GradeThroughOurPipeline.workdir = {str(self.workdir)!r}\n"
            f"c.AssignLatePenalties.plugin_class = {LATE_POLICY!r}\n"
            f"c.LatePolicy.rules_file = {str(self.late_rules)!r}\n"
            + "".join(f"c.{dotted} = {value!r}\n" for dotted, value in {**HTML_SAFETY, **NBGRADER_HOOKS}.items())
        )
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        return path

    def sync_source(self, assignment_id: str) -> Path:
        """Mirror ``<source folder>/<id>`` into nbgrader's source folder.

        Copies the ``.ipynb`` notebooks and data files; a jupytext ``.py``
        notebook source is never copied, and is rendered to ``.ipynb`` only when
        its generated notebook is missing (the autograder's sample keeps no
        generated files). Returns the nbgrader source folder.
        """
        if not self.is_ours:  # an existing course's source folder is the truth: nothing to copy
            target = self.folder("source", assignment_id)
            if not any(target.glob("*.ipynb")):
                raise LayoutError(f"no assignment {assignment_id!r} in {self.course_root / 'source'}: expected "
                                  f"source/{assignment_id}/*.ipynb (known: {', '.join(self.assignment_ids()) or 'none'})")
            return target
        sources = assignment_sources()
        if assignment_id not in sources:
            raise LayoutError(
                f"no assignment {assignment_id!r}: expected a folder assignments/{assignment_id}/ "
                f"holding its notebooks (known: {', '.join(sources) or 'none'})")
        origin = sources[assignment_id]
        wanted: dict[str, bytes] = {}
        for path in sorted(origin.rglob("*")):
            rel = path.relative_to(origin)
            if not path.is_file() or _SKIPPED_NAMES & set(rel.parts):
                continue
            if _is_notebook_source(path):
                if not path.with_suffix(".ipynb").exists():
                    from tools.nbsource import render

                    with warnings.catch_warnings():  # nbformat's notice about cell ids that render() adds itself
                        warnings.simplefilter("ignore")
                        wanted[str(rel.with_suffix(".ipynb"))] = render(path).encode()
                continue
            wanted[str(rel)] = path.read_bytes()
        if not any(name.endswith(".ipynb") for name in wanted):
            raise LayoutError(f"assignment {assignment_id!r} ({origin}) holds no notebook")
        target = self.folder("source", assignment_id)
        if target.exists():
            shutil.rmtree(target)
        for rel, data in wanted.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(data)
        return target

    def source_digest(self, assignment_id: str) -> str:
        """Fingerprint of the synced source: a change invalidates earlier grading records."""
        return tree_digest(self.folder("source", assignment_id))


def use_our_grader(c) -> None:
    """For an existing course's ``nbgrader_config.py``: nbgrader's Autograde and feedback, the course's way.

    ``from autograder.layout import use_our_grader; use_our_grader(c)`` after ``c = get_config()``.
    """
    for dotted, value in {**HTML_SAFETY, **NBGRADER_HOOKS}.items():
        section, key = dotted.split(".")
        setattr(getattr(c, section), key, value)


def _read_config(path: Path):
    """An nbgrader_config.py as nbgrader reads it (traitlets runs the file); empty when there is none."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    if not path.exists():
        return Config()
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


def _put_environment_on_path() -> None:
    """nbgrader runs ``alembic`` by name when it creates a gradebook: find the one beside our Python."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def tree_digest(folder: Path) -> str:
    """SHA-256 over the relative paths and bytes of every regular file below ``folder``.

    A submission is the student's: links and special files count by name and
    kind (a link by its target's name), never followed nor opened; files are
    hashed in chunks, so a huge one costs time, not memory. Trees of regular
    files keep the digest they had before links were told apart.
    """
    import stat

    from .submission_files import Refused, sha256_regular, walk

    digest = hashlib.sha256()
    for rel, st, dir_fd in walk(folder):
        if stat.S_ISDIR(st.st_mode):
            continue
        name = os.path.basename(rel)
        digest.update(rel.encode("utf-8", "surrogateescape") + b"\0")
        if stat.S_ISREG(st.st_mode):
            try:
                digest.update(sha256_regular(name, dir_fd))
            except Refused:  # swapped for a link or a special file since walk looked
                digest.update(b"\0swapped")
        else:
            target = os.readlink(name, dir_fd=dir_fd) if stat.S_ISLNK(st.st_mode) else ""
            digest.update(f"\0{stat.S_IFMT(st.st_mode)}\0{target}".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
