"""A peer process that has run out of file descriptors (EMFILE), and its way back.

Imported by the peer programs in this folder (they run as scripts, with this folder
first on ``sys.path``).
"""

from __future__ import annotations

import errno
import os
import resource


class Exhaustion:
    """Lower ``RLIMIT_NOFILE`` to the descriptors open now plus *spare*, then fill
    what is left with ``/dev/null``: every ``accept``, ``socket`` or ``open`` fails
    with EMFILE until :meth:`free`."""

    def __init__(self, spare: int = 8) -> None:
        self._soft, self._hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        in_use = [int(fd) for fd in os.listdir("/proc/self/fd")]
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(in_use) + spare, self._hard))
        self._fillers: list[int] = []
        try:
            while True:
                self._fillers.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
        except OSError as exc:
            if exc.errno != errno.EMFILE:
                raise

    def free(self) -> None:
        """Close the fillers and restore the limit."""
        for fd in self._fillers:
            os.close(fd)
        self._fillers.clear()
        resource.setrlimit(resource.RLIMIT_NOFILE, (self._soft, self._hard))
