"""QLocalServer: defaults, listen errors, naming limits, the pending queue, close, removeServer.

Qt's behaviour (tst_qlocalsocket's server_basic, listen, removeServer, ...) plus
qlsock's deliberate differences: a hard ``maxPendingConnections`` cap, immediate
``(True, False)`` from ``waitForNewConnection`` when something is pending, a listen
error cleared by a later success, ``close()`` removing only its own socket file, and
TypeError/ValueError for misuse.
"""

from __future__ import annotations

import os
import socket
import stat
import time

import gevent
import pytest

from qlsock import QAbstractSocket, QLocalServer, QLocalSocket
from qlsock.naming import MAX_NAME_BYTES
from tests.support import LocalServer, Spy, qtry

SocketError = QAbstractSocket.SocketError
ABSTRACT = QLocalServer.AbstractNamespaceOption


def _abstract_name(tmpdir: str, tag: str) -> str:
    """An abstract name unique to this test (abstract names are system-wide)."""
    return f"qlsock-test-{os.getpid()}-{os.path.basename(tmpdir)}-{tag}"


def _connect(name: str, abstract: bool = False) -> QLocalSocket:
    client = QLocalSocket()
    if abstract:
        client.setSocketOptions(QLocalSocket.AbstractNamespaceOption)
    client.connectToServer(name)
    return client


def _round_trip(a: QLocalSocket, b: QLocalSocket, payload: bytes) -> None:
    """Send *payload* from *a* and check that *b* receives exactly it."""
    assert a.write(payload) == len(payload)
    received = b""
    while len(received) < len(payload):
        assert b.waitForReadyRead(5000), b.errorString()
        received += b.readAll()
    assert received == payload


def _path_of_length(directory: str, length: int) -> str:
    """An absolute path in *directory* whose UTF-8 encoding is *length* bytes."""
    prefix = directory + "/"
    assert len(prefix) < length
    return prefix + "n" * (length - len(prefix))


# -- defaults and simple setters ---------------------------------------------------------


def test_server_basic_defaults() -> None:
    """A fresh server has Qt's defaults (server_basic) and close() is harmless."""
    server = LocalServer()
    spy = Spy(server.newConnection)
    server.close()
    assert server.errorString() == ""
    assert server.hasPendingConnections() is False
    assert server.isListening() is False
    assert server.maxPendingConnections() == 30
    assert server.listenBacklogSize() == 50
    assert server.socketOptions() == QLocalServer.NoOptions
    assert server.nextPendingConnection() is None
    assert server.serverName() == ""
    assert server.fullServerName() == ""
    assert server.serverError() == SocketError.UnknownSocketError
    assert server.serverError() is SocketError.UnknownSocketError
    assert server.socketDescriptor() == -1
    server.setMaxPendingConnections(20)
    assert server.maxPendingConnections() == 20
    started = time.monotonic()
    assert server.waitForNewConnection(3000) == (False, False)
    assert time.monotonic() - started < 1.0
    assert server.hits == []
    assert len(spy) == 0


def test_setters_store_values() -> None:
    """setListenBacklogSize and setSocketOptions only store their values."""
    server = QLocalServer()
    server.setListenBacklogSize(7)
    assert server.listenBacklogSize() == 7
    server.setSocketOptions(QLocalServer.WorldAccessOption)
    assert server.socketOptions() == QLocalServer.WorldAccessOption
    server.setSocketOptions(ABSTRACT)
    assert server.socketOptions() == ABSTRACT
    assert not server.isListening()


def test_negative_limits_raise_value_error() -> None:
    """Negative maxPendingConnections and backlog sizes raise ValueError."""
    server = QLocalServer()
    with pytest.raises(ValueError):
        server.setMaxPendingConnections(-1)
    with pytest.raises(ValueError):
        server.setListenBacklogSize(-5)
    assert server.maxPendingConnections() == 30
    assert server.listenBacklogSize() == 50


@pytest.mark.parametrize("bad", [b"name", 1.5, ["x"]])
def test_listen_wrong_type_raises_type_error(bad: object) -> None:
    """listen() with something that is neither a str name nor a descriptor: TypeError
    (None is PySide6's empty name: see tests/test_qt_differences.py)."""
    server = QLocalServer()
    with pytest.raises(TypeError):
        server.listen(bad)
    assert not server.isListening()


def test_setters_wrong_type_raise_type_error() -> None:
    """Non-integer limits raise TypeError."""
    server = QLocalServer()
    with pytest.raises(TypeError):
        server.setMaxPendingConnections("3")
    with pytest.raises(TypeError):
        server.setListenBacklogSize(2.0)
    with pytest.raises(TypeError):
        QLocalServer.removeServer(b"name")


# -- listen() and its errors ---------------------------------------------------------------


def test_listen_success_sets_names_and_descriptor(tmpdir_env: str) -> None:
    """A successful listen() stores both names and exposes a listening socket descriptor."""
    server = QLocalServer()
    assert server.listen("basic")
    assert server.isListening()
    assert server.serverName() == "basic"
    assert server.fullServerName() == tmpdir_env + "/basic"
    assert stat.S_ISSOCK(os.stat(tmpdir_env + "/basic").st_mode)
    fd = server.socketDescriptor()
    assert fd >= 0
    assert stat.S_ISSOCK(os.fstat(fd).st_mode)
    assert server.serverError() == SocketError.UnknownSocketError
    assert server.errorString() == ""
    server.close()
    assert server.socketDescriptor() == -1


def test_listen_empty_name() -> None:
    """An empty name fails with HostNotFoundError and the "name is empty" text."""
    server = QLocalServer()
    assert not server.listen("")
    assert server.serverError() == SocketError.HostNotFoundError
    assert server.errorString() == "QLocalServer::listen: Name error (the name is empty)"
    assert not server.isListening()


def test_listen_missing_directory(tmpdir_env: str) -> None:
    """A name in a directory that does not exist: HostNotFoundError, "Name error"."""
    server = QLocalServer()
    assert not server.listen("no/such/dir/name")
    assert server.serverError() == SocketError.HostNotFoundError
    assert server.errorString().startswith("QLocalServer::listen: Name error")
    assert server.serverName() == ""
    assert server.fullServerName() == ""
    assert not server.isListening()
    assert not os.path.exists(tmpdir_env + "/no")


def test_listen_over_stale_socket_file(tmpdir_env: str) -> None:
    """A socket file left by a dead server: AddressInUseError, and the file is left alone."""
    path = tmpdir_env + "/stale"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(path)
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    server = QLocalServer()
    assert not server.listen("stale")
    assert server.serverError() == SocketError.AddressInUseError
    assert server.errorString().startswith("QLocalServer::listen: Address in use")
    assert server.serverName() == ""
    assert server.fullServerName() == ""
    assert not server.isListening()
    assert stat.S_ISSOCK(os.stat(path).st_mode)


def test_listen_over_regular_file(tmpdir_env: str) -> None:
    """A regular file at the path: AddressInUseError, and the file is not touched."""
    path = tmpdir_env + "/file"
    with open(path, "wb") as fh:
        fh.write(b"keep me")
    server = QLocalServer()
    assert not server.listen(path)
    assert server.serverError() == SocketError.AddressInUseError
    assert server.errorString().startswith("QLocalServer::listen: Address in use")
    with open(path, "rb") as fh:
        assert fh.read() == b"keep me"


def test_listen_over_live_server() -> None:
    """A second server on a live server's name: AddressInUseError; the first still serves."""
    first = QLocalServer()
    assert first.listen("live")
    second = QLocalServer()
    assert not second.listen("live")
    assert second.serverError() == SocketError.AddressInUseError
    assert second.errorString().startswith("QLocalServer::listen: Address in use")
    assert not second.isListening()
    client = _connect("live")
    assert client.state() == QLocalSocket.ConnectedState
    assert first.waitForNewConnection(5000) == (True, False)
    first.close()


def test_listen_abstract_name_in_use(tmpdir_env: str) -> None:
    """An abstract name another server holds: AddressInUseError."""
    name = _abstract_name(tmpdir_env, "inuse")
    first = QLocalServer()
    first.setSocketOptions(ABSTRACT)
    assert first.listen(name), first.errorString()
    second = QLocalServer()
    second.setSocketOptions(ABSTRACT)
    assert not second.listen(name)
    assert second.serverError() == SocketError.AddressInUseError
    assert second.errorString().startswith("QLocalServer::listen: Address in use")
    first.close()
    # Abstract names never go stale: once closed, the name is free again.
    assert second.listen(name), second.errorString()
    second.close()


def test_listen_when_already_listening(qt_warnings) -> None:
    """listen() while listening warns, returns False and leaves name and error alone."""
    server = QLocalServer()
    assert server.listen("twice")
    full = server.fullServerName()
    assert not server.listen("other")
    assert "QLocalServer::listen() called when already listening" in qt_warnings.texts
    assert server.isListening()
    assert server.serverName() == "twice"
    assert server.fullServerName() == full
    assert server.serverError() == SocketError.UnknownSocketError
    assert server.errorString() == ""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(os.environ["TMPDIR"] + "/adopt")
        other.listen(1)
        qt_warnings.clear()
        assert not server.listen(other.fileno())
        assert "QLocalServer::listen() called when already listening" in qt_warnings.texts
    assert server.serverName() == "twice"
    server.close()


def test_successful_listen_clears_previous_error(tmpdir_env: str) -> None:
    """Unlike Qt, a successful listen() clears the error of an earlier failed one."""
    server = QLocalServer()
    assert not server.listen("missing/dir")
    assert server.serverError() == SocketError.HostNotFoundError
    assert server.listen("fine")
    assert server.serverError() == SocketError.UnknownSocketError
    assert server.errorString() == ""
    server.close()


# -- name length, encoding and TMPDIR ------------------------------------------------------


def test_max_name_bytes_is_106_on_linux() -> None:
    """On Linux the longest path or abstract name is 106 bytes."""
    assert MAX_NAME_BYTES == 106


def test_absolute_name_of_106_bytes_listens(tmpdir_env: str) -> None:
    """An absolute name of exactly 106 bytes listens and is reachable."""
    path = _path_of_length(tmpdir_env, 106)
    server = QLocalServer()
    assert server.listen(path), server.errorString()
    assert server.fullServerName() == path
    assert os.path.exists(path)
    client = _connect(path)
    assert client.state() == QLocalSocket.ConnectedState
    assert server.waitForNewConnection(5000) == (True, False)
    server.close()
    assert not os.path.exists(path)


def test_absolute_name_of_107_bytes_fails(tmpdir_env: str) -> None:
    """An absolute name of 107 bytes fails with a Name error that gives both counts."""
    path = _path_of_length(tmpdir_env, 107)
    server = QLocalServer()
    assert not server.listen(path)
    assert server.serverError() == SocketError.HostNotFoundError
    text = server.errorString()
    assert text.startswith("QLocalServer::listen: Name error (")
    assert text.endswith(")")
    assert "107" in text
    assert "106" in text
    assert server.serverName() == ""
    assert server.fullServerName() == ""
    assert not os.path.exists(path)


def test_relative_name_limit_counts_the_full_path(tmpdir_env: str) -> None:
    """For a relative name the limit applies to TMPDIR + "/" + name."""
    room = 106 - len(tmpdir_env) - 1
    ok = QLocalServer()
    assert ok.listen("r" * room), ok.errorString()
    assert len(ok.fullServerName().encode()) == 106
    ok.close()
    too_long = QLocalServer()
    assert not too_long.listen("r" * (room + 1))
    assert too_long.serverError() == SocketError.HostNotFoundError
    assert "107" in too_long.errorString()


def test_name_limit_is_counted_in_bytes(tmpdir_env: str) -> None:
    """Multi-byte characters count by their UTF-8 length, not as one each."""
    prefix = tmpdir_env + "/"
    # 105 characters but 106 bytes: fits. 106 characters but 107 bytes: does not.
    fits = prefix + "e" * (104 - len(prefix)) + "\u00e9"
    assert len(fits) == 105
    assert len(fits.encode()) == 106
    server = QLocalServer()
    assert server.listen(fits), server.errorString()
    server.close()
    too_long = prefix + "e" * (105 - len(prefix)) + "\u00e9"
    assert len(too_long) == 106
    assert len(too_long.encode()) == 107
    assert not server.listen(too_long)
    assert server.serverError() == SocketError.HostNotFoundError
    assert "107" in server.errorString()
    assert "106" in server.errorString()


def test_abstract_name_limit(tmpdir_env: str) -> None:
    """Abstract names also stop at 106 bytes."""
    base = _abstract_name(tmpdir_env, "len")
    server = QLocalServer()
    server.setSocketOptions(ABSTRACT)
    name = base + "x" * (106 - len(base))
    assert server.listen(name), server.errorString()
    assert server.fullServerName() == name
    server.close()
    assert not server.listen(name + "x")
    assert server.serverError() == SocketError.HostNotFoundError
    assert server.errorString().startswith("QLocalServer::listen: Name error (")
    assert "107" in server.errorString()


def test_name_with_nul_fails(tmpdir_env: str) -> None:
    """A path name containing NUL fails with HostNotFoundError and an explanation."""
    server = QLocalServer()
    assert not server.listen("bad\0name")
    assert server.serverError() == SocketError.HostNotFoundError
    assert server.errorString().startswith("QLocalServer::listen: Name error (")
    assert server.errorString() != "QLocalServer::listen: Name error ()"
    assert os.listdir(tmpdir_env) == []


def test_tmpdir_is_read_on_every_call(tmpdir_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing TMPDIR between two listen() calls puts the same name in two places."""
    first = QLocalServer()
    assert first.listen("same")
    assert first.fullServerName() == tmpdir_env + "/same"
    other = tmpdir_env + "/other"
    os.mkdir(other)
    monkeypatch.setenv("TMPDIR", other)
    second = QLocalServer()
    assert second.listen("same"), second.errorString()
    assert second.fullServerName() == other + "/same"
    # A client resolves against the current TMPDIR too.
    client = _connect("same")
    assert client.fullServerName() == other + "/same"
    assert second.waitForNewConnection(5000) == (True, False)
    assert not first.hasPendingConnections()
    first.close()
    second.close()


# -- the pending queue ------------------------------------------------------------------------


def test_max_pending_connections_is_a_hard_cap() -> None:
    """With max N and N+3 clients the queue stops at exactly N; taking one resumes accepting."""
    cap = 2
    server = LocalServer()
    server.setMaxPendingConnections(cap)
    assert server.listen("cap")
    clients = [_connect("cap") for _ in range(cap + 3)]
    # On Unix every client is connected already: the rest wait in the kernel backlog.
    assert all(c.state() == QLocalSocket.ConnectedState for c in clients)
    assert qtry(lambda: len(server.hits) == cap)
    assert not qtry(lambda: len(server.hits) > cap, 200)
    assert server.hasPendingConnections()
    taken = [server.nextPendingConnection()]
    assert qtry(lambda: len(server.hits) == cap + 1)
    assert not qtry(lambda: len(server.hits) > cap + 1, 200)
    while len(taken) < cap + 3:
        sock = server.nextPendingConnection()
        if sock is None:
            assert qtry(server.hasPendingConnections)
            continue
        taken.append(sock)
    assert len(server.hits) == cap + 3
    assert not server.hasPendingConnections()
    assert server.failures == []
    # FIFO: each accepted socket talks to the client that connected in that order.
    for index, (client, sock) in enumerate(zip(clients, taken, strict=True)):
        _round_trip(client, sock, b"client %d\n" % index)
    server.close()


def test_max_pending_zero_accepts_only_in_wait() -> None:
    """With max 0 nothing is accepted in the background, but waitForNewConnection accepts."""
    server = LocalServer()
    server.setMaxPendingConnections(0)
    spy = Spy(server.newConnection)
    assert server.listen("zero")
    client = _connect("zero")
    assert client.state() == QLocalSocket.ConnectedState
    assert not qtry(lambda: len(server.hits) > 0, 200)
    assert len(spy) == 0
    assert server.waitForNewConnection(5000) == (True, False)
    assert len(server.hits) == 1
    assert len(spy) == 1
    sock = server.nextPendingConnection()
    assert sock is not None
    _round_trip(client, sock, b"zero\n")
    server.close()


def test_raising_the_cap_resumes_accepting() -> None:
    """Raising maxPendingConnections while the queue is full resumes background accepting."""
    server = LocalServer()
    server.setMaxPendingConnections(1)
    assert server.listen("raise")
    clients = [_connect("raise") for _ in range(3)]
    assert qtry(lambda: len(server.hits) == 1)
    server.setMaxPendingConnections(3)
    assert qtry(lambda: len(server.hits) == 3)
    assert all(c.state() == QLocalSocket.ConnectedState for c in clients)
    server.close()


# -- waitForNewConnection ---------------------------------------------------------------------


def test_wait_for_new_connection_not_listening() -> None:
    """Not listening: (False, False) at once, whatever the timeout."""
    server = QLocalServer()
    started = time.monotonic()
    assert server.waitForNewConnection(5000) == (False, False)
    assert server.waitForNewConnection(-1) == (False, False)
    assert time.monotonic() - started < 1.0


def test_wait_for_new_connection_times_out() -> None:
    """Listening with no client: (False, True) after the timeout, not before."""
    server = QLocalServer()
    assert server.listen("idle")
    started = time.monotonic()
    assert server.waitForNewConnection(100) == (False, True)
    elapsed = time.monotonic() - started
    assert 0.09 <= elapsed < 2.0
    assert server.waitForNewConnection(0) == (False, True)
    server.close()


def test_wait_for_new_connection_forever_until_a_greenlet_connects() -> None:
    """waitForNewConnection(-1) yields until another greenlet connects."""
    server = LocalServer()
    assert server.listen("forever")
    clients: list[QLocalSocket] = []
    worker = gevent.spawn(lambda: clients.append(_connect("forever")))
    assert server.waitForNewConnection(-1) == (True, False)
    worker.get(timeout=5)
    assert len(server.hits) == 1
    sock = server.nextPendingConnection()
    assert sock is not None
    _round_trip(sock, clients[0], b"forever\n")
    server.close()


def test_wait_for_new_connection_returns_at_once_when_pending() -> None:
    """Something already queued: (True, False) at once, even with a long timeout."""
    server = LocalServer()
    assert server.listen("pending")
    client = _connect("pending")
    assert qtry(server.hasPendingConnections)
    started = time.monotonic()
    assert server.waitForNewConnection(3000) == (True, False)
    assert time.monotonic() - started < 1.0
    assert len(server.hits) == 1
    assert server.nextPendingConnection() is not None
    assert client.state() == QLocalSocket.ConnectedState
    server.close()


def test_wait_for_new_connection_ignores_the_cap() -> None:
    """waitForNewConnection accepts even when the queue is at its limit."""
    server = LocalServer()
    server.setMaxPendingConnections(1)
    assert server.listen("ignorecap")
    _ = [_connect("ignorecap") for _ in range(2)]
    assert qtry(lambda: len(server.hits) == 1)
    assert server.waitForNewConnection(0) == (True, False)
    # Pending already: no new accept needed for (True, False).
    assert len(server.hits) == 1
    assert server.nextPendingConnection() is not None
    assert qtry(lambda: len(server.hits) == 2)
    server.close()


# -- incomingConnection and newConnection -------------------------------------------------------


class DecliningServer(QLocalServer):
    """Overrides incomingConnection and never queues anything."""

    def __init__(self) -> None:
        super().__init__()
        self.descriptors: list[object] = []

    def incomingConnection(self, socketDescriptor: int) -> None:
        self.descriptors.append(socketDescriptor)
        os.close(socketDescriptor)


def test_incoming_connection_override_can_decline() -> None:
    """An override receives an int descriptor; not queueing means no newConnection."""
    server = DecliningServer()
    spy = Spy(server.newConnection)
    assert server.listen("decline")
    client = _connect("decline")
    assert qtry(lambda: len(server.descriptors) == 1)
    fd = server.descriptors[0]
    assert type(fd) is int
    assert fd >= 0
    assert not server.hasPendingConnections()
    assert server.nextPendingConnection() is None
    assert len(spy) == 0
    # The override closed the descriptor: the client sees the connection end.
    assert qtry(lambda: client.state() == QLocalSocket.UnconnectedState)
    assert client.error() == QLocalSocket.PeerClosedError
    # Accepted inside waitForNewConnection: nothing queued, no timeout.
    other = _connect("decline")
    assert server.waitForNewConnection(5000) == (False, False)
    assert len(server.descriptors) == 2
    assert len(spy) == 0
    assert qtry(lambda: other.state() == QLocalSocket.UnconnectedState)
    server.close()


def test_new_connection_emitted_after_queueing_outside_the_hub() -> None:
    """newConnection runs after the socket is queued, in a greenlet that is not the hub."""
    server = LocalServer()
    seen: list[tuple[bool, bool]] = []

    def on_new() -> None:
        current = gevent.getcurrent()
        seen.append((server.hasPendingConnections(), current is not gevent.get_hub()))

    server.newConnection.connect(on_new)
    assert server.listen("signal")
    client = _connect("signal")
    assert qtry(lambda: len(seen) == 1)
    assert seen == [(True, True)]
    assert server.failures == []
    sock = server.nextPendingConnection()
    assert sock is not None
    _round_trip(client, sock, b"hello\n")
    server.close()


def test_new_connection_slot_may_block() -> None:
    """A newConnection slot may wait for data: it runs in a greenlet, not in the hub."""
    server = QLocalServer()
    lines: list[bytes] = []

    def on_new() -> None:
        sock = server.nextPendingConnection()
        while not sock.canReadLine():
            assert sock.waitForReadyRead(5000)
        lines.append(sock.readLine())
        sock.write(b"ack\n")

    server.newConnection.connect(on_new)
    assert server.listen("blocking")
    client = _connect("blocking")
    client.write(b"line\n")
    while not client.canReadLine():
        assert client.waitForReadyRead(5000)
    assert client.readLine() == b"ack\n"
    assert lines == [b"line\n"]
    server.close()


def test_new_connection_once_per_connection() -> None:
    """Each accepted connection emits newConnection exactly once, FIFO order kept."""
    server = LocalServer()
    spy = Spy(server.newConnection)
    assert server.listen("each")
    clients = [_connect("each") for _ in range(4)]
    assert qtry(lambda: len(spy) == 4)
    for index, client in enumerate(clients):
        sock = server.nextPendingConnection()
        assert sock is not None
        _round_trip(sock, client, b"%d" % index)
    assert server.nextPendingConnection() is None
    assert len(server.hits) == 4
    assert server.failures == []
    server.close()


def test_add_pending_connection() -> None:
    """addPendingConnection queues a QLocalSocket and emits newConnection; others: TypeError."""
    server = QLocalServer()
    spy = Spy(server.newConnection)
    with pytest.raises(TypeError):
        server.addPendingConnection(object())
    with pytest.raises(TypeError):
        server.addPendingConnection(None)
    assert len(spy) == 0
    assert not server.hasPendingConnections()
    sock = QLocalSocket()
    server.addPendingConnection(sock)
    assert len(spy) == 1
    assert server.hasPendingConnections()
    assert server.nextPendingConnection() is sock
    assert server.nextPendingConnection() is None


def test_accepted_socket_state_and_names(tmpdir_env: str) -> None:
    """An accepted socket is connected, open ReadWrite, with the server's names."""
    server = QLocalServer()
    assert server.listen("names")
    _connect("names")
    assert server.waitForNewConnection(5000) == (True, False)
    sock = server.nextPendingConnection()
    assert sock.state() == QLocalSocket.ConnectedState
    assert sock.openMode() == QLocalSocket.ReadWrite
    assert sock.serverName() == "names"
    assert sock.fullServerName() == tmpdir_env + "/names"
    assert sock.socketDescriptor() >= 0
    server.close()


# -- close() ------------------------------------------------------------------------------------


def test_close_drops_pending_keeps_taken(tmpdir_env: str) -> None:
    """close(): queued and backlog clients see the end; taken sockets keep working."""
    server = LocalServer()
    server.setMaxPendingConnections(2)
    assert server.listen("closing")
    path = server.fullServerName()
    taken_client = _connect("closing")
    assert server.waitForNewConnection(5000) == (True, False)
    taken = server.nextPendingConnection()
    waiting = [_connect("closing") for _ in range(4)]  # two queued, two in the backlog
    assert qtry(lambda: len(server.hits) == 3)
    assert server.hasPendingConnections()
    server.close()
    assert not server.isListening()
    assert not server.hasPendingConnections()
    assert server.nextPendingConnection() is None
    assert server.serverName() == ""
    assert server.fullServerName() == ""
    assert server.serverError() == SocketError.UnknownSocketError
    assert server.errorString() == ""
    assert server.socketDescriptor() == -1
    assert not os.path.exists(path)
    for client in waiting:
        assert qtry(lambda c=client: c.state() == QLocalSocket.UnconnectedState)
        assert client.error() == QLocalSocket.PeerClosedError
    assert taken.state() == QLocalSocket.ConnectedState
    _round_trip(taken, taken_client, b"still here\n")
    _round_trip(taken_client, taken, b"and back\n")
    # Nobody can connect any more.
    late = _connect("closing")
    assert late.state() == QLocalSocket.UnconnectedState
    assert late.error() == QLocalSocket.ServerNotFoundError
    # close() twice is harmless, and the name can be used again.
    server.close()
    assert server.listen("closing")
    server.close()


def test_close_wakes_a_waiting_greenlet() -> None:
    """close() from another greenlet ends a waitForNewConnection(-1) with (False, False)."""
    server = QLocalServer()
    assert server.listen("wake")
    closer = gevent.spawn(server.close)
    assert server.waitForNewConnection(-1) == (False, False)
    closer.get(timeout=5)
    assert not server.isListening()


def test_close_leaves_a_successors_socket_file(tmpdir_env: str) -> None:
    """After a hostile takeover, the first server's close() leaves the successor's file."""
    first = LocalServer()
    assert first.listen("takeover")
    path = first.fullServerName()
    assert QLocalServer.removeServer("takeover")
    assert not os.path.exists(path)
    second = LocalServer()
    assert second.listen("takeover"), second.errorString()
    client = _connect("takeover")
    assert client.state() == QLocalSocket.ConnectedState
    assert qtry(lambda: len(second.hits) == 1)
    assert first.hits == []
    first.close()
    assert os.path.exists(path)
    late = _connect("takeover")
    assert late.state() == QLocalSocket.ConnectedState
    assert qtry(lambda: len(second.hits) == 2)
    second.close()
    assert not os.path.exists(path)


def test_context_manager_closes() -> None:
    """Leaving a ``with`` block closes the server."""
    with QLocalServer() as server:
        assert server.listen("ctx")
        path = server.fullServerName()
        assert os.path.exists(path)
    assert not server.isListening()
    assert not os.path.exists(path)


# -- removeServer() ------------------------------------------------------------------------------


def test_remove_server_nothing_there() -> None:
    """removeServer() of a name with no file returns True."""
    assert QLocalServer.removeServer("nothing")
    assert QLocalServer.removeServer("/nonexistent-dir-qlsock/x")


def test_remove_server_stale_and_regular_files(tmpdir_env: str) -> None:
    """removeServer() removes whatever is at the path, for an absolute or relative name."""
    path = tmpdir_env + "/stale"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(path)
    assert QLocalServer.removeServer("stale")
    assert not os.path.exists(path)
    regular = tmpdir_env + "/plain"
    with open(regular, "w") as fh:
        fh.write("x")
    assert QLocalServer.removeServer(regular)
    assert not os.path.exists(regular)
    server = QLocalServer()
    assert server.listen("stale")
    server.close()


def test_remove_server_live_server() -> None:
    """removeServer() removes a live server's file; a second listen() then succeeds."""
    first = QLocalServer()
    assert first.listen("hostile")
    assert QLocalServer.removeServer("hostile")
    assert not os.path.exists(first.fullServerName())
    assert first.isListening()
    second = QLocalServer()
    assert second.listen("hostile"), second.errorString()
    client = _connect("hostile")
    assert second.waitForNewConnection(5000) == (True, False)
    assert not first.hasPendingConnections()
    assert client.state() == QLocalSocket.ConnectedState
    first.close()
    second.close()


def test_remove_server_dangling_symlink(tmpdir_env: str) -> None:
    """A dangling symlink counts as absent (QFile::exists follows links): True."""
    link = tmpdir_env + "/dangling"
    os.symlink(tmpdir_env + "/missing-target", link)
    assert QLocalServer.removeServer("dangling")
    assert os.path.lexists(link)


# -- listen(socketDescriptor) ----------------------------------------------------------------------


def test_listen_descriptor_path(tmpdir_env: str) -> None:
    """listen(fd) adopts a bound, listening path socket; names come from getsockname."""
    path = tmpdir_env + "/adopted"
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.bind(path)
    raw.listen(5)
    fd = raw.detach()
    server = LocalServer()
    server.setSocketOptions(ABSTRACT)
    assert server.listen(fd)
    assert server.isListening()
    assert server.socketDescriptor() == fd
    assert server.serverName() == "adopted"
    assert server.fullServerName() == path
    assert not server.socketOptions() & ABSTRACT
    assert not os.get_inheritable(fd)
    assert not os.get_blocking(fd)
    client = _connect("adopted")
    assert client.state() == QLocalSocket.ConnectedState
    assert server.waitForNewConnection(5000) == (True, False)
    sock = server.nextPendingConnection()
    _round_trip(client, sock, b"adopted\n")
    server.close()
    assert not server.isListening()
    assert server.socketDescriptor() == -1


def test_listen_descriptor_abstract(tmpdir_env: str) -> None:
    """listen(fd) on an abstract socket: names read back, AbstractNamespaceOption switched on."""
    name = _abstract_name(tmpdir_env, "adopt")
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.bind(b"\0" + name.encode())
    raw.listen(5)
    server = LocalServer()
    assert server.listen(raw.detach())
    assert server.isListening()
    assert server.serverName() == name
    assert server.fullServerName() == name
    assert server.socketOptions() & ABSTRACT
    client = _connect(name, abstract=True)
    assert client.state() == QLocalSocket.ConnectedState
    assert server.waitForNewConnection(5000) == (True, False)
    _round_trip(server.nextPendingConnection(), client, b"abstract adopted\n")
    server.close()


def test_listen_descriptor_autobind() -> None:
    """listen(fd) on an autobound socket: listening, with the kernel-chosen name."""
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.bind("")
    raw.listen(5)
    address = raw.getsockname()
    assert isinstance(address, bytes)
    assert address[:1] == b"\0"
    name = address[1:].decode()
    server = QLocalServer()
    assert server.listen(raw.detach())
    assert server.isListening()
    assert server.socketDescriptor() >= 0
    assert server.serverName() == name
    assert server.fullServerName() == name
    assert server.socketOptions() & ABSTRACT
    client = _connect(name, abstract=True)
    assert client.state() == QLocalSocket.ConnectedState
    assert server.waitForNewConnection(5000) == (True, False)
    server.close()
    assert not server.isListening()


# -- the abstract namespace ---------------------------------------------------------------------


def test_abstract_namespace_connects(tmpdir_env: str) -> None:
    """Server and client both with AbstractNamespaceOption meet; no file is created."""
    name = _abstract_name(tmpdir_env, "meet")
    server = QLocalServer()
    server.setSocketOptions(ABSTRACT)
    assert server.listen(name), server.errorString()
    assert server.serverName() == name
    assert server.fullServerName() == name
    assert os.listdir(tmpdir_env) == []
    client = _connect(name, abstract=True)
    assert client.state() == QLocalSocket.ConnectedState
    assert server.waitForNewConnection(5000) == (True, False)
    sock = server.nextPendingConnection()
    assert sock.socketOptions() & QLocalSocket.AbstractNamespaceOption
    _round_trip(client, sock, b"abstract\n")
    server.close()
    assert os.listdir(tmpdir_env) == []


def test_abstract_name_starting_with_slash_is_not_a_path(tmpdir_env: str) -> None:
    """An abstract name that looks like a path stays a name; no file appears there."""
    name = tmpdir_env + "/looks-like-a-path"
    server = QLocalServer()
    server.setSocketOptions(ABSTRACT)
    assert server.listen(name), server.errorString()
    assert server.fullServerName() == name
    assert not os.path.exists(name)
    client = _connect(name, abstract=True)
    assert client.state() == QLocalSocket.ConnectedState
    # A path client dialling the same string does not meet the abstract server.
    path_client = _connect(name)
    assert path_client.state() == QLocalSocket.UnconnectedState
    assert path_client.error() == QLocalSocket.ServerNotFoundError
    server.close()


def test_abstract_client_never_meets_path_server(tmpdir_env: str) -> None:
    """An abstract client dialling a path server's name fails to connect."""
    server = LocalServer()
    assert server.listen("pathonly")
    for name in ("pathonly", server.fullServerName()):
        client = _connect(name, abstract=True)
        assert client.state() == QLocalSocket.UnconnectedState
        assert client.error() == QLocalSocket.ConnectionRefusedError
    assert not qtry(lambda: len(server.hits) > 0, 100)
    server.close()


def test_path_client_never_meets_abstract_server(tmpdir_env: str) -> None:
    """A path client dialling an abstract server's name fails to connect."""
    name = _abstract_name(tmpdir_env, "mix")
    server = LocalServer()
    server.setSocketOptions(ABSTRACT)
    assert server.listen(name)
    client = _connect(name)
    assert client.state() == QLocalSocket.UnconnectedState
    assert client.error() == QLocalSocket.ServerNotFoundError
    assert not qtry(lambda: len(server.hits) > 0, 100)
    server.close()


def test_trailing_nul_is_part_of_abstract_name(tmpdir_env: str) -> None:
    """"x\\0" and "x" are different abstract servers."""
    base = _abstract_name(tmpdir_env, "nul")
    with_nul = LocalServer()
    with_nul.setSocketOptions(ABSTRACT)
    assert with_nul.listen(base + "\0"), with_nul.errorString()
    assert with_nul.serverName() == base + "\0"
    assert with_nul.fullServerName() == base + "\0"
    plain_client = _connect(base, abstract=True)
    assert plain_client.state() == QLocalSocket.UnconnectedState
    assert plain_client.error() == QLocalSocket.ConnectionRefusedError
    plain = LocalServer()
    plain.setSocketOptions(ABSTRACT)
    assert plain.listen(base), plain.errorString()
    nul_client = _connect(base + "\0", abstract=True)
    assert nul_client.state() == QLocalSocket.ConnectedState
    assert qtry(lambda: len(with_nul.hits) == 1)
    other = _connect(base, abstract=True)
    assert other.state() == QLocalSocket.ConnectedState
    assert qtry(lambda: len(plain.hits) == 1)
    assert len(with_nul.hits) == 1
    with_nul.close()
    plain.close()
