"""The data-only channel between the judge and the student's kernel.

Everything that crosses it is JSON built from a closed set of tagged values:
numbers, strings, bytes, None, tuples/lists/dicts/sets of those, NumPy arrays
of non-object dtype (subclasses become plain arrays), TensorFlow tensors (as
arrays), Keras models (as ``.keras`` archives, loaded with ``safe_mode=True``),
Keras objects such as losses and optimizers (as their serialized config),
symbolic Keras tensors (as a shape and dtype), and *handles*: numbers that
stand for an object which stays on the side that owns it. Nothing is ever
pickled, and no object of one process is ever reachable from the other, so
student code cannot walk into the judge and a forged message can at worst
be a wrong answer.

This file is also executed inside the student's kernel (its source is sent
there by `autograder.judged`), so it imports only the standard library and
NumPy at the top; TensorFlow and Keras are imported when a value needs them.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import sys
import tempfile
from typing import Any, Callable

import numpy as np

MAX_MESSAGE_BYTES = 256 * 1024 * 1024   # one answer or request, encoded
MAX_DEPTH = 64                          # nesting of containers
ALLOWED_ARRAY_KINDS = "biufcSUMm"       # bool, ints, floats, complex, bytes, str, datetimes; never objects


class ChannelError(TypeError):
    """A value cannot cross the channel, or a message is not a well-formed one."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ChannelError("malformed message: expected base64 text")
    return base64.b64decode(text.encode("ascii"), validate=True)


def _tf():
    """TensorFlow, if this process already uses it (a value of its type can only exist then)."""
    return sys.modules.get("tensorflow")


def _keras():
    return sys.modules.get("keras")


def _array_payload(array: np.ndarray) -> dict:
    array = np.asarray(array)  # tobytes() below is C order whatever the layout; 0-d arrays stay 0-d
    if array.dtype.kind not in ALLOWED_ARRAY_KINDS or array.dtype.fields is not None:
        raise ChannelError(f"arrays of dtype {array.dtype} cannot be sent (only numbers, booleans and strings)")
    return {"dtype": array.dtype.str, "shape": list(array.shape), "data": _b64(array.tobytes())}


def _array_from(payload: dict) -> np.ndarray:
    dtype = np.dtype(payload.get("dtype"))
    if dtype.kind not in ALLOWED_ARRAY_KINDS or dtype.fields is not None:
        raise ChannelError(f"malformed message: array dtype {dtype} is not allowed")
    shape = payload.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ChannelError("malformed message: bad array shape")
    data = _unb64(payload.get("data"))
    if len(data) != math.prod(shape) * dtype.itemsize:
        raise ChannelError("malformed message: array size does not match its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _is_keras_tensor(value) -> bool:
    keras = _keras()
    return keras is not None and isinstance(value, keras.KerasTensor)


def _is_keras_model(value) -> bool:
    keras = _keras()
    return keras is not None and isinstance(value, keras.Model)


def _is_keras_saveable(value) -> bool:
    keras = _keras()
    if keras is None:
        return False
    kinds = (keras.losses.Loss, keras.optimizers.Optimizer, keras.metrics.Metric, keras.layers.Layer,
             keras.initializers.Initializer, keras.regularizers.Regularizer,
             keras.optimizers.schedules.LearningRateSchedule)
    return isinstance(value, kinds)


def model_to_archive(model) -> bytes:
    """A Keras model as the bytes of its ``.keras`` archive (architecture, weights, compile state)."""
    fd, path = tempfile.mkstemp(suffix=".keras")
    os.close(fd)
    try:
        model.save(path)
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def model_from_archive(data: bytes):
    """Load an archive with Keras's safe mode: no lambdas, no code, only known layer classes."""
    import keras

    import warnings

    fd, path = tempfile.mkstemp(suffix=".keras")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        with warnings.catch_warnings():  # optimizer slots that do not exist until the first step
            warnings.simplefilter("ignore")
            try:
                return keras.models.load_model(path, safe_mode=True, compile=True)
            except Exception:  # noqa: BLE001 - a loss or optimizer that does not load: the model still does
                return keras.models.load_model(path, safe_mode=True, compile=False)
    finally:
        os.unlink(path)


RNG_KINDS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def rng_from_state(state) -> np.random.Generator:
    """A NumPy Generator in the given state (its bit generator must be one of NumPy's own)."""
    kind = state.get("bit_generator") if isinstance(state, dict) else None
    if kind not in RNG_KINDS:
        raise ChannelError(f"malformed message: unknown random generator {kind!r}")
    rng = np.random.Generator(getattr(np.random, kind)())
    rng.bit_generator.state = state
    return rng


def model_fingerprint(model) -> str:
    """Changes whenever a model's weights, trainable flags or compile state change."""
    digest = hashlib.sha256()
    for layer in model._flatten_layers(include_self=False):
        digest.update(f"{layer.name}:{layer.trainable};".encode())
    for weight in model.weights:
        digest.update(np.asarray(weight.numpy()).tobytes())
    if getattr(model, "compiled", False):
        try:
            digest.update(repr(model.get_compile_config()).encode())
        except Exception:  # noqa: BLE001
            digest.update(b"compiled")
    return digest.hexdigest()


def load_state_into(target, source) -> None:
    """Make model ``target`` equal to ``source`` in trainable flags, weights and compile state, in place."""
    # Keras propagates `trainable` down to every sublayer: set the outer model first, then each
    # layer in pre-order (a parent before its children), so the children's own flags win.
    target.trainable = source.trainable
    for mine, theirs in zip(target._flatten_layers(include_self=False), source._flatten_layers(include_self=False)):
        mine.trainable = theirs.trainable
    target.set_weights(source.get_weights())
    if getattr(source, "compiled", False) and source.get_compile_config():
        target.compile_from_config(source.get_compile_config())


class AsHandle:
    """Wraps a value this side will send as a handle even if it could cross as data."""

    def __init__(self, value):
        self.value = value


class Codec:
    """Turns values into channel JSON and back, for one side of the channel.

    ``share(obj) -> int`` registers an object that stays on this side and
    returns its handle number (None: this side never shares objects: the
    judge). ``lookup(n)`` finds an object this side shared earlier.
    ``remote(description) -> stand-in`` builds the local stand-in for an
    object the *other* side shared (None: refuse handles from the other side).
    """

    def __init__(self, share: Callable[[Any], int] | None = None, lookup: Callable[[int], Any] | None = None,
                 remote: Callable[[dict], Any] | None = None, is_remote: Callable[[Any], int | None] | None = None,
                 mirror: Callable[[Any], str] | None = None):
        self.share, self.lookup, self.remote, self.mirror = share, lookup, remote, mirror
        self.is_remote = is_remote or (lambda value: None)

    # -- encoding --------------------------------------------------------------------------------

    def dumps(self, value) -> str:
        text = json.dumps(self.encode(value), allow_nan=False, separators=(",", ":"))
        if len(text) > MAX_MESSAGE_BYTES:
            raise ChannelError(f"the value is too large to send ({len(text) // 2**20} MB)")
        return text

    def encode(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise ChannelError("the value is nested too deeply")
        if isinstance(value, AsHandle) and self.share is not None:
            return self._handle(value.value)
        remote_id = self.is_remote(value)
        if remote_id is not None:
            return {"$": "ref", "id": remote_id}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and type(value) in (int, bool):
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
        if type(value) is complex:
            return {"$": "complex", "re": self.encode(value.real), "im": self.encode(value.imag)}
        if isinstance(value, (bytes, bytearray)):
            return {"$": "bytes", "data": _b64(bytes(value))}
        if type(value) is list:
            return [self.encode(v, depth + 1) for v in value]
        if type(value) is tuple:
            return {"$": "tuple", "items": [self.encode(v, depth + 1) for v in value]}
        if type(value) in (set, frozenset):
            return {"$": "set", "items": [self.encode(v, depth + 1) for v in value]}
        if type(value) is dict:
            return {"$": "dict", "items": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                                           for k, v in value.items()]}
        if type(value) is slice:
            return {"$": "slice", "items": [self.encode(v, depth + 1) for v in (value.start, value.stop, value.step)]}
        if value is Ellipsis:
            return {"$": "ellipsis"}
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in ALLOWED_ARRAY_KINDS and self.share is not None:
                return self._handle(value)  # an object array stays where it is; its elements cross one by one
            return {"$": "ndarray", **_array_payload(value)}
        if isinstance(value, np.generic):
            return {"$": "npscalar", **_array_payload(np.asarray(value))}
        if isinstance(value, np.dtype):
            return {"$": "dtype", "v": value.str}
        if isinstance(value, np.random.Generator):
            state = value.bit_generator.state
            return {"$": "rng", "state": self.encode(state, depth + 1)}
        encoded = self._encode_framework(value, depth)
        if encoded is not None:
            return encoded
        if self.share is None:
            raise ChannelError(f"a {type(value).__name__} cannot be sent to the student's code "
                               "(only data: numbers, strings, arrays, tensors, Keras models and objects)")
        return self._handle(value)

    def _handle(self, value) -> dict:
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001 - a student's broken __repr__
            text = f"<{type(value).__name__}>"
        names = {}
        for key in ("name", "qualname"):
            try:
                found = getattr(value, f"__{key}__", None)
            except Exception:  # noqa: BLE001 - a student's property that raises
                found = None
            if isinstance(found, str):
                names[key] = found[:200]
        return {"$": "handle", "id": self.share(value), "type": type(value).__name__,
                "callable": callable(value), "is_class": isinstance(value, type), "repr": text[:300], **names}

    def _encode_framework(self, value, depth: int):
        tf = _tf()
        if tf is not None:
            if isinstance(value, tf.Variable):
                return {"$": "variable", "trainable": bool(value.trainable), **_array_payload(value.numpy())}
            if isinstance(value, tf.Tensor) and hasattr(value, "numpy"):
                return {"$": "tensor", **_array_payload(value.numpy())}
            if isinstance(value, tf.DType):
                return {"$": "tfdtype", "v": value.name}
            if isinstance(value, tf.TensorShape):
                return {"$": "tuple", "items": list(value.as_list()) if value.rank is not None else []}
        if _is_keras_tensor(value):
            return {"$": "kerastensor", "shape": list(value.shape), "dtype": str(value.dtype)}
        if _is_keras_model(value):
            return self.encode_model(value)
        if _is_keras_saveable(value):
            import keras

            try:
                config = keras.saving.serialize_keras_object(value)
                json.dumps(config)
                return {"$": "keras", "config": config}
            except Exception:  # noqa: BLE001 - falls through to a handle (student side) or a refusal
                return None
        return None

    def encode_model(self, model) -> dict:
        """The student's side: the archive (the judge loads it), the mirror id and a handle (if it will not load)."""
        try:
            archive = model_to_archive(model)
        except Exception:  # noqa: BLE001 - a model that cannot be saved: only a handle can stand for it
            archive = None
        encoded = {"$": "model", "handle": self._handle(model)}
        if archive is not None:
            encoded["archive"] = _b64(archive)
            if self.mirror is not None:
                encoded["mirror"] = self.mirror(model)
        return encoded

    # -- decoding --------------------------------------------------------------------------------

    def loads(self, text: str):
        if len(text) > MAX_MESSAGE_BYTES:
            raise ChannelError("malformed message: too large")
        return self.decode(json.loads(text))

    def decode(self, obj, depth: int = 0):
        if depth > MAX_DEPTH:
            raise ChannelError("malformed message: nested too deeply")
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, list):
            return [self.decode(v, depth + 1) for v in obj]
        if not isinstance(obj, dict) or not isinstance(obj.get("$"), str):
            raise ChannelError("malformed message: unknown value")
        tag = obj["$"]
        items = lambda: [self.decode(v, depth + 1) for v in obj.get("items", [])]  # noqa: E731
        if tag == "float":
            if obj.get("v") not in ("nan", "inf", "-inf"):
                raise ChannelError("malformed message: bad float")
            return float(obj["v"])
        if tag == "complex":
            return complex(float(self.decode(obj["re"])), float(self.decode(obj["im"])))
        if tag == "bytes":
            return _unb64(obj.get("data"))
        if tag == "tuple":
            return tuple(items())
        if tag == "set":
            return set(items())
        if tag == "dict":
            return {self._key(k, depth): self.decode(v, depth + 1) for k, v in obj.get("items", [])}
        if tag == "slice":
            return slice(*items())
        if tag == "ellipsis":
            return Ellipsis
        if tag == "ndarray":
            return _array_from(obj)
        if tag == "npscalar":
            return _array_from(obj)[()]
        if tag == "dtype":
            dtype = np.dtype(obj.get("v"))
            if dtype.kind not in ALLOWED_ARRAY_KINDS:
                raise ChannelError("malformed message: dtype not allowed")
            return dtype
        if tag == "rng":
            return rng_from_state(self.decode(obj.get("state"), depth + 1))
        if tag in ("tensor", "variable"):
            import tensorflow as tf

            array = _array_from(obj)
            return tf.Variable(array, trainable=bool(obj.get("trainable", True))) if tag == "variable" \
                else tf.constant(array)
        if tag == "tfdtype":
            import tensorflow as tf

            return tf.as_dtype(str(obj.get("v")))
        if tag == "kerastensor":
            import keras

            return keras.Input(batch_shape=tuple(obj["shape"]), dtype=str(obj["dtype"]))
        if tag == "model":
            return self.decode_model(obj)
        if tag == "keras":
            import keras

            return keras.saving.deserialize_keras_object(obj.get("config"), safe_mode=True)
        if tag == "handle":
            if self.remote is None:
                raise ChannelError("malformed message: handles are not accepted here")
            return self.remote(obj)
        if tag == "ref":
            if self.lookup is None:
                raise ChannelError("malformed message: references are not accepted here")
            return self.lookup(int(obj["id"]))
        raise ChannelError(f"malformed message: unknown tag {tag!r}")

    def _key(self, key, depth: int):
        value = self.decode(key, depth + 1)
        if isinstance(value, (list, dict, set)):
            raise ChannelError("malformed message: unhashable dict key")
        return value

    def decode_model(self, obj: dict):
        if "archive" in obj:
            try:
                return model_from_archive(_unb64(obj["archive"]))
            except Exception as exc:  # noqa: BLE001 - custom classes do not load in safe mode
                if "handle" not in obj or self.remote is None:
                    raise ChannelError(f"the Keras model could not be loaded safely: {exc}") from None
        if "handle" in obj and self.remote is not None:
            return self.remote(obj["handle"])
        raise ChannelError("malformed message: a model with neither archive nor handle")
