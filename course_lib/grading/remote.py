"""The grader's side of two-party grading: test cells run here, the student's code over there.

When a class is graded, a notebook's cells are split between two processes. The student's own
cells run in the sandboxed student process (:mod:`course_lib.instructor.student`); the test
cells, which the instructor wrote, run *here*, in the grader, with the real checkers, references
and seeds. A name a test cell uses that it did not define itself is looked up in the student's
process (:class:`RemoteNamespace`): a function becomes a :class:`RemoteFunction`, whose calls
send their arguments over (data only, :mod:`.wire`) and bring back the result and what the call
did to its arguments. So ``_hidden_tests.grade("rnn_forward", rnn_forward, points=3)`` runs
exactly as in a notebook, except that nothing in the student's process can reach the code that
decides the points, and a lie from it earns points only if it equals the reference on inputs it
has never seen.

:class:`Session` is the conversation with one student process. It believes nothing but answers
to its own requests: a message with another job id, of a kind it did not ask for, or that does
not parse raises :class:`ProtocolViolation`; silence past the deadline raises
:class:`StudentTimeout`; a closed channel :class:`StudentDied`. The three derive from
``BaseException``, so no ``except Exception`` in a test or a checker can swallow them.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from .frames import Channel, ProtocolViolation, StudentDied, StudentTimeout, WireError
from .wire import FunctionRef, InputChanged, decode, encode, write_back

__all__ = [
    "ProtocolViolation",
    "RemoteFunction",
    "RemoteNamespace",
    "Session",
    "StudentDied",
    "StudentTimeout",
    "run_test_cell",
]


class RemoteError(Exception):
    """The student's function raised; ``type_name`` and the message are the student's."""

    def __init__(self, type_name: str, message: str, line: str = "") -> None:
        super().__init__(message)
        self.type_name, self.line = type_name, line


_OUTPUT_FIELDS = {
    "stream": {"name": str, "text": str},
    "display_data": {"data": dict, "metadata": dict},
    "execute_result": {"data": dict, "metadata": dict},
    "error": {"ename": str, "evalue": str, "traceback": list},
}


def valid_output(output: Any) -> bool:
    """A well-formed nbformat output (the student's process may send anything)."""
    if not isinstance(output, dict):
        return False
    fields = _OUTPUT_FIELDS.get(output.get("output_type"))  # type: ignore[arg-type]
    return fields is not None and all(isinstance(output.get(k), t) for k, t in fields.items())


class Outputs:
    """A cell's outputs as they arrive, bounded: past ``limit`` bytes, one truncation notice.

    Stream text of the same name is merged, as Jupyter does. ``stderr_as_stdout`` is for test
    cells, which nbgrader fails on any stderr: a warning must not cost points there.
    """

    def __init__(self, limit: int, *, stderr_as_stdout: bool = False) -> None:
        self.items: list[dict[str, Any]] = []
        self.limit, self.size, self.truncated = limit, 0, False
        self.stderr_as_stdout = stderr_as_stdout

    def add(self, output: dict[str, Any]) -> None:
        output = dict(output)
        if output["output_type"] == "stream" and self.stderr_as_stdout:
            output["name"] = "stdout"
        size = len(json.dumps(output))
        if self.size + size > self.limit and output["output_type"] != "error":
            if not self.truncated:
                self.truncated = True
                self._append(
                    {
                        "output_type": "stream",
                        "name": "stdout",
                        "text": f"\n[output truncated: more than {self.limit} bytes]\n",
                    }
                )
            return
        self.size += size
        self._append(output)

    def _append(self, output: dict[str, Any]) -> None:
        last = self.items[-1] if self.items else None
        if (
            last is not None
            and output["output_type"] == "stream" == last["output_type"]
            and output["name"] == last["name"]
        ):
            last["text"] += output["text"]
        else:
            self.items.append(output)


class Session:
    """The grader's conversation with one student process (one notebook).

    ``deadline`` is the notebook's time limit (``time.monotonic()`` seconds); ``interrupt``
    asks the sandbox to send SIGINT to the student's process, which then has ``grace_s`` to
    finish the cell it was running (so its traceback shows where it was) before
    :class:`StudentTimeout` is raised.
    """

    def __init__(
        self,
        channel: Channel,
        job: str,
        *,
        deadline: float,
        interrupt: Callable[[], None],
        grace_s: float = 2.0,
    ) -> None:
        self.channel, self.job, self.deadline = channel, job, deadline
        self.interrupt, self.grace_s = interrupt, grace_s
        self.seq = 0
        self.outputs: Outputs | None = None  # where the student's outputs go right now
        self.timed_out = False
        self.busy = False  # a request is in flight

    # -------------------------------------------------------------------------- requests

    def run_cell(self, source: str, outputs: Outputs) -> bool:
        """Run one of the student's cells; its outputs go to ``outputs``; True if it succeeded."""
        reply = self._request({"t": "cell", "source": source}, "done", outputs)
        return bool(reply.get("ok"))

    def lookup(self, name: str) -> dict[str, Any]:
        return self._request({"t": "lookup", "name": name}, "found", self.outputs)

    def call(
        self,
        name: str,
        args: list[Any],
        kwargs: dict[str, Any],
        stand_ins: dict[str, Callable[..., Any]],
    ) -> tuple[Any, Any, Any]:
        """Call the student's function ``name``; returns (result, args after, kwargs after).

        Functions among the arguments, and ``stand_ins`` (bound under their names in the
        function's globals), are offered as callbacks for the duration of this call. Raises
        :class:`RemoteError` if it raised, or returned what cannot be received.
        """
        callbacks: list[Callable[..., Any]] = []

        def offer(fn: Callable[..., Any]) -> int:
            callbacks.append(fn)
            return len(callbacks) - 1

        try:
            message = {
                "t": "call",
                "name": name,
                "args": encode(args, callback=offer),
                "kwargs": encode(kwargs, callback=offer),
                "stand_ins": {n: offer(fn) for n, fn in sorted(stand_ins.items())},
            }
        except WireError as exc:
            raise TypeError(f"a test cannot send its arguments to {name}: {exc}") from None
        reply = self._request(message, ("result", "raised"), self.outputs, callbacks)
        if reply["t"] == "raised":
            raise RemoteError(
                str(reply.get("type")), str(reply.get("message")), str(reply.get("line") or "")
            )

        def offered(number: int) -> Callable[..., Any]:
            if not 0 <= number < len(callbacks):
                raise WireError(f"a callback {number} that was not offered")
            return callbacks[number]

        try:
            result = decode(reply.get("value"))
            after = [
                None if reply.get(k) is None else decode(reply.get(k), resolve_callback=offered)
                for k in ("args", "kwargs")
            ]
        except WireError as exc:
            raise RemoteError(
                "UnreadableResult", f"the grader could not read the result: {exc}"
            ) from None
        return result, after[0], after[1]

    # -------------------------------------------------------------------------- the loop

    def _request(
        self,
        message: dict[str, Any],
        answers: str | tuple[str, ...],
        outputs: Outputs | None,
        callbacks: list[Callable[..., Any]] | None = None,
    ) -> dict[str, Any]:
        if self.busy:
            raise RuntimeError(
                "a function the grader offered to the notebook called the "
                "notebook back; tests cannot nest calls"
            )
        self.busy = True
        try:
            return self._exchange(message, answers, outputs, callbacks)
        finally:
            self.busy = False

    def _exchange(
        self,
        message: dict[str, Any],
        answers: tuple[str, ...] | str,
        outputs: Outputs | None,
        callbacks: list[Callable[..., Any]] | None,
    ) -> dict[str, Any]:
        self.seq += 1
        seq = self.seq
        try:
            self.channel.send({**message, "job": self.job, "seq": seq})
        except OSError:
            raise StudentDied("the notebook's process is gone") from None
        answers = (answers,) if isinstance(answers, str) else answers
        deadline = self.deadline
        while True:
            try:
                reply = self.channel.recv(deadline)
            except TimeoutError:
                if self.timed_out:
                    raise StudentTimeout("the notebook ran past its time limit") from None
                self.timed_out = True
                self.interrupt()
                deadline = time.monotonic() + self.grace_s
                continue
            except WireError as exc:
                raise ProtocolViolation(str(exc)) from None
            if reply is None:
                raise StudentDied("the notebook's process stopped")
            kind = reply.get("t")
            if reply.get("job") != self.job:
                raise ProtocolViolation(f"a {kind!r} message for another job")
            if kind == "out" and valid_output(reply.get("output")):
                if outputs is not None:
                    outputs.add(reply["output"])
            elif kind == "callback" and callbacks is not None and reply.get("seq") == seq:
                self._callback(reply, callbacks)
            elif kind in answers and reply.get("seq") == seq:
                if self.timed_out:  # it finished the interrupted request: the time is still up
                    raise StudentTimeout("the notebook ran past its time limit")
                return reply
            else:
                raise ProtocolViolation(f"an unexpected {kind!r} message")

    def _callback(self, request: dict[str, Any], callbacks: list[Callable[..., Any]]) -> None:
        number = request.get("id")
        if not isinstance(number, int) or not 0 <= number < len(callbacks):
            raise ProtocolViolation(f"a callback {number!r} that was not offered")
        try:
            args, kwargs = decode(request.get("args")), decode(request.get("kwargs"))
            if not (isinstance(args, list) and isinstance(kwargs, dict)):
                raise TypeError("a callback needs a list of arguments and a dict of options")
            value = encode(callbacks[number](*args, **kwargs))
            reply = {"t": "callback_result", "value": value}
        except Exception as exc:  # noqa: BLE001 -- the function refused what the student passed
            reply = {"t": "callback_raised", "type": type(exc).__name__, "message": str(exc)}
        self.channel.send({**reply, "job": self.job})


# ------------------------------------------------------------------------ the student's names


class RemoteFunction(FunctionRef):
    """A function of the student's, called from a test cell or a checker in the grader.

    Calling it sends the arguments, runs the function in the student's process, copies back what
    the call did to the arguments (:func:`.wire.write_back`) and returns the result. While
    :meth:`standing_in` is active, the student's function finds the grader's functions under
    those names (see :attr:`.check.Check.stand_ins`).
    """

    def __init__(self, session: Session, name: str) -> None:
        super().__init__(name)
        self.session = session
        self.__name__ = name
        self.stand_ins: dict[str, Callable[..., Any]] = {}

    def __repr__(self) -> str:
        return f"<the student's {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        sent_args, sent_kwargs = list(args), dict(kwargs)
        result, args_after, kwargs_after = self.session.call(
            self.name, sent_args, sent_kwargs, self.stand_ins
        )
        try:
            if args_after is not None:
                write_back(sent_args, args_after, "an argument")
                write_back(sent_kwargs, kwargs_after, "an argument")
        except InputChanged as exc:
            raise RemoteError(
                "InputChanged", f"the function changed its input in place: {exc}"
            ) from None
        return result

    @contextlib.contextmanager
    def standing_in(self, functions: dict[str, Callable[..., Any]]) -> Iterator[None]:
        saved, self.stand_ins = self.stand_ins, dict(functions)
        try:
            yield
        finally:
            self.stand_ins = saved


class RemoteNamespace(dict):
    """A test cell's globals: its own names and the setup's, then the student's, looked up.

    A missing name that is a builtin falls through to the builtins; any other is asked of the
    student's process: a callable comes back as a :class:`RemoteFunction`, a value as a copy.
    Nothing is cached, so a test always sees the student's current definitions.
    """

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def __missing__(self, name: str) -> Any:
        if hasattr(builtins, name) or name.startswith("__"):
            raise KeyError(name)
        found = self.session.lookup(name)
        kind = found.get("kind")
        if kind == "callable":
            return RemoteFunction(self.session, name)
        if kind == "value":
            try:
                return decode(found.get("value"))
            except WireError as exc:
                raise TypeError(f"the notebook's {name!r} could not be read: {exc}") from None
        if kind == "unsendable":
            raise TypeError(
                f"the notebook's {name!r} is a {found.get('type')}, which a test cannot receive"
            )
        raise KeyError(name)


# ------------------------------------------------------------------------------- test cells


class _Writer(io.TextIOBase):
    """``sys.stdout`` while a test cell runs here: text goes to the cell's outputs."""

    def __init__(self, outputs: Outputs) -> None:
        self.outputs = outputs

    def write(self, text: str) -> int:
        if text:
            self.outputs.add({"output_type": "stream", "name": "stdout", "text": text})
        return len(text)


def run_test_cell(
    source: str, namespace: RemoteNamespace, outputs: Outputs, filename: str = "<test cell>"
) -> bool:
    """Run an instructor's cell in the grader as IPython would: the value of a last bare
    expression becomes the cell's ``execute_result`` (how nbgrader reads partial credit), an
    exception its ``error`` output. Returns True if it raised nothing.

    :class:`StudentTimeout`, :class:`StudentDied` and :class:`ProtocolViolation` propagate.
    """
    session = namespace.session
    previous, session.outputs = session.outputs, outputs
    writer = _Writer(outputs)
    try:
        with contextlib.redirect_stdout(writer), contextlib.redirect_stderr(writer):
            tree = ast.parse(source, filename)
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, filename, "exec"), namespace)  # noqa: S102 -- instructor code
            if last is not None:
                value = eval(compile(ast.Expression(last.value), filename, "eval"), namespace)
                if value is not None:
                    outputs.add(
                        {
                            "output_type": "execute_result",
                            "metadata": {},
                            "data": {"text/plain": repr(value)},
                        }
                    )
        return True
    except Exception as exc:  # noqa: BLE001 -- a failing test is a result
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
        lines = [f"  line {f.lineno}: {f.line}\n" for f in frames if f.line]
        ename = getattr(exc, "type_name", type(exc).__name__)
        outputs.add(
            {
                "output_type": "error",
                "ename": ename,
                "evalue": str(exc),
                "traceback": [*lines, f"{ename}: {exc}"],
            }
        )
        return False
    finally:
        session.outputs = previous
