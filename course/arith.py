"""Convolution arithmetic: output sizes, parameters, receptive fields, multiply-adds.

The formulas of the lectures, with the corner cases they warn about:
``(N - F + 2P) / S + 1`` must be a whole number for a filter to "fit", while
Keras' ``"valid"`` drops the leftover border and ``"same"`` pads so that the
output is ``ceil(N / S)``. `layer_table` applies the same bookkeeping to any
Keras model, layer by layer, as the VGG-16 slide does by hand. The lectures'
networks are here as data too (`ALEXNET`, `VGG16`: lists of `conv`, `pool` and
`fc` layer specs), for assignment 02 to fill their tables.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Iterable, Sequence

Padding = int | str


def _check_size(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}; "
                        f"pass a whole number such as {name}={max(minimum, 1)}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _window_output_size(n: int, f: int, stride: int, padding: Padding, what: str) -> int:
    """Shared by convolution and pooling: they slide a window the same way."""
    n = _check_size(n, "n")
    f = _check_size(f, "f")
    stride = _check_size(stride, "stride")
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "same":
            return -(-n // stride)  # ceil(n / stride), whatever the filter size
        if mode == "valid":
            if f > n:
                raise ValueError(f"a {f}x{f} {what} does not fit in a {n}x{n} input with 'valid' "
                                 f"padding; use padding='same', a smaller {what} or a larger input")
            return (n - f) // stride + 1
        raise ValueError(f"padding must be an int, 'valid' or 'same', got {padding!r}")
    p = _check_size(padding, "padding", minimum=0)
    span = n + 2 * p - f
    if span < 0:
        raise ValueError(f"a {f}x{f} {what} is larger than the padded input {n}+2*{p}={n + 2 * p}; "
                         f"pad by at least {math.ceil((f - n) / 2)} or use a smaller {what}")
    if span % stride:
        fitting = [s for s in range(1, stride + 3) if span % s == 0 and s != stride]
        raise ValueError(
            f"a {f}x{f} {what} with stride {stride} and padding {p} does not fit a {n}x{n} input: "
            f"(N - F + 2P) / S + 1 = ({n} - {f} + 2*{p}) / {stride} + 1 = {span / stride + 1:.2f} "
            f"is not a whole number; change the stride (e.g. {fitting[:3]}) or the padding")
    return span // stride + 1


def conv_output_size(n: int, f: int, stride: int = 1, padding: Padding = 0) -> int:
    """Spatial output size of an f x f convolution over an n x n input.

    ``padding`` is an int (zero padding on each side: the lecture's formula,
    which must divide evenly), or ``"valid"`` / ``"same"`` with Keras semantics.
    """
    return _window_output_size(n, f, stride, padding, "filter")


def pool_output_size(n: int, f: int, stride: int | None = None, padding: Padding = "valid") -> int:
    """Spatial output size of pooling; stride defaults to the window, as in Keras."""
    return _window_output_size(n, f, f if stride is None else stride, padding, "pooling window")


def conv_params(f: int, c_in: int, k: int, bias: bool = True) -> int:
    """Learnable parameters of k filters of size f x f x c_in (plus one bias each)."""
    f, c_in, k = _check_size(f, "f"), _check_size(c_in, "c_in"), _check_size(k, "k")
    return f * f * c_in * k + (k if bias else 0)


def receptive_field(kernel_sizes: Sequence[int], strides: Sequence[int] | None = None) -> int:
    """Input pixels seen (along one axis) by one unit at the top of a stack of layers.

    Each layer adds ``(k - 1) * (product of the strides below it)``.
    """
    kernel_sizes = [_check_size(k, "kernel size") for k in kernel_sizes]
    strides = [1] * len(kernel_sizes) if strides is None else [_check_size(s, "stride") for s in strides]
    if len(strides) != len(kernel_sizes):
        raise ValueError(f"got {len(kernel_sizes)} kernel sizes but {len(strides)} strides; "
                         "give one stride per layer (or none for stride 1 everywhere)")
    field, jump = 1, 1
    for k, s in zip(kernel_sizes, strides):
        field += (k - 1) * jump
        jump *= s
    return field


# --------------------------------------------------------------------------- the lectures' networks as data

def conv(name: str, filters: int, size: int, stride: int = 1, padding: Padding = 0) -> dict:
    """One convolutional layer of a layer spec: ``filters`` of ``size`` x ``size``, padding as above."""
    return {"kind": "conv", "name": name, "filters": filters, "size": size, "stride": stride, "padding": padding}


def pool(name: str, size: int = 2, stride: int = 2) -> dict:
    """One max-pooling layer of a layer spec (no padding)."""
    return {"kind": "pool", "name": name, "size": size, "stride": stride}


def fc(name: str, units: int) -> dict:
    """One fully connected layer of a layer spec (it flattens its input volume)."""
    return {"kind": "fc", "name": name, "units": units}


ALEXNET = [  # the lecture's "full (simplified) AlexNet", input 227x227x3; normalisation layers and ReLUs left out
    conv("CONV1", 96, 11, stride=4, padding=0), pool("POOL1", 3, 2),
    conv("CONV2", 256, 5, padding=2), pool("POOL2", 3, 2),
    conv("CONV3", 384, 3, padding=1), conv("CONV4", 384, 3, padding=1), conv("CONV5", 256, 3, padding=1),
    pool("POOL3", 3, 2), fc("FC6", 4096), fc("FC7", 4096), fc("FC8", 1000),
]


def vgg16(fc_units: int = 4096, classes: int = 1000) -> list[dict]:
    """VGG-16 (configuration D): 3x3 convs with stride 1 and pad 1, 2x2 max-pools with stride 2."""
    layers = []
    for block, (convs, filters) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], start=1):
        layers += [conv(f"CONV{block}_{i}", filters, 3, padding=1) for i in range(1, convs + 1)]
        layers.append(pool(f"POOL{block}"))
    return layers + [fc("FC6", fc_units), fc("FC7", fc_units), fc("FC8", classes)]


VGG16 = vgg16()  # input 224x224x3


# --------------------------------------------------------------------------- model bookkeeping

def _shape_of(tensor_or_shape) -> tuple:
    shape = getattr(tensor_or_shape, "shape", tensor_or_shape)
    return tuple(shape)


def _numel(shape: Iterable) -> int:
    return math.prod(int(d) for d in shape if d is not None)


def layer_macs(layer, input_shape, output_shape) -> int:
    """Multiply-adds of one forward pass of one layer for a batch of one.

    Convolutions and dense layers (the FLOP counts in the papers' tables).
    Normalisation, activations, pooling and additions are counted as zero, as
    the papers do. A custom layer can report its own cost by defining
    ``count_macs(input_shape, output_shape)``.
    """
    import keras

    if hasattr(layer, "count_macs"):
        return int(layer.count_macs(input_shape, output_shape))
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return _numel(output_shape[1:]) * kh * kw
    if isinstance(layer, keras.layers.SeparableConv2D):
        kh, kw = layer.kernel_size
        c_in = input_shape[-1]
        depth_out = _numel(output_shape[1:-1]) * c_in * layer.depth_multiplier
        return depth_out * kh * kw + depth_out * output_shape[-1]
    if isinstance(layer, keras.layers.Conv2DTranspose):
        kh, kw = layer.kernel_size
        return _numel(input_shape[1:]) * kh * kw * layer.filters
    if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv1D | keras.layers.Conv3D):
        kernel = math.prod(layer.kernel_size)
        c_in = input_shape[-1] // getattr(layer, "groups", 1)
        return _numel(output_shape[1:]) * kernel * c_in
    if isinstance(layer, keras.layers.Dense):
        return _numel(output_shape[1:]) * input_shape[-1]
    return 0


@dataclasses.dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple
    params: int
    macs: int
    activations: int  # values in the output volume of one image (0 for Flatten/Reshape: a view)

    @property
    def activation_bytes(self) -> int:
        return 4 * self.activations  # float32


@dataclasses.dataclass
class ModelTable:
    """Per-layer bookkeeping of a model, with totals; prints like the lecture slides."""

    model_name: str
    rows: list[LayerRow]

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def total_activations(self) -> int:
        return sum(r.activations for r in self.rows)

    def frame(self):
        """The table as a pandas DataFrame (one row per layer)."""
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(r) | {"activation_bytes": r.activation_bytes}
                             for r in self.rows])

    def compare_total_activations(self, claimed: float, label: str = "the slide") -> str:
        """Say whether a claimed total activation count agrees with the per-layer sum."""
        measured = self.total_activations
        ratio = claimed / measured
        verdict = ("agrees with" if abs(ratio - 1) < 0.05 else
                   f"disagrees with (x{ratio:.2f} of)")
        return (f"{label} claims {claimed / 1e6:.1f}M activations per image; this {verdict} "
                f"the per-layer sum of {measured / 1e6:.1f}M "
                f"({4 * measured / 2**20:.0f} MiB at 4 bytes, forward pass only)")

    def __str__(self) -> str:
        lines = [f"{'layer':<24}{'type':<20}{'output':<20}{'params':>13}{'MACs':>16}{'memory':>12}"]
        for r in self.rows:
            shape = "x".join(str(d) for d in r.output_shape[1:])
            lines.append(f"{r.name[:23]:<24}{r.kind[:19]:<20}{shape:<20}{r.params:>13,}"
                         f"{r.macs:>16,}{r.activations:>12,}")
        lines.append(f"{'TOTAL':<64}{self.total_params:>13,}{self.total_macs:>16,}"
                     f"{self.total_activations:>12,}")
        lines.append(f"activation memory per image: {self.total_activations / 1e6:.1f}M values "
                     f"= {4 * self.total_activations / 2**20:.1f} MiB (float32, forward only)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.frame().to_html(index=False)


def _leaf_layers(model):
    """Layers of a model in order, descending into nested models."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model) and layer.layers:
            yield from _leaf_layers(layer)
        else:
            yield layer


def _require_built_model(model):
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a keras.Model, got {type(model).__name__}; "
                        "build one with course.models.build(...) or keras.Model(inputs, outputs)")
    if not model.built or not model.inputs:
        raise ValueError("the model has no defined input shape yet; build it with an Input layer "
                         "(functional API) or call model.build((None, H, W, C)) first")


def layer_table(model) -> ModelTable:
    """Output shape, parameters, multiply-adds and activation memory of every layer."""
    _require_built_model(model)
    import keras

    aliasing = (keras.layers.Flatten, keras.layers.Reshape)  # views of their input: no new memory
    rows = []
    for layer in _leaf_layers(model):
        out_shape = _shape_of(layer.output)
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
        in_shape = _shape_of(inputs[0]) if inputs else out_shape  # an InputLayer has no input
        rows.append(LayerRow(
            name=layer.name, kind=type(layer).__name__, output_shape=out_shape,
            params=int(layer.count_params()),
            macs=layer_macs(layer, in_shape, out_shape),
            activations=0 if isinstance(layer, aliasing) else _numel(out_shape[1:]),
        ))
    return ModelTable(model.name, rows)


def model_macs(model) -> int:
    """Multiply-adds of one forward pass of a Keras model, for one image."""
    return layer_table(model).total_macs
