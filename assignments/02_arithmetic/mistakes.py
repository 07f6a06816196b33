"""Wrong-but-plausible answers to assignment 02_arithmetic; each one must lose points.

``MISTAKES[description][grade_id]`` is the full source of a solution cell written
wrongly. Each function is written out from a template with only the wrong line(s)
changed, so a reader sees exactly what the mistake is.
"""

OUTPUT_SIZE = '''def conv_output_size(n, f, stride=1, padding=0):
    if padding == "same":
        return {same}
    if padding == "valid":
        if f > n:
            raise ValueError("filter larger than the input")
        return {valid}
    if isinstance(padding, bool) or not isinstance(padding, int):
        raise ValueError(f"padding must be an int, 'valid' or 'same', got {{padding!r}}")
    span = {span}
    if span < 0:
        raise ValueError("filter larger than the padded input")
    {fit_check}
    return {result}
'''

CORRECT_OUTPUT_SIZE = dict(
    same="-(-n // stride)", valid="(n - f) // stride + 1", span="n - f + 2 * padding",
    fit_check='if span % stride:\n        raise ValueError("the filter does not fit")',
    result="span // stride + 1")


def output_size(**wrong: str) -> dict:
    return {"conv_output_size": OUTPUT_SIZE.format(**(CORRECT_OUTPUT_SIZE | wrong))}


def params(body: str) -> dict:
    return {"conv_params": f"def conv_params(f, c_in, k, bias=True):\n    return {body}\n"}


RECEPTIVE_FIELD = '''def receptive_field(kernel_sizes, strides=None):
    if strides is None:
        strides = [1] * len(kernel_sizes)
    if len(strides) != len(kernel_sizes):
        raise ValueError("one stride per layer")
    field, jump = 1, 1
    for size, stride in zip(kernel_sizes, strides):
{loop}
    return field
'''


def receptive_field(loop: str) -> dict:
    return {"receptive_field": RECEPTIVE_FIELD.format(loop=loop)}


def macs(body: str) -> dict:
    return {"conv_macs": ("def conv_macs(n, c_in, f, k, stride=1, padding=0):\n"
                          "    out = conv_output_size(n, f, stride, padding)\n"
                          f"    return {body}\n")}


VOLUME_TABLE = '''def volume_table(input_shape, layers):
    shape = tuple(input_shape)
    rows = []
    for layer in layers:
        if layer["kind"] == "conv":
            n, c_in = shape[0], shape[2]
            size = conv_output_size(n, layer["size"], layer["stride"], layer["padding"])
            new_shape = (size, size, layer["filters"])
            params = {conv_params}
            macs = conv_macs(n, c_in, layer["size"], layer["filters"], layer["stride"], layer["padding"])
        elif layer["kind"] == "pool":
            size = conv_output_size(shape[0], layer["size"], layer["stride"], "valid")
            new_shape, params, macs = (size, size, shape[2]), 0, 0
        else:
            inputs = {fc_inputs}
            new_shape = (layer["units"],)
            params, macs = {fc_params}, inputs * layer["units"]
        rows.append({{"name": layer["name"], "shape": new_shape, "memory": {memory},
                     "params": params, "macs": macs}})
        shape = new_shape
    return rows
'''

CORRECT_TABLE = dict(conv_params='conv_params(layer["size"], c_in, layer["filters"])',
                     fc_inputs="math.prod(shape)", fc_params='inputs * layer["units"] + layer["units"]',
                     memory="math.prod(new_shape)")


def table(**wrong: str) -> dict:
    return {"volume_table": VOLUME_TABLE.format(**(CORRECT_TABLE | wrong))}


MISTAKES = {
    # output size
    "output size off by one (the + 1 forgotten)": output_size(result="span // stride", valid="(n - f) // stride"),
    "'same' computed as N // S (rounded down)": output_size(same="n // stride"),
    "'same' ignoring the stride": output_size(same="n"),
    "padding counted once instead of twice": output_size(span="n - f + padding"),
    "a filter that doesn't fit is silently accepted": output_size(fit_check="pass"),
    "true division: the output size is a float": output_size(result="span / stride + 1"),
    "'valid' refuses what Keras accepts (rounding down)": output_size(
        valid='(n - f) // stride + 1 if (n - f) % stride == 0 else conv_output_size(n, f, stride, 0)'),
    # parameters
    "bias forgotten in the parameter count": params("f * f * c_in * k"),
    "bias counted even with bias=False": params("f * f * c_in * k + k"),
    "input channels forgotten in the parameter count": params("f * f * k + (k if bias else 0)"),
    # receptive field
    "receptive field ignoring the strides": receptive_field("        field += size - 1"),
    "receptive field using each layer's own stride": receptive_field(
        "        jump *= stride\n        field += (size - 1) * jump"),
    "receptive field adding up the kernel sizes": receptive_field(
        "        field += size\n    field -= 1"),
    # multiply-adds
    "multiply-adds over the input size (stride ignored)": macs("n * n * k * f * f * c_in"),
    "FLOPs (2 per multiply-add) instead of multiply-adds": macs("2 * out * out * k * f * f * c_in"),
    "the bias counted as a multiply-add": macs("out * out * k * (f * f * c_in + 1)"),
    # tables
    "table: conv biases forgotten": table(conv_params='conv_params(layer["size"], c_in, layer["filters"], bias=False)'),
    "table: fully connected biases forgotten": table(fc_params='inputs * layer["units"]'),
    "table: fully connected layer sees only the channels (no flatten)": table(fc_inputs="shape[-1]"),
    "table: memory counts one channel only": table(memory="math.prod(new_shape[:2])"),
}
