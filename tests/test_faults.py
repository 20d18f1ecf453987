"""Faults: what qlsock does when a peer, a server, the kernel or the application misbehaves.

One test (or a few) per row of docs/faults.md. Peers that must die are separate
processes (``tests/peers/fault_raw.py``: plain blocking sockets streaming a known
pattern; ``tests/peers/fault_qlsock.py``: qlsock programs), killed with SIGKILL while
data flows. Descriptor exhaustion is produced for real with ``RLIMIT_NOFILE`` in a
server process of its own; the accept errors that cannot be produced on demand are
injected into the listening socket once.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import signal
import stat
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

import qlsock
from qlsock import QAbstractSocket, QLocalServer, QLocalSocket
from qlsock.streamserver import serve

from . import support
from .peers.fault_raw import pattern
from .peers.process import PEERS_DIR, WAIT_MS, Peer, Spawn, spawner
from .support import SOCKET_SIGNALS, EventLog, Spy, connect_to, feed, qtry, send_now

RAW = str(PEERS_DIR / "fault_raw.py")
QLS = str(PEERS_DIR / "fault_qlsock.py")

U = QLocalSocket.UnconnectedState
CONNECTED = QLocalSocket.ConnectedState
CLOSING = QLocalSocket.ClosingState
PEER_CLOSED = QLocalSocket.PeerClosedError
FINISHED = [("stateChanged", U), ("readChannelFinished",), ("disconnected",)]

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture
def net() -> Iterator[support.Harness]:
    """Servers and sockets closed after the test; LocalSocket invariants checked."""
    yield from support.torn_down(support.Harness())


@pytest.fixture
def spawn(tmpdir_env: str) -> Iterator[Spawn]:
    """Start peer programs with this test's $TMPDIR and cwd; reaped at teardown."""
    with spawner() as start:
        yield start


def kill(peer: Peer) -> str:
    """SIGKILL *peer*, wait for it, and return everything it printed."""
    peer.proc.kill()
    peer.finish()
    assert peer.proc.returncode == -signal.SIGKILL, peer.transcript()
    return "".join(peer.lines) + peer.stdout


def last_count(output: str, word: str) -> int:
    """The number on the last ``WORD <n>`` line of *output* (0 if there is none)."""
    counts = [int(line.split()[1]) for line in output.splitlines() if line.startswith(word + " ")]
    return counts[-1] if counts else 0


def round_trip(server: support.LocalServer, net: support.Harness, name: str) -> None:
    """A new client of *server* is accepted and can talk both ways."""
    client = net.track(connect_to(name))
    conn = net.accept(server)
    feed(conn, client, b"still serving")
    assert conn.readAll() == b"still serving"
    feed(client, conn, b"yes")
    assert client.readAll() == b"yes"


def echoed(client: QLocalSocket, data: bytes) -> None:
    """*client* sends *data* to an echo server and gets exactly it back."""
    send_now(client, data)
    received = b""
    while len(received) < len(data):
        assert client.waitForReadyRead(WAIT_MS), client.errorString()
        received += client.readAll()
    assert received == data


def is_prefix_of_pattern(data: bytes) -> bool:
    return data == pattern(0, len(data))


# -- a peer process killed mid-transfer ----------------------------------------------------


def test_peer_killed_while_sending_every_byte_that_arrived_stays_readable(
        net: support.Harness, spawn: Spawn) -> None:
    """SIGKILL a peer that is streaming to us: PeerClosedError, disconnected, no byte lost.

    The survivor's read buffer is limited, so at the kill the bytes that had arrived
    sit partly in qlsock's buffer and partly in the kernel's; all of them, and only
    the pattern's bytes in order, are readable after ``disconnected``.
    """
    server = net.server("victim")
    peer = spawn(RAW, "send", server.fullServerName(), "--chunk", 16 * KiB)
    assert peer.readline() == "CONNECTED"
    conn = net.accept(server)
    conn.setReadBufferSize(MiB)
    # The buffer fills, reading pauses, the kernel's buffer fills behind it and
    # the peer blocks in the middle of a write.
    assert qtry(lambda: conn.bytesAvailable() >= MiB, WAIT_MS)
    assert conn.state() == CONNECTED
    output = kill(peer)
    sent = last_count(output, "SENT")  # what the kernel had taken when last reported

    log = EventLog(conn, *SOCKET_SIGNALS)
    available: list[int] = []
    conn.disconnected.connect(lambda: available.append(conn.bytesAvailable()))
    disconnected = Spy(conn.disconnected)
    first = conn.readAll()  # reading resumes: the rest, then the end of the stream
    assert available or disconnected.wait(WAIT_MS), log.events
    rest = conn.readAll()
    data = first + rest

    assert is_prefix_of_pattern(data)
    assert len(data) >= MiB
    assert sent <= len(data) <= sent + 16 * KiB, (sent, len(data))
    assert available == [len(rest)]
    others = [e for e in log.events if e[0] != "readyRead"]
    assert others == [("errorOccurred", PEER_CLOSED), ("stateChanged", CLOSING), *FINISHED]
    assert log.names().index("errorOccurred") == len(log.events) - len(others)
    assert conn.error() == PEER_CLOSED
    assert conn.state() == U
    assert conn.isOpen()
    assert conn.atEnd()
    round_trip(server, net, "victim")


def test_peer_killed_while_receiving_the_writer_survives(
        net: support.Harness, spawn: Spawn) -> None:
    """SIGKILL a peer we are streaming to: PeerClosedError, disconnected, nothing raised.

    The survivor keeps writing from a ``bytesWritten`` slot while the peer reads;
    after the kill the next send or read fails (EPIPE or ECONNRESET: the peer died
    with unread data) and the socket ends the way the semantics table says.
    """
    server = net.server("victim")
    peer = spawn(RAW, "recv", server.fullServerName())
    assert peer.readline() == "CONNECTED"
    conn = net.accept(server)
    queued = [0]
    taken = [0]

    def refill(count: int = 0) -> None:
        taken[0] += count
        if conn.state() == CONNECTED and conn.bytesToWrite() < MiB:
            assert conn.write(pattern(queued[0], MiB)) == MiB
            queued[0] += MiB

    conn.bytesWritten.connect(refill)
    refill()
    log = EventLog(conn, "errorOccurred", "stateChanged", "readChannelFinished", "disconnected")
    disconnected = Spy(conn.disconnected)
    while int(peer.expect("RECV")) < 2 * MiB:
        pass
    assert len(disconnected) == 0
    output = kill(peer)
    assert len(disconnected) == 1 or disconnected.wait(WAIT_MS), log.events

    assert log.events[0] == ("errorOccurred", PEER_CLOSED)
    assert log.events[1:] in ([("stateChanged", CLOSING), *FINISHED], FINISHED), log.events
    assert conn.error() == PEER_CLOSED
    assert "Remote closed" in conn.errorString()
    assert conn.state() == U
    assert conn.bytesToWrite() == 0
    assert last_count(output, "RECV") <= taken[0] <= queued[0]
    assert conn.write(b"more") == -1  # refused quietly, as Qt does; nothing raised
    round_trip(server, net, "victim")


def test_writing_to_a_closed_peer_never_raises_sigpipe(spawn: Spawn, tmpdir_env: str) -> None:
    """With SIGPIPE's default action (death), every qlsock send path meets a gone peer.

    ``fault_qlsock.py sigpipe`` runs flush(), waitForBytesWritten(), waitForReadyRead()
    and the hub's background sending against peers that closed or aborted; each
    reports PeerClosedError and the process lives (MSG_NOSIGNAL). The control, a raw
    send() without the flag in the same setting, dies of SIGPIPE.
    """
    control = spawn(RAW, "sigpipe-control", os.path.join(tmpdir_env, "control"))
    assert control.finish() == -signal.SIGPIPE, control.transcript()

    peer = spawn(QLS, "sigpipe", "pipe")
    code = peer.finish()
    assert code != -signal.SIGPIPE, f"killed by SIGPIPE{peer.transcript()}"
    result = peer.result()
    assert set(result) == {"flush", "waitForBytesWritten", "waitForReadyRead", "background"}
    for case, outcome in result.items():
        assert outcome["error"] == "PeerClosedError", (case, outcome)
        assert outcome["state"] == "UnconnectedState", (case, outcome)
        assert outcome["events"][0] == "error:PeerClosedError", (case, outcome)
        assert outcome["events"][-1] == "disconnected", (case, outcome)
        assert outcome["bytes_to_write"] == 0, (case, outcome)
        assert outcome["returned"] in (False, None), (case, outcome)


# -- a server process killed: the stale socket file ----------------------------------------


def test_killed_server_leaves_a_stale_file_that_can_be_reclaimed_safely(
        net: support.Harness, spawn: Spawn) -> None:
    """kill -9 a qlsock server: its file stays; listen() says "stale" and how to recover."""
    peer = spawn(QLS, "server", "app")
    [path] = peer.ready()
    assert qlsock.probe("app").status is qlsock.ServerStatus.LIVE
    client = net.track(connect_to("app"))
    echoed(client, b"hello")

    kill(peer)
    assert stat.S_ISSOCK(os.lstat(path).st_mode)  # the file outlived its server
    found = qlsock.probe("app")
    assert found.status is qlsock.ServerStatus.STALE
    assert found.full_server_name == path

    server = QLocalServer()
    assert not server.listen("app")
    assert server.serverError() == QAbstractSocket.AddressInUseError
    text = server.errorString()
    assert text.startswith("QLocalServer::listen: Address in use (")
    assert "stale" in text, text
    assert "reclaim_stale" in text, text
    assert not server.isListening()

    assert server.listen("app", reclaim_stale=True), server.errorString()
    net.servers.append(server)
    assert qlsock.probe("app").status is qlsock.ServerStatus.LIVE
    newcomer = net.track(connect_to("app"))
    assert server.waitForNewConnection(WAIT_MS) == (True, False)
    assert newcomer.state() == CONNECTED


def test_a_live_server_in_another_process_is_never_reclaimed(
        net: support.Harness, spawn: Spawn) -> None:
    """reclaim_stale and remove_stale leave a live server's file alone; removeServer doesn't.

    The last part documents why ``QLocalServer.removeServer()`` (kept for Qt parity)
    is dangerous: the live server keeps running but nobody can reach it any more.
    """
    peer = spawn(QLS, "server", "app")
    [path] = peer.ready()
    inode = os.lstat(path).st_ino

    server = QLocalServer()
    assert not server.listen("app", reclaim_stale=True)
    assert server.serverError() == QAbstractSocket.AddressInUseError
    assert "reclaim_stale" not in server.errorString()  # no advice to reclaim a live file
    found = qlsock.remove_stale("app")
    assert found.status is qlsock.ServerStatus.LIVE
    assert os.lstat(path).st_ino == inode
    client = net.track(connect_to("app"))
    echoed(client, b"still yours")

    assert QLocalServer.removeServer("app")
    assert not os.path.lexists(path)
    assert peer.proc.poll() is None  # the server still runs...
    assert qlsock.probe("app").status is qlsock.ServerStatus.ABSENT
    orphaned = net.client()
    orphaned.connectToServer("app")  # ...but is unreachable
    assert orphaned.error() == QLocalSocket.ServerNotFoundError
    echoed(client, b"old")  # its existing connections still work
    client.disconnectFromServer()
    assert peer.result()["connections"] >= 1


def test_killed_abstract_server_leaves_nothing_behind(spawn: Spawn, tmpdir_env: str) -> None:
    """Abstract names (Linux) have no file: a killed server's name is free at once."""
    name = f"qlsock-fault-{os.getpid()}-{os.path.basename(tmpdir_env)}"
    peer = spawn(QLS, "server", name, "--abstract")
    assert peer.ready() == [name]
    assert qlsock.probe(name, abstract=True).status is qlsock.ServerStatus.LIVE
    kill(peer)
    assert qlsock.probe(name, abstract=True).status is qlsock.ServerStatus.ABSENT
    server = QLocalServer()
    server.setSocketOptions(QLocalServer.AbstractNamespaceOption)
    assert server.listen(name), server.errorString()
    assert os.listdir(tmpdir_env) == []
    server.close()


# -- accept errors -------------------------------------------------------------------------


def test_descriptor_exhaustion_backs_off_and_recovers(net: support.Harness,
                                                      spawn: Spawn) -> None:
    """EMFILE in accept(): a warning, back-off, still listening; accepts once fds free up.

    A qlsock server process runs out of descriptors for real (``RLIMIT_NOFILE``)
    before three clients connect. Qt closes the server (and deletes its socket
    file) on any accept error.

    Not in this process: under monkey patching gevent (>= 25.8) defers ``os.close()``
    of a non-regular descriptor to the next loop iteration, so a descriptor closed
    earlier here (the previous test's ``$TMPDIR`` teardown, by ``shutil.rmtree``)
    would come free in the middle of the exhaustion and be accepted on.
    """
    peer = spawn(QLS, "emfile", "emfile")
    [path] = peer.ready()
    clients = [net.track(connect_to("emfile")) for _ in range(3)]  # in the backlog
    peer.expect("LOG WARNING")
    peer.expect("LOG WARNING")  # retried after a back-off, still failing
    peer.send("wait")
    assert json.loads(peer.expect("WAITED")) == [False, True]
    peer.send("status")
    assert json.loads(peer.expect("STATUS")) == {"listening": True, "accepted": 0,
                                                 "exists": True}
    peer.send("free")
    peer.expect("FREED")
    while int(peer.expect("ACCEPTED")) < 3:
        pass
    for client in clients:
        echoed(client, b"late but served")
    result = peer.result()
    assert result["accepted"] == 3
    assert result["listening"]
    texts = result["log"]
    assert len(texts) >= 3, texts
    assert all("out of a resource" in t and os.strerror(errno.EMFILE) in t
               and "keeps listening" in t for t in texts), texts
    assert len(texts) < 50, "no back-off: accept() was retried at once, again and again"
    assert os.path.exists(path) is False  # closed cleanly at the end


class FlakyAccept:
    """A listening socket whose next ``accept()`` calls fail with the given errnos."""

    def __init__(self, sock: Any, errnos: list[int]) -> None:
        self._real = sock
        self.errnos = errnos
        self.calls = 0

    def _accept(self) -> Any:
        self.calls += 1
        if self.errnos:
            err = self.errnos.pop(0)
            raise OSError(err, os.strerror(err))
        return self._real._accept()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def flaky(server: QLocalServer, monkeypatch: pytest.MonkeyPatch, *errnos: int) -> FlakyAccept:
    """Make the listening socket of *server* fail its next accept() calls."""
    endpoint = server._endpoint  # private: the only way in
    fake = FlakyAccept(endpoint._sock, list(errnos))  # type: ignore[union-attr]
    monkeypatch.setattr(endpoint, "_sock", fake)
    return fake


@pytest.mark.parametrize("err", [errno.EAGAIN, errno.ECONNABORTED, errno.EINTR, errno.EPROTO],
                         ids=errno.errorcode.get)
def test_benign_accept_errors_mean_nothing_yet(net: support.Harness, qt_warnings: Any,
                                               monkeypatch: pytest.MonkeyPatch,
                                               err: int) -> None:
    """EAGAIN, ECONNABORTED, EINTR, EPROTO from accept(): no warning, no pause, no close."""
    server = net.server("benign")
    fake = flaky(server, monkeypatch, err)
    client = net.track(connect_to("benign"))
    assert qtry(lambda: len(server.hits) == 1, WAIT_MS)
    assert fake.errnos == []
    assert fake.calls >= 2
    assert qt_warnings.texts == []
    assert server.isListening()
    conn = net.accept(server)
    feed(conn, client, b"ok")


@pytest.mark.parametrize("err", [errno.ENFILE, errno.ENOBUFS, errno.ENOMEM],
                         ids=errno.errorcode.get)
def test_resource_accept_errors_back_off_and_recover(net: support.Harness, qt_warnings: Any,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     err: int) -> None:
    """ENFILE, ENOBUFS, ENOMEM from accept(): logged, back off, then accept as usual."""
    server = net.server("scarce")
    flaky(server, monkeypatch, err, err)
    client = net.track(connect_to("scarce"))
    assert qtry(lambda: len(server.hits) == 1, WAIT_MS)
    texts = qt_warnings.texts
    assert len(texts) == 2, texts
    assert all("out of a resource" in t and os.strerror(err) in t for t in texts), texts
    assert server.isListening()
    feed(net.accept(server), client, b"ok")


# -- socket file ownership across fork --------------------------------------------------------


def test_forked_child_closing_the_server_disturbs_nothing_of_the_parent(
        net: support.Harness) -> None:
    """The child's close() unlinks nothing and its abort of queued copies breaks nothing."""
    server = net.server("forked")
    path = server.fullServerName()
    inode = os.lstat(path).st_ino
    early = net.track(connect_to("forked"))
    assert qtry(server.hasPendingConnections, WAIT_MS)
    def child() -> bytes:
        server.close()
        return b"not listening" if not server.isListening() else b"still listening"

    assert support.run_forked(child, WAIT_MS) == b"not listening"
    assert os.lstat(path).st_ino == inode
    assert server.isListening()
    conn = server.nextPendingConnection()  # queued before the fork, aborted in the child
    assert conn is not None
    net.track(conn)
    feed(conn, early, b"parent's")
    feed(early, conn, b"still")
    round_trip(server, net, "forked")


def test_forked_child_exiting_normally_leaves_the_parents_socket(spawn: Spawn) -> None:
    """A child that drops the server and exits through sys.exit() (finalizers run)."""
    peer = spawn(QLS, "fork-exit", "forked")
    assert peer.result() == {"child_exit": 0, "same_file": True, "client_state": "ConnectedState",
                             "accepted": True, "listening": True}


# -- misbehaving application code -------------------------------------------------------------


def test_raising_slots_are_logged_and_the_connection_carries_on(
        net: support.Harness, caplog: pytest.LogCaptureFixture) -> None:
    """A slot that raises: logged with its traceback on "qlsock"; nothing else changes."""
    caplog.set_level(logging.ERROR, logger="qlsock")
    server = net.server("raising")

    def broken_on_new_connection() -> None:
        raise RuntimeError("newConnection slot failed")

    def broken_on_ready_read() -> None:
        raise ValueError("readyRead slot failed")

    server.newConnection.connect(broken_on_new_connection)
    client = net.track(connect_to("raising"))
    conn = net.accept(server)
    got: list[bytes] = []
    conn.readyRead.connect(broken_on_ready_read)
    conn.readyRead.connect(lambda: got.append(conn.readAll()))
    for message in (b"one", b"two"):
        send_now(client, message)
        assert qtry(lambda m=message: got[-1:] == [m], WAIT_MS), got
    feed(client, conn, b"reply")
    assert client.readAll() == b"reply"
    assert conn.state() == CONNECTED
    second = net.track(connect_to("raising"))  # accepting goes on in the background
    assert qtry(lambda: len(server.hits) == 2, WAIT_MS)

    records = [r for r in caplog.records if r.name == "qlsock" and r.levelno == logging.ERROR]
    raised = [r.exc_info[1] for r in records if r.exc_info]
    assert [type(e) for e in raised] == [RuntimeError, ValueError, ValueError, RuntimeError]
    tracebacks = [logging.Formatter().formatException(r.exc_info) for r in records
                  if r.exc_info]
    assert "broken_on_new_connection" in tracebacks[0]
    assert "broken_on_ready_read" in tracebacks[1]
    assert second.state() == CONNECTED


def test_a_handler_hanging_on_a_silent_client_is_woken_by_the_idle_timeout(
        net: support.Harness, spawn: Spawn) -> None:
    """A client that connects and then says nothing, forever (``nc -U`` left open).

    ``QLocalServer`` has no per-connection timeout (nor has Qt); ``LocalStreamServer``'s
    ``idle_timeout`` closes the connection, the handler hanging on it wakes up, the
    client sees the end of the stream, and the server goes on serving.
    """
    woke: list[tuple[bool, Any, str]] = []

    def handle(sock: QLocalSocket) -> None:
        if sock.waitForReadyRead(-1):  # hangs: the silent client never sends
            sock.write(sock.readAll())
            sock.waitForBytesWritten(WAIT_MS)
        else:
            woke.append((False, sock.state(), sock.errorString()))

    server = serve("idle", handle, idle_timeout=0.3)
    try:
        peer = spawn(RAW, "silent", server.fullServerName())
        assert peer.readline() == "CONNECTED"
        assert peer.expect("EOF") == "0"  # the server closed the connection
        assert qtry(lambda: bool(woke), WAIT_MS)
        assert woke[0][:2] == (False, U)
        assert "idle_timeout" in woke[0][2]
        echoed(net.track(connect_to("idle")), b"next, please")
    finally:
        server.stop(timeout=0)


def test_a_peer_that_never_reads_costs_only_what_was_queued(spawn: Spawn,
                                                           tmpdir_env: str) -> None:
    """8 MiB to a peer that reads nothing: bytesToWrite() is exactly what the kernel has
    not taken, memory grows by no more than what was queued, and once the peer reads
    every byte arrives intact."""
    path = os.path.join(tmpdir_env, "sink")
    peer = spawn(RAW, "sink", path)
    assert peer.ready() == [path]
    client = support.LocalSocket()
    client.connectToServer(path)
    assert client.state() == CONNECTED
    assert peer.readline() == "ACCEPTED"
    taken = [0]
    client.bytesWritten.connect(lambda n: taken.__setitem__(0, taken[0] + n))
    chunks = [pattern(i * MiB, MiB) for i in range(8)]  # allocated before tracing
    total = 8 * MiB

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for chunk in chunks:
            assert client.write(chunk) == MiB
            client.flush()
        while client.flush():
            pass
        assert client.waitForBytesWritten(50) is False  # the kernel takes no more
        grown = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()

    peer.send("inq")
    unread = int(peer.expect("INQ"))
    assert unread == taken[0] > 0
    assert client.bytesToWrite() == total - taken[0]
    assert client.bytesToWrite() > 6 * MiB  # the kernel holds only a few hundred KiB
    assert grown <= total + 256 * KiB, grown
    assert client.state() == CONNECTED

    peer.send("read")
    client.disconnectFromServer()  # drains the rest as the peer reads, then closes
    assert client.state() == U or client.waitForDisconnected(WAIT_MS), client.errorString()
    assert taken[0] == total
    result = peer.result()
    assert result == {"received": total, "sha256": hashlib.sha256(b"".join(chunks)).hexdigest()}
    support.check_helpers(client)
