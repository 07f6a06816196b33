"""Lecture demo notebooks: they run with a real kernel, draw their figures, and stay quick.

The slow tests execute every notebook in ``notebooks/`` through `tools.nbrun`
(the same code path as ``python -m tools.nbrun``): in the grading profile
they must finish without an error and every plotting cell must leave a PNG in
the executed copy; in the demo profile no cell may take more than about ten
seconds (wall time, or the kernel's CPU time when the machine is busy, see
`NotebookRun.cell_estimate`). The fast tests cover the runner and the widgets
without a kernel or a browser.
"""
from __future__ import annotations

import hashlib
import re

import nbformat
import numpy as np
import pytest

from tools import nbrun

from conftest import lecture_record

NOTEBOOK_DIR = nbrun.DEFAULT_FOLDER
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
DEMO_CELL_LIMIT_S = 1.2 * nbrun.DEMO_CELL_LIMIT_S  # "about ten seconds": a 20% margin for timer noise
# Top-level statements that must leave a figure (indented ones may sit in a branch not taken).
PLOTTING = re.compile(r"^(LiveFigure\(|plt\.show\(\)|train\.plot_history\()", re.MULTILINE)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Run each (notebook, profile) once per test session, whichever test asks first."""
    cache: dict[tuple, nbrun.NotebookRun] = {}

    def run(path, profile):
        if (path, profile) not in cache:
            cache[path, profile] = nbrun.run_notebook(path, profile, out_dir=tmp_path_factory.mktemp(profile))
        return cache[path, profile]

    return run


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- every notebook, real kernel

def test_there_are_lecture_notebooks():
    names = {p.stem for p in NOTEBOOKS}
    assert {"01_convolution", "02_arithmetic", "03_architecture_tour", "04_depth_residuals", "05_dropout_batchnorm",
            "06_transfer_distillation", "07_visualization", "08_speedup"} <= names, names


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_in_grading_profile_and_draws_every_figure(notebook, executed):
    before = _digest(notebook)
    run = executed(notebook, "grading")
    assert run.ok, f"{notebook.name} failed: {run.error}"
    assert _digest(notebook) == before, "executing a notebook must never modify its source"
    nb = nbformat.read(run.output_path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "from course.runtime import start" in first_code.source and "start()" in first_code.source
    assert run.figures >= 1
    missing = [i for i, cell in enumerate(nb.cells)
               if cell.cell_type == "code" and PLOTTING.search(cell.source)
               and not any("image/png" in o.get("data", {}) for o in cell.outputs)]
    assert not missing, f"{notebook.name}: plotting cells {missing} produced no image/png output"
    assert noise_lines(nb) == [], f"{notebook.name}: log noise in the outputs"


def noise_lines(nb) -> list[str]:
    """Every output line of a notebook that is TensorFlow/absl/oneDNN/CUDA/TFLite start-up noise (`course.quiet`)."""
    from course.quiet import is_noise

    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") + "".join(str(v) for k, v in out.get("data", {}).items() if k == "text/plain")
            text += "\n".join(out.get("traceback", []))
            found += [line for line in text.splitlines() if is_noise(line)]
    return found


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_demo_profile_keeps_every_cell_quick(notebook, executed):
    run = executed(notebook, "demo")
    assert run.ok, f"{notebook.name} failed in the demo profile: {run.error}"
    slow = {i: f"{run.cell_seconds[i]:.1f} s wall, {run.cell_cpu_seconds[i]:.1f} s CPU"
            for i in run.slow_cells(DEMO_CELL_LIMIT_S)}
    assert not slow, f"{notebook.name}: cells over {DEMO_CELL_LIMIT_S:.0f} s in the demo profile: {slow}"
    assert noise_lines(nbformat.read(run.output_path, as_version=4)) == [], f"{notebook.name}: log noise"


# --------------------------------------------------------------------------- precomputed data the demos draw


def test_depth_curves_were_written_by_their_recipe_and_show_the_lecture_claims():
    script, record = lecture_record("depth_curves")
    assert record["recipe"] == script.RECIPE, "depth_curves.json is stale: run python notebooks/data/depth_curves.py"
    final = {name: {k: v[-1] for k, v in curve.items() if isinstance(v, list)}
             for name, curve in record["curves"].items()}
    assert set(final) == set(script.MODELS)
    assert all(len(record["curves"][name]["loss"]) == script.RECIPE["epochs"] for name in final)
    # He et al.: the deeper plain net has the higher *training* error; with shortcuts depth helps
    assert final["plain56"]["accuracy"] < final["plain20"]["accuracy"] - 0.05
    assert final["resnet56"]["loss"] < final["resnet20"]["loss"] < final["plain20"]["loss"]
    # and the validation numbers mean something (batch-norm running averages settled), in the same order
    assert final["plain56"]["val_accuracy"] < final["plain20"]["val_accuracy"] < final["resnet56"]["val_accuracy"]
    assert min(f["val_accuracy"] for f in final.values()) > 0.3


def test_distillation_search_contains_the_chosen_setting_with_a_gain_beyond_the_spread():
    script, record = lecture_record("distillation_search")
    rows = {(r["student"], r["train_images"], r["epochs"], r["temperature"], r["alpha"]): r for r in record["rows"]}
    assert set(rows) == {(f"mlp{h}", n, e, t, a) for h, n, e, t, a in script.CONFIGS}
    from course.distill import LECTURE_SETTING as chosen

    row = rows[f"mlp{chosen['hidden_units']}", chosen["train_images"], chosen["epochs"], chosen["temperature"],
               chosen["alpha"]]
    gains = [d - a for d, a in zip(row["distilled"], row["alone"])]
    assert len(gains) >= 3 and min(gains) > 0, gains  # every seed gains
    assert sum(gains) / len(gains) > 3 * max(row["alone_std"], row["distilled_std"])
    assert row["distilled_mean"] < record["teacher_accuracy"]


# --------------------------------------------------------------------------- the runner itself

def _write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_runner_reports_a_failing_cell_and_the_command_exits_nonzero(tmp_path, capsys):
    broken = _write_notebook(tmp_path / "broken.ipynb", "import os\nprofile = os.environ['COURSE_PROFILE']",
                             "assert profile == 'grading'", "1 / 0", "print('never reached')")
    code = nbrun.main([str(broken), "--profile", "grading", "--out", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in printed and "cell #2" in printed and "ZeroDivisionError" in printed
    executed = nbformat.read(tmp_path / "out" / "broken.ipynb", as_version=4)
    assert not executed.cells[3].outputs, "execution must stop at the failing cell"


def test_count_figures_counts_png_outputs_only():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("a", outputs=[nbformat.v4.new_output("display_data", data={"image/png": "AA=="}),
                                                nbformat.v4.new_output("stream", text="hi")]),
        nbformat.v4.new_code_cell("b", outputs=[nbformat.v4.new_output("execute_result", data={
            "image/png": "AA==", "text/plain": "<Figure>"}, execution_count=1)]),
        nbformat.v4.new_code_cell("c", outputs=[nbformat.v4.new_output("display_data", data={"text/html": "<b>"})]),
        nbformat.v4.new_markdown_cell("![img](x.png)"),
    ])
    assert nbrun.count_figures(nb) == 2


def test_cell_estimate_uses_cpu_time_when_the_machine_is_busy():
    run = nbrun.NotebookRun(path=NOTEBOOK_DIR / "x.ipynb", profile="demo", seconds=40.0,
                            cell_seconds={0: 30.0, 1: 3.0, 2: 12.0},
                            cell_cpu_seconds={0: 4.0, 1: 5.5, 2: 11.0}, figures=0, output_path=None)
    assert run.cell_estimate(0) == 4.0  # busy machine: wall inflated, CPU is the fair figure
    assert run.cell_estimate(1) == 3.0  # two threads: wall shorter than CPU
    assert run.slow_cells(10.0) == {2: 11.0}


def test_runner_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown profile"):
        nbrun.run_notebook(NOTEBOOKS[0], profile="fast")
    with pytest.raises(ValueError, match="not a notebook"):
        nbrun.run_notebook(NOTEBOOK_DIR / "01_convolution.py", profile="grading")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nbrun.find_notebooks([tmp_path / "missing.ipynb"])
    assert nbrun.find_notebooks([NOTEBOOK_DIR / "01_convolution.py"]) == [NOTEBOOK_DIR / "01_convolution.ipynb"]
    assert nbrun.find_notebooks([]) == sorted(NOTEBOOK_DIR.glob("*.ipynb"))


# --------------------------------------------------------------------------- widgets, without a browser

def test_live_figure_redraws_when_a_control_changes():
    import ipywidgets as widgets

    from course.widgets import LiveFigure

    seen = []

    def draw(fig, n, label):
        seen.append((n, label))
        fig.subplots().plot(np.arange(n))
        return f"too many: {n}" if n > 5 else None

    n = widgets.IntSlider(value=3, min=1, max=10)
    label = widgets.Dropdown(options=["a", "b"], value="a")
    live = LiveFigure(draw, {"n": n, "label": label})
    assert seen == [(3, "a")] and live.message is None
    first = live.png()
    assert first.startswith(b"\x89PNG")
    n.value = 8
    label.value = "b"
    assert seen[-2:] == [(8, "a"), (8, "b")]
    assert live.message == "too many: 8"
    assert live.png() != first
    assert len(live.figure.axes) == 1, "each redraw must start from a cleared figure"


def test_live_figure_rejects_what_it_cannot_use():
    from course.widgets import LiveFigure

    with pytest.raises(TypeError, match="draw must be a function"):
        LiveFigure("not a function", {})
    with pytest.raises(TypeError, match="has no value"):
        LiveFigure(lambda fig: None, {"x": object()})


def test_live_figure_displays_a_png_and_updates_it_in_place(monkeypatch):
    import ipywidgets as widgets

    import course.widgets as cw

    shown, updates = [], []

    class Handle:
        def update(self, obj):
            updates.append(obj)

    def fake_display(obj, display_id=False):
        shown.append(obj)
        return Handle() if display_id else None

    monkeypatch.setattr(cw, "display", fake_display)
    slider = widgets.IntSlider(value=1)
    live = cw.LiveFigure(lambda fig, k: fig.subplots().set_title(str(k)) and None, {"k": slider})
    live._ipython_display_()
    assert isinstance(shown[0], widgets.Widget) and isinstance(shown[1], cw.Image)
    assert shown[1].data.startswith(b"\x89PNG")
    slider.value = 2
    assert isinstance(updates[0], cw.Image) and updates[0].data != shown[1].data


def test_player_animates_the_slider_it_returns():
    from course.widgets import player

    play, slider = player(steps=18)
    assert (play.min, play.max, slider.max) == (0, 17, 17)
    with pytest.raises(ValueError, match="at least one step"):
        player(0)


@pytest.mark.parametrize("text, expected", [
    ("0 -1 0\n-1 5 -1\n0 -1 0", [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    ("1/9, 1/9; 1/9 1/9", [[1 / 9, 1 / 9], [1 / 9, 1 / 9]]),
    ("[1 2 3]", [[1, 2, 3]]),
    (" -.5  +2.0 ", [[-0.5, 2.0]]),
])
def test_parse_kernel_reads_what_a_person_types(text, expected):
    from course.widgets import parse_kernel

    np.testing.assert_allclose(parse_kernel(text), expected, rtol=1e-6)


@pytest.mark.parametrize("text, complaint", [
    ("", "empty"), ("1 2\n3", "different lengths"), ("1 two 3", "'two'"), ("1/0", "'1/0'"),
    ("\n".join(["1 " * 16] * 16), "larger than"),
])
def test_parse_kernel_explains_bad_input(text, complaint):
    from course.widgets import parse_kernel

    with pytest.raises(ValueError, match=re.escape(complaint)):
        parse_kernel(text)
