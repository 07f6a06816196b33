"""Compare two Keras functional models by structure, with a readable first difference.

Grading "build this block with the functional API" by parameter counts alone
lets wrong models through (DLS's comparator was fooled by pinned constants), and
grading by layer names is pedantic. This compares what matters: for every
layer, its type, output shape, parameter count, the settings that change what
it computes (padding, strides, kernel, activation, bias...) and which layers
feed it. Layers are put in a canonical order (by depth from the input, then by
description), so two correct models that create their branches in a different
order, or name their layers differently, compare equal.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from course.grading import GradingError

# Settings that change what a layer computes; names and initialisers do not.
_SETTINGS = ("filters", "units", "kernel_size", "strides", "padding", "pool_size", "dilation_rate",
             "groups", "use_bias", "activation", "rate", "axis", "epsilon", "center", "scale",
             "depth_multiplier", "size", "cropping", "target_shape")


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    kind: str
    output_shape: tuple
    params: int
    settings: tuple  # sorted (name, value) pairs
    depth: int
    inputs: tuple = ()  # canonical positions of the layers feeding this one

    def describe(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.settings)
        return (f"{self.kind} with output {self.output_shape}, {self.params:,} parameters"
                + (f", {settings}" if settings else ""))


def _setting_value(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):  # serialised activation
        return value.get("config", {}).get("name", value.get("class_name"))
    return value


def _parents(layer) -> list:
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return []
    return [node.operation for node in nodes[0].parent_nodes]


def depths(model) -> dict:
    """Each layer of a functional model -> its depth from the input (the input layer is 0)."""
    depth: dict = {}

    def visit(layer) -> int:
        if layer not in depth:
            parents = _parents(layer)
            depth[layer] = 0 if not parents else 1 + max(visit(p) for p in parents)
        return depth[layer]

    for layer in model.layers:
        visit(layer)
    return depth


def layer_specs(model) -> list[LayerSpec]:
    """The model as a canonical list of layer descriptions."""
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a keras.Model, got {type(model).__name__}: return "
                        "keras.Model(inputs, outputs) from your function")
    depth = depths(model)
    raw = {}
    for layer in model.layers:
        config = layer.get_config()
        settings = {k: _setting_value(config[k]) for k in _SETTINGS if k in config}
        window = settings.get("kernel_size", settings.get("pool_size"))
        if window is not None and set(window) == {1}:
            settings.pop("padding", None)  # a 1x1 window gives the same output with 'same' or 'valid'
        settings = tuple(sorted(settings.items()))
        raw[layer] = LayerSpec(type(layer).__name__, tuple(layer.output.shape[1:]),
                               int(layer.count_params()), settings, depth[layer])
    order = sorted(model.layers, key=lambda l: (raw[l].depth, raw[l].kind, str(raw[l].output_shape),
                                                 raw[l].params, str(raw[l].settings)))
    position = {layer: i for i, layer in enumerate(order)}
    return [dataclasses.replace(raw[l], inputs=tuple(sorted(position[p] for p in _parents(l) if p in position)))
            for l in order]


def differences(student, reference) -> list[str]:
    """Human-readable differences between two models, most telling first (empty: same)."""
    mine, ref = layer_specs(student), layer_specs(reference)
    diffs = []
    params_mine, params_ref = sum(s.params for s in mine), sum(s.params for s in ref)
    if tuple(student.output.shape[1:]) != tuple(reference.output.shape[1:]):
        diffs.append(f"the model's output shape is {tuple(student.output.shape[1:])}, "
                     f"expected {tuple(reference.output.shape[1:])}")
    for i, (a, b) in enumerate(zip(mine, ref)):
        if (a.kind, a.output_shape, a.params, a.settings) != (b.kind, b.output_shape, b.params, b.settings):
            diffs.append(f"layer {i} (depth {b.depth} from the input): expected {b.describe()};\n"
                         f"    yours is {a.describe()}")
            break
        if a.inputs != b.inputs:
            diffs.append(f"layer {i} ({b.kind}) is fed by the wrong layers: expected the outputs of "
                         f"{[ref[j].kind for j in b.inputs]}, yours takes {[mine[j].kind for j in a.inputs]}")
            break
    if len(mine) != len(ref):
        kinds = lambda specs: sorted({s.kind for s in specs})  # noqa: E731
        diffs.append(f"your model has {len(mine)} layers, expected {len(ref)} "
                     f"(types expected: {kinds(ref)}; yours: {kinds(mine)})")
    if params_mine != params_ref:
        diffs.append(f"your model has {params_mine:,} parameters, expected {params_ref:,}")
    return diffs


def expect_same_structure(student, reference, what: str, hint: str | None = None, quiet: bool = False) -> None:
    """Raise a `GradingError` naming the first structural difference, or print a tick."""
    found = differences(student, reference)
    if found:
        raise GradingError(what, "the structure differs from the expected one.\n" + "\n".join(found), hint)
    if not quiet:
        print(f"\u2714 {what}: same layers, shapes, parameters and wiring")
