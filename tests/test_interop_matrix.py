"""The interop matrix: qlsock (this process) against real Qt (PySide6 child processes).

Rows are scenarios, columns the two directions. ``pyside-server``: the PySide6 child
listens and qlsock (this process) connects; ``pyside-client``: qlsock listens here and
the child connects. A cell says what runs in that direction::

    row scenario                                  PySide6 server           qlsock server
                                                  <-> qlsock client        <-> PySide6 client
    --- ----------------------------------------- ------------------------ ------------------------
    1   data both ways, sha256 on both ends,      1 B, 64 KiB, 16 MiB      1 B, 64 KiB, 16 MiB
        mixed-size chunked writes on both sides
    2a  PySide6 writes 16 MiB in chunks, then     disconnectFromServer,    disconnectFromServer,
        closes: qlsock has every byte when its    close                    close
        `disconnected` fires
    2b  qlsock writes 16 MiB in chunks, then      disconnectFromServer,    disconnectFromServer,
        closes: PySide6 has every byte when its   close                    close
        `disconnected` fires
    3   abstract names (Linux): fullServerName    abstract + path server;  abstract + path server;
        agrees, a mismatched option never         3 mismatched qlsock      3 mismatched PySide6
        connects (same error in both libraries)   clients                  clients
    4   access options: the same os.stat modes    User, Group, Other,      User, Group, Other,
        (0700/0070/0007/0777), clients of the     World (+ none: umask)    World
        other library connect
    5   30 clients connecting at once, each       30 qlsock clients        30 QLocalSockets in
        echoing a distinct message                                         one PySide6 process
    6   backlog 1, server not accepting: extra    Qt: backlog 1, max       qlsock: backlog 1, max
        clients stay Connecting, connect when     pending 0 until told     pending 0 until raised
        it accepts, then exchange data            on stdin
    7   serverName/fullServerName of client and   phase A of each form     phase B of each form
        accepted sockets agree (relative names)   (plain, subdir, symlinked $TMPDIR, access option)

    row  test
    1    test_chunked_data_both_ways[pyside-server|pyside-client-<size>]
    2a   test_pyside_writes_16mib_then_closes_qlsock_reads_everything_first
    2b   test_qlsock_writes_16mib_then_closes_pyside_reads_everything_first
    3    test_abstract_pyside_server_qlsock_clients, test_abstract_qlsock_server_pyside_clients
    4    test_access_options_pyside_servers_qlsock_clients,
         test_access_options_qlsock_servers_pyside_clients
    5    test_thirty_qlsock_clients_at_once_pyside_server,
         test_thirty_pyside_clients_at_once_qlsock_server
    6    test_qlsock_clients_wait_for_full_pyside_backlog,
         test_pyside_clients_wait_for_full_qlsock_backlog
    7    test_names_agree[<form>]

The PySide6 side is ``tests/peers/qt_peer.py``: ``--exchange``, ``--send-and-close`` and
``--read-until-close`` for one connection, ``--echo-server`` (echo servers on several
names; ``--hold`` keeps it from accepting until told on stdin) and ``--echo-clients``
(many QLocalSockets in one process connecting at once). Children get the environment
explicitly (this test's ``$TMPDIR``, ``QT_QPA_PLATFORM=offscreen``, this checkout on
``PYTHONPATH``), talk through ``READY``/``RESULT`` lines on stdout and take commands on
stdin. Waiting on a child only yields this greenlet (``gevent.subprocess``), so the hub
keeps serving qlsock's side meanwhile. Abstract names are machine-global and carry this
process's pid and the test's ``$TMPDIR`` basename.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import stat
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from qlsock import QLocalServer, QLocalSocket

from .peers.process import QT_PEER, WAIT_MS, Spawn, accept_one, spawner
from .support import (
    SOCKET_SIGNALS,
    EventLog,
    LocalServer,
    LocalSocket,
    Reader,
    check_helpers,
    connect_to,
    listening,
    qtry,
)

KiB = 1024
MiB = 1024 * KiB

CONNECTING = QLocalSocket.ConnectingState
CONNECTED = QLocalSocket.ConnectedState
CLOSING = QLocalSocket.ClosingState
UNCONNECTED = QLocalSocket.UnconnectedState
PEER_CLOSED = QLocalSocket.PeerClosedError
ABSTRACT = QLocalSocket.AbstractNamespaceOption
SERVER_ABSTRACT = QLocalServer.AbstractNamespaceOption
NO_SOCKET_OPTIONS = QLocalSocket.SocketOption(0)

QT_ROLES = pytest.mark.parametrize("qt_role", ["server", "client"],
                                   ids=["pyside-server", "pyside-client"])

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="abstract names and backlog counts are Linux's")


def payload(seed: int, size: int) -> bytes:
    """The bytes a peer with *seed* sends (the same function as in the peers)."""
    return random.Random(seed).randbytes(size)


def message(seed: int, index: int, size: int) -> bytes:
    """What echo client *index* sends (the same function as in ``qt_peer.py``)."""
    return payload(seed + index, size + index)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- child processes ---------------------------------------------------------------------


@pytest.fixture
def spawn(tmpdir_env: str) -> Iterator[Spawn]:
    """Start ``qt_peer.py`` with this test's $TMPDIR, cwd and headless Qt; reaped after."""
    with spawner() as start:
        yield functools.partial(start, QT_PEER)


@pytest.fixture
def abstract_name(tmpdir_env: str) -> Callable[[str], str]:
    """Machine-unique abstract names: this pid and the test's $TMPDIR basename."""
    return lambda tag: f"qlsock-matrix-{os.getpid()}-{os.path.basename(tmpdir_env)}-{tag}"


# -- the qlsock end ------------------------------------------------------------------------


class Connection:
    """One connection accepted by :class:`EchoService`: echoes whatever it reads."""

    def __init__(self, server_index: int, sock: QLocalSocket) -> None:
        self.server_index = server_index
        self.sock = sock
        self.names = (sock.serverName(), sock.fullServerName())
        self.options = sock.socketOptions()
        self.received = bytearray()
        self.disconnected = False
        sock.readyRead.connect(self.echo)
        sock.disconnected.connect(self._disconnected)
        self.echo()

    def echo(self) -> None:
        data = self.sock.readAll()
        if data:
            self.received += data
            assert self.sock.write(data) == len(data)

    def _disconnected(self) -> None:
        self.disconnected = True


class EchoService:
    """qlsock echo servers in this process; every connection is taken at once."""

    def __init__(self) -> None:
        self.servers: list[LocalServer] = []
        self.connections: list[Connection] = []

    def listen(self, name: str, options: Any = 0, backlog: int | None = None,
               max_pending: int | None = None) -> LocalServer:
        server = listening(name, options, backlog, max_pending)
        index = len(self.servers)
        server.newConnection.connect(lambda: self._take(index))
        self.servers.append(server)
        return server

    def _take(self, index: int) -> None:
        server = self.servers[index]
        while (sock := server.nextPendingConnection()) is not None:
            self.connections.append(Connection(index, sock))

    def received(self) -> list[bytes]:
        return [bytes(c.received) for c in self.connections]

    def close(self) -> None:
        check_helpers(*self.servers)
        for server in self.servers:
            server.close()


class EchoClient:
    """A qlsock client that sends one message and collects the echo in a slot."""

    def __init__(self, name: str, msg: bytes, options: Any = NO_SOCKET_OPTIONS) -> None:
        self.sock = LocalSocket()
        self.msg = msg
        self.received = bytearray()
        self.log = EventLog(self.sock, *SOCKET_SIGNALS)
        self.sock.setSocketOptions(options)
        self.sock.readyRead.connect(self._read)
        self.sock.connectToServer(name)

    def _read(self) -> None:
        self.received += self.sock.readAll()

    def send(self) -> None:
        assert self.sock.write(self.msg) == len(self.msg), self.sock.errorString()

    @property
    def echoed(self) -> bool:
        return len(self.received) >= len(self.msg)


def echo_all(clients: list[EchoClient]) -> None:
    """Every client sends its message and gets exactly it back; then all disconnect."""
    for client in clients:
        client.send()
    assert qtry(lambda: all(c.echoed for c in clients), WAIT_MS), \
        [(len(c.received), len(c.msg)) for c in clients]
    for client in clients:
        assert bytes(client.received) == client.msg
        client.sock.disconnectFromServer()
    assert qtry(lambda: all(c.sock.state() == UNCONNECTED for c in clients), WAIT_MS)
    check_helpers(*(c.sock for c in clients))


def write_in_chunks(sock: QLocalSocket, data: bytes, chunks: list[int], flush: bool) -> None:
    """``write()`` pieces cycling through *chunks* in size, ``flush()`` after each if asked.

    Without *flush* every piece stays in the write buffer (``write()`` never sends), and
    the hub later sends them gathered.
    """
    offset, index = 0, 0
    while offset < len(data):
        piece = data[offset:offset + chunks[index % len(chunks)]]
        assert sock.write(piece) == len(piece), sock.errorString()
        if flush:
            sock.flush()
        offset += len(piece)
        index += 1


# -- 1. data both ways ---------------------------------------------------------------------

DATA_SIZES = [pytest.param(1, id="1B"), pytest.param(64 * KiB, id="64KiB"),
              pytest.param(16 * MiB, id="16MiB")]
#: Piece sizes of the PySide6 writer and of qlsock's: tiny, page-sized, around one
#: kernel read (64 KiB) and around a megabyte, in different orders.
QT_CHUNKS = "1,2,3,511,4096,65535,65536,65537,1000003"
OUR_CHUNKS = [1000003, 65537, 7, 4096, 1, 65536, 300000, 2, 65535]


@pytest.mark.parametrize("size", DATA_SIZES)
@QT_ROLES
def test_chunked_data_both_ways(spawn: Spawn, qt_role: str, size: int) -> None:
    """Both sides write *size* bytes in mixed-size pieces at once; sha256 matches on both."""
    qt_seed, our_seed = 10_000_000 + size, 20_000_000 + size
    args = ("--exchange", qt_role, "--name", "chunks", "--size", size, "--seed", qt_seed,
            "--peer-seed", our_seed, "--chunks", QT_CHUNKS)
    server: LocalServer | None = None
    if qt_role == "server":
        peer = spawn(*args)
        full = peer.ready()[0]
        sock: QLocalSocket = connect_to("chunks")
    else:
        server = LocalServer()
        assert server.listen("chunks"), server.errorString()
        full = server.fullServerName()
        peer = spawn(*args)
        sock = accept_one(server, peer)
    log = EventLog(sock, "errorOccurred", "disconnected")
    received = bytearray(sock.readAll())
    sock.readyRead.connect(lambda: received.extend(sock.readAll()))

    write_in_chunks(sock, payload(our_seed, size), OUR_CHUNKS, flush=True)
    # PySide6 disconnects once it has every byte and has sent all of its own.
    assert qtry(lambda: "disconnected" in log.names(), WAIT_MS), \
        f"{len(received)} of {size} bytes, {sock.bytesToWrite()} unsent{peer.transcript()}"
    result = peer.result()

    assert len(received) == size
    assert sha256(bytes(received)) == sha256(payload(qt_seed, size))
    assert sock.bytesToWrite() == 0
    assert log.events == [("errorOccurred", PEER_CLOSED), ("disconnected",)]
    assert result["received"] == result["sent"] == size
    assert result["received_sha256"] == sha256(payload(our_seed, size))
    assert result["sent_sha256"] == sha256(payload(qt_seed, size))
    assert result["full_server_name"] == full
    check_helpers(sock, server)
    if server is not None:
        server.close()


# -- 2. a writer that closes right after writing ------------------------------------------

BIG = 16 * MiB
CLOSE_CALLS = ["disconnectFromServer", "close"]


@pytest.mark.parametrize("close_with", CLOSE_CALLS)
@QT_ROLES
def test_pyside_writes_16mib_then_closes_qlsock_reads_everything_first(
        spawn: Spawn, qt_role: str, close_with: str) -> None:
    """PySide6 writes 16 MiB in pieces then closes: qlsock has it all when disconnected fires."""
    seed = 30_000_000
    args = ("--send-and-close", qt_role, "--name", "wclose", "--size", BIG, "--seed", seed,
            "--close-with", close_with, "--chunks", QT_CHUNKS)
    readers: list[Reader] = []
    server: LocalServer | None = None
    if qt_role == "server":
        peer = spawn(*args)
        peer.ready()
        readers.append(Reader(connect_to("wclose")))
    else:
        listening = server = LocalServer()
        assert server.listen("wclose"), server.errorString()
        # The reader's slots go on in newConnection, before any data can be delivered.
        server.newConnection.connect(
            lambda: readers.append(Reader(listening.nextPendingConnection())))
        peer = spawn(*args)

    finished = qtry(lambda: bool(readers) and readers[0].finished, WAIT_MS)
    result = peer.result()
    assert finished, f"{readers[0].log.events if readers else 'no connection'}" \
        f"{peer.transcript()}"
    reader = readers[0]
    assert result["sent"] == result["bytes_written"] == BIG
    assert result["sent_sha256"] == sha256(payload(seed, BIG))

    assert reader.at_disconnected == BIG
    assert reader.available_at_disconnected == 0
    assert sha256(bytes(reader.data)) == sha256(payload(seed, BIG))
    events = reader.log.events
    assert events[-5:] == [("errorOccurred", PEER_CLOSED), ("stateChanged", CLOSING),
                           ("stateChanged", UNCONNECTED), ("readChannelFinished",),
                           ("disconnected",)], events[-8:]
    assert {e[0] for e in events[:-5]} == {"readyRead"}
    assert reader.sock.readAll() == b""
    check_helpers(reader.sock, server)
    if server is not None:
        server.close()


@pytest.mark.parametrize("close_with", CLOSE_CALLS)
@QT_ROLES
def test_qlsock_writes_16mib_then_closes_pyside_reads_everything_first(
        spawn: Spawn, qt_role: str, close_with: str) -> None:
    """qlsock writes 16 MiB in pieces then closes: PySide6 has it all when disconnected fires."""
    seed = 40_000_000
    data = payload(seed, BIG)
    args = ("--read-until-close", qt_role, "--name", "rclose", "--size", BIG,
            "--peer-seed", seed)
    server: LocalServer | None = None
    if qt_role == "server":
        peer = spawn(*args)
        peer.ready()
        sock: QLocalSocket = connect_to("rclose")
    else:
        server = LocalServer()
        assert server.listen("rclose"), server.errorString()
        peer = spawn(*args)
        sock = accept_one(server, peer)
    log = EventLog(sock, *SOCKET_SIGNALS)

    write_in_chunks(sock, data, OUR_CHUNKS, flush=False)
    assert sock.bytesToWrite() == BIG  # write() only buffers
    getattr(sock, close_with)()
    # The data is still pending, so the connection stays Closing until it drains.
    assert sock.state() == CLOSING
    assert sock.isOpen() is (close_with == "disconnectFromServer")
    assert qtry(lambda: "disconnected" in log.names(), WAIT_MS), \
        f"{sock.bytesToWrite()} bytes unsent{peer.transcript()}"
    result = peer.result()

    assert result["received_before_disconnected"] == BIG
    assert result["available_at_disconnected"] == 0
    assert result["leftover_after_disconnected"] == 0
    assert result["received_sha256"] == sha256(data)
    assert result["errors"] == ["PeerClosedError"]
    events = log.events
    assert events[-3:] == [("stateChanged", UNCONNECTED), ("readChannelFinished",),
                           ("disconnected",)], events[-6:]
    assert sum(e[1] for e in events if e[0] == "bytesWritten") == BIG
    assert sock.bytesToWrite() == 0
    check_helpers(sock, server)
    if server is not None:
        server.close()


# -- 3. abstract namespace -----------------------------------------------------------------


@linux_only
def test_abstract_pyside_server_qlsock_clients(
        spawn: Spawn, tmpdir_env: str, abstract_name: Callable[[str], str]) -> None:
    """qlsock reaches a PySide6 abstract server only with AbstractNamespaceOption."""
    name = abstract_name("qt")
    peer = spawn("--echo-server", "--listen", f"Abstract:{name}", "--listen", ":plain")
    qt_abstract_full, qt_plain_full = peer.ready(2)
    assert qt_abstract_full == name
    assert qt_plain_full == f"{tmpdir_env}/plain"
    assert not os.path.exists(f"{tmpdir_env}/{name}")

    good = EchoClient(name, message(1, 0, 100), ABSTRACT)
    assert good.sock.state() == CONNECTED, good.sock.errorString()
    assert (good.sock.serverName(), good.sock.fullServerName()) == (name, name)
    assert good.sock.socketOptions() == ABSTRACT
    plain = EchoClient("plain", message(1, 1, 100))
    assert plain.sock.state() == CONNECTED, plain.sock.errorString()

    # Mismatched options: a path client looks for $TMPDIR/<name>, which does not exist;
    # an abstract client finds no abstract name "plain" (nor one spelled as the path).
    mismatched = [(name, NO_SOCKET_OPTIONS, QLocalSocket.ServerNotFoundError),
                  ("plain", ABSTRACT, QLocalSocket.ConnectionRefusedError),
                  (qt_plain_full, ABSTRACT, QLocalSocket.ConnectionRefusedError)]
    for target, options, error in mismatched:
        sock = LocalSocket()
        sock.setSocketOptions(options)
        sock.connectToServer(target)
        assert sock.state() == UNCONNECTED, (target, options)
        assert sock.error() == error, (target, options, sock.errorString())
        assert (sock.serverName(), sock.fullServerName()) == ("", "")
        check_helpers(sock)

    echo_all([good, plain])
    result = peer.result()
    # Exactly the two good clients reached PySide6: the mismatched ones never did.
    conns = sorted(result["connections"], key=lambda c: c["server"])
    assert [c["server"] for c in conns] == [0, 1], result
    assert (conns[0]["server_name"], conns[0]["full_server_name"]) == (name, name)
    assert conns[0]["options"] == int(ABSTRACT)
    assert conns[0]["received_sha256"] == sha256(good.msg)
    assert (conns[1]["server_name"], conns[1]["full_server_name"]) == ("plain", qt_plain_full)
    assert conns[1]["options"] == 0
    assert result["servers"][0] == {"server_name": name, "full_server_name": name}


@linux_only
def test_abstract_qlsock_server_pyside_clients(
        spawn: Spawn, tmpdir_env: str, abstract_name: Callable[[str], str]) -> None:
    """PySide6 reaches a qlsock abstract server only with AbstractNamespaceOption."""
    name = abstract_name("qlsock")
    service = EchoService()
    abstract = service.listen(name, SERVER_ABSTRACT)
    plain = service.listen("plain")
    assert (abstract.serverName(), abstract.fullServerName()) == (name, name)
    assert not os.path.exists(f"{tmpdir_env}/{name}")
    plain_full = plain.fullServerName()

    specs = [f"Abstract:{name}", f":{name}", "Abstract:plain", f"Abstract:{plain_full}",
             ":plain"]
    peer = spawn("--echo-clients", "--size", 100, "--seed", 7,
                 *(arg for spec in specs for arg in ("--connect", spec)))
    clients = peer.result()["clients"]

    good, path_to_abstract, abstract_to_plain, abstract_to_path, control = clients
    assert good["connected"], good
    assert good["echo_ok"], good
    assert (good["server_name"], good["full_server_name"]) == (name, name)
    assert good["options"] == int(ABSTRACT)
    assert control["connected"], control
    assert control["echo_ok"], control
    assert control["full_server_name"] == plain_full
    assert path_to_abstract["errors"] == ["ServerNotFoundError"]
    assert abstract_to_plain["errors"] == ["ConnectionRefusedError"]
    assert abstract_to_path["errors"] == ["ConnectionRefusedError"]
    for failed in (path_to_abstract, abstract_to_plain, abstract_to_path):
        assert not failed["connected"]
        assert failed["final_state"] == "UnconnectedState"

    assert qtry(lambda: len(service.connections) == 2
                and all(c.disconnected for c in service.connections), WAIT_MS)
    by_server = {c.server_index: c for c in service.connections}
    assert sorted(by_server) == [0, 1]  # the mismatched clients never arrived
    assert by_server[0].names == (name, name)
    assert by_server[0].options == ABSTRACT
    assert bytes(by_server[0].received) == message(7, 0, 100)
    assert by_server[1].names == ("plain", plain_full)
    assert by_server[1].options == NO_SOCKET_OPTIONS
    assert bytes(by_server[1].received) == message(7, 4, 100)
    assert (abstract.waitForNewConnection(0), plain.waitForNewConnection(0)) == \
        ((False, True), (False, True))
    service.close()


# -- 4. access options ----------------------------------------------------------------------

ACCESS = [("User", QLocalServer.UserAccessOption, 0o700),
          ("Group", QLocalServer.GroupAccessOption, 0o070),
          ("Other", QLocalServer.OtherAccessOption, 0o007),
          ("World", QLocalServer.WorldAccessOption, 0o777)]


def socket_mode(path: str) -> int:
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode), path
    return st.st_mode


def test_access_options_pyside_servers_qlsock_clients(spawn: Spawn, tmpdir_env: str) -> None:
    """PySide6 and qlsock servers give the same socket file modes; qlsock connects to Qt's."""
    peer = spawn("--echo-server", *(arg for word, _o, _m in ACCESS
                                    for arg in ("--listen", f"{word}:qt-{word}")),
                 "--listen", ":qt-none")
    qt_fulls = peer.ready(len(ACCESS) + 1)
    service = EchoService()
    for word, option, _mode in ACCESS:
        service.listen(f"ql-{word}", option)
    service.listen("ql-none")

    for (word, _option, mode), qt_full in zip(ACCESS, qt_fulls[:-1], strict=True):
        assert qt_full == f"{tmpdir_env}/qt-{word}"
        assert stat.S_IMODE(socket_mode(qt_full)) == mode, word
        assert socket_mode(f"{tmpdir_env}/ql-{word}") == socket_mode(qt_full), word
    # Without an access option both leave the mode to the umask.
    assert socket_mode(f"{tmpdir_env}/ql-none") == socket_mode(qt_fulls[-1])
    # Only the sockets are left: the private bind directories are gone on both sides.
    assert sorted(os.listdir(tmpdir_env)) == sorted(
        [f"qt-{w}" for w, _o, _m in ACCESS] + [f"ql-{w}" for w, _o, _m in ACCESS]
        + ["qt-none", "ql-none"])

    clients = [EchoClient(f"qt-{word}", message(3, i, 200))
               for i, (word, _o, _m) in enumerate(ACCESS)]
    for client in clients:
        assert client.sock.state() == CONNECTED, client.sock.errorString()
    echo_all(clients)
    result = peer.result()
    assert sorted(c["server"] for c in result["connections"]) == [0, 1, 2, 3]
    for conn in result["connections"]:
        assert conn["received_sha256"] == sha256(message(3, conn["server"], 200))
    service.close()


def test_access_options_qlsock_servers_pyside_clients(spawn: Spawn, tmpdir_env: str) -> None:
    """qlsock servers with each access option have Qt's modes and PySide6 clients connect."""
    service = EchoService()
    for word, option, mode in ACCESS:
        server = service.listen(f"ql-{word}", option)
        assert server.fullServerName() == f"{tmpdir_env}/ql-{word}"
        assert stat.S_IMODE(socket_mode(server.fullServerName())) == mode, word
        assert server.socketOptions() == option

    peer = spawn("--echo-clients", "--size", 200, "--seed", 5,
                 *(arg for word, _o, _m in ACCESS for arg in ("--connect", f":ql-{word}")))
    clients = peer.result()["clients"]
    for (word, _option, _mode), client in zip(ACCESS, clients, strict=True):
        assert client["connected"], (word, client)
        assert client["echo_ok"], (word, client)
        assert client["full_server_name"] == f"{tmpdir_env}/ql-{word}"
    assert qtry(lambda: len(service.connections) == len(ACCESS)
                and all(c.disconnected for c in service.connections), WAIT_MS)
    for conn in service.connections:
        assert bytes(conn.received) == message(5, conn.server_index, 200)
    service.close()


# -- 5. thirty clients at once ---------------------------------------------------------------

CROWD = 30


def test_thirty_pyside_clients_at_once_qlsock_server(spawn: Spawn) -> None:
    """30 QLocalSockets in one PySide6 process connect at once; qlsock echoes each message."""
    service = EchoService()
    server = service.listen("crowd")
    peer = spawn("--echo-clients", "--connect", ":crowd", "--count", CROWD,
                 "--size", 3000, "--seed", 100)
    states = peer.expect_json("STATES")
    clients = peer.result()["clients"]

    # A Unix client is connected once the kernel queues it (backlog 50 > 30).
    assert states == ["ConnectedState"] * CROWD
    assert [c["echo_ok"] for c in clients] == [True] * CROWD, clients
    assert [c["echoed"] for c in clients] == [3000 + i for i in range(CROWD)]
    assert qtry(lambda: len(service.connections) == CROWD
                and all(c.disconnected for c in service.connections), WAIT_MS)
    assert sorted(service.received()) == sorted(message(100, i, 3000) for i in range(CROWD))
    assert {c.names for c in service.connections} == {("crowd", server.fullServerName())}
    service.close()


def test_thirty_qlsock_clients_at_once_pyside_server(spawn: Spawn) -> None:
    """30 qlsock clients connect to one PySide6 server at once; each gets its message back."""
    peer = spawn("--echo-server", "--listen", ":crowd")
    full = peer.ready()[0]
    clients = [EchoClient("crowd", message(200, i, 3000)) for i in range(CROWD)]
    assert [c.sock.state() for c in clients] == [CONNECTED] * CROWD
    echo_all(clients)
    result = peer.result()

    conns = result["connections"]
    assert len(conns) == CROWD
    assert sorted(c["received_sha256"] for c in conns) == \
        sorted(sha256(message(200, i, 3000)) for i in range(CROWD))
    assert {(c["server_name"], c["full_server_name"]) for c in conns} == {("crowd", full)}


# -- 6. a full listen backlog ----------------------------------------------------------------

BACKLOG = 1
#: Linux queues backlog + 1 unaccepted connections; the next connect gets EAGAIN.
QUEUED = BACKLOG + 1
WAITERS = 3


@linux_only
def test_qlsock_clients_wait_for_full_pyside_backlog(spawn: Spawn) -> None:
    """qlsock clients beyond a held PySide6 server's backlog stay Connecting, then connect."""
    peer = spawn("--echo-server", "--listen", ":full", "--backlog", BACKLOG, "--hold")
    peer.ready()
    clients = [EchoClient("full", message(300, i, 500)) for i in range(QUEUED + WAITERS)]
    assert [c.sock.state() for c in clients] == [CONNECTED] * QUEUED + [CONNECTING] * WAITERS
    waiting = clients[QUEUED:]

    # Round trips through the PySide6 event loop while the clients retry in the
    # background: Qt accepts nothing, and the clients stay Connecting, silently.
    for _ in range(2):
        peer.send("ping")
        assert peer.expect_json("PONG") == {"accepted": 0}
        assert [c.sock.state() for c in waiting] == [CONNECTING] * WAITERS
        assert [c.log.events for c in waiting] == [[("stateChanged", CONNECTING)]] * WAITERS
        assert [c.sock.fullServerName() for c in waiting] == [""] * WAITERS

    peer.send("accept")
    peer.expect("ACCEPTING")
    assert qtry(lambda: all(c.sock.state() == CONNECTED for c in clients), WAIT_MS), \
        [c.sock.state() for c in clients]
    for client in waiting:
        assert client.log.events == [("stateChanged", CONNECTING), ("stateChanged", CONNECTED),
                                     ("connected",)]
        assert client.sock.fullServerName().endswith("/full")
    echo_all(clients)
    result = peer.result()
    assert sorted(c["received_sha256"] for c in result["connections"]) == \
        sorted(sha256(c.msg) for c in clients)


@linux_only
def test_pyside_clients_wait_for_full_qlsock_backlog(spawn: Spawn) -> None:
    """PySide6 clients beyond a held qlsock server's backlog stay Connecting, then connect."""
    service = EchoService()
    server = service.listen("full", backlog=BACKLOG, max_pending=0)
    peer = spawn("--echo-clients", "--connect", ":full", "--count", QUEUED + WAITERS,
                 "--size", 500, "--seed", 400)
    expected = ["ConnectedState"] * QUEUED + ["ConnectingState"] * WAITERS
    assert peer.expect_json("STATES") == expected

    # While Qt retries in its event loop, qlsock (nothing may be pending) accepts nothing.
    for _ in range(2):
        peer.send("states")
        assert peer.expect_json("STATES") == expected
        assert service.connections == []
        assert not server.hasPendingConnections()

    server.setMaxPendingConnections(30)
    clients = peer.result()["clients"]
    assert [c["state_after_connect"] for c in clients] == expected
    assert [c["echo_ok"] for c in clients] == [True] * (QUEUED + WAITERS), clients
    assert all(c["errors"] == [] for c in clients), clients
    assert qtry(lambda: len(service.connections) == QUEUED + WAITERS
                and all(c.disconnected for c in service.connections), WAIT_MS)
    assert sorted(service.received()) == \
        sorted(message(400, i, 500) for i in range(QUEUED + WAITERS))
    service.close()


# -- 7. names of accepted sockets ------------------------------------------------------------

NAME_FORMS = ["plain", "subdir", "symlinked-tmpdir", "access-option"]


@pytest.mark.parametrize("form", NAME_FORMS)
def test_names_agree(spawn: Spawn, tmpdir_env: str, monkeypatch: pytest.MonkeyPatch,
                     form: str) -> None:
    """serverName/fullServerName of client and accepted sockets agree between the libraries."""
    name, tmp, words, option = "rel", tmpdir_env, "", QLocalServer.SocketOption(0)
    if form == "subdir":
        os.mkdir(f"{tmpdir_env}/sub")
        name = "sub/rel"
    elif form == "symlinked-tmpdir":  # names keep the link, on both sides
        os.mkdir(f"{tmpdir_env}/real")
        os.symlink(f"{tmpdir_env}/real", f"{tmpdir_env}/link")
        tmp = f"{tmpdir_env}/link"
        monkeypatch.setenv("TMPDIR", tmp)
    elif form == "access-option":
        words, option = "User", QLocalServer.UserAccessOption
    full = f"{tmp}/{name}"
    where = os.path.dirname(full)

    # Phase A: PySide6 listens, qlsock connects.
    peer = spawn("--echo-server", "--listen", f"{words}:{name}")
    assert peer.ready() == [full]
    client = EchoClient(name, message(9, 0, 50))
    assert client.sock.state() == CONNECTED, client.sock.errorString()
    qlsock_client_names = (client.sock.serverName(), client.sock.fullServerName())
    echo_all([client])
    qt_result = peer.result()
    (qt_conn,) = qt_result["connections"]
    qt_accepted = (qt_conn["server_name"], qt_conn["full_server_name"])
    assert qt_result["servers"] == [{"server_name": name, "full_server_name": full}]
    assert not os.path.exists(full)  # Qt's close() removed it

    # Phase B: qlsock listens, PySide6 connects.
    service = EchoService()
    server = service.listen(name, option)
    assert (server.serverName(), server.fullServerName()) == (name, full)
    peer = spawn("--echo-clients", "--connect", f":{name}", "--size", 50, "--seed", 9)
    (qt_client,) = peer.result()["clients"]
    assert qt_client["echo_ok"], qt_client
    assert qtry(lambda: len(service.connections) == 1 and service.connections[0].disconnected,
                WAIT_MS)
    qlsock_accepted = service.connections[0].names
    qt_client_names = (qt_client["server_name"], qt_client["full_server_name"])

    assert qt_client_names == qlsock_client_names == (name, full)
    # An accepted socket is named after the address it was accepted on: the
    # server's path, and its last component.
    assert qlsock_accepted == ("rel", full)
    if form != "access-option":
        assert qt_accepted == ("rel", full)
    else:
        # With an access option both bind in a private directory beside the target
        # and move the socket into place; Linux reports the bind-time address, so
        # Qt names the accepted side after a path that no longer exists. qlsock
        # names it after the path the server listens on (docs/differences.md).
        assert qt_accepted[0] == "s", qt_accepted
        assert os.path.dirname(os.path.dirname(qt_accepted[1])) == where, qt_accepted
        assert not os.path.exists(os.path.dirname(qt_accepted[1])), qt_accepted
    service.close()
