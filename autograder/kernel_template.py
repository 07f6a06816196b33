"""Student kernels forked from a template that has TensorFlow imported: the kernel's import paid once per worker.

Every graded notebook starts with ``import tensorflow``: five seconds of CPU in
every kernel, two thirds of what grading a submission costs. The grading
worker therefore keeps one kernel template (``python -m
autograder.kernel_template``): a process that imports TensorFlow, Keras,
pyplot and ipykernel once, with the kernels' exact environment, and then only
forks. It runs the grader's code only and never receives anything of a
student's, so a kernel forked from it starts as clean as a new process.

The sandbox is still bubblewrap's, built fresh for each kernel exactly as for an
exec'd one (`autograder.sandbox`): the launcher starts a *seat*
(`sandbox.SEAT_COMMAND`) in it, and the template's fork joins the seat's
cgroup, namespaces and root (`sandbox.join_seat`), forks once more to be inside
the pid namespace, and drops to the slot uid with the same limits, no new
privileges, no descriptors and no capabilities (`sandbox.drop_to_slot`), before
it becomes the kernel. When the seat's sandbox ends, so does the kernel.

Why forking is safe here: what a fork inherits is the template's memory, and the
template holds nothing but imported modules (no gradebook, no answer, no
descriptor beyond stdio); it is root, outside every sandbox, and its only input
is the worker's control socket. Why a template per worker and not one per
machine: a worker owns its kernels' sandboxes and private mounts.

Control messages come on fd 0, a ``SOCK_SEQPACKET`` socket, one JSON object each:
``{"op": "spawn", "seat": PID, "spec": SANDBOX_SPEC, "argv": [...]}``, with three
descriptors attached (``SCM_RIGHTS``): one end of a fresh socket pair, on which
the answer comes, and the new process's stdout and stderr. The answer is
``{"pid": PID}`` with a pidfd of the kernel attached, or ``{"error": ...}``, and
later ``{"exit": STATUS}``. The template ends when the worker closes the socket.
"""
from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import runpy
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import traceback

from .control import receive_request
from .sandbox import SandboxSpec, drop_to_slot, join_seat, tmpfs_at

PR_SET_CHILD_SUBREAPER = 36
PREIMPORTED = ("numpy", "tensorflow", "keras", "matplotlib.pyplot", "ipykernel.kernelapp")


class ForkedProcess:
    """A process the template forked into a sandbox, seen from the worker (it is not the worker's child).

    `pidfd` turns readable when it ends; its exit status comes over `channel`
    from the fork that joined the sandbox for it, which waits for it as its parent.
    """

    def __init__(self, pid: int, pidfd: int, channel: socket.socket):
        self.pid, self.pidfd, self.channel = pid, pidfd, channel
        self._returncode: int | None = None

    def alive(self) -> bool:
        return self.pidfd >= 0 and not select.select([self.pidfd], [], [], 0)[0]

    def wait(self, timeout: float) -> int | None:
        """Its exit status (128 + N when signal N ended it), or None if it is still running after `timeout` s."""
        if self._returncode is None and select.select([self.channel], [], [], timeout)[0]:
            data = self.channel.recv(4096)
            self._returncode = int(json.loads(data)["exit"]) if data else -1  # -1: its waiter was killed
        return self._returncode

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1
        self.channel.close()


class KernelTemplate:
    """The worker's end of a kernel template (started here, as root, in the worker's mount namespace)."""

    def __init__(self, env: dict[str, str], preimport: tuple[str, ...] = PREIMPORTED, mpl_fonts: str | None = None):
        self.env = env
        self.broken = False  # a spawn failed: the worker execs its kernels instead
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [sys.executable, "-m", "autograder.kernel_template", ",".join(preimport), mpl_fonts or ""]
        # stderr: the worker's log, where the kernels' own stderr goes too
        self.process = subprocess.Popen(command, stdin=theirs, stdout=subprocess.DEVNULL, env=env,
                                        cwd="/", start_new_session=True)
        theirs.close()

    def alive(self) -> bool:
        return self.process.poll() is None

    def spawn(self, seat: int, spec: SandboxSpec, argv: list[str], timeout: float,
              stdout: int = 2, stderr: int = 2) -> ForkedProcess:
        """Fork `argv` (a ``python -m``/``-c`` command) into the sandbox whose seat is `seat`.

        `stdout`, `stderr`: this process's descriptors the new one writes to (default: our stderr).
        """
        message = {"op": "spawn", "seat": seat, "spec": spec.to_json(), "argv": argv}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            socket.send_fds(self.control, [json.dumps(message).encode()], [theirs.fileno(), stdout, stderr])
            theirs.close()
            if not select.select([ours], [], [], timeout)[0]:  # imports included, on the first spawn
                raise RuntimeError(f"no answer within {timeout:g} s")
            data, fds, _flags, _address = socket.recv_fds(ours, 65536, 1)
        except (OSError, RuntimeError) as exc:
            ours.close()
            raise RuntimeError(f"the kernel template does not answer: {exc}") from None
        answer = json.loads(data) if data else {"error": "the kernel template stopped"}
        if "pid" not in answer or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            ours.close()
            raise RuntimeError(f"the kernel template could not start the kernel: {answer.get('error')}")
        return ForkedProcess(int(answer["pid"]), fds[0], ours)

    def close(self) -> None:
        self.control.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def _become(argv: list[str]) -> None:
    """Run ``python -m MODULE ARGS`` or ``python -c CODE ARGS`` in this process, as exec would have (never returns)."""
    status = 0
    try:
        for name in [n for n in sys.modules if n == "autograder" or n.startswith("autograder.")]:
            del sys.modules[name]  # the grader's modules: out of sight, as in an exec'd kernel
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()  # a fresh process would draw its own entropy (random reseeds itself)
        tempfile.tempdir = None
        sys.path[0] = os.getcwd() if argv[1] == "-m" else ""
        if argv[1] == "-m":
            sys.argv = [argv[2], *argv[3:]]
            runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
        else:
            sys.argv = ["-c", *argv[3:]]
            exec(compile(argv[2], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # noqa: BLE001 - as the interpreter would: report, exit 1
        traceback.print_exc()
        status = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _spawn(channel: socket.socket, stdio: list[int], message: dict) -> None:
    """In a fresh fork of the template: join the seat's sandbox, fork the process inside it, wait for it, exit."""
    try:
        argv = [str(a) for a in message["argv"]]
        if len(argv) < 3 or argv[0] != sys.executable or argv[1] not in ("-m", "-c"):
            raise ValueError(f"not a command of this interpreter: {argv[:3]}")
        spec = SandboxSpec.from_json(message["spec"])
        join_seat(int(message["seat"]), spec)
        pid = os.fork()
        if pid == 0:
            channel.close()
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(stdio[0], 1)
            os.dup2(stdio[1], 2)
            drop_to_slot(spec)
            _become(argv)
        for fd in stdio:
            os.close(fd)
        socket.send_fds(channel, [json.dumps({"pid": pid}).encode()], [os.pidfd_open(pid)])
    except BaseException as exc:  # noqa: BLE001 - the worker must hear why
        channel.sendall(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:2000]}).encode())
        os._exit(1)
    _pid, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with contextlib.suppress(OSError):  # the worker has stopped listening
        channel.sendall(json.dumps({"exit": code if code >= 0 else 128 - code}).encode())
    os._exit(0)


def serve(preimport: list[str], mpl_fonts: str) -> None:
    """Be a worker's kernel template: import once, then fork kernels on request until the socket closes."""
    control = socket.socket(fileno=os.dup(0))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    # The kernels' working folder, which Keras and matplotlib note (and write to) at import: a tmpfs of
    # the template's own where the kernels' scratch will be, so that the paths they note are the kernels'.
    home = os.environ["HOME"]
    with tmpfs_at(os.path.dirname(home), 64):
        os.makedirs(home, exist_ok=True)
        if mpl_fonts and os.environ.get("MPLCONFIGDIR"):
            shutil.copytree(mpl_fonts, os.environ["MPLCONFIGDIR"], dirs_exist_ok=True)
        for name in preimport:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
    # A kernel whose waiter (the fork that joined its sandbox) dies first, as when its cgroup is killed,
    # is the template's orphan to reap, not the host's init's (which, in a container, may never reap).
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    while True:
        _reap()
        if not select.select([control], [], [], 1.0)[0]:
            continue
        request = receive_request(control, 3)
        if request is None:
            break
        message, fds = request
        if len(fds) != 3 or message.get("op") != "spawn":
            for fd in fds:
                os.close(fd)
            continue  # the worker, waiting on a channel it never sent, hears it closed
        channel, stdio = socket.socket(fileno=fds[0]), fds[1:]
        if len(os.listdir("/proc/self/task")) > 1:  # an import started a thread: a fork would inherit a lock
            channel.sendall(json.dumps({"error": "the template is not single-threaded"}).encode())
        elif os.fork() == 0:
            control.close()
            _spawn(channel, stdio, message)
        channel.close()
        for fd in stdio:
            os.close(fd)
    os._exit(0)


def _reap() -> None:
    """Collect every child that has ended: joining forks, and kernels reparented here."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


if __name__ == "__main__":
    serve([n for n in sys.argv[1].split(",") if n], sys.argv[2] if len(sys.argv) > 2 else "")
