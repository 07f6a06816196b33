"""Execution with a judge: test cells are scored in a process the student's code never ran in.

`JudgedExecute` walks the notebook as nbgrader's ``Execute`` does, but sends
each cell where it belongs (the roles come from the grader, which checked
each cell against the gradebook, see `autograder.roles`):

* a cell the student wrote runs in the student's sandboxed kernel, and its
  source goes to the judge as data (for the static answer-key check);
* a locked instructor cell (imports, oracles, data) runs in the judge and
  in the student's kernel, so both hold the same trusted helpers;
* a test cell runs in the judge (`autograder.judge`), and its outputs there
  are the cell's outputs: they alone decide its score. It also runs in the
  student's kernel when a later cell reads a name it assigns (the student's
  kernel must evolve as it did in JupyterLab), but those outputs are dropped.

The judges come from one template per worker (`JudgeTemplate`): forking a
process that has TensorFlow imported costs milliseconds, importing it seconds,
and the template never runs a student's code or holds their data.

While a judged cell runs, the judge's requests (call this function of the
student's, read that attribute) are relayed here to the student's kernel as
silent executions of the channel's server (`autograder.remote`), each with a
time limit, and the answers, text only, relayed back.
"""
from __future__ import annotations

import ast
import asyncio
import contextlib
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient.util import run_sync
from nbformat.v4 import new_output

from .execute import Job, SandboxedExecute, grading_env
from .sandbox import SandboxSpec, kill_uid, scratch

HERE = Path(__file__).resolve().parent
MAX_ANSWER_CHARS = 300 * 1024 * 1024
MAX_PRINTED = 20_000
BOOTSTRAP = """
def __autograder_boot(channel_source, remote_source):
    import types
    channel = types.ModuleType("autograder_channel")
    exec(compile(channel_source, "<autograder channel>", "exec"), channel.__dict__)
    remote = types.ModuleType("autograder_remote")
    remote.channel = channel
    exec(compile(remote_source, "<autograder remote>", "exec"), remote.__dict__)
    namespace = get_ipython().user_ns
    namespace["__autograder__"] = remote.Server(namespace)
__autograder_boot({channel!r}, {remote!r})
del __autograder_boot
"""


def _names(source: str) -> tuple[set[str], set[str]] | None:
    """(names a cell binds at top level, names it reads anywhere), or None if it does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return bound, read


def judged_cells_also_run_by_student(cells, roles: list[str]) -> set[int]:
    """Test cells whose names a later cell run in the student's kernel reads: those run there too.

    Walked from the end, so a test cell that runs only in the judge adds no reads: what it needs, the
    judge has.
    """
    needed = set()
    later_reads: set[str] = set()
    unparsable_later = False
    for index in range(len(cells) - 1, -1, -1):
        cell = cells[index]
        if cell.cell_type != "code" or roles[index] not in ("test", "trusted", "student"):
            continue
        names = _names(cell.source)
        if roles[index] == "test":
            if names is None or unparsable_later or names[0] & later_reads:
                needed.add(index)
            else:
                continue
        if names is None:
            unparsable_later = True
        else:
            later_reads |= names[1]
    return needed


class JudgeProcess:
    """One fresh judge, forked by the slot's template: the worker's two pipe ends to it."""

    def __init__(self, template: "JudgeTemplate", to_judge: int, from_judge: int, timeout: float):
        self.template, self.timeout = template, timeout
        self.outgoing = os.fdopen(to_judge, "wb")
        self.incoming = os.fdopen(from_judge, "rb")
        self.dead: str | None = None
        self._pid: int | None = None

    @property
    def pid(self) -> int | None:
        """The judge's pid in the template's namespace: the template's answer to the spawn, read when needed.

        Not waited for at the spawn, so that the kernel starts while a fresh
        template is still importing; messages sent meanwhile wait in the pipe.
        """
        if self._pid is None and not self.dead:
            try:
                answer = self.template.answer(self.timeout)
            except RuntimeError as exc:
                answer = {"problem": str(exc)}
            if isinstance(answer, dict) and isinstance(answer.get("pid"), int):
                self._pid = answer["pid"]
            else:
                self.dead = f"the judge did not start ({answer})"
        return self._pid

    def send(self, message: dict) -> None:
        if self.dead:
            return
        try:
            self.outgoing.write((json.dumps(message) + "\n").encode())
            self.outgoing.flush()
        except OSError:
            self.dead = "the judge stopped"

    async def receive(self, timeout: float) -> dict | None:
        if self.dead:
            return None
        loop = asyncio.get_running_loop()
        try:
            line = await asyncio.wait_for(loop.run_in_executor(None, self.incoming.readline), timeout)
        except asyncio.TimeoutError:
            self.kill(f"the cell's tests ran longer than {timeout:.0f} s")
            return None
        if not line:
            self.kill("the judge stopped")
            return None
        return json.loads(line)

    def kill(self, why: str) -> None:
        pid = self.pid
        self.dead = self.dead or why
        if pid is not None:
            self.template.end(pid)

    def close(self) -> None:
        """Stop the judge; its folder goes with it."""
        self.kill("stopped")
        for end in (self.outgoing, self.incoming):
            with contextlib.suppress(OSError):
                end.close()


class JudgeTemplate:
    """The slot's judge template (`autograder.judge.serve_forks`), in a sandbox of its own.

    Started once per grading worker and sandbox policy, as the judge's uid, with
    its own size-limited scratch; each notebook gets a judge forked from it
    (`spawn`), so TensorFlow's import is paid once per worker, not once per
    notebook. It never runs student code and never receives student data.
    """

    def __init__(self, job: Job, scratch_root: str):
        self.key = _policy(job)
        self.scratch = contextlib.ExitStack()
        folder = self.scratch.enter_context(scratch(scratch_root, job.policy.limits.scratch_mb))
        # The assignment's data files, which every judge gets a fresh copy of: root's, and read-only in the sandbox.
        pristine = tempfile.mkdtemp(prefix="judge-data-", dir=scratch_root)
        self.scratch.callback(shutil.rmtree, pristine, ignore_errors=True)
        os.chmod(pristine, 0o755)
        if job.data_from and os.path.isdir(job.data_from):
            shutil.copytree(job.data_from, pristine, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
        env = grading_env(os.path.join(folder, "work"), sys.prefix)
        env["PYTHONPATH"] = str(HERE.parent)
        spec = SandboxSpec(scratch=folder, data_from=None, env=env, uid=job.judge_uid,
                           policy=job.policy.exposing(str(HERE), pristine))
        os.makedirs(spec.ipc, mode=0o700)
        os.makedirs(spec.work)
        spec_file = os.path.join(folder, "sandbox.json")
        spec.dump(spec_file)
        self.uid = job.judge_uid
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # stderr: the worker's log, as for the student's kernel
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.sandbox", spec_file, "--",
             sys.executable, "-m", "autograder.judge", "--template", pristine],
            stdin=theirs, stdout=subprocess.DEVNULL, start_new_session=True)
        theirs.close()

    def alive(self) -> bool:
        return self.process.poll() is None

    def spawn(self, timeout: float) -> JudgeProcess:
        """A fresh judge for one notebook (``timeout``: for the template to answer, imports included)."""
        judge_in, to_judge = os.pipe()      # os.pipe(): (read end, write end)
        from_judge, judge_out = os.pipe()
        try:
            socket.send_fds(self.control, [json.dumps({"op": "spawn"}).encode()], [judge_in, judge_out])
        except OSError as exc:
            for fd in (to_judge, from_judge):
                os.close(fd)
            raise RuntimeError(f"the judge template stopped: {exc}") from None
        finally:
            os.close(judge_in)
            os.close(judge_out)
        return JudgeProcess(self, to_judge, from_judge, timeout)

    def end(self, pid: int) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.control.sendall(json.dumps({"op": "end", "pid": pid}).encode())
            self.answer(30)

    def answer(self, timeout: float):
        self.control.settimeout(timeout)
        try:
            data = self.control.recv(4096)
        except (OSError, socket.timeout) as exc:
            raise RuntimeError(f"the judge template does not answer: {exc}") from None
        if not data:
            raise RuntimeError("the judge template stopped")
        return json.loads(data)

    def close(self) -> None:
        """Stop the template and every judge it started; its scratch goes with it."""
        self.control.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.uid is not None:
            kill_uid(self.uid)
        self.scratch.close()


def _policy(job: Job) -> tuple:
    """What a template's sandbox depends on: a job with another policy needs another template."""
    return job.policy, job.data_from, job.judge_uid


_template: JudgeTemplate | None = None


def start_judge(job: Job, scratch_root: str) -> JudgeProcess:
    """A fresh judge for one notebook, forked from this worker's template (started, or restarted, if needed).

    ``scratch_root``: where the template's scratch goes; it must outlive the job (the worker's own folder).
    """
    global _template
    if _template is not None and (_template.key != _policy(job) or not _template.alive()):
        _template.close()
        _template = None
    if _template is None:
        _template = JudgeTemplate(job, scratch_root)
    try:
        return _template.spawn(max(60, job.startup_timeout))
    except RuntimeError:
        _template.close()
        _template = None
        raise


def stop_judges() -> None:
    """Stop this worker's template, if it has one."""
    global _template
    if _template is not None:
        _template.close()
        _template = None


class JudgedExecute(SandboxedExecute):
    """nbgrader's Execute with a judge: see the module docstring."""

    def __init__(self, spec, spec_file: str, roles: list[str], answers: list[str], judge: JudgeProcess,
                 kernel_template=None, hidden_key: str | None = None, **kwargs):
        super().__init__(spec, spec_file, kernel_template, **kwargs)
        self.roles, self.judge = roles, judge
        judge.send({"op": "answers", "names": answers, "hidden_key": hidden_key})
        self._booted = False
        self._needed: set[int] = set()

    def preprocess(self, nb, resources=None, km=None):
        if len(self.roles) != len(nb.cells):
            raise ValueError("the cell roles do not match the notebook")
        self._needed = judged_cells_also_run_by_student(nb.cells, self.roles)
        return super().preprocess(nb, resources, km)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if not self._booted:
            await self._boot()
        role = self.roles[cell_index]
        if role == "student":
            self.judge.send({"op": "student_cell", "source": cell.source})
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        self._started.add(cell_index)
        judged = await self._judge(cell, cell_index)
        if role == "trusted" or cell_index in self._needed:
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            await self._student({"op": "changes"}, self.timeout or 60)  # what that cell bound is not the student's
        if role == "test":
            cell.outputs = judged
            self._finished.add(cell_index)
        return cell

    execute_cell = run_sync(async_execute_cell)  # nbclient binds the base method: rebind to ours

    async def _boot(self) -> None:
        code = BOOTSTRAP.format(channel=(HERE / "channel.py").read_text(), remote=(HERE / "remote.py").read_text())
        await self._run_silently(code, None, self.startup_timeout or 60)
        self._booted = True

    async def _judge(self, cell, cell_index: int) -> list:
        """Run a trusted cell in the judge, relaying its requests; its nbgrader outputs come back."""
        name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {cell_index}"
        deadline = time.monotonic() + (self.timeout or 120)
        self.judge.send({"op": "run", "name": name, "source": cell.source})
        while True:
            message = await self.judge.receive(max(1.0, deadline - time.monotonic()))
            if message is None:
                return [new_output("error", ename="NotGraded", evalue=f"not graded: {self.judge.dead}",
                                   traceback=[f"NotGraded: {self.judge.dead}"])]
            if message.get("op") == "ran":
                return [nbformat.from_dict(o) for o in message.get("outputs", [])]
            if message.get("op") == "ask":
                reply = await self._student(message.get("request", {}), max(1.0, deadline - time.monotonic()))
                self.judge.send({"op": "answer", **reply})

    async def _student(self, request: dict, timeout: float) -> dict:
        """One request to the channel's server in the student's kernel: the answer as text, or a problem."""
        payload = base64.b64encode(json.dumps(request).encode()).decode("ascii")
        return await self._run_silently(f"__autograder__.serve({payload!r})", "__autograder__.last", timeout)

    async def _run_silently(self, code: str, expression: str | None, timeout: float) -> dict:
        if not await self.km.is_alive():
            return {"problem": "your kernel is no longer running (it crashed, exited, or hit a limit)"}
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False,
                                 user_expressions={"answer": expression} if expression else {})
        deadline = time.monotonic() + timeout
        reply = None
        while reply is None:
            if time.monotonic() > deadline:
                await self.km.interrupt_kernel()
                return {"problem": f"your code did not answer within {timeout:.0f} s (stopped)"}
            try:
                message = await self.kc.get_shell_msg(timeout=1)
            except Exception:  # noqa: BLE001 - queue.Empty: nothing yet
                if not await self.km.is_alive():
                    return {"problem": "your kernel died while running your code (a crash, os._exit, or a limit)"}
                continue
            if message.get("parent_header", {}).get("msg_id") == msg_id:
                reply = message
        printed = await self._printed(msg_id)
        content = reply.get("content", {})
        if expression is None:
            return {"printed": printed}
        result = content.get("user_expressions", {}).get("answer", {})
        text = result.get("data", {}).get("text/plain") if isinstance(result, dict) else None
        if content.get("status") != "ok" or not isinstance(text, str) or len(text) > MAX_ANSWER_CHARS:
            return {"problem": "the grader's channel to your kernel was broken (did your code change "
                               "__autograder__ or the kernel's display?)", "printed": printed}
        try:
            answer = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            answer = None
        if not isinstance(answer, str):
            return {"problem": "the grader's channel to your kernel sent something that is not an answer",
                    "printed": printed}
        return {"text": answer, "printed": printed}

    async def _printed(self, msg_id: str) -> str:
        """What the student's code printed while answering (shown to them in the test's output)."""
        text = []
        while True:
            try:
                message = await self.kc.get_iopub_msg(timeout=0.2)
            except Exception:  # noqa: BLE001 - queue.Empty: the kernel went quiet
                break
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message.get("msg_type"), message.get("content", {})
            if kind == "stream" and sum(map(len, text)) < MAX_PRINTED:
                text.append(str(content.get("text", ""))[:MAX_PRINTED])
            if kind == "status" and content.get("execution_state") == "idle":
                break
        return "".join(text)[:MAX_PRINTED]
