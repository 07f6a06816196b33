"""Knobs for the lecture demos: a matplotlib figure that redraws in place when a widget moves.

Why not ``ipywidgets.interact``: it draws into an Output widget, and a headless
run (the test suite, ``python -m tools.nbrun``, nbconvert) keeps Output
widgets only as widget state, so the executed notebook would show no figure at
all. `LiveFigure` instead draws once as an ordinary PNG output and, whenever a
control changes, replaces that same output through its display id
(``update_display_data``). Live in JupyterLab the picture follows the knobs;
executed headless it is a plain figure with the default settings. Everything
here works without a browser: set ``control.value`` and the figure redraws.
"""
from __future__ import annotations

import io
import re
from fractions import Fraction
from typing import Callable, Mapping

import ipywidgets as widgets
import numpy as np
from IPython.display import HTML, Image, display
from matplotlib.figure import Figure

DrawFunction = Callable[..., "str | None"]  # draw(figure, **control_values) -> message or None


class LiveFigure:
    """Widgets plus a figure redrawn by ``draw(figure, **values)`` whenever one of them changes.

    ``draw`` receives a cleared `matplotlib.figure.Figure` and the current value
    of every control by name; it may return a short HTML message (a warning
    such as "this filter does not fit") shown under the figure.
    """

    def __init__(self, draw: DrawFunction, controls: Mapping[str, widgets.ValueWidget],
                 figsize: tuple[float, float] = (8.0, 4.0), dpi: int = 90,
                 layout: widgets.Widget | None = None):
        if not callable(draw):
            raise TypeError(f"draw must be a function draw(figure, **values), got {type(draw).__name__}")
        for name, control in controls.items():
            if not hasattr(control, "value"):
                raise TypeError(f"control {name!r} is a {type(control).__name__}, which has no value; "
                                "pass ipywidgets value widgets such as IntSlider or Dropdown")
        self.draw = draw
        self.controls = dict(controls)
        self.figure = Figure(figsize=figsize, dpi=dpi)
        self.message: str | None = None
        self.redraws = 0
        self._layout = layout if layout is not None else widgets.VBox(list(self.controls.values()))
        self._image_handle = None
        self._message_handle = None
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.redraw()

    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()

    def redraw(self) -> None:
        self.figure.clear()
        self.message = self.draw(self.figure, **self.values())
        self.redraws += 1
        if self._image_handle is not None:
            self._image_handle.update(Image(data=self.png()))
            self._message_handle.update(HTML(self.message or ""))

    def _on_change(self, change) -> None:
        self.redraw()

    def _ipython_display_(self) -> None:
        display(self._layout)
        self._image_handle = display(Image(data=self.png()), display_id=True)
        self._message_handle = display(HTML(self.message or ""), display_id=True)


def player(steps: int, interval_ms: int = 600, description: str = "step") -> tuple[widgets.Play, widgets.IntSlider]:
    """A play button linked to a slider: the slider is the control, the button animates it."""
    if steps < 1:
        raise ValueError(f"an animation needs at least one step, got {steps}")
    play = widgets.Play(min=0, max=steps - 1, step=1, interval=interval_ms, description="play")
    slider = widgets.IntSlider(min=0, max=steps - 1, value=0, description=description)
    widgets.jslink((play, "value"), (slider, "value"))
    return play, slider


_NUMBER = re.compile(r"^[+-]?(\d+/0*[1-9]\d*|\d+(\.\d*)?|\.\d+)$")  # 2, -0.5, .5, 1/9 (not 1/0)


def parse_kernel(text: str, max_size: int = 15) -> np.ndarray:
    """A kernel typed by a person: rows on lines (or separated by ';'), numbers by spaces or commas.

    Fractions such as ``1/9`` are allowed, so the box blur can be typed as it is
    written on the slide. Raises ValueError naming what is wrong.
    """
    rows = [row for row in re.split(r"[;\n]", text.strip()) if row.strip()]
    if not rows:
        raise ValueError("the kernel is empty: type rows of numbers, e.g. '0 -1 0; -1 5 -1; 0 -1 0'")
    matrix = []
    for number, row in enumerate(rows, start=1):
        entries = [e for e in re.split(r"[,\s]+", row.strip().strip("[]")) if e]
        bad = [e for e in entries if not _NUMBER.match(e)]
        if bad:
            raise ValueError(f"row {number} has {bad[0]!r}, which is not a number; use numbers such as "
                             "-1, 0.5 or 1/9 (whole numbers on both sides of '/')")
        matrix.append([float(Fraction(e)) for e in entries])
    widths = {len(r) for r in matrix}
    if len(widths) != 1:
        raise ValueError(f"rows have different lengths {[len(r) for r in matrix]}; every row needs "
                         "the same number of entries")
    kernel = np.array(matrix, dtype=np.float32)
    if max(kernel.shape) > max_size:
        raise ValueError(f"a {kernel.shape[0]}x{kernel.shape[1]} kernel is larger than {max_size}x{max_size}; "
                         "type a smaller one")
    return kernel
