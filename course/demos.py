"""The lecture notebooks' interactive figures, so that a notebook shows the lecture and not the UI code.

Each builder returns a `course.widgets.LiveFigure`: live knobs in JupyterLab,
a plain figure with the default settings when executed headless. The
computation a demo is about (TensorFlow's convolution, Keras's output size) is
passed in by the notebook, where students read it; what lives here is only the
drawing and the knobs.
"""
from __future__ import annotations

from typing import Callable

import ipywidgets as widgets
import numpy as np
from matplotlib.patches import Rectangle

from course import arith
from course.plots import number_grid
from course.widgets import LiveFigure, player

Convolution = Callable[[np.ndarray, np.ndarray, np.ndarray, int, int], np.ndarray]  # (x, w, b, stride, pad)


def fitted_size(n: int, f: int, stride: int, pad: int) -> tuple[int, str | None]:
    """The lecture formula's output size, or TensorFlow's floored size and a warning when the windows do not fit.

    Args:
        n: input size along one axis.
        f: filter size.
        stride: step between windows.
        pad: zeros added on each side.
    """
    try:
        return arith.conv_output_size(n, f, stride=stride, padding=pad), None
    except ValueError as reason:
        size = (n + 2 * pad - f) // stride + 1
        return size, (f"<b>Does not fit:</b> {reason}.<br>TensorFlow does not complain: it silently "
                      f"drops the border that does not fit and returns {size}x{size}.")


def conv_stepper(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv: Convolution, stride: int = 2, pad: int = 1,
                 first_step: int = 0) -> LiveFigure:
    """The convolution slide's animation: every output number of every filter, one window at a time.

    Args:
        x: the input volume, (N, N, C).
        w: the filters, (F, F, C, K).
        b: the biases, (K,).
        conv: the computation shown, ``conv(x, w, b, stride, pad) -> (N', N', K)`` (e.g. ``tf.nn.conv2d``).
        stride, pad: the settings the knobs start at.
        first_step: the window shown first.
    """
    n, f, channels, filters = x.shape[0], w.shape[0], x.shape[-1], w.shape[-1]
    stride_control = widgets.Dropdown(options=[1, 2, 3], value=stride, description="stride")
    pad_control = widgets.Dropdown(options=[0, 1, 2], value=pad, description="padding")
    play, step_control = player(steps=filters * 9, interval_ms=700)

    def steps() -> int:
        n_out, _ = fitted_size(n, f, stride_control.value, pad_control.value)
        return filters * n_out * n_out

    def fit_steps(change=None):
        play.max = step_control.max = steps() - 1

    def draw(fig, stride, pad, step):
        n_out, warning = fitted_size(n, f, stride, pad)
        step = min(step, filters * n_out * n_out - 1)
        k, position = divmod(step, n_out * n_out)
        i, j = divmod(position, n_out)
        out = conv(x, w, b, stride, pad)
        padded = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
        is_pad = np.pad(np.zeros((n, n), bool), pad, constant_values=True)
        axes = fig.subplots(2, channels + filters)
        for c in range(channels):
            number_grid(axes[0, c], padded[..., c], f"input x[:, :, {c}]",
                        highlight=(i * stride, j * stride, f, f), faded=is_pad)
            number_grid(axes[1, c], w[..., c, k], f"filter w{k}[:, :, {c}]", cmap="RdBu")
        done = np.arange(filters * n_out * n_out).reshape(filters, n_out, n_out) > step
        for kk in range(filters):
            number_grid(axes[0, channels + kk], out[..., kk], f"output o[:, :, {kk}]",
                        highlight=(i, j, 1, 1) if kk == k else None, faded=done[kk], cmap="Greens")
        window = padded[i * stride:i * stride + f, j * stride:j * stride + f]
        per_channel = [float(np.sum(window[..., c] * w[..., c, k])) for c in range(channels)]
        lines = [f"o[{i}, {j}, {k}] =", *[f"  channel {c}: {v:+g}" for c, v in enumerate(per_channel)],
                 f"  bias b{k}:  {b[k]:+g}", f"  total:     {sum(per_channel) + b[k]:g}",
                 f"  ({conv.__name__}: {out[i, j, k]:g})"]
        for ax in axes[1, channels:]:
            ax.set_axis_off()
        axes[1, channels].text(0, 0.5, "\n".join(lines), family="monospace", fontsize=10, va="center")
        fig.suptitle(f"stride {stride}, padding {pad}: output {n_out}x{n_out}x{filters}, "
                     f"step {step + 1} of {filters * n_out * n_out}")
        return warning

    for control in (stride_control, pad_control):
        control.observe(fit_steps, names="value")  # registered first, so it runs before the redraw
    fit_steps()
    step_control.value = min(first_step, step_control.max)
    return LiveFigure(draw, {"stride": stride_control, "pad": pad_control, "step": step_control},
                      figsize=(2.4 * (channels + filters), 5.2),
                      layout=widgets.VBox([widgets.HBox([stride_control, pad_control]),
                                           widgets.HBox([play, step_control])]))


def same_padding(n: int, f: int, stride: int) -> tuple[int, int]:
    """Zeros TensorFlow's ``padding='same'`` adds (left, right) along one axis: the extra one on the right.

    Args:
        n: input size; f: filter size; stride: step between windows.
    """
    total = max((-(-n // stride) - 1) * stride + f - n, 0)
    return total // 2, total - total // 2


def padding_explorer(oracle: Callable[[int, int, int, "int | str"], int], oracle_name: str = "library", n: int = 7,
                     f: int = 3, stride: int = 2, mode: str = "a number P", pad: int = 0) -> LiveFigure:
    """Where the windows of a 1-D convolution land, for any input, filter, stride and padding.

    Args:
        oracle: ``oracle(n, f, stride, padding) -> output size`` from a real library, shown beside the formula.
        oracle_name: what the figure calls it (e.g. "Keras").
        n, f, stride: input size, filter size and stride the sliders start at.
        mode: ``"a number P"`` (then `pad` zeros each side), ``"valid"`` or ``"same"``.
        pad: the number of zeros each side in the ``"a number P"`` mode.
    """
    def draw(fig, n, f, stride, mode, pad):
        padding = pad if mode == "a number P" else mode
        left, right = {"valid": (0, 0), "same": same_padding(n, f, stride)}.get(padding, (pad, pad))
        width = n + left + right
        try:
            size, message = arith.conv_output_size(n, f, stride=stride, padding=padding), None
        except ValueError as reason:
            size, message = None, f"<b>Does not fit.</b> {reason}"
        starts = list(range(0, width - f + 1, stride)) if width >= f else []
        covered = np.zeros(width, bool)
        for s in starts:
            covered[s:s + f] = True
        ax = fig.subplots()
        for x in range(width):
            is_pad = x < left or x >= left + n
            colour = "0.85" if is_pad else ("tab:red" if not covered[x] else "tab:blue")
            ax.add_patch(Rectangle((x, 0), 0.95, 0.95, color=colour, alpha=0.35 if is_pad else 0.6))
            ax.text(x + 0.47, 0.47, "0" if is_pad else str(x - left), ha="center", va="center", fontsize=8)
        for row, s in enumerate(starts, start=1):
            ax.add_patch(Rectangle((s, -row * 0.7), f - 0.05, 0.5, color="tab:orange", alpha=0.8))
            ax.text(s - 0.3, -row * 0.7 + 0.25, f"{row}", ha="right", va="center", fontsize=8)
        ax.set_xlim(-1.5, max(width, 4) + 0.5)
        ax.set_ylim(-(len(starts) + 1) * 0.7, 1.3)
        ax.set_axis_off()
        formula = (f"(N - F + 2P)/S + 1 = ({n} - {f} + 2*{left})/{stride} + 1 = {(n - f + 2 * left) / stride + 1:g}"
                   if not isinstance(padding, str) else f"padding='{padding}'")
        dropped = int((~covered[left:left + n]).sum())
        ax.set_title(f"N={n}, F={f}, S={stride}, {formula}\nformula: {size if size else 'does not fit'}   "
                     f"{oracle_name}: {oracle(n, f, stride, padding)}   "
                     f"(blue: input pixels, grey: padding, red: {dropped} pixel(s) never seen)", fontsize=10)
        return message

    controls = {
        "n": widgets.IntSlider(value=n, min=1, max=16, description="N (input)", continuous_update=False),
        "f": widgets.IntSlider(value=f, min=1, max=7, description="F (filter)", continuous_update=False),
        "stride": widgets.IntSlider(value=stride, min=1, max=4, description="S (stride)", continuous_update=False),
        "mode": widgets.ToggleButtons(options=["a number P", "valid", "same"], value=mode, description="padding"),
        "pad": widgets.IntSlider(value=pad, min=0, max=3, description="P", continuous_update=False),
    }
    return LiveFigure(draw, controls, figsize=(9, 3.6))
