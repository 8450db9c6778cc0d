"""The student's side of grading: a bubblewrap sandbox that shows a notebook only what it needs.

One :class:`SandboxWorker` is one long-lived sandbox holding a warm :mod:`.zygote` (torch
already imported), which forks a fresh student process (:mod:`.student`) per notebook.

What a student process sees is an **allowlist** (:func:`bwrap_command`), mounted read-only:
the system's programs and libraries (``/usr/bin``, ``/usr/lib``, ``/usr/share``…), the Python
installation and the virtualenv, and :func:`student_package`, a ``course_lib`` that holds only
what the exercise gives students: its helper models and the modules its setup cell imports,
never a checker, a reference for a graded part, a seed or an expected value. Writable: its own
job directory (``/home/student``, the notebook's files, copied in without following links) and
a private ``/tmp``. Nothing else of the host exists there: no other checkouts, no homes, no
``/etc`` beyond the loader cache and a two-line ``passwd``, no sockets, no network (its own empty
network namespace), its own PID namespace.

It runs as an unprivileged user: when the grader is root, bubblewrap runs without a user
namespace and the zygote switches to :data:`SANDBOX_UID` before it imports anything; otherwise
it is the instructor's own user inside a user namespace. Limits: the wall clock is the grader's
(:class:`course_lib.grading.remote.Session`), memory a hard ``RLIMIT_DATA`` per student process,
processes ``RLIMIT_NPROC`` plus a pids cgroup where the host offers one, file size
``RLIMIT_FSIZE``.
"""

from __future__ import annotations

import ast
import contextlib
import glob
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import course_lib
from course_lib.grading.frames import Channel, WireError

from .course import CourseError
from .limits import Limits, SandboxUnavailable
from .normalise import cell_roles, cell_source, nbgrader_meta

if TYPE_CHECKING:
    from course_lib.grading.remote import Session

SANDBOX_HOME = "/home/student"
PACKAGE_MOUNT = "/opt/unrolled"
#: The unprivileged user and group a sandbox runs as when the grader is root (``nobody``).
SANDBOX_UID = SANDBOX_GID = 65534
# What the zygote imports before forking: what an exercise notebook imports first.
PRELOAD = ("numpy", "torch", "torch.nn.functional", "matplotlib.pyplot", "course_lib.models")
# System directories a notebook may read (programs, libraries, fonts, time zones). /usr/local is
# not among them: it is where machines keep their own tools.
SYSTEM_DIRS = (
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/share",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
)
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
PACKAGE_ROOT = Path(course_lib.__file__).resolve().parent
# Student-side modules every sandbox gets: the wire, the student process, the zygote and the
# models that cross between grader and notebook.
_ALWAYS = (
    "grading/frames.py",
    "grading/wire.py",
    "instructor/student.py",
    "instructor/zygote.py",
    "models.py",
)


class WorkerFailed(BaseException):
    """The sandbox itself broke (its zygote died or went silent): replace it and retry.

    Like :class:`course_lib.grading.remote.ProtocolViolation`, it is about the grading machinery,
    never a verdict on the notebook, so it derives from BaseException: no handler for ordinary
    errors (nbgrader's or a test's) turns it into a score.
    """


# --------------------------------------------------------------------------- the package


def _module_file(name: str) -> Path | None:
    """The source file of module ``course_lib.x.y``, or None for a package or no module."""
    path = PACKAGE_ROOT.joinpath(*name.split(".")[1:]).with_suffix(".py")
    return path if name.startswith("course_lib.") and path.is_file() else None


def _course_imports(source: str, package: str = "") -> set[str]:
    """The ``course_lib`` modules (not packages) that ``source`` imports; ``package`` is the
    dotted package a file belongs to, for its relative imports."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}  # `from pkg import mod`
    return {n for n in names if _module_file(n) is not None}


def checks_stand_in(module: Any) -> str:
    """Source of what stands for a checks module in the sandbox: ``check`` and ``grade`` do
    nothing (the grader runs the test cells), and the names the module gives students
    (``GIVEN``) are imported from where they live."""
    lines = [
        f'"""Stands for {module.__name__} while a notebook is graded: the tests run in the '
        'grader."""',
        "from course_lib.instructor.student import graded_elsewhere as check",
        "from course_lib.instructor.student import graded_elsewhere as grade",
    ]
    for name, value in getattr(module, "GIVEN", {}).items():
        lines.append(f"from {value.__module__} import {value.__name__} as {name}")
    return "\n".join(lines) + "\n"


def _setup_sources(releases: list[dict[str, Any]]) -> list[str]:
    """Sources of the cells that run in the student's process too: the locked, untested ones."""
    return [
        cell_source(cell)
        for release in releases
        for cell in release["cells"]
        if cell_roles(release).get(nbgrader_meta(cell).get("grade_id")) == "shared"
    ]


def student_package(releases: list[dict[str, Any]], dest: Path) -> set[str]:
    """Write the sandbox's ``course_lib`` for an assignment's released notebooks into ``dest``.

    It holds the modules their locked cells import, with what those import in turn,
    plus :data:`_ALWAYS`; each checks module (``course_lib.grading.exNN_name``) is replaced by
    :func:`checks_stand_in`. Returns the module names it holds; raises :class:`CourseError` if
    a locked cell would bring a checker or the ``course`` command along.
    """
    import importlib

    wanted = set().union(*(_course_imports(s) for s in _setup_sources(releases)))
    stand_ins = {m for m in wanted if m.startswith("course_lib.grading.ex")}
    always = {f"course_lib.{p[:-3].replace('/', '.')}" for p in _ALWAYS}
    todo = sorted(wanted - stand_ins) + sorted(always)
    copies: set[str] = set()
    while todo:
        name = todo.pop()
        if name in copies or name in stand_ins:
            continue
        copies.add(name)
        package = name.rsplit(".", 1)[0]
        todo += _course_imports(_module_file(name).read_text(), package)  # type: ignore[union-attr]
    private = sorted(
        m
        for m in copies - always
        if m.startswith(("course_lib.grading.", "course_lib.instructor."))
    )
    if private:
        raise CourseError(f"the notebook's locked cells would give students {', '.join(private)}")
    shutil.rmtree(dest, ignore_errors=True)
    for package in ("course_lib", "course_lib/grading", "course_lib/instructor"):
        (dest / package).mkdir(parents=True)
        (dest / package / "__init__.py").write_text(
            '"""course_lib as a notebook sees it while it is graded: what its exercise gives '
            'students, nothing that decides a grade."""\n'
        )
    for name in copies:
        source = _module_file(name)
        assert source is not None
        target = dest / source.relative_to(PACKAGE_ROOT.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    for name in stand_ins:
        target = dest / Path(*name.split(".")).with_suffix(".py")
        target.write_text(checks_stand_in(importlib.import_module(name)))
    return copies | stand_ins


# -------------------------------------------------------------------------- bubblewrap


def _real_dirs(paths: list[str]) -> list[str]:
    """Existing directories, resolved, outermost first, without ones inside another."""
    resolved = sorted(
        {str(Path(p).resolve()) for p in paths if os.path.isdir(p)}, key=lambda p: (p.count("/"), p)
    )
    kept: list[str] = []
    for path in resolved:
        if not any(path == k or path.startswith(k + "/") for k in kept):
            kept.append(path)
    return kept


def bwrap_command(job_dir: Path, package_dir: Path, etc_dir: Path, argv: list[str]) -> list[str]:
    """The bubblewrap command line running ``argv`` in the allowlist sandbox (module docstring)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed: run `make system-deps` or "
            "`apt-get install bubblewrap`, then run the command again"
        )
    root = os.getuid() == 0
    cmd = [
        bwrap,
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--cap-drop",
        "ALL",
    ]
    # As root, no user namespace: the zygote drops to SANDBOX_UID itself (a namespace would map
    # the sandbox's users onto host root). Otherwise the instructor's user, in a user namespace.
    cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"] if root else ["--unshare-user"]
    # The private /dev, /proc and /tmp come first: bubblewrap mounts in order, so a Python
    # environment that lives under /tmp (a checkout there, say) is bound on top of the new
    # /tmp rather than hidden by it.
    cmd += [
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--perms",
        "1777",
        "--tmpfs",
        "/tmp",
        "--perms",
        "1777",
        "--tmpfs",
        "/dev/shm",
    ]
    made: set[str] = {"/", "/dev", "/proc", "/tmp", "/dev/shm"}  # directories that exist
    bound: list[str] = []  # mount points: what is visible inside

    def mount(kind: str, source: str, dest: str) -> None:
        # bubblewrap makes missing parents of a mount point mode 0700, which the unprivileged
        # user could not cross: make them 0755 first.
        for parent in reversed(Path(dest).parents):
            if str(parent) not in made:
                made.add(str(parent))
                cmd.extend(["--perms", "0755", "--dir", str(parent)])
        made.add(dest)
        bound.append(dest)
        cmd.extend([kind, source, dest])

    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            mount("--ro-bind", path, path)
    for path in SYSTEM_FILES:
        if os.path.isfile(path):
            mount("--ro-bind", path, path)
    mount("--ro-bind", str(etc_dir / "passwd"), "/etc/passwd")
    mount("--ro-bind", str(etc_dir / "group"), "/etc/group")
    library_path = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
    python_dirs = _real_dirs([sys.base_prefix, sys.prefix, *library_path])
    for path in python_dirs:
        # Skip only what a mount already shows: /usr/local is not inside /usr/lib's mount.
        if not any(path == d or path.startswith(d + "/") for d in bound):
            mount("--ro-bind", path, path)
    # A copy of course_lib installed in an exposed environment holds the references: hide it.
    for installed in _installed_copies(python_dirs):
        cmd += ["--tmpfs", installed, "--remount-ro", installed]
    mount("--ro-bind", str(package_dir), PACKAGE_MOUNT)
    for device in sorted(glob.glob("/dev/nvidia*")):  # GPUs, for torch.cuda inside
        cmd += ["--dev-bind", device, device]
    mount("--bind", str(job_dir), SANDBOX_HOME)
    cmd += ["--chdir", SANDBOX_HOME]
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": SANDBOX_HOME,
        "PYTHONPATH": PACKAGE_MOUNT,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        # One thread per notebook: the workers already use every core between them.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NBGRADER_EXECUTION": "autograde",
    }
    if library_path:
        env["LD_LIBRARY_PATH"] = ":".join(library_path)
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd + argv


def _installed_copies(dirs: list[str]) -> list[str]:
    return sorted(
        {
            str(Path(p).resolve())
            for d in dirs
            for p in glob.glob(f"{d}/lib/python*/site-packages/course_lib")
        }
    )


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


def copy_without_links(source: Path, target: Path) -> list[str]:
    """Copy the regular files under ``source`` into ``target``; never follow a link.

    Returns one sentence per entry not copied (links, devices, sockets), for the record.
    """
    target.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        return [f"{source.name} is a symbolic link to {os.readlink(source)!r}: not followed"]
    skipped = []
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            skipped.append(
                f"{entry.name} is a symbolic link to {os.readlink(entry.path)!r}: "
                "not followed, not graded"
            )
        elif stat.S_ISDIR(mode):
            skipped += copy_without_links(Path(entry.path), target / entry.name)
        elif stat.S_ISREG(mode):
            copy_file_without_links(Path(entry.path), target / entry.name)
        else:
            skipped.append(f"{entry.name} is not a regular file: not copied")
    return skipped


# ------------------------------------------------------------------------------ the worker


class SandboxWorker:
    """A warm sandbox that runs notebooks one at a time, each in a fresh student process.

    ``package_dir``: the :func:`student_package` to mount. ``scratch``: where the worker keeps
    its job directory and log. Use as a context manager; :meth:`open_job` restarts the sandbox
    if a notebook broke it.
    """

    def __init__(
        self,
        package_dir: Path,
        limits: Limits,
        *,
        scratch: Path | None = None,
        preload: tuple[str, ...] = PRELOAD,
        start_timeout_s: float = 120.0,
    ) -> None:
        self.package_dir, self.limits, self.preload = package_dir, limits, preload
        self.start_timeout_s = start_timeout_s
        if scratch is not None:
            scratch.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="worker-", dir=scratch))
        self.job_dir = self.root / "job"
        self.proc: subprocess.Popen[bytes] | None = None
        self.control: Channel | None = None
        self.cgroup: _PidsCgroup | None = None
        self.job: str | None = None
        self.ready = False
        self.uid = SANDBOX_UID if os.getuid() == 0 else os.getuid()
        self.gid = SANDBOX_GID if os.getuid() == 0 else os.getgid()

    def __enter__(self) -> SandboxWorker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Launch the sandbox and wait until its zygote is ready."""
        self.launch()
        self._await_ready()

    def launch(self) -> None:
        """Launch the sandbox without waiting: its zygote loads torch while the caller works."""
        self._stop()
        self.job_dir.mkdir(exist_ok=True)
        os.chown(self.job_dir, self.uid, self.gid)
        etc = self.root / "etc"
        etc.mkdir(exist_ok=True)
        (etc / "passwd").write_text(
            f"root:x:0:0::/:/usr/sbin/nologin\n"
            f"student:x:{self.uid}:{self.gid}::{SANDBOX_HOME}:/bin/sh\n"
        )
        (etc / "group").write_text(f"root:x:0:\nstudent:x:{self.gid}:\n")
        host, inside = socket.socketpair()
        argv = [
            sys.executable,
            "-m",
            "course_lib.instructor.zygote",
            "--control-fd",
            str(inside.fileno()),
            "--uid",
            str(self.uid),
            "--gid",
            str(self.gid),
            "--preload",
            *self.preload,
        ]
        cmd = bwrap_command(self.job_dir, self.package_dir, etc, argv)
        self.cgroup = _PidsCgroup(self.limits.max_pids)
        with open(self.root / "sandbox.log", "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(inside.fileno(),),
                preexec_fn=self.cgroup.enter,
            )
        inside.close()
        self.control = Channel(host)
        self.ready = False

    def ensure_ready(self) -> None:
        """Start the sandbox if it is not running (a notebook may have broken it), or wait for
        the one :meth:`launch` started; raises :class:`SandboxUnavailable` if it cannot."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        elif not self.ready:
            self._await_ready()

    def _await_ready(self) -> None:
        assert self.control is not None
        try:
            ready = self.control.recv(time.monotonic() + self.start_timeout_s)
        except (TimeoutError, WireError):
            ready = None
        if not ready or ready.get("t") != "ready":
            log_text = _read(self.root / "sandbox.log")[-2000:]
            self._stop()
            raise SandboxUnavailable(f"the grading sandbox did not start: {log_text or ready}")
        self.ready = True

    def open_job(self, files: dict[str, Path]) -> Session:
        """Start a fresh student process next to ``files`` (relative name -> host path)."""
        from course_lib.grading.remote import Session  # torch: not needed to launch a sandbox

        self.ensure_ready()
        _reset_dir(self.job_dir)
        for name, source in files.items():
            target = self.job_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # a link: not followed
                copy_file_without_links(source, target)
        for path in [self.job_dir, *self.job_dir.rglob("*")]:
            os.chown(path, self.uid, self.gid, follow_symlinks=False)
        self.job = secrets.token_hex(8)
        ours, theirs = socket.socketpair()
        message = {
            "t": "job",
            "job": self.job,
            "mem_bytes": self.limits.mem_bytes,
            "output_bytes": self.limits.output_bytes,
            "max_pids": self.limits.max_pids,
            "file_bytes": self.limits.file_bytes,
            "backstop_s": self.limits.wall_s + 60,
        }
        data = json.dumps(message).encode()
        assert self.control is not None
        try:
            socket.send_fds(
                self.control.sock, [len(data).to_bytes(4, "big") + data], [theirs.fileno()]
            )
        except OSError as exc:
            raise WorkerFailed(f"the grading sandbox stopped: {exc}") from None
        finally:
            theirs.close()
        return Session(
            Channel(ours),
            self.job,
            deadline=time.monotonic() + self.limits.wall_s,
            interrupt=self._interrupt,
        )

    def _interrupt(self) -> None:
        with contextlib.suppress(OSError):
            assert self.control is not None
            self.control.send({"t": "interrupt", "job": self.job})

    def end_job(self, session: Session) -> tuple[int | None, int | None]:
        """End the job (the grader always ends it, never the student's process): every process
        of the notebook is killed. Returns the student process's (exit code, signal)."""
        session.channel.close()
        assert self.control is not None
        try:
            self.control.send({"t": "end", "job": self.job})
            deadline = time.monotonic() + 30.0
            while (reply := self.control.recv(deadline)) is not None:
                if reply.get("t") == "ended" and reply.get("job") == self.job:
                    return reply.get("code"), reply.get("signal")
        except (OSError, TimeoutError, WireError):
            pass
        self._stop()  # the next open_job starts a fresh sandbox
        raise WorkerFailed("the grading sandbox did not end the job")

    def close(self) -> None:
        self._stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _stop(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        _reset_dir(self.job_dir)


def copy_file_without_links(source: Path, target: Path) -> None:
    """Copy one regular file; a link raises OSError instead of being followed."""
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)


def _reset_dir(path: Path) -> None:
    """Empty ``path`` but keep the directory itself: it is what the sandbox has mounted."""
    path.mkdir(parents=True, exist_ok=True)
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
