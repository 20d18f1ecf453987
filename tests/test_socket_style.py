"""The gevent face of QLocalSocket: socket-style calls, qlsock.connect(), messages.

What gevent's own sockets give a greenlet-per-client program, on the same object as
Qt's API: ``sendall``, ``recv``, ``recv_into``, ``recv_exactly``, ``makefile``,
``settimeout``/``gettimeout``, ``send_message``/``recv_message``, and
``qlsock.connect()``; failures as the OSError subclasses Python's sockets raise, with
Qt's code in ``qt_error``. Messages are checked against PySide6's QDataStream in a
child process, both ways.
"""

from __future__ import annotations

import errno
import os
import sys
import textwrap
import time
from typing import Any

import gevent
import gevent.event
import pytest
from gevent import subprocess as gevent_subprocess

import qlsock
from qlsock import IncompleteReadError, LocalSocketError, MessageTooLargeError, QLocalSocket


@pytest.fixture
def echo() -> Any:
    def handle(sock: QLocalSocket) -> None:
        while data := sock.recv(65536):
            sock.sendall(data)

    server = qlsock.serve("echo", handle)
    yield server
    server.stop(timeout=1)


def test_connect_sendall_recv_and_the_context_manager(echo: Any) -> None:
    with qlsock.connect("echo", timeout=5) as sock:
        assert sock.gettimeout() == 5
        payload = os.urandom(3 << 20)
        sender = gevent.spawn(sock.sendall, payload)
        got = bytearray()
        while len(got) < len(payload):
            chunk = sock.recv(1 << 16)
            assert chunk
            got += chunk
        sender.get(timeout=10)
        assert bytes(got) == payload
        assert sock.bytesToWrite() == 0
    assert sock.state() != QLocalSocket.ConnectedState


def test_recv_returns_empty_bytes_at_the_end_of_the_stream() -> None:
    def handle(sock: QLocalSocket) -> None:
        sock.sendall(b"last words")

    server = qlsock.serve("bye", handle)
    try:
        sock = qlsock.connect("bye")
        assert sock.recv_exactly(10) == b"last words"
        assert sock.recv(10) == b""
        assert sock.recv(10) == b""
        with pytest.raises(IncompleteReadError) as info:
            sock.recv_exactly(1)
        assert info.value.partial == b""
        assert info.value.expected == 1
    finally:
        server.stop(timeout=1)


def test_recv_into_and_its_bounds(echo: Any) -> None:
    sock = qlsock.connect("echo")
    sock.sendall(b"abcdef")
    buffer = bytearray(4)
    assert sock.recv_into(buffer) == 4
    assert buffer == b"abcd"
    view = memoryview(bytearray(10))
    assert sock.recv_into(view, 2) == 2
    assert bytes(view[:2]) == b"ef"
    with pytest.raises(ValueError, match="greater than the length"):
        sock.recv_into(bytearray(2), 3)
    with pytest.raises(TypeError):
        sock.recv(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sock.recv(-1)
    assert sock.recv(0) == b""
    sock.abort()


def test_timeouts_in_seconds_raise_timeout_error_and_leave_the_socket_usable(
        echo: Any) -> None:
    sock = qlsock.connect("echo")
    errors: list[Any] = []
    sock.errorOccurred.connect(errors.append)
    sock.settimeout(0.05)
    started = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        sock.recv(10)
    assert 0.04 <= time.monotonic() - started < 1.0
    assert info.value.qt_error == LocalSocketError.SocketTimeoutError  # type: ignore[attr-defined]
    assert info.value.errno == errno.ETIMEDOUT
    assert errors == [LocalSocketError.SocketTimeoutError]  # as a waitFor* timeout
    sock.settimeout(0)
    with pytest.raises(BlockingIOError):
        sock.recv(10)
    sock.settimeout(None)
    sock.sendall(b"still here")
    assert sock.recv_exactly(10) == b"still here"
    with pytest.raises(ValueError):
        sock.settimeout(-1)
    with pytest.raises(TypeError):
        sock.settimeout("1")  # type: ignore[arg-type]
    sock.setblocking(False)
    assert sock.gettimeout() == 0.0
    sock.abort()


def test_a_gevent_timeout_around_a_call_loses_nothing(echo: Any) -> None:
    sock = qlsock.connect("echo")
    with pytest.raises(gevent.Timeout), gevent.Timeout(0.05):
        sock.recv_exactly(6)
    sock.sendall(b"abc")
    with pytest.raises(gevent.Timeout), gevent.Timeout(0.2):
        sock.recv_exactly(6)  # three came: they stay buffered
    sock.sendall(b"def")
    assert sock.recv_exactly(6) == b"abcdef"
    sock.abort()


def test_sending_on_an_ended_connection_raises_broken_pipe(echo: Any) -> None:
    sock = qlsock.connect("echo")
    sock.abort()
    with pytest.raises(BrokenPipeError) as info:
        sock.sendall(b"x")
    assert info.value.errno == errno.EPIPE


def test_connect_failures_are_the_matching_os_errors(tmpdir_env: str) -> None:
    with pytest.raises(FileNotFoundError) as missing:
        qlsock.connect("nobody")
    # The path once: connectToServer's detail names it, so the message does not again.
    assert str(missing.value) == (
        f"[Errno 2] cannot connect: QLocalSocket::connectToServer: Invalid name (no server "
        f"is listening at {tmpdir_env}/nobody: the socket file does not exist)")
    assert missing.value.qt_error == LocalSocketError.ServerNotFoundError  # type: ignore[attr-defined]
    import socket

    dead = socket.socket(socket.AF_UNIX)
    dead.bind(os.path.join(tmpdir_env, "dead"))
    dead.close()
    with pytest.raises(ConnectionRefusedError) as refused:
        qlsock.connect("dead")
    assert str(refused.value).count(f"{tmpdir_env}/dead") == 1, refused.value
    assert "no server is listening on it" in str(refused.value)
    with pytest.raises(FileNotFoundError) as empty:
        qlsock.connect("")
    assert str(empty.value) == ("[Errno 2] cannot connect: QLocalSocket::connectToServer: "
                                "Invalid name (the name is empty)")
    with pytest.raises(ValueError):
        qlsock.connect("dead", timeout=-1)


def test_makefile_text_lines_both_ways_lose_nothing_read_ahead() -> None:
    def handle(sock: QLocalSocket) -> None:
        with sock.makefile("rw", encoding="utf-8") as f:
            for line in f:
                f.write(line.upper())
                f.flush()

    server = qlsock.serve("lines", handle)
    try:
        sock = qlsock.connect("lines", timeout=5)
        sock.sendall("one\ntwo\nthree ü\n".encode())  # all at once: read ahead
        reader = sock.makefile("rb")
        assert [reader.readline() for _ in range(3)] == [b"ONE\n", b"TWO\n",
                                                          "THREE Ü\n".encode()]
        writer = sock.makefile("w")
        writer.write("four\n")
        writer.flush()
        assert reader.readline() == b"FOUR\n"
        with pytest.raises(ValueError):
            sock.makefile("x")
        with pytest.raises(ValueError):
            sock.makefile("r", buffering=0)
        sock.abort()
    finally:
        server.stop(timeout=1)


def test_messages_round_trip_with_every_size_and_refuse_an_oversized_one() -> None:
    def handle(sock: QLocalSocket) -> None:
        while (message := sock.recv_message()) is not None:
            sock.send_message(message)

    server = qlsock.serve("msgs", handle)
    try:
        sock = qlsock.connect("msgs", timeout=10)
        for size in (0, 1, 65535, 65536, 3 << 20):
            payload = os.urandom(size)
            sock.send_message(payload)
            assert sock.recv_message() == payload
        sock.sendall((100 << 20).to_bytes(4, "big"))
        sock.send_message(b"ignored")
        other = qlsock.connect("msgs")
        other.sendall((100 << 20).to_bytes(4, "big"))
        # A client refuses an oversized announcement the same way.
        echoed = qlsock.connect("msgs")
        echoed.send_message(b"x" * 100)
        with pytest.raises(MessageTooLargeError):
            echoed.recv_message(max_size=10)
        assert echoed.state() == QLocalSocket.UnconnectedState
        # The server dropped the oversized ones and serves on.
        fresh = qlsock.connect("msgs")
        fresh.send_message(b"still served")
        assert fresh.recv_message() == b"still served"
        assert sock.recv_message() is None  # the server aborted it
    finally:
        server.stop(timeout=1)


def test_a_truncated_message_is_an_incomplete_read() -> None:
    def handle(sock: QLocalSocket) -> None:
        sock.sendall((10).to_bytes(4, "big") + b"abc")

    server = qlsock.serve("cut", handle)
    try:
        sock = qlsock.connect("cut")
        with pytest.raises(IncompleteReadError) as info:
            sock.recv_message()
        assert info.value.partial == b"abc"
    finally:
        server.stop(timeout=1)


QT_MESSAGES = textwrap.dedent("""
    import os, sys
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QByteArray, QCoreApplication, QDataStream
    from PySide6.QtNetwork import QLocalSocket
    app = QCoreApplication([])
    sock = QLocalSocket()
    sock.connectToServer(sys.argv[1])
    assert sock.waitForConnected(5000)
    stream = QDataStream(sock)
    stream.setVersion(QDataStream.Version.Qt_6_5)
    for size in (0, 5, 70000):
        stream << QByteArray(bytes(range(256)) * (size // 256) + bytes(size % 256))
    sock.flush()
    got = []
    while len(got) < 3:
        stream.startTransaction()
        message = QByteArray()
        stream >> message
        if stream.commitTransaction():
            got.append(bytes(message.data()))
        elif not sock.waitForReadyRead(5000):
            break
    print(",".join(str(len(m)) for m in got), flush=True)
    print(got[2][:4].hex(), flush=True)
    sock.disconnectFromServer()
""")


def test_messages_speak_qdatastream_qbytearray_framing_with_pyside6() -> None:
    """A PySide6 client writes QByteArrays with QDataStream and reads ours back with
    QDataStream transactions: both ways, byte for byte."""
    received: list[bytes] = []

    def handle(sock: QLocalSocket) -> None:
        for _ in range(3):
            message = sock.recv_message()
            assert message is not None
            received.append(message)
        for message in (b"", b"hello", b"\x01\x02\x03\x04" * 20000):
            sock.send_message(message)
        sock.recv(1)

    server = qlsock.serve("qtmsg", handle)
    try:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        env.pop("QLSOCK_TEST_MONKEY", None)
        # gevent's subprocess: the server in this process serves while the child runs.
        done = gevent_subprocess.run(
            [sys.executable, "-c", QT_MESSAGES, server.fullServerName()],
            capture_output=True, text=True, timeout=60, env=env, check=False)
        assert done.returncode == 0, done.stderr
        sizes, head = done.stdout.split()
        assert sizes == "0,5,80000"
        assert head == "01020304"
        assert [len(m) for m in received] == [0, 5, 70000]
        assert received[2] == bytes(range(256)) * (70000 // 256) + bytes(70000 % 256)
    finally:
        server.stop(timeout=1)


def test_serve_defaults_to_a_greenlet_per_client_and_logs_a_full_pool(
        caplog: pytest.LogCaptureFixture) -> None:
    """As gevent's StreamServer, no pool unless asked; with one, clients kept waiting
    by a full pool are logged (once per episode) instead of waiting silently."""
    unbounded = qlsock.serve("free", lambda sock: None)
    assert unbounded.pool is None
    unbounded.stop(timeout=1)
    release = gevent.event.Event()

    def handle(sock: QLocalSocket) -> None:
        release.wait(5)
        sock.sendall(b"served")

    caplog.set_level("WARNING", logger="qlsock")
    server = qlsock.serve("full", handle, spawn=1, allowed_uids=[os.geteuid()])
    try:
        first = qlsock.connect("full", timeout=5)
        gevent.sleep(0.05)
        second = qlsock.connect("full", timeout=5)
        third = qlsock.connect("full", timeout=5)
        gevent.sleep(0.1)
        busy = [r for r in caplog.records if "handlers are busy" in r.getMessage()]
        assert len(busy) == 1
        release.set()
        for sock in (first, second, third):
            assert sock.recv_exactly(6) == b"served"
    finally:
        server.stop(timeout=1)


def test_send_fileno_and_shutdown_as_sockets_have_them(echo: Any) -> None:
    import socket

    from gevent import select

    sock = qlsock.connect("echo", timeout=5)
    assert sock.fileno() == sock.socketDescriptor() >= 0
    assert sock.send(b"ping") == 4
    readable, _, _ = select.select([sock], [], [], 5)
    assert readable == [sock]
    assert sock.recv_exactly(4) == b"ping"
    sock.sendall(b"last")
    sock.shutdown(socket.SHUT_WR)           # the server reads its end of stream...
    assert sock.recv_exactly(4) == b"last"  # ...and this side still reads the echo
    assert sock.recv(1) == b""
    with pytest.raises(ValueError):
        sock.shutdown(7)


def test_send_message_takes_bytes_like_only(echo: Any) -> None:
    sock = qlsock.connect("echo")
    with pytest.raises(TypeError, match="encode it first"):
        sock.send_message("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not int"):
        sock.send_message(5)  # type: ignore[arg-type]
    sock.abort()
    with pytest.raises(BrokenPipeError, match="not connected"):
        sock.sendall(b"x")


def test_a_handler_written_for_gevents_stream_server_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="handle\\(sock\\), not gevent's"):
        qlsock.serve("two", lambda sock, address: None)


def test_recv_on_a_socket_that_is_not_connected_raises_as_sockets_do(echo: Any) -> None:
    fresh = QLocalSocket()
    with pytest.raises(OSError) as info:
        fresh.recv(1)
    assert info.value.errno == errno.ENOTCONN
    closed = qlsock.connect("echo")
    closed.abort()
    with pytest.raises(OSError, match="not connected"):
        closed.recv(1)


def test_concurrent_waits_raise_what_gevent_raises() -> None:
    from gevent.exceptions import ConcurrentObjectUseError

    assert issubclass(qlsock.ConcurrentWaitError, ConcurrentObjectUseError)
    assert issubclass(qlsock.ConcurrentWaitError, RuntimeError)

