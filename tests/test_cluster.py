"""Grading on a real Dask cluster: a scheduler and two `python -m autograder worker`s on 127.0.0.1.

The sample course is `autograder.samples.nbgrader_course` (no TensorFlow: a job
takes seconds); the points each hand-in deserves are written there by hand, and
a local run of the same course is the other oracle. Faults are real: worker
processes are killed (their nanny starts them again) or stopped with SIGSTOP
at the moment a chosen submission starts on them, as the scheduler's own event
log shows.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import api, cluster
from autograder.cluster_worker import PLUGIN, START_TOPIC
from autograder.layout import REPO
from autograder.loopback import LoopbackCluster
from autograder.samples.nbgrader_course import ASSIGNMENT, COURSE_ID, EXPECTED, NOTEBOOK, build_course

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the workers' sandbox needs root (as grading does)")
distributed = pytest.importorskip("distributed")

AG = [sys.executable, "-m", "autograder"]


def auto_scores(course: Path) -> dict[str, dict[str, float]]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        return {s.student.id: {g.name: g.auto_score for nb in s.notebooks for g in nb.grades if g.cell_type == "code"}
                for s in gb.find_assignment(ASSIGNMENT).submissions}


def hand_in(course: Path, student: str, prefix: str) -> None:
    """``student`` hands in the right answer, with ``prefix`` run first in the squares cell."""
    source = course / "submitted" / "bitdiddle" / ASSIGNMENT / NOTEBOOK
    nb = nbformat.read(source, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "squares")
    cell.source = prefix + "\n" + cell.source
    (course / "submitted" / student / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(nb, course / "submitted" / student / ASSIGNMENT / NOTEBOOK)


class Cluster(LoopbackCluster):
    """The loopback cluster, and what the tests see of it: its start events, and faults on cue."""

    def starts(self, since: float) -> list[dict]:
        return [msg for stamp, msg in self.client.get_events(START_TOPIC) if stamp >= since]

    def on_start(self, submission: int, action, times: int) -> threading.Thread:
        """Do ``action(worker pid)`` when submission number ``submission`` of a batch starts, its first ``times`` tries."""
        since = time.time()

        def watch():
            done: set[str] = set()
            deadline = time.monotonic() + 240
            while len(done) < times and time.monotonic() < deadline:
                for msg in self.starts(since):
                    if f"-submission-{submission}-" in msg["key"] and msg["key"] not in done:
                        done.add(msg["key"])
                        action(self.client.run(os.getpid, workers=[msg["address"]])[msg["address"]])
                time.sleep(0.05)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        return thread


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    running = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        running.add_worker()
        running.add_worker("--gpus", "1")
        yield running
    finally:
        running.close()


def grade(course: Path, address: str, **options) -> dict:
    results = api.grade_submissions(ASSIGNMENT, None, course=course, cluster=address, progress=False, **options)
    return {r.student: r for r in results}


# -- no cluster needed -------------------------------------------------------------------------------

def test_plain_tcp_off_loopback_is_refused_with_how_to_set_up_tls(tmp_path):
    with pytest.raises(cluster.ClusterError, match="only on 127.0.0.1.*ca.pem, cert.pem, key.pem.*--tls-dir"):
        cluster.security("tcp://10.1.2.3:8786", None)
    with pytest.raises(cluster.ClusterError, match="needs --tls-dir"):
        cluster.security("tls://grading-head:8786", None)
    (tmp_path / "ca.pem").write_text("x")
    with pytest.raises(cluster.ClusterError, match="lacks cert.pem, key.pem"):
        cluster.security("tls://grading-head:8786", tmp_path)
    assert cluster.security("tcp://127.0.0.1:8786", None) is None
    loopback = cluster.worker_command("tcp://127.0.0.1:8786", slots=2)
    assert loopback[loopback.index("--host") + 1] == "127.0.0.1"
    assert loopback[loopback.index("--dashboard-address") + 1].startswith("127.0.0.1:")


def test_a_weaker_sandbox_or_other_versions_are_named_as_mismatches():
    from autograder.fingerprint import fingerprint, mismatches

    mine = fingerprint()
    assert mismatches(mine, mine) == []
    theirs = {**mine, "keras": "3.0.0", "isolation": {**mine["isolation"], "separate_uid": False, "cgroups": False}}
    found = mismatches({**mine, "isolation": {name: True for name in mine["isolation"]}}, theirs)
    assert f"keras: worker has 3.0.0, this grader {mine['keras']}" in found
    assert sum("isolation: the worker lacks" in line for line in found) == 2
    stronger = {**mine, "isolation": {name: True for name in mine["isolation"]}}
    assert mismatches({**mine, "isolation": {name: False for name in mine["isolation"]}}, stronger) == []


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl makes the test certificates")
def test_a_tls_cluster_grades_with_the_course_certificates_and_refuses_plain_tcp(tmp_path):
    tls = tmp_path / "tls"
    tls.mkdir()
    openssl = lambda *args: subprocess.run(["openssl", *args], cwd=tls, check=True, capture_output=True)  # noqa: E731
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
            "-keyout", "ca-key.pem", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=grader", "-keyout", "key.pem", "-out", "cert.csr")
    openssl("x509", "-req", "-in", "cert.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", "2", "-out", "cert.pem")
    with LoopbackCluster(tmp_path / "cluster", tls_dir=tls) as secure:
        secure.add_worker()
        assert secure.address.startswith("tls://127.0.0.1:")
        course = build_course(tmp_path / "c")
        results = api.grade_submissions(ASSIGNMENT, None, course=course, cluster=secure.address, tls_dir=tls,
                                        students=["hacker"], progress=False)
        assert results[0].status == "graded" and auto_scores(course) == {"hacker": EXPECTED["hacker"]}
        with pytest.raises(cluster.ClusterError, match="cannot reach the Dask scheduler"):
            api.grade_submissions(ASSIGNMENT, None, course=course, cluster=secure.address.replace("tls", "tcp"),
                                  students=["hacker"], progress=False)


# -- on the cluster ------------------------------------------------------------------------------------

def test_workers_listen_only_on_loopback(dask_cluster):
    import psutil

    listening = []
    for process in dask_cluster.processes[1:]:
        for member in [process.pid] + [c.pid for c in psutil.Process(process.pid).children(recursive=True)]:
            listening += [c.laddr for c in psutil.Process(member).net_connections(kind="inet")
                          if c.status == psutil.CONN_LISTEN]
    assert len(listening) >= 4, listening  # each worker and its nanny
    assert {address.ip for address in listening} == {"127.0.0.1"}, listening


@pytest.mark.slow
def test_cluster_scores_equal_a_local_run_even_when_a_worker_is_killed_mid_grade(dask_cluster, tmp_path):
    local, remote = build_course(tmp_path / "local"), build_course(tmp_path / "remote")
    api.grade_submissions(ASSIGNMENT, None, course=local, workers=2, progress=False)
    assert auto_scores(local) == EXPECTED

    killer = dask_cluster.on_start(0, lambda pid: os.kill(pid, signal.SIGKILL), times=1)
    results = grade(remote, dask_cluster.address)
    killer.join(0)
    assert auto_scores(remote) == auto_scores(local)
    assert {r.status for r in results.values()} == {"graded"}
    assert "after 1 lost tries (its worker" in results["bitdiddle"].reason and "died" in results["bitdiddle"].reason
    dask_cluster.wait_for_workers(2)  # the nanny started it again


@pytest.mark.slow
def test_a_submission_that_kills_every_worker_fails_after_three_tries_and_the_batch_goes_on(dask_cluster, tmp_path):
    course = build_course(tmp_path / "c")
    killer = dask_cluster.on_start(1, lambda pid: os.kill(pid, signal.SIGKILL), times=cluster.MAX_TRIES)  # "blank"
    results = grade(course, dask_cluster.address)
    killer.join(0)
    assert results["blank"].status == "failed" and results["blank"].score is None
    assert f"all {cluster.MAX_TRIES} tries on the cluster were lost" in results["blank"].reason
    assert results["blank"].reason.count("died") == cluster.MAX_TRIES
    assert auto_scores(course) == {s: EXPECTED[s] for s in ("bitdiddle", "hacker")}  # no row for the lost one
    dask_cluster.wait_for_workers(2)
    again = grade(course, dask_cluster.address)  # the next run grades it, and only it
    assert {s: r.status for s, r in again.items()} == {"bitdiddle": "unchanged", "blank": "graded", "hacker": "unchanged"}
    assert auto_scores(course) == EXPECTED


@pytest.mark.slow
def test_a_frozen_worker_is_cut_off_by_the_deadline_and_its_late_answer_ignored(dask_cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "ANSWER_GRACE_S", 2.0)
    course = build_course(tmp_path / "c")
    frozen: list[int] = []
    freezer = dask_cluster.on_start(0, lambda pid: (os.kill(pid, signal.SIGSTOP), frozen.append(pid)), times=1)
    try:
        results = grade(course, dask_cluster.address, submission_timeout=20)
    finally:
        freezer.join(0)
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    assert frozen and "gave no answer 22 s after the job started" in results["bitdiddle"].reason
    assert auto_scores(course) == EXPECTED
    time.sleep(3)  # the thawed worker finishes or drops its old job: nothing of it reaches the gradebook
    assert auto_scores(course) == EXPECTED


@pytest.mark.slow
def test_gpu_jobs_go_only_to_gpu_workers_and_see_the_gpu(dask_cluster, tmp_path):
    course = build_course(tmp_path / "c")
    hand_in(course, "gpu_user", 'import os; print("CUDA_VISIBLE_DEVICES=" + repr(os.environ["CUDA_VISIBLE_DEVICES"]))')
    gpu_worker = next(a for a, w in dask_cluster.workers().items() if w["resources"].get("GPU"))
    since = time.time()
    results = grade(course, dask_cluster.address, gpu=True, students=["gpu_user", "hacker"])
    assert {msg["address"] for msg in dask_cluster.starts(since)} == {gpu_worker}
    assert results["gpu_user"].score == sum(EXPECTED["bitdiddle"].values())
    assert results["hacker"].score == sum(EXPECTED["hacker"].values())
    graded = (course / "autograded" / "gpu_user" / ASSIGNMENT / NOTEBOOK).read_text()
    assert "CUDA_VISIBLE_DEVICES='0'" in graded


@pytest.mark.slow
def test_a_worker_of_another_checkout_is_refused_and_without_a_match_the_batch_stops(dask_cluster, tmp_path):
    stale = tmp_path / "stale-checkout"
    for name in ("course", "autograder", "tools"):
        shutil.copytree(REPO / name, stale / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("requirements.lock", "pyproject.toml"):
        shutil.copy(REPO / name, stale / name)
    with open(stale / "course" / "grading.py", "a") as fh:
        fh.write("\n# an older version of the course\n")
    alone = Cluster(tmp_path / "alone")
    try:
        alone.add_worker(checkout=stale)
        course = build_course(tmp_path / "c")
        with pytest.raises(cluster.ClusterError, match=r"no worker .* may grade this(.|\n)*course: worker has"):
            grade(course, alone.address)
        assert not (course / "autograded").exists()
    finally:
        alone.close()


@pytest.mark.slow
def test_a_grader_killed_mid_batch_leaves_no_job_blocking_the_next_one(dask_cluster, tmp_path):
    course = build_course(tmp_path / "c")
    hand_in(course, "sleeper", "import time; time.sleep(300)")  # the last of the batch: submission 3
    parent = subprocess.Popen(AG + ["grade", ASSIGNMENT, "--course", str(course), "--cluster", dask_cluster.address,
                                    "--cell-timeout", "400"], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    started = threading.Event()
    watcher = dask_cluster.on_start(3, lambda pid: started.set(), times=1)
    assert started.wait(180), "the sleeper never started"
    time.sleep(2)
    parent.kill()
    parent.wait()
    watcher.join(0)

    def busy() -> int:
        return sum(dask_cluster.client.run(lambda dask_worker: len(dask_worker.plugins[PLUGIN].busy)).values())

    deadline = time.monotonic() + 20
    while busy():
        assert time.monotonic() < deadline, "the dead grader's job still holds a slot"
        time.sleep(0.5)
    results = grade(course, dask_cluster.address, students=["bitdiddle", "blank", "hacker"])
    assert "unchanged" in {r.status for r in results.values()}  # what the dead grader finished is kept
    assert auto_scores(course) == EXPECTED
