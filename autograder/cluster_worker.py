"""The worker machine's side of grading on a Dask cluster: sandboxed slots, and one task that grades.

``python -m autograder worker ADDRESS`` starts ``dask worker`` with this module
as its preload (`dask_setup`), which installs `GradingSlots`: as many grading
slots as the worker's ``grading`` resource says, each a long-lived
`autograder.execute.Worker` with two sandbox uids of this machine, as local
grading has. The parent (`autograder.cluster`) submits `grade` tasks; a task
gets its submission's notebooks and the assignment's data files as bytes (this
machine shares no disk with the parent), checks their checksums, runs the very
job local grading runs (`autograder.pipeline.build_job`, `run_job`), and
returns the statuses and executed notebooks as bytes. It never sees the
gradebook, its address or the course secret.

The task reports its start as a Dask event (the parent's deadline counts from
then). A task the parent gave up on, or whose parent went away, is cancelled by
the scheduler; a Dask worker cannot stop a running task's thread, so a
watchdog kills that slot's grading process instead, and the slot is free again
within a second.
"""
from __future__ import annotations

import glob
import hashlib
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import distributed
from distributed.diagnostics.plugin import WorkerPlugin

from tools import REPO

PLUGIN = "autograder-slots"
START_TOPIC = "autograder-start"
METRIC = "autograder-fingerprint"  # the worker's fingerprint, in its heartbeat (`scheduler_info()`)
SLOTS = "grading"                  # the Dask resource: grading slots of a worker
GPU = "GPU"                        # the Dask resource: GPUs of a worker (`worker --gpus N`)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class GradingSlots(WorkerPlugin):
    """This worker's grading slots (uids, grading processes, GPUs), its fingerprint, and the watchdog."""

    def setup(self, worker: distributed.Worker) -> None:
        from .execute import Worker
        from .fingerprint import fingerprint
        from .sandbox import UidPool, probe

        self.worker = worker
        self.capabilities = probe()
        self.fingerprint = fingerprint()
        worker.metrics[METRIC] = lambda _worker: self.fingerprint
        count = int(worker.state.total_resources.get(SLOTS, 1))
        self.root = Path(tempfile.mkdtemp(prefix="autograder-cluster-"))
        self.pool = UidPool(2 * count if self.capabilities.separate_uid else 0).__enter__()
        uids = self.pool.uids or [None] * (2 * count)
        self.slots: queue.Queue = queue.Queue()
        for i in range(count):
            self.slots.put(((uids[2 * i], uids[2 * i + 1]), Worker(self.root / f"slot-{i}.log")))
        self.gpus: queue.Queue = queue.Queue()
        for gpu in range(int(worker.state.total_resources.get(GPU, 0))):
            self.gpus.put(str(gpu))
        self.busy: dict[str, Worker] = {}  # task key -> the grading process running it
        self.closing = threading.Event()
        threading.Thread(target=self._watch, name="autograder-watchdog", daemon=True).start()

    def teardown(self, worker: distributed.Worker) -> None:
        self.closing.set()
        while not self.slots.empty():
            self.slots.get()[1].stop(kill=True)
        self.pool.__exit__(None, None, None)
        shutil.rmtree(self.root, ignore_errors=True)

    def _watch(self) -> None:
        """Kill the grading process of every task the scheduler no longer wants run."""
        while not self.closing.wait(0.5):
            for key, handle in list(self.busy.items()):
                task = self.worker.state.tasks.get(key)
                if (task is None or task.state not in ("executing", "long-running")) and handle.process:
                    try:
                        os.killpg(handle.process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

    def grade(self, key: str, payload: dict) -> dict:
        """Run one submission's job on a free slot of this worker; see the module docstring."""
        from .execute import NotebookJob
        from .pipeline import GradingOptions, _runtime_paths, build_job, run_job
        from .sandbox import Limits, Policy

        options = GradingOptions(**{**payload["options"], "limits": Limits(**payload["options"]["limits"])})
        gpus = self.gpus.get() if payload["gpu"] else ""
        uids, handle = self.slots.get()
        job_dir = Path(tempfile.mkdtemp(prefix="job-", dir=self.root)).resolve()
        started = time.monotonic()
        try:
            for name, (content, checksum) in payload["files"].items():  # in/<notebook>, data/<file>
                target = (job_dir / name).resolve()
                if not target.is_relative_to(job_dir) or sha256(content) != checksum:
                    raise ValueError(f"{name} arrived damaged (checksum mismatch) or names a place outside the job")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            (job_dir / "data").mkdir(exist_ok=True)
            notebooks = [NotebookJob(n["name"], str(job_dir / "in" / n["name"]), str(job_dir / "out" / n["name"]),
                                     n["roles"], n["answers"]) for n in payload["notebooks"]]
            policy = Policy(tuple(_hidden_paths(self.root)), tuple(_runtime_paths()), options.limits,
                            self.capabilities.namespaces, tuple(sorted(glob.glob("/dev/nvidia*"))) if gpus else ())
            job = build_job(options, job_dir, notebooks, str(job_dir / "data"), uids, policy, payload["hidden_key"],
                            gpus)
            self.busy[key] = handle
            try:
                statuses = run_job(job, job_dir, handle, options.submission_timeout)
            finally:
                self.busy.pop(key, None)
            executed = {n.name: Path(n.target).read_bytes() for n in notebooks if Path(n.target).exists()}
            return {"statuses": statuses, "notebooks": executed, "worker": self.worker.address,
                    "seconds": time.monotonic() - started}
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)
            self.slots.put((uids, handle))
            if gpus:
                self.gpus.put(gpus)


def _hidden_paths(root: Path) -> list[str]:
    """What a kernel on this machine must not see: the course's sources, other jobs, the homes."""
    candidates = [REPO, root, Path.home(), Path("/root"), Path("/home"), Path("/run/postgresql"),
                  Path("/var/run/postgresql")]
    return sorted({str(p.resolve()) for p in candidates if p.exists()}, key=len)


def grade(payload: dict) -> dict:
    """The Dask task: grade one submission on this worker (payload and answer: see `autograder.cluster`)."""
    worker = distributed.get_worker()
    key = worker.get_current_task()
    worker.log_event(START_TOPIC, {"run": payload["run"], "key": key, "address": worker.address})
    return worker.plugins[PLUGIN].grade(key, payload)


async def dask_setup(worker: distributed.Worker) -> None:
    """The preload's entry point (``dask worker --preload autograder.cluster_worker``)."""
    await worker.plugin_add(GradingSlots(), name=PLUGIN)
