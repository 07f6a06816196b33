"""The isolation layer: each sandboxed process (a student's kernel, a judge) runs in its own small jail.

Why: nbgrader runs student code with the grader's rights, so a submission
could read the source notebooks (solutions, hidden tests), rewrite the
gradebook, delete other students' work, or leave something behind that
hurts the next student. Every sandboxed command is started through
``python -m autograder.sandbox SPEC.json -- COMMAND...``; its stdin, stdout
and stderr pass through unchanged. When the grader is root (the usual case
in a grading container), the launcher:

1. puts itself in a cgroup of its own (v2, or v1's memory and pids
   hierarchies), so memory and processes are limited for the sandbox **as a
   whole**: every process, shared memory and tmpfs contents included;
2. fills the working copy (copies the assignment's data files; the notebook
   itself is never on disk: cells arrive over the kernel protocol), sets the
   per-process limits, sets ``PR_SET_NO_NEW_PRIVS`` (setuid programs gain
   nothing) and closes every file descriptor but stdin, stdout and stderr;
3. execs bubblewrap, which gives the command new pid, network, IPC, UTS and
   cgroup namespaces (it sees only its own processes, has no network at all,
   and when it ends everything it started ends with it, double-forked or
   not), a read-only, ``nosuid`` view of ``/`` with the grader's files
   (``spec.policy.hide``) behind empty folders and only ``spec.policy.expose_read_only``
   visible under them, and small private tmpfs mounts on ``/tmp``,
   ``/var/tmp``, ``/dev/shm`` and ``/run``;
4. drops to the slot's unprivileged uid with ``setpriv`` (no groups, no
   capabilities, not even in the bounding set) and execs the command.

A grading kernel is usually not exec'd but forked into its sandbox from the
worker's kernel template (`autograder.kernel_template`, which has TensorFlow
imported): the launcher runs a seat (`SEAT_COMMAND`) in place of the command,
and the template's fork joins the seat's cgroup and namespaces and takes steps
2 and 4 itself (`join_seat`, `drop_to_slot`). The sandbox is bubblewrap's all
the same; only the process in it comes from a fork.

The only writable places are these tmpfs mounts and the scratch folder
(working copy and ``ipc/``, the kernel's sockets and connection file), which
the worker mounts as a size-limited tmpfs (`scratch`) in a mount namespace of
its own, so that it vanishes with the worker.

Why bubblewrap: it is Flatpak's sandbox, small, audited and packaged by every
distribution, and does in one exec what hand-written namespace code gets
subtly wrong (mount propagation, ``nosuid`` on every mount, a pid 1 that
reaps, dying with its parent). It runs here as real root without a user
namespace (bubblewrap's ``--unshare-user``/``--uid`` would map the slot uid to
root, and an unprivileged bubblewrap needs user namespaces, which containers
often forbid), keeping only the capabilities ``setpriv`` needs to drop to the
slot uid. One consequence: where the host allows unprivileged user
namespaces, student code can create one (it gains no rights outside it).

Interrupts: the sandbox is a new session, so the grader's signals to the
launcher's process group do not reach it; the kernel is interrupted with
Jupyter's ``interrupt_request`` message instead (see `autograder.execute`).

Without bubblewrap (a warning from `probe()`) a root grader still gets the
cgroup, the limits and the uid switch, but the kernel sees the file system and
the network. Not root: no namespaces, no cgroup and no uid switch (the kernel
could read what the grader can read); limits, a scratch working folder and a
clean environment still apply, and `probe()` says so.
"""
from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
UID_RANGE = range(61000, 62000)  # unprivileged uids, one per grading slot (no /etc/passwd entry needed)
UID_LOCK_DIR = Path("/tmp/autograder-uids")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_LEAF = "autograder-grader"  # cgroup v2: where the grader's own processes move (see `_delegate`)
PRIVATE_TMPFS = {"/tmp": "1777", "/var/tmp": "1777", "/dev/shm": "1777", "/run": "0755"}  # path: mode
MB = 1024 * 1024
# What holds a sandbox open for a process forked into it (`find_seat`, `join_seat`); it does nothing else.
SEAT_COMMAND = ["sleep", "infinity"]
# Joined in this order: the mount namespace last, since /proc/<seat> is out of sight once in it.
SEAT_NAMESPACES = ("cgroup", "ipc", "uts", "net", "pid", "mnt")

_libc = ctypes.CDLL(None, use_errno=True)
_private_mounts = False


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-sandbox limits. Generous enough for the grading profile's TensorFlow work."""

    memory_mb: int = 4096          # heap of each process (RLIMIT_DATA): a plain memory bomb gets MemoryError
    total_memory_mb: int = 6144    # the whole sandbox (cgroup): processes, shared memory, tmpfs; keep > memory_mb
    processes: int = 512           # tasks of the sandbox, threads included (TensorFlow starts many)
    cpu_seconds: int = 900         # CPU time of each process
    file_mb: int = 256             # largest file a process may write
    open_files: int = 1024
    scratch_mb: int = 512          # the scratch tmpfs: working copy and ipc/
    tmp_mb: int = 16               # each of the private /tmp, /var/tmp, /dev/shm, /run


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What isolation this machine allows; `warning` is empty when everything works."""

    namespaces: bool
    separate_uid: bool
    warning: str = ""
    cgroups: bool = False


@dataclasses.dataclass(frozen=True)
class Policy:
    """What confines every sandbox of one submission: the student's kernel and its judge alike.

    One object, carried by the `execute.Job` and by each `SandboxSpec` made
    from it, so the two sandboxes cannot drift apart field by field.
    """

    hide: tuple[str, ...] = ()              # paths replaced by empty folders
    expose_read_only: tuple[str, ...] = ()  # paths under hidden ones that stay visible, read-only
    limits: Limits = Limits()
    namespaces: bool = True                 # run through bubblewrap (`probe().namespaces`)
    devices: tuple[str, ...] = ()           # device nodes bound into the private /dev (a cluster's GPU jobs)

    def exposing(self, *paths: str) -> "Policy":
        """The same policy with ``paths`` visible (read-only) as well."""
        return dataclasses.replace(self, expose_read_only=tuple(sorted({*self.expose_read_only, *paths}, key=len)))

    @classmethod
    def from_dict(cls, raw: dict) -> "Policy":
        return cls(tuple(raw["hide"]), tuple(raw["expose_read_only"]), Limits(**raw["limits"]), raw["namespaces"],
                   tuple(raw.get("devices", ())))


@dataclasses.dataclass
class SandboxSpec:
    """Everything the launcher needs, written as JSON next to the sandbox's scratch."""

    scratch: str           # holds work/ (cwd) and, for a kernel, ipc/ (sockets, connection file)
    data_from: str | None  # folder whose non-notebook files are copied into work/
    env: dict[str, str]    # the command's whole environment
    uid: int | None        # the slot uid to run as (root only); it also names the cgroup
    policy: Policy

    @property
    def limits(self) -> Limits:
        return self.policy.limits

    @property
    def work(self) -> str:
        return os.path.join(self.scratch, "work")

    @property
    def ipc(self) -> str:
        return os.path.join(self.scratch, "ipc")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "SandboxSpec":
        raw = json.loads(text)
        raw["policy"] = Policy.from_dict(raw["policy"])
        return cls(**raw)

    def dump(self, path: str) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str) -> "SandboxSpec":
        return cls.from_json(Path(path).read_text())


def probe() -> Capabilities:
    """Try what the launcher will do: bubblewrap with its namespaces, and a cgroup."""
    if os.geteuid() != 0:
        return Capabilities(False, False, (
            "not running as root: student code runs as your own user, without a private file "
            "system view or network namespace, and can read anything you can read. "
            "Run the grader as root in a container (limits still apply)."))
    problems = []
    namespaces = False
    if not shutil.which("bwrap"):
        problems.append(
            "bubblewrap is not installed (apt-get install bubblewrap; scripts/setup.sh does it as root): "
            "student code runs as a separate uid with limits, but sees the file system and the network")
    else:
        with tempfile.TemporaryDirectory() as scratch:
            os.mkdir(os.path.join(scratch, "work"))
            spec = SandboxSpec(scratch, None, {"PATH": "/usr/bin:/bin"}, 65534, Policy())
            tried = subprocess.run(_bwrap_command(spec, ["true"]), env=spec.env, capture_output=True, text=True)
        namespaces = tried.returncode == 0
        if not namespaces:
            problems.append(
                f"bubblewrap cannot build the sandbox here ({tried.stderr.strip()[:200]}; a container without "
                "CAP_SYS_ADMIN?): student code runs as a separate uid with limits, but sees the file system "
                "and the network")
    trial = Cgroup(f"autograder-probe-{os.getpid()}")
    cgroups = trial.try_create(Limits())
    if cgroups:
        trial.remove()
    else:
        problems.append(
            "no cgroup for the sandboxes (neither cgroup v2 with memory and pids, nor v1's memory and pids "
            "hierarchies, is writable): memory and process limits hold per process only, and shared memory "
            "or tmpfs contents are not limited beyond the tmpfs sizes")
    return Capabilities(namespaces, True, "; ".join(problems), cgroups)


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
    """Kill every process of a sandbox uid (forks included) and remove the uid's cgroup."""
    if os.geteuid() != 0:
        return
    for _ in range(20):
        if not _processes_of(uid):
            break
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
    Cgroup.of_uid(uid).remove()  # and whatever else is in its cgroup (bubblewrap's own processes)


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


# -- cgroups: limits for the sandbox as a whole ------------------------------------------------------

class Cgroup:
    """One sandbox's cgroup, under the grader's own (whose limits still bound it).

    cgroup v2: ``<grader's cgroup>/<name>``; v1: the same name in the memory and
    in the pids hierarchy. `dirs` is empty when neither is available.
    """

    def __init__(self, name: str):
        self.version, parents = _cgroup_parents()
        self.dirs = [parent / name for parent in parents]

    @classmethod
    def of_uid(cls, uid: int) -> "Cgroup":
        return cls(f"autograder-{uid}")

    def try_create(self, limits: Limits) -> bool:
        """Create it afresh with these limits (killing what is left of an earlier one); False if impossible."""
        if not self.dirs:
            return False
        try:
            self.remove()
            if self.version == 2:
                _delegate(self.dirs[0].parent)
            settings = {"memory.max": limits.total_memory_mb * MB, "memory.swap.max": 0,   # v2
                        "memory.limit_in_bytes": limits.total_memory_mb * MB,               # v1, in this order
                        "memory.memsw.limit_in_bytes": limits.total_memory_mb * MB,
                        "pids.max": limits.processes}
            for folder in self.dirs:
                folder.mkdir()
                for name, value in settings.items():
                    if (folder / name).exists():
                        (folder / name).write_text(str(value))
            return True
        except OSError:
            return False

    def enter(self) -> None:
        """Move this process (and so everything it will start) into the cgroup."""
        for folder in self.dirs:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        """Kill everything in the cgroup, then delete it."""
        for folder in self.dirs:
            for _ in range(100):
                if not folder.is_dir():
                    break
                if (folder / "cgroup.kill").exists():
                    (folder / "cgroup.kill").write_text("1")
                else:
                    for pid in (folder / "cgroup.procs").read_text().split():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(pid), signal.SIGKILL)
                try:
                    folder.rmdir()
                except OSError:  # EBUSY until the last process has exited
                    time.sleep(0.02)


def _cgroup_parents() -> tuple[int, list[Path]]:
    """(cgroup version, the folders new cgroups go in): the grader's own cgroup(s); (0, []) if unusable."""
    own = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                own[controller] = path
    if (CGROUP_ROOT / "cgroup.controllers").exists():  # v2 mounted on /sys/fs/cgroup
        base = _visible(CGROUP_ROOT, own.get("", "/"))
        base = base.parent if base.name == CGROUP_LEAF else base
        return (2, [base]) if {"memory", "pids"} <= set((base / "cgroup.controllers").read_text().split()) else (0, [])
    parents = [_visible(CGROUP_ROOT / controller, own.get(controller, "/")) for controller in ("memory", "pids")]
    return (1, parents) if all((p / "cgroup.procs").exists() for p in parents) else (0, [])


def _visible(mount: Path, path: str) -> Path:
    """Where cgroup `path` is under `mount`; the mount itself where a container sees only its own cgroup."""
    folder = mount / path.lstrip("/")
    return folder if folder.is_dir() else mount


def _delegate(base: Path) -> None:
    """cgroup v2: let `base`'s children have memory and pids limits.

    v2 forbids processes in a cgroup that hands controllers to its children, so
    the processes living in `base` (the grader; in a container, everything) move
    to a leaf next to the sandboxes first, as systemd and Docker-in-Docker do.
    """
    control = base / "cgroup.subtree_control"
    if {"memory", "pids"} <= set(control.read_text().split()):
        return
    try:
        control.write_text("+memory +pids")
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise
        leaf = base / CGROUP_LEAF
        leaf.mkdir(exist_ok=True)
        for pid in (base / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):  # exited meanwhile
                (leaf / "cgroup.procs").write_text(pid)
        control.write_text("+memory +pids")


# -- scratch: where a sandbox may write ----------------------------------------------------------------

def enter_private_mounts() -> bool:
    """Give this process a mount namespace of its own (root only), so its mounts vanish with it.

    Call it before any thread starts: a namespace entered later would hold for
    the calling thread only. Returns whether this process has one.
    """
    global _private_mounts
    if _private_mounts or os.geteuid() != 0:
        return _private_mounts
    if len(os.listdir("/proc/self/task")) > 1:
        raise RuntimeError("enter_private_mounts() must run before this process starts threads")
    if _libc.unshare(CLONE_NEWNS) != 0:
        return False  # no CAP_SYS_ADMIN: probe() has said so
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _private_mounts = True
    return True


@contextlib.contextmanager
def scratch(root: str, size_mb: int, name: str | None = None) -> Iterator[str]:
    """A fresh folder for one sandbox's scratch (`SandboxSpec.scratch`), deleted afterwards.

    As root it is a tmpfs of `size_mb` (`tmpfs_at`): a sandbox filling it fills
    nothing else, and a killed worker leaves no mount behind. Otherwise a plain
    folder. `name`: a fixed name under `root` (a kernel forked from a template
    must find the paths the template noted), else a new random one.
    """
    path = os.path.join(root, name) if name else tempfile.mkdtemp(prefix="ag-", dir=root)
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    try:
        with tmpfs_at(path, size_mb):
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def tmpfs_at(path: str, size_mb: int) -> Iterator[bool]:
    """A tmpfs of `size_mb` (nosuid, nodev) on the folder `path` in this process's private mount namespace.

    Yields whether it is mounted (root only; otherwise `path` stays a plain folder).
    """
    mounted = enter_private_mounts()
    if mounted:
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode=755")
    try:
        yield mounted
    finally:
        if mounted:
            _libc.umount2(path.encode(), MNT_DETACH)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = (lambda s: s.encode() if s is not None else None)
    if _libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


# -- the launcher --------------------------------------------------------------------------------------

def _bwrap_command(spec: SandboxSpec, command: list[str]) -> list[str]:
    """The bubblewrap command line that runs `command` as step 3 and 4 of the module docstring say."""
    # Not --unshare-all: it implies a user namespace, in which the slot uid would not exist.
    args = [shutil.which("bwrap") or "bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    for device in spec.policy.devices:
        args += ["--dev-bind", device, device]
    for path, mode in PRIVATE_TMPFS.items():
        args += ["--perms", mode, "--size", str(spec.limits.tmp_mb * MB), "--tmpfs", path]
    # The scratch's parent too: sibling sandboxes' scratch folders are none of this one's business.
    hidden = sorted({*spec.policy.hide, os.path.dirname(spec.scratch)} - {"/"}, key=len)
    for path in hidden:
        if os.path.isdir(path):
            args += ["--size", str(MB), "--tmpfs", path]
    for path in sorted(spec.policy.expose_read_only, key=len):
        if os.path.exists(path) and any(_is_under(path, h) for h in [*hidden, *PRIVATE_TMPFS]):
            args += _bind("--ro-bind", path)
    for path in (spec.work, spec.ipc):
        if os.path.isdir(path):
            args += _bind("--bind", path)
    args += ["--chdir", spec.work]
    if spec.uid is None:
        return args + ["--", *command]
    args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    drop = [shutil.which("setpriv") or "setpriv", f"--reuid={spec.uid}", f"--regid={spec.uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return args + ["--", *drop, "--", *command]


def _bind(flag: str, path: str) -> list[str]:
    # bubblewrap creates a bind's missing parents mode 0700, out of the slot uid's reach: make them 0755 first.
    return ["--perms", "0755", "--dir", os.path.dirname(path), flag, path, path]


def _is_under(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def _prepare_work(spec: SandboxSpec) -> None:
    """Create the working copy with the data files, owned (like ipc/) by the slot uid."""
    os.makedirs(spec.work, exist_ok=True)
    if spec.data_from and os.path.isdir(spec.data_from):
        shutil.copytree(spec.data_from, spec.work, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
    if spec.uid is not None:
        for top in (spec.work, spec.ipc):  # ipc/: the connection file the kernel must read
            for folder, dirs, files in os.walk(top):
                for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
                    os.chown(name, spec.uid, spec.uid)


def _set_limits(limits: Limits, own_uid: bool) -> None:
    # RLIMIT_DATA rather than RLIMIT_AS: it counts what a memory bomb allocates, not the large
    # address-space reservations TensorFlow's shared libraries and threads make without using them.
    for which, value in ((resource.RLIMIT_DATA, limits.memory_mb * MB),
                         (resource.RLIMIT_CPU, limits.cpu_seconds),
                         (resource.RLIMIT_FSIZE, limits.file_mb * MB),
                         (resource.RLIMIT_NOFILE, limits.open_files),
                         (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(which, (value, value))
    if own_uid:  # RLIMIT_NPROC counts every process of the uid: only meaningful for a uid of its own
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))


def _close_inherited_fds() -> None:
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            with contextlib.suppress(OSError):  # the listing's own descriptor, already closed
                os.close(int(name))


def launch(spec: SandboxSpec, command: list[str]) -> None:
    """Isolate this process as the spec says, then exec ``command`` (never returns)."""
    if spec.uid is not None and os.geteuid() == 0:
        cgroup = Cgroup.of_uid(spec.uid)
        if cgroup.try_create(spec.limits):
            cgroup.enter()
        else:
            print("[sandbox] no cgroup: memory and process limits hold per process only", file=sys.stderr)
    _prepare_work(spec)
    _set_limits(spec.limits, own_uid=spec.uid is not None)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # setuid programs (su, passwd) gain nothing
    _close_inherited_fds()
    if spec.policy.namespaces:
        command = _bwrap_command(spec, command)
    else:
        os.chdir(spec.work)
        if spec.uid is not None:
            os.setgroups([])
            os.setgid(spec.uid)
            os.setuid(spec.uid)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it: the worker died, so do we
    os.execvpe(command[0], command, spec.env)


# -- joining a sandbox: for processes forked from a template (`autograder.kernel_template`) ----------

def find_seat(launcher_pid: int, uid: int | None, timeout: float) -> int:
    """The pid of the launcher's seat (`SEAT_COMMAND`) once it runs: the sandbox is built and waiting.

    bubblewrap has made its mounts, dropped to the slot uid and exec'd the seat
    by then, so a process that joins the seat's namespaces gets the whole sandbox.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in _descendants(launcher_pid):
            with contextlib.suppress(OSError):
                if (Path(f"/proc/{pid}/comm").read_text().strip() == SEAT_COMMAND[0]
                        and (uid is None or os.stat(f"/proc/{pid}").st_uid == uid)):
                    return pid
        if not Path(f"/proc/{launcher_pid}").exists():
            break
        time.sleep(0.002)
    raise RuntimeError(f"the sandbox of launcher {launcher_pid} did not start its seat within {timeout:g} s")


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(OSError):
            children = [int(c) for c in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
            found += children
            todo += children
    return found


def join_seat(seat: int, spec: SandboxSpec) -> None:
    """Move this process into the sandbox `seat` holds: its cgroup, namespaces, root and working folder.

    For a fresh fork of a root template (single-threaded, no student code run
    yet). A pid namespace holds for children only, so the caller forks once more
    and calls `drop_to_slot` in that child, which then is inside everything.
    """
    if len(os.listdir("/proc/self/task")) > 1:
        raise RuntimeError("join_seat() must run in a single-threaded process")
    namespaces = {name: os.open(f"/proc/{seat}/ns/{name}", os.O_RDONLY) for name in SEAT_NAMESPACES}
    root = os.open(f"/proc/{seat}/root", os.O_RDONLY | os.O_DIRECTORY)
    if spec.uid is not None:
        for folder in Cgroup.of_uid(spec.uid).dirs:
            if folder.is_dir():
                (folder / "cgroup.procs").write_text(str(os.getpid()))
    for name, fd in namespaces.items():
        if _libc.setns(fd, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}) into the seat {seat}: {os.strerror(err)}")
        os.close(fd)
    os.fchdir(root)
    os.chroot(".")
    os.close(root)
    os.chdir(spec.work)


def drop_to_slot(spec: SandboxSpec, keep_fds: tuple[int, ...] = (0, 1, 2)) -> None:
    """What bubblewrap and setpriv do before exec, for a process already inside the sandbox (`join_seat`).

    The spec's limits, no new privileges, no descriptor but `keep_fds`, an empty
    capability bounding set, no groups, and the slot's uid (which clears every
    other capability). Dumpable again afterwards, as an exec'd process would be.
    """
    _set_limits(spec.limits, own_uid=spec.uid is not None)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    for name in os.listdir("/proc/self/fd"):
        if int(name) not in keep_fds:
            with contextlib.suppress(OSError):
                os.close(int(name))
    last_cap = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last_cap + 1):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    if spec.uid is not None:
        os.setgroups([])
        os.setgid(spec.uid)
        os.setuid(spec.uid)
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    os.environ.clear()
    os.environ.update(spec.env)


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m autograder.sandbox SPEC.json -- COMMAND...")
    launch(SandboxSpec.load(argv[0]), argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
