"""qlsock.singleinstance: election, argument forwarding, stale files and races."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest

from qlsock import QLocalServer, QLocalSocket, singleinstance
from qlsock.singleinstance import (
    ACK,
    MAX_MESSAGE_BYTES,
    SingleInstance,
    SingleInstanceError,
    decode_message,
    encode_message,
)
from qlsock.socketfile import ServerStatus, probe
from tests.peers.process import PEERS_DIR, Peer, Spawn, spawner
from tests.support import Spy, qtry

SINGLE_APP = str(PEERS_DIR / "single_app.py")
NAME = "app"


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    with spawner() as start:
        yield start


@pytest.fixture
def instances() -> Iterator[list[SingleInstance]]:
    made: list[SingleInstance] = []
    yield made
    for instance in made:
        instance.close()


@pytest.fixture
def make(instances: list[SingleInstance]) -> Any:
    def new(name: Any = NAME, **kwargs: Any) -> SingleInstance:
        instance = SingleInstance(name, **kwargs)
        instances.append(instance)
        return instance
    return new


def inode(path: str) -> tuple[int, int]:
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode)
    return st.st_dev, st.st_ino


# -- the protocol -----------------------------------------------------------------------


def test_frames_round_trip_any_text() -> None:
    args = ["plain", "", "ünïcödé ✓", "日本語", "tab\tnew\nline", "\udcff\udc80 undecodable"]
    frame = encode_message(args)
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert frame[4:].isascii()
    assert decode_message(frame[4:]) == args


@pytest.mark.parametrize("payload", [b"{}", b'["a", 1]', b"\xff", b"not json", b'"a"'])
def test_a_payload_that_is_not_a_list_of_strings_is_refused(payload: bytes) -> None:
    with pytest.raises(ValueError, match="not"):
        decode_message(payload)


def test_an_oversized_message_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="at most"):
        encode_message(["x" * MAX_MESSAGE_BYTES])


# -- election in one process ---------------------------------------------------------------


def test_the_first_instance_is_primary_and_later_ones_forward(make: Any,
                                                              tmpdir_env: str) -> None:
    primary = make()
    assert not primary.is_primary
    assert primary.start(["first"]) is True
    assert primary.is_primary
    path = primary.full_server_name
    assert path == f"{tmpdir_env}/{NAME}"
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o700
    before = inode(path)
    spy = Spy(primary.messageReceived)
    sent = [["--open", "ünïcödé ✓.txt"], [], ["日本語", "\udcff"], ["a b", "", "-"]]
    for args in sent:
        secondary = make()
        assert secondary.start(args) is False
        assert not secondary.is_primary
    assert qtry(lambda: len(spy) == len(sent))
    assert sorted(call[0] for call in spy.calls) == sorted(sent)
    # A live primary is never displaced: its socket file is the same one.
    assert inode(path) == before
    assert primary.is_primary


def test_argv_defaults_to_this_programs_arguments(make: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    primary = make()
    assert primary.start([])
    spy = Spy(primary.messageReceived)
    monkeypatch.setattr("sys.argv", ["prog", "x", "ÿ"])
    assert make().start() is False
    assert qtry(lambda: len(spy) == 1)
    assert spy[0] == (["x", "ÿ"],)


def test_close_removes_the_name_and_a_later_instance_becomes_primary(make: Any) -> None:
    first = make()
    assert first.start([])
    path = first.full_server_name
    first.close()
    assert not first.is_primary
    assert not os.path.exists(path)
    second = make()
    assert second.start([]) is True
    spy = Spy(second.messageReceived)
    assert make().start(["again"]) is False
    assert qtry(lambda: len(spy) == 1)


def test_a_slot_may_close_the_primary(make: Any) -> None:
    primary = make()
    assert primary.start([])
    seen: list[list[str]] = []

    def quit_on(args: list[str]) -> None:
        seen.append(args)
        if args == ["quit"]:
            primary.close()

    primary.messageReceived.connect(quit_on)
    assert make().start(["quit"]) is False
    assert qtry(lambda: not primary.is_primary)
    assert seen == [["quit"]]
    assert not os.path.exists(primary.full_server_name)


def test_with_closes(make: Any) -> None:
    with SingleInstance(NAME) as instance:
        assert instance.start([])
        path = instance.full_server_name
        assert os.path.exists(path)
    assert not instance.is_primary
    assert not os.path.exists(path)


def test_abstract_namespace(make: Any) -> None:
    name = f"qlsock-si-{os.getpid()}-{id(make)}"
    primary = make(name, options=QLocalServer.AbstractNamespaceOption)
    assert primary.start([])
    assert primary.full_server_name == name
    assert not os.path.exists(f"{os.environ['TMPDIR']}/{name}")
    spy = Spy(primary.messageReceived)
    assert make(name, options=QLocalServer.AbstractNamespaceOption).start(["@"]) is False
    assert qtry(lambda: len(spy) == 1)
    assert spy[0] == (["@"],)


def test_a_stale_file_is_taken_over(make: Any, tmpdir_env: str) -> None:
    path = f"{tmpdir_env}/{NAME}"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()
    assert probe(path).status is ServerStatus.STALE
    primary = make()
    assert primary.start([]) is True
    assert probe(path).status is ServerStatus.LIVE
    spy = Spy(primary.messageReceived)
    assert make().start(["after"]) is False
    assert qtry(lambda: len(spy) == 1)


def test_an_instance_that_loses_the_race_to_listen_forwards_to_the_winner(
        make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The rival becomes primary between this instance's failed connect and its listen.
    rival = make()
    waiting = [rival]

    class Overtaken(QLocalServer):
        def listen(self, name: Any, **kwargs: Any) -> bool:
            while waiting:
                assert waiting.pop().start([]) is True
            return super().listen(name, **kwargs)

    monkeypatch.setattr(singleinstance, "QLocalServer", Overtaken)
    spy = Spy(rival.messageReceived)
    late = make()
    assert late.start(["late"]) is False
    assert rival.is_primary
    assert qtry(lambda: len(spy) == 1)
    assert spy[0] == (["late"],)


def test_a_primary_that_goes_away_mid_message_sends_the_secondary_back_to_the_election(
        make: Any) -> None:
    server = QLocalServer()
    assert server.listen(NAME)
    hits: list[int] = []

    def vanish() -> None:
        conn = server.nextPendingConnection()
        assert conn is not None
        hits.append(1)
        conn.abort()
        server.close()

    server.newConnection.connect(vanish)
    instance = make()
    assert instance.start(["x"]) is True
    assert hits == [1]
    assert instance.is_primary


# -- what start() refuses ------------------------------------------------------------------


def test_a_file_that_is_not_a_socket_is_never_removed(make: Any, tmpdir_env: str) -> None:
    path = Path(tmpdir_env, NAME)
    path.write_text("keep me")
    with pytest.raises(SingleInstanceError, match="not a socket"):
        make(timeout=3).start([])
    assert path.read_text() == "keep me"


def test_a_server_that_is_not_a_primary_is_reported(make: Any) -> None:
    server = QLocalServer()
    assert server.listen(NAME)

    def answer() -> None:
        conn = server.nextPendingConnection()
        assert conn is not None
        conn.write(b"HTTP/1.0 400\r\n")
        conn.flush()

    server.newConnection.connect(answer)
    try:
        with pytest.raises(SingleInstanceError, match="not a SingleInstance acknowledgement"):
            make().start([])
    finally:
        server.close()


def test_a_primary_that_never_answers_times_out(make: Any) -> None:
    server = QLocalServer()
    assert server.listen(NAME)
    try:
        with pytest.raises(SingleInstanceError, match=r"did not acknowledge within 0\.3 s"):
            make(timeout=0.3).start([])
    finally:
        server.close()


def test_the_primary_drops_a_bad_message_and_keeps_serving(
        make: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="qlsock")
    primary = make()
    assert primary.start([])
    spy = Spy(primary.messageReceived)
    bad = QLocalSocket()
    bad.connectToServer(NAME)
    assert bad.state() == QLocalSocket.ConnectedState
    bad.write(len(b"[1]").to_bytes(4, "big") + b"[1]")
    assert bad.waitForDisconnected(5000)
    assert bad.readAll() == b""
    bad.close()
    huge = QLocalSocket()
    huge.connectToServer(NAME)
    huge.write((MAX_MESSAGE_BYTES + 1).to_bytes(4, "big"))
    assert huge.waitForDisconnected(5000)
    huge.close()
    assert make().start(["good"]) is False
    assert qtry(lambda: len(spy) == 1)
    assert spy[0] == (["good"],)
    warnings = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 2, warnings
    assert "JSON array of strings" in warnings[0]
    assert "limit" in warnings[1]


def test_a_secondary_is_acknowledged_before_start_returns(make: Any) -> None:
    # A client speaking the protocol by hand sees exactly the ACK, then the close.
    primary = make()
    assert primary.start([])
    sock = QLocalSocket()
    sock.connectToServer(NAME)
    sock.write(encode_message(["hand"]))
    assert sock.waitForDisconnected(5000)
    assert sock.readAll() == ACK
    sock.close()


@pytest.mark.parametrize(("name", "error"), [
    (b"app", TypeError), (42, TypeError), (None, TypeError), ("", ValueError),
])
def test_bad_names(name: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="SingleInstance"):
        SingleInstance(name)


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"options": "user"}, TypeError), ({"options": True}, TypeError),
    ({"options": 0x100}, ValueError), ({"timeout": 0}, ValueError),
    ({"timeout": -1.0}, ValueError), ({"timeout": "5"}, TypeError),
    ({"timeout": float("nan")}, ValueError), ({"timeout": float("inf")}, ValueError),
])
def test_bad_settings(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match="SingleInstance"):
        SingleInstance(NAME, **kwargs)


@pytest.mark.parametrize("argv", ["abc", b"abc", ["ok", 1], [b"x"], 5])
def test_bad_argv(make: Any, argv: Any) -> None:
    instance = make()
    with pytest.raises(TypeError, match="argv"):
        instance.start(argv)
    assert not os.path.exists(instance.full_server_name)


def test_start_once(make: Any) -> None:
    instance = make()
    assert instance.start([])
    with pytest.raises(RuntimeError, match="only once"):
        instance.start([])


def test_a_pathlike_name(make: Any, tmpdir_env: str) -> None:
    instance = make(Path(tmpdir_env, "p"))
    assert instance.start([])
    assert instance.full_server_name == f"{tmpdir_env}/p"


# -- separate processes ---------------------------------------------------------------------


def released(peers: list[Peer]) -> None:
    """Wait until every peer is READY, then let them all go at once."""
    for peer in peers:
        assert peer.readline() == "READY", peer.transcript()
    for peer in peers:
        peer.send("go")


def test_a_stale_file_left_by_a_killed_primary_is_recovered(spawn: Spawn, make: Any,
                                                          tmpdir_env: str) -> None:
    peer = spawn(SINGLE_APP, NAME, 1000)
    released([peer])
    assert peer.readline() == "PRIMARY", peer.transcript()
    path = f"{tmpdir_env}/{NAME}"
    assert probe(path).status is ServerStatus.LIVE
    peer.proc.kill()
    peer.finish()
    assert probe(path).status is ServerStatus.STALE
    primary = make()
    assert primary.start([]) is True
    assert probe(path).status is ServerStatus.LIVE
    spy = Spy(primary.messageReceived)
    assert make().start(["alive"]) is False
    assert qtry(lambda: len(spy) == 1)


def test_several_processes_started_together_elect_exactly_one_primary(spawn: Spawn) -> None:
    count = 5
    peers = [spawn(SINGLE_APP, NAME, count - 1, f"peer {i}", "ü✓") for i in range(count)]
    released(peers)
    roles = {id(peer): peer.readline() for peer in peers}
    primaries = [p for p in peers if roles[id(p)] == "PRIMARY"]
    assert len(primaries) == 1, [p.transcript() for p in peers]
    primary = primaries[0]
    messages = [json.loads(primary.expect("MESSAGE")) for _ in range(count - 1)]
    assert primary.readline() == "DONE"
    assert primary.finish() == 0, primary.transcript()
    for peer in peers:
        if peer is not primary:
            assert roles[id(peer)] == "SECONDARY", peer.transcript()
            assert peer.finish() == 0, peer.transcript()
    expected = [[f"peer {i}", "ü✓"] for i in range(count) if peers[i] is not primary]
    assert sorted(messages) == sorted(expected)


def test_greenlets_started_together_elect_exactly_one_primary(make: Any) -> None:
    contenders = [make() for _ in range(5)]
    jobs = [gevent.spawn(c.start, [str(i)]) for i, c in enumerate(contenders)]
    gevent.joinall(jobs, raise_error=True)
    assert sorted(job.value for job in jobs) == [False, False, False, False, True]
