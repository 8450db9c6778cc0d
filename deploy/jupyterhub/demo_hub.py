"""A demo class on the course hub: ``make hub`` (as root), and the hub test's set-up.

:func:`demo_hub` makes the class's Linux accounts (students and instructors, each with their
own home and a random password), the shared exchange and the hub's state in one temporary
folder under /tmp, starts JupyterHub with ``jupyterhub_config.py`` beside this file on
127.0.0.1, and on the way out stops the hub, the proxy and every user's server, removes the
accounts and deletes the folder. ``make hub`` also sets up the instructor's class directory
from the project's solutions and releases the first assignment, then waits for Ctrl-C.

    python deploy/jupyterhub/demo_hub.py [--port 8000]
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(PROJECT))
import roles  # noqa: E402 (beside this file)

from course_lib.instructor.accounts import (  # noqa: E402 (the checkout, put on the path above)
    linux_accounts,
    reachable_python,
)

CHP = PROJECT / "build" / "npm" / "node_modules" / ".bin" / "configurable-http-proxy"
BIN = Path(sys.executable).parent
DEMO_STUDENTS = ("unrolled-ana", "unrolled-ben", "unrolled-cleo")
DEMO_INSTRUCTORS = ("unrolled-tutor",)


class HubError(RuntimeError):
    """Something the person starting the hub can fix; its message says what to do."""


@dataclass
class DemoHub:
    """A running demo hub: where it is, who may log in, and where their files are."""

    url: str
    place: Path
    exchange: Path
    passwords: dict[str, str]
    uids: dict[str, int]
    process: subprocess.Popen
    log: Path
    instructors: tuple[str, ...] = field(default=DEMO_INSTRUCTORS)

    def home(self, name: str) -> Path:
        return self.place / "home" / name

    def server_environment(self, name: str) -> dict[str, str]:
        """The variables an instructor's server gets from the hub (for work done beside it)."""
        role = "instructor" if name in self.instructors else "student"
        return {
            "HOME": str(self.home(name)),
            "USER": name,
            "PATH": f"{BIN}:/usr/bin:/bin",
            "UNROLLED_EXCHANGE": str(self.exchange),
            **roles.role_environment(name, role),
        }


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def preflight(ports: list[int]) -> None:
    """Stop, in one sentence, before anything is made, where the hub cannot start."""
    if os.geteuid() != 0:
        raise HubError(
            "the hub must run as root (it logs users in with PAM and starts each user's "
            "server as their own Linux account): run it again with sudo"
        )
    missing = [c for c in ("useradd", "userdel", "chpasswd") if shutil.which(c) is None]
    if missing:
        raise HubError(f"{', '.join(missing)} not found: install Debian's passwd package")
    if not CHP.is_file():
        raise HubError(
            f"configurable-http-proxy is missing ({CHP}): run `make hub-deps` (it installs "
            "it from npm), then start the hub again"
        )
    if not (BIN / "jupyterhub").is_file():
        raise HubError("JupyterHub is not installed in this environment: run `make venv`")
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                raise HubError(
                    f"port {port} on 127.0.0.1 is in use (another hub, or `make serve`?): stop "
                    "it, or choose another port, e.g. `make hub HUB_PORT=8010`"
                ) from None


def session_members(sid: int) -> list[int]:
    """The ids of the processes in session ``sid`` (the hub's and its proxy's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                # the fields after the command name (in parentheses): state ppid pgrp session
                if int(stat.rsplit(")", 1)[1].split()[3]) == sid:
                    found.append(int(entry.name))
    return found


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HubError(
                f"JupyterHub stopped as it started (exit {process.returncode}); the last "
                f"lines of {log} say why:\n{log.read_text()[-2000:]}"
            )
        with contextlib.suppress(requests.ConnectionError):
            if requests.get(f"{url}/hub/api", timeout=5).ok:
                return
        time.sleep(0.5)
    raise HubError(f"JupyterHub did not answer on {url} within {timeout_s:.0f} s: see {log}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the hub (it stops the users' servers and its proxy), then kill its session."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + 5
        while session_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextlib.contextmanager
def demo_hub(
    students: tuple[str, ...] = DEMO_STUDENTS,
    instructors: tuple[str, ...] = DEMO_INSTRUCTORS,
    port: int = 8000,
    start_timeout_s: float = 60.0,
) -> Iterator[DemoHub]:
    """A hub on 127.0.0.1:``port`` for a class of fresh Linux accounts (see the module)."""
    api_port, proxy_api_port = free_port(), free_port()
    preflight([port, api_port, proxy_api_port])
    place = Path(tempfile.mkdtemp(prefix="unrolled-hub-", dir="/tmp"))
    try:
        place.chmod(0o755)  # every account reaches its home and the exchange through it
        exchange = place / "exchange"
        exchange.mkdir()
        exchange.chmod(0o1777)  # everyone writes; nobody removes another's files
        state = place / "hub"
        state.mkdir(mode=0o700)
        names = (*students, *instructors)
        passwords = {name: secrets.token_urlsafe(12) for name in names}
        homes = {name: place / "home" / name for name in names}
        env = {
            "PATH": f"{BIN}:/usr/bin:/bin:/usr/sbin:/sbin",
            "UNROLLED_STUDENTS": ",".join(students),
            "UNROLLED_INSTRUCTORS": ",".join(instructors),
            "UNROLLED_EXCHANGE": str(exchange),
            "UNROLLED_HUB_STATE": str(state),
            "UNROLLED_HUB_PORT": str(port),
            "UNROLLED_HUB_API_PORT": str(api_port),
            "UNROLLED_PROXY_API_PORT": str(proxy_api_port),
            "UNROLLED_CHP": str(CHP),
        }
        log = place / "jupyterhub.log"
        with reachable_python(), linux_accounts(homes, passwords) as uids:
            with open(log, "wb") as out:
                process = subprocess.Popen(
                    [str(BIN / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
                    cwd=state,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own session: the proxy ends with it
                )
            try:
                url = f"http://127.0.0.1:{port}"
                _wait_until_up(url, process, log, start_timeout_s)
                yield DemoHub(url, place, exchange, passwords, uids, process, log, instructors)
            finally:
                _stop(process)
    finally:
        shutil.rmtree(place, ignore_errors=True)


def as_user(hub: DemoHub, name: str, *command: str) -> None:
    """Run ``command`` as ``name``, with the environment the hub gives their server."""
    env = [f"{k}={v}" for k, v in hub.server_environment(name).items()]
    subprocess.run(
        ["runuser", "-u", name, "--", "env", "-i", *env, *command],
        cwd=hub.home(name),
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--port", type=int, default=8000)
    port = args.parse_args(argv).port
    try:
        with demo_hub(port=port) as hub:
            tutor = DEMO_INSTRUCTORS[0]
            print("setting up the instructor's class directory from solutions/ ...", flush=True)
            as_user(
                hub, tutor, str(BIN / "course"), "setup", "--solutions", str(PROJECT / "solutions")
            )
            first = sorted(p.name for p in (hub.home(tutor) / "course" / "source").iterdir())[0]
            as_user(hub, tutor, str(BIN / "course"), "release", first)
            print(f"\nThe course hub is on {hub.url}/ (Ctrl-C stops it and removes the accounts)")
            for name, password in hub.passwords.items():
                role = "instructor" if name in hub.instructors else "student"
                print(f"  {role:10} {name:16} password {password}")
            print(f"released {first}; the instructor's terminal has `course` for the rest.")
            hub.process.wait()
            print(f"JupyterHub stopped (exit {hub.process.returncode}); see {hub.log}")
    except HubError as exc:
        print(f"make hub: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    print("hub stopped; the demo accounts and their files are removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
