"""Grade a folder of submissions: nbgrader's autograde, split so it can run in parallel, safely.

nbgrader's ``autograde`` does three things per notebook: sanitize it against the
gradebook (restore test cells, drop outputs, fix metadata), execute it, and
save the scores. Here the parent process does the first and last (the only
ones touching the gradebook, one submission at a time) with nbgrader's own
preprocessors, and the execution runs in worker processes, several at once,
each kernel in its own sandbox (`autograder.execute`, `autograder.sandbox`).

Scores come from a judge, not from the student's kernel: the parent decides
from the gradebook which cells are the instructor's (`autograder.roles`), and
the worker runs the test cells in a separate sandboxed process that student
code never runs in, where the student's functions are stand-ins called over a
data-only channel (`autograder.judged`, `autograder.judge`). Whatever the
student's kernel prints, returns or patches cannot change a score.

One grading rule differs from stock nbgrader, on purpose: text a test cell
writes to **stderr** does not zero it (TensorFlow logs to stderr on import and
on its first operation, even with its log level turned down). A test cell
scores zero when it raises, as before: nbgrader still sees its error output.

Every submission ends with either scores in the gradebook or a readable reason;
the record written after its scores are committed lets a second run skip
finished work after a crash (``kill -9``) and re-grade only what changed.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import queue
import shutil
import sys
import tempfile
import time
import traceback
import urllib.parse
import warnings
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds,
                                    LimitOutput, NbGraderPreprocessor, OverwriteCells, OverwriteKernelspec,
                                    SaveAutoGrades)
from nbgrader.utils import is_grade
from sqlalchemy.exc import SAWarning

from .execute import MAX_NOTEBOOK_BYTES, MAX_OUTPUT_BYTES, Job, NotebookJob, Worker
from .layout import REPO, Workspace, tree_digest
from .roles import answer_names, cell_roles
from .sandbox import Capabilities, Limits, Policy, UidPool, kill_uid, probe
from .late import final_score, late_note
from .submission_files import (SECRET_FILE, Refused, list_notebooks, looks_like_submission,
                               read_submission_secret, read_timestamp)


@dataclasses.dataclass
class GradingOptions:
    workers: int | None = None          # default: number of cores
    cell_timeout: int = 120             # seconds per cell (nbgrader's default of 30 is too short for training)
    submission_timeout: int = 900       # seconds for a whole submission, kernel start-ups included
    startup_timeout: int = 120          # seconds for a kernel to come up (TensorFlow machines are busy)
    limits: Limits = dataclasses.field(default_factory=Limits)
    max_output_bytes: int = MAX_OUTPUT_BYTES
    max_notebook_bytes: int = MAX_NOTEBOOK_BYTES
    regrade: bool = False               # re-score submissions already graded and unchanged (tests were fixed)
    progress: bool = True
    cluster: str | None = None          # a Dask scheduler's address: execute there (`autograder.cluster`)
    tls_dir: Path | None = None         # the cluster's certificates: ca.pem, cert.pem, key.pem
    gpu: bool = False                   # the kernels need a GPU: only the cluster's GPU workers grade them


@dataclasses.dataclass
class SubmissionResult:
    """How one submission fared. ``tests`` maps each autograded test cell's grade_id to (score, max)."""

    student: str
    assignment: str
    status: str                  # "graded", "unchanged" (already graded, skipped) or "failed"
    score: float | None
    max_score: float | None
    reason: str = ""             # what went wrong or was noteworthy, for a human; "" when nothing
    tests: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    previous_score: float | None = None  # the gradebook's score before this run (None: first grading)
    late: str = ""               # lateness and its penalty (`autograder.late`); ``score`` is after the penalty


@dataclasses.dataclass
class _Prepared:
    student: str
    folder: Path
    digest: str
    job_dir: Path
    notebooks: dict[str, Path]   # expected notebook name -> sanitized copy to execute
    missing: dict[str, str]      # expected notebook name -> why it cannot be graded
    notes: list[str]
    roles: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # notebook -> role of each cell
    answers: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # notebook -> names the student defines


class GradingLost(RuntimeError):
    """A submission could not be executed at all (every try on a cluster was lost); the message says why."""


STDERR_MARK = "[stderr] "


class StderrIsNotAFailure(NbGraderPreprocessor):
    """Relabel stderr text of autograded test cells as stdout, so only a raised error zeroes them.

    The text stays visible in the feedback, marked ``[stderr]``.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and is_grade(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
                    output.text = STDERR_MARK + output.text
        return cell, resources


class ForgetEmptyMetadata(NbGraderPreprocessor):
    """Drop the empty ``nbgrader`` metadata DeduplicateIds leaves on a copied cell.

    Without this, the later preprocessors look up its missing grade_id and the
    whole notebook fails with a misleading error (an open nbgrader issue).
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.get("metadata", {}).get("nbgrader", None) == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


# nbgrader's autograde has the same two lists (its `sanitize_preprocessors` and `autograde_preprocessors`).
# Ours differ: the parent runs SANITIZE, a worker executes (`JudgedExecute` in a sandbox, in place of its
# Execute), the parent runs SCORE. Added: ForgetEmptyMetadata, and StderrIsNotAFailure in place of
# IgnorePattern (text on stderr never fails a cell). Left out: ClearMetadataPreprocessor
# (nbconvert ships it disabled, and nbgrader does not enable it).
SANITIZE = (ClearOutput, DeduplicateIds, ForgetEmptyMetadata, OverwriteKernelspec, OverwriteCells, CheckCellMetadata)
SCORE = (StderrIsNotAFailure, LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata)


def _renamed(unknown: list[str], absent: list[str]) -> dict[str, str]:
    """Submitted notebook -> expected name, for notebooks saved under another name.

    "conv (1).ipynb" or "conv-Copy1.ipynb" is taken for a missing "conv.ipynb"
    when exactly one missing name fits; a lone unknown notebook is taken for a
    lone missing one.
    """
    if len(unknown) == 1 and len(absent) == 1:
        return {unknown[0]: absent[0]}
    found = {}
    for name in unknown:
        fits = [a for a in absent if Path(name).stem.lower().startswith(Path(a).stem.lower())]
        if len(fits) == 1 and fits[0] not in found.values():
            found[name] = fits[0]
    return found


def hidden_key(secret: bytes, assignment_id: str, student: str) -> str:
    """The key of one student's hidden-test inputs (`course.grading.hidden_seed`) in one assignment.

    Only this reaches the judge, never the course secret: a key says nothing
    about another student's, and the same student gets the same key on a re-grade.
    """
    return hmac.new(secret, f"{assignment_id}\0{student}".encode(), hashlib.sha256).hexdigest()


def discover(submissions_dir: Path, assignment_id: str) -> list[tuple[str, Path]]:
    """(student id, folder) for every ``<dir>/<student>/<assignment>/`` folder.

    Links are not followed: one in place of either folder is listed, and refused when graded.
    """
    if not submissions_dir.is_dir():
        raise FileNotFoundError(
            f"submissions folder {submissions_dir} does not exist: collect submissions into "
            f"<dir>/<student>/{assignment_id}/*.ipynb, or pass --submissions DIR")
    found = []
    for student in sorted(os.listdir(submissions_dir)):
        folder = submissions_dir / student / assignment_id
        if not student.startswith(".") and looks_like_submission(folder):
            found.append((student, folder))
    return found


class Grader:
    """One grading run of one assignment."""

    def __init__(self, workspace: Workspace, assignment_id: str, options: GradingOptions):
        self.ws, self.aid, self.options = workspace, assignment_id, options
        self.config = workspace.nbgrader_config()
        self.source_dir = workspace.folder("source", assignment_id)
        self.source_digest = tree_digest(self.source_dir)
        with Gradebook(workspace.db_url, workspace.course_id) as gb:
            try:
                assignment = gb.find_assignment(assignment_id)
            except MissingEntry:
                raise RuntimeError(f"assignment {assignment_id!r} is not in the gradebook: run "
                                   f"`python -m autograder release {assignment_id}` first") from None
            self.expected = [f"{nb.name}.ipynb" for nb in assignment.notebooks]
        self.jobs_root = workspace.workdir / "jobs" / assignment_id
        self.state_dir = workspace.state_root / assignment_id

    # -- the run -----------------------------------------------------------------------------------

    def grade(self, submissions: list[tuple[str, Path]]) -> list[SubmissionResult]:
        capabilities = probe()
        if capabilities.warning:
            print(f"[autograder] WARNING: {capabilities.warning}", file=sys.stderr)
        results: dict[str, SubmissionResult] = {}
        previous = self._scores_in_gradebook()
        _ensure_dir(self.jobs_root).chmod(0o700)
        with self._executor(capabilities) as execute:
            progress = _progress(len(submissions), f"grading {self.aid}", self.options.progress)
            futures = {}
            for student, folder in submissions:  # sanitize here while the workers already execute
                started = time.monotonic()
                try:
                    results[student] = self._already_graded(student, folder)
                    if results[student] is None:
                        prepared = self._prepare(student, folder)
                        futures[execute(prepared)] = prepared
                except Exception as exc:  # noqa: BLE001 - one broken submission never stops the batch
                    results[student] = SubmissionResult(student, self.aid, "failed", None, None,
                                                        f"could not prepare: {type(exc).__name__}: {exc}",
                                                        seconds=time.monotonic() - started)
                if results.get(student) is not None:
                    progress.update(1)
            for future in concurrent.futures.as_completed(futures):
                prepared = futures[future]
                started = time.monotonic()
                try:
                    statuses, elapsed = future.result()
                    results[prepared.student] = self._record(prepared, statuses, elapsed)
                except GradingLost as exc:  # not recorded: the next run grades it again
                    results[prepared.student] = SubmissionResult(prepared.student, self.aid, "failed", None, None,
                                                                 str(exc), seconds=time.monotonic() - started)
                except Exception as exc:  # noqa: BLE001
                    traceback.print_exc()  # a bug of ours, not the student's: show where
                    results[prepared.student] = SubmissionResult(
                        prepared.student, self.aid, "failed", None, None,
                        f"could not record: {type(exc).__name__}: {exc}", seconds=time.monotonic() - started)
                finally:
                    shutil.rmtree(prepared.job_dir, ignore_errors=True)
                progress.update(1)
        progress.close()
        for student, result in results.items():
            result.previous_score = previous.get(student)
        return [results[student] for student, _ in submissions]

    def _executor(self, capabilities: Capabilities):
        """A context giving ``execute(prepared) -> Future of (statuses, seconds)``: here, or on a cluster."""
        if self.options.cluster:
            from .cluster import ClusterExecutor

            return ClusterExecutor(self)
        return self._local_executor(capabilities)

    @contextlib.contextmanager
    def _local_executor(self, capabilities: Capabilities):
        workers = max(1, self.options.workers or os.cpu_count() or 1)
        with UidPool(2 * workers if capabilities.separate_uid else 0) as pool, \
                concurrent.futures.ThreadPoolExecutor(workers) as executor:
            handles = [Worker(self.jobs_root / f"worker-{i}.log") for i in range(workers)]
            slots: queue.Queue = queue.Queue()
            uids = pool.uids or [None] * (2 * workers)
            for i, worker in enumerate(handles):  # a slot: a uid for the student's kernel, one for the judge
                slots.put(((uids[2 * i], uids[2 * i + 1]), worker))
            yield lambda prepared: executor.submit(self._execute, prepared, slots, capabilities)
            for worker in handles:
                worker.stop()

    def _scores_in_gradebook(self) -> dict[str, float]:
        """Each student's score for this assignment before the run, for the report of what a re-grade changed."""
        with Gradebook(self.ws.db_url, self.ws.course_id) as gb:
            return {s.student.id: final_score(s) for s in gb.find_assignment(self.aid).submissions}

    # -- step 1: sanitize (parent, reads the gradebook) --------------------------------------------

    def _resources(self, student: str, notebook: str) -> dict:
        return {"nbgrader": {"db_url": self.ws.db_url, "assignment": self.aid, "student": student,
                             "notebook": Path(notebook).stem}}

    def _prepare(self, student: str, folder: Path) -> _Prepared:
        prepared = _Prepared(student, folder, tree_digest(folder), Path(tempfile.mkdtemp(
            prefix="job-", dir=_ensure_dir(self.jobs_root))), {}, {}, [])
        try:  # the bytes of regular files only: a link to someone else's notebook is not the student's work
            submitted, refused = list_notebooks(folder, root=folder.parent.parent)
        except Refused as exc:
            submitted, refused = {}, {}
            prepared.notes.append(str(exc))
            prepared.digest = ""  # matches no digest: looked at again next run
        for name, why in refused.items():
            if name in self.expected:
                prepared.missing[name] = why
            else:
                prepared.notes.append(f"{name} {why}")
        for wrong, right in _renamed(sorted(set(submitted) - set(self.expected)),
                                     [name for name in self.expected
                                      if name not in submitted and name not in refused]).items():
            prepared.notes.append(f"graded {wrong!r} as {right!r} (wrong notebook name)")
            submitted[right] = submitted.pop(wrong)
        unknown = sorted(set(submitted) - set(self.expected))
        if unknown:
            prepared.notes.append(f"ignored unknown notebooks: {', '.join(unknown)}")
        if not set(submitted) & set(self.expected) and not prepared.missing:
            prepared.notes.append("no notebook submitted" if not submitted else
                                  f"none of the expected notebooks ({', '.join(self.expected)}) was found")
        for name in self.expected:
            if name in prepared.missing:
                continue
            if name not in submitted:
                prepared.missing[name] = "not submitted"
                continue
            try:
                nb = nbformat.reads(submitted[name].decode("utf-8"), as_version=4)
            except Exception as exc:  # noqa: BLE001 - truncated, not JSON, not a notebook...
                prepared.missing[name] = f"cannot be read ({type(exc).__name__}: {str(exc)[:200]})"
                continue
            self._note_duplicates(nb, name, prepared.notes)
            resources = self._resources(student, name)
            for pp in SANITIZE:
                nb, resources = pp(config=self.config).preprocess(nb, resources)
            with Gradebook(self.ws.db_url, self.ws.course_id) as gb:
                prepared.roles[name] = cell_roles(nb, gb, Path(name).stem, self.aid)
                prepared.answers[name] = answer_names(nb, gb, Path(name).stem, self.aid)
            target = prepared.job_dir / "in" / name
            target.parent.mkdir(exist_ok=True)
            nbformat.write(nb, target)
            prepared.notebooks[name] = target
        for name, why in prepared.missing.items():
            prepared.notes.append(f"{name} {why}: scored zero")
        return prepared

    @staticmethod
    def _note_duplicates(nb, name: str, notes: list[str]) -> None:
        seen: dict[str, int] = {}
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id:
                seen[grade_id] = seen.get(grade_id, 0) + 1
        copies = sorted(g for g, count in seen.items() if count > 1)
        if copies:
            notes.append(f"{name}: cells copied with the same grade_id ({', '.join(copies)}); the last copy was graded")

    # -- step 2: execute (worker process, sandboxed kernel) ---------------------------------------

    def _execute(self, prepared: _Prepared, slots: queue.Queue, caps: Capabilities) -> tuple[dict, float]:
        started = time.monotonic()
        if not prepared.notebooks:
            return {}, 0.0
        (uid, judge_uid), worker = slots.get()
        try:
            job = build_job(self.options, prepared.job_dir,
                            [NotebookJob(name, str(path), str(prepared.job_dir / "out" / name),
                                         prepared.roles[name], prepared.answers[name])
                             for name, path in prepared.notebooks.items()],
                            str(self.source_dir), (uid, judge_uid),
                            Policy(tuple(self._hidden_paths(prepared.folder)), tuple(_runtime_paths()),
                                   self.options.limits, caps.namespaces),
                            hidden_key(self.ws.course_secret(), self.aid, prepared.student))
            return run_job(job, prepared.job_dir, worker, self.options.submission_timeout), time.monotonic() - started
        finally:
            slots.put(((uid, judge_uid), worker))

    def _hidden_paths(self, submission: Path) -> list[str]:
        """What a kernel must not see: sources, gradebook, everyone's submissions, the grader's home."""
        candidates = [REPO, self.ws.workdir, self.ws.course_root, self.source_dir, submission.parent.parent,
                      Path.home(), Path("/root"), Path("/home"), Path("/run/postgresql"), Path("/var/run/postgresql")]
        if self.ws.db_url.startswith("sqlite:///"):
            candidates.append(Path(self.ws.db_url[len("sqlite:///"):]).parent)
        return sorted({str(p.resolve()) for p in candidates if p.exists()}, key=len)

    # -- step 3: record (parent, the only writer of the gradebook) -------------------------------

    def _record(self, prepared: _Prepared, statuses: dict, elapsed: float) -> SubmissionResult:
        student = prepared.student
        notes = list(prepared.notes)
        target = self.ws.folder("autograded", self.aid, student)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(self.source_dir, target, ignore=shutil.ignore_patterns("*.ipynb"))
        timestamp, why = read_timestamp(prepared.folder, root=prepared.folder.parent.parent)
        if why:
            notes.append(why)
        reviewed = self._reviewed_grades(prepared)
        with Gradebook(self.ws.db_url, self.ws.course_id) as gb:
            gb.update_or_create_student(student)
            with warnings.catch_warnings():  # nbgrader's own SQLAlchemy notice while it builds the rows
                warnings.simplefilter("ignore", SAWarning)
                gb.update_or_create_submission(self.aid, student, **({"timestamp": timestamp} if timestamp else {}))
        for name in self.expected:
            status = statuses.get(name, {})
            executed = prepared.job_dir / "out" / name
            if name in prepared.missing or status.get("lost") or not executed.exists():
                if status.get("problem"):
                    notes.append(f"{name}: {status['problem']}")
                self._zero(student, name)
                continue
            if status.get("problem"):
                notes.append(f"{name}: {status['problem']}")
            nb = nbformat.read(executed, as_version=4)
            notes += _timeouts(nb, name)
            resources = self._resources(student, name)
            for pp in SCORE:
                nb, resources = pp(config=self.config).preprocess(nb, resources)
            nbformat.write(nb, target / name)
        if timestamp:  # the text checked above, never a copy of whatever the file is now
            (target / "timestamp.txt").write_text(timestamp)
        secret, why = read_submission_secret(prepared.folder, root=prepared.folder.parent.parent)
        if secret:  # feedback carries it on to the exchange (`autograder.exchange`)
            (target / SECRET_FILE).write_text(secret)
        elif why:
            notes.append(why)
        self._keep_reviews(student, reviewed)
        result = self._read_back(student, "graded", "; ".join(notes), elapsed)
        self._save_state(prepared, result)
        return result

    def _reviewed_grades(self, prepared: _Prepared) -> dict[tuple[str, str], tuple[float | None, bool]]:
        """(notebook, cell) -> (auto score, review flag) of the grades a human already scored.

        Only for an unchanged submission (a re-grade after a fixed test): a new
        hand-in is reviewed again, as nbgrader does.
        """
        state = self._state_file(prepared.student)
        if not state.exists() or json.loads(state.read_text()).get("submission") != prepared.digest:
            return {}
        with Gradebook(self.ws.db_url, self.ws.course_id) as gb:
            try:
                submission = gb.find_submission(self.aid, prepared.student)
            except MissingEntry:
                return {}
            return {(nb.name, grade.name): (grade.auto_score, grade.needs_manual_grade)
                    for nb in submission.notebooks for grade in nb.grades if grade.manual_score is not None}

    def _keep_reviews(self, student: str, reviewed: dict[tuple[str, str], tuple[float | None, bool]]) -> None:
        """Clear the "needs manual grade" flag nbgrader's SaveAutoGrades sets again on every re-grade, where
        the grader's earlier review still holds: same submission, same autograded result.

        Manual scores and comments are never touched (nbgrader keeps them: a manual score wins over the
        autograder's); a test cell whose autograded result changed stays flagged for a second look.
        """
        if not reviewed:
            return
        with Gradebook(self.ws.db_url, self.ws.course_id) as gb:
            for nb in gb.find_submission(self.aid, student).notebooks:
                for grade in nb.grades:
                    before = reviewed.get((nb.name, grade.name))
                    if before is not None and grade.auto_score == before[0]:
                        grade.needs_manual_grade = before[1]
            gb.db.commit()

    def _zero(self, student: str, notebook: str) -> None:
        """nbgrader's rule for a notebook that was not submitted: every grade is zero."""
        with Gradebook(self.ws.db_url, self.ws.course_id) as gb:
            submission = gb.find_submission_notebook(Path(notebook).stem, self.aid, student)
            for grade in submission.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
            gb.db.commit()

    def _read_back(self, student: str, status: str, reason: str, seconds: float) -> SubmissionResult:
        with Gradebook(self.ws.db_url, self.ws.course_id) as gb:
            submission = gb.find_submission(self.aid, student)
            tests = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell_type == "code":
                        tests[grade.name] = (float(grade.auto_score or 0.0), float(grade.max_score))
            return SubmissionResult(student, self.aid, status, final_score(submission), float(submission.max_score),
                                    reason, tests, seconds, late=late_note(submission))

    # -- resume after a crash ------------------------------------------------------------------------

    def _state_file(self, student: str) -> Path:
        return self.state_dir / (urllib.parse.quote(student, safe="") + ".json")

    def _save_state(self, prepared: _Prepared, result: SubmissionResult) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        record = {"submission": prepared.digest, "source": self.source_digest, "db": self.ws.db_url,
                  "reason": result.reason}
        partial = self._state_file(prepared.student).with_suffix(".tmp")
        partial.write_text(json.dumps(record))
        partial.replace(self._state_file(prepared.student))  # atomic: a record is whole or absent

    def _already_graded(self, student: str, folder: Path) -> SubmissionResult | None:
        state = self._state_file(student)
        if self.options.regrade or not state.exists():
            return None
        record = json.loads(state.read_text())
        if (record.get("submission"), record.get("source"), record.get("db")) != (
                tree_digest(folder), self.source_digest, self.ws.db_url):
            return None
        try:
            return self._read_back(student, "unchanged", record.get("reason", ""), 0.0)
        except MissingEntry:
            return None


def build_job(options: GradingOptions, job_dir: Path, notebooks: list[NotebookJob], data_from: str,
              uids: tuple[int | None, int | None], policy: Policy, key: str, gpus: str = "") -> Job:
    """The `execute.Job` of one submission in ``job_dir``, on the slot with ``uids`` (the kernel's, the judge's)."""
    return Job(notebooks=notebooks, data_from=data_from, uid=uids[0], judge_uid=uids[1], policy=policy,
               cell_timeout=options.cell_timeout, startup_timeout=options.startup_timeout,
               max_output_bytes=options.max_output_bytes, max_notebook_bytes=options.max_notebook_bytes,
               status_file=str(job_dir / "status.json"), hidden_key=key, gpus=gpus)


def run_job(job: Job, job_dir: Path, worker: Worker, timeout: float) -> dict:
    """Run ``job`` on a slot's `Worker` within ``timeout`` seconds: each notebook's status (lost ones say why)."""
    outcome = "not started"
    try:
        (job_dir / "out").mkdir()
        job.dump(job_dir / "job.json")
        outcome = worker.run(job_dir / "job.json", timeout)
        status_file = Path(job.status_file)
        if outcome == "done" and status_file.exists():
            return json.loads(status_file.read_text())["notebooks"]
        why = (f"grading took longer than {timeout} s and was stopped"
               if outcome == "timeout" else f"the grading worker failed: {worker.log_tail()}")
        return {notebook.name: {"problem": why, "lost": True} for notebook in job.notebooks}
    finally:
        # The student's uid never outlives a submission. The judge's uid runs the worker's judge
        # template, which only ever runs the grader's code: it goes only with a worker that was stopped.
        for used in (job.uid, job.judge_uid if outcome != "done" else None):
            if used is not None:
                kill_uid(used)


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _runtime_paths() -> list[str]:
    """What a kernel needs to see: the Python installation, the virtual environment, ``course``."""
    import course.runtime  # `course` may be a namespace package: locate it through a module

    paths = {sys.prefix, os.path.realpath(sys.base_prefix), str(Path(course.runtime.__file__).resolve().parent)}
    return sorted(paths, key=len)


def _timeouts(nb, name: str) -> list[str]:
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") == "CellTimeoutError":
                found.append(f"{name}: cell {index} timed out")
    return found


def _progress(total: int, label: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="submission", file=sys.stderr, dynamic_ncols=True,
                disable=not enabled or total == 0)


def grade_folder(workspace: Workspace, assignment_id: str, submissions_dir: Path, options: GradingOptions,
                 students: list[str] | None = None) -> list[SubmissionResult]:
    """Grade the submissions found in ``submissions_dir`` (only those of ``students``, when given)."""
    grader = Grader(workspace, assignment_id, options)
    found = discover(submissions_dir, assignment_id)
    if students is not None:
        absent = sorted(set(students) - {student for student, _ in found})
        if absent:
            raise FileNotFoundError(
                f"no submission of {assignment_id} from {', '.join(map(repr, absent))} in {submissions_dir} "
                f"(expected <dir>/<student>/{assignment_id}/*.ipynb; {len(found)} students have one there)")
        found = [(student, folder) for student, folder in found if student in students]
    return grader.grade(found)

