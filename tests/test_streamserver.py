"""LocalStreamServer: greenlet-per-client serving on gevent's BaseServer.

The handler gets a connected QLocalSocket in its own greenlet; ``spawn`` takes what
gevent takes and a full pool pauses accepting; Qt's names and options apply; what a
handler writes before returning (or raising) arrives; ``stop()`` drains, then
disconnects, then kills; ``idle_timeout`` cuts a silent connection and no other.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from gevent.event import Event
from gevent.pool import Pool
from greenlet import GreenletExit, getcurrent

from qlsock import QAbstractSocket, QLocalServer, QLocalSocket
from qlsock.socketfile import ListenError
from qlsock.streamserver import LocalStreamServer, serve
from tests.support import Harness, LocalSocket, qtry, torn_down

UNCONNECTED = QLocalSocket.LocalSocketState.UnconnectedState
CONNECTED = QLocalSocket.LocalSocketState.ConnectedState
CLOSING = QLocalSocket.LocalSocketState.ClosingState
PEER_CLOSED = QLocalSocket.LocalSocketError.PeerClosedError
#: More than the kernel buffers of a local socket pair hold, so some stays queued.
BIG = bytes(range(256)) * (4 * 4096)


@pytest.fixture
def harness() -> Iterator[Harness]:
    yield from torn_down(Harness())


@pytest.fixture
def servers() -> Iterator[list[LocalStreamServer]]:
    """Servers to stop at teardown (quickly: a test leaves nothing to drain)."""
    started: list[LocalStreamServer] = []
    yield started
    for server in started:
        server.drain_timeout = server.kill_timeout = 0.5
        server.stop(timeout=0)


def client(harness: Harness, name: str, hello: bytes = b"", *,
           abstract: bool = False) -> LocalSocket:
    """A client connected to *name*, having sent *hello*."""
    sock = LocalSocket()
    harness.track(sock)
    if abstract:
        sock.setSocketOptions(QLocalSocket.AbstractNamespaceOption)
    sock.connectToServer(name)
    assert sock.state() == CONNECTED, sock.errorString()
    if hello:
        sock.write(hello)
    return sock


def read_to_end(sock: QLocalSocket, ms: int = 10000) -> bytes:
    """Everything *sock* receives until the peer closes (which must happen within *ms*)."""
    data = bytearray()
    deadline = time.monotonic() + ms / 1000
    while sock.state() != UNCONNECTED:
        data += sock.readAll()
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the server did not close; {len(data)} bytes so far"
        sock.waitForReadyRead(int(remaining * 1000) + 1)
    return bytes(data + sock.readAll())


def read_exactly(sock: QLocalSocket, size: int) -> bytes:
    while sock.bytesAvailable() < size:
        assert sock.waitForReadyRead(5000), sock.errorString()
    return sock.read(size)


def first_message(sock: QLocalSocket) -> bytes:
    """A handler's first read: whatever the client sent first."""
    assert sock.waitForReadyRead(5000) or sock.bytesAvailable(), sock.errorString()
    return sock.readAll()


def echo_once(sock: QLocalSocket) -> None:
    sock.write(b"echo " + first_message(sock))


# -- serving ------------------------------------------------------------------------------


def test_each_client_gets_a_connected_qlocalsocket_in_its_own_greenlet(
        harness: Harness, servers: list[LocalStreamServer], tmpdir_env: str) -> None:
    seen: list[tuple[Any, Any, Any]] = []
    all_in = Event()

    def handle(sock: QLocalSocket) -> None:
        seen.append((sock, sock.state(), getcurrent()))
        if len(seen) == 3:
            all_in.set()
        # Served one after another, the first handler would wait here in vain.
        if not all_in.wait(5):
            return
        line = first_message(sock)
        sock.write(b"echo " + line)
        sock.write(BIG)  # written just before returning: it must still arrive

    server = serve("echo", handle)
    servers.append(server)
    assert server.serverName() == "echo"
    assert server.fullServerName() == os.path.join(tmpdir_env, "echo")
    # As gevent's StreamServer: a greenlet per client, no pool unless asked for.
    assert server.pool is None
    clients = [client(harness, "echo", b"%d" % i) for i in range(3)]
    for i, sock in enumerate(clients):
        assert read_to_end(sock) == b"echo %d" % i + BIG
        assert sock.error() == PEER_CLOSED
    hub = gevent.get_hub()
    assert [type(s) for s, _, _ in seen] == [QLocalSocket] * 3
    assert [state for _, state, _ in seen] == [CONNECTED] * 3
    greenlets = {g for _, _, g in seen}
    assert len(greenlets) == 3
    assert hub not in greenlets
    assert getcurrent() not in greenlets
    assert qtry(lambda: all(g.dead for g in greenlets))


@pytest.mark.parametrize("kind", ["pool", "int", "spawn_raw", "default"])
def test_spawn_takes_what_gevent_takes(harness: Harness, servers: list[LocalStreamServer],
                                       kind: str) -> None:
    pool = Pool(2)
    spawn: Any = {"pool": pool, "int": 2, "spawn_raw": gevent.spawn_raw,
                  "default": "default"}[kind]
    server = serve("spawned", echo_once, spawn)
    servers.append(server)
    assert read_to_end(client(harness, "spawned", b"hi")) == b"echo hi"
    if kind == "pool":
        assert server.pool is pool
    elif kind == "int":
        assert isinstance(server.pool, Pool)
        assert server.pool.size == 2
    else:
        assert server.pool is None


def test_spawn_none_is_refused_because_handlers_would_run_in_the_hub() -> None:
    with pytest.raises(TypeError, match="hub"):
        LocalStreamServer("nohub", echo_once, spawn=None)  # type: ignore[arg-type]


def test_accepting_pauses_while_the_pool_is_full(
        harness: Harness, servers: list[LocalStreamServer]) -> None:
    order: list[tuple[str, bytes]] = []

    def handle(sock: QLocalSocket) -> None:
        role = first_message(sock)
        order.append(("start", role))
        sock.write(role)
        while sock.waitForReadyRead(5000):  # echo until the client leaves
            sock.write(sock.readAll())
        order.append(("end", role))

    server = serve("full", handle, spawn=1)
    servers.append(server)
    first = client(harness, "full", b"first")
    assert read_exactly(first, 5) == b"first"
    second = client(harness, "full", b"second")  # waits in the kernel's backlog
    # A round trip through the hub after the second client is queued: had the
    # server accepted it, its handler would have started (or the hub would have
    # blocked in pool.spawn).
    first.write(b"ping")
    assert read_exactly(first, 4) == b"ping"
    assert order == [("start", b"first")]
    assert server.pool is not None
    assert server.pool.full()
    first.disconnectFromServer()
    assert read_exactly(second, 6) == b"second"
    assert order == [("start", b"first"), ("end", b"first"), ("start", b"second")]
    second.disconnectFromServer()
    assert qtry(lambda: len(order) == 4)


# -- names and options --------------------------------------------------------------------


def test_qt_names_and_options_apply(harness: Harness, servers: list[LocalStreamServer],
                                    tmpdir_env: str) -> None:
    server = LocalStreamServer("opts", echo_once,
                               options=QLocalServer.SocketOption.UserAccessOption)
    servers.append(server)
    assert server.fullServerName() == ""  # bound by start(), as Qt binds in listen()
    server.start()
    path = os.path.join(tmpdir_env, "opts")
    assert server.fullServerName() == path
    mode = os.stat(path).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o700
    assert read_to_end(client(harness, path, b"x")) == b"echo x"

    rival = LocalStreamServer("opts", echo_once)
    with pytest.raises(ListenError) as failure:
        rival.start()
    assert failure.value.error == QAbstractSocket.SocketError.AddressInUseError
    assert path in str(failure.value)

    server.close()
    assert not os.path.exists(path)
    assert server.serverName() == server.fullServerName() == ""

    abstract_name = f"qlsock-test-{os.getpid()}-{os.path.basename(tmpdir_env)}"
    hidden = serve(abstract_name, echo_once,
                   options=QLocalServer.SocketOption.AbstractNamespaceOption)
    servers.append(hidden)
    assert hidden.fullServerName() == abstract_name
    assert not os.path.exists(os.path.join(tmpdir_env, abstract_name))
    assert read_to_end(client(harness, abstract_name, b"y", abstract=True)) == b"echo y"


def test_reclaim_stale_replaces_a_dead_servers_file_only(
        harness: Harness, servers: list[LocalStreamServer], tmpdir_env: str) -> None:
    path = os.path.join(tmpdir_env, "stale")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()  # the file stays, nobody listens: stale
    with pytest.raises(ListenError):
        serve("stale", echo_once)
    server = serve("stale", echo_once, reclaim_stale=True)
    servers.append(server)
    assert read_to_end(client(harness, "stale", b"z")) == b"echo z"


def test_adopts_a_listening_socket_or_descriptor_and_leaves_its_file(
        harness: Harness, servers: list[LocalStreamServer], tmpdir_env: str) -> None:
    path = os.path.join(tmpdir_env, "adopted")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(5)
    server = LocalStreamServer(listener, echo_once)
    servers.append(server)
    assert (server.serverName(), server.fullServerName()) == ("adopted", path)
    server.start()
    assert read_to_end(client(harness, "adopted", b"s")) == b"echo s"
    server.stop()
    assert os.path.exists(path)  # whoever created it owns it (Qt removes it)

    os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(5)
    by_fd = serve_adopted(listener.detach())
    servers.append(by_fd)
    assert read_to_end(client(harness, "adopted", b"d")) == b"echo d"

    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with pytest.raises(ValueError, match="not listening"):
        LocalStreamServer(idle, echo_once)
    idle.close()
    with pytest.raises(TypeError, match="server name"):
        LocalStreamServer(listener, echo_once, backlog=5)


def serve_adopted(fd: int) -> LocalStreamServer:
    server = LocalStreamServer(fd, echo_once)
    server.start()
    return server


# -- lifecycle ------------------------------------------------------------------------------


def test_context_manager_starts_and_stops_and_serve_forever_blocks_until_stop(
        harness: Harness, tmpdir_env: str) -> None:
    with LocalStreamServer("cm", echo_once) as server:
        assert server.started
        assert read_to_end(client(harness, "cm", b"a")) == b"echo a"
    assert server.closed
    assert not os.path.exists(os.path.join(tmpdir_env, "cm"))

    forever = LocalStreamServer("forever", echo_once)
    runner = gevent.spawn(forever.serve_forever)
    assert qtry(lambda: forever.started)
    assert read_to_end(client(harness, "forever", b"b")) == b"echo b"
    assert not runner.dead
    forever.stop()
    runner.join(5)
    assert runner.dead
    assert runner.successful()
    assert not os.path.exists(os.path.join(tmpdir_env, "forever"))


def test_a_handler_that_raises_is_logged_and_the_server_keeps_serving(
        harness: Harness, servers: list[LocalStreamServer],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="qlsock")

    def handle(sock: QLocalSocket) -> None:
        message = first_message(sock)
        sock.write(b"got " + message)
        if message == b"boom":
            raise RuntimeError("the handler failed on purpose")

    server = serve("raising", handle)
    servers.append(server)
    assert read_to_end(client(harness, "raising", b"boom")) == b"got boom"
    records = [r for r in caplog.records if r.name == "qlsock" and r.levelno == logging.ERROR]
    assert len(records) == 1
    assert server.fullServerName() in records[0].getMessage()
    assert records[0].exc_info is not None
    assert records[0].exc_info[0] is RuntimeError
    assert server.started
    assert read_to_end(client(harness, "raising", b"fine")) == b"got fine"


def test_stop_lets_handlers_finish_then_drains_then_kills(
        harness: Harness, servers: list[LocalStreamServer], tmpdir_env: str) -> None:
    outcome: dict[bytes, str] = {}
    stuck_socket: list[QLocalSocket] = []

    def handle(sock: QLocalSocket) -> None:
        role = first_message(sock)
        try:
            if role == b"stuck":
                stuck_socket.append(sock)
                sock.write(BIG)
                Event().wait()  # blocked forever, and not on its socket
            else:
                assert sock.waitForReadyRead(5000)
                sock.write(b"reply " + sock.readAll())
                outcome[role] = "returned"
        except GreenletExit:
            outcome[role] = "killed"
            raise

    server = serve("stopping", handle, spawn=4)
    server.drain_timeout = 10.0  # generous: the drain ends when the bytes are out
    stuck = client(harness, "stopping", b"stuck")
    stuck.setReadBufferSize(64 * 1024)  # the client stops reading: writes stay queued
    quick = client(harness, "stopping", b"quick")
    assert qtry(lambda: bool(stuck_socket))
    started = time.monotonic()
    stopper = gevent.spawn(server.stop, 1.0)
    quick.write(b"bye")
    assert read_to_end(quick) == b"reply bye"

    # Step 3 of stop(): the stuck handler's socket was disconnected with bytes queued.
    assert qtry(lambda: stuck_socket[0].state() != CONNECTED, 10000)
    assert stuck_socket[0].state() == CLOSING
    assert stuck_socket[0].bytesToWrite() > 0
    assert not os.path.exists(os.path.join(tmpdir_env, "stopping"))
    assert read_to_end(stuck) == BIG  # everything queued, then the disconnect
    assert stuck.error() == PEER_CLOSED
    stopper.join(15)
    assert stopper.dead
    assert stopper.successful()
    assert time.monotonic() - started < 1.0 + server.drain_timeout + server.kill_timeout
    assert outcome == {b"quick": "returned", b"stuck": "killed"}
    assert server.pool is not None
    assert server.pool.free_count() == 4


def test_idle_timeout_cuts_silent_connections_and_no_other(
        harness: Harness, servers: list[LocalStreamServer]) -> None:
    idle = 0.8
    handlers: dict[bytes, Any] = {}
    sockets: dict[bytes, QLocalSocket] = {}
    woke: list[tuple[bool, Any, str]] = []
    flood_states: list[Any] = []

    def handle(sock: QLocalSocket) -> None:
        role = first_message(sock)
        handlers[role], sockets[role] = getcurrent(), sock
        if role == b"hang":  # hangs forever holding its socket
            Event().wait()
        elif role == b"flood":  # queues more than the silent client will ever read
            sock.stateChanged.connect(flood_states.append)
            sock.write(BIG)
            Event().wait()
        elif role == b"wait":  # waits on its socket forever
            woke.append((sock.waitForReadyRead(-1), sock.state(), sock.errorString()))
        else:
            while sock.waitForReadyRead(-1):
                sock.write(sock.readAll())

    server = serve("idle", handle, idle_timeout=idle)
    servers.append(server)
    hang = client(harness, "idle", b"hang")
    flood = client(harness, "idle", b"flood")
    flood.setReadBufferSize(1024)  # reads a little, then never again
    client(harness, "idle", b"wait")
    chat = client(harness, "idle", b"chat")
    assert qtry(lambda: len(sockets) == 4)

    def cut() -> bool:
        return (hang.state() == UNCONNECTED and bool(woke)
                and sockets[b"flood"].state() == UNCONNECTED)

    deadline = time.monotonic() + 20
    rounds = 0
    while not cut():  # the chatting client keeps its connection busy meanwhile
        assert time.monotonic() < deadline, "the silent connections were not cut"
        chat.write(b"p")
        assert read_exactly(chat, 1) == b"p"
        rounds += 1
        gevent.sleep(0.02)  # the client's rhythm: a message every 20 ms, well within idle
    assert chat.state() == CONNECTED
    assert rounds > 1

    assert hang.error() == PEER_CLOSED
    assert not handlers[b"hang"].dead  # the connection is cut, the greenlet is not killed
    assert woke[0][:2] == (False, UNCONNECTED)
    assert "idle_timeout" in woke[0][2]
    # Disconnected gracefully first; aborted when the drain made no progress.
    assert flood_states == [CLOSING, UNCONNECTED]
    assert sockets[b"flood"].bytesToWrite() == 0
    chat.write(b"q")
    assert read_exactly(chat, 1) == b"q"
    chat.disconnectFromServer()
    server.kill_timeout = 5.0
    server.stop(timeout=0)
    assert handlers[b"hang"].dead
    assert handlers[b"flood"].dead


def test_a_write_from_another_greenlet_leaves_while_the_handler_waits_to_read(
        harness: Harness, servers: list[LocalStreamServer]) -> None:
    """The broadcast pattern: each handler waits for its client's next message while
    another greenlet writes to every connection."""
    conns: list[QLocalSocket] = []

    def handle(sock: QLocalSocket) -> None:
        conns.append(sock)
        while sock.waitForReadyRead(-1):
            sock.readAll()

    server = serve("broadcast", handle)
    servers.append(server)
    clients = [client(harness, "broadcast") for _ in range(2)]
    assert qtry(lambda: len(conns) == 2)  # both handlers are parked in waitForReadyRead
    for sock in conns:
        sock.write(b"news")  # from this greenlet, not the handler's
    for sock in clients:
        assert read_exactly(sock, 4) == b"news"
