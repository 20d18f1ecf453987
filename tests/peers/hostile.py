"""Helper processes for ``tests/test_hostile_neighbours.py`` and ``test_hostile_peers.py``.

One mode per run. Lines on stdout tell the test what happened; the last one is
``RESULT <json>`` where there is an outcome to judge.

``hold-lock PATH SECONDS``
    Another process holding a name's reclaim lock: open (creating) the lock file
    *PATH*, take an exclusive ``flock`` on it, print ``LOCKED``, and hold it until
    stdin reaches end of file or *SECONDS* pass, whichever comes first; then unlink
    the file (as qlsock's own holders do) and unlock. Plain Python, no qlsock.
``daemon NAME RESULT_PATH``
    A daemon whose launcher exits: listen on *NAME* with ``QLocalServer`` (echoing
    every byte), print ``READY <fullServerName>``, fork. The launcher prints
    ``LAUNCHED <daemon pid>`` and exits at once; the daemon detaches from the
    test's pipes (stdio to ``/dev/null``), keeps serving until its launcher has
    exited and been reaped (``/proc/<pid>`` is gone) *and* the file
    ``RESULT_PATH + ".close"`` exists, then calls ``server.close()`` and writes
    ``{"launcher_gone": ..., "exists_after_close": ...}`` to *RESULT_PATH*.
``stream-emfile NAME``
    Descriptor exhaustion in a ``LocalStreamServer`` process: listen, echo in a
    handler, lower ``RLIMIT_NOFILE`` to just above the descriptors in use and open
    ``/dev/null`` until ``EMFILE``, then print ``READY <fullServerName>``. Every
    record of the ``qlsock`` logger is printed as ``LOG <level> <traceback?> <message>``
    and every handled connection as ``HANDLED <total>``. Commands on stdin:
    ``free`` closes the filler descriptors, restores the limit and prints ``FREED``.
    End of stdin: ``RESULT <json>``.

When ``QLSOCK_TEST_MONKEY=1`` (the monkey-patched test run) the qlsock modes patch
the process with ``gevent.monkey`` first, so they run the way the test process does.
"""

from __future__ import annotations

import os
import sys

if os.environ.get("QLSOCK_TEST_MONKEY") == "1" and sys.argv[1:2] != ["hold-lock"]:
    from gevent import monkey

    monkey.patch_all()

import fcntl
import json
import select
import time
from typing import Any


def say(*words: object) -> None:
    print(*words, flush=True)


# -- hold-lock ---------------------------------------------------------------------------


def hold_lock(path: str, seconds: float) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    say("LOCKED")
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([sys.stdin], [], [], remaining)
        if ready and not os.read(sys.stdin.fileno(), 4096):
            break
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    os.close(fd)
    say("RELEASED")
    return 0


# -- daemon --------------------------------------------------------------------------------


def daemon(name: str, result_path: str) -> int:
    import gevent
    import gevent.os

    from qlsock import QLocalServer, QLocalSocket

    server = QLocalServer()
    if not server.listen(name):
        say(f"ERROR {server.errorString()}")
        return 1
    connections: list[QLocalSocket] = []

    def on_new_connection() -> None:
        while (conn := server.nextPendingConnection()) is not None:
            connections.append(conn)
            conn.readyRead.connect(lambda c=conn: c.write(c.readAll()))

    server.newConnection.connect(on_new_connection)
    path = server.fullServerName()
    say(f"READY {path}")
    launcher = os.getpid()
    pid = gevent.os.fork()
    if pid:
        say(f"LAUNCHED {pid}")
        os._exit(0)  # the launcher exits without closing anything, as daemon(3) does
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (
            os.path.exists(f"/proc/{launcher}") or not os.path.exists(result_path + ".close")):
        gevent.sleep(0.005)
    result: dict[str, Any] = {"launcher_gone": not os.path.exists(f"/proc/{launcher}"),
                              "served": len(connections)}
    server.close()
    result["exists_after_close"] = os.path.lexists(path)
    with open(result_path + ".tmp", "w") as f:
        json.dump(result, f)
    os.rename(result_path + ".tmp", result_path)
    os._exit(0)


# -- stream-emfile -------------------------------------------------------------------------


def stream_emfile(name: str) -> int:
    import logging

    import gevent
    from descriptors import Exhaustion
    from gevent.socket import wait_read

    from qlsock import LocalStreamServer, QLocalSocket

    messages: list[str] = []

    class SayHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            messages.append(message)
            traced = "traceback" if record.exc_info else "plain"
            say(f"LOG {record.levelname} {traced} {message}")

    logging.getLogger("qlsock").addHandler(SayHandler())
    handled = [0]

    def handle(sock: QLocalSocket) -> None:
        handled[0] += 1
        say(f"HANDLED {handled[0]}")
        while sock.waitForReadyRead(20000):
            sock.write(sock.readAll())

    server = LocalStreamServer(name, handle)
    server.start()
    exhaustion = Exhaustion()
    say(f"READY {server.fullServerName()}")
    fd = sys.stdin.fileno()
    os.set_blocking(fd, False)
    pending = b""
    while True:
        wait_read(fd)
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            continue
        if not data:
            break
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip() == b"free":
                exhaustion.free()
                say("FREED")
    say("RESULT " + json.dumps({"handled": handled[0], "log": messages,
                                "started": server.started}))
    server.stop(timeout=0)
    gevent.sleep(0)
    return 0


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "hold-lock":
        return hold_lock(sys.argv[2], float(sys.argv[3]))
    if mode == "daemon":
        return daemon(sys.argv[2], sys.argv[3])
    if mode == "stream-emfile":
        return stream_emfile(sys.argv[2])
    print(f"unknown mode {mode!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
