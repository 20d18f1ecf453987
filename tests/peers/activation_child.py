"""A socket-activated service, run by ``activation_launch.py`` for test_activation.py.

``qlocalserver WHICH COUNT``
    ``listen_activated(QLocalServer(), WHICH, unset_environment=True)``, print
    ``READY <fullServerName>``, then in blocking style answer COUNT connections: read a
    line, reply ``<pid> <line>``, disconnect.
``stream WHICH COUNT``
    ``LocalStreamServer.from_activation(WHICH, handle, spawn=4)``, print ``READY``,
    answer COUNT connections the same way, one greenlet each, then ``stop()``.
``errors``
    expects the descriptors ``good:idle:dgram:pipe:twin:twin`` (a listening socket, a
    bound one that is not listening, an AF_UNIX datagram socket, a pipe, and two more
    listening sockets with one name) and tries every way of getting one wrong,
    including environments that are not meant for this process.

WHICH is an index if it is a number, else a name. Every mode ends with one
``RESULT <json>`` line. Under ``QLSOCK_TEST_MONKEY=1`` the program patches itself first,
as the test process is patched.
"""

from __future__ import annotations

import os

if os.environ.get("QLSOCK_TEST_MONKEY") == "1":
    from gevent import monkey

    monkey.patch_all()

import json
import sys
from collections.abc import Callable
from typing import Any

from gevent.event import Event

from qlsock import QLocalServer, QLocalSocket
from qlsock.activation import ActivationError, listen_activated, listen_fd, listen_fds
from qlsock.streamserver import LocalStreamServer

WAIT_MS = 20000
VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def emit(tag: str, value: Any) -> None:
    print(tag, value if isinstance(value, str) else json.dumps(value), flush=True)


def answer(sock: QLocalSocket) -> None:
    """Read one line, reply ``<pid> <line>``."""
    while not sock.canReadLine():
        if not sock.waitForReadyRead(WAIT_MS):
            raise SystemExit(f"no line from the client: {sock.errorString()}")
    sock.write(b"%d " % os.getpid() + sock.readLine())


def environment() -> dict[str, str]:
    return {v: os.environ[v] for v in VARIABLES if v in os.environ}


def parse(which: str) -> int | str:
    return int(which) if which.isdigit() else which


def serve_qlocalserver(which: str, count: int) -> None:
    server = QLocalServer()
    if not listen_activated(server, parse(which), unset_environment=True):
        raise SystemExit(f"listen failed: {server.errorString()}")
    emit("READY", server.fullServerName())
    info = {"server_name": server.serverName(), "descriptor": server.socketDescriptor(),
            "inheritable": os.get_inheritable(3), "environment": environment()}
    for _ in range(count):
        server.waitForNewConnection(WAIT_MS)
        conn = server.nextPendingConnection()
        if conn is None:
            raise SystemExit("no connection came")
        answer(conn)
        conn.disconnectFromServer()
        if conn.state() != QLocalSocket.UnconnectedState:
            conn.waitForDisconnected(WAIT_MS)
    server.close()
    emit("RESULT", info)


def serve_stream(which: str, count: int) -> None:
    served: list[int] = []
    all_served = Event()

    def handle(sock: QLocalSocket) -> None:
        answer(sock)
        served.append(1)
        if len(served) == count:
            all_served.set()

    server = LocalStreamServer.from_activation(parse(which), handle, spawn=4)
    server.start()
    emit("READY", server.fullServerName())
    info = {"server_name": server.serverName(), "environment": environment(),
            "inheritable": [os.get_inheritable(fd) for fd in (3, 4)]}
    if not all_served.wait(WAIT_MS / 1000):
        raise SystemExit(f"served {len(served)} of {count} connections")
    server.stop(5)
    emit("RESULT", info)


def failure(call: Callable[[], object]) -> str | None:
    """The ActivationError text *call* raises, or None if it succeeds."""
    try:
        call()
    except ActivationError as exc:
        return str(exc)
    return None


def check_errors() -> None:
    r: dict[str, Any] = {}
    passed = listen_fds()
    r["passed"] = [[p.fd, p.index, p.name] for p in passed]
    r["inheritable"] = [os.get_inheritable(p.fd) for p in passed]
    r["by_index"], r["by_name"], r["twin_by_index"] = listen_fd(0), listen_fd("good"), \
        listen_fd(5)
    for case, which in [("unknown", "nosuch"), ("out_of_range", 6), ("idle", "idle"),
                        ("dgram", "dgram"), ("pipe", "pipe"), ("twin", "twin")]:
        r[case] = failure(lambda which=which: listen_fd(which))
    server = QLocalServer()
    r["qlocalserver_idle"] = failure(lambda: listen_activated(server, "idle"))
    r["qlocalserver_listening"] = server.isListening()
    r["stream_pipe"] = failure(lambda: LocalStreamServer.from_activation("pipe", answer))

    saved = environment()

    def scenario(case: str, call: Callable[[], object], **changes: str | None) -> None:
        for variable, value in changes.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        try:
            try:
                r[case] = call()
            except ActivationError as exc:
                r[case] = f"ActivationError: {exc}"
        finally:
            for variable in VARIABLES:
                os.environ.pop(variable, None)
            os.environ.update(saved)

    scenario("other_pid_fds", lambda: len(listen_fds()), LISTEN_PID=str(os.getppid()))
    scenario("other_pid", lambda: listen_fd(0), LISTEN_PID=str(os.getppid()))
    scenario("no_pid", lambda: listen_fd(0), LISTEN_PID=None)
    scenario("no_fds_var", lambda: listen_fd(0), LISTEN_FDS=None)
    scenario("bad_pid", listen_fds, LISTEN_PID="12ab")
    scenario("zero_fds", listen_fds, LISTEN_FDS="0")
    scenario("names_mismatch", listen_fds, LISTEN_FDNAMES="good:idle")
    scenario("no_names", lambda: sorted({p.name for p in listen_fds()}), LISTEN_FDNAMES=None)
    scenario("unset", lambda: [len(listen_fds(unset_environment=True)), environment()])
    for variable in VARIABLES:
        os.environ.pop(variable, None)
    r["after_unset"] = failure(lambda: listen_fd(0))
    emit("RESULT", r)


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "qlocalserver":
        serve_qlocalserver(argv[1], int(argv[2]))
    elif mode == "stream":
        serve_stream(argv[1], int(argv[2]))
    else:
        check_errors()


if __name__ == "__main__":
    main(sys.argv[1:])
