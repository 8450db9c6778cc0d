"""The student's process: runs a submission's own cells and answers the grader's calls.

It lives inside the grading sandbox, forked by the :mod:`.zygote` for one notebook, and talks
to the grader over one socket (:class:`course_lib.grading.wire.Channel`). It holds nothing that
decides a grade: no checker, no reference, no seed, no expected value. The grader runs the test
cells itself and only asks this process to run the student's cells and to call the student's
functions on inputs it chose; it compares every answer with its own reference. Code in the
notebook that rewrites this module can therefore make its own answers wrong, never right.

Requests from the grader, and what this process sends back (every message carries the job id):

- ``{"t": "cell", "seq", "source"}``: run one of the student's code cells in an IPython shell;
  ``out`` messages (nbformat outputs), then ``{"t": "done", "seq", "ok", "count"}``.
- ``{"t": "lookup", "seq", "name"}``: what the student's name holds: ``{"t": "found", "seq",
  "kind"}`` with kind ``callable``, ``value`` (plus its ``value``), ``unsendable`` (plus its
  ``type``) or ``undefined``.
- ``{"t": "call", "seq", "name", "args", "kwargs", "stand_ins"}``: call the student's function
  ``name``; while it runs, each name of ``stand_ins`` (name -> callback number) is bound, in the
  function's globals, to a proxy that calls the grader back, as does every callback among the
  arguments: ``{"t": "callback", "seq", "id", "args", "kwargs"}``, answered by
  ``callback_result`` or ``callback_raised``. Then ``{"t": "result", "seq", "value", "args",
  "kwargs"}`` (the arguments as the call left them) or ``{"t": "raised", "seq", "type",
  "message", "line"}``.
"""

from __future__ import annotations

import builtins
import json
import socket
import sys
import traceback
from typing import Any

from course_lib.grading.frames import Channel, WireError
from course_lib.grading.wire import decode, encode

_MISSING = object()


class _Process:
    """One notebook's session with the grader."""

    def __init__(self, channel: Channel, job: str, output_bytes: int) -> None:
        self.channel, self.job, self.output_bytes = channel, job, output_bytes
        self.spent = 0  # output bytes sent for the current request
        self.seq: int | None = None
        self.shell = _make_shell(self.emit)

    def send(self, message: dict[str, Any]) -> None:
        self.channel.send({**message, "job": self.job})

    def emit(self, output: dict[str, Any]) -> None:
        """Send one nbformat output of the current request; past the limit, say so once."""
        if output["output_type"] != "error":
            if self.spent > self.output_bytes:
                return
            self.spent += len(json.dumps(output))
            if self.spent > self.output_bytes:
                output = {
                    "output_type": "stream",
                    "name": "stdout",
                    "text": f"\n[output truncated: more than {self.output_bytes} bytes]\n",
                }
        self.send({"t": "out", "output": output})

    def serve(self) -> None:
        while (request := self.channel.recv()) is not None:
            self.seq, self.spent = request.get("seq"), 0
            handler = {"cell": self.run_cell, "lookup": self.lookup, "call": self.call}
            handler[request["t"]](request)

    def run_cell(self, request: dict[str, Any]) -> None:
        ok = False
        try:
            ok = bool(self.shell.run_cell(request["source"], store_history=True).success)
        except KeyboardInterrupt:
            pass
        self.send({"t": "done", "seq": self.seq, "ok": ok, "count": self.shell.execution_count - 1})

    def lookup(self, request: dict[str, Any]) -> None:
        value = self.shell.user_ns.get(request["name"], _MISSING)
        answer: dict[str, Any] = {"t": "found", "seq": self.seq}
        if value is _MISSING:
            answer["kind"] = "undefined"
        elif callable(value):
            answer["kind"] = "callable"
        else:
            try:
                answer.update(kind="value", value=encode(value))
            except WireError:
                answer.update(kind="unsendable", type=type(value).__name__)
        self.send(answer)

    def _function(self, name: str) -> Any:
        if name not in self.shell.user_ns:
            raise NameError(f"name {name!r} is not defined")
        return self.shell.user_ns[name]

    def call(self, request: dict[str, Any]) -> None:
        try:
            fn = self._function(request["name"])
            options = {
                "resolve_function": self._function,
                "resolve_callback": lambda number: _Callback(self, number),
            }
            args = decode(request["args"], **options)
            kwargs = decode(request["kwargs"], **options)
            namespace = getattr(fn, "__globals__", self.shell.user_ns)
            stand_ins = dict(request["stand_ins"])
            saved = {name: namespace.get(name, _MISSING) for name in stand_ins}
            namespace.update({name: _Callback(self, number) for name, number in stand_ins.items()})
            try:
                result = fn(*args, **kwargs)
            finally:
                for name, value in saved.items():
                    if value is _MISSING:
                        namespace.pop(name, None)
                    else:
                        namespace[name] = value
            try:
                value = encode(result)
            except WireError as exc:
                raise TypeError(
                    f"the grader cannot receive what your function returned: {exc}"
                ) from None
        except BaseException as exc:  # noqa: BLE001 -- every failure is the student's answer
            self.send(
                {
                    "t": "raised",
                    "seq": self.seq,
                    "type": type(exc).__name__,
                    "message": str(exc)[:5000],
                    "line": _notebook_line(exc),
                }
            )
            return
        try:
            after = {
                "args": encode(args, callback=_offered),
                "kwargs": encode(kwargs, callback=_offered),
            }
        except WireError:  # an argument now holds something that cannot cross: not copied back
            after = {"args": None, "kwargs": None}
        self.send({"t": "result", "seq": self.seq, "value": value, **after})


class _Callback:
    """A function of the grader's, offered for one call: a test's function passed as an
    argument, or a *stand-in* (the grader's reference for an earlier part, bound under that
    part's name, so that one mistake does not cost points twice)."""

    def __init__(self, process: _Process, number: int) -> None:
        self.process, self.number = process, number

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        process = self.process
        try:
            sent = {"args": encode(list(args)), "kwargs": encode(kwargs)}
        except WireError as exc:
            raise TypeError(f"cannot pass this to the grader's function: {exc}") from None
        process.send({"t": "callback", "seq": process.seq, "id": self.number, **sent})
        reply = process.channel.recv()
        if reply is None:
            raise SystemExit("the grader went away")
        if reply.get("t") == "callback_result":
            return decode(reply["value"])
        error = getattr(builtins, str(reply.get("type")), None)
        if not (isinstance(error, type) and issubclass(error, Exception)):
            error = RuntimeError
        raise error(reply.get("message", ""))


def _offered(fn: Any) -> int:
    """A callback the grader offered goes back as its number; nothing else can."""
    if isinstance(fn, _Callback):
        return fn.number
    raise WireError(f"a {type(fn).__name__} cannot be sent to the grader")


def _notebook_line(error: BaseException) -> str:
    """`` (line N: source)`` of the deepest frame in the notebook's own cells, if any."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if f.filename.startswith("<ipython-input")
    ]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (line {frame.lineno}: {frame.line.strip()})" if frame.line else ""


def _make_shell(emit: Any) -> Any:
    """An IPython shell whose outputs (streams, displays, results, errors) go to ``emit``."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class Stream:
        def __init__(self, name: str) -> None:
            self.name = name

        def write(self, text: str) -> int:
            if text:
                emit({"output_type": "stream", "name": self.name, "text": str(text)})
            return len(text)

        def flush(self) -> None:
            pass

        def isatty(self) -> bool:
            return False

    class Publisher(DisplayPublisher):
        def publish(
            self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs
        ) -> None:
            emit({"output_type": "display_data", "data": data, "metadata": metadata or {}})

    class Hook(DisplayHook):
        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict, md_dict=None) -> None:
            emit(
                {
                    "output_type": "execute_result",
                    "data": format_dict,
                    "metadata": md_dict or {},
                    "execution_count": self.prompt_count,
                }
            )

        def finish_displayhook(self) -> None:
            pass

    class Shell(InteractiveShell):
        def _showtraceback(self, etype, evalue, stb) -> None:
            emit(
                {
                    "output_type": "error",
                    "ename": getattr(etype, "__name__", str(etype)),
                    "evalue": str(evalue)[:10_000],
                    "traceback": [line[:10_000] for line in list(stb)[-100:]],
                }
            )

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    Shell.displayhook_class = Hook
    Shell.display_pub_class = Publisher
    shell = Shell.instance(config=config)
    sys.stdout, sys.stderr = Stream("stdout"), Stream("stderr")
    return shell


def graded_elsewhere(*args: Any, **kwargs: Any) -> None:
    """``tests.check`` / ``tests.grade`` while a notebook is graded: the grader runs the tests."""
    print(
        "(while your notebook is graded, the course's tests run in the grader's own test "
        "cells; this call does nothing)"
    )


def serve(fd: int, job: str, output_bytes: int) -> None:
    """Answer the grader on the socket ``fd`` until it closes it."""
    _Process(Channel(socket.socket(fileno=fd)), job, output_bytes).serve()
