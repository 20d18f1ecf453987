"""Start a program the way systemd starts a socket-activated service.

``activation_launch.py [--names A:B] FD [FD ...] -- PROGRAM [ARG ...]``

The inherited descriptors FD... are moved to 3, 4, ... (``SD_LISTEN_FDS_START``; start
this script with ``close_fds`` so that nothing else is inherited), ``LISTEN_FDS`` and
(with ``--names``) ``LISTEN_FDNAMES`` are set, and ``LISTEN_PID`` is set to this process's
own pid, which stays the service's pid because PROGRAM replaces this process
(``exec``), as systemd does after forking. PROGRAM runs under this Python.

Imports nothing but the standard library, so it adds little to a test's run time.
"""

from __future__ import annotations

import fcntl
import os
import sys

FIRST = 3


def main(argv: list[str]) -> None:
    split = argv.index("--")
    options, program = argv[:split], argv[split + 1:]
    names = None
    if options[:1] == ["--names"]:
        names, options = options[1], options[2:]
    sources = [int(fd) for fd in options]
    # Out of the way first, so that moving one never overwrites another's source.
    spare = [fcntl.fcntl(fd, fcntl.F_DUPFD, FIRST + len(sources)) for fd in sources]
    for fd in sources:
        os.close(fd)
    for index, fd in enumerate(spare):
        os.dup2(fd, FIRST + index, inheritable=True)
        os.close(fd)
    os.environ["LISTEN_FDS"] = str(len(sources))
    os.environ["LISTEN_PID"] = str(os.getpid())
    if names is not None:
        os.environ["LISTEN_FDNAMES"] = names
    else:
        os.environ.pop("LISTEN_FDNAMES", None)
    os.execv(sys.executable, [sys.executable, *program])


if __name__ == "__main__":
    main(sys.argv[1:])
