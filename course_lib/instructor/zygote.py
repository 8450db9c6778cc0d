"""The process that lives *inside* a grading sandbox and runs one submission at a time.

Why a zygote: importing torch costs about 2 s of CPU, more than most exercise notebooks take to
run. The zygote imports the heavy modules once, then ``fork()``s a fresh child per submission, so
each child starts with torch already in memory (copy-on-write) and pays nothing for it.

Why this is still isolation: the zygote runs inside a bubblewrap sandbox (no network, hidden
course files, no capabilities, see :mod:`sandbox`). Between two submissions it kills every other
process in the sandbox's PID namespace and empties the writable directories, so nothing one
student leaves behind (a daemon, a file in /tmp) reaches the next. The zygote itself never reads a
student's notebook or output -- the child reads its notebook from disk and writes its results
straight to the pipe -- so a child's copy of the zygote's memory holds no other student's data.

Protocol, one JSON object per line:
  host -> zygote (stdin):  {"job": DIR, "notebook": FILE, "limit_s": S, "mem_bytes": M,
                            "output_bytes": N}   (N: output bytes allowed per cell)
  zygote/child -> host (stdout):
    {"t": "ready"}                                   once, after the preloads
    {"t": "out", "cell": I, "output": {...}}         an nbformat output of code cell I
    {"t": "done", "cell": I, "ok": bool, "count": N} cell I finished (ok=False: it raised)
    {"t": "tamper", "cell": I, "what": TEXT}         IPython hooks were changed (and reset)
    {"t": "exit", "code": C, "signal": S, "timed_out": bool, "seconds": T}
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import resource
import shutil
import signal
import sys
import time
from typing import Any

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
# Exit status of a child whose harness (not the submission) raised.
HARNESS_FAILED = 70
# Seconds a timed-out child gets, after SIGINT, to record the interrupted cell before SIGKILL.
INTERRUPT_GRACE_S = 2.0
# Directories a submission may write to; emptied after every submission.
SCRATCH_DIRS = ("/tmp", "/dev/shm")


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _send(fd: int, message: dict[str, Any]) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def _data_vm_bytes() -> int:
    """This process's current data segment (what RLIMIT_DATA counts), from /proc."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


# --------------------------------------------------------------------------------------------
# The child: executes one notebook's code cells with IPython, in this very process.
# --------------------------------------------------------------------------------------------


class _Timeout:
    """Set by the SIGINT the zygote sends when the wall-clock limit is reached."""

    reached = False


def _on_sigint(signum: int, frame: Any) -> None:
    _Timeout.reached = True
    raise KeyboardInterrupt("time limit reached")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


def _make_shell(fd: int, output_bytes: int) -> tuple[Any, list[int]]:
    """An IPython shell whose outputs become nbformat outputs sent on ``fd``.

    Returns the shell and a one-element list holding the index of the cell being run (the
    display hooks read it to label their messages). Each cell may print ``output_bytes``; past
    that its output is dropped with one notice -- except errors, which are always sent
    (clipped), because a test's error is what makes it fail.
    """
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    current = [-1]
    spent: dict[int, int] = {}  # cell -> bytes of output sent

    def emit(output: dict[str, Any]) -> None:
        cell = current[0]
        if output["output_type"] != "error":
            used = spent.get(cell, 0)
            if used > output_bytes:
                return
            spent[cell] = used + len(json.dumps(output))
            if spent[cell] > output_bytes:  # say once that the rest was dropped
                output = {"output_type": "stream", "name": "stdout",
                          "text": f"\n[output truncated: more than {output_bytes} bytes]\n"}
        _send(fd, {"t": "out", "cell": cell, "output": output})

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
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False,
                    **kwargs) -> None:
            emit({"output_type": "display_data", "data": data, "metadata": metadata or {}})

    class Hook(DisplayHook):
        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict, md_dict=None) -> None:
            emit({"output_type": "execute_result", "data": format_dict,
                  "metadata": md_dict or {}, "execution_count": self.prompt_count})

        def finish_displayhook(self) -> None:
            pass

    class Shell(InteractiveShell):
        def _showtraceback(self, etype, evalue, stb) -> None:
            emit({"output_type": "error", "ename": getattr(etype, "__name__", str(etype)),
                  "evalue": _clip(str(evalue), 10_000),
                  "traceback": [_clip(line, 10_000) for line in list(stb)[-100:]]})

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    Shell.displayhook_class = Hook
    Shell.display_pub_class = Publisher
    shell = Shell.instance(config=config)
    sys.stdout, sys.stderr = Stream("stdout"), Stream("stderr")
    return shell, current


class _Guard:
    """Undo the IPython-level tricks that would let later (test) cells pass without running.

    Before every cell: input/AST transformers back to their original lists, no custom exception
    handler, and ``run_cell`` called through the class captured here. A submission running in
    this process can still do anything Python allows -- this closes the cheap, well-known
    tricks, and reports them (the submission is then marked ``tampered``).
    """

    LISTS = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.run_cell = type(shell).run_cell
        self.saved = {name: list(getattr(shell, name)) for name in self.LISTS}

    def restore(self) -> list[str]:
        changed = []
        for name, saved in self.saved.items():
            current = getattr(self.shell, name)
            if current != saved:
                current[:] = saved  # in place: some of these are read-only properties
                changed.append(name)
        if self.shell.custom_exceptions:
            self.shell.set_custom_exc((), None)
            changed.append("custom exception handler")
        return changed


def _run_child(job: dict[str, Any], fd: int) -> None:
    workdir = job["job"]
    # The zygote's stdin carries the next jobs: a submission must not read it.
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.chdir(workdir)
    os.environ.update(HOME=workdir, IPYTHONDIR=os.path.join(workdir, ".ipython"))
    sys.path.insert(0, workdir)
    # A hard limit the child cannot raise again; counted on top of what the preloads already use.
    limit = _data_vm_bytes() + int(job["mem_bytes"])
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    signal.signal(signal.SIGINT, _on_sigint)
    with open(os.path.join(workdir, job["notebook"])) as f:
        cells = json.load(f)["cells"]
    shell, current = _make_shell(fd, int(job["output_bytes"]))
    guard = _Guard(shell)
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code" or _Timeout.reached:
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        current[0] = index
        changed = guard.restore()
        if changed:
            _send(fd, {"t": "tamper", "cell": index,
                       "what": "the notebook changed IPython's " + ", ".join(changed)})
        ok = False
        try:
            result = guard.run_cell(shell, source, store_history=True)
            # A cell "succeeds" only if IPython says so: swallowing the traceback display does
            # not turn a failure into a pass (nbgrader's Execute applies the same rule).
            ok = bool(result.success)
        except KeyboardInterrupt:
            pass
        _send(fd, {"t": "done", "cell": index, "ok": ok and not _Timeout.reached,
                   "count": shell.execution_count - 1})


# --------------------------------------------------------------------------------------------
# The zygote: forks one child per job, enforces the time limit, cleans up after it.
# --------------------------------------------------------------------------------------------


def _kill_everything_else() -> None:
    """SIGKILL every process in this PID namespace except init (1) and the zygote, and reap."""
    me = os.getpid()
    for _ in range(5):  # a fork bomb may still be forking while we sweep: repeat until empty
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        if not others:
            break
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap(block_s=0.5)
    _reap(block_s=0.0)


def _reap(block_s: float) -> None:
    deadline = time.monotonic() + block_s
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.01)


def _empty(directory: str) -> None:
    if not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _wait(pid: int, limit_s: float) -> tuple[int | None, int | None, bool]:
    """Wait for the child; on the deadline interrupt it, then kill it. -> (code, signal, late)."""
    deadline = time.monotonic() + limit_s
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.WIFSIGNALED(status):
                return None, os.WTERMSIG(status), timed_out
            return os.WEXITSTATUS(status), None, timed_out
        now = time.monotonic()
        if now >= deadline:
            if not timed_out:
                timed_out = True
                _signal_group(pid, signal.SIGINT)
                deadline = now + INTERRUPT_GRACE_S
            else:
                _signal_group(pid, signal.SIGKILL)
                deadline = now + 60.0
        time.sleep(0.005)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def run_job(job: dict[str, Any], fd: int) -> None:
    start = time.monotonic()
    _Timeout.reached = False
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.setsid()
            _run_child(job, fd)
        except BaseException:  # noqa: BLE001 -- any failure of the harness is an exit code
            code = HARNESS_FAILED
        finally:
            os._exit(code)
    code, sig, timed_out = _wait(pid, float(job["limit_s"]))
    _kill_everything_else()
    for directory in SCRATCH_DIRS:
        _empty(directory)
    _send(fd, {"t": "exit", "code": code, "signal": sig, "timed_out": timed_out,
               "seconds": round(time.monotonic() - start, 3)})


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # Non-dumpable: a submission running as the same user cannot ptrace us or read our fds.
    _prctl(PR_SET_DUMPABLE, 0)
    # Orphans of a child are re-parented to us, so _kill_everything_else can reap them.
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    fd = os.dup(1)  # the pipe to the host, non-inheritable: spawned programs cannot write to it
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    for module in argv:  # the warm-up: everything a submission would import first
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    import IPython.core.interactiveshell  # noqa: F401 -- every child needs it

    _send(fd, {"t": "ready"})
    for line in sys.stdin:
        if line.strip():
            run_job(json.loads(line), fd)


if __name__ == "__main__":
    main()
