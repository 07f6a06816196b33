"""The judge: runs the autograded test cells in a process no student code ever runs in.

A fresh judge for every notebook of every submission, in a sandbox of its own
(its own uid, no network, no view of the submissions): each is forked from the
grading worker's judge template (`serve_forks`), which has TensorFlow imported
and has never seen anything of a student's. The worker (`autograder.judged`)
talks to a judge over two pipes, its stdin and stdout, one JSON message per line:

* ``{"op": "run", "name": ..., "source": ...}``: execute a trusted cell (a
  locked instructor cell or a test cell, restored from the gradebook); the
  judge answers ``{"op": "ran", "outputs": [...]}`` with nbgrader outputs
  (streams, and an ``error`` when the cell raised: that decides the score);
* ``{"op": "student_cell", "source": ...}``: the source of a cell the student
  wrote, kept as data for the static answer-key check (`answer_key`);
* while a cell runs, the judge may send ``{"op": "ask", "request": {...}}`` and
  wait for ``{"op": "answer", ...}``: a request for the student's kernel (call a
  function, read an attribute...), relayed by the worker.

Names the student's cells define reach the judge as stand-ins (`StudentObject`)
that forward every use across the data-only channel (`autograder.channel`).
Names the judge's own trusted cells define are the judge's: a student cell
that redefines an oracle, ``np`` or ``expect_close`` changes only the
student's kernel. Whatever the student's kernel sends back is data the test
examines; the verdict is computed here.
"""
from __future__ import annotations

import base64
import builtins
import contextlib
import importlib
import io
import json
import linecache
import os
import re
import sys
import traceback
from typing import Any

import numpy as np
from course.grading import HIDDEN_KEY_ENV

from .answer_key import StudentSources
from .channel import (ChannelError, Codec, _b64, _unb64, load_state_into, model_fingerprint, model_from_archive,
                      model_to_archive)
from .control import receive_request

MAX_CELL_OUTPUT = 200_000   # characters of stdout/stderr a judged cell keeps
MAX_STUDENT_PRINT = 20_000  # characters the student's code printed during one cell, relayed


class StudentCodeError(Exception):
    """Raised in the judge when the student's code raised; the message carries the student's traceback."""

    student_traceback = ""


_ERROR_CLASSES: dict[tuple[str, str], type] = {}


def _student_error(info: dict) -> StudentCodeError:
    """An exception of the student's type name that is also the builtin class it derives from.

    ``expect_raises(lambda: f(...), ValueError)`` must still work, but no
    class of the student's is ever created here: only builtins are looked up.
    """
    name = str(info.get("type", "Exception"))[:100]
    base = Exception
    for candidate in info.get("bases", []):
        cls = getattr(builtins, str(candidate), None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            base = cls
            break
    key = (name, base.__name__)
    if key not in _ERROR_CLASSES:
        _ERROR_CLASSES[key] = type(name if name.isidentifier() else "StudentError", (StudentCodeError, base), {})
    error = _ERROR_CLASSES[key](str(info.get("message", ""))[:2000])
    error.student_traceback = str(info.get("traceback", ""))[-4000:]
    return error


class Link:
    """The judge's end of the worker pipe: asks the student's kernel and decodes what comes back."""

    def __init__(self, incoming, outgoing):
        self.incoming, self.outgoing = incoming, outgoing
        self.printed: list[str] = []
        self.models: dict[str, Any] = {}        # mirror id -> the judge's model
        self.synced: dict[str, str] = {}        # mirror id -> fingerprint of the state the student side has
        self._ids: dict[int, str] = {}          # id(model) -> mirror id
        self._next = 0
        self._seq = 0
        self.codec = JudgeCodec(self)

    def send(self, message: dict) -> None:
        self.outgoing.write(json.dumps(message) + "\n")
        self.outgoing.flush()

    def receive(self) -> dict:
        line = self.incoming.readline()
        if not line:
            raise SystemExit(0)  # the worker is gone
        return json.loads(line)

    def ask(self, request: dict, objects: dict | None = None):
        """Send a request to the student's kernel; return its decoded value or raise what it raised.

        ``objects``: the call's arguments by position or keyword, to receive in-place changes.
        """
        self._seq += 1
        request = {**request, "seq": self._seq}
        self.send({"op": "ask", "request": request})
        request["_objects"] = objects or {}
        reply = self.receive()
        if reply.get("printed"):
            self.printed.append(str(reply["printed"]))
        if reply.get("problem"):  # the worker's own verdict: timeout, dead kernel
            raise StudentCodeError(str(reply["problem"]))
        try:
            answer = json.loads(reply.get("text") or "")
            if not isinstance(answer, dict):
                raise ValueError("not an object")
        except ValueError:
            raise ChannelError("the student's kernel sent a malformed answer") from None
        if answer.get("seq") != self._seq:  # a stale answer: the kernel could not even write this one
            raise StudentCodeError("your kernel could not answer (it may be out of memory)")
        for mid, archive in (answer.get("mirrors") or {}).items():
            self._update_mirror(str(mid), archive)
        if "error" in answer:
            raise _student_error(answer["error"] if isinstance(answer["error"], dict) else {})
        if "updated" in answer and request.get("op") == "call":
            self._update_arguments(request, self.codec.decode(answer["updated"]))
        return self.codec.decode(answer.get("value"))

    def _update_arguments(self, request: dict, updated) -> None:
        """Where a random generator the judge passed was advanced by the student's function.

        Arrays are not written back: a function that overwrites its input
        changes only its own copy, never the data the test computes its oracle from.
        """
        originals = request.get("_objects", {})
        if not isinstance(updated, dict):
            return
        for key, value in updated.items():
            target = originals.get(key)
            if isinstance(target, np.random.Generator) and isinstance(value, np.random.Generator):
                target.bit_generator.state = value.bit_generator.state

    # -- mirrored Keras models -------------------------------------------------------------------

    def mirror_id(self, model) -> str:
        if id(model) not in self._ids:
            self._next += 1
            self.register(f"j{self._next}", model, student_has_it=False)
        return self._ids[id(model)]

    def register(self, mid: str, model, student_has_it: bool) -> None:
        self.models[mid] = model
        self._ids[id(model)] = mid
        self.synced[mid] = model_fingerprint(model) if student_has_it else ""

    def _update_mirror(self, mid: str, archive: str) -> None:
        if mid in self.models:
            load_state_into(self.models[mid], model_from_archive(_unb64(archive)))
            self.synced[mid] = model_fingerprint(self.models[mid])


class JudgeCodec(Codec):
    """The judge's side of the channel: never shares an object, mirrors models, builds stand-ins."""

    def __init__(self, link: Link):
        super().__init__(share=None, lookup=None, remote=self._stand_in, is_remote=self._remote_id)
        self.link = link

    @staticmethod
    def _remote_id(value):
        return object.__getattribute__(value, "_id") if isinstance(value, StudentObject) else None

    def _stand_in(self, description: dict):
        cls = StudentClass if description.get("is_class") else \
            StudentCallable if description.get("callable") else StudentObject
        return cls(self.link, description)

    def encode_model(self, model) -> dict:
        mid = self.link.mirror_id(model)
        message = {"$": "mirror", "id": mid}
        now = model_fingerprint(model)
        if self.link.synced.get(mid) != now:  # the student's copy is missing or out of date
            message["archive"] = _b64(model_to_archive(model))
            self.link.synced[mid] = now
        return message

    def decode_model(self, obj: dict):
        mirror = obj.get("mirror")
        known = self.link.models.get(mirror) if isinstance(mirror, str) else None
        model = super().decode_model(obj)
        if known is not None and not isinstance(model, StudentObject):
            load_state_into(known, model)  # the same model as before: the judge keeps its own object
            self.link.synced[mirror] = model_fingerprint(known)
            return known
        if isinstance(mirror, str) and not isinstance(model, StudentObject):
            self.link.register(mirror, model, student_has_it=True)
        return model


class StudentObject:
    """Stands for an object in the student's kernel; every use is a request across the channel."""

    __slots__ = ("_link", "_id", "_description")

    def __init__(self, link: Link, description: dict):
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_id", int(description["id"]))
        object.__setattr__(self, "_description", description)

    def _ask(self, op: str, **fields):
        return object.__getattribute__(self, "_link").ask({"op": op, "target": object.__getattribute__(self, "_id"),
                                                            **fields})

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if name.startswith(("_repr_", "_ipython_")):
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __setattr__(self, name: str, value) -> None:
        self._ask("setattr", name=name, value=object.__getattribute__(self, "_link").codec.encode(value))

    def __getitem__(self, key):
        return self._ask("getitem", key=object.__getattribute__(self, "_link").codec.encode(key))

    def __len__(self) -> int:
        value = self._ask("len")
        if not isinstance(value, int):
            raise TypeError("len() of the student's object is not an integer")
        return value

    def __iter__(self):
        return iter(self._ask("iter"))

    def __bool__(self) -> bool:
        return bool(self._ask("bool"))

    def __repr__(self) -> str:
        return str(object.__getattribute__(self, "_description").get("repr", "<student object>"))[:300]

    def __str__(self) -> str:
        value = self._ask("str")
        return value if isinstance(value, str) else repr(self)

    @property
    def __name__(self) -> str:
        return str(object.__getattribute__(self, "_description").get("name") or "")

    def __autograder_answer_key_use__(self, answers) -> str | None:
        """Where the student's function uses the course's answers, read from the submitted source."""
        description = object.__getattribute__(self, "_description")
        return SOURCES.answer_key_use(str(description.get("qualname") or description.get("name") or ""), answers)


class StudentCallable(StudentObject):
    __slots__ = ()

    def __call__(self, *args, **kwargs):
        link = object.__getattribute__(self, "_link")
        symbolic = [a for a in list(args) + list(kwargs.values()) if _is_keras_tensor(a)]
        result = link.ask({"op": "call", "target": object.__getattribute__(self, "_id"),
                           "args": [link.codec.encode(a) for a in args],
                           "kwargs": {str(k): link.codec.encode(v) for k, v in kwargs.items()}},
                          objects={**dict(enumerate(args)), **kwargs})
        if symbolic and isinstance(result, dict) and set(result) == {"$graph"}:
            return _reapply(result["$graph"], symbolic)
        return result


    def __autograder_gradients__(self, args, kwargs, wrt, upstream):
        """`course.grading.gradients` for a function of the student's: the tape runs in their kernel."""
        codec = object.__getattribute__(self, "_link").codec
        answer = self._ask("gradient", args=[codec.encode(a) for a in args],
                           kwargs={str(k): codec.encode(v) for k, v in kwargs.items()},
                           wrt=[int(i) for i in wrt], upstream=codec.encode(upstream))
        if not isinstance(answer, dict) or not isinstance(answer.get("gradients"), list):
            raise ChannelError("the student's kernel sent a malformed gradient")
        return answer.get("value"), answer["gradients"]


class StudentClass(StudentCallable):
    """A class the student defined: calling it builds an instance in their kernel."""

    __slots__ = ()


def _is_keras_tensor(value) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.KerasTensor)


def _reapply(archive_b64: str, inputs: list):
    """Apply the layers the student's function created to the judge's own symbolic tensors.

    The student's kernel built them on placeholders of the same shapes; here
    each one is rebuilt from its config and weights and applied to the
    judge's tensors in the same order, so that the judge's model holds them as
    its own layers (not one opaque sub-model, and with no trace of the
    placeholders). Layers with automatic names get fresh ones, as they would
    have had, had the student's code run here.
    """
    from keras.src.utils import naming

    if not isinstance(archive_b64, str):
        raise ChannelError("malformed message: bad graph")
    block = model_from_archive(_unb64(archive_b64))
    for layer in block._flatten_layers(include_self=False, recursive=False):
        snake = naming.to_snake_case(type(layer).__name__)
        if re.fullmatch(rf"{re.escape(snake)}(_\d+)?", layer.name):
            layer.name = naming.auto_name(type(layer).__name__)

    def rebuilt(layer):
        clone = type(layer).from_config(layer.get_config())

        def call(*args, **kwargs):
            outputs = clone(*args, **kwargs)
            clone.set_weights(layer.get_weights())
            return outputs

        return call

    block_inputs = inputs[0] if len(inputs) == 1 else inputs
    return block._run_through_graph(block_inputs, operation_fn=rebuilt)


SOURCES = StudentSources()


class Judge:
    """The namespace the trusted cells run in, and the rules for what the student may put in it."""

    def __init__(self, link: Link):
        self.link = link
        self.ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.owned: set[str] = set()       # names bound by trusted cells: never replaced by the student's
        self.pending: set[str] = set()     # names the student's cells rebound and the judge has not fetched
        self.answers: set[str] = set()     # the only names the student's kernel may supply (see roles.answer_names)

    def sync(self) -> None:
        """Bring the student's new and changed names in, as values, modules or stand-ins."""
        changes = self.link.ask({"op": "changes"})
        self.pending |= {n for n in changes.get("changed", []) if isinstance(n, str)}
        for name in changes.get("removed", []):
            self.pending.discard(name)
            if name in self.answers and name not in self.owned:
                self.ns.pop(name, None)
        wanted = sorted(n for n in self.pending if n in self.answers and n not in self.owned)
        self.pending.clear()
        if not wanted:
            return
        found = self.link.ask({"op": "get", "names": wanted})
        if not isinstance(found, dict):
            return
        for name in wanted:  # only the names asked for: a forged answer cannot rebind the judge's own
            description = found.get(name)
            if not isinstance(description, dict):
                continue
            if "module" in description:
                try:
                    self.ns[name] = importlib.import_module(str(description["module"]))
                except Exception:  # noqa: BLE001 - a module the judge does not have: the name stays unbound
                    pass
            elif "value" in description:
                self.ns[name] = description["value"]

    def run(self, name: str, source: str) -> list[dict]:
        """Execute one trusted cell; nbgrader outputs come back (an error output when it raised)."""
        capture = _Capture()
        error = None
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = capture.stream("stdout"), capture.stream("stderr")
        self.link.printed = []
        before = dict(self.ns)
        try:
            self.sync()
            before = dict(self.ns)  # what the student supplied is not the judge's own
            filename = f"<{name}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show lines
            exec(compile(source, filename, "exec"), self.ns)  # noqa: S102 - instructor code, from the gradebook
        except BaseException as exc:  # noqa: BLE001 - SystemExit too: the cell failed, the judge goes on
            error = _error_output(exc)
        finally:
            sys.stdout, sys.stderr = old
        self.owned |= {k for k, v in self.ns.items() if k not in before or before[k] is not v}
        printed = "".join(self.link.printed)
        outputs = capture.outputs()
        if printed:
            outputs.insert(0, {"output_type": "stream", "name": "stdout",
                               "text": "[your code printed]\n" + printed[:MAX_STUDENT_PRINT] + "\n"})
        if error:
            outputs.append(error)
        return outputs


class _Capture:
    """stdout/stderr of a judged cell, in order, with a size cap."""

    def __init__(self):
        self.chunks: list[list[str]] = []
        self.size = 0

    def stream(self, name: str):
        capture = self

        class Stream(io.TextIOBase):
            def write(self, text: str) -> int:
                capture.add(name, str(text))
                return len(text)

        return Stream()

    def add(self, name: str, text: str) -> None:
        if self.size >= MAX_CELL_OUTPUT:
            return
        text = text[: MAX_CELL_OUTPUT - self.size]
        self.size += len(text)
        if self.size >= MAX_CELL_OUTPUT:
            text += "\n[autograder: output truncated]\n"
        if self.chunks and self.chunks[-1][0] == name:
            self.chunks[-1][1] += text
        else:
            self.chunks.append([name, text])

    def outputs(self) -> list[dict]:
        return [{"output_type": "stream", "name": name, "text": text} for name, text in self.chunks]


_STUDENT_FRAME = re.compile(r'^  File "(?P<file>[^"]*)", line \d+, in (?P<function>\S+)$', re.M)


def _error_output(exc: BaseException) -> dict:
    """nbgrader's error output, the student's message first.

    A failed check shows its message alone, as in JupyterLab (`course.grading.GradingError`);
    the student's unwritten stub says which function to write; any other error shows the
    test's frames (not the judge's) and, when the student's code raised, theirs.
    """
    from course.grading import GradingError, NotWrittenYet, unwritten_function

    if isinstance(exc, StudentCodeError) and isinstance(exc, NotImplementedError):
        function = unwritten_function([(m["file"], m["function"])
                                       for m in _STUDENT_FRAME.finditer(exc.student_traceback)])
        if function is not None:
            exc = NotWrittenYet(function or None)
    if isinstance(exc, (GradingError, NotWrittenYet)):
        return {"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc)[:5000],
                "traceback": [line[:5000] for line in exc._render_traceback_()]}
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<")]
    lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames)
    if isinstance(exc, StudentCodeError) and exc.student_traceback:
        lines.append("\nIn your code:\n" + exc.student_traceback)
    lines.append(f"{type(exc).__name__}: {exc}")
    return {"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc)[:5000],
            "traceback": [line[:5000] for line in lines[-60:]]}


def main() -> None:
    """Serve the worker: protocol on private copies of fds 0 and 1; the cells' own prints go to stderr."""
    incoming = os.fdopen(os.dup(0), "r")
    outgoing = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    link = Link(incoming, outgoing)
    judge = Judge(link)
    while True:
        message = link.receive()
        op = message.get("op")
        if op == "run":
            SOURCES.add_instructor_imports(str(message["source"]))
            link.send({"op": "ran", "outputs": judge.run(str(message["name"]), str(message["source"]))})
        elif op == "answers":
            judge.answers = {str(n) for n in message.get("names", [])}
            if message.get("hidden_key"):  # this student's hidden inputs (course.grading.hidden_seed)
                os.environ[HIDDEN_KEY_ENV] = str(message["hidden_key"])
        elif op == "student_cell":
            SOURCES.add(str(message["source"]))
        elif op == "stop":
            break
    outgoing.flush()
    os._exit(0)


# -- the template: fresh judges without paying TensorFlow's import each time -----------------------------

PREIMPORTED = ("tensorflow", "keras", "matplotlib.pyplot")  # what test cells import: slow, inert until used
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36


def serve_forks(pristine: str) -> None:
    """Be the slot's judge template: import once, then fork one fresh judge per notebook.

    The template runs only the grader's code and never receives anything of a
    student's, so each judge forked from it starts as fresh as a new process
    would (only faster: TensorFlow is already imported, and imported is all it
    is, with no thread or device started). Control messages come on fd 0, a Unix
    socket: ``{"op": "spawn"}`` with the judge's two pipe ends attached
    (``SCM_RIGHTS``), answered ``{"pid": ...}``; ``{"op": "end", "pid": ...}``
    kills that judge and everything it started and deletes its folder, answered
    ``{"ended": ...}``. The template ends when the worker closes the socket.

    Even a judge subverted by a crafted answer (a parser bug) cannot reach the
    next student's: each judge's data files are copied from `pristine`, a
    read-only mount it cannot change; the template is not dumpable (no ptrace,
    no writing its memory); and, as the subreaper of whatever a judge forks,
    the template kills every process left before the next judge starts.
    """
    import shutil
    import signal
    import socket
    import tempfile

    import ctypes

    # Not dumpable: a judge (same uid) cannot ptrace the template or write its memory through /proc,
    # so even a judge subverted by a crafted answer cannot reach the judges forked after it.
    libc = ctypes.CDLL(None)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # a judge's double-forked daemon is still ours to kill
    control = socket.socket(fileno=os.dup(0))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    for name in PREIMPORTED:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    work = os.getcwd()
    folders: dict[int, str] = {}
    spawned = 0
    reply = (lambda message: control.sendall((json.dumps(message) + "\n").encode()))
    while True:
        request = receive_request(control, 2)
        if request is None:
            break
        message, fds = request
        if message.get("op") == "spawn" and len(fds) == 2:
            spawned += 1
            folder = os.path.join(work, f"judge-{spawned}")
            shutil.copytree(pristine, folder)
            pid = os.fork()
            if pid == 0:
                control.close()
                os.dup2(fds[0], 0)
                os.dup2(fds[1], 1)
                for fd in fds:
                    os.close(fd)
                os.chdir(folder)
                os.environ.update(HOME=folder, TMPDIR=folder)
                tempfile.tempdir = folder
                try:
                    main()
                finally:
                    os._exit(0)  # never back into the template's loop, nor through its exit handlers
            for fd in fds:
                os.close(fd)
            folders[pid] = folder
            reply({"pid": pid})
        elif message.get("op") == "end":
            pid = int(message.get("pid", 0))
            if pid in folders:
                _kill_children()  # the judge, and anything it left running
                shutil.rmtree(folders.pop(pid), ignore_errors=True)
            reply({"ended": pid})
        else:
            for fd in fds:
                os.close(fd)
            reply({"error": "unknown request"})
    os._exit(0)


def _kill_children() -> None:
    """SIGKILL every child of this process (orphans of a judge are children of its subreaper) until none is left."""
    import signal

    me = os.getpid()
    while True:
        try:
            children = [int(c) for c in open(f"/proc/{me}/task/{me}/children").read().split()]
        except OSError:
            children = []
        if not children:
            return
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)


if __name__ == "__main__":
    serve_forks(sys.argv[2]) if sys.argv[1:2] == ["--template"] else main()
