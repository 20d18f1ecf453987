"""Peer credentials, the server's uid policy, and debug records on the qlsock logger."""

from __future__ import annotations

import logging
import os
import pwd

import gevent.os
import pytest

from qlsock import LocalStreamServer, QLocalServer, QLocalSocket
from qlsock.credentials import PeerCredentials

from .support import Spy, qtry, run_forked

NOBODY = pwd.getpwnam("nobody")


def connected_pair(name: str) -> tuple[QLocalServer, QLocalSocket, QLocalSocket]:
    server = QLocalServer()
    assert server.listen(name), server.errorString()
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.waitForConnected(5000)
    assert server.waitForNewConnection(5000) == (True, False)
    peer = server.nextPendingConnection()
    assert peer is not None
    return server, client, peer


def test_peer_credentials_on_both_ends() -> None:
    server, client, peer = connected_pair("creds")
    me = PeerCredentials(os.getpid(), os.getuid(), os.getgid())
    assert peer.peerCredentials() == me
    assert client.peerCredentials() == me
    client.abort()
    assert client.peerCredentials() is None
    assert QLocalSocket().peerCredentials() is None
    server.close()


def _connect_as_nobody(name: str) -> gevent.Greenlet[..., tuple[int, str]]:
    """A greenlet running a forked child that drops to uid nobody, connects and
    sends b"hi"; its value is ``(child's pid, "eof")`` once the server has closed
    the connection cleanly (``"data"`` if it sent something instead)."""
    def child() -> bytes:
        # The C-level socket: a gevent socket would yield to the child's copy of
        # the hub, whose copy of the server could accept this very connection.
        import _socket

        os.setgid(NOBODY.pw_gid)
        os.setuid(NOBODY.pw_uid)
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(os.environ["TMPDIR"] + "/" + name)
        try:
            sock.sendall(b"hi")
        except BrokenPipeError:
            pass  # refused before the bytes went out: closed all the same
        ended = "eof" if sock.recv(1) == b"" else "data"
        sock.close()
        return f"{os.getpid()} {ended}".encode()

    def run() -> tuple[int, str]:
        pid, ended = run_forked(child).decode().split()
        return int(pid), ended

    return gevent.spawn(run)


def test_a_client_with_a_disallowed_uid_is_refused_before_new_connection(
        tmpdir_env: str, caplog: pytest.LogCaptureFixture) -> None:
    os.chmod(tmpdir_env, 0o755)
    server = QLocalServer()
    server.setSocketOptions(QLocalServer.WorldAccessOption)
    server.setAllowedUids({os.getuid()})
    assert server.allowedUids() == frozenset({os.getuid()})
    assert server.listen("policy")
    spy = Spy(server.newConnection)
    with caplog.at_level(logging.WARNING, logger="qlsock"):
        pid, ended = _connect_as_nobody("policy").get(timeout=10)
        assert ended == "eof"
        # The uid that is allowed still gets in, after the refused one.
        client = QLocalSocket()
        client.connectToServer("policy")
        assert client.waitForConnected(5000)
        assert spy.wait()
    assert len(spy) == 1
    peer = server.nextPendingConnection()
    assert peer is not None
    assert peer.peerCredentials() == client.peerCredentials()
    assert server.nextPendingConnection() is None
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1
    assert f"from pid {pid} (uid {NOBODY.pw_uid}" in refused[0]
    assert server.fullServerName() in refused[0]
    client.abort()
    server.close()


def test_allowing_the_uid_admits_the_client(tmpdir_env: str) -> None:
    os.chmod(tmpdir_env, 0o755)
    server = QLocalServer()
    server.setSocketOptions(QLocalServer.WorldAccessOption)
    server.setAllowedUids([os.getuid(), NOBODY.pw_uid])
    assert server.listen("admit")
    spy = Spy(server.newConnection)
    nobody = _connect_as_nobody("admit")
    assert spy.wait()
    peer = server.nextPendingConnection()
    assert peer is not None
    creds = peer.peerCredentials()
    assert creds is not None
    assert (creds.uid, creds.gid) == (NOBODY.pw_uid, NOBODY.pw_gid)
    assert peer.waitForReadyRead(5000) or peer.bytesAvailable() == 2
    assert peer.readAll() == b"hi"
    peer.close()
    assert nobody.get(timeout=10) == (creds.pid, "eof")
    server.setAllowedUids(None)
    assert server.allowedUids() is None
    server.close()


@pytest.mark.parametrize(("uids", "error"), [
    ("0", TypeError), (b"0", TypeError), (5, TypeError), ([-1], ValueError),
    ([True], ValueError), (["0"], ValueError),
])
def test_set_allowed_uids_validates(uids: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="setAllowedUids"):
        QLocalServer().setAllowedUids(uids)  # type: ignore[arg-type]


def test_debug_records_name_the_server(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="qlsock"):
        server, client, _ = connected_pair("logged")
        full = server.fullServerName()
        client.disconnectFromServer()
        server.close()
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert f"QLocalServer {full}: listening" in messages
    assert any(m.startswith(f"QLocalServer {full}: accepted fd ") for m in messages)
    assert any(m.startswith(f"QLocalServer {full}: closed") for m in messages)
    assert any(m.startswith("QLocalSocket logged ") and "UnconnectedState -> ConnectingState"
               in m for m in messages)
    assert any(m.startswith(f"QLocalSocket {full} ") and "ClosingState -> UnconnectedState"
               in m for m in messages)


def test_the_stream_server_applies_the_same_policy(
        tmpdir_env: str, caplog: pytest.LogCaptureFixture) -> None:
    os.chmod(tmpdir_env, 0o755)
    handled: list[tuple[int, int, int] | None] = []

    def handle(sock: QLocalSocket) -> None:
        handled.append(sock.peerCredentials())

    server = LocalStreamServer("streams", handle, options=QLocalServer.WorldAccessOption,
                               allowed_uids={os.getuid()})
    with server, caplog.at_level(logging.WARNING, logger="qlsock"):
        pid, ended = _connect_as_nobody("streams").get(timeout=10)
        assert ended == "eof"
        client = QLocalSocket()
        client.connectToServer("streams")
        assert client.waitForConnected(5000)
        assert qtry(lambda: len(handled) == 1)
        client.abort()
    assert handled == [client_creds()]
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused == [f"LocalStreamServer {tmpdir_env}/streams: refused a connection from "
                       f"pid {pid} (uid {NOBODY.pw_uid}, gid {NOBODY.pw_gid}): uid not in "
                       "the allowed uids"]


def client_creds() -> PeerCredentials:
    return PeerCredentials(os.getpid(), os.getuid(), os.getgid())


def test_the_stream_server_validates_allowed_uids() -> None:
    with pytest.raises(ValueError, match="allowed_uids"):
        LocalStreamServer("x", lambda sock: None, allowed_uids=[-5])
