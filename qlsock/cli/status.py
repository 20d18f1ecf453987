"""The ``qlsock`` command's exit statuses (also importable from :mod:`qlsock.cli`),
and how a command reports a failure on stderr.
"""

from __future__ import annotations

import sys

__all__ = [
    "EXIT_ABSENT",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_A_SOCKET",
    "EXIT_OK",
    "EXIT_STALE",
    "EXIT_USAGE",
]

#: Success; ``probe``: a server is live.
EXIT_OK = 0
#: A failure: could not connect, listen, send or remove, or ``probe`` could not tell.
EXIT_FAILURE = 1
#: A usage error (bad options or arguments), as argparse reports it.
EXIT_USAGE = 2
#: ``probe``: a stale socket file (no server listening). ``remove`` removes it and exits 0.
EXIT_STALE = 3
#: ``probe``/``remove``: nothing at the name.
EXIT_ABSENT = 4
#: ``probe``/``remove``: something that is not a socket (never removed).
EXIT_NOT_A_SOCKET = 5
#: Interrupted by Ctrl-C (SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


class _Failure(Exception):
    """A command failed; the message goes to stderr, the exit status is the code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def _note(text: str) -> None:
    print(f"qlsock: {text}", file=sys.stderr, flush=True)
