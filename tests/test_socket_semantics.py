"""QLocalSocket's behaviour: state machine, signal order, errors and the waitFor* rules.

Each test follows docs/qt-local-socket-semantics.md (section 4.x for QLocalSocket,
section 5 for QIODevice) or one of qlsock's documented differences from Qt.
"""

from __future__ import annotations

import array
import fcntl
import os
import socket
import termios
import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest

from qlsock import ConcurrentWaitError, QIODevice, QLocalSocket

from . import support
from .support import SOCKET_SIGNALS, EventLog, LocalServer, LocalSocket, Spy, feed, qtry, send_now

U = QLocalSocket.UnconnectedState
CONNECTING = QLocalSocket.ConnectingState
CONNECTED = QLocalSocket.ConnectedState
CLOSING = QLocalSocket.ClosingState

PEER_CLOSED = QLocalSocket.PeerClosedError
TIMEOUT = QLocalSocket.SocketTimeoutError

#: The final three events of every transition out of Connected/Closing.
FINISHED = [("stateChanged", U), ("readChannelFinished",), ("disconnected",)]


# -- helpers -------------------------------------------------------------------------------


def assert_text(actual: str, expected: str) -> None:
    """Qt's exact text, optionally followed by " (<detail>)" (deliberate difference 2)."""
    assert actual == expected or (
        actual.startswith(expected + " (") and actual.endswith(")")
    ), f"{actual!r} is not Qt's {expected!r}"


def kernel_queued(sock: QLocalSocket) -> int:
    """How many bytes the kernel holds for *sock* to read (FIONREAD)."""
    buf = array.array("i", [0])
    fcntl.ioctl(sock.socketDescriptor(), termios.FIONREAD, buf, True)
    return buf[0]


def stage_events(events: list[tuple[Any, ...]], head: list[tuple[Any, ...]]) -> int:
    """Check *events* = *head*, some bytesWritten(n), then FINISHED; return the sum of n."""
    assert events[: len(head)] == head
    assert events[-3:] == FINISHED
    middle = events[len(head):-3]
    assert middle, "no bytesWritten before the disconnect"
    assert all(e[0] == "bytesWritten" for e in middle), events
    return sum(e[1] for e in middle)


class Net(support.Harness):
    """Creates servers and sockets for a test and tears all of them down afterwards."""

    def pair(self, name: str = "srv", mode: Any = QIODevice.ReadWrite
             ) -> tuple[LocalServer, LocalSocket, QLocalSocket]:
        """A listening server, a connected client and the server side of the connection."""
        return self.connection(name, mode)


@pytest.fixture
def net() -> Iterator[Net]:
    """Servers and sockets that are closed after the test; LocalSocket invariants checked."""
    yield from support.torn_down(Net())


# -- signal order (section 4.2) -------------------------------------------------------------


def test_fresh_socket_abort_close_disconnect_emit_nothing() -> None:
    """abort(), close() and disconnectFromServer() on a fresh socket emit nothing."""
    sock = LocalSocket()
    log = EventLog(sock, *SOCKET_SIGNALS)
    sock.abort()
    sock.close()
    sock.disconnectFromServer()
    assert log.events == []
    assert sock.state() == U
    assert sock.error() == QLocalSocket.UnknownSocketError
    assert sock.errorString() == "Unknown error"
    assert (sock.isOpen(), sock.isValid(), sock.socketDescriptor()) == (False, False, -1)
    assert (sock.bytesAvailable(), sock.bytesToWrite(), sock.canReadLine()) == (0, 0, False)
    assert sock.flush() is False
    assert sock.failures == []


def test_successful_connect_signal_order(net: Net) -> None:
    """Connecting, Connected, connected() all before return; opened between the last two."""
    net.server("srv")
    client = net.client()
    log = EventLog(client, *SOCKET_SIGNALS)
    seen: list[tuple[str, bool, int]] = []

    def on_state(state: Any) -> None:
        if state == CONNECTED:
            seen.append(("stateChanged", client.isOpen(), client.write(b"x")))

    client.stateChanged.connect(on_state)
    client.connected.connect(lambda: seen.append(("connected", client.isOpen(), 0)))
    client.connectToServer("srv")
    assert log.events == [
        ("stateChanged", CONNECTING),
        ("stateChanged", CONNECTED),
        ("connected",),
    ]
    assert seen == [("stateChanged", False, -1), ("connected", True, 0)]
    assert client.isOpen()
    assert client.isValid()
    assert client.socketDescriptor() >= 0
    assert client.openMode() == QIODevice.ReadWrite
    assert client.errorString() == "Unknown error"
    assert client.bytesToWrite() == 0


def test_failed_connect_signal_order() -> None:
    """Connecting, errorOccurred (still Connecting inside), Unconnected; nothing else."""
    client = LocalSocket()
    log = EventLog(client, *SOCKET_SIGNALS)
    inside: list[Any] = []
    client.errorOccurred.connect(lambda e: inside.append((client.state(), client.error())))
    client.connectToServer("nobody-listens")
    assert log.events == [
        ("stateChanged", CONNECTING),
        ("errorOccurred", QLocalSocket.ServerNotFoundError),
        ("stateChanged", U),
    ]
    assert inside == [(CONNECTING, QLocalSocket.ServerNotFoundError)]
    assert client.state() == U
    assert (client.isOpen(), client.isValid()) == (False, False)
    assert (client.serverName(), client.fullServerName()) == ("", "")
    assert client.failures == []


def test_disconnect_from_server_without_pending_writes(net: Net) -> None:
    """disconnectFromServer(): Closing, Unconnected, readChannelFinished, disconnected at once."""
    _, client, peer = net.pair()
    log = EventLog(client, *SOCKET_SIGNALS)
    states: list[Any] = []
    client.readChannelFinished.connect(lambda: states.append(client.state()))
    client.disconnected.connect(lambda: states.append(client.state()))
    client.disconnectFromServer()
    assert log.events == [("stateChanged", CLOSING), *FINISHED]
    assert states == [U, U]
    assert client.isOpen()
    assert client.state() == U
    peer_gone = Spy(peer.disconnected)
    assert peer_gone.wait()


def test_disconnect_from_server_with_pending_writes(net: Net) -> None:
    """With pending writes: Closing now; bytesWritten..., then the end, after the drain."""
    _, client, peer = net.pair()
    payload = bytes(range(256)) * 800
    log = EventLog(client, *SOCKET_SIGNALS)
    assert client.write(payload) == len(payload)
    client.disconnectFromServer()
    assert log.events == [("stateChanged", CLOSING)]
    assert client.state() == CLOSING
    assert client.bytesToWrite() == len(payload)
    assert Spy(client.disconnected).wait()
    assert stage_events(log.events, [("stateChanged", CLOSING)]) == len(payload)
    assert client.isOpen()
    assert client.bytesToWrite() == 0
    assert qtry(lambda: peer.state() == U)
    assert peer.readAll() == payload


def test_close_while_connected_without_pending_writes(net: Net) -> None:
    """close(): aboutToClose first (device still open inside), then the disconnect sequence."""
    _, client, peer = net.pair()
    feed(client, peer, b"unread")
    log = EventLog(client, *SOCKET_SIGNALS)
    inside: list[Any] = []
    client.aboutToClose.connect(
        lambda: inside.append((client.isOpen(), client.bytesAvailable(), client.state()))
    )
    client.close()
    assert log.events == [("aboutToClose",), ("stateChanged", CLOSING), *FINISHED]
    assert inside == [(True, 6, CONNECTED)]
    assert (client.isOpen(), client.isValid(), client.bytesAvailable()) == (False, False, 0)
    assert (client.serverName(), client.fullServerName()) == ("", "")


def test_close_while_connected_with_pending_writes(net: Net) -> None:
    """close() with pending writes: aboutToClose, Closing now; the data still drains."""
    _, client, peer = net.pair()
    payload = os.urandom(200_000)
    log = EventLog(client, *SOCKET_SIGNALS)
    client.write(payload)
    client.close()
    assert log.events == [("aboutToClose",), ("stateChanged", CLOSING)]
    assert client.isOpen() is False
    assert client.state() == CLOSING
    assert client.bytesToWrite() == len(payload)
    assert Spy(client.disconnected).wait()
    head = [("aboutToClose",), ("stateChanged", CLOSING)]
    assert stage_events(log.events, head) == len(payload)
    assert qtry(lambda: peer.state() == U)
    assert peer.readAll() == payload


def test_close_with_pending_writes_clears_names_at_once(net: Net) -> None:
    """close() clears serverName()/fullServerName() at once, even while still Closing."""
    _, client, _ = net.pair()
    client.write(b"pending")
    client.close()
    assert client.state() == CLOSING
    assert (client.serverName(), client.fullServerName()) == ("", "")


def test_abort_signal_order(net: Net) -> None:
    """abort(): writes dropped; Unconnected, finished, disconnected, then aboutToClose last."""
    _, client, peer = net.pair()
    client.write(b"never sent")
    log = EventLog(client, *SOCKET_SIGNALS)
    client.abort()
    assert log.events == [*FINISHED, ("aboutToClose",)]
    assert client.bytesToWrite() == 0
    assert (client.isOpen(), client.isValid(), client.state()) == (False, False, U)
    assert (client.serverName(), client.fullServerName()) == ("", "")
    assert Spy(peer.disconnected).wait()
    assert peer.bytesAvailable() == 0


def test_peer_close_with_unread_data(net: Net) -> None:
    """Peer close: readyRead, PeerClosedError, Closing, Unconnected, finished, disconnected."""
    _, client, peer = net.pair()
    log = EventLog(client, *SOCKET_SIGNALS)
    send_now(peer, b"bye")
    peer.close()
    assert Spy(client.disconnected).wait()
    assert log.events == [
        ("readyRead",),
        ("errorOccurred", PEER_CLOSED),
        ("stateChanged", CLOSING),
        *FINISHED,
    ]
    assert client.error() == PEER_CLOSED
    assert_text(client.errorString(), "QLocalSocket: Remote closed")
    assert client.state() == U
    assert client.isOpen()
    assert client.isValid()
    assert client.bytesAvailable() == 3
    assert client.readAll() == b"bye"
    assert client.isValid()
    client.close()
    assert client.isValid() is False
    assert client.isOpen() is False


def test_write_failure_after_peer_abort(net: Net) -> None:
    """EPIPE while flushing: PeerClosedError, Closing, Unconnected (as Qt); buffered
    input stays readable."""
    _, client, peer = net.pair()
    feed(client, peer, b"hello")
    peer.abort()
    log = EventLog(client, *SOCKET_SIGNALS)
    assert client.write(b"x") == 1
    assert client.flush() is False
    assert log.events == [("errorOccurred", PEER_CLOSED), ("stateChanged", CLOSING),
                          *FINISHED]
    assert client.error() == PEER_CLOSED
    assert_text(client.errorString(), "QLocalSocket: Remote closed")
    assert client.bytesToWrite() == 0
    assert (client.serverName(), client.fullServerName()) == ("", "")
    assert client.isOpen()
    assert client.readAll() == b"hello"


def test_wait_timeout_emits_only_timeout_error(net: Net) -> None:
    """A waitFor* timeout emits only errorOccurred(SocketTimeoutError); state unchanged."""
    _, client, _ = net.pair()
    log = EventLog(client, *SOCKET_SIGNALS)
    assert client.waitForReadyRead(10) is False
    assert log.events == [("errorOccurred", TIMEOUT)]
    assert client.error() == TIMEOUT
    assert_text(client.errorString(), "QLocalSocket: Socket operation timed out")
    assert client.state() == CONNECTED
    assert client.isOpen()


# -- connectToServer: misuse, errors, names (sections 4.3, 4.4) ------------------------------


def test_connect_while_connected_is_operation_error(net: Net, qt_warnings: Any) -> None:
    """connectToServer() while Connected: errorOccurred(OperationError) only; error() kept."""
    _, client, _ = net.pair()
    log = EventLog(client, *SOCKET_SIGNALS)
    client.connectToServer()
    assert log.events == [("errorOccurred", QLocalSocket.OperationError)]
    assert client.errorString() == ("QLocalSocket::connectToserver: Operation not permitted "
                                    "when socket is in this state")
    assert client.error() == QLocalSocket.UnknownSocketError
    assert client.state() == CONNECTED
    assert client.serverName() == "srv"
    log.clear()
    client.connectToServer("elsewhere")
    assert log.events == [("errorOccurred", QLocalSocket.OperationError)]
    assert qt_warnings.texts == [
        "QLocalSocket::setServerName() called while not in unconnected state"
    ]
    assert client.serverName() == "srv"
    assert client.state() == CONNECTED


def test_connect_to_missing_file_is_server_not_found(tmpdir_env: str) -> None:
    """No file at the path: ServerNotFoundError, "QLocalSocket::connectToServer: Invalid name",
    and the detail says the name is fine but nothing is there (differences.md 38)."""
    client = LocalSocket()
    client.connectToServer(os.path.join(tmpdir_env, "missing"))
    assert client.error() == QLocalSocket.ServerNotFoundError
    assert client.errorString() == (
        f"QLocalSocket::connectToServer: Invalid name (no server is listening at "
        f"{tmpdir_env}/missing: the socket file does not exist)")
    assert client.state() == U
    assert client.failures == []


def test_connect_to_bound_but_not_listening_socket_is_refused(tmpdir_env: str) -> None:
    """A socket file that is bound but never listened on: ConnectionRefusedError."""
    path = os.path.join(tmpdir_env, "bound")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.bind(path)
        client = LocalSocket()
        spy = Spy(client.errorOccurred)
        client.connectToServer(path)
    assert spy.calls == [(QLocalSocket.ConnectionRefusedError,)]
    assert client.errorString() == (
        f"QLocalSocket::connectToServer: Connection refused (a socket file exists at {path} "
        "but no server is listening on it: a stale file left by a server that exited "
        "without closing, or one that has not started listening yet)")
    assert client.state() == U
    assert client.failures == []


def test_connect_to_closed_servers_leftover_is_refused(tmpdir_env: str) -> None:
    """The socket file a closed (crashed) server left behind: ConnectionRefusedError."""
    path = os.path.join(tmpdir_env, "stale")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.bind(path)
        raw.listen(5)
    assert os.path.exists(path)
    client = LocalSocket()
    client.connectToServer("stale")
    assert client.error() == QLocalSocket.ConnectionRefusedError
    assert client.errorString() == (
        f"QLocalSocket::connectToServer: Connection refused (a socket file exists at {path} "
        "but no server is listening on it: a stale file left by a server that exited "
        "without closing, or one that has not started listening yet)")
    assert client.failures == []


def test_connect_to_a_free_abstract_name_says_abstract_name(tmpdir_env: str) -> None:
    """An abstract name nobody listens on: ConnectionRefusedError, and the detail calls it
    an abstract name rather than a path (there is no file)."""
    name = f"qlsock-test-{os.getpid()}-{os.path.basename(tmpdir_env)}-free"
    client = LocalSocket()
    client.setSocketOptions(QLocalSocket.AbstractNamespaceOption)
    client.connectToServer(name)
    assert client.error() == QLocalSocket.ConnectionRefusedError
    assert client.errorString() == ("QLocalSocket::connectToServer: Connection refused "
                                    f"(no server is listening on the abstract name {name!r})")
    assert client.failures == []


def test_connect_to_regular_file_is_refused(tmpdir_env: str) -> None:
    """A regular file at the path: ConnectionRefusedError."""
    with open(os.path.join(tmpdir_env, "plain"), "wb") as f:
        f.write(b"not a socket")
    client = LocalSocket()
    client.connectToServer("plain")
    assert client.error() == QLocalSocket.ConnectionRefusedError
    assert client.errorString() == (
        f"QLocalSocket::connectToServer: Connection refused ({tmpdir_env}/plain exists and "
        "is a regular file, not a socket)")
    assert client.failures == []


def test_connect_through_regular_file_is_unknown_error(tmpdir_env: str) -> None:
    """A path through a regular file (ENOTDIR): UnknownSocketError "Unknown error 20 (...)"."""
    with open(os.path.join(tmpdir_env, "file"), "wb"):
        pass
    client = LocalSocket()
    spy = Spy(client.errorOccurred)
    client.connectToServer("file/sock")
    assert spy.calls == [(QLocalSocket.UnknownSocketError,)]
    assert client.error() == QLocalSocket.UnknownSocketError
    assert client.errorString() == (
        "QLocalSocket::connectToServer: Unknown error 20 (Not a directory) (a component "
        f"of {tmpdir_env}/file/sock is not a directory)")
    assert client.state() == U
    assert client.failures == []


def test_invalid_names_are_server_not_found(tmpdir_env: str) -> None:
    """Empty, over-long and NUL-containing names: ServerNotFoundError with an explanation."""
    client = LocalSocket()
    client.connectToServer("")
    assert client.error() == QLocalSocket.ServerNotFoundError
    assert client.errorString() == ("QLocalSocket::connectToServer: Invalid name "
                                    "(the name is empty)")
    for bad in ("/" + "x" * 106, "nul\0name"):
        client.connectToServer(bad)
        assert client.error() == QLocalSocket.ServerNotFoundError
        text = client.errorString()
        assert text.startswith("QLocalSocket::connectToServer: Invalid name (")
        assert text.endswith(")")
        assert client.state() == U
    assert client.failures == []


def test_error_signal_alias_and_getter() -> None:
    """sock.error() is the getter and sock.error a signal sharing errorOccurred's slots."""
    client = QLocalSocket()
    via_alias = Spy(client.error)
    via_signal = Spy(client.errorOccurred)
    client.connectToServer("missing")
    assert via_alias.calls == via_signal.calls == [(QLocalSocket.ServerNotFoundError,)]
    assert client.error() == QLocalSocket.ServerNotFoundError


def test_names_kept_while_connected_and_cleared_on_disconnect(net: Net,
                                                              tmpdir_env: str) -> None:
    """serverName() kept, fullServerName() resolved; both cleared when Unconnected."""
    _, client, _ = net.pair("names")
    assert client.serverName() == "names"
    assert client.fullServerName() == os.path.join(tmpdir_env, "names")
    client.disconnectFromServer()
    assert (client.serverName(), client.fullServerName()) == ("", "")
    spy = Spy(client.errorOccurred)
    client.connectToServer()
    assert spy.calls == [(QLocalSocket.ServerNotFoundError,)]
    assert client.errorString() == ("QLocalSocket::connectToServer: Invalid name "
                                    "(the name is empty)")


def test_names_cleared_after_peer_close(net: Net) -> None:
    """A peer close (a forwarded transition to Unconnected) clears both names."""
    _, client, peer = net.pair("names2")
    peer.close()
    assert Spy(client.disconnected).wait()
    assert (client.serverName(), client.fullServerName()) == ("", "")
    client.connectToServer()
    assert client.error() == QLocalSocket.ServerNotFoundError


def test_set_server_name_while_connected_is_ignored(net: Net, qt_warnings: Any) -> None:
    """setServerName() outside Unconnected is ignored with Qt's warning."""
    _, client, _ = net.pair()
    client.setServerName("other")
    assert client.serverName() == "srv"
    assert qt_warnings.texts == [
        "QLocalSocket::setServerName() called while not in unconnected state"
    ]


def test_connect_with_mode_only_and_open(net: Net) -> None:
    """connectToServer(mode) uses setServerName(); open(mode) returns isOpen()."""
    server = net.server("mode")
    client = net.client()
    client.setServerName("mode")
    client.connectToServer(QIODevice.ReadOnly)
    assert client.state() == CONNECTED
    assert client.openMode() == QIODevice.ReadOnly
    client.abort()
    other = net.client()
    other.setServerName("mode")
    assert other.open(QIODevice.ReadWrite) is True
    assert other.openMode() == QIODevice.ReadWrite
    assert other.open(QIODevice.ReadWrite) is True
    assert other.state() == CONNECTED
    missing = net.client()
    missing.setServerName("absent")
    assert missing.open(QIODevice.ReadWrite) is False
    assert missing.state() == U
    server.close()


def test_reuse_after_abort_still_goes_through_closing(net: Net) -> None:
    """A socket reconnected after abort() still enters Closing with pending data."""
    net.server("again")
    client = net.client()
    client.connectToServer("again")
    client.abort()
    client.connectToServer("again")
    assert client.state() == CONNECTED
    client.write(b"data")
    client.disconnectFromServer()
    assert client.state() == CLOSING
    assert client.waitForDisconnected(5000)
    assert client.state() == U


# -- writing (section 4.5) ----------------------------------------------------------------------


def test_write_only_buffers_and_hub_sends_later(net: Net) -> None:
    """write() buffers; the hub sends later, emitting bytesWritten from another greenlet."""
    _, client, peer = net.pair()
    me = gevent.getcurrent()
    where: list[tuple[Any, int]] = []
    client.bytesWritten.connect(lambda n: where.append((gevent.getcurrent(), n)))
    assert client.write(b"hello") == 5
    assert client.bytesToWrite() == 5
    assert where == []
    assert kernel_queued(peer) == 0
    assert qtry(lambda: where)
    greenlet, count = where[0]
    assert count == 5
    assert greenlet is not me
    assert greenlet is not gevent.get_hub()
    assert client.bytesToWrite() == 0
    assert qtry(lambda: peer.bytesAvailable() == 5)
    assert peer.readAll() == b"hello"


def test_flush_sends_once(net: Net) -> None:
    """flush() sends what is buffered and returns True once, then False."""
    _, client, peer = net.pair()
    spy = Spy(client.bytesWritten)
    client.write(b"abc")
    assert client.flush() is True
    assert spy.calls == [(3,)]
    assert client.bytesToWrite() == 0
    assert kernel_queued(peer) == 3
    assert client.flush() is False
    assert spy.calls == [(3,)]


def test_wait_for_bytes_written_sends(net: Net) -> None:
    """waitForBytesWritten() sends buffered bytes; with nothing buffered it is False at once."""
    _, client, peer = net.pair()
    errors = Spy(client.errorOccurred)
    client.write(b"abcdef")
    assert client.waitForBytesWritten(5000) is True
    assert client.bytesToWrite() == 0
    assert kernel_queued(peer) == 6
    started = time.monotonic()
    assert client.waitForBytesWritten(5000) is False
    assert time.monotonic() - started < 1
    assert len(errors) == 0


def test_write_when_not_open_warns(qt_warnings: Any) -> None:
    """write() on a device that is not open: -1 and Qt's warning."""
    client = QLocalSocket()
    assert client.write(b"x") == -1
    assert qt_warnings.texts == ["QIODevice::write (QLocalSocket): device not open"]
    assert client.putChar(b"x") is False


def test_write_after_peer_close_fails_silently(net: Net) -> None:
    """Writing to an open, unconnected socket: -1, error() becomes Unknown, no signal."""
    _, client, peer = net.pair()
    peer.close()
    assert Spy(client.disconnected).wait()
    errors = Spy(client.errorOccurred)
    assert client.write(b"x") == -1
    assert client.putChar(b"x") is False
    assert client.error() == QLocalSocket.UnknownSocketError
    assert len(errors) == 0


def test_read_only_and_write_only_modes(net: Net, qt_warnings: Any) -> None:
    """ReadOnly refuses writes and WriteOnly refuses reads, with Qt's warnings."""
    server = net.server("modes")
    reader = net.client()
    reader.connectToServer("modes", QIODevice.ReadOnly)
    writer = net.client()
    writer.connectToServer("modes", QIODevice.WriteOnly)
    assert reader.write(b"x") == -1
    assert writer.read(10) == b""
    assert qt_warnings.texts == [
        "QIODevice::write (QLocalSocket): ReadOnly device",
        "QIODevice::read (QLocalSocket): WriteOnly device",
    ]
    # A WriteOnly socket reads and discards incoming bytes without readyRead, and
    # still notices the peer closing.
    net.accept(server)
    to_writer = net.accept(server)
    ready = Spy(writer.readyRead)
    send_now(to_writer, b"ignored")
    to_writer.close()
    assert Spy(writer.disconnected).wait()
    assert len(ready) == 0
    assert writer.bytesAvailable() == 0


def test_argument_type_errors(net: Net) -> None:
    """write(str) and wrong argument types raise TypeError; a negative buffer size ValueError."""
    _, client, _ = net.pair()
    with pytest.raises(TypeError):
        client.write("text")
    with pytest.raises(TypeError):
        client.write(12)
    with pytest.raises(TypeError):
        client.read("10")
    with pytest.raises(TypeError):
        client.waitForReadyRead("10")
    with pytest.raises(ValueError):
        client.setReadBufferSize(-1)
    with pytest.raises(TypeError):
        client.ungetChar("a")
    with pytest.raises(ValueError):
        client.putChar(256)
    assert client.bytesToWrite() == 0


def test_connect_mode_that_opens_nothing_is_refused(net: Net) -> None:
    """connectToServer with NotOpen (or Append alone) raises ValueError before any signal."""
    server = net.server("srv")
    sock = net.client()
    log = EventLog(sock, *SOCKET_SIGNALS)
    for mode in (QIODevice.NotOpen, QIODevice.Append):
        with pytest.raises(ValueError, match="ReadOnly"):
            sock.connectToServer("srv", mode)
        with pytest.raises(ValueError, match="ReadOnly"):
            sock.open(mode)
    assert log.events == []
    assert sock.state() == QLocalSocket.UnconnectedState
    assert not server.hasPendingConnections()


# -- reading (section 4.6) and QIODevice (section 5) ---------------------------------------


def test_read_buffer_size_limits_and_resumes(net: Net) -> None:
    """With setReadBufferSize(N), never more than N buffered; all 10*N bytes arrive in order."""
    limit = 1000
    _, client, peer = net.pair()
    client.setReadBufferSize(limit)
    assert client.readBufferSize() == limit
    most: list[int] = [0]
    client.readyRead.connect(lambda: most.__setitem__(0, max(most[0], client.bytesAvailable())))
    payload = bytes(i % 251 for i in range(10 * limit))
    send_now(peer, payload)
    assert qtry(lambda: client.bytesAvailable() == limit)
    assert kernel_queued(client) == 9 * limit
    received = bytearray()
    while len(received) < len(payload):
        assert qtry(lambda: client.bytesAvailable() > 0)
        assert client.bytesAvailable() <= limit
        received += client.read(limit // 3)
    assert bytes(received) == payload
    assert most[0] <= limit


def test_read_line_rules(net: Net, qt_warnings: Any) -> None:
    """readLine(maxlen) returns at most maxlen-1 bytes; maxlen 1 warns; partial lines."""
    _, client, peer = net.pair()
    feed(client, peer, b"hello\nworld\npartial")
    assert client.canReadLine()
    assert client.readLine(4) == b"hel"
    assert client.readLine() == b"lo\n"
    assert client.readLine(1) == b""
    assert qt_warnings.texts == ["QIODevice::readLineInto (QLocalSocket): Called with maxSize < 2"]
    assert client.readLine(100) == b"world\n"
    assert client.canReadLine() is False
    assert client.readLine() == b"partial"
    assert client.readLine() == b""


def test_peek_getchar_ungetchar_putchar(net: Net) -> None:
    """peek() leaves data; getChar/ungetChar round-trip; putChar takes bytes or an int."""
    _, client, peer = net.pair()
    feed(client, peer, b"abc")
    assert client.peek(2) == b"ab"
    assert client.bytesAvailable() == 3
    assert client.getChar() == (True, b"a")
    client.ungetChar(b"a")
    assert client.bytesAvailable() == 3
    client.ungetChar(ord("z"))
    assert client.getChar() == (True, b"z")
    assert client.readAll() == b"abc"
    assert client.getChar() == (False, b"")
    assert client.putChar(b"q") is True
    assert client.putChar(0x41) is True
    assert client.bytesToWrite() == 2
    assert client.waitForBytesWritten(5000)
    assert qtry(lambda: peer.bytesAvailable() == 2)
    assert peer.readAll() == b"qA"


def test_skip_counts(net: Net) -> None:
    """skip(): the count skipped; 0 when connected and empty; -1 when ended and empty."""
    _, client, peer = net.pair()
    feed(client, peer, b"s" * 20000)
    assert client.read(1) == b"s"
    assert client.skip(20000) == 19999
    assert client.skip(10) == 0
    peer.close()
    assert Spy(client.disconnected).wait()
    assert client.skip(10) == -1


def test_at_end_and_can_read_line(net: Net) -> None:
    """atEnd() is true whenever nothing is buffered, even while connected; canReadLine."""
    _, client, peer = net.pair()
    assert client.atEnd() is True
    assert client.canReadLine() is False
    feed(client, peer, b"no newline")
    assert client.atEnd() is False
    assert client.canReadLine() is False
    feed(client, peer, b" yet\n")
    assert client.canReadLine() is True
    assert client.readAll() == b"no newline yet\n"
    assert client.atEnd() is True
    assert client.state() == CONNECTED


def test_text_mode(net: Net) -> None:
    """Text mode: read() drops every \\r; readLine() turns only a trailing \\r\\n into \\n."""
    _, client, peer = net.pair(mode=QIODevice.ReadWrite | QIODevice.Text)
    assert client.isTextModeEnabled()
    feed(client, peer, b"a\rb\r\n" + b"p\rq\r\nr")
    assert client.readLine() == b"a\rb\n"
    assert client.read(100) == b"pq\nr"


def test_reads_after_close_warn(net: Net, qt_warnings: Any) -> None:
    """After close() buffers are gone; read() returns b"" with "device not open"."""
    _, client, peer = net.pair()
    feed(client, peer, b"discarded")
    client.close()
    assert client.bytesAvailable() == 0
    assert client.read(10) == b""
    assert qt_warnings.texts == ["QIODevice::read (QLocalSocket): device not open"]
    assert client.atEnd() is True


# -- waiting functions (section 4.7) -------------------------------------------------------------


def test_waits_in_unconnected_state(qt_warnings: Any) -> None:
    """Unconnected: waitForConnected/ReadyRead False silently; the other two warn."""
    client = QLocalSocket()
    log = EventLog(client, *SOCKET_SIGNALS)
    assert client.waitForConnected(1000) is False
    assert client.waitForReadyRead(1000) is False
    assert qt_warnings.texts == []
    assert client.waitForBytesWritten(1000) is False
    assert client.waitForDisconnected(1000) is False
    assert qt_warnings.texts == [
        "QAbstractSocket::waitForBytesWritten() is not allowed in UnconnectedState",
        "QLocalSocket::waitForDisconnected() is not allowed in UnconnectedState",
    ]
    assert log.events == []


def test_waits_in_connected_and_closing_states(net: Net) -> None:
    """Connected: waitForConnected True; Closing: waitForConnected/waitForReadyRead False."""
    _, client, _ = net.pair()
    errors = Spy(client.errorOccurred)
    assert client.waitForConnected(0) is True
    client.write(b"z" * 1000)
    client.disconnectFromServer()
    assert client.state() == CLOSING
    assert client.waitForConnected(1000) is False
    started = time.monotonic()
    assert client.waitForReadyRead(5000) is False
    assert time.monotonic() - started < 1
    assert len(errors) == 0
    assert client.waitForDisconnected(5000) is True
    assert client.state() == U


def test_wait_for_ready_read_waits_for_new_data(net: Net) -> None:
    """waitForReadyRead() waits for new data even when some is buffered."""
    _, client, peer = net.pair()
    feed(client, peer, b"a")
    errors = Spy(client.errorOccurred)
    assert client.waitForReadyRead(20) is False
    assert errors.calls == [(TIMEOUT,)]
    assert client.bytesAvailable() == 1
    gevent.spawn(send_now, peer, b"b")
    assert client.waitForReadyRead(5000) is True
    assert client.readAll() == b"ab"
    assert client.state() == CONNECTED


def test_wait_for_ready_read_negative_means_forever(net: Net) -> None:
    """Any negative msecs waits without a deadline."""
    _, client, peer = net.pair()
    gevent.spawn(send_now, peer, b"late")
    assert client.waitForReadyRead(-5) is True
    assert client.readAll() == b"late"


def test_wait_for_ready_read_returns_on_peer_close(net: Net) -> None:
    """waitForReadyRead() returns False promptly when the peer closes; signals inside it."""
    _, client, peer = net.pair()
    gone = Spy(client.disconnected)
    gevent.spawn(peer.close)
    started = time.monotonic()
    assert client.waitForReadyRead(5000) is False
    assert time.monotonic() - started < 2
    assert len(gone) == 1
    assert client.state() == U


def test_wait_for_disconnected(net: Net) -> None:
    """waitForDisconnected: timeout leaves the socket connected; True after a peer close."""
    _, client, peer = net.pair()
    errors = Spy(client.errorOccurred)
    assert client.waitForDisconnected(20) is False
    assert errors.calls == [(TIMEOUT,)]
    assert client.state() == CONNECTED
    gevent.spawn(peer.close)
    assert client.waitForDisconnected(5000) is True
    assert client.state() == U
    assert client.error() == PEER_CLOSED


def test_wait_for_disconnected_after_close_with_pending_data(net: Net) -> None:
    """waitForDisconnected() drains a close()d socket in Closing and returns True."""
    _, client, peer = net.pair()
    payload = b"q" * 100_000
    client.write(payload)
    client.close()
    assert client.state() == CLOSING
    assert client.waitForDisconnected(5000) is True
    assert client.state() == U
    assert client.bytesToWrite() == 0
    assert qtry(lambda: peer.state() == U)
    assert peer.readAll() == payload


def test_wait_for_bytes_written_timeout_keeps_socket(net: Net) -> None:
    """waitForBytesWritten() times out when the kernel is full; the socket stays usable."""
    _, client, peer = net.pair()
    peer.setReadBufferSize(1)
    payload = b"w" * (4 << 20)
    client.write(payload)
    errors = Spy(client.errorOccurred)
    while client.waitForBytesWritten(50):
        assert len(errors) == 0
    assert errors.calls == [(TIMEOUT,)]
    assert client.state() == CONNECTED
    assert 0 < client.bytesToWrite() < len(payload)
    peer.setReadBufferSize(0)
    while client.bytesToWrite():
        assert client.waitForBytesWritten(5000)
    assert qtry(lambda: peer.bytesAvailable() == len(payload))
    assert client.state() == CONNECTED


def test_concurrent_wait_raises(net: Net) -> None:
    """Two greenlets waiting on one socket at once: ConcurrentWaitError for the second."""
    _, client, peer = net.pair()
    started: list[bool] = []

    def first() -> bool:
        started.append(True)
        return client.waitForReadyRead(5000)

    waiter = gevent.spawn(first)
    assert qtry(lambda: started)
    with pytest.raises(ConcurrentWaitError):
        client.waitForReadyRead(100)
    send_now(peer, b"x")
    assert waiter.get(timeout=5) is True
    assert client.readAll() == b"x"


# -- re-entrancy, greenlets, yielding ------------------------------------------------------


def test_ready_read_never_nested(net: Net) -> None:
    """A readyRead slot that calls waitForReadyRead gets no nested readyRead (but True)."""
    _, client, peer = net.pair()
    depth = [0, 0]
    inner: list[bool] = []

    def on_ready_read() -> None:
        depth[0] += 1
        depth[1] = max(depth)
        if not inner:
            gevent.spawn(send_now, peer, b"two")
            inner.append(client.waitForReadyRead(5000))
        depth[0] -= 1

    client.readyRead.connect(on_ready_read)
    spy = Spy(client.readyRead)
    send_now(peer, b"one")
    assert spy.wait()
    assert qtry(lambda: inner)
    assert inner == [True]
    assert depth == [0, 1]
    assert len(spy) == 1
    assert client.readAll() == b"onetwo"
    send_now(peer, b"three")
    assert spy.wait()
    assert len(spy) == 2


def test_bytes_written_never_nested(net: Net) -> None:
    """A bytesWritten slot that calls waitForBytesWritten gets no nested bytesWritten."""
    _, client, peer = net.pair()
    depth = [0, 0]
    inner: list[bool] = []

    def on_bytes_written() -> None:
        depth[0] += 1
        depth[1] = max(depth)
        if not inner:
            client.write(b"more")
            inner.append(client.waitForBytesWritten(5000))
        depth[0] -= 1

    client.bytesWritten.connect(on_bytes_written)
    spy = Spy(client.bytesWritten)
    client.write(b"first")
    assert client.flush() is True
    assert inner == [True]
    assert depth == [0, 1]
    assert spy.calls == [(5,)]
    assert client.bytesToWrite() == 0
    client.write(b"!")
    assert client.flush() is True
    assert spy.calls == [(5,), (1,)]
    assert qtry(lambda: peer.bytesAvailable() == 10)
    assert peer.readAll() == b"firstmore!"


def test_slots_run_in_greenlets_and_may_block(net: Net) -> None:
    """Slots of hub-delivered events run in greenlets, not the hub, and may block."""
    _, client, peer = net.pair()
    hub = gevent.get_hub()
    where: dict[str, Any] = {}
    blocked: list[bool] = []

    def on_ready_read() -> None:
        where.setdefault("readyRead", gevent.getcurrent())
        if not blocked:
            gevent.spawn(send_now, peer, b"+second")
            blocked.append(client.waitForReadyRead(5000))

    client.readyRead.connect(on_ready_read)
    client.bytesWritten.connect(lambda: where.setdefault("bytesWritten", gevent.getcurrent()))
    client.errorOccurred.connect(lambda: where.setdefault("errorOccurred", gevent.getcurrent()))
    client.disconnected.connect(lambda: where.setdefault("disconnected", gevent.getcurrent()))
    send_now(peer, b"first")
    client.write(b"ping")
    assert qtry(lambda: blocked and "bytesWritten" in where)
    assert blocked == [True]
    assert client.readAll() == b"first+second"
    peer.close()
    assert qtry(lambda: "disconnected" in where)
    assert set(where) == {"readyRead", "bytesWritten", "errorOccurred", "disconnected"}
    for name, greenlet in where.items():
        assert greenlet is not hub, f"{name} slot ran in the hub"


def test_calls_that_complete_at_once_do_not_yield(net: Net) -> None:
    """connectToServer, write, flush and waitForReadyRead with data in the kernel don't yield."""
    net.server("noyield")
    ran: list[str] = []
    client = net.client()
    greenlet = gevent.spawn(ran.append, "connect")
    client.connectToServer("noyield")
    assert client.state() == CONNECTED
    assert ran == []
    greenlet.join()
    assert ran == ["connect"]
    peer = net.accept(net.servers[-1])
    ran.clear()

    greenlet = gevent.spawn(ran.append, "write")
    assert client.write(b"x") == 1
    assert ran == []
    assert client.bytesToWrite() == 1
    greenlet = gevent.spawn(ran.append, "flush")
    assert client.flush() is True
    assert ran == []
    greenlet.join()
    assert ran == ["write", "flush"]
    ran.clear()

    send_now(peer, b"ready")
    gevent.spawn(ran.append, "waitForReadyRead")
    assert client.waitForReadyRead(5000) is True
    assert ran == []
    assert client.readAll() == b"ready"


# -- a full listen backlog (EAGAIN, deliberate difference 5) -------------------------------


def test_full_backlog_stays_connecting_until_accepted(net: Net) -> None:
    """With backlog 0 and no accepting, later clients stay Connecting; accepting connects them."""
    server = net.server("busy", backlog=0, max_pending=0)
    clients = [net.client() for _ in range(4)]
    logs = [EventLog(c, *SOCKET_SIGNALS) for c in clients]
    for client in clients:
        client.connectToServer("busy")
    assert clients[0].state() == CONNECTED
    assert clients[1].state() in (CONNECTED, CONNECTING)
    for client, log in zip(clients[2:], logs[2:], strict=True):
        assert client.state() == CONNECTING
        assert log.events == [("stateChanged", CONNECTING)]
        assert (client.serverName(), client.fullServerName()) == ("busy", "")
        assert client.isOpen() is False
    assert clients[3].waitForConnected(30) is False
    assert clients[3].state() == CONNECTING
    assert logs[3].events == [("stateChanged", CONNECTING)]

    accepted: list[QLocalSocket] = []

    def acceptor() -> None:
        while len(accepted) < len(clients):
            ok, _ = server.waitForNewConnection(5000)
            assert ok
            while server.hasPendingConnections():
                conn = server.nextPendingConnection()
                assert conn is not None
                accepted.append(conn)
                net.sockets.append(conn)

    worker = gevent.spawn(acceptor)
    for client in clients:
        assert client.waitForConnected(5000) is True
    worker.get(timeout=5)
    for client, log in zip(clients[2:], logs[2:], strict=True):
        assert log.events == [
            ("stateChanged", CONNECTING),
            ("stateChanged", CONNECTED),
            ("connected",),
        ]
        assert client.fullServerName() == server.fullServerName()
        assert client.isOpen()


def test_close_and_abort_while_connecting(net: Net) -> None:
    """close() and abort() during a backlog retry end in Unconnected; no later connect."""
    server = net.server("busy2", backlog=0, max_pending=0)
    first = net.client()
    first.connectToServer("busy2")
    assert first.state() == CONNECTED
    closing, aborting = net.client(), net.client()
    closing_log = EventLog(closing, *SOCKET_SIGNALS)
    aborting_log = EventLog(aborting, *SOCKET_SIGNALS)
    closing.connectToServer("busy2")
    aborting.connectToServer("busy2")
    assert closing.state() == aborting.state() == CONNECTING
    closing.close()
    assert closing.state() == U
    assert ("stateChanged", U) in closing_log.events
    assert {e[0] for e in closing_log.events} <= {"stateChanged", "readChannelFinished"}
    aborting.abort()
    assert aborting_log.events == [
        ("stateChanged", CONNECTING),
        ("stateChanged", U),
        ("readChannelFinished",),
    ]
    # The backlog frees up; neither abandoned socket may take the place.
    net.accept(server)
    late = net.client()
    late.connectToServer("busy2")
    assert late.state() == CONNECTED
    net.accept(server)
    assert server.waitForNewConnection(150) == (False, True)
    assert closing.state() == aborting.state() == U
    assert (closing.serverName(), aborting.serverName()) == ("", "")
