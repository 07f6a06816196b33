"""Execute notebooks with a real Jupyter kernel, timing every cell and counting figures.

``python -m tools.nbrun [PATHS...] [--profile demo|grading|full]`` runs each
notebook top to bottom in a fresh kernel with ``COURSE_PROFILE`` set, writes the
executed copy to the ignored ``work/notebooks/<profile>/`` folder (the sources
are never touched), prints one line per notebook (seconds, slowest cell,
figures) and exits non-zero if any cell raised. The test suite uses
`run_notebook` in the same way, so "it ran in CI" and "it runs for the
lecturer" mean the same thing.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path

from course.runtime import PROFILE_ENV, PROFILES
from tools import REPO

DEFAULT_FOLDER = REPO / "notebooks"
WORK_FOLDER = REPO / "work" / "notebooks"
KERNEL_NAME = "python3"  # resolves to the Python running this (notebooks name "cnn-course", maybe not registered here)
DEMO_CELL_LIMIT_S = 10.0  # the lecture promise: no cell waits longer than this in the demo profile


@dataclasses.dataclass
class NotebookRun:
    """What happened when one notebook was executed."""

    path: Path
    profile: str
    seconds: float
    cell_seconds: dict[int, float]  # code-cell index in the notebook -> wall seconds
    cell_cpu_seconds: dict[int, float]  # same cells: CPU seconds the kernel spent (all its threads)
    figures: int  # image/png outputs in the executed notebook
    output_path: Path | None
    error: str | None = None  # the failing cell and its exception, if any

    @property
    def ok(self) -> bool:
        return self.error is None

    def slowest_cell(self) -> tuple[int, float]:
        return max(self.cell_seconds.items(), key=lambda item: item[1], default=(-1, 0.0))

    def cell_estimate(self, index: int) -> float:
        """Seconds the cell would take on an idle machine: the smaller of wall and CPU time.

        On a busy machine (CI, other jobs) wall time is inflated but the kernel's
        CPU time is not; on an idle one a multi-threaded cell's wall time is the
        smaller. Either way the minimum is the fair (or a pessimistic) figure.
        Cells that wait without computing (sleep, network) would be underestimated;
        the demos have none.
        """
        wall = self.cell_seconds[index]
        cpu = self.cell_cpu_seconds.get(index, float("nan"))
        return wall if math.isnan(cpu) else min(wall, cpu)

    def slow_cells(self, limit_s: float) -> dict[int, float]:
        """Cells whose `cell_estimate` is over the limit."""
        return {i: self.cell_estimate(i) for i in self.cell_seconds if self.cell_estimate(i) > limit_s}

    def summary(self) -> str:
        index, worst = self.slowest_cell()
        status = "ok" if self.ok else "FAILED"
        return (f"{status:<7}{self.path.name:<34}{self.seconds:7.1f} s   slowest cell #{index}: "
                f"{worst:5.1f} s (CPU {self.cell_cpu_seconds.get(index, 0.0):5.1f} s)   figures: {self.figures}")


@contextmanager
def _environment(**values: str):
    """Set environment variables for the kernel we are about to start, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def count_figures(nb) -> int:
    """Rendered images (``image/png`` outputs) in an executed notebook."""
    return sum("image/png" in output.get("data", {})
               for cell in nb.cells if cell.cell_type == "code"
               for output in cell.get("outputs", []))


def _error_text(exc: Exception, nb, cell_index: int | None) -> str:
    where = f"cell #{cell_index}" if cell_index is not None else "start-up"
    source = nb.cells[cell_index].source.strip().splitlines()[:3] if cell_index is not None else []
    lines = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()  # no terminal colour codes
    last = next((line for line in reversed(lines) if line.strip()), type(exc).__name__)
    return f"{where} ({' / '.join(source)[:120]}): {last}"


def run_notebook(path: str | os.PathLike, profile: str = "demo", out_dir: str | os.PathLike | None = None,
                 timeout_s: float = 600.0) -> NotebookRun:
    """Execute one notebook in a fresh kernel under ``profile``; never modifies ``path``."""
    import nbformat
    import psutil
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path).resolve()
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {sorted(PROFILES)}")
    if path.suffix != ".ipynb":
        raise ValueError(f"{path} is not a notebook; pass the .ipynb (generate it with "
                         "`python -m tools.nbsource`)")
    nb = nbformat.read(path, as_version=4)
    started: dict[int, tuple[float, float]] = {}
    cell_seconds: dict[int, float] = {}
    cell_cpu_seconds: dict[int, float] = {}
    current: list[int] = []

    def kernel_cpu() -> float:
        try:
            times = psutil.Process(client.km.provisioner.pid).cpu_times()
            return times.user + times.system
        except (AttributeError, psutil.Error):  # no local process to ask (remote kernel)
            return float("nan")

    def on_execute(cell, cell_index, **_):
        current[:] = [cell_index]
        started[cell_index] = (time.perf_counter(), kernel_cpu())

    def on_executed(cell, cell_index, **_):
        wall, cpu = started[cell_index]
        cell_seconds[cell_index] = time.perf_counter() - wall
        cell_cpu_seconds[cell_index] = kernel_cpu() - cpu

    client = NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=timeout_s, allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_execute=on_execute, on_cell_executed=on_executed)
    out_dir = Path(out_dir) if out_dir is not None else WORK_FOLDER / profile
    out_dir.mkdir(parents=True, exist_ok=True)
    output_path = out_dir / path.name
    error = None
    began = time.perf_counter()
    # The kernel's own stderr (TensorFlow's start-up chatter, crashes) goes to a log beside the copy.
    with _environment(**{PROFILE_ENV: profile}), open(output_path.with_suffix(".kernel.log"), "wb") as log:
        try:
            client.execute(stdout=log, stderr=log)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            error = _error_text(exc, nb, current[0] if current else None)
    seconds = time.perf_counter() - began
    nbformat.write(nb, output_path)
    return NotebookRun(path, profile, seconds, cell_seconds, cell_cpu_seconds, count_figures(nb),
                       output_path, error)


def find_notebooks(paths: list[str | os.PathLike]) -> list[Path]:
    """Notebooks named directly or found (non-recursively, sorted) in the folders given."""
    found: list[Path] = []
    for item in map(Path, paths or [DEFAULT_FOLDER]):
        if item.is_dir():
            found += sorted(p for p in item.glob("*.ipynb"))
        elif item.suffix == ".py" and item.with_suffix(".ipynb").exists():
            found.append(item.with_suffix(".ipynb"))  # the jupytext source: run its generated notebook
        elif item.exists():
            found.append(item)
        else:
            raise FileNotFoundError(f"{item} does not exist; pass notebooks or folders of notebooks")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help=f"notebooks or folders (default: {DEFAULT_FOLDER.name}/)")
    parser.add_argument("--profile", default="demo", choices=sorted(PROFILES),
                        help="demo: lecture sizes (default); grading: smallest, as in CI; full: students'")
    parser.add_argument("--out", help=f"where executed copies go (default: work/notebooks/<profile>/)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    notebooks = find_notebooks(args.paths)
    if not notebooks:
        print("no notebooks found; generate them with `python -m tools.nbsource`")
        return 1
    print(f"executing {len(notebooks)} notebook(s) in the {args.profile} profile")
    runs = []
    for notebook in notebooks:
        run = run_notebook(notebook, args.profile, args.out, args.timeout)
        print(run.summary(), flush=True)
        if run.error:
            print(f"        {run.error}")
        runs.append(run)
    total = sum(r.seconds for r in runs)
    figures = sum(r.figures for r in runs)
    failed = [r for r in runs if not r.ok]
    print(f"{len(runs) - len(failed)}/{len(runs)} notebooks ran, {figures} figures, {total:.1f} s; "
          f"executed copies in {Path(args.out) if args.out else WORK_FOLDER / args.profile}")
    if args.profile == "demo":
        for run in runs:
            for index in run.slow_cells(DEMO_CELL_LIMIT_S):
                print(f"note: {run.path.name} cell #{index} took {run.cell_seconds[index]:.1f} s, CPU "
                      f"{run.cell_cpu_seconds[index]:.1f} s (the demo profile aims at {DEMO_CELL_LIMIT_S:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
