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
import subprocess
import sys
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
    """Test cells whose names a later cell of the student's kernel reads: those run there too."""
    needed = set()
    later_reads: set[str] = set()
    unparsable_later = False
    for index in range(len(cells) - 1, -1, -1):
        cell = cells[index]
        if cell.cell_type != "code":
            continue
        names = _names(cell.source)
        if roles[index] == "test":
            if names is None or unparsable_later or names[0] & later_reads:
                needed.add(index)
        if roles[index] in ("test", "trusted", "student") and index != len(cells):
            if names is None:
                unparsable_later = True
            else:
                later_reads |= names[1]
    return needed


class JudgeProcess:
    """The sandboxed judge, started through the sandbox launcher with a spec of its own."""

    def __init__(self, spec_file: str):
        # stderr: the worker's log, as for the student's kernel (TensorFlow's start-up lines land there)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.sandbox", spec_file, "--", sys.executable, "-m", "autograder.judge"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        self.dead: str | None = None
        self.uid: int | None = None
        self.scratch = contextlib.ExitStack()  # the judge's scratch, released on close

    def send(self, message: dict) -> None:
        if self.dead:
            return
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
        except OSError:
            self.dead = "the judge stopped"

    async def receive(self, timeout: float) -> dict | None:
        if self.dead:
            return None
        loop = asyncio.get_running_loop()
        try:
            line = await asyncio.wait_for(loop.run_in_executor(None, self.process.stdout.readline), timeout)
        except asyncio.TimeoutError:
            self.kill(f"the cell's tests ran longer than {timeout:.0f} s")
            return None
        if not line:
            self.kill("the judge stopped")
            return None
        return json.loads(line)

    def kill(self, why: str) -> None:
        self.dead = self.dead or why
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """Stop the judge and everything it started; its scratch goes with it."""
        self.kill("stopped")
        if self.uid is not None:
            kill_uid(self.uid)
        self.scratch.close()


def start_judge(job: Job, scratch_root: str) -> JudgeProcess:
    """A fresh judge for one notebook: its own size-limited scratch and uid, the grader's code read-only."""
    stack = contextlib.ExitStack()
    folder = stack.enter_context(scratch(scratch_root, job.limits.scratch_mb))
    env = grading_env(os.path.join(folder, "work"), sys.prefix)
    env["PYTHONPATH"] = str(HERE.parent)
    spec = SandboxSpec(scratch=folder, data_from=job.data_from, hide=job.hide,
                       expose_read_only=sorted(set(job.expose_read_only) | {str(HERE)}, key=len),
                       env=env, limits=job.limits, uid=job.judge_uid, namespaces=job.namespaces)
    os.makedirs(spec.ipc, mode=0o700)
    os.makedirs(spec.work)
    spec_file = os.path.join(folder, "sandbox.json")
    spec.dump(spec_file)
    judge = JudgeProcess(spec_file)
    judge.uid, judge.scratch = job.judge_uid, stack
    return judge


class JudgedExecute(SandboxedExecute):
    """nbgrader's Execute with a judge: see the module docstring."""

    def __init__(self, spec, spec_file: str, roles: list[str], answers: list[str], judge: JudgeProcess, **kwargs):
        super().__init__(spec, spec_file, **kwargs)
        self.roles, self.judge = roles, judge
        judge.send({"op": "answers", "names": answers})
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
