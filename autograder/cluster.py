"""Grading fanned out on a Dask distributed cluster (``grade --cluster ADDRESS``).

The grading parent does what it does locally (`autograder.pipeline`): it
prepares each submission from the gradebook and, afterwards, scores it and is
the gradebook's only writer. Only the middle step, executing the notebooks,
goes to the cluster: `ClusterExecutor` sends each prepared submission as data
(notebooks and data files as bytes with checksums, the execution limits, the
student's hidden-test key; never the gradebook's address, nor the course
secret) to a worker started with ``python -m autograder worker``
(`autograder.cluster_worker`), which runs the same sandboxed job local grading
runs and sends the executed notebooks back.

Delivery is at least once, and the parent decides what a lost try costs:

* it never has more jobs out than the matching workers have grading slots, so
  a worker that dies takes down only what was running on it;
* a try counts when its task reports its start on a worker; a submission
  whose tries (`MAX_TRIES`) all end in a dead, frozen or failing worker ends
  "failed" with the story of each try, and is graded again on the next run;
* every try has a key of its own, and a try the parent gave up on is
  cancelled: a late answer from it is never recorded;
* a job that started gets ``submission_timeout`` + `ANSWER_GRACE_S` seconds
  (the worker enforces the submission timeout itself; the grace is for a
  worker that stopped answering): then it is retried on another worker and
  the silent one gets no more jobs in this run.

Workers whose fingerprint (`autograder.fingerprint`) differs from the parent's
are refused, and a batch with no matching worker stops with the mismatches.
Off 127.0.0.1 the cluster must use TLS with the course's certificates
(`security`), as the README's instructor guide sets up.
"""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import ipaddress
import os
import queue
import secrets
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from pathlib import Path

from .cluster_worker import GPU, METRIC, SLOTS, START_TOPIC, grade, sha256
from .fingerprint import fingerprint, mismatches

MAX_TRIES = 3             # tries of one submission that may end in a lost worker before it is given up
ANSWER_GRACE_S = 60.0     # beyond the submission timeout, before a started job's worker counts as frozen
NO_WORKER_WAIT_S = 120.0  # how long jobs wait for a matching worker to come (back) before they fail
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")
TLS_HOWTO = ("put the course's CA certificate and this machine's certificate and key in a folder as "
             f"{', '.join(TLS_FILES)} (the README's 'Grading on a cluster' shows the openssl commands), "
             "start the scheduler with --tls-ca-file/--tls-cert/--tls-key, and pass tls://HOST:PORT --tls-dir FOLDER")


class ClusterError(RuntimeError):
    """The cluster cannot be used as asked; the message says what to do."""


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def security(address: str, tls_dir: Path | None):
    """Dask's `Security` for ``address`` (None: plain TCP, on this machine only), or a ClusterError saying why not."""
    parts = urllib.parse.urlsplit(address)
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or not parts.port:
        raise ClusterError(f"cluster address {address!r}: expected tls://HOST:PORT, or tcp://127.0.0.1:PORT "
                           "for a scheduler on this machine")
    if parts.scheme == "tcp":
        if not _is_loopback(parts.hostname):
            raise ClusterError(f"{address}: plain tcp:// is accepted only on 127.0.0.1, since anyone on the network "
                               f"could then read submissions and run code on the workers; to use TLS, {TLS_HOWTO}")
        if tls_dir:
            raise ClusterError(f"--tls-dir given with a plain tcp:// address: use tls://{parts.netloc}")
        return None
    if not tls_dir:
        raise ClusterError(f"{address} needs --tls-dir: {TLS_HOWTO}")
    return tls_security(tls_dir)


def tls_security(tls_dir: Path):
    """Dask's `Security` with the certificates in ``tls_dir``: TLS on every connection, peers checked against the CA."""
    from distributed.security import Security

    missing = [name for name in TLS_FILES if not (Path(tls_dir) / name).is_file()]
    if missing:
        raise ClusterError(f"--tls-dir {tls_dir} lacks {', '.join(missing)}: {TLS_HOWTO}")
    ca, cert, key = (str(Path(tls_dir) / name) for name in TLS_FILES)
    return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)


def worker_command(address: str, slots: int, gpus: int = 0, tls_dir: Path | None = None) -> list[str]:
    """The ``dask worker`` command of ``python -m autograder worker`` (checked as the parent checks addresses).

    A loopback cluster's worker listens on 127.0.0.1 only, dashboard included; a
    TLS worker listens where the scheduler can reach it but accepts only peers
    with the course's certificates, and has no (unauthenticated) dashboard.
    """
    if slots < 1 or gpus < 0:
        raise ClusterError(f"--slots must be at least 1 and --gpus at least 0 (got {slots} and {gpus})")
    secure = security(address, tls_dir)
    resources = f"{SLOTS}={slots}" + (f",{GPU}={gpus}" if gpus else "")
    command = [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1",
               "--nthreads", str(slots), "--resources", resources, "--preload", "autograder.cluster_worker",
               "--name", f"{socket.gethostname()}-{os.getpid()}"]
    if secure is None:
        return command + ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
    ca, cert, key = (str(Path(tls_dir) / name) for name in TLS_FILES)
    return command + ["--no-dashboard", "--tls-ca-file", ca, "--tls-cert", cert, "--tls-key", key]


def run_worker(address: str, slots: int, gpus: int = 0, tls_dir: Path | None = None) -> None:
    """``python -m autograder worker``: check this machine, say what it offers, become the Dask worker."""
    command = worker_command(address, slots, gpus, tls_dir)
    mine = fingerprint()
    weak = [name for name, held in mine["isolation"].items() if not held]
    print(f"[autograder] worker for {address}: {slots} grading slot(s), {gpus} GPU(s), course {mine['course']}"
          + (f"; WARNING: no {', '.join(weak)}: graders with a stronger sandbox will refuse this worker" if weak
             else ""), file=sys.stderr, flush=True)
    os.execv(sys.executable, command)


@dataclasses.dataclass
class _Submission:
    """One prepared submission on its way through the cluster."""

    index: int                     # its place in the batch, in its task keys (student ids never leave)
    prepared: object               # the pipeline's _Prepared: its notes get the story of lost tries
    payload: dict
    done: concurrent.futures.Future
    lost: list[str] = dataclasses.field(default_factory=list)  # what became of each counted try
    sends: int = 0                 # tasks sent so far (a try that never started is sent again, uncounted)
    key: str | None = None         # the current try's task
    future: object = None          # its distributed.Future
    workers: tuple[str, ...] = ()  # where it may run
    started: float | None = None   # when it started (monotonic), None until it reports
    address: str | None = None     # on which worker


class ClusterExecutor:
    """``with ClusterExecutor(grader) as execute: execute(prepared)``, a Future of (statuses, seconds)."""

    def __init__(self, grader):
        self.grader, self.options = grader, grader.options
        self.security = security(self.options.cluster, self.options.tls_dir)
        self.run_id = secrets.token_hex(8)
        self.mine = fingerprint()
        self.waiting: collections.deque[_Submission] = collections.deque()
        self.running: dict[str, _Submission] = {}  # task key -> submission
        self.starts: queue.Queue = queue.Queue()
        self.frozen: set[str] = set()   # workers that went silent during a job: no more jobs in this run
        self.refused: dict[str, list[str]] = {}
        self.sent = 0
        self.stopping = threading.Event()
        self.data = self._data_files()

    # -- the context ------------------------------------------------------------------------------------

    def __enter__(self) -> "ClusterExecutor":
        import distributed

        try:
            self.client = distributed.Client(self.options.cluster, security=self.security, timeout=30,
                                             set_as_default=False)
        except OSError as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {self.options.cluster}: {exc}") from None
        self.client.subscribe_topic(START_TOPIC, lambda event: self.starts.put(event[1]))
        if not self._wait_for_workers():
            self.client.close()
            raise ClusterError(self._no_worker_message())
        self.thread = threading.Thread(target=self._dispatch, name="autograder-cluster", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join()
        futures = [s.future for s in self.running.values()]
        if futures:
            self.client.cancel(futures)
        self.client.close()

    def __call__(self, prepared) -> concurrent.futures.Future:
        done: concurrent.futures.Future = concurrent.futures.Future()
        if not prepared.notebooks:
            done.set_result(({}, 0.0))
            return done
        self.sent += 1
        self.waiting.append(_Submission(self.sent - 1, prepared, self._payload(prepared), done))
        return done

    # -- what a job carries -----------------------------------------------------------------------------

    def _data_files(self) -> dict[str, tuple[bytes, str]]:
        """The assignment's data files (what local grading copies into the kernel's folder), with checksums."""
        files = {}
        for path in sorted(self.grader.source_dir.rglob("*")):
            relative = path.relative_to(self.grader.source_dir)
            if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in relative.parts:
                content = path.read_bytes()
                files[f"data/{relative}"] = (content, sha256(content))
        return files

    def _payload(self, prepared) -> dict:
        from .pipeline import hidden_key

        notebooks = {f"in/{name}": path.read_bytes() for name, path in prepared.notebooks.items()}
        options = {name: getattr(self.options, name) for name in (
            "cell_timeout", "submission_timeout", "startup_timeout", "max_output_bytes", "max_notebook_bytes")}
        return {
            "run": self.run_id,
            "notebooks": [{"name": name, "roles": prepared.roles[name], "answers": prepared.answers[name]}
                          for name in prepared.notebooks],
            "files": {**self.data, **{name: (content, sha256(content)) for name, content in notebooks.items()}},
            "options": {**options, "limits": dataclasses.asdict(self.options.limits)},
            "hidden_key": hidden_key(self.grader.ws.course_secret(), self.grader.aid, prepared.student),
            "gpu": self.options.gpu,
        }

    # -- which workers may grade ------------------------------------------------------------------------

    def _usable(self) -> dict[str, int]:
        """Matching, running, not frozen workers -> their grading slots; refusals noted (and said once)."""
        usable = {}
        for address, info in self.client.scheduler_info(n_workers=-1)["workers"].items():
            theirs = info.get("metrics", {}).get(METRIC)
            problems = (["not an autograder worker (a plain `dask worker`?): start it with "
                         "`python -m autograder worker`"] if theirs is None else mismatches(self.mine, theirs))
            if self.options.gpu and not info.get("resources", {}).get(GPU):
                problems.append("no GPU (this assignment's jobs need a worker started with --gpus N)")
            if problems:
                if address not in self.refused:
                    print(f"[autograder] refused worker {address}: {'; '.join(problems)}", file=sys.stderr)
                self.refused[address] = problems
            elif address not in self.frozen and info.get("status") == "running":
                usable[address] = int(info.get("resources", {}).get(SLOTS, 0))
        return usable

    def _wait_for_workers(self) -> bool:
        """Whether a matching worker is there (waiting a few seconds for the first heartbeats)."""
        deadline = time.monotonic() + 10
        while not self._usable():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return True

    def _no_worker_message(self) -> str:
        if not self.refused:
            return (f"no worker is connected to the scheduler at {self.options.cluster}: start one per machine "
                    f"with `python -m autograder worker {self.options.cluster}`")
        lines = [f"  {address}: {'; '.join(problems)}" for address, problems in sorted(self.refused.items())]
        return (f"no worker of the cluster at {self.options.cluster} may grade this: each differs from this "
                "grader (make it the same course checkout and environment):\n" + "\n".join(lines))

    # -- the dispatcher (one thread: the only one that touches the submissions in flight) --------------

    def _dispatch(self) -> None:
        alone_since = None
        try:
            while not self.stopping.is_set():
                self._note_starts()
                self._collect()
                usable = self._usable()
                self._launch(usable)
                if usable or not self.waiting:
                    alone_since = None
                elif alone_since is None:
                    alone_since = time.monotonic()
                elif time.monotonic() - alone_since > NO_WORKER_WAIT_S:
                    while self.waiting:
                        self._give_up(self.waiting.popleft(), self._no_worker_message())
                self.stopping.wait(0.2)
        except Exception as exc:  # noqa: BLE001 - a bug of ours must not leave the grader waiting forever
            traceback.print_exc()
            for submission in [*self.waiting, *self.running.values()]:
                if not submission.done.done():
                    self._give_up(submission, f"the cluster dispatcher failed: {type(exc).__name__}: {exc}")

    def _launch(self, usable: dict[str, int]) -> None:
        for submission in list(self.running.values()):  # not started, and its workers are gone: send it again
            if submission.started is None and not set(submission.workers) & set(usable):
                self._retry(submission, None)
        free = sum(usable.values()) - len(self.running)
        while free > 0 and self.waiting:
            submission = self.waiting.popleft()
            submission.sends += 1
            submission.key = f"autograder-{self.run_id}-submission-{submission.index}-send-{submission.sends}"
            submission.workers = tuple(sorted(usable))
            submission.started = submission.address = None
            resources = {SLOTS: 1, **({GPU: 1} if self.options.gpu else {})}
            submission.future = self.client.submit(
                grade, submission.payload, key=submission.key, pure=False, retries=0, resources=resources,
                workers=list(submission.workers), allow_other_workers=False)
            self.running[submission.key] = submission
            free -= 1

    def _note_starts(self) -> None:
        while not self.starts.empty():
            event = self.starts.get()
            submission = self.running.get(event.get("key")) if event.get("run") == self.run_id else None
            if submission is None:
                continue  # another grader's, or a try given up on
            if submission.started is not None:  # the scheduler moved it after its worker was lost
                submission.lost.append(f"its worker {submission.address} was lost")
                if len(submission.lost) >= MAX_TRIES:
                    self._retry(submission, None)
                    continue
            submission.started, submission.address = time.monotonic(), event.get("address")

    def _collect(self) -> None:
        from distributed.scheduler import KilledWorker

        deadline = self.options.submission_timeout + ANSWER_GRACE_S
        for submission in list(self.running.values()):
            future = submission.future
            if future.status == "finished":
                del self.running[submission.key]
                self._deliver(submission, future.result())
            elif future.status in ("error", "cancelled", "lost"):
                exc = future.exception() if future.status == "error" else None
                if isinstance(exc, KilledWorker) or exc is None:
                    why = f"its worker {submission.address} died or was lost" if submission.started else None
                else:
                    why = f"it failed on worker {submission.address}: {type(exc).__name__}: {exc}"
                self._retry(submission, why)
            elif submission.started is not None and time.monotonic() - submission.started > deadline:
                self.frozen.add(submission.address)
                self._retry(submission, f"its worker {submission.address} gave no answer {deadline:g} s after the "
                                        "job started (it gets no more jobs in this run)")

    def _retry(self, submission: _Submission, why: str | None) -> None:
        """Drop the current try (``why``: what it cost; None: it never ran) and queue the next, if any is left."""
        self.running.pop(submission.key, None)
        if not submission.future.done():
            self.client.cancel([submission.future])
        if why:
            submission.lost.append(why)
        if len(submission.lost) >= MAX_TRIES:
            self._give_up(submission, f"all {MAX_TRIES} tries on the cluster were lost ({'; '.join(submission.lost)})"
                                      "; it is graded again on the next run")
        else:
            self.waiting.appendleft(submission)

    def _give_up(self, submission: _Submission, why: str) -> None:
        from .pipeline import GradingLost

        submission.done.set_exception(GradingLost(f"not graded: {why}"))

    def _deliver(self, submission: _Submission, answer: dict) -> None:
        if submission.lost:
            submission.prepared.notes.append(f"graded on worker {answer['worker']} after {len(submission.lost)} "
                                             f"lost tries ({'; '.join(submission.lost)})")
        out = submission.prepared.job_dir / "out"
        out.mkdir(exist_ok=True)
        for name, content in answer["notebooks"].items():
            (out / Path(name).name).write_bytes(content)
        submission.done.set_result((answer["statuses"], answer["seconds"]))
