"""Run submitted notebooks in a bubblewrap sandbox: no network, hidden files, bounded memory/time.

One :class:`SandboxWorker` is one long-lived sandbox holding a warm :mod:`zygote` (torch already
imported). It runs submissions one after another; :mod:`autograde` runs two workers side by side.

What a submission sees (``bwrap --unshare-all``): no network at all (its own empty network
namespace, so not even the host's 127.0.0.1), its own PID namespace, the root file system
read-only, and over it empty tmpfs directories hiding the course directory (solutions, source,
gradebook, other students' submissions), the project, home directories and /tmp. The Python
installation, the virtualenv and ``course_lib`` are mounted back read-only; the submission's own
copy is the only writable directory (mounted at ``/home/student``).

Limits: the wall clock is enforced by the zygote (SIGINT, then SIGKILL), memory by a hard
``RLIMIT_DATA`` in each child (``RLIMIT_AS`` would have to be huge because torch reserves
address space it never uses; RLIMIT_DATA counts what is really allocated), processes by a pids
cgroup where the host offers one (``RLIMIT_NPROC`` does nothing for uid 0, which is what the
sandbox runs as here).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import course_lib

from .course import CourseError
from .zygote import HARNESS_FAILED, SCRATCH_DIRS

SANDBOX_HOME = "/home/student"
# What the zygote imports before forking: the heavy libraries an exercise notebook imports
# first. Not course_lib.grading: its tamper guard snapshots builtins when imported, and must do
# so inside the notebook's IPython shell (which installs its own exit/quit), as in Jupyter.
PRELOAD = ("numpy", "torch", "matplotlib.pyplot", "course_lib")
# Hidden whatever the course: home directories and shared scratch space.
ALWAYS_HIDDEN = ("/root", "/home", "/tmp", "/var/tmp")


class SandboxUnavailable(CourseError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


@dataclass(frozen=True)
class Limits:
    """Per-notebook limits. ``wall_s`` bounds the whole notebook, not each cell."""

    wall_s: float = 60.0
    mem_bytes: int = 2 * 2**30
    output_bytes: int = 1_000_000
    max_pids: int = 256


@dataclass
class Execution:
    """What happened to one notebook: its code cells' outputs and how the run ended.

    ``status`` is ``"ok"``, ``"timeout"`` or ``"error"``; ``reason`` explains the last two.
    ``outputs[i]`` / ``finished[i]`` are keyed by the cell's index in the notebook.
    """

    status: str
    reason: str = ""
    seconds: float = 0.0
    outputs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    finished: dict[int, bool] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    tampering: list[str] = field(default_factory=list)
    # Filled by execute.apply_execution: test cell grade id -> passed / failed / not run /
    # tampered.
    tests: dict[str, str] = field(default_factory=dict)


def bwrap_command(job_dir: Path, hidden: list[Path], argv: list[str]) -> list[str]:
    """The bubblewrap command line that runs ``argv`` with ``job_dir`` as the only writable dir."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed: run `make system-deps` or "
            "`apt-get install bubblewrap`")
    hide = sorted({str(Path(p).resolve()) for p in [*hidden, *map(Path, ALWAYS_HIDDEN)]},
                  key=lambda p: p.count("/"))
    package_dir = Path(course_lib.__file__).resolve().parent
    expose = sorted({str(Path(p).resolve()) for p in (sys.base_prefix, sys.prefix, package_dir)},
                    key=lambda p: p.count("/"))
    cmd = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    # --dev makes a minimal /dev: pass NVIDIA GPUs through so that torch.cuda works inside.
    for device in sorted(glob.glob("/dev/nvidia*")):
        cmd += ["--dev-bind", device, device]
    for path in hide:
        if os.path.isdir(path):
            cmd += ["--tmpfs", path]
        elif os.path.exists(path):
            cmd += ["--ro-bind", "/dev/null", path]
    for path in expose:
        cmd += ["--ro-bind", path, path]
    cmd += ["--bind", str(job_dir), SANDBOX_HOME]
    # The hiding tmpfs become read-only once every mount point inside them exists: writing
    # "outside the workdir" then fails instead of landing in a throw-away tmpfs.
    for path in hide:
        if os.path.isdir(path) and path not in SCRATCH_DIRS:
            cmd += ["--remount-ro", path]
    cmd += ["--chdir", SANDBOX_HOME,
            "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "--setenv", "HOME", SANDBOX_HOME,
            # One thread per kernel: the workers already use every core between them.
            "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "MKL_NUM_THREADS", "1",
            "--setenv", "MPLBACKEND", "Agg", "--setenv", "MPLCONFIGDIR", "/tmp",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "PYTHONNOUSERSITE", "1",
            "--setenv", "NBGRADER_EXECUTION", "autograde"]
    return cmd + argv


class _PidsCgroup:
    """A pids cgroup (v2 or v1) capping the number of processes in one sandbox, if available."""

    def __init__(self, max_pids: int) -> None:
        self.path: Path | None = None
        name = f"course-sandbox-{uuid.uuid4().hex[:12]}"
        for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
            if not (base / "cgroup.procs").exists():
                continue
            if base.name == "cgroup" and "pids" not in _read(base / "cgroup.subtree_control"):
                continue
            _remove_stale(base)
            try:
                (base / name).mkdir()
                (base / name / "pids.max").write_text(str(max_pids))
            except OSError:
                with contextlib.suppress(OSError):
                    (base / name).rmdir()
                continue
            self.path = base / name
            return

    def enter(self) -> None:
        """Called in the forked child before exec: put it (and so the sandbox) in the cgroup."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        """Remove the cgroup once its processes are gone (they die just after bwrap)."""
        if self.path is None:
            return
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.05)


def _remove_stale(base: Path, age_s: float = 3600.0) -> None:
    """Remove our cgroups left behind by a grader that was killed (rmdir fails on live ones).

    Only old ones: a fresh one may belong to a run that has not put its sandbox in it yet.
    """
    for stale in base.glob("course-sandbox-*"):
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > age_s:
                stale.rmdir()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


class SandboxWorker:
    """A warm sandbox that executes notebooks one at a time.

    ``hidden``: paths the submissions must not see (course dir, project, gradebook...).
    ``scratch``: where the worker keeps its job directory and log (default: the system's temp
    directory); a hidden path may hold it, since the job directory is mounted back on top.
    Use as a context manager; :meth:`run` restarts the sandbox if a submission broke it.
    """

    def __init__(self, hidden: list[Path], limits: Limits, *, preload: tuple[str, ...] = PRELOAD,
                 scratch: Path | None = None, start_timeout_s: float = 120.0) -> None:
        self.hidden = hidden
        self.limits = limits
        self.preload = preload
        self.start_timeout_s = start_timeout_s
        if scratch is not None:
            scratch.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="worker-", dir=scratch))
        self.job_dir = self.root / "job"
        self.proc: subprocess.Popen[bytes] | None = None
        self.cgroup: _PidsCgroup | None = None
        self._buffer = b""

    def __enter__(self) -> SandboxWorker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self._stop()
        self.job_dir.mkdir(exist_ok=True)
        cmd = bwrap_command(self.job_dir, self.hidden,
                            [sys.executable, "-m", "course_lib.instructor.zygote", *self.preload])
        self.cgroup = _PidsCgroup(self.limits.max_pids)
        self._buffer = b""
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(self.root / "sandbox.log", "ab"), preexec_fn=self.cgroup.enter)
        message = self._next_message(time.monotonic() + self.start_timeout_s)
        if message is None or message.get("t") != "ready":
            log = _read(self.root / "sandbox.log")[-2000:]
            self._stop()
            raise SandboxUnavailable(f"the grading sandbox did not start: {log or message}")

    def close(self) -> None:
        self._stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()
            self.proc = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    def run(self, notebook: dict[str, Any], files: dict[str, Path] | None = None) -> Execution:
        """Execute the code cells of ``notebook`` (nbformat dict) next to ``files``.

        ``files`` maps relative names to host paths of data files the notebook reads. The
        notebook itself is not modified: its outputs come back in the :class:`Execution`.
        """
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        _reset_dir(self.job_dir)
        for name, source in (files or {}).items():
            target = self.job_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        (self.job_dir / "submission.ipynb").write_text(json.dumps(notebook))
        job = {"job": SANDBOX_HOME, "notebook": "submission.ipynb",
               "limit_s": self.limits.wall_s, "mem_bytes": self.limits.mem_bytes,
               "output_bytes": self.limits.output_bytes}
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.start()
            return Execution("error", "the grading sandbox stopped before the notebook ran")
        result = self._collect(time.monotonic() + self.limits.wall_s + 30.0)
        _reset_dir(self.job_dir)
        return result

    def _collect(self, deadline: float) -> Execution:
        outputs: dict[int, list[dict[str, Any]]] = {}
        finished: dict[int, bool] = {}
        counts: dict[int, int] = {}
        tampering: list[str] = []
        size = 0
        while True:
            message = self._next_message(deadline)
            if message is None:  # the zygote died or hung: restart it for the next submission
                self.start()
                return Execution("error", "the grading sandbox crashed (killed for memory?)",
                                 outputs=outputs, finished=finished, counts=counts,
                                 tampering=tampering)
            kind = message.get("t")
            cell = message.get("cell")
            if kind == "out" and isinstance(cell, int) and isinstance(message.get("output"), dict):
                size += len(json.dumps(message["output"]))
                # The child truncates each cell; this bounds what a child that lies can send.
                is_error = message["output"].get("output_type") == "error"
                if size <= (40 if is_error else 20) * self.limits.output_bytes:
                    outputs.setdefault(cell, []).append(message["output"])
            elif kind == "done" and isinstance(cell, int):
                finished[cell] = bool(message.get("ok"))
                if isinstance(message.get("count"), int):
                    counts[cell] = message["count"]
            elif kind == "tamper" and isinstance(message.get("what"), str):
                tampering.append(f"cell {cell}: {message['what'][:200]}")
            elif kind == "exit":
                status, reason = _exit_status(message, self.limits)
                return Execution(status, reason, float(message.get("seconds", 0.0)),
                                 outputs, finished, counts, tampering)

    def _next_message(self, deadline: float) -> dict[str, Any] | None:
        """The next JSON line from the sandbox, or None if it closed or the deadline passed.

        Reads in bounded chunks: a submission that writes one gigantic line cannot make the
        grader hold it in memory (over-long lines are dropped).
        """
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        limit = 4 * self.limits.output_bytes + 65536
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                if b"\n" in self._buffer:
                    line, self._buffer = self._buffer.split(b"\n", 1)
                    try:
                        message = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(message, dict):
                        return message
                    continue
                if len(self._buffer) > limit:
                    self._buffer = b""  # drop the over-long line; resynchronise at the next \n
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(timeout=remaining):
                    return None
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return None
                self._buffer += chunk


def _exit_status(message: dict[str, Any], limits: Limits) -> tuple[str, str]:
    if message.get("timed_out"):
        return "timeout", f"the notebook ran past its time limit of {limits.wall_s:g} s"
    sig = message.get("signal")
    if sig is not None:
        names = {9: "SIGKILL (out of memory or killed)", 11: "SIGSEGV (segmentation fault)",
                 6: "SIGABRT (aborted)", 7: "SIGBUS"}
        return "error", f"the kernel died from signal {sig}: {names.get(sig, 'see signal(7)')}"
    code = message.get("code")
    if code == HARNESS_FAILED:
        return "error", "the grading harness failed while running this notebook"
    if code not in (0, None):
        return "error", f"the kernel exited with status {code} (os._exit or sys.exit in the code?)"
    return "ok", ""


def _reset_dir(path: Path) -> None:
    """Empty ``path`` but keep the directory itself: it is what the sandbox has mounted."""
    path.mkdir(parents=True, exist_ok=True)
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
