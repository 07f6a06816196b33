"""A Dask scheduler and grading workers on 127.0.0.1: the cluster path on one machine.

The tests and ``bench/bench_cluster.py`` grade through it, and an instructor can
try ``grade --cluster`` with it before setting up machines. Each process is a
process group of its own (killed whole on `close`) and logs to a file in
``root``. The scheduler leaves retries to the grader (``allowed-failures`` 0:
a task whose worker dies fails at once, and `autograder.cluster` decides).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tools import REPO

from .cluster_worker import METRIC


class LoopbackCluster:
    """``with LoopbackCluster(root) as c: c.add_worker(); ... grade --cluster c.address``.

    With ``tls_dir`` (``ca.pem``, ``cert.pem``, ``key.pem``, as `autograder.cluster.security` wants), every
    connection is TLS, as on a network.
    """

    def __init__(self, root: Path, tls_dir: Path | None = None):
        import distributed

        from .cluster import TLS_FILES, tls_security

        self.root, self.processes, self.tls_dir = Path(root), [], tls_dir
        self.root.mkdir(parents=True, exist_ok=True)
        scheduler_file = self.root / "scheduler.json"
        tls = [] if tls_dir is None else ["--protocol", "tls", *(arg for flag, name in zip(
            ("--tls-ca-file", "--tls-cert", "--tls-key"), TLS_FILES) for arg in (flag, str(Path(tls_dir) / name)))]
        self._start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(scheduler_file), *tls], "scheduler",
                    {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"the scheduler did not start: see {self.root / 'scheduler.log'}")
            time.sleep(0.2)
        self.client = distributed.Client(scheduler_file=str(scheduler_file), timeout=30,
                                         security=None if tls_dir is None else tls_security(tls_dir))
        self.address = self.client.scheduler.address

    def __enter__(self) -> "LoopbackCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self, command: list[str], name: str, env: dict, cwd: Path = REPO) -> None:
        with open(self.root / f"{name}.log", "ab") as log:
            self.processes.append(subprocess.Popen(command, stdout=log, stderr=log, cwd=cwd, env=env,
                                                   start_new_session=True))

    def add_worker(self, *options: str, slots: int = 1, checkout: Path = REPO) -> None:
        """Start ``python -m autograder worker`` (of the course ``checkout``) and wait until it is ready."""
        count = len(self.workers())
        tls = [] if self.tls_dir is None else ["--tls-dir", str(self.tls_dir)]
        self._start([sys.executable, "-m", "autograder", "worker", self.address, "--slots", str(slots), *tls, *options],
                    f"worker-{len(self.processes)}", {**os.environ, "PYTHONPATH": str(checkout)}, checkout)
        self.wait_for_workers(count + 1)

    def workers(self) -> dict[str, dict]:
        return self.client.scheduler_info(n_workers=-1)["workers"]

    def wait_for_workers(self, count: int, timeout: float = 90) -> dict[str, dict]:
        """The workers, once at least ``count`` are connected and have published their fingerprint."""
        deadline = time.monotonic() + timeout
        while True:
            workers = self.workers()
            if len(workers) >= count and all(METRIC in w.get("metrics", {}) for w in workers.values()):
                return workers
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(workers)} of {count} workers came up: see the logs in {self.root}")
            time.sleep(0.3)

    def close(self) -> None:
        if hasattr(self, "client"):
            self.client.close()
        for process in reversed(self.processes):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        self.processes = []
