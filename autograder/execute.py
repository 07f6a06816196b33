"""Execute sanitized notebooks in sandboxed kernels: the grading worker process.

The grader keeps one ``python -m autograder.execute --serve`` worker per
grading slot and hands it one submission at a time (`Worker`). The worker
never touches the gradebook: it reads the sanitized notebooks the grader prepared, runs each in a fresh kernel launched through
`autograder.sandbox`, and writes the executed notebooks back for the grader to
score. It uses nbgrader's own ``Execute`` preprocessor (per-cell timeout,
interrupt on timeout, errors recorded as outputs) with three additions:

* the kernel is sandboxed and talks over Unix sockets (``ipc`` transport), so
  it needs no network;
* output is capped per cell and for the whole notebook, every kind of it
  (prints, displays, results, errors, widget state), so 100 MB of prints
  exhausts neither the grader nor the notebooks it writes; an error is
  shortened but always kept, because it decides the score;
* when the kernel dies (``os._exit``, a segfault, the memory limit) or stops
  answering, every test cell that did not finish gets an error output saying
  why, so that nbgrader's "no error means full marks" rule cannot give
  points for tests that never ran.
"""
from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import select
import signal
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade
from traitlets import Any, Integer, Unicode

from .kernel_template import KernelTemplate
from .sandbox import SEAT_COMMAND, Policy, SandboxSpec, enter_private_mounts, find_seat, kill_uid, scratch

KERNEL_NAME = "python3"  # the grader's own Python, whatever kernel a submission names
KERNEL_SCRATCH = "kernel"  # the kernels' scratch folder in the worker's folder
ERROR_VALUE_CHARS = 2000        # of an error's message, and of each line of its traceback
ERROR_TRACEBACK_CHARS = 8000    # of its traceback, from the end (where the failing line is)
CUT_NOTE = "\n[autograder: output dropped from here on: it passed the output budget]\n"
MAX_OUTPUT_BYTES = 2_000_000     # what one cell may show, every output type (errors shortened, never dropped)
MAX_NOTEBOOK_BYTES = 20_000_000  # the whole executed notebook: cells, outputs, widget state


@dataclasses.dataclass
class NotebookJob:
    name: str          # e.g. "conv.ipynb"
    source: str        # sanitized notebook written by the grader
    target: str        # where the executed notebook goes
    roles: list[str] = dataclasses.field(default_factory=list)  # per cell: student, trusted, test, markdown
    answers: list[str] = dataclasses.field(default_factory=list)  # the names the student's cells define


@dataclasses.dataclass
class Job:
    """What one worker does: the notebooks of one submission, in one grading slot."""

    notebooks: list[NotebookJob]
    data_from: str | None  # the assignment's data files, copied into the kernel's working folder
    uid: int | None        # the student's slot uid
    policy: Policy         # what confines both the student's kernel and the judge
    cell_timeout: int
    startup_timeout: int
    max_output_bytes: int
    status_file: str
    judge_uid: int | None = None  # the judge runs as its own uid, never the student's
    max_notebook_bytes: int = MAX_NOTEBOOK_BYTES
    hidden_key: str | None = None  # the student's hidden-test key, for the judge only (`pipeline.hidden_key`)
    gpus: str = ""  # CUDA_VISIBLE_DEVICES of the student's kernel: none, unless a cluster's GPU worker grades it

    def dump(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def load(cls, path: str | Path) -> "Job":
        raw = json.loads(Path(path).read_text())
        raw["notebooks"] = [NotebookJob(**n) for n in raw["notebooks"]]
        raw["policy"] = Policy.from_dict(raw["policy"])
        return cls(**raw)


def grading_env(work: str, python_prefix: str) -> dict[str, str]:
    """The kernel's whole environment: nothing of the grader's leaks in.

    CPU only, seeded hashing, the grading profile, one thread per kernel (so
    scores never depend on how many submissions run side by side) and quiet
    TensorFlow (it still prints; scoring does not care, see `autograder.pipeline`).
    """
    return {
        "PATH": f"{python_prefix}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": work,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": work,
        "MPLCONFIGDIR": os.path.join(work, ".matplotlib"),
        "MPLBACKEND": "Agg",
        "COURSE_PROFILE": "grading",
        "NBGRADER_EXECUTION": "autograde",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "KERAS_BACKEND": "tensorflow",
        "OMP_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command goes through the sandbox launcher.

    With a kernel template (`autograder.kernel_template`), the sandbox is built
    around a seat instead and the kernel is forked into it from the template; it
    is alive while that forked process is. Interrupts (a cell's timeout) go as
    Jupyter ``interrupt_request`` messages, which the kernel turns into its own
    SIGINT: the sandbox is a session of its own, out of reach of the signal a
    "signal" interrupt sends the launcher's group.
    """

    sandbox_spec_file = Unicode("")
    template = Any(None, allow_none=True)  # a KernelTemplate, or None: exec the kernel command
    forked = Any(None, allow_none=True)    # the ForkedProcess the template started

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        self._kernel_command = super().format_kernel_cmd(extra_arguments)
        return self._launcher(SEAT_COMMAND if self.template is not None else self._kernel_command)

    def _launcher(self, command: list[str]) -> list[str]:
        return [sys.executable, "-m", "autograder.sandbox", self.sandbox_spec_file, "--", *command]

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        await super()._async_launch_kernel(kernel_cmd, **kw)
        if self.template is None:
            return
        try:
            spec = SandboxSpec.load(self.sandbox_spec_file)
            seat = find_seat(self.provisioner.process.pid, spec.uid, timeout=60)
            self.forked = self.template.spawn(seat, spec, self._kernel_command, timeout=60)
        except RuntimeError as exc:  # the kernel is exec'd instead, now and for the rest of this worker
            print(f"[worker] {exc}: kernels are started without the template from now on", file=sys.stderr)
            self.template.broken = True
            self.template = None
            self.provisioner.process.kill()
            self.provisioner.process.wait()
            await super()._async_launch_kernel(self._launcher(self._kernel_command), **kw)

    async def _async_is_alive(self) -> bool:
        alive = await super()._async_is_alive()
        return alive and (self.forked is None or self.forked.alive())

    is_alive = _async_is_alive

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        if self.forked is not None:
            self.forked.close()
        await super()._async_cleanup_resources(restart)

    cleanup_resources = _async_cleanup_resources


def _json_bytes(value) -> int:
    """At least what `value` adds to the written notebook: its JSON, and an indented line per newline."""
    text = json.dumps(value, ensure_ascii=False)
    return len(text.encode(errors="surrogatepass")) + 12 * text.count("\\n") + 128


def _short_error(content: dict) -> dict:
    """An error that still says what went wrong in a few KB: its name, its message's start, its traceback's end."""
    kept, size = [], 0
    for line in reversed(content.get("traceback") or []):
        line = line[:ERROR_VALUE_CHARS]
        size += len(line)
        if size > ERROR_TRACEBACK_CHARS:
            kept.append("[autograder: traceback shortened]")
            break
        kept.append(line)
    return {**content, "ename": str(content.get("ename", ""))[:200],
            "evalue": str(content.get("evalue", ""))[:ERROR_VALUE_CHARS], "traceback": kept[::-1]}


def _stream_start(content: dict, room: int) -> str:
    """As much of the start of a stream's text as fits in `room` bytes."""
    text = content["text"][:max(room, 0)]
    while text and _json_bytes({**content, "text": text}) > room:
        text = text[:len(text) // 2]
    return text


def fit_notebook(nb, max_bytes: int) -> bool:
    """Shrink `nb` until it is written in at most `max_bytes`: the last guard of the notebook budget.

    Widget state goes first, then the biggest outputs (a note says so), then
    errors shrink, to one line at worst: an error stays an error. False when
    that is not enough (the cells' sources alone are too big).
    """
    def size() -> int:
        return len(nbformat.writes(nb).encode(errors="surrogatepass"))

    if size() <= max_bytes:
        return True
    nb.metadata.pop("widgets", None)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    for out in (out for cell in code_cells for out in cell.outputs if out.output_type == "error"):
        out.update(_short_error(out))  # as `SandboxedExecute.output` keeps them
    excess = size() - max_bytes
    outputs = [(_json_bytes(out), cell, out) for cell in code_cells for out in cell.outputs
               if out.output_type != "error"]
    for cost, cell, out in sorted(outputs, key=lambda item: -item[0]):
        if excess <= 0:
            break
        excess -= cost
        cell.outputs = [o for o in cell.outputs if o is not out]
        if not any(o.get("text") == CUT_NOTE for o in cell.outputs):
            cell.outputs.append(new_output("stream", name="stdout", text=CUT_NOTE))
    if size() > max_bytes:
        for cell in code_cells:
            for out in cell.outputs:
                if out.output_type == "error":
                    out.evalue = out.evalue[:200]
                    out.traceback = [f"{out.ename}: {out.evalue}"]
    return size() <= max_bytes


class SandboxedExecute(Execute):
    """nbgrader's Execute, with a sandboxed kernel, capped output and honest dead-kernel handling."""

    max_output_bytes = Integer(MAX_OUTPUT_BYTES)
    max_notebook_bytes = Integer(MAX_NOTEBOOK_BYTES)

    def __init__(self, spec: SandboxSpec, spec_file: str, kernel_template: KernelTemplate | None = None, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.spec_file, self.kernel_template = spec, spec_file, kernel_template
        self._started: set[int] = set()
        self._finished: set[int] = set()
        self._output_bytes: dict[int, int] = {}
        self._notebook_left = self.max_notebook_bytes  # less the cells themselves, see preprocess
        self._cut: set[int] = set()

    def create_kernel_manager(self):
        self.kernel_name = KERNEL_NAME
        self.km = SandboxedKernelManager(
            kernel_name=KERNEL_NAME, transport="ipc", ip=os.path.join(self.spec.ipc, "kernel"),
            connection_file=os.path.join(self.spec.ipc, "connection.json"),
            sandbox_spec_file=self.spec_file, template=self.kernel_template)
        return self.km

    def on_cell_execute(self, cell, cell_index, **kwargs):
        self._started.add(cell_index)

    def on_cell_executed(self, **kwargs):
        reply = kwargs["execute_reply"]
        if reply["content"].get("status") == "error":  # nbgrader copies it when no error output matches
            reply["content"] = _short_error(reply["content"])
        super().on_cell_executed(**kwargs)
        self._finished.add(kwargs["cell_index"])

    def preprocess(self, nb, resources=None, km=None):
        self._notebook_left = self.max_notebook_bytes - _json_bytes(nb)
        return super().preprocess(nb, resources, km)

    def output(self, outs, msg, display_id, cell_index):
        """Keep an output within the cell's and the notebook's budget; an error is always kept, shortened."""
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            content = _short_error(content)
        room = min(self.max_output_bytes - self._output_bytes.get(cell_index, 0), self._notebook_left)
        whole = kind == "error" or _json_bytes(content) <= room
        if not whole and kind == "stream":
            content = {**content, "text": _stream_start(content, room)}
        out = None
        if whole or (kind == "stream" and content["text"]):
            self._charge(cell_index, _json_bytes(content))
            out = super().output(outs, {**msg, "content": content}, display_id, cell_index)
        if not whole and cell_index not in self._cut:
            self._cut.add(cell_index)
            outs.append(new_output("stream", name="stdout", text=CUT_NOTE))
        return out

    def handle_comm_msg(self, outs, msg, cell_index):
        """Widget state, stored in the notebook's metadata, counts against the notebook's budget too."""
        cost = _json_bytes(msg["content"].get("data", {})) + sum(4 * len(b) // 3 + 4 for b in msg.get("buffers", []))
        if self.store_widget_state and cost > self._notebook_left:
            self.store_widget_state = False  # part of a widget state is of no use: keep none
            self.widget_state.clear()
            self.widget_buffers.clear()
        elif self.store_widget_state:
            self._notebook_left -= cost
        super().handle_comm_msg(outs, msg, cell_index)

    def _update_display_id(self, display_id, msg):
        """An update rewrites every output showing that display: each copy counts."""
        copies = sum(len(indices) for indices in self._display_id_map.get(display_id, {}).values())
        cost = copies * _json_bytes(msg["content"])
        if cost > self._notebook_left:
            msg = {**msg, "content": {**msg["content"], "metadata": {},
                                      "data": {"text/plain": CUT_NOTE.strip()}}}
            cost = copies * _json_bytes(msg["content"])
        self._notebook_left -= cost
        super()._update_display_id(display_id, msg)

    def _charge(self, cell_index: int, cost: int) -> None:
        self._output_bytes[cell_index] = self._output_bytes.get(cell_index, 0) + cost
        self._notebook_left -= cost

    def mark_unfinished(self, nb, why: str) -> None:
        """Give every test cell that did not finish an error output, so it cannot score."""
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not is_grade(cell) or index in self._finished:
                continue
            if not cell.source.strip():
                continue
            detail = f"this cell was running when {why}" if index in self._started else f"not run: {why}"
            cell.outputs = list(cell.get("outputs", [])) + [new_output(
                "error", ename="NotGraded", evalue=detail, traceback=[f"NotGraded: {detail}"])]


def execute_notebook(job: Job, notebook: NotebookJob, worker_root: str) -> str | None:
    """Run one notebook in a fresh sandboxed kernel and a fresh judge; return a problem description or None."""
    nb = nbformat.read(notebook.source, as_version=4)
    # The same path for every kernel of this worker, one at a time: the kernel template noted it.
    env = {**grading_env(os.path.join(worker_root, KERNEL_SCRATCH, "work"), sys.prefix),
           "CUDA_VISIBLE_DEVICES": job.gpus}
    template = kernel_template(job, env, worker_root)
    with scratch(worker_root, job.policy.limits.scratch_mb, KERNEL_SCRATCH) as folder:  # all the kernel may write
        spec = SandboxSpec(scratch=folder, data_from=job.data_from, env=env, uid=job.uid, policy=job.policy)
        os.makedirs(spec.ipc, mode=0o700)
        os.makedirs(spec.work)
        fonts = _matplotlib_fonts(worker_root)
        if fonts:
            shutil.copytree(fonts, spec.env["MPLCONFIGDIR"])
        spec_file = os.path.join(folder, "sandbox.json")
        spec.dump(spec_file)
        from .judged import JudgedExecute, start_judge  # judged builds on this module

        judge = start_judge(job, worker_root)
        executor = JudgedExecute(
            spec, spec_file, notebook.roles, notebook.answers, judge, template, hidden_key=job.hidden_key,
            timeout=job.cell_timeout,
            startup_timeout=job.startup_timeout,
            max_output_bytes=job.max_output_bytes, max_notebook_bytes=job.max_notebook_bytes,
            raise_on_iopub_timeout=False, iopub_timeout=10,
            # The outputs are in hand when the last cell ends, and the sandbox's uid is killed right after:
            # a graceful shutdown would only wait for the kernel to tidy up a scratch folder we delete anyway.
            shutdown_kernel="immediate",
            extra_arguments=["--HistoryManager.hist_file=:memory:"])
        problem = None
        try:
            executor.preprocess(nb, {"metadata": {"path": spec.work}})
        except DeadKernelError:
            problem = "the kernel died (a crash, os._exit, or a resource limit)"
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the notebook is still scored
            problem = f"execution stopped: {type(exc).__name__}: {str(exc)[:300]}"
        finally:
            judge.close()
            if job.uid is not None:
                kill_uid(job.uid)
    if problem:
        executor.mark_unfinished(nb, problem)
    if not fit_notebook(nb, job.max_notebook_bytes):
        problem = "; ".join(filter(None, [problem, (
            f"the notebook is larger than {job.max_notebook_bytes / 1e6:g} MB even without its outputs")]))
    nbformat.write(nb, notebook.target)
    return problem


def run(job: Job, worker_root: str) -> dict:
    """Grade one job's notebooks (``worker_root``: the worker's own folder, for what outlives a job)."""
    status = {"notebooks": {}}
    for notebook in job.notebooks:
        started = time.monotonic()
        problem = execute_notebook(job, notebook, worker_root)
        status["notebooks"][notebook.name] = {"problem": problem, "seconds": time.monotonic() - started}
    Path(job.status_file).write_text(json.dumps(status))
    return status


_kernel_template: KernelTemplate | None = None


def kernel_template(job: Job, env: dict[str, str], worker_root: str) -> KernelTemplate | None:
    """This worker's kernel template for kernels with environment `env` (started, or restarted, if needed).

    None where kernels cannot be forked into a sandbox (not root, or no
    bubblewrap): they are exec'd, as the launcher always can.
    """
    global _kernel_template
    if job.uid is None or not job.policy.namespaces or os.geteuid() != 0:
        return None
    if _kernel_template is not None and _kernel_template.broken:
        return None
    if _kernel_template is not None and (_kernel_template.env != env or not _kernel_template.alive()):
        stop_kernel_template()
    if _kernel_template is None:
        os.makedirs(os.path.join(worker_root, KERNEL_SCRATCH), exist_ok=True)
        _kernel_template = KernelTemplate(env, mpl_fonts=_matplotlib_fonts(worker_root))
    return _kernel_template


def stop_kernel_template() -> None:
    global _kernel_template
    if _kernel_template is not None:
        _kernel_template.close()
        _kernel_template = None


def _matplotlib_fonts(worker_root: str) -> str | None:
    """Matplotlib's font list, built once per worker and copied into each kernel's fresh config folder.

    Without it every kernel that imports matplotlib scans the system's fonts again
    (a third of a second, and a "building the font cache" line in the notebook).
    """
    folder = os.path.join(worker_root, "matplotlib")
    if not os.path.isdir(folder):
        env = {**grading_env(worker_root, sys.prefix), "MPLCONFIGDIR": folder}
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env, cwd=worker_root,
                       capture_output=True, timeout=120)
    return folder if os.path.isdir(folder) else None


def _sandbox_root(prefix: str) -> str:
    root = tempfile.mkdtemp(prefix=prefix)
    os.chmod(root, 0o755)  # the sandbox uid must traverse it to reach its sockets
    return root


class Worker:
    """A long-lived worker process for one grading slot: imports once, grades job after job.

    Jobs are sent as paths on its stdin; it answers one line per finished job.
    A job that overruns its deadline gets the whole worker (and, through the
    slot uid, its kernel) killed; the next job starts a fresh worker.
    """

    def __init__(self, log_file: Path):
        self.log_file = log_file
        self.process: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        with open(self.log_file, "ab") as log:
            return subprocess.Popen([sys.executable, "-m", "autograder.execute", "--serve"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                    start_new_session=True)

    def run(self, job_file: Path, timeout: float) -> str:
        """"done", "timeout" or "crashed"."""
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        self.process.stdin.write(f"{job_file}\n".encode())
        self.process.stdin.flush()
        ready = select.select([self.process.stdout], [], [], timeout)[0]
        answer = self.process.stdout.readline() if ready else b""
        if answer.strip() == b"done":
            return "done"
        outcome = "timeout" if not ready else "crashed"
        self.stop(kill=True)
        return outcome

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            os.killpg(self.process.pid, signal.SIGKILL)
        else:
            self.process.stdin.close()
        self.process.wait()
        self.process = None

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_file.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return "(no log)"


def serve() -> None:
    """The worker's loop: one job path per line on stdin, "done" on stdout after each."""
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the grader
    enter_private_mounts()  # first, while single-threaded: the kernels' scratch mounts vanish with us
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # kernels inherit stdout: keep their chatter out of the answers, in the log
    from .judged import stop_judges

    worker_root = _sandbox_root("autograder-worker-")
    for line in sys.stdin:
        run(Job.load(line.strip()), worker_root)
        answers.write("done\n")
        answers.flush()
    stop_judges()
    stop_kernel_template()
    shutil.rmtree(worker_root, ignore_errors=True)
    os._exit(0)  # skip interpreter teardown (ZMQ contexts can linger)


if __name__ == "__main__":
    serve()
