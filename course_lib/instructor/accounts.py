"""Real Linux accounts for a demo class (``make hub``) and for the tests that need students.

A course server gives every student their own Linux account: nbgrader's exchange relies on it
(a submission belongs to its owner; nobody can read another's). These helpers make such
accounts for a short-lived demo, as root, and take them away again, with anything they left
running.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def reachable_python() -> Iterator[None]:
    """Let other accounts reach this Python while the block runs.

    On a course server the environment is a system one; on a contributor's machine it may live
    under /root (pyenv), which others cannot enter. Folders above it get the right to pass
    through (o+x, not to list) for the block's duration, then their modes are put back.
    """
    changed: dict[Path, int] = {}
    try:
        for start in {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}:
            for folder in [start, *start.parents]:
                mode = folder.stat().st_mode
                if not mode & 0o001 and folder not in changed:
                    changed[folder] = mode & 0o7777
                    folder.chmod(mode & 0o7777 | 0o001)
        yield
    finally:
        for folder, mode in changed.items():
            folder.chmod(mode)


def create_account(name: str, home: Path, password: str | None = None) -> int:
    """``useradd`` ``name`` with its own ``home`` (and ``password``, for logging in through
    PAM); an account of that name left by a killed run is removed first. Returns its uid."""
    with contextlib.suppress(KeyError):
        pwd.getpwnam(name)
        remove_account(name)
    subprocess.run(
        ["useradd", "--home-dir", str(home), "--create-home", "--shell", "/bin/sh", name],
        check=True,
        capture_output=True,
    )
    if password is not None:
        subprocess.run(
            ["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True
        )
    return pwd.getpwnam(name).pw_uid


def processes_of(uids: set[int]) -> list[int]:
    """The ids of the running processes whose real user is one of ``uids``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if entry.stat().st_uid in uids:
                found.append(int(entry.name))
    return found


def end_processes_of(uids: set[int], grace_s: float = 5.0) -> None:
    """SIGTERM every process of ``uids``, then SIGKILL what is left after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in processes_of(uids):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while processes_of(uids) and time.monotonic() < deadline:
            time.sleep(0.1)


def remove_account(name: str) -> None:
    """End the processes of ``name``, then ``userdel`` it (its home stays: the caller owns the
    folder it was made in)."""
    with contextlib.suppress(KeyError):
        end_processes_of({pwd.getpwnam(name).pw_uid})
    subprocess.run(["userdel", name], check=False, capture_output=True)


@contextlib.contextmanager
def linux_accounts(
    homes: dict[str, Path], passwords: dict[str, str] | None = None
) -> Iterator[dict[str, int]]:
    """Accounts ``name -> home`` (with ``passwords``, if given) for the block; name -> uid.

    Afterwards every process of theirs is ended and the accounts are removed."""
    made: dict[str, int] = {}
    try:
        for name, home in homes.items():
            made[name] = create_account(name, home, (passwords or {}).get(name))
        yield made
    finally:
        for name in made:
            remove_account(name)
