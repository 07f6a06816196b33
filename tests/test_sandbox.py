"""The sandbox keeps its promises: no way out, and nothing left behind for the next student.

Each test launches a real command through ``python -m autograder.sandbox SPEC -- ...``
from a small runner process that does what the grading worker does (a
private mount namespace, a size-limited tmpfs scratch, see `RUNNER`), as
root, and checks one guarantee of `autograder.sandbox` from inside and from
outside. The last tests run a tiny notebook through the grading worker and
check the output budgets of `autograder.execute`.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.execute import Job, NotebookJob, Worker, fit_notebook
from autograder.sandbox import Cgroup, Limits, Policy, UidPool, _processes_of, kill_uid, probe

REPO = Path(__file__).resolve().parent.parent
CAPS = probe()
needs_sandbox = pytest.mark.skipif(not CAPS.namespaces, reason="needs root and bubblewrap: " + CAPS.warning)
needs_cgroups = pytest.mark.skipif(not CAPS.cgroups, reason="needs a writable cgroup v2 or v1 hierarchy")
SMALL = dict(memory_mb=256, total_memory_mb=512, processes=64, file_mb=2048, scratch_mb=8, tmp_mb=4)


def graded_job(tmp_path, source, target, roles, uids, *, visible=("autograder", "course"), data=None,
               namespaces=CAPS.namespaces, **options) -> Job:
    """A one-notebook grading job as the pipeline writes one: /root and the repository hidden,
    the Python and the named repository folders visible read-only."""
    exposed = (sys.prefix, os.path.realpath(sys.base_prefix), *(str(REPO / name) for name in visible))
    options = dict(cell_timeout=60, startup_timeout=120, max_output_bytes=100_000) | options
    return Job([NotebookJob("t.ipynb", str(source), str(target), roles, [])], data and str(data), uids[0],
               Policy(("/root", str(REPO)), exposed, Limits(), namespaces),
               status_file=str(tmp_path / "status.json"), judge_uid=uids[1], **options)

# What the grading worker does around a launch: a private mount namespace, a tmpfs scratch with ipc/
# and work/, a spec; then it runs the launcher and reports what the sandboxed command printed.
# "forked": the command is forked into the sandbox from a kernel template (`autograder.kernel_template`)
# instead, as grading kernels are; then, as the worker does, the sandbox is ended once the command has.
RUNNER = """
import json, os, signal, subprocess, sys
from autograder.kernel_template import KernelTemplate
from autograder.sandbox import SEAT_COMMAND, Limits, Policy, SandboxSpec, find_seat, scratch
args = json.loads(sys.argv[1])
leaked = os.open("/etc/hostname", os.O_RDONLY)  # not close-on-exec: passed on to the launcher
name = "kernel" if args["forked"] else None
env = {"PATH": "/usr/bin:/bin", "HOME": os.path.join(args["root"], name or "?", "work"), "LANG": "C.UTF-8"}
if args["forked"]:
    os.makedirs(os.path.join(args["root"], name))
    template = KernelTemplate(env, preimport=())
with scratch(args["root"], args["limits"]["scratch_mb"], name) as folder:
    os.makedirs(os.path.join(folder, "ipc"), mode=0o700)
    env["HOME"] = os.path.join(folder, "work")
    spec = SandboxSpec(folder, None, env, args["uid"],
                       Policy(tuple(args["hide"]), tuple(args["expose"]), Limits(**args["limits"])))
    spec.dump(os.path.join(folder, "spec.json"))
    command = [sys.executable, "-c", args["code"]]
    launcher = subprocess.Popen([sys.executable, "-m", "autograder.sandbox", os.path.join(folder, "spec.json"),
                                 "--", *(SEAT_COMMAND if args["forked"] else command)],
                                stdout=subprocess.PIPE, pass_fds=[leaked])
    if args["forked"]:
        printed, their_stdout = os.pipe()
        forked = template.spawn(find_seat(launcher.pid, args["uid"], 30), spec, command, 30, stdout=their_stdout)
        os.close(their_stdout)
        output = os.fdopen(printed)
        if args["kill"]:
            print(output.readline(), end="")
        returncode = forked.wait(None if not args["kill"] else 0)
        launcher.send_signal(signal.SIGKILL)
        print(output.read(), end="")
        returncode = forked.wait(30) if returncode is None else returncode
        launcher.wait()
    else:
        if args["kill"]:  # as jupyter_client ends a kernel: SIGKILL to the launcher's pid
            print(launcher.stdout.readline().decode(), end="")
            launcher.send_signal(signal.SIGKILL)
        print(launcher.communicate()[0].decode(), end="")
        returncode = launcher.returncode
    print(json.dumps({"returncode": returncode}))
"""


@pytest.fixture(scope="module")
def uid():
    with UidPool(1) as pool:
        yield pool.uids[0]


@pytest.fixture(params=["exec", "forked"])
def launch(request) -> str:
    """Every guarantee holds for a command bubblewrap exec'd and for one forked into the sandbox."""
    return request.param


def sandboxed(uid: int, tmp_path: Path, code: str, limits: dict | None = None, kill: bool = False,
              hide: list[str] = (), expose: list[str] = (), launch: str = "exec") -> tuple[int, str]:
    """Run Python `code` in a sandbox; (its exit status, what it printed)."""
    args = {"root": str(tmp_path), "uid": uid, "code": textwrap.dedent(code), "kill": kill,
            "forked": launch == "forked", "limits": {**SMALL, **(limits or {})},
            # The interpreter lives under /root/.pyenv here and the venv in the repo: hidden, then re-exposed.
            "hide": ["/root", str(REPO), *hide],
            "expose": [sys.prefix, os.path.realpath(sys.base_prefix), *expose]}
    done = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(args)], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    sys.stderr.write(done.stderr)  # the sandboxed command's, shown by pytest when a test fails
    *printed, status = done.stdout.splitlines()
    return json.loads(status)["returncode"], "\n".join(printed)


def processes_with(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(entry.name)
        except OSError:
            pass
    return found


@needs_sandbox
def test_it_sees_only_its_own_processes(uid, tmp_path, launch):
    status, printed = sandboxed(uid, tmp_path, launch=launch, code="""
        import json, os
        print(json.dumps({"me": os.getpid(), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}))
    """)
    seen = json.loads(printed)
    # bubblewrap's reaper and us; forked into the sandbox, bubblewrap's reaper, the seat and us
    expected = [1, 2] if launch == "exec" else [1, 2, 3]
    assert status == 0 and seen["me"] == expected[-1] and seen["pids"] == expected, seen


@needs_sandbox
@pytest.mark.parametrize("ending", ["exits", "is killed"])
def test_nothing_it_started_survives_it(uid, tmp_path, ending, launch):
    """A double-forked, setsid'ed sleeper is gone once the sandbox ends, whether it exits or is SIGKILLed."""
    marker = f"1000.{os.getpid()}{len(ending)}"
    status, printed = sandboxed(uid, tmp_path, launch=launch, code=f"""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp("sleep", ["sleep", "{marker}"])
            os._exit(0)
        os.wait()
        time.sleep(0.2)
        print("started", flush=True)
        {"time.sleep(60)" if ending == "is killed" else ""}
    """, kill=ending == "is killed")
    assert "started" in printed
    deadline = time.monotonic() + 5
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes_with(marker)


@needs_sandbox
def test_setuid_programs_gain_nothing(uid, tmp_path, launch):
    """No new privileges, no capabilities, every mount nosuid: a setuid-root program still runs as the slot uid."""
    suid = tmp_path / "suid"
    suid.mkdir()
    shutil.copy("/usr/bin/id", suid / "id")
    os.chown(suid / "id", 0, 0)
    os.chmod(suid / "id", 0o4755)
    status, printed = sandboxed(uid, tmp_path, launch=launch, code=f"""
        import json, os, subprocess
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        points = {{line.split()[4] for line in open("/proc/self/mountinfo")}}
        reached = []  # the mounts each mount point leads to (not the ones stacked under them)
        for point in points:
            try:
                reached.append((point, os.statvfs(point).f_flag & os.ST_NOSUID))
            except OSError:
                pass
        su = subprocess.run(["su", "-c", "id -u", "root"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        print(json.dumps({{
            "nnp": status["NoNewPrivs"].strip(), "caps": [status[k].strip() for k in ("CapEff", "CapPrm", "CapBnd")],
            "uids": status["Uid"].split(), "mounts": len(reached), "suid_mounts": [p for p, nosuid in reached if not nosuid],
            "setuid_id": subprocess.run(["{suid / 'id'}"], capture_output=True, text=True).stdout,
            "su": [su.returncode, su.stdout]}}))
    """, expose=[str(suid)])
    seen = json.loads(printed)
    assert status == 0
    assert seen["nnp"] == "1" and seen["caps"] == ["0000000000000000"] * 3
    assert seen["uids"] == [str(uid)] * 4 and seen["mounts"] > 10 and seen["suid_mounts"] == []
    assert seen["setuid_id"].startswith(f"uid={uid}") and "euid=0" not in seen["setuid_id"]
    assert seen["su"][0] != 0 and seen["su"][1].strip() != "0"


@needs_sandbox
def test_no_file_descriptor_of_the_grader_is_inherited(uid, tmp_path, launch):
    status, printed = sandboxed(uid, tmp_path, launch=launch, code="""
        import json, os
        links = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                links[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                links[fd] = "closed"  # the one that listed /proc/self/fd
        print(json.dumps(links))
    """)
    fds = json.loads(printed)
    # stdin, stdout, stderr and the listing's own descriptor; not the runner's /etc/hostname.
    assert status == 0 and sorted(fds) == ["0", "1", "2", "3"] and fds["3"] == "closed", fds


@needs_sandbox
@needs_cgroups
def test_a_shared_memory_bomb_is_killed_by_the_cgroup(uid, tmp_path, launch):
    """RLIMIT_DATA does not count MAP_SHARED memory; the sandbox's cgroup does."""
    status, printed = sandboxed(uid, tmp_path, launch=launch, code="""
        import mmap
        memory = mmap.mmap(-1, 1 << 30, flags=mmap.MAP_SHARED)  # 1 GB, four times RLIMIT_DATA
        print("mapped", flush=True)
        for i in range(0, len(memory), 4096):
            memory[i] = 1
        print("survived")
    """, limits={"total_memory_mb": 160})
    assert "mapped" in printed and "survived" not in printed
    assert status == 128 + signal.SIGKILL  # the OOM killer


@needs_sandbox
@needs_cgroups
def test_a_fork_bomb_stops_at_the_cgroup_pids_limit(uid, tmp_path, launch):
    status, printed = sandboxed(uid, tmp_path, launch=launch, code="""
        import os, time
        forked = 0
        try:
            while True:
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                forked += 1
        except OSError as exc:
            print(forked, exc.errno)
    """, limits={"processes": 40})
    forked, code = map(int, printed.split())
    assert status == 0 and code == errno.EAGAIN and forked < 40
    events = [folder / "pids.events" for folder in Cgroup.of_uid(uid).dirs if (folder / "pids.events").exists()]
    assert events and int(events[0].read_text().split()[1]) > 0  # the cgroup refused the forks
    kill_uid(uid)
    assert not any(folder.exists() for folder in Cgroup.of_uid(uid).dirs)  # and is gone with its processes


@needs_sandbox
def test_writes_stop_at_the_size_limits_and_nowhere_else_is_writable(uid, tmp_path, launch):
    """1 GB into each writable place ends at its tmpfs size (scratch 8 MB: work/ and ipc/; 4 MB each other)."""
    status, printed = sandboxed(uid, tmp_path, launch=launch, code=f"""
        import json, os
        work = os.environ["HOME"]
        written = {{}}
        for folder in (work, os.path.join(os.path.dirname(work), "ipc"), "/tmp", "/var/tmp", "/dev/shm"):
            path, done = os.path.join(folder, "big"), 0
            try:
                with open(path, "wb") as f:
                    for _ in range(1024):
                        f.write(b"x" * (1 << 20))
                        f.flush()
                        done += 1
            except OSError as exc:
                written[folder] = [done, exc.errno]
            os.remove(path)
        refused = {{}}
        for path in ("/x", "/etc/x", "/usr/x", "/run/x", "/root/x", "{REPO}/x", "{sys.prefix}/x", "/dev/x"):
            try:
                open(path, "w")
            except OSError as exc:
                refused[path] = exc.errno
        print(json.dumps([written, refused]))
    """)
    written, refused = json.loads(printed)
    assert status == 0 and len(written) == 5, written
    for folder, (megabytes, code) in written.items():
        limit = 8 if folder not in ("/tmp", "/var/tmp", "/dev/shm") else 4
        assert code == errno.ENOSPC and megabytes <= limit, (folder, megabytes, code)
    assert len(refused) == 8 and set(refused.values()) <= {errno.EROFS, errno.EACCES}, refused


@needs_sandbox
def test_hidden_paths_are_empty_except_what_is_exposed(uid, tmp_path, launch):
    status, printed = sandboxed(uid, tmp_path, launch=launch, code=f"""
        import json, os
        try:
            open("{REPO / 'autograder' / 'sandbox.py'}").read()
            read = "read"
        except OSError as exc:
            read = type(exc).__name__
        print(json.dumps({{"repo": os.listdir("{REPO}"), "root": os.listdir("/root"), "read": read,
                           "home": os.listdir("/home") if os.path.isdir("/home") else []}}))
    """, hide=["/home"])
    seen = json.loads(printed)
    assert status == 0
    assert seen["repo"] == [".venv"] and seen["root"] == [".pyenv"] and seen["home"] == []
    assert seen["read"] == "FileNotFoundError"


@needs_sandbox
def test_there_is_no_network(uid, tmp_path, launch):
    """Neither a TCP listener on the grader's loopback nor its abstract Unix sockets can be reached."""
    with socket.socket() as tcp, socket.socket(socket.AF_UNIX) as unix:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        unix.bind(f"\0autograder-test-{os.getpid()}")
        unix.listen()
        status, printed = sandboxed(uid, tmp_path, launch=launch, code=f"""
            import json, socket
            results = []
            for family, address in ((socket.AF_INET, ("127.0.0.1", {tcp.getsockname()[1]})),
                                    (socket.AF_UNIX, "\\0autograder-test-{os.getpid()}")):
                try:
                    socket.socket(family).connect(address)
                    results.append("connected")
                except OSError as exc:
                    results.append(type(exc).__name__)
            print(json.dumps(results))
        """)
    assert status == 0 and "connected" not in json.loads(printed), printed


# -- the output budgets of autograder.execute, through the grading worker -----------------------------

def test_fit_notebook_drops_the_biggest_outputs_but_keeps_errors():
    nb = new_notebook(cells=[new_code_cell("a", outputs=[new_output("stream", name="stdout", text="x" * 50_000)]),
                             new_code_cell("b", outputs=[new_output("display_data", data={"text/plain": "y" * 500})]),
                             new_code_cell("c", outputs=[new_output("error", ename="E", evalue="z" * 30_000,
                                                                    traceback=["t" * 30_000])])])
    nb.metadata["widgets"] = {"state": "w" * 10_000}
    assert fit_notebook(nb, 20_000)
    assert len(nbformat.writes(nb).encode()) <= 20_000 and "widgets" not in nb.metadata
    assert [o.output_type for o in nb.cells[0].outputs] == ["stream"] and "budget" in nb.cells[0].outputs[0].text
    assert nb.cells[1].outputs[0].data["text/plain"] == "y" * 500  # small enough to stay
    assert nb.cells[2].outputs[0].output_type == "error" and nb.cells[2].outputs[0].ename == "E"
    assert not fit_notebook(new_notebook(cells=[new_code_cell("s" * 30_000)]), 20_000)


def test_output_budgets_and_timeouts_in_a_real_kernel(tmp_path):
    """A display flood, a huge result, a huge exception, a print flood and an endless loop, in one notebook."""
    cells = [
        "from IPython.display import display\nfor i in range(2000):\n    display({'text/plain': 'x' * 1000}, raw=True)",
        "'y' * 10**7",
        "raise ValueError('z' * 10**7)",
        "print('q' * 10**7)",
        "while True:\n    pass",
        "print('the next cell runs')",
    ]
    source, target = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), source)
    with UidPool(2 if CAPS.separate_uid else 0) as pool:
        uids = pool.uids or [None, None]
        job = graded_job(tmp_path, source, target, ["student"] * len(cells), uids, visible=("autograder",),
                         cell_timeout=5, startup_timeout=60, max_notebook_bytes=150_000)
        job.dump(tmp_path / "job.json")
        worker = Worker(tmp_path / "worker.log")
        try:
            assert worker.run(tmp_path / "job.json", timeout=120) == "done", worker.log_tail()
        finally:
            worker.stop()
    assert json.loads((tmp_path / "status.json").read_text())["notebooks"]["t.ipynb"]["problem"] is None
    assert target.stat().st_size <= 150_000
    flood, result, error, prints, loop, after = (c.outputs for c in nbformat.read(target, as_version=4).cells)
    assert 50 < len(flood) < 100 and "budget" in flood[-1].text  # about 100 kB of displays, then a note
    assert [o.output_type for o in result] == ["stream"] and "budget" in result[0].text
    assert [o.output_type for o in error] == ["error"] and error[0].ename == "ValueError"
    assert len(error[0].evalue) == 2_000 and sum(map(len, error[0].traceback)) <= 8_000
    assert prints[0].text.startswith("q" * 1000) and "budget" in prints[-1].text
    assert [o.ename for o in loop if o.output_type == "error"][-1] == "CellTimeoutError"
    assert after[0].text == "the next cell runs\n"  # the endless loop was interrupted


def test_every_notebook_gets_a_fresh_judge_forked_from_one_template(tmp_path):
    """Two submissions through one worker: each judge starts clean, both come from the same template.

    The template has TensorFlow imported already (that is the point: speed), but
    nothing a judge did reaches the next, even a judge that a crafted answer had
    taken over: a module attribute, a changed data file, a daemon it left
    running; and the data files it is copied from are a read-only mount.
    """
    marker = f"1000.{os.getpid()}7"
    probe_cell = ("import json, os, subprocess, sys, numpy\n"
                  "pristine = [l.split()[4] for l in open('/proc/self/mountinfo') if 'judge-data-' in l.split()[4]]\n"
                  "def refused(action):\n"
                  "    try:\n"
                  "        action()\n"
                  "        return False\n"
                  "    except OSError:\n"
                  "        return True\n"
                  "print(json.dumps({'tf': 'tensorflow' in sys.modules, 'mark': getattr(numpy, '_mark', 'fresh'),\n"
                  "                  'pid': os.getpid(), 'template': os.getppid(), 'uid': os.getuid(),\n"
                  "                  'files': sorted(os.listdir('.')), 'data': open('data.txt').read(),\n"
                  "                  'pristine': len(pristine), 'pristine_refused': [\n"
                  "                      refused(lambda: open(os.path.join(pristine[0], 'data.txt'), 'w')),\n"
                  "                      refused(lambda: os.rename(pristine[0], pristine[0] + '-moved'))] if pristine else [],\n"
                  "                  'template_memory': os.access(f'/proc/{os.getppid()}/mem', os.W_OK)}))\n"
                  "numpy._mark = 'touched'\n"
                  "_ = open('left-behind.txt', 'w').write('x')\n"
                  "_ = open('data.txt', 'w').write('changed')\n"
                  f"subprocess.Popen(['setsid', 'sleep', '{marker}'], start_new_session=True)\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "data.txt").write_text("original")
    seen, daemons = [], []
    with UidPool(2 if CAPS.separate_uid else 0) as pool:
        uids = pool.uids or [None, None]
        worker = Worker(tmp_path / "worker.log")
        try:
            for student in ("a", "b"):
                source, target = tmp_path / f"{student}.ipynb", tmp_path / f"{student}-out.ipynb"
                nbformat.write(new_notebook(cells=[new_code_cell(probe_cell)]), source)
                job = graded_job(tmp_path, source, target, ["test"], uids, data=data)
                job.dump(tmp_path / "job.json")
                assert worker.run(tmp_path / "job.json", timeout=300) == "done", worker.log_tail()
                outputs = nbformat.read(target, as_version=4).cells[0].outputs
                assert [o.output_type for o in outputs] == ["stream"], outputs
                seen.append(json.loads(outputs[0].text))
                daemons.append(processes_with(marker))  # between two submissions: the template still runs
        finally:
            worker.stop()
        if uids[1] is not None:
            assert not _processes_of(uids[1])  # the template went with its worker
    first, second = seen
    assert first["tf"] and second["tf"]
    assert first["mark"] == second["mark"] == "fresh"
    assert "left-behind.txt" not in second["files"] and first["data"] == second["data"] == "original"
    assert first["pid"] != second["pid"] and first["template"] == second["template"]
    assert not first["template_memory"]  # the template is not dumpable: no judge can write into it
    assert daemons == [[], []]  # what a judge leaves running is killed before the next judge starts
    if CAPS.namespaces:
        assert first["pristine"] == 1 and first["pristine_refused"] == [True, True]
    if uids[1] is not None:
        assert first["uid"] == second["uid"] == uids[1]


@needs_sandbox
def test_every_kernel_is_forked_fresh_from_the_workers_kernel_template(tmp_path):
    """Two submissions through one worker: each kernel starts clean, with TensorFlow imported already.

    The template imported TensorFlow once (the point: speed); nothing one kernel
    did (a module attribute, a file, the random state) reaches the next, each is
    the slot uid without capabilities, sees only its sandbox's processes, and a
    kernel that dies is noticed at once, not at the cell's timeout.
    """
    probe_cell = ("import json, os, sys, numpy\n"
                  "status = dict(line.split(':', 1) for line in open('/proc/self/status'))\n"
                  "print(json.dumps({'tf': 'tensorflow' in sys.modules, 'mark': getattr(numpy, '_mark', 'fresh'),\n"
                  "                  'draw': numpy.random.rand(), 'files': sorted(os.listdir('.')),\n"
                  "                  'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),\n"
                  "                  'uid': os.getuid(), 'caps': status['CapEff'].strip(),\n"
                  "                  'grader_modules': [m for m in sys.modules if m.startswith('autograder')]}))\n"
                  "numpy._mark = 'touched'\n"
                  "_ = open('left-behind.txt', 'w').write('x')\n")
    cells = [probe_cell, "import os\nos._exit(3)", "print('never')"]
    seen, seconds = [], []
    with UidPool(2) as pool:
        worker = Worker(tmp_path / "worker.log")
        try:
            for student in ("a", "b"):
                source, target = tmp_path / f"{student}.ipynb", tmp_path / f"{student}-out.ipynb"
                nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), source)
                job = graded_job(tmp_path, source, target, ["student"] * 3, pool.uids, visible=("course",),
                                 namespaces=True)
                job.dump(tmp_path / "job.json")
                assert worker.run(tmp_path / "job.json", timeout=300) == "done", worker.log_tail()
                status = json.loads((tmp_path / "status.json").read_text())["notebooks"]["t.ipynb"]
                assert "kernel died" in status["problem"]
                seconds.append(status["seconds"])
                outputs = nbformat.read(target, as_version=4).cells[0].outputs
                assert [o.output_type for o in outputs] == ["stream"], outputs
                seen.append(json.loads(outputs[0].text))
        finally:
            worker.stop()
        assert not any(_processes_of(uid) for uid in pool.uids)
    first, second = seen
    assert first["tf"] and second["tf"]
    assert first["mark"] == second["mark"] == "fresh" and "left-behind.txt" not in second["files"]
    assert first["draw"] != second["draw"]  # numpy reseeded: equal only with probability 2**-53
    assert first["pids"] == second["pids"] == [1, 2, 3]  # bubblewrap's reaper, the seat, the kernel
    assert first["uid"] == second["uid"] == pool.uids[0] and first["caps"] == "0000000000000000"
    assert first["grader_modules"] == []
    assert seconds[1] < 30  # the second kernel: no import, and its death seen at once (timeout 60 s)


# A kernel manager given a template that cannot fork (it was killed): the kernel is exec'd instead.
BROKEN_TEMPLATE = """
import asyncio, os, sys
from autograder.execute import KERNEL_NAME, SandboxedKernelManager, grading_env
from autograder.kernel_template import KernelTemplate
from autograder.sandbox import Policy, SandboxSpec, scratch
root, uid, hide, expose = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), sys.argv[4].split(",")
env = grading_env(os.path.join(root, "kernel", "work"), sys.prefix)
template = KernelTemplate(env, preimport=())
template.process.kill()
with scratch(root, 64, "kernel") as folder:
    spec = SandboxSpec(folder, None, env, uid, Policy(tuple(hide), tuple(expose)))
    os.makedirs(spec.ipc, mode=0o700)
    spec.dump(os.path.join(folder, "spec.json"))
    km = SandboxedKernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=os.path.join(spec.ipc, "kernel"),
                                connection_file=os.path.join(spec.ipc, "connection.json"),
                                sandbox_spec_file=os.path.join(folder, "spec.json"), template=template)
    async def run():
        await km.start_kernel()
        client = km.client()
        client.start_channels()
        await client.wait_for_ready(timeout=60)
        hook = (lambda m: m["msg_type"] == "stream" and print("printed", m["content"]["text"].strip()))
        reply = await client.execute_interactive("import os; print(os.getuid())", timeout=60, output_hook=hook)
        print("status", reply["content"]["status"], "broken", template.broken, "forked", km.forked)
        client.stop_channels()
        await km.shutdown_kernel(now=True)
    asyncio.run(run())
"""


@needs_sandbox
def test_a_template_that_cannot_fork_leaves_the_kernel_exec_d(uid, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", BROKEN_TEMPLATE, str(tmp_path), str(uid), f"/root,{REPO}",
         f"{sys.prefix},{os.path.realpath(sys.base_prefix)}"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"printed {uid}" in done.stdout and "status ok broken True forked None" in done.stdout, done.stdout
    assert "kernels are started without the template from now on" in done.stderr


def test_the_judge_draws_hidden_inputs_from_the_students_key_and_the_kernel_never_sees_it(tmp_path):
    import hashlib
    import hmac

    cells = ["import os\nprint(repr(os.environ.get('COURSE_HIDDEN_KEY')))",                 # student: the kernel
             "from course.grading import hidden_seed\nprint(hidden_seed(5), hidden_seed(6))"]  # test: the judge
    printed = {}
    with UidPool(2 if CAPS.separate_uid else 0) as pool:
        uids = pool.uids or [None, None]
        worker = Worker(tmp_path / "worker.log")
        try:
            for key in ("key-of-ada", "key-of-alan", None):
                source, target = tmp_path / "in.ipynb", tmp_path / f"{key}.ipynb"
                nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), source)
                job = graded_job(tmp_path, source, target, ["student", "test"], uids, hidden_key=key)
                job.dump(tmp_path / "job.json")
                assert worker.run(tmp_path / "job.json", timeout=300) == "done", worker.log_tail()
                printed[key] = [c.outputs[0].text.strip() for c in nbformat.read(target, as_version=4).cells]
        finally:
            worker.stop()

    def seed(key: str, case: int) -> int:
        return int.from_bytes(hmac.new(key.encode(), f"case {case}".encode(), hashlib.sha256).digest()[:4], "big")

    for key in ("key-of-ada", "key-of-alan"):
        assert printed[key] == ["None", f"{seed(key, 5)} {seed(key, 6)}"]
    assert printed[None] == ["None", "5 6"]
