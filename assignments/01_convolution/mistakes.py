"""Wrong-but-plausible answers to assignment 01_convolution; the tests must reject every one.

Each mistake is the source solution with one small edit, so the difference between
a right and a wrong submission is exactly the mistake named in the key. Building
them from the solution (rather than retyping it) keeps the two in step: if the
solution changes so that an edit no longer applies, importing this module fails
and says which mistake to update.

MISTAKES = {"description": {"<solution cell grade_id>": "<full replacement source of that cell>"}}
"""
from __future__ import annotations

from autograder.samples.edits import SolutionEdits

_solution = SolutionEdits("01_convolution")
_edit = _solution.edit
_body = _solution.body

_ROUND = (("(height + 2 * pad - fh) // stride + 1", "round((height + 2 * pad - fh) / stride) + 1"),
          ("(width + 2 * pad - fw) // stride + 1", "round((width + 2 * pad - fw) / stride) + 1"))


def _pool_loops(out_h: str, out_w: str, rows: str, cols: str) -> dict[str, str]:
    """pool_forward as a student writes it with loops (the solution uses sliding windows), with the given
    output size and window slices, so that mistakes in those show up."""
    return _body("pool_forward", f"""
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {{mode!r}}")
    n_images, height, width, channels = x.shape
    out_h = {out_h}
    out_w = {out_w}
    out = np.zeros((n_images, out_h, out_w, channels))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, {rows}, {cols}, :]
            out[:, i, j, :] = window.max(axis=(1, 2)) if mode == "max" else window.mean(axis=(1, 2))
    return out
""")


MISTAKES = {
    # zero_pad
    "padding applied to the channel axis too":
        _edit("zero_pad", ("(pad, pad), (0, 0))", "(pad, pad), (pad, pad))")),
    "padding on one side only":
        _edit("zero_pad", ("((0, 0), (pad, pad), (pad, pad), (0, 0))", "((0, 0), (0, pad), (0, pad), (0, 0))")),
    # conv_forward_naive
    "true convolution (kernel flipped)":
        _edit("conv_forward_naive", ("window * w[:, :, :, k]", "window * w[::-1, ::-1, :, k]")),
    "bias forgotten":
        _edit("conv_forward_naive", ("np.sum(window * w[:, :, :, k]) + b[k]", "np.sum(window * w[:, :, :, k])")),
    "off-by-one output size (no + 1)":
        _edit("conv_forward_naive", ("// stride + 1", "// stride")),
    "padding left out of the output size":
        _edit("conv_forward_naive", ("height + 2 * pad - fh", "height - fh"), ("width + 2 * pad - fw", "width - fw")),
    "stride ignored when slicing the window":
        _edit("conv_forward_naive", ("x_pad[n, i * stride:i * stride + fh, j * stride:j * stride + fw, :]",
                                     "x_pad[n, i:i + fh, j:j + fw, :]")),
    "input never padded":
        _edit("conv_forward_naive", ("x_pad = zero_pad(x, pad)", "x_pad = x")),
    "bias added inside the window sum (counted FH*FW*C times)":
        _edit("conv_forward_naive", ("np.sum(window * w[:, :, :, k]) + b[k]", "np.sum(window * w[:, :, :, k] + b[k])")),
    "output size with round() instead of floor":
        _edit("conv_forward_naive", *_ROUND),
    # im2col
    "im2col columns in (channel, u, v) order":
        _edit("im2col", ("transpose(0, 1, 2, 4, 5, 3)", "transpose(0, 1, 2, 3, 4, 5)")),
    "im2col ignores the stride":
        _edit("im2col", ("windows = windows[:, ::stride, ::stride]", "windows = windows")),
    # conv_forward_im2col
    "im2col convolution without bias":
        _edit("conv_forward_im2col", ("w.reshape(-1, n_filters) + b", "w.reshape(-1, n_filters)")),
    "filters flattened in (channel, u, v) order":
        _edit("conv_forward_im2col", ("@ w.reshape(-1, n_filters)", "@ w.transpose(2, 0, 1, 3).reshape(-1, n_filters)")),
    "im2col convolution with a flipped kernel":
        _edit("conv_forward_im2col", ("@ w.reshape(-1, n_filters)", "@ w[::-1, ::-1].reshape(-1, n_filters)")),
    "im2col convolution: output size with round() instead of floor":
        _edit("conv_forward_im2col", *_ROUND),
    # pool_forward
    "average instead of max pooling":
        _edit("pool_forward", ("return windows.max(axis=(-2, -1))", "return windows.mean(axis=(-2, -1))")),
    "max pooling for mode='avg' too":
        _edit("pool_forward", ("return windows.mean(axis=(-2, -1))", "return windows.max(axis=(-2, -1))")),
    "pooling ignores the stride":
        _edit("pool_forward", ("[:, ::stride, ::stride]", "")),
    "pooling windows start at (i, j), ignoring the stride (loops)":
        _pool_loops("(height - size) // stride + 1", "(width - size) // stride + 1", "i:i + size", "j:j + size"),
    "pooling output size with round() instead of floor (loops)":
        _pool_loops("round((height - size) / stride) + 1", "round((width - size) / stride) + 1",
                    "i * stride:i * stride + size", "j * stride:j * stride + size"),
    # depthwise_weights
    "one kernel connects every pair of channels":
        _edit("depthwise_weights", ("weights[:, :, c, c] = kernel", "weights[:, :, :, c] = kernel[:, :, None]")),
    "kernel transposed":
        _edit("depthwise_weights", ("weights[:, :, c, c] = kernel", "weights[:, :, c, c] = kernel.T")),
}
