"""The isolation layer: each student's kernel runs in its own small jail.

Why: nbgrader runs student code with the grader's rights, so a submission
could read the source notebooks (solutions, hidden tests), rewrite the
gradebook or delete other students' work. Here the kernel is started through
``python -m autograder.sandbox SPEC.json -- <kernel command>``, which, when
the grader is root (the usual case in a grading container):

1. enters new mount and network namespaces (no network at all; the kernel
   talks to the grader over Unix sockets, ZMQ's ``ipc`` transport);
2. mounts a size-limited tmpfs as the working copy and copies the
   assignment's data files into it (the notebook itself is never on disk:
   cells arrive over the kernel protocol, so hidden tests cannot be read in
   advance);
3. hides the repo, the work folder (gradebook, source, releases, other
   students' results), the submissions folder and root's home behind empty
   tmpfs mounts, then re-exposes only the Python installation and the
   ``course`` package, read-only;
4. remounts ``/`` read-only and gives ``/tmp``, ``/var/tmp``, ``/dev/shm``
   small private tmpfs mounts, so the working copy is the only place that
   outlives a write;
5. sets resource limits (memory, processes, CPU seconds, file size,
   open files, no core dumps) and drops to a dedicated unprivileged uid per
   grading slot, so a stray process can be found and killed by its uid;
6. replaces itself with the kernel (same pid, so interrupts and shutdown work).

Not root: no namespaces and no uid switch (the kernel could read what the
grader can read); limits, a scratch working folder and a clean environment
still apply, and `probe()` says so in a warning.
"""
from __future__ import annotations

import ctypes
import dataclasses
import fcntl
import json
import os
import resource
import shutil
import signal
import sys
import time
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1
UID_RANGE = range(61000, 62000)  # unprivileged uids, one per grading slot (no /etc/passwd entry needed)
UID_LOCK_DIR = Path("/tmp/autograder-uids")

_libc = ctypes.CDLL(None, use_errno=True)


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-kernel limits. Generous enough for the grading profile's TensorFlow work."""

    memory_mb: int = 4096          # heap and anonymous memory of each process (RLIMIT_DATA)
    processes: int = 512           # tasks of the slot uid, threads included (TensorFlow starts many)
    cpu_seconds: int = 900         # CPU time of each process
    file_mb: int = 256             # largest file a process may write
    open_files: int = 1024
    scratch_mb: int = 512          # size of the tmpfs working copy


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What isolation this machine allows; `warning` is empty when everything works."""

    namespaces: bool
    separate_uid: bool
    warning: str = ""


@dataclasses.dataclass
class SandboxSpec:
    """Everything the launcher needs, written as JSON next to the kernel's sockets."""

    scratch: str                 # holds ipc/ (sockets, connection file) and work/ (cwd)
    data_from: str | None        # folder whose non-notebook files are copied into work/
    hide: list[str]              # paths replaced by empty folders
    expose_read_only: list[str]  # paths under hidden ones that stay visible, read-only
    env: dict[str, str]
    limits: Limits
    uid: int | None
    namespaces: bool

    @property
    def work(self) -> str:
        return os.path.join(self.scratch, "work")

    @property
    def ipc(self) -> str:
        return os.path.join(self.scratch, "ipc")

    def dump(self, path: str) -> None:
        Path(path).write_text(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def load(cls, path: str) -> "SandboxSpec":
        raw = json.loads(Path(path).read_text())
        raw["limits"] = Limits(**raw["limits"])
        return cls(**raw)


def probe() -> Capabilities:
    """Try, in a throw-away child process, what the launcher will do."""
    if os.geteuid() != 0:
        return Capabilities(False, False, (
            "not running as root: student code runs as your own user, without a private file "
            "system view or network namespace, and can read anything you can read. "
            "Run the grader as root in a container (limits still apply)."))
    pid = os.fork()
    if pid == 0:  # child: never returns
        ok = _libc.unshare(CLONE_NEWNS | CLONE_NEWNET) == 0 and _mount(None, "/", None, MS_REC | MS_PRIVATE, check=False)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return Capabilities(False, True, (
            "mount/network namespaces are not available (a container without CAP_SYS_ADMIN?): "
            "student code runs as a separate uid with limits, but sees the file system and the network"))
    return Capabilities(True, True)


class UidPool:
    """Reserve free sandbox uids for this run (file locks, so two runs never share one)."""

    def __init__(self, count: int):
        self.count = count
        self._locks: list[int] = []
        self.uids: list[int] = []

    def __enter__(self) -> "UidPool":
        UID_LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        for uid in UID_RANGE:
            if len(self.uids) == self.count:
                break
            fd = os.open(UID_LOCK_DIR / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            kill_uid(uid)  # leftovers of a grader that was killed with -9
            self._locks.append(fd)
            self.uids.append(uid)
        if len(self.uids) < self.count:
            raise RuntimeError(f"could not reserve {self.count} sandbox uids in {UID_RANGE}")
        return self

    def __exit__(self, *exc) -> None:
        for uid in self.uids:
            kill_uid(uid)
        for fd in self._locks:
            os.close(fd)


def kill_uid(uid: int) -> None:
    """Kill every process of a sandbox uid (forks included), from a child running as that uid."""
    if os.geteuid() != 0:
        return
    for _ in range(20):
        if not _processes_of(uid):
            return
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)  # every process this uid may signal: exactly its own
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.05)


def _processes_of(uid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except FileNotFoundError:
                pass
    return found


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None,
           check: bool = True) -> bool:
    encode = (lambda s: s.encode() if s is not None else None)
    if _libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)) == 0:
        return True
    if check:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")
    return False


def _tmpfs(target: str, size_mb: int, mode: str = "755") -> None:
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode={mode}")


def _enter_namespaces(spec: SandboxSpec) -> None:
    """Steps 1-4 of the module docstring (runs as root, before dropping privileges)."""
    if _libc.unshare(CLONE_NEWNS | CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _tmpfs(spec.work, spec.limits.scratch_mb)
    _copy_data_files(spec)
    # Handles on what must stay visible, taken before anything is hidden.
    keep = [(p, os.open(p, os.O_PATH | os.O_DIRECTORY), True) for p in spec.expose_read_only if os.path.isdir(p)]
    keep.append((spec.scratch, os.open(spec.scratch, os.O_PATH | os.O_DIRECTORY), False))
    for path in spec.hide:
        if os.path.isdir(path):
            _tmpfs(path, 1)
    for path, size in (("/tmp", 16), ("/var/tmp", 1), ("/dev/shm", 16)):
        if os.path.isdir(path):
            _tmpfs(path, size, "1777")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    for path, fd, read_only in keep:
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        # A bind inherits the read-only flag of "/" (remounted above): set each one's mode explicitly.
        _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_NOSUID | (MS_RDONLY if read_only else 0))
        os.close(fd)


def _copy_data_files(spec: SandboxSpec) -> None:
    if spec.data_from and os.path.isdir(spec.data_from):
        shutil.copytree(spec.data_from, spec.work, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
    if spec.uid is not None:
        for folder, dirs, files in os.walk(spec.work):
            for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
                os.chown(name, spec.uid, spec.uid)


def _set_limits(limits: Limits, own_uid: bool) -> None:
    # RLIMIT_DATA rather than RLIMIT_AS: it counts what a memory bomb allocates, not the large
    # address-space reservations TensorFlow's shared libraries and threads make without using them.
    mb = 1024 * 1024
    for which, value in ((resource.RLIMIT_DATA, limits.memory_mb * mb),
                         (resource.RLIMIT_CPU, limits.cpu_seconds),
                         (resource.RLIMIT_FSIZE, limits.file_mb * mb),
                         (resource.RLIMIT_NOFILE, limits.open_files),
                         (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(which, (value, value))
    if own_uid:  # RLIMIT_NPROC counts every process of the uid: only meaningful for a uid of its own
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))


def launch(spec: SandboxSpec, command: list[str]) -> None:
    """Isolate this process as the spec says, then exec ``command`` (never returns)."""
    if spec.namespaces:
        _enter_namespaces(spec)
    else:
        os.makedirs(spec.work, exist_ok=True)
        _copy_data_files(spec)
    _set_limits(spec.limits, own_uid=spec.uid is not None)
    os.chdir(spec.work)
    if spec.uid is not None:
        for name in [spec.ipc] + [os.path.join(spec.ipc, n) for n in os.listdir(spec.ipc)]:
            os.chown(name, spec.uid, spec.uid)  # the connection file the kernel must read
        os.setgroups([])
        os.setgid(spec.uid)
        os.setuid(spec.uid)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the grader's worker died: so does the kernel
    os.execve(command[0], command, spec.env)


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m autograder.sandbox SPEC.json -- COMMAND...")
    launch(SandboxSpec.load(argv[0]), argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
