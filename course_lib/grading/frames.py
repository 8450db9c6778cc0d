"""Frames between the grader and a student's process: a 4-byte big-endian length, then one
JSON object; and what can go wrong on such a channel.

:class:`Channel` reads frames with a size limit and a deadline, so a student's process can
neither make the grader wait forever nor make it hold a gigabyte line. The values inside the
frames are :mod:`.wire`'s business. This module imports nothing heavy: the sandbox's zygote and
the ``course`` command use it before torch is loaded.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time
from typing import Any

MAX_FRAME_BYTES = 64 * 2**20
_HEADER = struct.Struct(">I")


class ProtocolViolation(BaseException):
    """The student's process said something the grader did not ask for."""


class StudentTimeout(BaseException):
    """The notebook's time limit passed while the grader waited for the student's process."""


class StudentDied(BaseException):
    """The student's process closed its channel (it crashed, or exited)."""


class WireError(ValueError):
    """A value that cannot cross (encoding) or a message that does not parse (decoding)."""


# ------------------------------------------------------------------------------------ frames


class Channel:
    """Length-prefixed JSON frames over a connected stream socket (one per notebook).

    ``recv`` returns ``None`` when the peer closed the socket, raises :class:`TimeoutError` at
    the deadline and :class:`WireError` for a frame that is too large or not a JSON object.
    """

    def __init__(self, sock: socket.socket, *, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self.sock = sock
        self.max_bytes = max_bytes
        self._buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, allow_nan=True, separators=(",", ":")).encode()
        self.sock.sendall(_HEADER.pack(len(data)) + data)

    def recv(self, deadline: float | None = None) -> dict[str, Any] | None:
        if not self._fill(_HEADER.size, deadline):
            return None
        (size,) = _HEADER.unpack(self._buffer[: _HEADER.size])
        if size > self.max_bytes:
            raise WireError(f"a message of {size} bytes is over the limit of {self.max_bytes}")
        if not self._fill(_HEADER.size + size, deadline):
            return None
        body = self._buffer[_HEADER.size : _HEADER.size + size]
        self._buffer = self._buffer[_HEADER.size + size :]
        try:
            message = json.loads(body, parse_int=_bounded_int)
        except (ValueError, RecursionError) as exc:
            raise WireError(f"a message is not valid JSON: {exc}") from None
        if not isinstance(message, dict):
            raise WireError("a message is not a JSON object")
        return message

    def _fill(self, size: int, deadline: float | None) -> bool:
        """Buffer at least ``size`` bytes (False: the peer closed first); a timeout keeps what
        was read, so the next call goes on from there."""
        while len(self._buffer) < size:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]:
                    raise TimeoutError("no message before the deadline")
            try:
                chunk = self._receive(max(65536, size - len(self._buffer)))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return False
            self._buffer += chunk
        return True

    def _receive(self, size: int) -> bytes:
        return self.sock.recv(size)

    def close(self) -> None:
        self.sock.close()


def _bounded_int(text: str) -> int:
    if len(text) > 400:  # Python refuses to parse huge ints slowly; say so plainly
        raise ValueError("an integer with more than 400 digits")
    return int(text)
