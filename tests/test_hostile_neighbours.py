"""Hostile neighbours (issue 11): other users of the same /tmp, and our own forks.

The threat: a local user without our privileges who can create files in the shared
directory our socket files live in (``$TMPDIR``, ``/tmp``), who can connect to our
sockets, and who can take a name first. What qlsock guarantees against it is listed
in ``docs/security.md``, each row with the tests that show it; these are most of
them. Tests named ``test_finding<N>_...`` reproduce a defect of the code before
issue 11 (they fail on it) and show the fix.

The per-user lock directory (``/tmp/qlsock-<euid>``) is shared by every test run as
the same user, so a test that plants something there points
``qlsock.locks.lock_directory`` at a path inside its own ``$TMPDIR`` instead.
``qlsock.locks`` is reached through :func:`locks_module` inside the tests, so that the
finding tests run (and fail) on the old code, which has no such module; helper
processes import the same qlsock as the test process.
"""

from __future__ import annotations

import functools
import itertools
import os
import pwd
import select
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest
from gevent import subprocess as gsubprocess

from qlsock import (
    LocalServerSocketOption,
    LocalSocketOption,
    LocalStreamServer,
    QAbstractSocket,
    QLocalServer,
    QLocalSocket,
    ServerStatus,
    SingleInstance,
    SingleInstanceError,
    probe,
    remove_stale,
)

from .peers.process import PEERS_DIR, QLSOCK_ROOT, Peer, spawner
from .support import qtry, send_now

HOSTILE = str(PEERS_DIR / "hostile.py")
NOBODY = pwd.getpwnam("nobody")
ROOT = os.geteuid() == 0
#: The qlsock under test (the test process's own), for helper processes.
CONNECTED = QLocalSocket.ConnectedState


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def spawn(tmpdir_env: str) -> Iterator[Callable[..., Peer]]:
    """Start ``tests/peers/hostile.py`` in a mode; every peer is reaped at teardown."""
    with spawner(cwd=tmpdir_env) as start:
        yield functools.partial(start, HOSTILE)


def read_exactly(sock: QLocalSocket, count: int, ms: int = 5000) -> bytes:
    """Read until *count* bytes came (or the connection ended, or *ms* passed)."""
    data = bytearray(sock.readAll())
    deadline = time.monotonic() + ms / 1000
    while len(data) < count and time.monotonic() < deadline:
        if not sock.waitForReadyRead(max(int((deadline - time.monotonic()) * 1000), 1)):
            data += sock.readAll()
            break
        data += sock.readAll()
    return bytes(data)


def dead_socket(path: str) -> None:
    """A socket file nobody listens on, as a killed server leaves behind."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(path)
    assert probe(path).status is ServerStatus.STALE


def locks_module() -> Any:
    """``qlsock.locks`` of the qlsock under test; None for the old code, which had none.

    Told by what ``qlsock.socketfile`` uses, not by importing ``qlsock.locks``: with the
    old code first on ``sys.path``, the editable install's finder would still find the
    new module.
    """
    from qlsock import socketfile

    name_lock = getattr(socketfile, "name_lock", None)
    return None if name_lock is None else sys.modules[name_lock.__module__]


def lock_path(full: str) -> str:
    """The lock file that guards reclaiming socket path *full*.

    The old code's was ``<path>.lock`` beside the socket; the new code's is in the
    per-user lock directory (made here if it does not exist yet, as qlsock makes it).
    """
    locks = locks_module()
    if locks is None:
        return full + ".lock"
    os.close(locks._open_directory())
    return os.path.join(locks.lock_directory(), locks._lock_name(full))


def lock_files_for(fulls: list[str]) -> list[str]:
    """The lock files that exist for socket paths *fulls*, beside them or in the lock
    directory."""
    found = [full + ".lock" for full in fulls if os.path.lexists(full + ".lock")]
    locks = locks_module()
    if locks is None:
        return found
    directory = locks.lock_directory()
    return found + [os.path.join(directory, locks._lock_name(full)) for full in fulls
                    if os.path.lexists(os.path.join(directory, locks._lock_name(full)))]


class Ticker:
    """A greenlet that wakes every 5 ms and notes when: proof that the hub runs."""

    def __init__(self) -> None:
        self.times: list[float] = [time.monotonic()]
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            gevent.sleep(0.005)
            self.times.append(time.monotonic())

    def between(self, start: float, end: float) -> tuple[int, float]:
        """How many ticks fell in [start, end], and the longest time without one."""
        inside = [t for t in self.times if start <= t <= end]
        marks = [start, *inside, end]
        return len(inside), max(b - a for a, b in itertools.pairwise(marks))

    def stop(self) -> None:
        self._greenlet.kill()


@pytest.fixture
def ticker() -> Iterator[Ticker]:
    ticking = Ticker()
    gevent.sleep(0.01)
    yield ticking
    ticking.stop()


def hold_the_lock(spawn: Callable[..., Peer], full: str, seconds: float = 3.0) -> Peer:
    """Another process holding the reclaim lock of *full* for *seconds* (at most: it lets
    go as soon as the test closes its stdin)."""
    holder = spawn("hold-lock", lock_path(full), seconds)
    assert holder.readline() == "LOCKED", holder.transcript()
    return holder


# -- finding 1: a planted symbolic link where the lock file goes --------------------------


def _reclaim_by_listen(name: str, closing: list[Any]) -> None:
    server = QLocalServer()
    closing.append(server)
    assert server.listen(name, reclaim_stale=True), server.errorString()


def _reclaim_by_remove_stale(name: str, closing: list[Any]) -> None:
    assert remove_stale(name).status is ServerStatus.STALE


def _reclaim_by_single_instance(name: str, closing: list[Any]) -> None:
    instance = SingleInstance(name, timeout=5)
    closing.append(instance)
    assert instance.start([]) is True


RECLAIMS = {
    "listen": _reclaim_by_listen,
    "remove_stale": _reclaim_by_remove_stale,
    "SingleInstance": _reclaim_by_single_instance,
}


@pytest.mark.parametrize("how", list(RECLAIMS))
def test_finding1_a_symlink_planted_beside_the_socket_is_never_followed(
        tmpdir_env: str, closing: list[Any], how: str) -> None:
    """A stale socket at d/app and a symlink d/app.lock -> elsewhere/victim, planted by
    another user: reclaiming the name creates nothing at the link's target (the old
    code's lock file was that link, and opening it with O_CREAT made the victim, as
    root any file on the system), leaves the link alone and creates nothing beside
    the socket."""
    path = os.path.join(tmpdir_env, "app")
    os.mkdir(os.path.join(tmpdir_env, "elsewhere"))
    victim = os.path.join(tmpdir_env, "elsewhere", "victim")
    dead_socket(path)
    os.symlink(victim, path + ".lock")

    RECLAIMS[how]("app", closing)

    assert not os.path.lexists(victim)
    assert os.readlink(path + ".lock") == victim
    assert sorted(os.listdir(tmpdir_env)) == sorted(
        ["app.lock", "elsewhere"] + ([] if how == "remove_stale" else ["app"]))
    assert os.listdir(os.path.join(tmpdir_env, "elsewhere")) == []


PLANTS = ["regular file", "directory", "dangling symlink", "symlink to a socket", "fifo"]


@pytest.mark.parametrize("options", [0, int(LocalServerSocketOption.UserAccessOption)],
                         ids=["NoOptions", "UserAccessOption"])
@pytest.mark.parametrize("kind", PLANTS)
def test_whatever_is_planted_at_the_socket_path_is_never_replaced(
        tmpdir_env: str, closing: list[Any], kind: str, options: int) -> None:
    """Something another user put at our socket's path (a file, a directory, a FIFO, a
    symbolic link, dangling or to a socket of theirs): ``listen()`` fails with
    ``AddressInUseError``, with or without access options and ``reclaim_stale=True``;
    ``remove_stale()``, even forced, leaves it; nothing is created through a link."""
    path = os.path.join(tmpdir_env, "app")
    target = os.path.join(tmpdir_env, "target")
    if kind == "regular file":
        with open(path, "w") as f:
            f.write("theirs")
    elif kind == "directory":
        os.mkdir(path)
    elif kind == "dangling symlink":
        os.symlink(target, path)
    elif kind == "symlink to a socket":
        dead_socket(target)
        os.symlink(target, path)
    else:
        os.mkfifo(path)
    before = os.lstat(path)
    server = QLocalServer()
    closing.append(server)
    server.setSocketOptions(LocalServerSocketOption(options))
    for reclaim in (False, True):
        assert not server.listen("app", reclaim_stale=reclaim)
        assert server.serverError() == QAbstractSocket.AddressInUseError, server.errorString()
    assert probe("app").status is ServerStatus.NOT_A_SOCKET
    assert remove_stale("app", force=True).status is ServerStatus.NOT_A_SOCKET
    after = os.lstat(path)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    if kind == "dangling symlink":
        assert not os.path.lexists(target)
    assert sorted(os.listdir(tmpdir_env)) == sorted(
        ["app"] + (["target"] if kind == "symlink to a socket" else []))


# -- the lock directory itself -------------------------------------------------------------


@pytest.fixture
def private_locks(tmpdir_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """qlsock's lock directory moved to ``$TMPDIR/locks`` for this test (restored after)."""
    locks = locks_module()
    assert locks is not None, "this qlsock has no private lock directory (the old code)"
    path = os.path.join(tmpdir_env, "locks")
    monkeypatch.setattr(locks, "lock_directory", lambda: path)
    return path


def test_finding1_the_lock_directory_is_made_private_and_left_empty(
        tmpdir_env: str, private_locks: str, closing: list[Any]) -> None:
    """The first reclaim makes the lock directory, 0700 and ours; every lock file in it
    is gone once its lock is released."""
    dead_socket(os.path.join(tmpdir_env, "app"))
    _reclaim_by_listen("app", closing)
    st = os.lstat(private_locks)
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_uid == os.geteuid()
    assert os.listdir(private_locks) == []


def _plant(kind: str, path: str, target: str) -> None:
    """Put something untrustworthy at the lock directory's path *path*."""
    if kind == "symlink to a directory":
        os.mkdir(target, 0o777)
        os.chmod(target, 0o777)
        os.symlink(target, path)
    elif kind == "dangling symlink":
        os.symlink(target, path)
    elif kind == "regular file":
        with open(path, "w"):
            pass
    elif kind == "mode 0777":
        os.mkdir(path)
        os.chmod(path, 0o777)
    elif kind == "mode 0750":
        os.mkdir(path)
        os.chmod(path, 0o750)
    elif kind == "another owner":
        os.mkdir(path, 0o700)
        os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    else:  # pragma: no cover
        raise AssertionError(kind)


UNSAFE = ["symlink to a directory", "dangling symlink", "regular file", "mode 0777",
          "mode 0750", *(["another owner"] if ROOT else [])]


@pytest.mark.parametrize("kind", UNSAFE)
def test_finding1_an_untrustworthy_lock_directory_is_refused_never_followed(
        tmpdir_env: str, private_locks: str, closing: list[Any], kind: str) -> None:
    """Whatever another user planted at /tmp/qlsock-<euid> (a symlink, a file, a
    directory open to others or not ours): ``UnsafeLockDirectory`` saying what is wrong;
    ``listen(reclaim_stale=True)`` fails with ``SocketAccessError`` and a text that
    names the directory; ``remove_stale()`` raises; ``SingleInstance`` reports it. The
    stale file stays, nothing is created through the link, nothing is changed."""
    locks = locks_module()
    UnsafeLockDirectory, name_lock = locks.UnsafeLockDirectory, locks.name_lock
    path = os.path.join(tmpdir_env, "app")
    dead_socket(path)
    target = os.path.join(tmpdir_env, "attacker")
    _plant(kind, private_locks, target)
    before = os.lstat(private_locks)

    with pytest.raises(UnsafeLockDirectory) as refused, name_lock(path, 1.0):
        pass
    assert private_locks in str(refused.value)
    assert isinstance(refused.value, PermissionError)

    server = QLocalServer()
    closing.append(server)
    assert not server.listen("app", reclaim_stale=True)
    assert server.serverError() == QAbstractSocket.SocketAccessError
    text = server.errorString()
    assert text.startswith("QLocalServer::listen: Socket access error (cannot lock the name: ")
    assert private_locks in text
    assert str(refused.value) in text

    with pytest.raises(UnsafeLockDirectory):
        remove_stale("app")
    instance = SingleInstance("app", timeout=2)
    closing.append(instance)
    with pytest.raises(SingleInstanceError, match="cannot lock the name"):
        instance.start([])

    assert probe(path).status is ServerStatus.STALE
    after = os.lstat(private_locks)
    assert (after.st_ino, after.st_mode, after.st_uid) == \
        (before.st_ino, before.st_mode, before.st_uid)
    if os.path.isdir(target):
        assert os.listdir(target) == []
    else:
        assert not os.path.lexists(target)
    if stat.S_ISDIR(after.st_mode) and not os.path.islink(private_locks):
        assert os.listdir(private_locks) == []

    # Binding where nothing is in the way takes no lock, so it still works.
    fresh = QLocalServer()
    closing.append(fresh)
    assert fresh.listen("other", reclaim_stale=True), fresh.errorString()


def test_finding1_a_symlink_inside_the_lock_directory_is_not_followed(
        tmpdir_env: str, private_locks: str, closing: list[Any]) -> None:
    """Lock files are opened with O_NOFOLLOW: a link at a lock file's name (which only
    our own user could put in the 0700 directory) makes the reclaim fail, never
    creates its target."""
    locks = locks_module()
    path = os.path.join(tmpdir_env, "app")
    dead_socket(path)
    os.close(locks._open_directory())
    victim = os.path.join(tmpdir_env, "victim")
    os.symlink(victim, os.path.join(private_locks, locks._lock_name(path)))
    server = QLocalServer()
    closing.append(server)
    assert not server.listen("app", reclaim_stale=True)
    assert not os.path.lexists(victim)
    assert probe(path).status is ServerStatus.STALE


# -- finding 2: a lock held by another process ------------------------------------------------


def test_finding2_a_held_lock_does_not_freeze_single_instance_or_the_hub(
        tmpdir_env: str, spawn: Callable[..., Peer], closing: list[Any],
        ticker: Ticker) -> None:
    """Another process holds the name's lock while a stale socket is at the name:
    ``SingleInstance(name, timeout=1).start()`` raises ``SingleInstanceError`` after
    about a second, and the hub ran all along (a greenlet ticking every 5 ms never
    missed more than a few ticks). The old code blocked the whole process in
    ``flock()`` until the holder let go (here after 3 s), then became the primary."""
    path = os.path.join(tmpdir_env, "app")
    dead_socket(path)
    holder = hold_the_lock(spawn, path)
    instance = SingleInstance("app", timeout=1)
    closing.append(instance)
    start = time.monotonic()
    outcome: Any
    try:
        outcome = instance.start([])
    except SingleInstanceError as exc:
        outcome = exc
    end = time.monotonic()
    holder.finish()
    ticks, longest_gap = ticker.between(start, end)
    assert longest_gap < 0.25, f"the hub was blocked for {longest_gap:.2f} s"
    assert ticks >= 40, ticks
    assert isinstance(outcome, SingleInstanceError), outcome
    assert 0.9 <= end - start <= 2.0, end - start
    assert probe(path).status is ServerStatus.STALE


def test_finding2_listen_gives_up_after_reclaim_timeout_then_reclaims(
        tmpdir_env: str, spawn: Callable[..., Peer], closing: list[Any],
        ticker: Ticker) -> None:
    """``listen(name, reclaim_stale=True, reclaim_timeout=0.3)`` while another process
    holds the lock: False after about 0.3 s, ``AddressInUseError``, a text about the
    lock; the hub kept running. Once the holder lets go, the same call reclaims."""
    path = os.path.join(tmpdir_env, "app")
    dead_socket(path)
    holder = hold_the_lock(spawn, path)
    server = QLocalServer()
    closing.append(server)
    start = time.monotonic()
    listened = server.listen("app", reclaim_stale=True, reclaim_timeout=0.3)
    end = time.monotonic()
    assert not listened
    assert 0.25 <= end - start <= 1.0, end - start
    ticks, longest_gap = ticker.between(start, end)
    assert longest_gap < 0.2, f"the hub was blocked for {longest_gap:.2f} s"
    assert ticks >= 10, ticks
    assert server.serverError() == QAbstractSocket.AddressInUseError
    text = server.errorString()
    assert text.startswith("QLocalServer::listen: Address in use (")
    assert "lock" in text, text
    assert path in text, text
    assert probe(path).status is ServerStatus.STALE

    holder.finish()  # the holder lets go (and removes its lock file)
    assert server.listen("app", reclaim_stale=True, reclaim_timeout=0.3), server.errorString()
    assert probe(path).status is ServerStatus.LIVE


def test_finding2_remove_stale_raises_lock_timeout(
        tmpdir_env: str, spawn: Callable[..., Peer], ticker: Ticker) -> None:
    """``qlsock.remove_stale(name, timeout=0.3)`` while another process holds the lock:
    ``LockTimeout`` (a ``TimeoutError``) after about 0.3 s, the file untouched."""
    path = os.path.join(tmpdir_env, "app")
    dead_socket(path)
    holder = hold_the_lock(spawn, path)
    start = time.monotonic()
    try:
        remove_stale("app", timeout=0.3)
    except Exception as exc:
        outcome: Any = exc
    else:
        outcome = None
    end = time.monotonic()
    holder.finish()
    locks = locks_module()
    assert locks is not None, outcome  # the old code: a TypeError for timeout=
    assert isinstance(outcome, locks.LockTimeout), outcome
    assert isinstance(outcome, TimeoutError)
    assert path in str(outcome)
    assert 0.25 <= end - start <= 1.0, end - start
    ticks, longest_gap = ticker.between(start, end)
    assert longest_gap < 0.2, f"the hub was blocked for {longest_gap:.2f} s"
    assert ticks >= 10, ticks
    assert probe(path).status is ServerStatus.STALE
    assert remove_stale("app", timeout=0.3).status is ServerStatus.STALE
    assert not os.path.lexists(path)


# -- finding 3: lock files piling up -----------------------------------------------------------


def test_finding3_reclaiming_leaves_no_lock_file_anywhere(
        tmpdir_env: str, closing: list[Any]) -> None:
    """Every way of reclaiming a stale file, twice over: afterwards the directory holds
    the sockets and nothing else, and the lock directory holds no lock file for any of
    these names (the old code left ``<name>.lock`` beside every name ever reclaimed)."""
    names = ["listen", "remove", "single", "stream"]
    fulls = [os.path.join(tmpdir_env, name) for name in names]
    for _ in range(2):
        for full in fulls:
            if os.path.lexists(full):
                os.unlink(full)
            dead_socket(full)
        server = QLocalServer()
        closing.append(server)
        assert server.listen("listen", reclaim_stale=True), server.errorString()
        assert remove_stale("remove").status is ServerStatus.STALE
        instance = SingleInstance("single", timeout=5)
        closing.append(instance)
        assert instance.start([]) is True
        stream = LocalStreamServer("stream", lambda sock: None, reclaim_stale=True)
        closing.append(stream)
        stream.start()
        assert sorted(os.listdir(tmpdir_env)) == ["listen", "single", "stream"]
        assert lock_files_for(fulls) == []
        for thing in (server, instance, stream):
            thing.close()
        assert os.listdir(tmpdir_env) == []


_RACER = textwrap.dedent("""
    import sys
    from qlsock import QLocalServer
    server = QLocalServer()
    sys.stdin.readline()
    ok = server.listen("race", reclaim_stale=True)
    print("won" if ok else server.serverError().name, flush=True)
    sys.stdin.readline()
""")


def test_finding3_concurrent_reclaimers_elect_one_and_leave_no_lock_file(
        tmpdir_env: str) -> None:
    """Five processes reclaim one stale file at once: exactly one listens, and no lock
    file is left, though each of them created and removed it in turn."""
    path = os.path.join(tmpdir_env, "race")
    dead_socket(path)
    env = dict(os.environ, PYTHONPATH=QLSOCK_ROOT)
    procs = [gsubprocess.Popen([sys.executable, "-c", _RACER], stdin=gsubprocess.PIPE,
                               stdout=gsubprocess.PIPE, text=True, env=env)
             for _ in range(5)]
    try:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        with gevent.Timeout(10):
            results = [proc.stdout.readline().strip() for proc in procs if proc.stdout]
        assert sorted(results) == ["AddressInUseError"] * 4 + ["won"]
        assert probe(path).status is ServerStatus.LIVE
        assert os.listdir(tmpdir_env) == ["race"]
        assert lock_files_for([path]) == []
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()


# -- finding 7: a daemon's cleanup, and forks of a live parent --------------------------------


def test_finding7_a_daemon_removes_its_socket_file_once_the_launcher_exited(
        tmpdir_env: str, spawn: Callable[..., Peer], closing: list[Any]) -> None:
    """listen(), a daemonizing fork, the launcher exits: the daemon serves on the
    inherited server and its close() removes the socket file (the old code left it,
    stale, because only the binding process removed it); the next plain listen()
    succeeds."""
    result_path = os.path.join(tmpdir_env, "daemon.json")
    peer = spawn("daemon", "dmn", result_path)
    [path] = peer.ready()
    daemon_pid = int(peer.expect("LAUNCHED"))
    assert peer.finish() == 0, peer.transcript()  # the launcher is gone (and reaped)
    assert daemon_pid != peer.proc.pid

    client = QLocalSocket()
    client.connectToServer("dmn")
    assert client.state() == CONNECTED, client.errorString()
    send_now(client, b"served by the daemon")
    assert read_exactly(client, 20) == b"served by the daemon"
    client.abort()

    with open(result_path + ".close", "w"):
        pass
    assert qtry(lambda: os.path.exists(result_path), 5000)
    import json

    with open(result_path) as f:
        result = json.load(f)
    assert result == {"launcher_gone": True, "served": 1, "exists_after_close": False}
    assert not os.path.lexists(path)
    server = QLocalServer()
    closing.append(server)
    assert server.listen("dmn"), server.errorString()


def test_finding7_a_reused_pid_does_not_pass_for_the_binder(
        tmpdir_env: str, closing: list[Any]) -> None:
    """The binder is told by its pid *and* its start time. A process that inherited the
    server and finds the binder's pid taken by another process (a reused pid: alive, but
    started at another time) treats the binder as gone and removes the file; one that
    finds the binder alive (same pid, same start time) never does."""
    path = os.path.join(tmpdir_env, "reuse")
    sleeper = gsubprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                                stdin=gsubprocess.PIPE)
    try:
        server = QLocalServer()
        closing.append(server)
        assert server.listen("reuse")
        # As seen from a process that inherited the server: the binder's pid now
        # belongs to the sleeper, which started later than the binder did.
        server._bound._pid = sleeper.pid  # type: ignore[union-attr]
        server.close()
        assert not os.path.lexists(path)

        from qlsock.socketfile import _start_time

        assert server.listen("reuse")
        bound = server._bound
        assert bound is not None
        bound._pid = sleeper.pid
        bound._started = _start_time(sleeper.pid)  # the binder, alive
        server.close()
        assert os.path.lexists(path)
        assert probe(path).status is ServerStatus.STALE
    finally:
        sleeper.kill()
        sleeper.communicate()


# -- abstract names: first come, first served ----------------------------------------------------


def test_an_abstract_name_can_be_squatted_and_peer_credentials_tell(tmpdir_env: str) -> None:
    """Abstract names have no file and no permissions: another user may take ours
    first. Our listen() then fails with AddressInUseError, and a client that connects
    reaches the squatter, which ``peerCredentials()`` exposes (another uid, when run as
    root; another pid in any case)."""
    import gevent.os

    name = f"qlsock-squat-{os.getpid()}-{os.path.basename(tmpdir_env)}"
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the squatter: another user, plain blocking sockets, no hub
        try:
            # gevent's monkey-patched os.close() may defer closing a pipe to the hub's
            # next iteration, which never comes here: the original closes at once.
            from gevent.monkey import get_original

            close = get_original("os", "close")
            close(ready_r)
            close(done_w)
            if ROOT:
                os.setgid(NOBODY.pw_gid)
                os.setuid(NOBODY.pw_uid)
            import _socket

            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            sock.bind(b"\0" + name.encode())
            sock.listen(5)
            os.write(ready_w, b"R")
            fd, _ = sock._accept()
            os.write(fd, b"I am not your server")
            select.select([done_r], [], [], 10)  # until the test closes its end
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    try:
        os.set_blocking(ready_r, False)
        with gevent.Timeout(5):
            assert gevent.os.nb_read(ready_r, 1) == b"R"
        server = QLocalServer()
        server.setSocketOptions(LocalServerSocketOption.AbstractNamespaceOption)
        assert not server.listen(name)
        assert server.serverError() == QAbstractSocket.AddressInUseError

        client = QLocalSocket()
        client.setSocketOptions(LocalSocketOption.AbstractNamespaceOption)
        client.connectToServer(name)
        assert client.state() == CONNECTED, client.errorString()
        creds = client.peerCredentials()
        assert creds is not None
        assert creds.pid == pid
        if ROOT:
            assert creds.uid == NOBODY.pw_uid != os.getuid()
        assert read_exactly(client, 20) == b"I am not your server"
        client.abort()
    finally:
        os.close(ready_r)
        os.close(done_w)
        reap(pid)


def reap(pid: int, seconds: float = 5.0) -> None:
    """Wait (cooperatively) for forked child *pid* to exit, and collect it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return  # the hub's child watcher collected it
        gevent.sleep(0.005)


ZOMBIE_LAUNCHER = r"""
import os, sys, time
path = sys.argv[1]
r, w = os.pipe()
launcher = os.fork()
if launcher == 0:
    os.close(r)
    from qlsock import QLocalServer
    server = QLocalServer()
    assert server.listen(path)
    me = os.getpid()
    if os.fork():
        os._exit(0)                     # the launcher exits; nobody reaps it yet
    while os.getppid() == me:           # the daemon waits until it is gone
        time.sleep(0.01)
    server.close()
    os.write(w, b"exists" if os.path.lexists(path) else b"removed")
    os._exit(0)
os.close(w)
print(os.read(r, 100).decode())
os.waitpid(launcher, 0)
"""


def test_finding7_a_launcher_not_yet_reaped_counts_as_exited(tmpdir_env: str) -> None:
    """A zombie launcher (exited, its parent not yet waiting for it) still has a
    /proc entry with its start time: it counts as exited all the same, so the
    daemon's close() removes the file."""
    env = {k: v for k, v in os.environ.items() if k != "QLSOCK_TEST_MONKEY"}
    done = subprocess.run([sys.executable, "-c", ZOMBIE_LAUNCHER,
                           os.path.join(tmpdir_env, "zmb")], env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "removed"


def test_a_symlink_at_a_lock_files_name_is_named_as_such(
        tmpdir_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only this user can plant it (the directory is 0700), but the error must blame
    the lock file, not the socket path."""
    from qlsock import locks

    private = os.path.join(tmpdir_env, "locks")
    monkeypatch.setattr(locks, "lock_directory", lambda: private)
    os.mkdir(private, 0o700)
    full = os.path.join(tmpdir_env, "app")
    os.symlink(os.path.join(tmpdir_env, "victim"),
               os.path.join(private, locks._lock_name(full)))
    with pytest.raises(locks.UnsafeLockDirectory, match="is a symbolic link"), \
            locks.name_lock(full, 1.0):
        pass
    assert not os.path.exists(os.path.join(tmpdir_env, "victim"))
