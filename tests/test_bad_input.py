"""Bad input: every case gets a clear answer; no stray exception, no hang.

docs/bad-input.md lists each case, qlsock's answer, Qt's when it differs, and the test
here that holds it. Qt's answers were observed with PySide6 6.11.3 driving the same
calls in the same states (and read in qtbase's ``qiodevice.cpp``,
``qlocalsocket_unix.cpp`` and ``qlocalserver_unix.cpp``).

* Names: empty, over-long (the text gives the byte limit and the actual length),
  NUL-containing, not encodable as UTF-8, wrong types; both ``listen()`` and
  ``connectToServer()``.
* The file system: missing, unwritable, unsearchable and read-only directories, a
  regular file or a directory where the socket should be, ``/proc`` and ``/sys``.
  The tests run as root here, and root ignores permissions: the EACCES cases run in a
  child process that drops to ``nobody`` (when started as root) after setting modes
  that also stop a non-root owner; the read-only file system is a ``tmpfs`` mounted
  read-only in a private mount namespace (``unshare --mount``) of a child process.
* Sizes and timeouts: negative, absurd (beyond any C integer) and wrongly typed.
* ``write()`` and friends given ``str`` and other non-bytes.
* Every public method of ``QLocalSocket`` in every state (never connected,
  connecting, connected, closing, unconnected after the peer closed, closed) and of
  ``QLocalServer`` (not listening, listening, closed): Qt's return value and warning,
  the signals, the state afterwards.
* A raw peer that sends garbage or half a line and then closes, half-closes or
  resets the connection.
"""

from __future__ import annotations

import array
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent import socket as gsocket

from qlsock import QAbstractSocket, QIODevice, QLocalServer, QLocalSocket

from .support import (
    DEFAULT_WAIT_MS,
    SOCKET_SIGNALS,
    EventLog,
    Spy,
    feed,
    listening,
    qtry,
    send_now,
)

SocketError = QAbstractSocket.SocketError
U = QLocalSocket.UnconnectedState
CONNECTING = QLocalSocket.ConnectingState
CONNECTED = QLocalSocket.ConnectedState
CLOSING = QLocalSocket.ClosingState
ROOT = os.geteuid() == 0


def _has(text: str, *parts: str) -> None:
    """*text* contains every one of *parts*."""
    missing = [part for part in parts if part not in text]
    assert not missing, f"{text!r} lacks {missing}"


# -- 1. server names ------------------------------------------------------------------------


@dataclass(frozen=True)
class BadName:
    """A name neither side can use, and the words its error text must contain."""

    make: Callable[[str], str]
    explains: Callable[[str], tuple[str, ...]]
    abstract: bool = False


def _path_of(tmpdir: str, size: int) -> str:
    return tmpdir + "/" + "n" * (size - len(tmpdir) - 1)


BAD_NAMES = {
    "empty": BadName(lambda t: "", lambda t: ("the name is empty",)),
    "absolute, 107 bytes": BadName(
        lambda t: _path_of(t, 107), lambda t: ("107 bytes", "at most 106 bytes")),
    "relative, 300 bytes with TMPDIR": BadName(
        lambda t: "r" * (299 - len(t)), lambda t: ("300 bytes", "at most 106 bytes")),
    "multi-byte, 106 characters but 107 bytes": BadName(
        lambda t: _path_of(t, 106)[:-1] + "\u00e9", lambda t: ("107 bytes", "106 bytes")),
    "abstract, 107 bytes": BadName(
        lambda t: "a" * 107, lambda t: ("107 bytes", "106 bytes"), abstract=True),
    "NUL inside": BadName(lambda t: "bad\0name", lambda t: ("NUL",)),
    "lone surrogate (not UTF-8)": BadName(lambda t: "bad\udcffname", lambda t: ("UTF-8",)),
}


@pytest.mark.parametrize("case", list(BAD_NAMES))
def test_bad_name_listen(case: str, tmpdir_env: str) -> None:
    """listen(): False, HostNotFoundError, "Name error (<why>)"; no names, no file."""
    bad = BAD_NAMES[case]
    server = QLocalServer()
    if bad.abstract:
        server.setSocketOptions(QLocalServer.AbstractNamespaceOption)
    assert server.listen(bad.make(tmpdir_env)) is False
    assert server.serverError() == SocketError.HostNotFoundError
    text = server.errorString()
    assert text.startswith("QLocalServer::listen: Name error (")
    assert text.endswith(")")
    _has(text, *bad.explains(tmpdir_env))
    assert (server.isListening(), server.serverName(), server.fullServerName()) == (
        False, "", "")
    assert os.listdir(tmpdir_env) == []


@pytest.mark.parametrize("case", list(BAD_NAMES))
def test_bad_name_connect(case: str, tmpdir_env: str) -> None:
    """connectToServer(): ServerNotFoundError, "Invalid name (<why>)", back to Unconnected."""
    bad = BAD_NAMES[case]
    client = QLocalSocket()
    if bad.abstract:
        client.setSocketOptions(QLocalSocket.AbstractNamespaceOption)
    log = EventLog(client, *SOCKET_SIGNALS)
    client.connectToServer(bad.make(tmpdir_env))
    assert log.events == [("stateChanged", CONNECTING),
                          ("errorOccurred", QLocalSocket.ServerNotFoundError),
                          ("stateChanged", U)]
    assert client.error() == QLocalSocket.ServerNotFoundError
    text = client.errorString()
    assert text.startswith("QLocalSocket::connectToServer: Invalid name (")
    _has(text, *bad.explains(tmpdir_env))
    assert (client.state(), client.isOpen(), client.serverName()) == (U, False, "")


NAME_TAKERS = ("QLocalServer.listen", "QLocalServer.removeServer",
               "QLocalSocket.setServerName", "QLocalSocket.connectToServer")
WRONG_NAMES = (b"name", bytearray(b"x"), None, 1.5, ["x"], True)


@pytest.mark.parametrize(("taker", "bad"), [
    (taker, bad) for taker in NAME_TAKERS for bad in WRONG_NAMES
    # Not names there: connectToServer(None) is "the name set before" and True an
    # open mode (an int), as in Qt's overloads; listen(None) and removeServer(None) are
    # PySide6's empty name, a "Name error" (tests/test_qt_differences.py).
    if not (taker == "QLocalSocket.connectToServer" and (bad is None or bad is True))
    and not (taker.startswith("QLocalServer") and bad is None)
])
def test_wrong_typed_names_raise_type_error(taker: str, bad: object) -> None:
    """Names are str (or str path-likes): anything else is TypeError ("must be a str").

    An int given to listen() is a descriptor, as in Qt's overloads, but ``True`` is
    not taken as descriptor 1.
    """
    server, client = QLocalServer(), QLocalSocket()
    log = EventLog(client, *SOCKET_SIGNALS)
    call = {"QLocalServer.listen": server.listen,
            "QLocalServer.removeServer": QLocalServer.removeServer,
            "QLocalSocket.setServerName": client.setServerName,
            "QLocalSocket.connectToServer": client.connectToServer}[taker]
    with pytest.raises(TypeError, match="must be a str"):
        call(bad)
    assert (log.events, client.state(), client.serverName()) == ([], U, "")
    assert (server.isListening(), server.serverError()) == (
        False, SocketError.UnknownSocketError)


def test_path_names_are_accepted(tmpdir_env: str) -> None:
    """A pathlib.Path works wherever a name does (the str path-like the TypeError offers)."""
    path = Path(tmpdir_env) / "as-path"
    server = listening(path)
    client = QLocalSocket()
    client.connectToServer(path)
    assert client.state() == CONNECTED
    assert server.fullServerName() == str(path)
    client.abort()
    server.close()
    assert QLocalServer.removeServer(path) is True


# -- 2. the file system -------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A name whose place in the file system is unusable, and both sides' answers."""

    setup: Callable[[str], str]
    listen_error: SocketError
    listen_text: tuple[str, ...]
    connect_error: QLocalSocket.LocalSocketError
    connect_text: str
    #: qlsock's detail after Qt's text; {path} and {dir} are the name and its directory.
    connect_detail: str


def _regular_file(tmpdir: str) -> str:
    path = tmpdir + "/plain"
    Path(path).write_bytes(b"keep me")
    return path


def _directory(tmpdir: str) -> str:
    os.mkdir(tmpdir + "/adir")
    return tmpdir + "/adir"


def _through_file(tmpdir: str) -> str:
    return _regular_file(tmpdir) + "/s"


PLACES = {
    "missing directory": Place(
        lambda t: t + "/no/such/dir/s",
        SocketError.HostNotFoundError, ("Name error (", "does not exist"),
        QLocalSocket.ServerNotFoundError, "QLocalSocket::connectToServer: Invalid name",
        "no server is listening at {path}: the directory {dir} does not exist"),
    "a path through a regular file": Place(
        _through_file,
        SocketError.HostNotFoundError, ("Name error (", "not a directory"),
        QLocalSocket.UnknownSocketError,
        "QLocalSocket::connectToServer: Unknown error 20 (Not a directory)",
        "a component of {path} is not a directory"),
    "a regular file at the path": Place(
        _regular_file,
        SocketError.AddressInUseError, ("Address in use (", "regular file", "not a socket"),
        QLocalSocket.ConnectionRefusedError, "QLocalSocket::connectToServer: Connection refused",
        "{path} exists and is a regular file, not a socket"),
    "a directory at the path": Place(
        _directory,
        SocketError.AddressInUseError, ("Address in use (", "directory", "not a socket"),
        QLocalSocket.ConnectionRefusedError, "QLocalSocket::connectToServer: Connection refused",
        "{path} exists and is a directory, not a socket"),
    "/proc (cannot hold sockets)": Place(
        lambda t: "/proc/qlsock-bad-input",
        SocketError.HostNotFoundError, ("Name error (", "/proc/qlsock-bad-input"),
        QLocalSocket.ServerNotFoundError, "QLocalSocket::connectToServer: Invalid name",
        "no server is listening at {path}: the socket file does not exist"),
    "/sys (refuses even root)": Place(
        lambda t: "/sys/qlsock-bad-input",
        SocketError.UnknownSocketError if ROOT else SocketError.SocketAccessError,
        ("Unknown error 1 (Operation not permitted)" if ROOT else "Permission denied (",
         "/sys/qlsock-bad-input"),
        QLocalSocket.ServerNotFoundError, "QLocalSocket::connectToServer: Invalid name",
        "no server is listening at {path}: the socket file does not exist"),
}


@pytest.mark.parametrize("case", list(PLACES))
def test_unusable_place_listen(case: str, tmpdir_env: str) -> None:
    """listen() fails with the code Qt maps the errno to, and says what is in the way."""
    place = PLACES[case]
    name = place.setup(tmpdir_env)
    before = sorted(os.listdir(tmpdir_env))
    server = QLocalServer()
    assert server.listen(name) is False
    assert server.serverError() == place.listen_error
    text = server.errorString()
    assert text.startswith("QLocalServer::listen: ")
    _has(text, *place.listen_text)
    assert (server.isListening(), server.serverName()) == (False, "")
    assert sorted(os.listdir(tmpdir_env)) == before
    if os.path.isfile(name):
        assert Path(name).read_bytes() == b"keep me"
    if os.path.isdir(name) and name.startswith(tmpdir_env):
        # removeServer() does not remove directories.
        assert QLocalServer.removeServer(name) is False
        assert os.path.isdir(name)


def test_proc_error_does_not_claim_the_directory_is_missing() -> None:
    """/proc exists but cannot hold a socket (ENOENT): the text must not say it is missing."""
    server = QLocalServer()
    assert server.listen("/proc/qlsock-bad-input") is False
    assert server.serverError() == SocketError.HostNotFoundError
    assert "does not exist" not in server.errorString(), server.errorString()


@pytest.mark.parametrize("case", list(PLACES))
def test_unusable_place_connect(case: str, tmpdir_env: str) -> None:
    """connectToServer() reports Qt's code and text (errno mapped as qlocalsocket_unix.cpp),
    then what is at the path (differences.md 38)."""
    place = PLACES[case]
    client = QLocalSocket()
    errors = Spy(client.errorOccurred)
    path = place.setup(tmpdir_env)
    client.connectToServer(path)
    assert errors.calls == [(place.connect_error,)]
    assert client.error() == place.connect_error
    detail = place.connect_detail.format(path=path, dir=os.path.dirname(path))
    assert client.errorString() == f"{place.connect_text} ({detail})"
    assert (client.state(), client.isOpen(), client.isValid()) == (U, False, False)


#: Run as a child: set modes that stop even the owner, drop to nobody when root (root
#: ignores modes), then try to listen and connect where that is not allowed. Everything
#: is imported before dropping: the interpreter lives where nobody may not read.
_EACCES_CHILD = r"""
import json, os, sys
from qlsock import QLocalServer, QLocalSocket
base = sys.argv[1]
locked, hidden = base + "/locked", base + "/hidden"
os.mkdir(locked)
os.mkdir(hidden)
servers = []
for path in (base + "/no-write", hidden + "/s"):
    server = QLocalServer()
    assert server.listen(path), server.errorString()
    servers.append(server)
os.chmod(base + "/no-write", 0)
os.chmod(locked, 0o555)
os.chmod(hidden, 0)
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
out = {"euid": os.geteuid()}
for label, path, options in [
        ("listen in a read-only-mode directory", locked + "/s", 0),
        ("listen there with UserAccessOption", locked + "/s", QLocalServer.UserAccessOption),
        ("listen in an unsearchable directory", hidden + "/t", 0)]:
    server = QLocalServer()
    server.setSocketOptions(options)
    out[label] = [server.listen(path), int(server.serverError()), server.errorString()]
for label, path in [("connect to a socket without write permission", base + "/no-write"),
                    ("connect through an unsearchable directory", hidden + "/s")]:
    client = QLocalSocket()
    errors = []
    client.errorOccurred.connect(lambda e: errors.append(int(e)))
    client.connectToServer(path)
    out[label] = [int(client.state()), int(client.error()), client.errorString(), errors]
print(json.dumps(out))
"""


def _run_child(args: list[str]) -> dict[str, Any]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd="/",
                          check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_permission_denied(tmpdir_env: str) -> None:
    """EACCES: listen gives SocketAccessError "Permission denied (...)"; connect gives
    SocketAccessError "Socket access error". Checked as ``nobody`` when run as root."""
    os.chmod(tmpdir_env, 0o755)  # the test's own directory: nobody may enter it
    try:
        out = _run_child([sys.executable, "-c", _EACCES_CHILD, tmpdir_env])
    finally:  # let the fixture remove everything, also when not root
        for path, mode in (("locked", 0o755), ("hidden", 0o755), ("no-write", 0o600)):
            if os.path.lexists(f"{tmpdir_env}/{path}"):
                os.chmod(f"{tmpdir_env}/{path}", mode)
    assert out.pop("euid") == (65534 if ROOT else os.geteuid())
    for label, (ok, code, text) in [(k, v) for k, v in out.items() if k.startswith("listen")]:
        assert ok is False, label
        assert code == SocketError.SocketAccessError, (label, text)
        assert text.startswith("QLocalServer::listen: Permission denied ("), (label, text)
        assert tmpdir_env in text, (label, text)
    for label, (state, code, text, errors) in [(k, v) for k, v in out.items()
                                              if k.startswith("connect")]:
        assert (state, code, errors) == (U, QLocalSocket.SocketAccessError,
                                         [QLocalSocket.SocketAccessError]), label
        assert text.startswith("QLocalSocket::connectToServer: Socket access error (no "
                               f"permission to connect to {tmpdir_env}/"), text
        assert "write permission on the socket file" in text, text


_EROFS_CHILD = r"""
import json, sys
from qlsock import QLocalServer
out = {}
for label, options in [("plain", 0), ("UserAccessOption", QLocalServer.UserAccessOption)]:
    server = QLocalServer()
    server.setSocketOptions(options)
    out[label] = [server.listen(sys.argv[1] + "/s"), int(server.serverError()),
                  server.errorString()]
print(json.dumps(out))
"""


def test_read_only_file_system(tmpdir_env: str) -> None:
    """EROFS: HostNotFoundError "Name error (... read-only file system)" (Qt's mapping).

    A read-only tmpfs is mounted on a fresh directory in a private mount namespace of
    a child process (nothing outside that child sees the mount).
    """
    target = tmpdir_env + "/ro"
    os.mkdir(target)
    mount = 'mount -t tmpfs -o ro,size=16k tmpfs "$1" && exec "$2" -c "$3" "$1"'
    unshare = ["unshare", "--mount", "--propagation", "private"]
    if not ROOT:
        unshare.append("--map-root-user")
    out = _run_child([*unshare, "sh", "-c", mount, "sh", target, sys.executable, _EROFS_CHILD])
    for label, (ok, code, text) in out.items():
        assert ok is False, label
        assert code == SocketError.HostNotFoundError, (label, text)
        assert text.startswith("QLocalServer::listen: Name error ("), (label, text)
        _has(text, "read-only file system", target)
    assert os.listdir(target) == []


# -- 3. descriptors ---------------------------------------------------------------------------


NOT_SUPPORTED = "QLocalServer::listen: The socket operation is not supported ("


@pytest.mark.parametrize("fd", [-1, 99999, 2**40, 2**70])
def test_listen_on_a_bad_descriptor_fails_cleanly(fd: int) -> None:
    """listen(fd) with a number that is no open socket: False and
    UnsupportedSocketOperationError (as setSocketDescriptor() answers), no exception.

    (Qt returns true for any descriptor, warning only "QSocketNotifier: Invalid socket
    specified" for -1, and then listens on nothing.)
    """
    server = QLocalServer()
    assert server.listen(fd) is False
    assert server.serverError() == SocketError.UnsupportedSocketOperationError
    assert server.errorString().startswith(NOT_SUPPORTED), server.errorString()
    assert (server.isListening(), server.socketDescriptor()) == (False, -1)


def _pipe_end() -> int:
    read_end, write_end = os.pipe()
    os.close(write_end)
    return read_end


def _tcp_listener() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(1)
        return os.dup(tcp.fileno())


def _unbound_local_socket() -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
        return os.dup(idle.fileno())


@pytest.mark.parametrize("make", [_pipe_end, _tcp_listener], ids=["pipe", "TCP listener"])
def test_listen_on_a_descriptor_that_is_not_a_listening_local_socket(
        make: Callable[[], int]) -> None:
    """Refused with UnsupportedSocketOperationError and a text saying what it is; the
    descriptor stays the caller's (open). Qt returns true and "listens" on it."""
    fd = make()
    server = QLocalServer()
    try:
        assert server.listen(fd) is False
        assert server.serverError() == SocketError.UnsupportedSocketOperationError
        assert server.errorString().startswith(NOT_SUPPORTED), server.errorString()
        assert not server.isListening()
    finally:
        if server.isListening():
            server.close()  # it adopted the descriptor: closing the server closes it
        else:
            os.fstat(fd)  # refused: still open, still the caller's
            os.close(fd)


def test_listen_on_a_local_socket_that_is_not_listening_warns(qt_warnings: Any) -> None:
    """Accepted, as Qt accepts it (Qt's own verifyListenWithDescriptor listens on a
    socketpair end), but a warning says no connection will ever be accepted."""
    fd = _unbound_local_socket()
    server = QLocalServer()
    assert server.listen(fd) is True
    assert server.isListening()
    assert any("is not listening, so no connection will ever be accepted" in text
               for text in qt_warnings.texts), qt_warnings.texts
    server.close()
    with pytest.raises(OSError):
        os.fstat(fd)  # adopted: closing the server closed it


@pytest.mark.parametrize("fd", [99999, 2**40, 2**70])
def test_set_socket_descriptor_with_a_bad_descriptor(fd: int) -> None:
    """setSocketDescriptor(bad): False, UnsupportedSocketOperationError; no exception."""
    sock = QLocalSocket()
    assert sock.setSocketDescriptor(fd) is False
    assert sock.error() == QLocalSocket.UnsupportedSocketOperationError
    assert sock.errorString().startswith(
        "QLocalSocket::setSocketDescriptor: The socket operation is not supported (")
    assert sock.socketDescriptor() == -1


# -- 4. sizes and timeouts ------------------------------------------------------------------


@pytest.fixture
def pair(tmpdir_env: str) -> Iterator[tuple[QLocalServer, QLocalSocket, QLocalSocket]]:
    """A server, a connected client and the server side of it; all closed afterwards."""
    server = listening("pair")
    client = QLocalSocket()
    client.connectToServer("pair")
    assert client.state() == CONNECTED
    assert server.waitForNewConnection(DEFAULT_WAIT_MS) == (True, False)
    peer = server.nextPendingConnection()
    assert peer is not None
    yield server, client, peer
    client.abort()
    peer.abort()
    server.close()


ABSURD = 2**70  # beyond qint64: PySide6 raises OverflowError for such arguments


def test_absurd_sizes_read_what_is_buffered(pair: Any, qt_warnings: Any) -> None:
    """Sizes beyond any C integer are not errors: the reads return what is buffered."""
    _, client, peer = pair
    feed(client, peer, b"abc\ndef")
    assert client.peek(ABSURD) == b"abc\ndef"
    assert client.readLine(ABSURD) == b"abc\n"
    assert client.read(ABSURD) == b"def"
    feed(client, peer, b"ghi")
    assert client.skip(ABSURD) == 3
    feed(client, peer, b"jkl")
    line = bytearray()
    assert client.readLineInto(line, ABSURD) is True
    assert line == b"jkl"
    assert qt_warnings.texts == []


def test_absurd_limits_act_as_no_limit(tmpdir_env: str) -> None:
    """Absurd readBufferSize / maxPendingConnections / listenBacklogSize are kept and work."""
    server = QLocalServer()
    server.setMaxPendingConnections(ABSURD)
    server.setListenBacklogSize(ABSURD)
    assert server.listen("absurd"), server.errorString()
    assert (server.maxPendingConnections(), server.listenBacklogSize()) == (ABSURD, ABSURD)
    client = QLocalSocket()
    client.setReadBufferSize(ABSURD)
    client.connectToServer("absurd")
    assert client.readBufferSize() == ABSURD
    assert qtry(server.hasPendingConnections)
    peer = server.nextPendingConnection()
    assert peer is not None
    feed(client, peer, b"x" * 100_000)
    assert client.readAll() == b"x" * 100_000
    client.abort()
    peer.abort()
    server.close()


def test_negative_limits_raise_value_error_naming_the_value() -> None:
    """Negative limits are impossible values: ValueError (Qt stores them; see the doc)."""
    with pytest.raises(ValueError, match="not -1"):
        QLocalSocket().setReadBufferSize(-1)
    with pytest.raises(ValueError, match="not -2"):
        QLocalServer().setMaxPendingConnections(-2)
    with pytest.raises(ValueError, match="not -3"):
        QLocalServer().setListenBacklogSize(-3)


@dataclass
class Waiting:
    """One waitFor* call whose event another greenlet produces once the call yields."""

    call: Callable[[int], Any]
    event: Callable[[], Any]
    succeeded: Any = True
    cleanup: list[Any] = field(default_factory=list)


def _waiting(kind: str, name: str) -> Waiting:
    server = QLocalServer()
    if kind == "waitForConnected":
        server.setListenBacklogSize(0)
        server.setMaxPendingConnections(0)
    assert server.listen(name), server.errorString()
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.state() == CONNECTED
    if kind == "waitForNewConnection":
        late = QLocalSocket()
        return Waiting(server.waitForNewConnection, lambda: late.connectToServer(name),
                       (True, False), [late, client, server])
    assert server.waitForNewConnection(DEFAULT_WAIT_MS) == (True, False)
    peer = server.nextPendingConnection()
    assert peer is not None
    done = [client, peer, server]
    if kind == "waitForConnected":
        # Backlog 0 holds one connection: *filler* takes it, *queued* must wait.
        filler, queued = QLocalSocket(), QLocalSocket()
        filler.connectToServer(name)
        assert filler.state() == CONNECTED
        queued.connectToServer(name)
        assert queued.state() == CONNECTING
        # The backlog frees up once the server takes the connection waiting in it.
        return Waiting(queued.waitForConnected,
                       lambda: server.waitForNewConnection(DEFAULT_WAIT_MS), True,
                       [queued, filler, *done])
    if kind == "waitForReadyRead":
        return Waiting(client.waitForReadyRead, lambda: send_now(peer, b"x"), True, done)
    if kind == "waitForDisconnected":
        return Waiting(client.waitForDisconnected, peer.disconnectFromServer, True, done)
    assert kind == "waitForBytesWritten"
    # Fill the kernel's buffers so the next bytes can only leave once the peer reads.
    client.write(b"w" * 8_000_000)
    while client.flush():
        pass
    assert client.bytesToWrite() > 0

    def drain() -> None:
        assert peer.waitForReadyRead(DEFAULT_WAIT_MS)
        peer.readAll()

    return Waiting(client.waitForBytesWritten, drain, True, done)


WAITS = ["waitForConnected", "waitForReadyRead", "waitForBytesWritten",
         "waitForDisconnected", "waitForNewConnection"]


@pytest.mark.parametrize("msecs", [-1, -1000, ABSURD])
@pytest.mark.parametrize("kind", WAITS)
def test_negative_or_absurd_timeout_waits_until_the_event(kind: str, msecs: int,
                                                          tmpdir_env: str) -> None:
    """Any negative timeout means "forever" (Qt: -1); an absurd one, practically so.

    The event comes from another greenlet, which runs only once the call has yielded.
    """
    waiting = _waiting(kind, "wait")
    try:
        helper = gevent.spawn(waiting.event)
        assert waiting.call(msecs) == waiting.succeeded
        helper.get(timeout=DEFAULT_WAIT_MS / 1000)
    finally:
        for obj in reversed(waiting.cleanup):
            if isinstance(obj, QLocalSocket):
                obj.abort()
            else:
                obj.close()


def test_timeout_beyond_a_float_is_forever_too(pair: Any) -> None:
    """10**400 ms overflows a float: it must still mean "no deadline", not raise."""
    server, client, peer = pair
    huge = 10**400
    send_now(peer, b"x")
    assert client.waitForReadyRead(huge) is True
    assert client.waitForConnected(huge) is True
    client.write(b"y")
    assert client.waitForBytesWritten(huge) is True
    late = QLocalSocket()
    late.connectToServer("pair")
    assert server.waitForNewConnection(huge) == (True, False)
    peer.disconnectFromServer()
    assert client.waitForDisconnected(huge) is True
    late.abort()


@pytest.mark.parametrize("bad", [1.5, None, "10"])
def test_wrong_typed_timeouts_raise_type_error(pair: Any, bad: object) -> None:
    """Timeouts are int milliseconds: TypeError naming the call (PySide6 truncates floats)."""
    server, client, _ = pair
    for call in (client.waitForConnected, client.waitForReadyRead, client.waitForBytesWritten,
                 client.waitForDisconnected, server.waitForNewConnection):
        with pytest.raises(TypeError, match=r"\(\) takes an int"):
            call(bad)
    assert client.state() == CONNECTED


# -- 5. write() and friends given the wrong thing -----------------------------------------------


def test_write_takes_bytes_like_only(pair: Any) -> None:
    """str and non-buffers raise TypeError and buffer nothing; every bytes-like is sent."""
    _, client, peer = pair
    log = EventLog(client, *SOCKET_SIGNALS)
    with pytest.raises(TypeError, match=r"not str; encode it first"):
        client.write("text")
    with pytest.raises(TypeError, match=r"not str; encode it first"):
        client.write("")
    for bad in (12, None, 3.0, [1, 2], {"a": 1}):
        with pytest.raises(TypeError, match=f"not {type(bad).__name__}"):
            client.write(bad)
    for call in (client.putChar, client.ungetChar):
        with pytest.raises(TypeError, match="not str"):
            call("a")
        for impossible in (256, -1, b"ab", b""):
            with pytest.raises(ValueError):
                call(impossible)
    assert (client.bytesToWrite(), client.bytesAvailable(), log.events) == (0, 0, [])
    good = [b"bytes", bytearray(b"array"), memoryview(b"view"), array.array("B", b"AB"), b""]
    assert [client.write(data) for data in good] == [5, 5, 4, 2, 0]
    expected = b"bytesarrayviewAB"
    while client.bytesToWrite():
        assert client.waitForBytesWritten(DEFAULT_WAIT_MS)
    assert qtry(lambda: peer.bytesAvailable() == len(expected))
    assert peer.readAll() == expected


# -- 6. every method in every state ----------------------------------------------------------------

STATES = ("fresh", "connecting", "connected", "closing", "disconnected", "closed")
DATA = b"xy\n"  # what the peer sent, buffered in the connected, closing and disconnected states
PENDING = b"pending"  # written, not yet sent, in the closing state
NOT_OPEN = ("fresh", "connecting", "closed")
UNCONNECTED = ("fresh", "disconnected", "closed")


class World:
    """Raw peers for the state matrix: a listening path and one whose backlog is full."""

    def __init__(self, tmpdir: str) -> None:
        self.path = tmpdir + "/srv"
        self.full = tmpdir + "/full"
        self.raw = gsocket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.raw.bind(self.path)
        self.raw.listen(64)
        self.busy = gsocket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.busy.bind(self.full)
        self.busy.listen(0)
        self.fillers: list[Any] = []
        while True:
            filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            filler.setblocking(False)
            try:
                filler.connect(self.full)
            except BlockingIOError:
                filler.close()
                break
            self.fillers.append(filler)
        self.peers: list[Any] = []

    def make(self, state: str) -> QLocalSocket:
        """A new socket in *state*."""
        sock = QLocalSocket()
        if state == "fresh":
            return sock
        if state == "connecting":
            sock.connectToServer(self.full)
            assert sock.state() == CONNECTING
            return sock
        sock.connectToServer(self.path)
        assert sock.state() == CONNECTED
        peer, _ = self.raw.accept()
        self.peers.append(peer)
        peer.sendall(DATA)
        assert qtry(lambda: sock.bytesAvailable() == len(DATA))
        if state == "closing":
            sock.write(PENDING)
            sock.disconnectFromServer()
            assert sock.state() == CLOSING
        elif state == "disconnected":
            peer.close()
            assert sock.waitForDisconnected(DEFAULT_WAIT_MS)
            assert sock.isOpen()
        elif state == "closed":
            sock.close()
        return sock

    def tidy(self) -> None:
        """Close the peers of the last cell and anything still queued on the listener."""
        self.raw.setblocking(False)
        try:
            while True:
                conn, _ = self.raw.accept()
                conn.close()
        except BlockingIOError:
            pass
        self.raw.setblocking(True)
        for peer in self.peers:
            peer.close()
        self.peers.clear()

    def close(self) -> None:
        self.tidy()
        for sock in (self.raw, self.busy, *self.fillers):
            sock.close()


@pytest.fixture
def world(tmpdir_env: str) -> Iterator[World]:
    world = World(tmpdir_env)
    yield world
    world.close()


def each(value: Any) -> tuple[Any, ...]:
    return (value,) * len(STATES)


def warn_in(states: tuple[str, ...], text: str) -> dict[str, list[str]]:
    return {state: [text] for state in states}


def not_open(function: str) -> dict[str, list[str]]:
    return warn_in(NOT_OPEN, f"QIODevice::{function} (QLocalSocket): device not open")


def warn_always(function: str, text: str) -> dict[str, list[str]]:
    return {state: [f"QIODevice::{function} (QLocalSocket): {text}"] for state in STATES}


def merged(*parts: dict[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in parts:
        for state, texts in part.items():
            out.setdefault(state, []).extend(texts)
    return out


SEEK_WARNING = warn_always("seek", "Cannot call seek on a sequential device")
NOT_UNCONNECTED = ("connecting", "connected", "closing")
SET_NAME_WARNING = "QLocalSocket::setServerName() called while not in unconnected state"
OPERATION, NOT_FOUND = QLocalSocket.OperationError, QLocalSocket.ServerNotFoundError
TIMEOUT = QLocalSocket.SocketTimeoutError
#: (state, isOpen) after a call, where it is not what it was before.
CLOSED_U, OPEN_U, OPEN_CONNECTED = (U, False), (U, True), (CONNECTED, True)


@dataclass(frozen=True)
class Row:
    """A call, and per state (in STATES order) what it returns; warnings, errorOccurred
    codes and (state, isOpen) afterwards where they are not "none" and "unchanged"."""

    call: Callable[[QLocalSocket, World], Any]
    returns: tuple[Any, ...]
    warns: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, list[Any]] = field(default_factory=dict)
    after: dict[str, tuple[Any, bool]] = field(default_factory=dict)


PATH, FULL, FD = "<path>", "<full>", "<fd>"
_ = None
SOCKET_ROWS: dict[str, Row] = {
    "abort()": Row(lambda s, w: s.abort(), each(_),
                   after=dict.fromkeys(STATES, CLOSED_U)),
    "atEnd()": Row(lambda s, w: s.atEnd(), (True, True, False, False, False, True)),
    "bytesAvailable()": Row(lambda s, w: s.bytesAvailable(), (0, 0, 3, 3, 3, 0)),
    "bytesToWrite()": Row(lambda s, w: s.bytesToWrite(), (0, 0, 0, 7, 0, 0)),
    "canReadLine()": Row(lambda s, w: s.canReadLine(), (False, False, True, True, True, False)),
    # Qt: close() while connecting stays Connecting (differences.md 11).
    "close()": Row(lambda s, w: s.close(), each(_),
                   after={"connecting": CLOSED_U, "connected": CLOSED_U,
                          "closing": (CLOSING, False), "disconnected": CLOSED_U}),
    "commitTransaction()": Row(
        lambda s, w: s.commitTransaction(), each(_),
        warns=warn_always("commitTransaction", "Called while no transaction in progress")),
    "connectToServer()": Row(
        lambda s, w: s.connectToServer(), each(_),
        errors={"fresh": [NOT_FOUND], "connecting": [OPERATION], "connected": [OPERATION],
                "disconnected": [NOT_FOUND], "closed": [NOT_FOUND]},
        after={"closing": OPEN_CONNECTED, "disconnected": CLOSED_U}),
    "connectToServer(path)": Row(
        lambda s, w: s.connectToServer(w.path), each(_),
        warns=warn_in(NOT_UNCONNECTED, SET_NAME_WARNING),
        errors={"connecting": [OPERATION], "connected": [OPERATION]},
        after={"fresh": OPEN_CONNECTED, "closing": OPEN_CONNECTED,
               "disconnected": OPEN_CONNECTED, "closed": OPEN_CONNECTED}),
    "currentReadChannel()": Row(lambda s, w: s.currentReadChannel(), each(0)),
    "currentWriteChannel()": Row(lambda s, w: s.currentWriteChannel(), each(0)),
    "disconnectFromServer()": Row(lambda s, w: s.disconnectFromServer(), each(_),
                                  after={"connected": OPEN_U}),
    "error()": Row(lambda s, w: s.error(), (-1, -1, -1, -1, 1, -1)),
    "errorString()": Row(lambda s, w: s.errorString(),
                         (*("Unknown error",) * 4, "QLocalSocket: Remote closed",
                          "Unknown error")),
    "flush()": Row(lambda s, w: s.flush(), (False, False, False, True, False, False),
                   after={"closing": OPEN_U}),
    "fullServerName()": Row(lambda s, w: s.fullServerName(), ("", "", PATH, PATH, "", "")),
    # Qt (PySide6) returns (False, '\x00'); qlsock (False, b"") (differences.md 16).
    "getChar()": Row(lambda s, w: s.getChar(),
                     ((False, b""), (False, b""), (True, b"x"), (True, b"x"), (True, b"x"),
                      (False, b"")), warns=not_open("read")),
    "isOpen()": Row(lambda s, w: s.isOpen(), (False, False, True, True, True, False)),
    "isReadable()": Row(lambda s, w: s.isReadable(), (False, False, True, True, True, False)),
    "isSequential()": Row(lambda s, w: s.isSequential(), each(True)),
    "isTextModeEnabled()": Row(lambda s, w: s.isTextModeEnabled(), each(False)),
    "isTransactionStarted()": Row(lambda s, w: s.isTransactionStarted(), each(False)),
    "isValid()": Row(lambda s, w: s.isValid(), (False, False, True, True, True, False)),
    "isWritable()": Row(lambda s, w: s.isWritable(), (False, False, True, True, True, False)),
    "open(ReadWrite)": Row(
        lambda s, w: s.open(QIODevice.ReadWrite), (False, False, True, True, False, False),
        errors={"fresh": [NOT_FOUND], "connecting": [OPERATION], "connected": [OPERATION],
                "disconnected": [NOT_FOUND], "closed": [NOT_FOUND]},
        after={"closing": OPEN_CONNECTED, "disconnected": CLOSED_U}),
    "openMode()": Row(lambda s, w: int(s.openMode()), (0, 0, 3, 3, 3, 0)),
    "peek(5)": Row(lambda s, w: s.peek(5), (b"", b"", DATA, DATA, DATA, b""),
                   warns=not_open("peek")),
    # Qt checks the size before the open mode in peek() and skip().
    "peek(-1)": Row(lambda s, w: s.peek(-1), each(b""),
                    warns=warn_always("peek", "Called with maxSize < 0")),
    "pos()": Row(lambda s, w: s.pos(), each(0)),
    "putChar(b'z')": Row(lambda s, w: s.putChar(b"z"), (False, False, True, True, False, False),
                         warns=not_open("write")),
    "read(5)": Row(lambda s, w: s.read(5), (b"", b"", DATA, DATA, DATA, b""),
                   warns=not_open("read")),
    "read(-1)": Row(lambda s, w: s.read(-1), each(b""),
                    warns=merged(not_open("read"), warn_in(
                        ("connected", "closing", "disconnected"),
                        "QIODevice::read (QLocalSocket): Called with maxSize < 0"))),
    "readAll()": Row(lambda s, w: s.readAll(), (b"", b"", DATA, DATA, DATA, b""),
                     warns=not_open("read")),
    "readBufferSize()": Row(lambda s, w: s.readBufferSize(), each(0)),
    "readChannelCount()": Row(lambda s, w: s.readChannelCount(), (0, 0, 1, 1, 1, 0)),
    # Qt 6.9+ reads lines through readLineInto(), whose name its warnings carry.
    "readLine()": Row(lambda s, w: s.readLine(), (b"", b"", DATA, DATA, DATA, b""),
                      warns=not_open("readLineInto")),
    "readLine(2)": Row(lambda s, w: s.readLine(2), (b"", b"", b"x", b"x", b"x", b""),
                       warns=not_open("readLineInto")),
    "readLine(1)": Row(lambda s, w: s.readLine(1), each(b""),
                       warns=merged(not_open("readLineInto"), warn_in(
                           ("connected", "closing", "disconnected"),
                           "QIODevice::readLineInto (QLocalSocket): Called with maxSize < 2"))),
    "readLine(-1)": Row(lambda s, w: s.readLine(-1), each(b""),
                        warns=merged(not_open("readLineInto"), warn_in(
                            ("connected", "closing", "disconnected"),
                            "QIODevice::readLineInto (QLocalSocket): Called with maxSize < 2"))),
    "readLineInto(bytearray)": Row(lambda s, w: s.readLineInto(bytearray()),
                                   (False, False, True, True, True, False),
                                   warns=not_open("readLineInto")),
    # Qt: reset() is seek(0), which warns.
    "reset()": Row(lambda s, w: s.reset(), each(False), warns=SEEK_WARNING),
    "rollbackTransaction()": Row(
        lambda s, w: s.rollbackTransaction(), each(_),
        warns=warn_always("rollbackTransaction", "Called while no transaction in progress")),
    "seek(0)": Row(lambda s, w: s.seek(0), each(False), warns=SEEK_WARNING),
    "serverName()": Row(lambda s, w: s.serverName(), ("", FULL, PATH, PATH, "", "")),
    # Qt silently stores any channel number (currentReadChannel() then returns it);
    # a local socket has one channel, and qlsock says so.
    "setCurrentReadChannel(1)": Row(
        lambda s, w: s.setCurrentReadChannel(1), each(_),
        warns=warn_always("setReadChannel", "Failed due to read channel being out of range")),
    "setCurrentWriteChannel(1)": Row(
        lambda s, w: s.setCurrentWriteChannel(1), each(_),
        warns=warn_always("setWriteChannel",
                           "Failed due to write channel being out of range")),
    "setReadBufferSize(10)": Row(lambda s, w: s.setReadBufferSize(10), each(_)),
    "setServerName('other')": Row(lambda s, w: s.setServerName("other"), each(_),
                                  warns=warn_in(NOT_UNCONNECTED, SET_NAME_WARNING)),
    "setSocketDescriptor(-1)": Row(lambda s, w: s.setSocketDescriptor(-1), each(False),
                                   after=dict.fromkeys(STATES, OPEN_CONNECTED)),
    "setSocketOptions(Abstract)": Row(
        lambda s, w: s.setSocketOptions(QLocalSocket.AbstractNamespaceOption), each(_),
        warns=warn_in(NOT_UNCONNECTED, "QLocalSocket::setSocketOptions() called while not "
                      "in unconnected state")),
    "setTextModeEnabled(True)": Row(
        lambda s, w: s.setTextModeEnabled(True), each(_),
        warns=warn_in(NOT_OPEN,
                      "QIODevice::setTextModeEnabled (QLocalSocket): The device is not open")),
    "size()": Row(lambda s, w: s.size(), (0, 0, 3, 3, 3, 0)),
    "skip(5)": Row(lambda s, w: s.skip(5), (-1, -1, 3, 3, 3, -1), warns=not_open("skip")),
    "skip(-1)": Row(lambda s, w: s.skip(-1), each(-1),
                    warns=warn_always("skip", "Called with maxSize < 0")),
    "socketDescriptor()": Row(lambda s, w: FD if s.socketDescriptor() >= 0
                              else s.socketDescriptor(), (-1, -1, FD, FD, -1, -1)),
    "socketOptions()": Row(lambda s, w: int(s.socketOptions()), each(0)),
    "startTransaction()": Row(lambda s, w: s.startTransaction(), each(_)),
    "state()": Row(lambda s, w: s.state(), (U, CONNECTING, CONNECTED, CLOSING, U, U)),
    # Qt 6.11 checks with read()'s check, whose name the warning carries.
    "ungetChar(b'z')": Row(lambda s, w: s.ungetChar(b"z"), each(_), warns=not_open("read")),
    "waitForBytesWritten(10)": Row(
        lambda s, w: s.waitForBytesWritten(10), (False, False, False, True, False, False),
        warns=warn_in(UNCONNECTED, "QAbstractSocket::waitForBytesWritten() is not allowed "
                      "in UnconnectedState"),
        after={"closing": OPEN_U}),
    "waitForConnected(10)": Row(lambda s, w: s.waitForConnected(10),
                                (False, False, True, False, False, False)),
    # Qt, while connecting: errorOccurred(UnknownSocketError) and Unconnected; qlsock
    # waits for the connection first (semantics.md 7).
    "waitForDisconnected(10)": Row(
        lambda s, w: s.waitForDisconnected(10), (False, False, False, True, False, False),
        warns=warn_in(UNCONNECTED, "QLocalSocket::waitForDisconnected() is not allowed in "
                      "UnconnectedState"),
        errors={"connected": [TIMEOUT]}, after={"closing": OPEN_U}),
    # The bytes each state's set-up received arrived while the test was busy and
    # nothing reported them: the first wait reports them (as a Qt thread without an
    # event loop would find them in the kernel), a second one waits for new data.
    "waitForReadyRead(10)": Row(lambda s, w: s.waitForReadyRead(10),
                                (False, False, True, True, True, False)),
    "waitForReadyRead(10) twice": Row(lambda s, w: s.waitForReadyRead(10) and
                                      s.waitForReadyRead(10), each(False),
                                      errors={"connected": [TIMEOUT]}),
    "write(b'abc')": Row(lambda s, w: s.write(b"abc"), (-1, -1, 3, 3, -1, -1),
                         warns=not_open("write")),
    "writeChannelCount()": Row(lambda s, w: s.writeChannelCount(), (0, 0, 1, 1, 1, 0)),
}


@pytest.mark.parametrize("method", list(SOCKET_ROWS))
def test_socket_method_in_every_state(method: str, world: World, qt_warnings: Any) -> None:
    """Qt's return value, warning, signals and resulting state; no exception, no hang."""
    row = SOCKET_ROWS[method]
    wrong: list[str] = []
    for state, expected in zip(STATES, row.returns, strict=True):
        sock = world.make(state)
        before = (sock.state(), sock.isOpen())
        errors = Spy(sock.errorOccurred)
        qt_warnings.clear()
        try:
            result = row.call(sock, world)
            if isinstance(result, QAbstractSocket.SocketError):
                result = int(result)
            wanted = {PATH: world.path, FULL: world.full}.get(expected, expected)
            seen = (result, qt_warnings.texts, [c[0] for c in errors.calls],
                    (sock.state(), sock.isOpen()))
            want = (wanted, row.warns.get(state, []), row.errors.get(state, []),
                    row.after.get(state, before))
            if seen != want:
                wrong.append(f"{state}: got {seen}, want {want}")
        finally:
            sock.abort()
            world.tidy()
    assert not wrong, "\n".join(wrong)


SERVER_STATES = ("not listening", "listening", "closed")
LISTEN_WARNING = "QLocalServer::listen() called when already listening"
SERVER_ROWS: dict[str, tuple[Callable[[QLocalServer], Any], tuple[Any, ...],
                             dict[str, list[str]], tuple[bool, ...]]] = {
    # name: (call, returns per state, warnings, isListening() afterwards per state)
    "close()": (lambda s: s.close(), (None,) * 3, {}, (False, False, False)),
    "errorString()": (lambda s: s.errorString(), ("",) * 3, {}, (False, True, False)),
    "fullServerName()": (lambda s: s.fullServerName(), ("", PATH, ""), {},
                         (False, True, False)),
    "hasPendingConnections()": (lambda s: s.hasPendingConnections(), (False,) * 3, {},
                                (False, True, False)),
    "isListening()": (lambda s: s.isListening(), (False, True, False), {},
                      (False, True, False)),
    "listen(name)": (lambda s: s.listen("again"), (True, False, True),
                     {"listening": [LISTEN_WARNING]}, (True, True, True)),
    "listenBacklogSize()": (lambda s: s.listenBacklogSize(), (50,) * 3, {},
                            (False, True, False)),
    "maxPendingConnections()": (lambda s: s.maxPendingConnections(), (30,) * 3, {},
                                (False, True, False)),
    "nextPendingConnection()": (lambda s: s.nextPendingConnection(), (None,) * 3, {},
                                (False, True, False)),
    "serverError()": (lambda s: int(s.serverError()), (-1,) * 3, {}, (False, True, False)),
    "serverName()": (lambda s: s.serverName(), ("", "srv", ""), {}, (False, True, False)),
    "setListenBacklogSize(5)": (lambda s: s.setListenBacklogSize(5), (None,) * 3, {},
                                (False, True, False)),
    "setMaxPendingConnections(5)": (lambda s: s.setMaxPendingConnections(5), (None,) * 3, {},
                                    (False, True, False)),
    "setSocketOptions(User)": (lambda s: s.setSocketOptions(QLocalServer.UserAccessOption),
                               (None,) * 3, {}, (False, True, False)),
    "socketDescriptor()": (lambda s: FD if s.socketDescriptor() >= 0 else s.socketDescriptor(),
                           (-1, FD, -1), {}, (False, True, False)),
    "socketOptions()": (lambda s: int(s.socketOptions()), (0,) * 3, {}, (False, True, False)),
    "waitForNewConnection(0)": (lambda s: s.waitForNewConnection(0),
                                ((False, False), (False, True), (False, False)), {},
                                (False, True, False)),
    "waitForNewConnection(10)": (lambda s: s.waitForNewConnection(10),
                                 ((False, False), (False, True), (False, False)), {},
                                 (False, True, False)),
}


@pytest.mark.parametrize("method", list(SERVER_ROWS))
def test_server_method_in_every_state(method: str, tmpdir_env: str, qt_warnings: Any) -> None:
    """Qt's return value and warning in every server state; no exception, no hang."""
    call, returns, warns, listening_after = SERVER_ROWS[method]
    wrong: list[str] = []
    for state, expected, still in zip(SERVER_STATES, returns, listening_after, strict=True):
        server = QLocalServer()
        if state != "not listening":
            assert server.listen("srv")
        if state == "closed":
            server.close()
        qt_warnings.clear()
        try:
            wanted = tmpdir_env + "/srv" if expected == PATH else expected
            seen = (call(server), qt_warnings.texts, server.isListening())
            if seen != (wanted, warns.get(state, []), still):
                wrong.append(f"{state}: got {seen}, want {(wanted, warns.get(state, []), still)}")
        finally:
            server.close()
    assert not wrong, "\n".join(wrong)


# -- 7. garbage and half messages from a raw peer ----------------------------------------------

GARBAGE = bytes(range(256)) * 3 + b"\r\n\0\xff no newline at the end"
PAYLOADS = {
    "every byte value, then a partial line": GARBAGE,
    "half a line, no newline at all": b"HELLO wor",
    "1 MiB with one newline": b"a" * 300_000 + b"\n" + b"b" * (2**20 - 300_001),
}


def _raw_peer_and_socket(side: str, tmpdir: str) -> tuple[Any, QLocalSocket, list[Any]]:
    """A plain (gevent) socket connected to a qlsock socket on *side*."""
    if side == "accepted":
        server = listening("garbage")
        raw = gsocket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(tmpdir + "/garbage")
        assert server.waitForNewConnection(DEFAULT_WAIT_MS) == (True, False)
        sock = server.nextPendingConnection()
        assert sock is not None
        return raw, sock, [server]
    listener = gsocket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(tmpdir + "/raw")
    listener.listen(1)
    sock = QLocalSocket()
    sock.connectToServer(tmpdir + "/raw")
    assert sock.state() == CONNECTED
    raw, _ = listener.accept()
    return raw, sock, [listener]


@pytest.mark.parametrize("side", ["accepted", "client"])
@pytest.mark.parametrize("ending", ["close", "shutdown", "reset"])
@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_raw_peer_sends_garbage_then_goes(payload: str, ending: str, side: str,
                                          tmpdir_env: str) -> None:
    """Whatever a peer sends is kept and readable after it goes, however it goes:
    close(), shutdown(SHUT_WR) (no half-close: qlsock ends the connection) or a reset
    (it closed with our bytes unread: ECONNRESET). readLine() returns the partial tail
    last; canReadLine() is right throughout; no exception."""
    data = PAYLOADS[payload]
    raw, sock, others = _raw_peer_and_socket(side, tmpdir_env)
    try:
        log = EventLog(sock, "readyRead", "errorOccurred", "disconnected")
        if ending == "reset":
            send_now(sock, b"never read")
        raw.sendall(data)
        if ending == "shutdown":
            raw.shutdown(socket.SHUT_WR)
        else:
            raw.close()
        assert qtry(lambda: sock.state() == U, 2 * DEFAULT_WAIT_MS), sock.state()
        assert sock.error() == QLocalSocket.PeerClosedError
        assert sock.errorString() == "QLocalSocket: Remote closed"
        assert log.names().count("disconnected") == 1
        assert log.names()[-1] == "disconnected"
        assert (sock.isOpen(), sock.isValid(), sock.bytesAvailable()) == (True, True, len(data))
        if ending == "shutdown":
            # qlsock closed its end: the peer reads end-of-file.
            assert raw.recv(10) == b""
        lines = []
        while sock.bytesAvailable():
            assert sock.canReadLine() == (b"\n" in sock.peek(len(data)))
            lines.append(sock.readLine())
        assert b"".join(lines) == data
        assert all(line.endswith(b"\n") for line in lines[:-1])
        assert lines[-1] == data[data.rfind(b"\n") + 1:] or lines[-1].endswith(b"\n")
        assert (sock.canReadLine(), sock.atEnd(), sock.readLine(), sock.read(1)) == (
            False, True, b"", b"")
        assert (sock.skip(1), sock.getChar()) == (-1, (False, b""))
    finally:
        sock.abort()
        raw.close()
        for other in others:
            other.close()


def test_a_peer_that_never_finishes_its_line(pair: Any) -> None:
    """Half a message while connected: canReadLine() False, readLine() returns what is
    there (Qt), waitForReadyRead() times out without closing, the rest completes it."""
    _, client, peer = pair
    feed(client, peer, b"GET /inde")
    assert client.canReadLine() is False
    assert client.waitForReadyRead(20) is False
    assert client.error() == QLocalSocket.SocketTimeoutError
    assert client.state() == CONNECTED
    client.startTransaction()
    assert client.readLine() == b"GET /inde"
    client.rollbackTransaction()
    feed(client, peer, b"x\n")
    assert client.canReadLine() is True
    assert client.readLine() == b"GET /index\n"


#: Every method of PySide6's QLocalSocket/QLocalServer (README's member table) that is
#: not in a state table above, and why.
COVERED_ELSEWHERE = {
    "parent": "QObject plumbing",
    "readData": "protected raw I/O (QIODevice's subclass hooks)",
    "readLineData": "protected raw I/O",
    "skipData": "protected raw I/O",
    "writeData": "protected raw I/O",
    "setErrorString": "protected",
    "setOpenMode": "protected",
    "incomingConnection": "protected hook; test_server.py, test_qt6_parity.py",
    "addPendingConnection": "protected; test_server.py, test_qt6_parity.py",
    "removeServer": "static, stateless; test_unusable_place_listen, test_server.py",
}
QT_SOCKET_METHODS = (
    "abort", "atEnd", "bytesAvailable", "bytesToWrite", "canReadLine", "close",
    "commitTransaction", "connectToServer", "currentReadChannel", "currentWriteChannel",
    "disconnectFromServer", "error", "errorString", "flush", "fullServerName", "getChar",
    "isOpen", "isReadable", "isSequential", "isTextModeEnabled", "isTransactionStarted",
    "isValid", "isWritable", "open", "openMode", "peek", "pos", "putChar", "read", "readAll",
    "readBufferSize", "readChannelCount", "readData", "readLine", "readLineData",
    "readLineInto", "reset", "rollbackTransaction", "seek", "serverName",
    "setCurrentReadChannel", "setCurrentWriteChannel", "setErrorString", "setOpenMode",
    "setReadBufferSize", "setServerName", "setSocketDescriptor", "setSocketOptions",
    "setTextModeEnabled", "size", "skip", "skipData", "socketDescriptor", "socketOptions",
    "startTransaction", "state", "ungetChar", "waitForBytesWritten", "waitForConnected",
    "waitForDisconnected", "waitForReadyRead", "write", "writeChannelCount", "writeData"
)
QT_SERVER_METHODS = (
    "addPendingConnection", "close", "errorString", "fullServerName", "hasPendingConnections",
    "incomingConnection", "isListening", "listen", "listenBacklogSize", "maxPendingConnections",
    "nextPendingConnection", "removeServer", "serverError", "serverName",
    "setListenBacklogSize", "setMaxPendingConnections", "setSocketOptions", "socketDescriptor",
    "socketOptions", "waitForNewConnection"
)


def test_the_state_tables_cover_every_qt_method() -> None:
    """Each Qt method is in a state table above or named in COVERED_ELSEWHERE."""
    rows = {row.split("(")[0] for row in (*SOCKET_ROWS, *SERVER_ROWS)}
    for cls, methods in ((QLocalSocket, QT_SOCKET_METHODS), (QLocalServer, QT_SERVER_METHODS)):
        for name in methods:
            assert callable(getattr(cls, name)), f"{cls.__name__}.{name}"
        missing = set(methods) - rows - set(COVERED_ELSEWHERE)
        assert not missing, f"{cls.__name__}: {sorted(missing)} in no state table"
