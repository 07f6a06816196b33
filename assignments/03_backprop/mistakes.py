"""Wrong-but-plausible answers to assignment 03_backprop; the tests must reject every one.

Each mistake is the source solution with one small edit, so the difference between
a right and a wrong submission is exactly the mistake named in the key. Building
them from the solution (rather than retyping it) keeps the two in step: if the
solution changes so that an edit no longer applies, importing this module fails
and says which mistake to update.

MISTAKES = {"description": {"<solution cell grade_id>": "<full replacement source of that cell>"}}
"""
from __future__ import annotations

from autograder.samples.edits import SolutionEdits

_solution = SolutionEdits("03_backprop")
_edit = _solution.edit


_DW = "dw[u, v] = np.tensordot(x_pad[:, rows, cols, :], dout, axes=([0, 1, 2], [0, 1, 2]))"
_DX = "dx_pad[:, rows, cols, :] += dout @ w[u, v].T"
_ROUTE = "np.put_along_axis(routed, winner, dout[:, i, j, None, :], axis=1)"

MISTAKES = {
    # conv_backward: db
    "db averaged instead of summed":
        _edit("conv_backward", ("db = dout.sum(axis=(0, 1, 2))", "db = dout.mean(axis=(0, 1, 2))")),
    "db summed over the batch only":
        _edit("conv_backward", ("db = dout.sum(axis=(0, 1, 2))", "db = dout.sum(axis=0)")),
    # conv_backward: dW
    "dW missing the sum over the batch (first image only)":
        _edit("conv_backward", (_DW, "dw[u, v] = np.tensordot(x_pad[0, rows, cols, :], dout[0], axes=([0, 1], [0, 1]))")),
    "dW averaged over the batch":
        _edit("conv_backward", (_DW, _DW + " / len(x)")),
    "dW flipped (true convolution of input and upstream gradient)":
        _edit("conv_backward", (_DW, _DW.replace("dw[u, v]", "dw[fh - 1 - u, fw - 1 - v]"))),
    # conv_backward: dX
    "dX with the kernel rotated the wrong way (scattered through w[FH-1-u, FW-1-v])":
        _edit("conv_backward", (_DX, "dx_pad[:, rows, cols, :] += dout @ w[fh - 1 - u, fw - 1 - v].T")),
    "dX keeps the padding":
        _edit("conv_backward", ("dx = dx_pad[:, pad:pad + height, pad:pad + width, :]", "dx = dx_pad")),
    "dX cropped on the wrong side":
        _edit("conv_backward", ("dx = dx_pad[:, pad:pad + height, pad:pad + width, :]", "dx = dx_pad[:, :height, :width, :]")),
    "dX written with = instead of += (overlapping windows overwrite each other)":
        _edit("conv_backward", (_DX, _DX.replace("+=", "="))),
    # conv_backward: stride
    "stride ignored in the backward pass":
        _edit("conv_backward", ("slice(u, u + stride * out_h, stride)", "slice(u, u + out_h)"),
              ("slice(v, v + stride * out_w, stride)", "slice(v, v + out_w)")),
    # conv_backward: output size (the solution reads it from dout; a student who computes it may round)
    "conv_backward computing the output size with round() instead of floor":
        _edit("conv_backward", ("_, out_h, out_w, _ = dout.shape",
                                "out_h = round((height + 2 * pad - fh) / stride) + 1\n"
                                "    out_w = round((width + 2 * pad - fw) / stride) + 1")),
    # max_pool_backward
    "gradient sent to every element of the pooling window":
        _edit("max_pool_backward", (_ROUTE, "routed[:] = dout[:, i, j, None, :]")),
    "gradient averaged over the pooling window":
        _edit("max_pool_backward", (_ROUTE, "routed[:] = dout[:, i, j, None, :] / (size * size)")),
    "gradient routed to the minimum":
        _edit("max_pool_backward", ("window.argmax(axis=1)", "window.argmin(axis=1)")),
    "overlapping windows overwrite instead of accumulate":
        _edit("max_pool_backward", ("dx[:, rows, cols, :] += routed", "dx[:, rows, cols, :] = routed")),
    "pooling windows start at (i, j), ignoring the stride, in the backward pass":
        _edit("max_pool_backward", ("slice(i * stride, i * stride + size)", "slice(i, i + size)"),
              ("slice(j * stride, j * stride + size)", "slice(j, j + size)")),
    "max_pool_backward computing the output size with round() instead of floor":
        _edit("max_pool_backward", ("_, out_h, out_w, _ = dout.shape",
                                    "out_h, out_w = (round((n - size) / stride) + 1 for n in x.shape[1:3])")),
    # block_backward
    "residual block without the identity path (1 + F'(a) becomes F'(a))":
        _edit("block_backward", ("return da + dz if residual else da", "return da")),
    "identity path added to plain blocks too":
        _edit("block_backward", ("return da + dz if residual else da", "return da + dz")),
    "ReLU derivative left out":
        _edit("block_backward", ("(dz @ w2.T) * (hidden > 0)", "(dz @ w2.T)")),
    "ReLU output used as its derivative":
        _edit("block_backward", ("* (hidden > 0)", "* np.maximum(hidden, 0)")),
    "weights not transposed on the way back":
        _edit("block_backward", ("dz @ w2.T", "dz @ w2"), ("d_hidden @ w1.T", "d_hidden @ w1")),
}
