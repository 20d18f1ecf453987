"""Standard input and output, read and written a chunk at a time in gevent's thread pool
(why: see :mod:`qlsock.cli`)."""

from __future__ import annotations

import os
from typing import Any

import gevent

#: The most read from stdin at once; ``bench`` writes chunks of this size too.
_CHUNK = 65536


def _descriptor(stream: Any) -> int | None:
    """The stream's file descriptor, or None for an in-memory stream (or none at all)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return fd if isinstance(fd, int) else None


class _Input:
    """Standard input read in chunks as they arrive, cooperatively.

    A descriptor is read with ``os.read`` in the thread pool: no Python-level lock is
    held while it blocks, so a read still pending when the program ends is harmless.
    In-memory streams (tests, embedding) never block and are read directly.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = getattr(stream, "buffer", stream)
        self._fd = _descriptor(self._stream)

    def read(self) -> bytes:
        """The next chunk; ``b""`` at the end of input (or when there is no stdin)."""
        if self._fd is not None:
            data: bytes = gevent.get_hub().threadpool.apply(os.read, (self._fd, _CHUNK))
            return data
        if self._stream is None:
            return b""
        read = getattr(self._stream, "read1", self._stream.read)
        return bytes(read(_CHUNK))


class _Output:
    """Standard output written cooperatively (see :class:`_Input`)."""

    def __init__(self, stream: Any) -> None:
        # Bytes go under the text layer: anything already printed goes first.
        stream.flush()
        self._stream = getattr(stream, "buffer", stream)
        self._fd = _descriptor(self._stream)

    def write(self, data: bytes) -> None:
        if self._fd is None:
            self._stream.write(data)
            self._stream.flush()
            return
        gevent.get_hub().threadpool.apply(self._write_fd, (self._fd, data))

    @staticmethod
    def _write_fd(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

