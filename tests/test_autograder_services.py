"""The autograder against real services: a PostgreSQL gradebook, and nbgrader's formgrader in JupyterLab.

Both servers are started here, on free loopback ports, and stopped at the end.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest

from autograder import api
from autograder.layout import Workspace
from autograder.samples import SAMPLE_ID

from conftest import free_port, jupyterlab

FULL_NUMPY = {"test_relu": (1.0, 1.0), "test_slide": (2.0, 2.0), "test_softmax": (0.0, 2.0)}
ZERO = {"test_relu": (0.0, 1.0), "test_slide": (0.0, 2.0), "test_softmax": (0.0, 2.0)}
OPTIONS = dict(workers=2, cell_timeout=60, progress=False)


def numpy_submissions(ws: Workspace, folder: Path) -> None:
    """Two students: the solution and the stub of the sample's NumPy notebook."""
    for student, step in (("ada", "source"), ("bob", "release")):
        target = folder / student / SAMPLE_ID
        target.mkdir(parents=True)
        shutil.copy(ws.folder(step, SAMPLE_ID) / "numpy_part.ipynb", target)


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--"] + command if os.geteuid() == 0 else command


@pytest.fixture
def postgres_url():
    """A throw-away PostgreSQL server (initdb + pg_ctl in a temp folder, loopback only)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL server binaries are not installed (scripts/setup-postgres.sh installs them)")
    bin_dir = Path(found[-1]).parent
    data = Path(tempfile.mkdtemp(prefix="ag-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    run = lambda *cmd: subprocess.run(_as_postgres(list(cmd)), check=True, capture_output=True, text=True)  # noqa: E731
    run(str(bin_dir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "grader")
    run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-l", str(data / "log"), "-w", "start",
        "-o", f"-p {port} -h 127.0.0.1 -k {data}")
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "grader", "gradebook")
        yield f"postgresql+psycopg2://grader@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.postgres
def test_grades_go_to_a_real_postgresql_gradebook(postgres_url, tmp_path):
    import psycopg2

    ws = Workspace.create(tmp_path / "work", postgres_url)
    api.release(SAMPLE_ID, ws.workdir, postgres_url)
    numpy_submissions(ws, tmp_path / "subs")
    results = {r.student: r for r in api.grade_submissions(SAMPLE_ID, tmp_path / "subs", ws.workdir,
                                                            postgres_url, **OPTIONS)}
    assert results["ada"].tests == FULL_NUMPY and results["bob"].tests == ZERO
    assert not (ws.workdir / "gradebook.db").exists()  # nothing fell back to SQLite
    with psycopg2.connect(postgres_url.replace("postgresql+psycopg2", "postgresql")) as db, db.cursor() as cur:
        cur.execute("select s.student_id, count(*) from submitted_assignment s group by s.student_id order by 1")
        assert cur.fetchall() == [("ada", 1), ("bob", 1)]
    exported = api.export(ws.workdir, postgres_url)
    assert "ada,ag_sample,3,6" in exported and "bob,ag_sample,0,6" in exported


@pytest.mark.slow
def test_formgrader_lists_our_assignments(tmp_path):
    ws = Workspace.create(tmp_path / "work")
    api.release(SAMPLE_ID, ws.workdir)
    numpy_submissions(ws, ws.course_root / "submitted")
    api.grade_submissions(SAMPLE_ID, None, ws.workdir, **OPTIONS)
    with jupyterlab(ws.course_root, tmp_path / "runtime") as (url, token):
        headers = {"Authorization": f"token {token}"}

        def get(path: str) -> tuple[int, str]:
            request = urllib.request.Request(f"{url}{path}", headers=headers)
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()

        status, page = get("/formgrader")
        assert status == 200 and "formgrader" in page.lower()
        status, body = get("/formgrader/api/assignments")
        listed = {a["name"]: a for a in json.loads(body)}
        assert SAMPLE_ID in listed and listed[SAMPLE_ID]["num_submissions"] == 2
