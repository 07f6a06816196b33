"""The table of builder names behind `course.models.names()` and `course.models.build()`."""
from __future__ import annotations

import inspect
from typing import Callable

import keras

_BUILDERS: dict[str, tuple[Callable[..., keras.Model], dict]] = {}


def register(name: str, builder: Callable[..., keras.Model], **fixed) -> None:
    """Make ``build(name)`` call ``builder(**fixed, ...)``; ``fixed`` options cannot be overridden."""
    if name in _BUILDERS:
        raise ValueError(f"model name {name!r} is registered twice")
    _BUILDERS[name] = (builder, fixed)


def names() -> list[str]:
    """Every builder name, from LeNet-5 to DenseNet, in the lectures' order."""
    return list(_BUILDERS)


def options(name: str) -> dict:
    """The options ``build(name, ...)`` accepts, with their defaults."""
    builder, fixed = _lookup(name)
    return {p.name: p.default for p in inspect.signature(builder).parameters.values()
            if p.name not in fixed and p.name not in ("input_shape", "num_classes")}


def _lookup(name: str):
    """The builder and fixed options registered as ``name``, or a ValueError listing the names."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(_BUILDERS)}")
    return _BUILDERS[name]


def build(name: str, input_shape=None, num_classes: int | None = None, **opts) -> keras.Model:
    """Build the named architecture as a functional keras.Model, by default in its paper's configuration.

    Args:
        name: one of `names()`.
        input_shape: (height, width, channels) of the images; None keeps the paper's, and
            ``(28, 28, 1)`` with ``num_classes=10`` adapts the model to Fashion-MNIST.
        num_classes: the number of outputs; None keeps the paper's.
        **opts: the builder's options (`options(name)` lists them), except those ``name`` fixes.

    Returns:
        The model, named ``name``.
    """
    builder, fixed = _lookup(name)
    allowed = options(name)
    if clash := sorted(set(opts) & set(fixed)):
        raise ValueError(f"{name!r} fixes {', '.join(f'{k}={fixed[k]!r}' for k in clash)}; "
                         f"build the family's generic model to choose it")
    if unknown := sorted(set(opts) - set(allowed)):
        raise ValueError(f"{name!r} has no option {', '.join(unknown)}; its options are: "
                         f"{', '.join(f'{k}={v!r}' for k, v in allowed.items())}")
    kwargs = {"name": name} | fixed | opts
    if input_shape is not None:
        kwargs["input_shape"] = tuple(input_shape)
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    return builder(**kwargs)
