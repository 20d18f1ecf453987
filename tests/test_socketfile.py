"""The socket file: probe (live/stale/absent), safe reclaim, atomic modes, ownership."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import textwrap

import gevent
import pytest

from qlsock import (
    ListenError,
    QAbstractSocket,
    QLocalServer,
    QLocalSocket,
    ServerStatus,
    probe,
    remove_stale,
)
from qlsock.naming import MAX_NAME_BYTES, NameProblem
from qlsock.socketfile import bind

from .support import run_forked


def dead_socket(path: str) -> None:
    """A socket file nobody listens on, as a killed server leaves behind."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(path)


def test_probe_tells_each_status(tmpdir_env: str) -> None:
    assert probe("none").status is ServerStatus.ABSENT
    dead_socket(tmpdir_env + "/dead")
    found = probe("dead")
    assert found.status is ServerStatus.STALE
    assert found.full_server_name == tmpdir_env + "/dead"
    assert "stale" in found.detail
    with open(tmpdir_env + "/file", "w"):
        pass
    assert probe("file").status is ServerStatus.NOT_A_SOCKET
    assert "regular file" in probe("file").detail
    os.mkdir(tmpdir_env + "/dir")
    assert "a directory" in probe("dir").detail
    server = QLocalServer()
    assert server.listen("live")
    assert probe("live").status is ServerStatus.LIVE
    assert probe(tmpdir_env + "/live").status is ServerStatus.LIVE
    server.close()
    assert probe("live").status is ServerStatus.ABSENT


def test_probe_abstract_names(tmpdir_env: str) -> None:
    name = os.path.basename(tmpdir_env) + "-abs"
    assert probe(name, abstract=True).status is ServerStatus.ABSENT
    server = QLocalServer()
    server.setSocketOptions(QLocalServer.AbstractNamespaceOption)
    assert server.listen(name)
    assert probe(name, abstract=True).status is ServerStatus.LIVE
    server.close()
    assert probe(name, abstract=True).status is ServerStatus.ABSENT


def test_probe_rejects_bad_names() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        probe(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(NameProblem, match="empty"):
        probe("")
    with pytest.raises(NameProblem, match="NUL"):
        probe("a\0b")


def test_a_stale_file_is_refused_with_a_text_that_says_how_to_recover(tmpdir_env: str) -> None:
    dead_socket(tmpdir_env + "/app")
    server = QLocalServer()
    assert not server.listen("app")
    assert server.serverError() == QAbstractSocket.AddressInUseError
    text = server.errorString()
    assert text.startswith("QLocalServer::listen: Address in use (")
    assert "stale socket file" in text
    assert "reclaim_stale=True" in text
    assert server.listen("app", reclaim_stale=True), server.errorString()
    client = QLocalSocket()
    client.connectToServer("app")
    assert client.waitForConnected(5000)
    client.abort()
    server.close()


def test_a_live_server_is_never_reclaimed(tmpdir_env: str) -> None:
    live = QLocalServer()
    assert live.listen("app")
    inode = os.lstat(tmpdir_env + "/app").st_ino
    second = QLocalServer()
    assert not second.listen("app", reclaim_stale=True)
    assert second.serverError() == QAbstractSocket.AddressInUseError
    assert "a server is listening at" in second.errorString()
    assert remove_stale("app").status is ServerStatus.LIVE
    assert os.lstat(tmpdir_env + "/app").st_ino == inode
    client = QLocalSocket()
    client.connectToServer("app")
    assert client.waitForConnected(5000)
    client.abort()
    assert remove_stale("app", force=True).status is ServerStatus.LIVE
    assert not os.path.lexists(tmpdir_env + "/app")
    live.close()


def test_remove_stale_removes_only_stale_sockets(tmpdir_env: str) -> None:
    dead_socket(tmpdir_env + "/dead")
    assert remove_stale("dead").status is ServerStatus.STALE
    assert not os.path.lexists(tmpdir_env + "/dead")
    assert remove_stale("dead").status is ServerStatus.ABSENT
    with open(tmpdir_env + "/file", "w"):
        pass
    assert remove_stale("file", force=True).status is ServerStatus.NOT_A_SOCKET
    assert os.path.exists(tmpdir_env + "/file")


def test_bind_reports_failures_as_listen_errors(tmpdir_env: str) -> None:
    with pytest.raises(ListenError) as empty:
        bind("")
    assert empty.value.error == QAbstractSocket.HostNotFoundError
    assert "empty" in str(empty.value)
    with pytest.raises(ListenError) as missing:
        bind(tmpdir_env + "/no/such/dir/s")
    assert missing.value.error == QAbstractSocket.HostNotFoundError
    assert "does not exist" in str(missing.value)
    with pytest.raises(ListenError) as long:
        bind("x" * 200)
    assert f"at most {MAX_NAME_BYTES} bytes" in str(long.value)


def test_access_mode_on_a_path_at_the_length_limit(tmpdir_env: str) -> None:
    """The private directory would push the path over the limit; it still binds."""
    name = tmpdir_env + "/" + "m" * (MAX_NAME_BYTES - len(tmpdir_env) - 1)
    assert len(os.fsencode(name)) == MAX_NAME_BYTES
    server = QLocalServer()
    server.setSocketOptions(QLocalServer.UserAccessOption)
    assert server.listen(name), server.errorString()
    assert stat.S_IMODE(os.lstat(name).st_mode) == 0o700
    assert os.listdir(tmpdir_env) == [os.path.basename(name)]
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.waitForConnected(5000)
    client.abort()
    server.close()
    assert os.listdir(tmpdir_env) == []


_WATCHER = textwrap.dedent("""
    import os, stat, sys
    path, want = sys.argv[1], int(sys.argv[2], 8)
    print("ready", flush=True)
    seen, wrong = 0, 0
    while not os.path.exists(path + ".done"):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        seen += 1
        if stat.S_IMODE(st.st_mode) != want:
            wrong += 1
    print(seen, wrong, flush=True)
""")


def test_access_mode_is_never_wider_than_requested(tmpdir_env: str) -> None:
    """A process watching the path never sees the socket with another mode.

    Qt's own approach (bind in a private directory, chmod, then move into place)
    is what makes this hold; a chmod after binding at the path would show the
    umask's wider mode for a moment.
    """
    path = tmpdir_env + "/modes"
    with subprocess.Popen([sys.executable, "-c", _WATCHER, path, "700"],
                          stdout=subprocess.PIPE, text=True) as watcher:
        assert watcher.stdout is not None
        assert watcher.stdout.readline() == "ready\n"
        server = QLocalServer()
        server.setSocketOptions(QLocalServer.UserAccessOption)
        old = os.umask(0)
        try:
            for _ in range(300):
                assert server.listen("modes"), server.errorString()
                server.close()
        finally:
            os.umask(old)
            with open(path + ".done", "w"):
                pass
        seen, wrong = map(int, watcher.stdout.readline().split())
    assert wrong == 0
    assert seen > 0


def test_a_forked_child_never_removes_its_parents_socket(tmpdir_env: str) -> None:
    server = QLocalServer()
    assert server.listen("parent")
    path = tmpdir_env + "/parent"

    def child() -> bytes:
        server.close()
        return b"closed"

    assert run_forked(child) == b"closed"
    assert os.path.lexists(path)
    assert probe("parent").status is ServerStatus.LIVE
    client = QLocalSocket()
    client.connectToServer("parent")
    assert client.waitForConnected(5000)
    assert server.waitForNewConnection(5000) == (True, False)
    client.abort()
    server.close()
    assert not os.path.lexists(path)


def test_concurrent_reclaims_elect_exactly_one(tmpdir_env: str) -> None:
    """Several processes reclaiming one stale file at once: exactly one listens."""
    dead_socket(tmpdir_env + "/race")
    script = textwrap.dedent("""
        import sys
        from qlsock import QLocalServer
        server = QLocalServer()
        sys.stdin.readline()
        ok = server.listen("race", reclaim_stale=True)
        print("won" if ok else server.serverError().name, flush=True)
        sys.stdin.readline()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(5)]
    try:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [proc.stdout.readline().strip() for proc in procs if proc.stdout]
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()
    assert sorted(results) == ["AddressInUseError"] * 4 + ["won"]


def test_accepted_sockets_carry_the_servers_names_with_access_options(tmpdir_env: str) -> None:
    """The socket is bound in a private directory and linked into place, so its own
    address names a path that is gone; accepted sockets report the server's names
    (Qt reports the temporary path)."""
    server = QLocalServer()
    server.setSocketOptions(QLocalServer.UserAccessOption)
    assert server.listen("named")
    client = QLocalSocket()
    client.connectToServer("named")
    assert client.waitForConnected(5000)
    assert server.waitForNewConnection(5000) == (True, False)
    peer = server.nextPendingConnection()
    assert peer is not None
    assert (peer.serverName(), peer.fullServerName()) == ("named", tmpdir_env + "/named")
    client.abort()
    server.close()


def test_probing_a_live_server_does_not_connect_to_it(tmpdir_env: str) -> None:
    """A failed listen() wording its error, and probe(), tell a live server by the
    kernel's table: the server sees no connection (Qt's listen() makes none either)."""
    live = QLocalServer()
    assert live.listen("held")
    seen: list[object] = []
    live.newConnection.connect(lambda: seen.append(live.nextPendingConnection()))
    second = QLocalServer()
    assert not second.listen("held")
    assert "a server is listening" in second.errorString()
    assert probe("held").status is ServerStatus.LIVE
    assert remove_stale("held").status is ServerStatus.LIVE
    gevent.sleep(0.05)
    assert seen == []
    assert not live.hasPendingConnections()
    live.close()
