"""The fork server inside a grading sandbox: one fresh student process per notebook.

Why a zygote: importing torch costs about 2 s of CPU, more than most exercise notebooks take to
run. The zygote imports the heavy modules once, then ``fork()`` s a fresh child per notebook,
so each child starts with torch already in memory (copy-on-write) and pays nothing for it.

The zygote holds nothing that decides a grade either: it never reads a notebook, an output or an
answer. It only starts, limits and ends children:

1. At start it drops to an unprivileged user (when the sandbox was started as root), makes
   itself non-dumpable (a child running as the same user can neither ptrace it nor open its file
   descriptors) and a subreaper (it can reap whatever a child leaves behind).
2. For each job the grader sends ``{"t": "job", "job", "mem_bytes", "output_bytes",
   "backstop_s"}`` on the control socket, together with one end of a fresh socket pair
   (``SCM_RIGHTS``): the job's only channel to the grader, so nothing a child writes can reach
   another job. The child closes the control socket before running anything else.
3. The grader ends every job: ``{"t": "interrupt"}`` sends SIGINT to the child (the time limit),
   ``{"t": "end"}`` kills every process in the sandbox but the zygote, empties the scratch
   directories, and answers ``{"t": "ended", "job", "code", "signal"}``. The backstop kills a
   child that outlives ``backstop_s`` even if the grader went silent.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import os
import resource
import shutil
import signal
import socket
import sys
import time
from typing import Any

from course_lib.grading.frames import Channel

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
# Directories a child may write to besides its job directory; emptied after every job.
SCRATCH_DIRS = ("/tmp", "/dev/shm")


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


class Control(Channel):
    """The grader's control socket: frames as on every channel, plus the passed job sockets."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.fds: list[int] = []

    def _receive(self, size: int) -> bytes:
        data, fds, _, _ = socket.recv_fds(self.sock, size, 4)
        self.fds += fds
        return data


def _drop_privileges(uid: int, gid: int) -> None:
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)


def _data_vm_bytes() -> int:
    """This process's current data segment (what RLIMIT_DATA counts), from /proc."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def _run_child(job: dict[str, Any], channel: int, control: socket.socket) -> None:
    control.close()  # before anything else: a child never talks to the zygote's controller
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # a notebook's output reaches the grader as messages, nothing else
        os.dup2(null, fd)
    # Hard limits a child cannot raise again; memory counts on top of what the preloads use.
    memory = _data_vm_bytes() + int(job["mem_bytes"])
    for limit, value in (
        (resource.RLIMIT_DATA, memory),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, int(job["file_bytes"])),
        (resource.RLIMIT_NPROC, int(job["max_pids"])),
    ):
        resource.setrlimit(limit, (value, value))
    home = os.environ["HOME"]
    os.chdir(home)
    os.environ["IPYTHONDIR"] = os.path.join(home, ".ipython")
    sys.path.insert(0, home)
    from course_lib.instructor.student import serve

    serve(channel, job["job"], int(job["output_bytes"]))


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
            except (ProcessLookupError, PermissionError):
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


def run_job(job: dict[str, Any], channel: int, control: Control) -> bool:
    """Fork the child for ``job`` and end it when the grader says; False if the grader left."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            _run_child(job, channel, control.sock)
        finally:
            os._exit(0)
    os.close(channel)
    backstop = time.monotonic() + float(job["backstop_s"])
    while True:
        if time.monotonic() > backstop:
            _signal_group(pid, signal.SIGKILL)
        try:
            message = control.recv(deadline=time.monotonic() + 0.01)
        except TimeoutError:
            continue
        if message is None:
            _kill_everything_else()
            return False
        if message.get("t") == "interrupt":
            _signal_group(pid, signal.SIGINT)
        elif message.get("t") == "end":
            break
    done, status = os.waitpid(pid, os.WNOHANG)
    if not done:  # still running when the grader ended the job
        _signal_group(pid, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    _kill_everything_else()
    for directory in SCRATCH_DIRS:
        _empty(directory)
    control.send({"t": "ended", "job": job["job"], "code": code, "signal": sig})
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--uid", type=int, required=True)
    parser.add_argument("--gid", type=int, required=True)
    parser.add_argument("--preload", nargs="*", default=[])
    args = parser.parse_args(argv)
    _drop_privileges(args.uid, args.gid)
    _prctl(PR_SET_DUMPABLE, 0)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    control = Control(socket.socket(fileno=args.control_fd))
    os.dup2(2, 1)  # the sandbox's log: nothing a zygote prints is a message
    for module in args.preload:  # the warm-up: everything a notebook would import first
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    import IPython.core.interactiveshell  # noqa: F401 -- every child needs it

    import course_lib.instructor.student  # noqa: F401

    control.send({"t": "ready", "uid": os.getuid()})
    while (message := control.recv()) is not None:
        if message.get("t") == "job" and control.fds:
            if not run_job(message, control.fds.pop(0), control):
                return


if __name__ == "__main__":
    main()
