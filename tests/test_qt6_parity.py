"""Qt 6 parity: the QIODevice and QLocalSocket/QLocalServer features added or fixed in Qt 6.

* QIODevice transactions, ``readLineInto``, text mode and the channel signals
  (``qiodevice.cpp``; details checked live against PySide6 6.11).
* Server socket options: access modes applied atomically, the abstract namespace,
  the stale-file replacement of Qt's bind-and-rename, and ``close()`` removing only
  what was created (docs/differences.md 8).
* ``QLocalSocket.setSocketOptions``, ``listenBacklogSize``, the EAGAIN connect deadline
  (differences.md 10), ``setSocketDescriptor``, ``QLocalServer.listen(fd)``
  (differences.md 7) and ``addPendingConnection``.
"""

from __future__ import annotations

import os
import socket
import stat
import sys
import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest

import qlsock.localsocket
from qlsock import QAbstractSocket, QIODevice, QLocalServer, QLocalSocket

from . import support
from .support import SOCKET_SIGNALS, EventLog, LocalServer, LocalSocket, Spy, feed, qtry, send_now

LINUX = sys.platform.startswith("linux")
linux_only = pytest.mark.skipif(not LINUX, reason="the abstract namespace is Linux-only")

U = QLocalSocket.UnconnectedState
CONNECTING = QLocalSocket.ConnectingState
CONNECTED = QLocalSocket.ConnectedState
TIMEOUT = QLocalSocket.SocketTimeoutError

ABSTRACT = QLocalServer.AbstractNamespaceOption
USER = QLocalServer.UserAccessOption
GROUP = QLocalServer.GroupAccessOption
OTHER = QLocalServer.OtherAccessOption
WORLD = QLocalServer.WorldAccessOption
SOCK_ABSTRACT = QLocalSocket.AbstractNamespaceOption

NOT_UNCONNECTED = "QLocalSocket::setSocketOptions() called while not in unconnected state"


# -- helpers -------------------------------------------------------------------------------


def unique(tmpdir: str, tag: str) -> str:
    """An abstract name unique to this test (abstract names are machine-global)."""
    return f"qlsock-parity-{os.getpid()}-{os.path.basename(tmpdir)}-{tag}"


def receive(sock: QLocalSocket, size: int) -> bytes:
    """Read exactly *size* bytes from *sock*, waiting as needed."""
    data = sock.readAll()
    while len(data) < size:
        assert sock.waitForReadyRead(5000), sock.errorString()
        data += sock.readAll()
    assert len(data) == size
    return data


def raw_receive(raw: socket.socket, size: int) -> bytes:
    """Read exactly *size* bytes from a plain socket, yielding to the hub meanwhile."""
    raw.setblocking(False)
    data = b""

    def more() -> bool:
        nonlocal data
        try:
            data += raw.recv(size - len(data))
        except BlockingIOError:
            pass
        return len(data) >= size

    assert qtry(more)
    return data


def file_mode(path: str) -> int:
    """The permission bits of the socket file at *path* (asserted to be a socket)."""
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode), f"{path} is not a socket"
    return stat.S_IMODE(st.st_mode)


class StrictServer(LocalServer):
    """LocalServer's invariant checks, without CrashSafeLocalServer's removeServer()."""

    def listen(self, name: Any) -> bool:
        return QLocalServer.listen(self, name)


class Env(support.Harness):
    """Servers and sockets of one test, closed afterwards; LocalSocket invariants kept.

    Servers are StrictServers, and their invariant failures count too.
    """

    server_class = StrictServer
    check_servers = True

    def client(self, abstract: bool = False) -> LocalSocket:
        client = super().client()
        if abstract:
            client.setSocketOptions(SOCK_ABSTRACT)
        return client

    def pair(self, name: str = "pair", mode: Any = QIODevice.ReadWrite
             ) -> tuple[LocalSocket, QLocalSocket]:
        """A connected client (opened with *mode*) and the server side of it."""
        _server, client, peer = self.connection(name, mode)
        return client, peer


@pytest.fixture
def env() -> Iterator[Env]:
    """An Env torn down after the test; LocalSocket slot invariants asserted."""
    yield from support.torn_down(Env())


# -- 1. transactions -------------------------------------------------------------------------


def test_transaction_rollback_restores_bytes_in_order(env: Env) -> None:
    """read() inside a transaction, then rollback: every byte is back, in order."""
    client, peer = env.pair()
    feed(client, peer, b"abc")
    feed(client, peer, b"defg")
    assert not client.isTransactionStarted()
    client.startTransaction()
    assert client.isTransactionStarted()
    assert client.read(2) == b"ab"
    assert client.read(3) == b"cde"
    assert client.bytesAvailable() == 2
    client.rollbackTransaction()
    assert not client.isTransactionStarted()
    assert client.bytesAvailable() == 7
    assert client.peek(7) == b"abcdefg"
    # An empty transaction changes nothing.
    client.startTransaction()
    client.rollbackTransaction()
    assert client.readAll() == b"abcdefg"
    assert client.bytesAvailable() == 0


def test_transaction_commit_consumes(env: Env) -> None:
    """commitTransaction(): what was read inside the transaction is gone for good."""
    client, peer = env.pair()
    feed(client, peer, b"header:body")
    client.startTransaction()
    assert client.read(7) == b"header:"
    client.commitTransaction()
    assert not client.isTransactionStarted()
    assert client.bytesAvailable() == 4
    assert client.readAll() == b"body"


def test_transaction_rolls_back_skip_getchar_readline_readall(env: Env) -> None:
    """skip, getChar, readLine and readAll inside a transaction are all undone by rollback."""
    client, peer = env.pair()
    feed(client, peer, b"hello\nworld")
    assert client.canReadLine()
    client.startTransaction()
    assert client.skip(1) == 1
    assert client.getChar() == (True, b"e")
    assert client.readLine() == b"llo\n"
    assert not client.canReadLine()
    assert client.readAll() == b"world"
    assert client.bytesAvailable() == 0
    assert client.atEnd()
    assert client.skip(5) == 0
    client.rollbackTransaction()
    assert client.bytesAvailable() == 11
    assert client.canReadLine()
    assert client.readLine() == b"hello\n"
    assert client.readAll() == b"world"


def test_transaction_misuse_warnings(env: Env, qt_warnings: Any) -> None:
    """Nested start, and commit/rollback without a transaction, warn with Qt's texts."""
    client, peer = env.pair()
    feed(client, peer, b"xyz")
    client.commitTransaction()
    client.rollbackTransaction()
    assert qt_warnings.texts == [
        "QIODevice::commitTransaction (QLocalSocket): Called while no transaction in progress",
        "QIODevice::rollbackTransaction (QLocalSocket): Called while no transaction in progress",
    ]
    assert client.bytesAvailable() == 3
    qt_warnings.clear()
    client.startTransaction()
    assert client.read(1) == b"x"
    client.startTransaction()
    assert qt_warnings.texts == [
        "QIODevice::startTransaction (QLocalSocket): Called while transaction already in "
        "progress",
    ]
    assert client.isTransactionStarted()
    assert client.read(1) == b"y"
    client.rollbackTransaction()
    # The nested call did not restart the transaction: both bytes come back.
    assert client.readAll() == b"xyz"
    assert len(qt_warnings.texts) == 1


def test_unget_char_during_transaction_is_ignored(env: Env, qt_warnings: Any) -> None:
    """ungetChar() inside a transaction warns and changes nothing; outside it works."""
    client, peer = env.pair()
    feed(client, peer, b"abc")
    client.startTransaction()
    assert client.read(1) == b"a"
    client.ungetChar(b"Z")
    assert qt_warnings.texts == [
        "QIODevice::ungetChar (QLocalSocket): Called while transaction is in progress",
    ]
    assert client.bytesAvailable() == 2
    assert client.peek(5) == b"bc"
    client.rollbackTransaction()
    assert client.readAll() == b"abc"
    client.ungetChar(b"Q")
    assert client.readAll() == b"Q"
    assert len(qt_warnings.texts) == 1


def test_data_arriving_during_transaction_is_appended(env: Env) -> None:
    """Bytes arriving mid-transaction (waited for, or from the hub) follow the retained ones."""
    client, peer = env.pair()
    feed(client, peer, b"abc")
    client.startTransaction()
    assert client.read(2) == b"ab"
    feed(client, peer, b"def")
    assert client.read(2) == b"cd"
    ready = Spy(client.readyRead)
    send_now(peer, b"ghi")
    assert ready.wait()
    assert client.read(10) == b"efghi"
    client.rollbackTransaction()
    assert client.bytesAvailable() == 9
    assert client.readAll() == b"abcdefghi"


@pytest.mark.parametrize("delivery", ["waitForReadyRead", "hub"])
def test_transaction_framing_pattern_one_byte_pieces(env: Env, delivery: str) -> None:
    """The length-prefixed framing pattern decodes every message from 1-byte pieces."""
    client, peer = env.pair()
    messages = [b"", b"x", b"hello", bytes(range(256)), b"\n\r\0", b"z" * 3]
    stream = b"".join(len(m).to_bytes(4, "big") + m for m in messages)
    decoded: list[bytes] = []
    rollbacks = []

    def on_ready_read() -> None:
        while True:
            client.startTransaction()
            header = client.read(4)
            if len(header) == 4:
                size = int.from_bytes(header, "big")
                payload = client.read(size)
                if len(payload) == size:
                    client.commitTransaction()
                    decoded.append(payload)
                    continue
            client.rollbackTransaction()
            rollbacks.append(client.bytesAvailable())
            return

    client.readyRead.connect(on_ready_read)
    ready = Spy(client.readyRead)
    if delivery == "waitForReadyRead":
        for index in range(len(stream)):
            send_now(peer, stream[index:index + 1])
            assert client.waitForReadyRead(5000)
    else:
        def sender() -> None:
            for index in range(len(stream)):
                send_now(peer, stream[index:index + 1])
                assert ready.wait()

        gevent.spawn(sender).get(timeout=10)
    assert len(ready) == len(stream)
    assert decoded == messages
    assert client.bytesAvailable() == 0
    assert not client.isTransactionStarted()
    # Every incomplete look was rolled back with all its bytes still buffered.
    assert len(rollbacks) == len(stream)
    assert rollbacks[-1] == 0


def test_transaction_with_read_buffer_size(env: Env) -> None:
    """Retained bytes don't count against setReadBufferSize; rollback loses nothing."""
    client, peer = env.pair()
    client.setReadBufferSize(4)
    data = b"0123456789AB"
    send_now(peer, data)
    assert client.waitForReadyRead(5000)
    assert client.bytesAvailable() == 4
    client.startTransaction()
    got = client.read(4)
    while len(got) < len(data):
        # The buffer holds 0 unread bytes: reading resumes although 4+ are retained.
        assert client.waitForReadyRead(5000)
        assert client.bytesAvailable() == 4
        got += client.read(4)
    assert got == data
    client.rollbackTransaction()
    assert client.bytesAvailable() == len(data)
    send_now(peer, b"CDEF")
    assert client.readAll() == data
    assert receive(client, 4) == b"CDEF"
    client.startTransaction()
    send_now(peer, b"GHIJ")
    assert receive(client, 4) == b"GHIJ"
    client.commitTransaction()
    assert client.bytesAvailable() == 0


@pytest.mark.parametrize("how", ["close", "abort"])
def test_close_ends_transaction(env: Env, qt_warnings: Any, how: str) -> None:
    """close()/abort() end a transaction; a reconnected socket starts without one."""
    server = env.server("ends")
    client = env.client()
    client.connectToServer("ends")
    peer = env.accept(server)
    feed(client, peer, b"abc")
    client.startTransaction()
    assert client.read(1) == b"a"
    getattr(client, how)()
    assert not client.isTransactionStarted()
    assert not client.isOpen()
    assert client.bytesAvailable() == 0
    client.connectToServer("ends")
    assert client.state() == CONNECTED
    peer2 = env.accept(server)
    feed(client, peer2, b"xyz")
    assert not client.isTransactionStarted()
    assert client.read(1) == b"x"
    client.rollbackTransaction()
    assert qt_warnings.texts == [
        "QIODevice::rollbackTransaction (QLocalSocket): Called while no transaction in progress",
    ]
    assert client.readAll() == b"yz"


# -- 2. readLineInto ---------------------------------------------------------------------------


def test_read_line_into(env: Env) -> None:
    """readLineInto replaces the bytearray's contents; maxSize as readLine; None discards."""
    client, peer = env.pair()
    feed(client, peer, b"first line\nsecond\nthird\nfourth")
    line = bytearray(b"old contents, longer than any line")
    assert client.readLineInto(line) is True
    assert line == bytearray(b"first line\n")
    assert client.readLineInto(line, 4) is True
    assert line == bytearray(b"sec")
    assert client.readLineInto(line, maxSize=0) is True
    assert line == bytearray(b"ond\n")
    assert client.readLineInto(None) is True
    assert client.readLineInto(line) is True
    assert line == bytearray(b"fourth")
    assert client.bytesAvailable() == 0
    line[:] = b"stale"
    assert client.readLineInto(line) is False
    assert line == bytearray()
    assert client.readLineInto(None) is False


def test_read_line_into_refuses_bytes_and_str(env: Env) -> None:
    """readLineInto(bytes) and readLineInto(str) raise TypeError and consume nothing."""
    client, peer = env.pair()
    feed(client, peer, b"line\n")
    with pytest.raises(TypeError):
        client.readLineInto(b"immutable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.readLineInto("text")  # type: ignore[arg-type]
    assert client.bytesAvailable() == 5
    assert client.readLine() == b"line\n"


# -- 3. text mode ------------------------------------------------------------------------------


def test_text_mode_reads(env: Env) -> None:
    """Text: read/peek/readAll drop every \\r; readLine maps only a trailing \\r\\n."""
    client, peer = env.pair(mode=QIODevice.ReadWrite | QIODevice.Text)
    assert client.isTextModeEnabled()
    assert client.openMode() == QIODevice.ReadWrite | QIODevice.Text
    feed(client, peer, b"a\r\nb\rc\r\r\nd")
    assert client.peek(100) == b"a\nbc\nd"
    assert client.peek(4) == b"a\nbc"
    assert client.read(2) == b"a\n"
    assert client.read(3) == b"bc\n"
    assert client.readAll() == b"d"
    feed(client, peer, b"x\r\ry\rz")
    assert client.read(2) == b"xy"
    assert client.read(2) == b"z"
    feed(client, peer, b"\r\r1\r2\r\n")
    assert client.readAll() == b"12\n"
    feed(client, peer, b"x\ry\r\np\rq\ntail\r")
    assert client.readLine() == b"x\ry\n"
    assert client.readLine() == b"p\rq\n"
    assert client.readLine() == b"tail\r"
    feed(client, peer, b"\r\n")
    assert client.readLine() == b"\n"
    assert client.bytesAvailable() == 0


def test_text_mode_get_char_skips_cr(env: Env) -> None:
    """Text: getChar() skips \\r; only \\r left means no byte (and they are consumed)."""
    client, peer = env.pair(mode=QIODevice.ReadWrite | QIODevice.Text)
    feed(client, peer, b"\ra\r\r\nb\r")
    assert [client.getChar() for _ in range(4)] == [
        (True, b"a"), (True, b"\n"), (True, b"b"), (False, b""),
    ]
    assert client.bytesAvailable() == 0


def test_set_text_mode_enabled_toggles_and_writes_unchanged(env: Env) -> None:
    """setTextModeEnabled switches read translation; writes are never translated on Unix."""
    client, peer = env.pair()
    assert not client.isTextModeEnabled()
    client.setTextModeEnabled(True)
    assert client.isTextModeEnabled()
    assert client.openMode() == QIODevice.ReadWrite | QIODevice.Text
    feed(client, peer, b"a\r\nb")
    assert client.readAll() == b"a\nb"
    payload = b"w\r\nx\n\ry\r"
    assert client.write(payload) == len(payload)
    assert receive(peer, len(payload)) == payload
    client.setTextModeEnabled(False)
    assert not client.isTextModeEnabled()
    assert client.openMode() == QIODevice.ReadWrite
    feed(client, peer, b"a\r\nb")
    assert client.readAll() == b"a\r\nb"


def test_set_text_mode_enabled_on_closed_device_warns(qt_warnings: Any) -> None:
    """setTextModeEnabled on a device that is not open is ignored with Qt's warning."""
    sock = QLocalSocket()
    sock.setTextModeEnabled(True)
    assert qt_warnings.texts == [
        "QIODevice::setTextModeEnabled (QLocalSocket): The device is not open",
    ]
    assert not sock.isTextModeEnabled()
    assert sock.openMode() == QIODevice.NotOpen


# -- 4. channel signals ------------------------------------------------------------------------


def test_channel_ready_read_follows_ready_read(env: Env) -> None:
    """channelReadyRead(0) comes right after each readyRead, waited for or from the hub."""
    client, peer = env.pair()
    log = EventLog(client, "readyRead", "channelReadyRead")
    feed(client, peer, b"abc")
    assert log.events == [("readyRead",), ("channelReadyRead", 0)]
    log.clear()
    spy = Spy(client.channelReadyRead)
    send_now(peer, b"de")
    assert spy.wait()
    assert log.events == [("readyRead",), ("channelReadyRead", 0)]
    assert client.readAll() == b"abcde"


def test_channel_bytes_written_follows_bytes_written(env: Env) -> None:
    """channelBytesWritten(0, n) comes right after each bytesWritten(n)."""
    client, peer = env.pair()
    log = EventLog(peer, "bytesWritten", "channelBytesWritten")
    assert peer.write(b"12345") == 5
    assert peer.flush()
    assert log.events == [("bytesWritten", 5), ("channelBytesWritten", 0, 5)]
    log.clear()
    spy = Spy(peer.channelBytesWritten)
    assert peer.write(b"xyz") == 3
    assert spy.wait()
    assert log.events == [("bytesWritten", 3), ("channelBytesWritten", 0, 3)]
    log.clear()
    assert peer.write(b"q") == 1
    assert peer.waitForBytesWritten(5000)
    assert log.events == [("bytesWritten", 1), ("channelBytesWritten", 0, 1)]
    assert receive(client, 9) == b"12345xyzq"


# -- 5. server socket options ------------------------------------------------------------------


def test_server_socket_options_round_trip() -> None:
    """setSocketOptions/socketOptions round-trip every QLocalServer.SocketOption."""
    server = QLocalServer()
    assert server.socketOptions() == QLocalServer.NoOptions
    members = QLocalServer.SocketOption.__members__
    values = [*members.values(), USER | GROUP, GROUP | OTHER, USER | OTHER,
              USER | ABSTRACT, WORLD | ABSTRACT]
    assert set(members) == {
        "NoOptions", "UserAccessOption", "GroupAccessOption", "OtherAccessOption",
        "WorldAccessOption", "AbstractNamespaceOption",
    }
    for value in values:
        server.setSocketOptions(value)
        assert server.socketOptions() == value
        assert isinstance(server.socketOptions(), QLocalServer.SocketOption)
    server.setSocketOptions(0x3)
    assert server.socketOptions() == USER | GROUP
    assert WORLD == USER | GROUP | OTHER


@pytest.mark.parametrize(
    ("options", "mode"),
    [(USER, 0o700), (GROUP, 0o070), (OTHER, 0o007), (WORLD, 0o777),
     (USER | GROUP, 0o770), (USER | OTHER, 0o707), (GROUP | OTHER, 0o077),
     (USER | GROUP | OTHER, 0o777)],
    ids=["user", "group", "other", "world", "user|group", "user|other", "group|other",
         "all-three"],
)
@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_access_options_give_exact_file_mode(env: Env, tmpdir_env: str, options: Any,
                                             mode: int, umask: int) -> None:
    """Access options give the socket file exactly their mode; the bind directory is gone."""
    old = os.umask(umask)
    try:
        server = env.server("modes", options)
    finally:
        os.umask(old)
    path = server.fullServerName()
    assert path == tmpdir_env + "/modes"
    assert file_mode(path) == mode
    assert os.listdir(tmpdir_env) == ["modes"]
    client = env.client()
    client.connectToServer("modes")
    assert client.state() == CONNECTED
    env.accept(server)
    server.close()
    assert not os.path.lexists(path)
    assert os.listdir(tmpdir_env) == []


@pytest.mark.parametrize("stale", ["regular file", "dead socket"])
def test_access_options_never_replace_an_existing_file(env: Env, tmpdir_env: str,
                                                       stale: str) -> None:
    """Qt's access options rename over whatever is at the path; ours replace only a
    stale socket, as Qt does, and nothing else.

    Without options a dead socket is refused with AddressInUseError (as in Qt) and
    reclaimed only on request (reclaim_stale=True); with them it is replaced; a
    regular file never is.
    """
    path = tmpdir_env + "/stale"
    if stale == "regular file":
        with open(path, "w") as fh:
            fh.write("junk")
    else:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
            dead.bind(path)
    before = os.lstat(path).st_ino
    for options in (None, USER) if stale == "regular file" else (None,):
        refused = QLocalServer()
        if options is not None:
            refused.setSocketOptions(options)
        assert not refused.listen("stale")
        assert refused.serverError() == QAbstractSocket.AddressInUseError
        assert os.lstat(path).st_ino == before
    reclaimer = QLocalServer()
    reclaimer.setSocketOptions(USER)
    if stale == "regular file":
        assert not reclaimer.listen("stale", reclaim_stale=True)
        assert reclaimer.serverError() == QAbstractSocket.AddressInUseError
        assert "not a socket" in reclaimer.errorString()
        assert os.lstat(path).st_ino == before
        return
    assert reclaimer.listen("stale"), reclaimer.errorString()
    assert file_mode(path) == 0o700
    client = env.client()
    client.connectToServer("stale")
    assert client.state() == CONNECTED
    peer = env.accept(reclaimer)
    assert peer.write(b"ping") == 4
    assert receive(client, 4) == b"ping"
    reclaimer.close()
    assert not os.path.lexists(path)
    # The reclaim lock lives in the user's private lock directory, and is gone.
    assert os.listdir(tmpdir_env) == []


@linux_only
def test_abstract_option_creates_no_file_and_ignores_access_bits(env: Env,
                                                                tmpdir_env: str) -> None:
    """AbstractNamespaceOption with access bits: no file anywhere, abstract clients meet."""
    name = unique(tmpdir_env, "abs")
    server = env.server(name, ABSTRACT | WORLD)
    assert server.socketOptions() == ABSTRACT | WORLD
    assert server.serverName() == name
    assert server.fullServerName() == name
    assert os.listdir(tmpdir_env) == []
    client = env.client(abstract=True)
    client.connectToServer(name)
    assert client.state() == CONNECTED
    peer = env.accept(server)
    assert peer.socketOptions() == SOCK_ABSTRACT
    path_client = env.client()
    path_client.connectToServer(name)
    assert path_client.state() == U
    assert path_client.error() == QLocalSocket.ServerNotFoundError
    server.close()
    assert os.listdir(tmpdir_env) == []


@pytest.mark.parametrize("options", [None, USER], ids=["plain", "user-access"])
@linux_only
def test_close_after_switching_path_server_to_abstract_removes_its_file(
        env: Env, tmpdir_env: str, options: Any) -> None:
    """A path server whose options became abstract after listen still removes its file."""
    server = env.server("switched", options)
    path = server.fullServerName()
    assert os.path.lexists(path)
    server.setSocketOptions(ABSTRACT)
    server.close()
    assert not os.path.lexists(path)
    assert os.listdir(tmpdir_env) == []


@linux_only
def test_close_after_switching_abstract_server_to_path_leaves_files_alone(
        env: Env, tmpdir_env: str) -> None:
    """An abstract server switched to path options removes no file on close()."""
    name = unique(tmpdir_env, "sw")
    server = env.server(name, ABSTRACT)
    bystander = tmpdir_env + "/" + name
    with open(bystander, "w") as fh:
        fh.write("not the server's")
    server.setSocketOptions(QLocalServer.NoOptions)
    server.close()
    assert os.path.exists(bystander)
    # The abstract name itself was released.
    again = env.server(name, ABSTRACT)
    assert again.isListening()


# -- 6. atomic access options ------------------------------------------------------------------


def test_access_option_mode_is_never_wider(tmpdir_env: str) -> None:
    """While a server listens/closes with UserAccessOption, the file is only ever seen 0700."""
    path = tmpdir_env + "/atomic"
    cycles = 40
    done = False
    greenlet_modes: list[int] = []
    thread_modes: list[int] = []

    def cycle() -> None:
        nonlocal done
        server = QLocalServer()
        server.setSocketOptions(USER)
        try:
            for _ in range(cycles):
                assert server.listen("atomic"), server.errorString()
                gevent.sleep(0)
                server.close()
                gevent.sleep(0)
        finally:
            done = True

    def poll(modes: list[int], pause: bool) -> None:
        while not done:
            try:
                modes.append(stat.S_IMODE(os.stat(path).st_mode))
            except FileNotFoundError:
                pass
            if pause:
                gevent.sleep(0)

    old = os.umask(0)  # a non-atomic bind would show 0777
    try:
        # A real OS thread also looks while listen() runs, between its system calls.
        thread = gevent.get_hub().threadpool.spawn(poll, thread_modes, False)
        poller = gevent.spawn(poll, greenlet_modes, True)
        gevent.spawn(cycle).get(timeout=15)
        poller.get(timeout=5)
        thread.get(timeout=5)
    finally:
        os.umask(old)
    assert len(greenlet_modes) >= cycles
    assert set(greenlet_modes) == {0o700}
    assert set(thread_modes) <= {0o700}
    assert not os.path.lexists(path)
    assert os.listdir(tmpdir_env) == []


# -- 7. QLocalSocket.setSocketOptions ----------------------------------------------------------


def test_socket_options_round_trip() -> None:
    """QLocalSocket.setSocketOptions/socketOptions round-trip while unconnected."""
    sock = QLocalSocket()
    assert sock.socketOptions() == QLocalSocket.NoOptions
    sock.setSocketOptions(SOCK_ABSTRACT)
    assert sock.socketOptions() == SOCK_ABSTRACT
    assert isinstance(sock.socketOptions(), QLocalSocket.SocketOption)
    sock.setSocketOptions(QLocalSocket.NoOptions)
    assert sock.socketOptions() == QLocalSocket.NoOptions


@linux_only
def test_socket_options_ignored_while_connected(env: Env, tmpdir_env: str,
                                                qt_warnings: Any) -> None:
    """setSocketOptions while connected is ignored with Qt's warning."""
    name = unique(tmpdir_env, "opt")
    server = env.server(name, ABSTRACT)
    client = env.client(abstract=True)
    client.connectToServer(name)
    assert client.state() == CONNECTED
    assert (client.serverName(), client.fullServerName()) == (name, name)
    client.setSocketOptions(QLocalSocket.NoOptions)
    assert qt_warnings.texts == [NOT_UNCONNECTED]
    assert client.socketOptions() == SOCK_ABSTRACT
    env.accept(server)
    env.server("pathsrv")
    path_client = env.client()
    path_client.connectToServer("pathsrv")
    assert path_client.state() == CONNECTED
    path_client.setSocketOptions(SOCK_ABSTRACT)
    assert qt_warnings.texts == [NOT_UNCONNECTED, NOT_UNCONNECTED]
    assert path_client.socketOptions() == QLocalSocket.NoOptions
    client.abort()
    client.setSocketOptions(QLocalSocket.NoOptions)
    assert client.socketOptions() == QLocalSocket.NoOptions
    assert len(qt_warnings.texts) == 2


@linux_only
def test_abstract_and_path_clients_meet_only_their_kind(env: Env, tmpdir_env: str) -> None:
    """An abstract client finds an abstract server; path and abstract never cross."""
    name = unique(tmpdir_env, "kind")
    abstract_server = env.server(name, ABSTRACT)
    client = env.client(abstract=True)
    client.connectToServer(name)
    assert client.state() == CONNECTED
    assert client.fullServerName() == name
    env.accept(abstract_server)
    path_client = env.client()
    path_client.connectToServer(name)
    assert path_client.state() == U
    assert path_client.error() == QLocalSocket.ServerNotFoundError
    other = unique(tmpdir_env, "pathonly")
    path_server = env.server(other)
    assert os.path.exists(tmpdir_env + "/" + other)
    for target in (other, path_server.fullServerName()):
        stray = env.client(abstract=True)
        stray.connectToServer(target)
        assert stray.state() == U
        assert stray.error() == QLocalSocket.ConnectionRefusedError
    assert path_server.waitForNewConnection(0) == (False, True)


@linux_only
def test_trailing_nul_is_part_of_the_abstract_name(env: Env, tmpdir_env: str) -> None:
    """"name\\0" and "name" are different abstract servers, for both sides."""
    base = unique(tmpdir_env, "nul")
    with_nul = env.server(base + "\0", ABSTRACT)
    plain = env.client(abstract=True)
    plain.connectToServer(base)
    assert plain.state() == U
    assert plain.error() == QLocalSocket.ConnectionRefusedError
    exact = env.client(abstract=True)
    exact.connectToServer(base + "\0")
    assert exact.state() == CONNECTED
    assert exact.serverName() == base + "\0"
    assert exact.fullServerName() == base + "\0"
    env.accept(with_nul)
    without = env.server(base, ABSTRACT)
    two_nuls = env.client(abstract=True)
    two_nuls.connectToServer(base + "\0\0")
    assert two_nuls.state() == U
    plain2 = env.client(abstract=True)
    plain2.connectToServer(base)
    assert plain2.state() == CONNECTED
    env.accept(without)
    assert with_nul.waitForNewConnection(0) == (False, True)


# -- 8. listenBacklogSize ----------------------------------------------------------------------


def test_listen_backlog_size_default_and_setter() -> None:
    """listenBacklogSize() is 50 by default and returns what was set."""
    server = QLocalServer()
    assert server.listenBacklogSize() == 50
    server.setListenBacklogSize(7)
    assert server.listenBacklogSize() == 7
    server.setListenBacklogSize(0)
    assert server.listenBacklogSize() == 0


@pytest.mark.parametrize("kind", ["path", "user-access",
                                  pytest.param("abstract", marks=linux_only)])
def test_backlog_is_passed_to_listen(env: Env, tmpdir_env: str, kind: str) -> None:
    """Backlog 2, never accepting: exactly 3 clients connect (Linux), the 4th stays Connecting."""
    name = unique(tmpdir_env, "bl") if kind == "abstract" else "backlog"
    options = {"path": None, "user-access": USER, "abstract": ABSTRACT}[kind]
    server = env.server(name, options, backlog=2, max_pending=0)
    clients = [env.client(abstract=kind == "abstract") for _ in range(4)]
    logs = [EventLog(c, *SOCKET_SIGNALS) for c in clients]
    for client in clients:
        client.connectToServer(name)
    assert [c.state() for c in clients] == [CONNECTED] * 3 + [CONNECTING]
    assert logs[3].events == [("stateChanged", CONNECTING)]
    assert (clients[3].serverName(), clients[3].fullServerName()) == (name, "")
    assert clients[3].waitForConnected(50) is False
    assert clients[3].state() == CONNECTING
    assert logs[3].events == [("stateChanged", CONNECTING)]
    # Accepting one frees one place in the backlog.
    env.accept(server)
    assert clients[3].waitForConnected(5000) is True
    assert logs[3].events == [("stateChanged", CONNECTING), ("stateChanged", CONNECTED),
                              ("connected",)]


# -- 9. the EAGAIN deadline --------------------------------------------------------------------


def _full_server(env: Env) -> StrictServer:
    """A server with backlog 0 that never accepts, its one backlog place taken."""
    server = env.server("full", backlog=0, max_pending=0)
    filler = env.client()
    filler.connectToServer("full")
    assert filler.state() == CONNECTED
    return server


def test_connect_deadline_on_full_backlog(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A never-accepted connect ends with SocketTimeoutError and Unconnected at the deadline."""
    monkeypatch.setattr(qlsock.localsocket, "CONNECT_TIMEOUT", 0.3)
    _full_server(env)
    victim = env.client()
    log = EventLog(victim, *SOCKET_SIGNALS)
    errors = Spy(victim.errorOccurred)
    start = time.monotonic()
    victim.connectToServer("full")
    assert victim.state() == CONNECTING
    assert errors.wait(5000)
    elapsed = time.monotonic() - start
    assert elapsed >= 0.29
    assert log.events == [
        ("stateChanged", CONNECTING),
        ("errorOccurred", TIMEOUT),
        ("stateChanged", U),
    ]
    assert victim.error() == TIMEOUT
    assert victim.errorString().startswith(
        "QLocalSocket::connectToServer: Socket operation timed out")
    assert victim.state() == U
    assert (victim.serverName(), victim.fullServerName()) == ("", "")
    assert not victim.isOpen()
    assert victim.socketDescriptor() == -1
    assert not errors.wait(100)
    assert len(log.events) == 3


def test_wait_for_connected_forever_returns_at_the_deadline(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """waitForConnected(-1) against a full backlog returns False at the connect deadline."""
    monkeypatch.setattr(qlsock.localsocket, "CONNECT_TIMEOUT", 0.3)
    _full_server(env)
    victim = env.client()
    log = EventLog(victim, *SOCKET_SIGNALS)
    errors = Spy(victim.errorOccurred)
    start = time.monotonic()
    victim.connectToServer("full")
    assert victim.waitForConnected(20) is False
    assert victim.state() == CONNECTING
    assert log.events == [("stateChanged", CONNECTING)]
    with gevent.Timeout(5):
        result = victim.waitForConnected(-1)
    elapsed = time.monotonic() - start
    assert result is False
    assert elapsed >= 0.29
    assert victim.state() == U
    assert victim.error() == TIMEOUT
    assert log.events == [
        ("stateChanged", CONNECTING),
        ("errorOccurred", TIMEOUT),
        ("stateChanged", U),
    ]
    assert not errors.wait(100)  # the background retry gives up too, without a second error
    assert len(log.events) == 3


# -- 10. setSocketDescriptor -------------------------------------------------------------------


def _adopt(env: Env, fd: int, preset_abstract: bool = False
           ) -> tuple[LocalSocket, EventLog]:
    sock = env.client(abstract=preset_abstract)
    log = EventLog(sock, *SOCKET_SIGNALS)
    assert sock.setSocketDescriptor(fd) is True
    assert log.events == [("stateChanged", CONNECTED)]
    assert sock.state() == CONNECTED
    assert sock.openMode() == QIODevice.ReadWrite
    assert sock.socketDescriptor() == fd
    assert sock.isValid()
    return sock, log


def test_set_socket_descriptor_server_side_of_path_connection(env: Env,
                                                              tmpdir_env: str) -> None:
    """An accepted fd from a plain path listener: names from getsockname, abstract off."""
    path = tmpdir_env + "/raw"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        client = env.client()
        client.connectToServer("raw")
        assert client.state() == CONNECTED
        conn, _ = listener.accept()
    sock, log = _adopt(env, conn.detach(), preset_abstract=True)
    assert sock.serverName() == "raw"
    assert sock.fullServerName() == path
    assert sock.socketOptions() == QLocalSocket.NoOptions
    assert sock.write(b"to client") == 9
    assert receive(client, 9) == b"to client"
    assert client.write(b"to server") == 9
    assert receive(sock, 9) == b"to server"
    assert log.events[0] == ("stateChanged", CONNECTED)
    assert log.names().count("stateChanged") == 1


def test_set_socket_descriptor_client_side_uses_peer_name(env: Env, tmpdir_env: str) -> None:
    """A plain client's connected fd: names from getpeername (the server's path)."""
    server = env.server("peer")
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.connect(tmpdir_env + "/peer")
    sock, _ = _adopt(env, raw.detach())
    assert sock.serverName() == "peer"
    assert sock.fullServerName() == tmpdir_env + "/peer"
    peer = env.accept(server)
    assert sock.write(b"hi") == 2
    assert receive(peer, 2) == b"hi"


@linux_only
def test_set_socket_descriptor_server_side_of_abstract_connection(env: Env,
                                                                  tmpdir_env: str) -> None:
    """An accepted fd from an abstract listener: both names are the name, abstract on."""
    name = unique(tmpdir_env, "rawabs")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(b"\0" + name.encode())
        listener.listen(1)
        client = env.client(abstract=True)
        client.connectToServer(name)
        assert client.state() == CONNECTED
        conn, _ = listener.accept()
    sock, _ = _adopt(env, conn.detach())
    assert sock.serverName() == name
    assert sock.fullServerName() == name
    assert sock.socketOptions() == SOCK_ABSTRACT
    assert sock.write(b"abs") == 3
    assert receive(client, 3) == b"abs"


def test_set_socket_descriptor_socketpair_has_no_names(env: Env) -> None:
    """A socketpair end is adopted with empty names and carries data."""
    mine, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with other:
        sock, _ = _adopt(env, mine.detach())
        assert (sock.serverName(), sock.fullServerName()) == ("", "")
        other.sendall(b"pair")
        assert receive(sock, 4) == b"pair"
        assert sock.write(b"back") == 4
        assert raw_receive(other, 4) == b"back"


def test_set_socket_descriptor_refuses_a_pipe(env: Env) -> None:
    """A pipe is not a socket: False with UnsupportedSocketOperationError."""
    r, w = os.pipe()
    try:
        sock = env.client()
        log = EventLog(sock, "stateChanged")
        assert sock.setSocketDescriptor(r) is False
        assert sock.error() == QLocalSocket.UnsupportedSocketOperationError
        assert sock.errorString().startswith(
            "QLocalSocket::setSocketDescriptor: The socket operation is not supported")
        assert sock.socketDescriptor() == -1
        assert log.events == []
    finally:
        for fd in (r, w):
            try:
                os.close(fd)
            except OSError:
                pass


def test_set_socket_descriptor_refuses_a_tcp_socket(env: Env) -> None:
    """An AF_INET stream socket is refused like a pipe, and left open for its owner."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        sock = env.client()
        log = EventLog(sock, "stateChanged")
        assert sock.setSocketDescriptor(tcp.fileno()) is False
        assert sock.error() == QLocalSocket.UnsupportedSocketOperationError
        assert sock.errorString().startswith(
            "QLocalSocket::setSocketDescriptor: The socket operation is not supported")
        assert sock.socketDescriptor() == -1
        assert log.events == []
        assert tcp.family == socket.AF_INET  # the descriptor still works
        os.fstat(tcp.fileno())


def test_set_socket_descriptor_minus_one_keeps_state_and_mode(env: Env) -> None:
    """setSocketDescriptor(-1, ConnectingState, Append): False, but state and mode stick."""
    sock = env.client()
    log = EventLog(sock, *SOCKET_SIGNALS)
    assert sock.setSocketDescriptor(-1, QLocalSocket.ConnectingState, QIODevice.Append) is False
    assert sock.socketDescriptor() == -1
    assert sock.state() == CONNECTING
    assert sock.openMode() == QIODevice.Append
    assert log.events == []


# -- 11. QLocalServer.listen(fd) ---------------------------------------------------------------


def test_listen_descriptor_path_is_not_unlinked_by_close(env: Env, tmpdir_env: str) -> None:
    """listen(fd) on a path socket: names, accepts; close() leaves the file it didn't create."""
    path = tmpdir_env + "/adopted"
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.bind(path)
    raw.listen(5)
    fd = raw.detach()
    server = StrictServer()
    server.setSocketOptions(ABSTRACT | USER)
    assert server.listen(fd) is True
    env.servers.append(server)
    assert server.isListening()
    assert server.socketDescriptor() == fd
    assert (server.serverName(), server.fullServerName()) == ("adopted", path)
    assert server.socketOptions() == USER
    client = env.client()
    client.connectToServer("adopted")
    assert client.state() == CONNECTED
    peer = env.accept(server)
    assert (peer.serverName(), peer.fullServerName()) == ("adopted", path)
    server.close()
    assert not server.isListening()
    assert server.socketDescriptor() == -1
    assert os.path.lexists(path)
    late = env.client()
    late.connectToServer("adopted")
    assert late.state() == U
    assert late.error() == QLocalSocket.ConnectionRefusedError


@linux_only
def test_listen_descriptor_abstract(env: Env, tmpdir_env: str) -> None:
    """listen(fd) on an abstract socket switches AbstractNamespaceOption on."""
    name = unique(tmpdir_env, "adabs")
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.bind(b"\0" + name.encode())
    raw.listen(5)
    server = StrictServer()
    server.setSocketOptions(GROUP)
    assert server.listen(raw.detach()) is True
    env.servers.append(server)
    assert server.isListening()
    assert (server.serverName(), server.fullServerName()) == (name, name)
    assert server.socketOptions() == GROUP | ABSTRACT
    assert os.listdir(tmpdir_env) == []
    client = env.client(abstract=True)
    client.connectToServer(name)
    assert client.state() == CONNECTED
    env.accept(server)


@linux_only
def test_listen_descriptor_autobind(env: Env) -> None:
    """listen(fd) on an autobound socket: listening, accepting, named as Qt parses it."""
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.bind("")
    raw.listen(5)
    address = raw.getsockname()
    assert isinstance(address, bytes)
    assert address[:1] == b"\0"
    name = address[1:].decode()
    server = StrictServer()
    assert server.listen(raw.detach()) is True
    env.servers.append(server)
    assert server.isListening()
    assert (server.serverName(), server.fullServerName()) == (name, name)
    assert server.socketOptions() == ABSTRACT
    client = env.client(abstract=True)
    client.connectToServer(name)
    assert client.state() == CONNECTED
    env.accept(server)
    server.close()
    assert not server.isListening()


@linux_only
def test_listen_descriptor_unnamed(env: Env, tmpdir_env: str) -> None:
    """listen(fd) on a listener whose address is not UTF-8: no names, yet listening, accepting."""
    address = b"\0\xff\xfe" + unique(tmpdir_env, "un").encode()
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.bind(address)
    raw.listen(5)
    server = StrictServer()
    assert server.listen(raw.detach()) is True
    env.servers.append(server)
    assert (server.serverName(), server.fullServerName()) == ("", "")
    assert server.isListening()
    assert server.socketDescriptor() >= 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as plain:
        plain.connect(address)
        peer = env.accept(server)
        assert (peer.serverName(), peer.fullServerName()) == ("", "")
        plain.sendall(b"anon")
        assert receive(peer, 4) == b"anon"
    server.close()
    assert not server.isListening()
    assert server.socketDescriptor() == -1


# -- 12. addPendingConnection ------------------------------------------------------------------


class TaggedSocket(QLocalSocket):
    """A QLocalSocket subclass a server hands out."""


class WrappingServer(QLocalServer):
    """incomingConnection wraps the descriptor itself and queues it."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[TaggedSocket] = []

    def incomingConnection(self, socketDescriptor: int) -> None:
        sock = TaggedSocket(self)
        assert sock.setSocketDescriptor(socketDescriptor)
        self.made.append(sock)
        self.addPendingConnection(sock)


def test_add_pending_connection_from_incoming_connection(env: Env, tmpdir_env: str) -> None:
    """A subclass's incomingConnection wraps the fd; nextPendingConnection returns that socket."""
    server = WrappingServer()
    assert server.listen("wrap")
    env.servers.append(server)
    spy = Spy(server.newConnection)
    client = env.client()
    client.connectToServer("wrap")
    assert client.state() == CONNECTED
    assert server.waitForNewConnection(5000) == (True, False)
    assert len(spy) == 1
    sock = server.nextPendingConnection()
    assert sock is not None
    env.track(sock)
    assert sock is server.made[0]
    assert type(sock) is TaggedSocket
    assert sock.parent() is server
    assert sock.fullServerName() == tmpdir_env + "/wrap"
    assert server.nextPendingConnection() is None
    assert sock.write(b"wrapped") == 7
    assert receive(client, 7) == b"wrapped"


def test_add_pending_connection_refuses_non_sockets() -> None:
    """addPendingConnection() of anything but a QLocalSocket raises TypeError, queues nothing."""
    server = QLocalServer()
    spy = Spy(server.newConnection)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as plain:
        for bad in (object(), None, plain, plain.fileno(), QLocalServer()):
            with pytest.raises(TypeError):
                server.addPendingConnection(bad)  # type: ignore[arg-type]
    assert len(spy) == 0
    assert not server.hasPendingConnections()
    assert server.nextPendingConnection() is None
