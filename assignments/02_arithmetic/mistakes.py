"""Wrong-but-plausible answers to assignment 02_arithmetic; the tests must reject every one.

Each mistake is the source solution with one small edit, so the difference between
a right and a wrong submission is exactly the mistake named in the key. Building
them from the solution (rather than retyping it) keeps the two in step: if the
solution changes so that an edit no longer applies, importing this module fails
and says which mistake to update.

MISTAKES = {"description": {"<solution cell grade_id>": "<full replacement source of that cell>"}}
"""
from __future__ import annotations

from autograder.samples.edits import SolutionEdits

_edit = SolutionEdits("02_arithmetic").edit

_SAME = "return -(-n // stride)"
_VALID = "return (n - f) // stride + 1"
_RESULT = "return span // stride + 1"
_FIELD = "field += (size - 1) * jump"
_FC_INPUTS = "inputs = math.prod(shape)"

MISTAKES = {
    # output size
    "output size off by one (the + 1 forgotten)":
        _edit("conv_output_size", (_RESULT, "return span // stride"), (_VALID, "return (n - f) // stride")),
    "'same' computed as N // S (rounded down)":
        _edit("conv_output_size", (_SAME, "return n // stride")),
    "'same' ignoring the stride":
        _edit("conv_output_size", (_SAME, "return n")),
    "padding counted once instead of twice":
        _edit("conv_output_size", ("span = n - f + 2 * padding", "span = n - f + padding")),
    "a filter that doesn't fit is silently accepted":
        _edit("conv_output_size", ("if span % stride:", "if False:  # the fit check, switched off")),
    "true division: the output size is a float":
        _edit("conv_output_size", (_RESULT, "return span / stride + 1")),
    "'valid' refuses what Keras accepts (rounding down)":
        _edit("conv_output_size", (_VALID, _VALID + " if (n - f) % stride == 0 else conv_output_size(n, f, stride, 0)")),
    # parameters
    "bias forgotten in the parameter count":
        _edit("conv_params", (" + (1 if bias else 0)", "")),
    "bias counted even with bias=False":
        _edit("conv_params", ("(1 if bias else 0)", "1")),
    "input channels forgotten in the parameter count":
        _edit("conv_params", ("f * f * c_in", "f * f")),
    # receptive field
    "receptive field ignoring the strides":
        _edit("receptive_field", (_FIELD, "field += size - 1")),
    "receptive field using each layer's own stride":
        _edit("receptive_field", (f"{_FIELD}\n        jump *= stride", f"jump *= stride\n        {_FIELD}")),
    "receptive field adding up the kernel sizes":
        _edit("receptive_field", (_FIELD, "field += size"), ("return field", "return field - 1")),
    # multiply-adds
    "multiply-adds over the input size (stride ignored)":
        _edit("conv_macs", ("return out * out", "return n * n")),
    "FLOPs (2 per multiply-add) instead of multiply-adds":
        _edit("conv_macs", ("return out * out", "return 2 * out * out")),
    "the bias counted as a multiply-add":
        _edit("conv_macs", ("f * f * c_in", "(f * f * c_in + 1)")),
    # tables
    "table: conv biases forgotten":
        _edit("volume_table", ('conv_params(layer["size"], c_in, layer["filters"])',
                               'conv_params(layer["size"], c_in, layer["filters"], bias=False)')),
    "table: fully connected biases forgotten":
        _edit("volume_table", ('inputs * layer["units"] + layer["units"]', 'inputs * layer["units"]')),
    "table: fully connected layer sees only the channels (no flatten)":
        _edit("volume_table", (_FC_INPUTS, "inputs = shape[-1]")),
    "table: memory counts one channel only":
        _edit("volume_table", ('"memory": math.prod(new_shape)', '"memory": math.prod(new_shape[:2])')),
}
