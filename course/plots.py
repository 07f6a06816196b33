"""Small drawing helpers shared by the lecture demos (matplotlib only, no pyplot state)."""
from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle


def number_grid(ax, values: np.ndarray, title: str = "", highlight: tuple[int, int, int, int] | None = None,
                cmap: str = "Blues", fmt: str = "{:g}", faded: np.ndarray | None = None,
                color: str = "crimson") -> None:
    """A small matrix drawn as coloured cells with its numbers, as on the slides.

    ``highlight=(row, col, height, width)`` frames a window (the filter's
    current position); ``faded`` is a boolean mask of cells drawn pale (padding,
    or outputs not computed yet).
    """
    values = np.asarray(values, dtype=float)
    shown = np.where(faded, np.nan, values) if faded is not None else values
    finite = values[np.isfinite(values)]
    span = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    ax.imshow(shown, cmap=cmap, vmin=-span, vmax=span)
    for (r, c), v in np.ndenumerate(values):
        if np.isfinite(v):
            pale = faded is not None and faded[r, c]
            dark_cell = abs(v) > 0.6 * span and not pale
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=8,
                    color="0.6" if pale else "white" if dark_cell else "black")
    if highlight is not None:
        r, c, h, w = highlight
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False, edgecolor=color, linewidth=2.5))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def image_panel(ax, image: np.ndarray, title: str = "", cmap: str = "gray") -> None:
    """A photo or feature map without axes; grayscale images get the full 0..255 range."""
    if image.ndim == 2:
        ax.imshow(image, cmap=cmap, vmin=0, vmax=255 if image.max() > 1.0 else 1.0)
    else:
        ax.imshow(image)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
