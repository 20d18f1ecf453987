"""Interop with real Qt: PySide6 on one side, qlsock on the other, in separate processes.

Two peer programs run as child processes (``tests/peers/``): ``qt_peer.py`` uses
PySide6's QLocalServer/QLocalSocket, ``qlsock_peer.py`` is qlsock's port of Qt's
``socketprocess`` test helper. The test process itself is a qlsock end in most tests,
serving traffic while it waits for the child cooperatively (``gevent.subprocess``).

The matrix (test, where qlsock runs / where PySide6 runs, what is checked)::

    test_process_connection          Qt's processConnection: a producer process writes
                                     "test" to N consumer processes
        qlsock producer, qlsock consumers                  N = 1, 2, 5, 30
        PySide6 producer, qlsock consumers                 N = 1, 5
        qlsock producer, PySide6 consumers                 N = 1, 5
    test_consumer_retries_...        consumer started first; its 500 ms retry loop
        qlsock consumer / PySide6 producer, and the reverse
    test_exchange_with_pyside        1 B .. 4 MiB each way, sha256 on both sides
        qlsock here as server / PySide6 child as client, and the reverse
    test_standalone_programs_...     1 MiB each way between two child programs
        qlsock_peer.py and qt_peer.py, each as client and as server
    test_pyside_writes_then_...      PySide6 child writes, then at once
                                     disconnectFromServer() or close(); qlsock here has
                                     every byte before ``disconnected`` (1 B, 3 MiB)
    test_qlsock_writes_then_...      the same with qlsock here writing and the PySide6
                                     child reading; the hub drains after close()
    test_bytes_and_close_queued_...  PySide6 server child writes and closes while this
                                     process is frozen: qlsock finds bytes and end of
                                     stream together and still reads first (1 B, 64 KiB)
    test_relative_name_...           a relative name gives the same path on both sides:
                                     $TMPDIR plain, unclean, with ".." above the
                                     root, symlinked, relative
    test_absolute_path_...           an absolute name is the path verbatim ($TMPDIR
                                     ignored), clean and unclean spellings

Each PySide6 test runs with the PySide6 side as client and as server.

Every child gets the environment explicitly, with the test's private ``$TMPDIR``, so
both libraries resolve relative names in the same directory. Children report through
stdout: ``READY <fullServerName>`` once a server listens, ``RESULT <json>`` at the end.
"""

from __future__ import annotations

import hashlib
import os
import random
import stat
from collections.abc import Iterator

import gevent
import gevent.monkey
import pytest

from qlsock import QLocalSocket

from .peers.process import (
    QLSOCK_PEER,
    QT_PEER,
    WAIT_MS,
    WAIT_S,
    Peer,
    Spawn,
    accept_one,
    spawner,
)
from .support import (
    SOCKET_SIGNALS,
    EventLog,
    LocalServer,
    Reader,
    check_helpers,
    connect_to,
    qtry,
)

PEERS = {"qt": QT_PEER, "qlsock": QLSOCK_PEER}
MiB = 1024 * 1024

CLOSING = QLocalSocket.ClosingState
UNCONNECTED = QLocalSocket.UnconnectedState
PEER_CLOSED = QLocalSocket.PeerClosedError


def payload(seed: int, size: int) -> bytes:
    """The bytes a peer with *seed* sends (the same function as in the peers)."""
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- child processes ---------------------------------------------------------------------


@pytest.fixture
def spawn(tmpdir_env: str) -> Iterator[Spawn]:
    """Start peer programs with this test's $TMPDIR and cwd; reaped at teardown."""
    with spawner() as start:
        yield start


# -- the qlsock end in this process ------------------------------------------------------


def pair_with_qt(spawn: Spawn, qt_role: str, name: str,
                 *qt_args: object) -> tuple[Peer, QLocalSocket, LocalServer | None, str]:
    """Start ``qt_peer.py *qt_args`` in *qt_role* and connect qlsock's end (waitFor style).

    Returns the peer, qlsock's socket, qlsock's server (None when Qt listens) and
    the fullServerName the listening side reported.
    """
    if qt_role == "client":
        server = LocalServer()
        assert server.listen(name), server.errorString()
        peer = spawn(QT_PEER, *qt_args)
        return peer, accept_one(server, peer), server, server.fullServerName()
    peer = spawn(QT_PEER, *qt_args)
    full = peer.ready()[0]
    return peer, connect_to(name), None, full


def exchange(sock: QLocalSocket, size: int, seed: int) -> bytes:
    """Send ``payload(seed, size)`` while reading *size* bytes; drain; the bytes read."""
    assert sock.write(payload(seed, size)) == size
    received = bytearray()
    while len(received) < size:
        if not sock.bytesAvailable():
            assert sock.waitForReadyRead(WAIT_MS), \
                f"{len(received)} of {size} bytes: {sock.errorString()}"
        received += sock.readAll()
    while sock.bytesToWrite():
        assert sock.waitForBytesWritten(WAIT_MS), sock.errorString()
    return bytes(received)


def wait_peer_close(sock: QLocalSocket) -> None:
    """The Qt side closes once it has everything: see that close (if not seen yet)."""
    if sock.state() != UNCONNECTED:
        assert sock.waitForDisconnected(WAIT_MS), sock.errorString()
    assert sock.state() == UNCONNECTED


# -- processConnection -------------------------------------------------------------------

PROCESS_ROWS = [
    *(pytest.param("qlsock", "qlsock", n, id=f"qlsock-producer-qlsock-{n}-clients")
      for n in (1, 2, 5, 30)),
    *(pytest.param("qt", "qlsock", n, id=f"pyside-producer-qlsock-{n}-clients") for n in (1, 5)),
    *(pytest.param("qlsock", "qt", n, id=f"qlsock-producer-pyside-{n}-clients") for n in (1, 5)),
]


@pytest.mark.parametrize(("producer", "consumer", "processes"), PROCESS_ROWS)
def test_process_connection(spawn: Spawn, producer: str, consumer: str, processes: int) -> None:
    """Qt's processConnection: a producer process writes "test" to N consumer processes."""
    server = spawn(PEERS[producer], "--server", processes)
    # Printed right before listen(): starting the consumers now keeps their 5 s retry
    # budget for the connect itself, however slowly the producer's interpreter started.
    assert server.readline() == 'server: listen on "qlocalsocket_autotest"', server.transcript()
    clients = [spawn(PEERS[consumer], "--client") for _ in range(processes)]
    for client in clients:
        assert client.finish(20) == 0, client.transcript()
        assert "client: received b'test'\n" in client.stdout, client.transcript()
    assert server.finish(15) == 0, server.transcript()
    assert server.stdout.count("server: data written\n") == processes, server.transcript()


@pytest.mark.parametrize(("producer", "consumer"), [("qt", "qlsock"), ("qlsock", "qt")],
                         ids=["pyside-producer", "qlsock-producer"])
def test_consumer_retries_until_producer_listens(spawn: Spawn, producer: str,
                                                 consumer: str) -> None:
    """socketprocess's client retries a missing server every 500 ms until it can connect."""
    client = spawn(PEERS[consumer], "--client")
    assert client.readline() == 'client: connecting to "qlocalsocket_autotest"'
    assert client.readline() == "client: server not found. Trying again...", \
        client.transcript()
    server = spawn(PEERS[producer], "--server", 1)
    assert client.finish(20) == 0, client.transcript()
    assert server.finish(15) == 0, server.transcript()
    assert "client: received b'test'\n" in client.stdout, client.transcript()


# -- data both ways ----------------------------------------------------------------------

EXCHANGE_SIZES = [
    pytest.param(1, id="1B"),
    pytest.param(1000, id="1000B"),
    pytest.param(64 * 1024 + 1, id="64KiB+1"),
    pytest.param(MiB + 3, id="1MiB+3"),
    pytest.param(4 * MiB, id="4MiB"),
]


@pytest.mark.parametrize("size", EXCHANGE_SIZES)
@pytest.mark.parametrize("qt_role", ["client", "server"], ids=["pyside-client", "pyside-server"])
def test_exchange_with_pyside(spawn: Spawn, qt_role: str, size: int) -> None:
    """PySide6 and qlsock (this process) swap *size* bytes each way; sha256 checked on both."""
    qt_seed, our_seed = 1_000_000 + size, 2_000_000 + size
    peer, sock, server, _full = pair_with_qt(
        spawn, qt_role, "xchg", "--exchange", qt_role, "--name", "xchg", "--size", size,
        "--seed", qt_seed, "--peer-seed", our_seed)
    log = EventLog(sock, "errorOccurred", "disconnected")

    received = exchange(sock, size, our_seed)
    assert len(received) == size
    assert sha256(received) == sha256(payload(qt_seed, size))
    wait_peer_close(sock)
    assert log.events == [("errorOccurred", PEER_CLOSED), ("disconnected",)]

    result = peer.result()
    assert result["received"] == size
    assert result["received_sha256"] == sha256(payload(our_seed, size))
    assert result["sent_sha256"] == sha256(payload(qt_seed, size))
    check_helpers(sock, server)
    if server is not None:
        server.close()


@pytest.mark.parametrize("qlsock_role", ["client", "server"],
                         ids=["qlsock-client", "qlsock-server"])
def test_standalone_programs_exchange(spawn: Spawn, tmpdir_env: str, qlsock_role: str) -> None:
    """A standalone qlsock program and a standalone PySide6 program swap 1 MiB each way."""
    size = MiB + 5
    programs = {"client": QLSOCK_PEER, "server": QT_PEER}
    if qlsock_role == "server":
        programs = {"client": QT_PEER, "server": QLSOCK_PEER}
    common = ("--name", "duo", "--size", size)
    server = spawn(programs["server"], "--exchange", "server", *common,
                   "--seed", 11, "--peer-seed", 22)
    full = server.ready()[0]
    client = spawn(programs["client"], "--exchange", "client", *common,
                   "--seed", 22, "--peer-seed", 11)
    client_result, server_result = client.result(), server.result()

    assert full == f"{tmpdir_env}/duo"
    assert client_result["full_server_name"] == server_result["full_server_name"] == full
    assert client_result["received_sha256"] == server_result["sent_sha256"] \
        == sha256(payload(11, size))
    assert server_result["received_sha256"] == client_result["sent_sha256"] \
        == sha256(payload(22, size))


# -- a writer that closes right after write() ---------------------------------------------

CLOSE_SIZES = [pytest.param(1, id="1B"), pytest.param(3 * MiB + 7, id="3MiB+7")]
CLOSE_CALLS = ["disconnectFromServer", "close"]
QT_ROLES = pytest.mark.parametrize("qt_role", ["client", "server"],
                                   ids=["pyside-client", "pyside-server"])


def check_read_everything_first(reader: Reader, expected: bytes) -> None:
    """Every byte was read in readyRead slots before the peer-close sequence ran."""
    assert reader.at_disconnected == len(expected)
    assert reader.available_at_disconnected == 0
    assert sha256(bytes(reader.data)) == sha256(expected)
    events = reader.log.events
    assert events[-5:] == [("errorOccurred", PEER_CLOSED), ("stateChanged", CLOSING),
                           ("stateChanged", UNCONNECTED), ("readChannelFinished",),
                           ("disconnected",)], events
    assert {e[0] for e in events[:-5]} == {"readyRead"}, events  # one or more
    assert reader.sock.state() == UNCONNECTED
    assert reader.sock.readAll() == b""


@pytest.mark.parametrize("size", CLOSE_SIZES)
@pytest.mark.parametrize("close_with", CLOSE_CALLS)
@QT_ROLES
def test_pyside_writes_then_closes_qlsock_reads_everything_first(
        spawn: Spawn, qt_role: str, close_with: str, size: int) -> None:
    """PySide6 writes then closes at once: qlsock has every byte before ``disconnected``."""
    seed = 3_000_000 + size
    qt_args = ("--send-and-close", qt_role, "--name", "wclose", "--size", size,
               "--seed", seed, "--close-with", close_with)
    readers: list[Reader] = []
    server: LocalServer | None = None
    if qt_role == "client":
        listening = server = LocalServer()
        assert server.listen("wclose"), server.errorString()
        # Slots go on in newConnection, before the hub can deliver any of its data.
        server.newConnection.connect(
            lambda: readers.append(Reader(listening.nextPendingConnection())))
        peer = spawn(QT_PEER, *qt_args)
    else:
        peer = spawn(QT_PEER, *qt_args)
        peer.ready()
        readers.append(Reader(connect_to("wclose")))

    finished = qtry(lambda: bool(readers) and readers[0].finished, WAIT_MS)
    result = peer.result()
    assert finished, f"{readers[0].log.events if readers else 'no connection'}" \
        f"{peer.transcript()}"
    assert result["sent"] == result["bytes_written"] == size

    check_read_everything_first(readers[0], payload(seed, size))
    assert result["sent_sha256"] == sha256(payload(seed, size))
    check_helpers(readers[0].sock, server)
    if server is not None:
        server.close()


@pytest.mark.parametrize("size", [pytest.param(1, id="1B"), pytest.param(64 * 1024, id="64KiB")])
def test_bytes_and_close_queued_together_still_read_first(spawn: Spawn, size: int) -> None:
    """Bytes and the peer's close found in one go: readyRead with all bytes, then disconnected."""
    seed = 5_000_000 + size
    peer = spawn(QT_PEER, "--send-and-close", "server", "--name", "eof", "--size", size,
                 "--seed", seed)
    peer.ready()
    client = connect_to("eof")
    reader = Reader(client)
    # Freeze the whole process, hub included, until the PySide6 writer reports that it
    # has closed: qlsock then finds the bytes and the end of the stream queued together
    # (64 KiB, one full read chunk, fits the kernel's socket buffer, so the writer never
    # needs this process to read).
    blocking_select = gevent.monkey.get_original("select", "select")
    assert peer.proc.stdout is not None
    readable, _, _ = blocking_select([peer.proc.stdout.fileno()], [], [], WAIT_S)
    assert readable, peer.transcript()
    assert reader.log.events == []

    finished = qtry(lambda: reader.finished, WAIT_MS)
    result = peer.result()
    assert finished, f"{reader.log.events}{peer.transcript()}"
    check_read_everything_first(reader, payload(seed, size))
    assert result["sent"] == result["bytes_written"] == size
    check_helpers(client)


@pytest.mark.parametrize("size", CLOSE_SIZES)
@pytest.mark.parametrize("close_with", CLOSE_CALLS)
@QT_ROLES
def test_qlsock_writes_then_closes_pyside_reads_everything_first(
        spawn: Spawn, qt_role: str, close_with: str, size: int) -> None:
    """qlsock writes then disconnectFromServer()/close() at once: PySide6 gets every byte."""
    seed = 4_000_000 + size
    data = payload(seed, size)
    peer, sock, server, _full = pair_with_qt(
        spawn, qt_role, "rclose", "--read-until-close", qt_role, "--name", "rclose",
        "--size", size, "--peer-seed", seed)
    log = EventLog(sock, *SOCKET_SIGNALS)

    assert sock.write(data) == size
    assert sock.bytesToWrite() == size  # write() only buffers
    getattr(sock, close_with)()
    # The data is still pending, so the connection stays in Closing until it drains.
    assert sock.state() == CLOSING
    assert sock.isOpen() is (close_with == "disconnectFromServer")
    # The hub drains in the background while this greenlet waits.
    assert qtry(lambda: "disconnected" in log.names(), WAIT_MS), log.events
    result = peer.result()

    assert result["received_before_disconnected"] == size
    assert result["available_at_disconnected"] == 0
    assert result["leftover_after_disconnected"] == 0
    assert result["received_sha256"] == sha256(data)
    assert result["errors"] == ["PeerClosedError"]

    events = log.events
    head = [("aboutToClose",)] if close_with == "close" else []
    head.append(("stateChanged", CLOSING))
    assert events[:len(head)] == head, events
    assert events[-3:] == [("stateChanged", UNCONNECTED), ("readChannelFinished",),
                           ("disconnected",)], events
    middle = events[len(head):-3]
    assert {e[0] for e in middle} == {"bytesWritten"}, events
    assert sum(e[1] for e in middle) == size
    assert sock.state() == UNCONNECTED
    assert sock.bytesToWrite() == 0
    check_helpers(sock, server)
    if server is not None:
        server.close()


# -- name resolution ---------------------------------------------------------------------

TMPDIR_FORMS = ["plain", "unclean", "above-root", "symlink", "relative"]


@pytest.mark.parametrize("form", TMPDIR_FORMS)
@QT_ROLES
def test_relative_name_resolves_to_the_same_path(
        spawn: Spawn, tmpdir_env: str, monkeypatch: pytest.MonkeyPatch,
        qt_role: str, form: str) -> None:
    """A relative name resolves against $TMPDIR to the same socket path in PySide6 and qlsock."""
    base = tmpdir_env
    if form == "plain":
        tmp = where = base
    elif form == "unclean":  # doubled slash, ".", ".." over a missing directory, trailing /
        tmp, where = f"{base}//./missing/../", base
    elif form == "above-root":  # QDir::cleanPath keeps ".." above the root ("/..")
        tmp = where = f"/..{base}"
    elif form == "symlink":  # not resolved: the path goes through the link
        os.mkdir(f"{base}/real")
        os.symlink(f"{base}/real", f"{base}/link")
        tmp = where = f"{base}/link"
    else:  # relative to the working directory
        os.mkdir(f"{base}/rel")
        monkeypatch.chdir(base)
        tmp, where = "rel", f"{base}/rel"
    monkeypatch.setenv("TMPDIR", tmp)
    name = "relname"
    expected = f"{where}/{name}"

    peer, sock, server, full = pair_with_qt(
        spawn, qt_role, name, "--exchange", qt_role, "--name", name, "--size", 5,
        "--seed", 1, "--peer-seed", 2)
    assert full == expected
    assert stat.S_ISSOCK(os.lstat(expected).st_mode)
    if server is not None:
        assert (server.serverName(), server.fullServerName()) == (name, expected)
    assert (sock.serverName(), sock.fullServerName()) == (name, expected)
    assert exchange(sock, 5, 2) == payload(1, 5)
    wait_peer_close(sock)
    result = peer.result()
    assert (result["server_name"], result["full_server_name"]) == (name, expected)
    check_helpers(sock, server)
    if server is not None:
        server.close()


@pytest.mark.parametrize("spelling", ["clean", "unclean"])
@QT_ROLES
def test_absolute_path_is_used_as_given(
        spawn: Spawn, tmpdir_env: str, monkeypatch: pytest.MonkeyPatch,
        qt_role: str, spelling: str) -> None:
    """An absolute name is the socket path verbatim on both sides, whatever $TMPDIR says."""
    os.mkdir(f"{tmpdir_env}/abs")
    os.mkdir(f"{tmpdir_env}/elsewhere")
    monkeypatch.setenv("TMPDIR", f"{tmpdir_env}/elsewhere")
    path = f"{tmpdir_env}/abs/sock" if spelling == "clean" else f"{tmpdir_env}//abs/./sock"

    peer, sock, server, full = pair_with_qt(
        spawn, qt_role, path, "--exchange", qt_role, "--name", path, "--size", 5,
        "--seed", 1, "--peer-seed", 2)
    assert full == path
    assert stat.S_ISSOCK(os.lstat(f"{tmpdir_env}/abs/sock").st_mode)
    assert os.listdir(f"{tmpdir_env}/elsewhere") == []
    if server is not None:
        assert server.serverName() == server.fullServerName() == path
    assert sock.fullServerName() == path
    assert sock.serverName() == (path if qt_role == "server" else "sock")
    assert exchange(sock, 5, 2) == payload(1, 5)
    wait_peer_close(sock)
    result = peer.result()
    assert result["full_server_name"] == path
    assert result["server_name"] == (path if qt_role == "client" else "sock")
    check_helpers(sock, server)
    if server is not None:
        server.close()
