"""What a grading sandbox allows one notebook, and the error when no sandbox can start.

Kept apart from :mod:`.sandbox` so that the ``course`` command can name limits and report a
missing bubblewrap without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from .course import CourseError


@dataclass(frozen=True)
class Limits:
    """Per-notebook limits. ``wall_s`` bounds the whole notebook, not each cell; None means
    "from the solution's measured run time" (``course autograde`` measures it)."""

    wall_s: float | None = None
    mem_bytes: int = 2 * 2**30
    output_bytes: int = 1_000_000
    max_pids: int = 256
    file_bytes: int = 256 * 2**20


class SandboxUnavailable(CourseError):
    """bubblewrap is missing or cannot create namespaces on this machine."""
