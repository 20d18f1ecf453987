"""systemd socket activation, for real: a child process started the way systemd starts
a service (listening sockets moved to descriptor 3 onwards, ``LISTEN_FDS``,
``LISTEN_FDNAMES``, and ``LISTEN_PID`` equal to the service's own pid, set before it
exec'd) serves on them with QLocalServer (by index) and LocalStreamServer (by name);
the test process is the client. The error cases run in one child: wrong pid, no
descriptors, malformed variables, unknown or ambiguous names, and descriptors that
are not listening AF_UNIX stream sockets.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator

import pytest
from gevent import subprocess

from qlsock import QLocalSocket
from tests.peers.process import PEERS_DIR, Peer, peer_env
from tests.support import Harness, connect_to, torn_down

LAUNCH = str(PEERS_DIR / "activation_launch.py")
CHILD = str(PEERS_DIR / "activation_child.py")


class ActivatedPeer(Peer):
    """``activation_child.py`` started by ``activation_launch.py`` with *fds* passed."""

    def __init__(self, fds: list[int], names: str | None, args: tuple[str, ...]) -> None:
        launcher = [LAUNCH, *(["--names", names] if names else []), *map(str, fds)]
        self.argv = [sys.executable, *launcher, "--", CHILD, *args]
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=peer_env(os.environ["TMPDIR"]),
            pass_fds=fds)
        self.lines: list[str] = []
        self.stdout = self.stderr = ""
        self.done = False


@pytest.fixture
def harness() -> Iterator[Harness]:
    yield from torn_down(Harness())


@pytest.fixture
def descriptors() -> Iterator[list[socket.socket]]:
    """The "service manager's" sockets, closed at teardown (it keeps its copies)."""
    made: list[socket.socket] = []
    yield made
    for sock in made:
        sock.close()


@pytest.fixture
def launch() -> Iterator[list[ActivatedPeer]]:
    peers: list[ActivatedPeer] = []
    yield peers
    for peer in peers:
        peer.reap()


def listening(descriptors: list[socket.socket], path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    descriptors.append(sock)
    sock.bind(path)
    sock.listen(8)
    return sock


def ask(harness: Harness, path: str, line: bytes) -> tuple[int, bytes]:
    """Send *line*; the child answers ``<its pid> <line>`` and closes."""
    sock = harness.track(connect_to(path))
    sock.write(line + b"\n")
    while sock.state() != QLocalSocket.UnconnectedState:
        assert sock.waitForReadyRead(20000) or sock.state() == QLocalSocket.UnconnectedState
    pid, _, echoed = sock.readAll().partition(b" ")
    return int(pid), echoed


def test_qlocalserver_listens_on_the_passed_descriptor_by_index(
        harness: Harness, descriptors: list[socket.socket], launch: list[ActivatedPeer],
        tmpdir_env: str) -> None:
    path = os.path.join(tmpdir_env, "activated")
    listener = listening(descriptors, path)
    peer = ActivatedPeer([listener.fileno()], None, ("qlocalserver", "0", "2"))
    launch.append(peer)
    assert peer.ready() == [path], peer.transcript()
    for i in range(2):
        pid, echoed = ask(harness, path, b"hello %d" % i)
        assert (pid, echoed) == (peer.proc.pid, b"hello %d\n" % i), peer.transcript()
    result = peer.result()
    assert result["server_name"] == "activated"
    assert result["descriptor"] == 3
    assert result["inheritable"] is False  # sd_listen_fds marks them close-on-exec
    assert result["environment"] == {}  # unset_environment=True
    assert os.path.exists(path)  # close() leaves the manager's socket file alone


def test_local_stream_server_serves_the_descriptor_picked_by_name(
        harness: Harness, descriptors: list[socket.socket], launch: list[ActivatedPeer],
        tmpdir_env: str) -> None:
    other = listening(descriptors, os.path.join(tmpdir_env, "other"))
    path = os.path.join(tmpdir_env, "api")
    api = listening(descriptors, path)
    peer = ActivatedPeer([other.fileno(), api.fileno()], "other:api", ("stream", "api", "3"))
    launch.append(peer)
    assert peer.ready() == [path], peer.transcript()
    for i in range(3):
        assert ask(harness, path, b"q%d" % i) == (peer.proc.pid, b"q%d\n" % i)
    result = peer.result()
    assert result["server_name"] == "api"
    assert result["environment"]["LISTEN_FDNAMES"] == "other:api"
    assert result["environment"]["LISTEN_PID"] == str(peer.proc.pid)
    assert result["inheritable"] == [False, False]


def test_wrong_environments_and_descriptors_are_reported_clearly(
        descriptors: list[socket.socket], launch: list[ActivatedPeer], tmpdir_env: str) -> None:
    good = listening(descriptors, os.path.join(tmpdir_env, "good"))
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    descriptors.append(idle)
    idle.bind(os.path.join(tmpdir_env, "idle"))
    dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    descriptors.append(dgram)
    twins = [listening(descriptors, os.path.join(tmpdir_env, f"twin{i}")) for i in (1, 2)]
    read_end, write_end = os.pipe()
    try:
        fds = [good.fileno(), idle.fileno(), dgram.fileno(), read_end,
               *(t.fileno() for t in twins)]
        peer = ActivatedPeer(fds, "good:idle:dgram:pipe:twin:twin", ("errors",))
        launch.append(peer)
        r = peer.result()
    finally:
        os.close(read_end)
        os.close(write_end)
    names = ["good", "idle", "dgram", "pipe", "twin", "twin"]
    assert r["passed"] == [[3 + i, i, name] for i, name in enumerate(names)]
    assert r["inheritable"] == [False] * 6
    assert (r["by_index"], r["by_name"], r["twin_by_index"]) == (3, 3, 8)

    assert "no passed descriptor is named 'nosuch'" in r["unknown"]
    assert "0: 'good' (fd 3)" in r["unknown"]  # it lists what was passed
    assert "no passed descriptor at index 6; 6 were passed" in r["out_of_range"]
    assert "descriptor 4 (index 1, name 'idle')" in r["idle"]
    assert "not listening" in r["idle"]
    assert "SOCK_DGRAM, not SOCK_STREAM" in r["dgram"]
    assert "is a pipe, not a socket" in r["pipe"]
    assert "2 passed descriptors are named 'twin' (indexes 4, 5)" in r["twin"]
    assert "not listening" in r["qlocalserver_idle"]
    assert r["qlocalserver_listening"] is False
    assert "is a pipe" in r["stream_pipe"]

    ppid = os.getpid()  # the child's parent: the launcher exec'd into the child
    assert r["other_pid_fds"] == 0  # the variables were inherited, not meant for it
    assert f"LISTEN_PID={ppid} is another process" in r["other_pid"]
    assert "LISTEN_PID is not set" in r["no_pid"]
    assert "LISTEN_FDS is not set" in r["no_fds_var"]
    assert "LISTEN_PID='12ab' is not a positive decimal number" in r["bad_pid"]
    assert "LISTEN_FDS='0' is not a positive decimal number" in r["zero_fds"]
    assert "names 2 descriptors but LISTEN_FDS=6" in r["names_mismatch"]
    assert r["no_names"] == ["unknown"]
    assert r["unset"] == [6, {}]
    assert "LISTEN_PID is not set" in r["after_unset"]
