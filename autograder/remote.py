"""The student kernel's end of the judge's channel: runs the student's code on the judge's inputs.

`autograder.judged` sends this file's source (and `autograder.channel`'s)
into the student's kernel when it starts; `Server` then answers one request
per kernel execution. Nothing here is trusted: the student's code can change
or replace all of it. That is fine by design: the judge only ever receives
data from here, and decides every verdict itself, from those data, on inputs
it chose. A forged answer is no stronger than a wrong function.

Keras models the judge sends are *mirrored*: the same judge model always
maps to the same object here, and after each request the models that changed
here (training, trainable flags, a new compile) are sent back, so that a test
sees the effect of ``unfreeze_top(model)`` or ``Distiller(...).fit`` on its
own model objects.
"""
import base64
import json
import traceback

channel = globals().get("channel")  # injected by the bootstrap (this file is not imported as a package module)

SKIP_NAMES = {"In", "Out", "exit", "quit", "get_ipython"}
MAX_TRACEBACK_CHARS = 4000


def _describe_error(exc: BaseException) -> dict:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<autograder")]
    text = "".join(["Traceback (most recent call last):\n"] + traceback.format_list(frames)
                   + traceback.format_exception_only(type(exc), exc))
    bases = [cls.__name__ for cls in type(exc).__mro__ if cls.__module__ == "builtins"]
    return {"type": type(exc).__name__, "bases": bases, "message": str(exc)[:2000],
            "traceback": text[-MAX_TRACEBACK_CHARS:]}


class Server:
    def __init__(self, namespace: dict):
        self.ns = namespace
        self.objects: dict[int, object] = {}
        self.mirrors: dict[str, object] = {}        # mirror id -> this side's model
        self.printed: dict[str, str] = {}           # mirror id -> fingerprint last reported
        self.codec = channel.Codec(share=self._share, lookup=self._lookup, mirror=self._register_mirror)
        self.snapshot = self._bindings()
        self.last = ""

    # -- plumbing ----------------------------------------------------------------------------------

    def _bindings(self) -> dict:
        return {k: v for k, v in self.ns.items() if not k.startswith("_") and k not in SKIP_NAMES}

    def _share(self, obj) -> int:
        key = id(obj)
        self.objects[key] = obj
        return key

    def _lookup(self, key: int):
        if key not in self.objects:
            raise channel.ChannelError(f"unknown object {key}")
        return self.objects[key]

    def serve(self, request_b64: str) -> None:
        """Answer one request; the answer is left in ``self.last`` for the caller to read."""
        self.last = ""
        self.updated = {}
        request = {}
        try:
            request = json.loads(base64.b64decode(request_b64))
            self.updated = {}
            answer = {"value": self.codec.encode(self._dispatch(request))}
            if self.updated:
                answer["updated"] = self.codec.encode(self.updated)
        except BaseException as exc:  # noqa: BLE001 - SystemExit and interrupts included: all go back as data
            answer = {"error": _describe_error(exc)}
        try:
            answer["mirrors"] = self._changed_mirrors()
            answer["seq"] = request.get("seq")
            self.last = json.dumps(answer, allow_nan=False)
        except BaseException as exc:  # noqa: BLE001
            self.last = json.dumps({"error": _describe_error(exc), "seq": request.get("seq")})

    def _changed_mirrors(self) -> dict:
        changed = {}
        for mid, model in self.mirrors.items():
            now = channel.model_fingerprint(model)
            if now != self.printed.get(mid):
                self.printed[mid] = now
                changed[mid] = base64.b64encode(channel.model_to_archive(model)).decode("ascii")
        return changed

    def _decode(self, value):
        return self.codec.decode(value)

    def _register_mirror(self, model) -> str:
        """A model this side sends: from now on its changes are reported after every request."""
        for mid, known in self.mirrors.items():
            if known is model:  # already mirrored: its changes are reported with the answer
                return mid
        mid = f"s{id(model)}"
        self.mirrors[mid] = model
        self.printed[mid] = channel.model_fingerprint(model)
        return mid

    def _mirror(self, mid: str, archive_b64: str | None):
        """The model this side holds for mirror ``mid``, brought up to the judge's state when it changed."""
        if archive_b64 is not None:
            incoming = channel.model_from_archive(base64.b64decode(archive_b64))
            if mid in self.mirrors:
                channel.load_state_into(self.mirrors[mid], incoming)
            else:
                self.mirrors[mid] = incoming
        elif mid not in self.mirrors:
            raise channel.ChannelError(f"unknown model {mid}")
        self.printed[mid] = channel.model_fingerprint(self.mirrors[mid])
        return self.mirrors[mid]

    def _unwrap(self, value):
        """Decode arguments: mirrored models resolved first (the codec does the rest)."""
        if isinstance(value, dict) and value.get("$") == "mirror":
            return self._mirror(str(value["id"]), value.get("archive"))
        if isinstance(value, dict) and value.get("$") in ("tuple", "set", "dict", "slice"):
            if value["$"] == "dict":
                return {self._unwrap(k): self._unwrap(v) for k, v in value["items"]}
            items = [self._unwrap(v) for v in value["items"]]
            return {"tuple": tuple, "set": set, "slice": lambda i: slice(*i)}[value["$"]](items)
        if isinstance(value, list):
            return [self._unwrap(v) for v in value]
        return self._decode(value)

    # -- requests ----------------------------------------------------------------------------------

    def _dispatch(self, request: dict):
        op = request["op"]
        if op == "changes":
            return self._changes()
        if op == "get":
            return {name: self._describe(self.ns[name]) for name in request["names"] if name in self.ns}
        if op == "release":
            for key in request["ids"]:
                self.objects.pop(key, None)
            return None
        target = self._lookup(int(request["target"]))
        if op == "call":
            args = [self._unwrap(a) for a in request.get("args", [])]
            kwargs = {k: self._unwrap(v) for k, v in request.get("kwargs", {}).items()}
            return self._call(target, args, kwargs)
        if op == "getattr":
            return getattr(target, request["name"])
        if op == "setattr":
            setattr(target, request["name"], self._unwrap(request["value"]))
            return None
        if op == "getitem":
            return target[self._unwrap(request["key"])]
        if op == "len":
            return len(target)
        if op == "iter":
            return list(target)
        if op == "repr":
            return repr(target)
        if op == "str":
            return str(target)
        if op == "bool":
            return bool(target)
        if op == "gradient":
            return self._gradient(target, request)
        raise ValueError(f"unknown request {op!r}")

    def _changes(self) -> dict:
        now = self._bindings()
        changed = sorted(k for k, v in now.items() if k not in self.snapshot or self.snapshot[k] is not v)
        removed = sorted(k for k in self.snapshot if k not in now)
        self.snapshot = now
        return {"changed": changed, "removed": removed}

    def _describe(self, value):
        """A global the judge asked for: modules by name, everything else as a value or handle."""
        import types

        if isinstance(value, types.ModuleType):
            return {"module": value.__name__}
        try:
            self.codec.encode(value)
        except Exception:  # noqa: BLE001 - a value that cannot cross as data crosses as a handle
            return {"value": channel.AsHandle(value)}
        return {"value": value}

    def _call(self, fn, args, kwargs):
        """Call, and turn symbolic Keras results into a model the judge can re-apply to its own tensors."""
        import sys

        keras = sys.modules.get("keras")
        placeholders = []
        if keras is not None:
            placeholders = [a for a in list(args) + list(kwargs.values()) if isinstance(a, keras.KerasTensor)]
        before = {key: _state(value) for key, value in list(enumerate(args)) + list(kwargs.items())}
        result = fn(*args, **kwargs)
        for key, value in list(enumerate(args)) + list(kwargs.items()):  # in-place changes go back to the judge
            if before[key] is not None and not _same(before[key], _state(value)):
                self.updated[key] = value
        if placeholders and _symbolic(result, keras):
            model = keras.Model(placeholders, result)
            return {"$graph": base64.b64encode(channel.model_to_archive(model)).decode("ascii")}
        return result

    def _gradient(self, fn, request):
        """The value of ``fn`` on the judge's inputs and its gradients, taken here with a tape."""
        import tensorflow as tf

        args = [self._unwrap(a) for a in request.get("args", [])]
        kwargs = {k: self._unwrap(v) for k, v in request.get("kwargs", {}).items()}
        wrt = [int(i) for i in request["wrt"]]
        upstream = self._unwrap(request.get("upstream"))
        with tf.GradientTape() as tape:
            for i in wrt:
                args[i] = tf.convert_to_tensor(args[i])
                tape.watch(args[i])
            value = fn(*args, **kwargs)
        grads = tape.gradient(value, [args[i] for i in wrt], output_gradients=upstream)
        return {"value": value, "gradients": [None if g is None else tf.convert_to_tensor(g) for g in grads]}


def _state(value):
    """The state of a random generator argument, which a call advances in place."""
    import numpy as np

    if isinstance(value, np.random.Generator):
        return json.dumps(value.bit_generator.state, sort_keys=True, default=str)
    return None


def _same(a, b) -> bool:
    return a == b


def _symbolic(result, keras) -> bool:
    if isinstance(result, keras.KerasTensor):
        return True
    if isinstance(result, (list, tuple)) and result:
        return all(isinstance(r, keras.KerasTensor) for r in result)
    if isinstance(result, dict) and result:
        return all(isinstance(r, keras.KerasTensor) for r in result.values())
    return False
