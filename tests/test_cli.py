"""The ``qlsock`` command: every subcommand in-process through ``main(argv)``, plus a few
real ``python -m qlsock`` runs (help, usage errors, piping stdin, SIGTERM)."""

from __future__ import annotations

import importlib.metadata
import io
import os
import signal
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent import socket as gsocket
from gevent import subprocess

from qlsock import QLocalServer, QLocalSocket, __version__, cli
from qlsock.cli import (
    EXIT_ABSENT,
    EXIT_FAILURE,
    EXIT_NOT_A_SOCKET,
    EXIT_OK,
    EXIT_STALE,
    EXIT_USAGE,
    main,
)
from qlsock.socketfile import ServerStatus, probe
from tests import gen_cli_doc
from tests.peers.process import PROJECT_ROOT, peer_env
from tests.support import Harness, Reader, connect_to, qtry, send_now, torn_down

NAME = "cli"
#: Enough to need several reads and writes, little enough to sit in the kernel's
#: socket buffers (so an echo server never has unsent data when the client closes).
PAYLOAD = bytes(range(256)) * 160


@pytest.fixture
def harness() -> Iterator[Harness]:
    yield from torn_down(Harness())


class Captured:
    """Everything the command wrote so far (``capsysbinary``, accumulated)."""

    def __init__(self, capture: pytest.CaptureFixture[bytes]) -> None:
        self._capture = capture
        self.out = b""
        self.err = b""

    def read(self) -> Captured:
        out, err = self._capture.readouterr()
        self.out += out
        self.err += err
        return self

    def take(self) -> tuple[bytes, bytes]:
        """What was written since the last take(), as (stdout, stderr)."""
        self.read()
        taken = (self.out, self.err)
        self.out = self.err = b""
        return taken

    def wait_err(self, text: bytes) -> None:
        assert qtry(lambda: text in self.read().err, 10000), self.err


@pytest.fixture
def cap(capsysbinary: pytest.CaptureFixture[bytes]) -> Captured:
    return Captured(capsysbinary)


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Any:
    def feed(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    return feed


def path_of(name: str) -> str:
    return f"{os.environ['TMPDIR']}/{name}"


def stale_file(name: str) -> str:
    """A socket file nobody listens on, as a server that crashed leaves it."""
    path = path_of(name)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()
    return path


def run_main(argv: list[str], seconds: float = 20) -> int:
    """``main(argv)`` in a greenlet; a hang fails the test after *seconds*."""
    job = gevent.spawn(main, argv)
    try:
        return job.get(timeout=seconds)
    finally:
        job.kill()


def listening_cli(cap: Captured, *argv: str) -> gevent.Greenlet[..., int]:
    """``qlsock listen ...`` in a greenlet, once it says it is listening."""
    job = gevent.spawn(main, ["listen", *argv])
    cap.wait_err(b"qlsock: listening on ")
    return job


def echo_server(harness: Harness, name: str = NAME) -> QLocalServer:
    server = harness.server(name)

    def on_new_connection() -> None:
        while (conn := server.nextPendingConnection()) is not None:
            harness.track(conn)
            conn.readyRead.connect(lambda c=conn: c.write(c.readAll()))

    server.newConnection.connect(on_new_connection)
    return server


def collecting_server(harness: Harness, name: str = NAME) -> list[Reader]:
    """A server whose connections are read to the end by :class:`Reader`s."""
    server = harness.server(name)
    readers: list[Reader] = []

    def on_new_connection() -> None:
        while (conn := server.nextPendingConnection()) is not None:
            readers.append(Reader(harness.track(conn)))

    server.newConnection.connect(on_new_connection)
    return readers


# -- listen ----------------------------------------------------------------------------------


def test_listen_prints_what_clients_send_and_ends_after_max_clients(cap: Captured) -> None:
    job = listening_cli(cap, NAME, "--max-clients", "2")
    assert cap.err == f"qlsock: listening on {path_of(NAME)}\n".encode()
    first, second = connect_to(NAME), connect_to(NAME)
    send_now(first, b"from one \xff\n")
    send_now(second, b"from two\n")
    first.disconnectFromServer()
    second.disconnectFromServer()
    assert job.get(timeout=10) == EXIT_OK
    out = cap.read().out
    assert sorted(out.splitlines(keepends=True)) == [b"from one \xff\n", b"from two\n"]
    assert not os.path.exists(path_of(NAME))
    late = QLocalSocket()
    late.connectToServer(NAME)
    assert late.error() == QLocalSocket.ServerNotFoundError


def test_listen_echo(cap: Captured) -> None:
    job = listening_cli(cap, NAME, "--echo", "--max-clients", "1")
    client = connect_to(NAME)
    reader = Reader(client)
    send_now(client, PAYLOAD)
    assert qtry(lambda: len(reader.data) >= len(PAYLOAD))
    assert bytes(reader.data) == PAYLOAD
    client.disconnectFromServer()
    assert job.get(timeout=10) == EXIT_OK
    assert cap.read().out == b""


def test_listen_refuses_clients_beyond_max_clients(cap: Captured) -> None:
    job = listening_cli(cap, NAME, "--max-clients", "1")
    probed = probe(NAME)  # a probe connects and leaves: it is no client
    assert probed.status is ServerStatus.LIVE
    kept = connect_to(NAME)
    send_now(kept, b"first\n")
    assert qtry(lambda: not os.path.exists(path_of(NAME)))
    refused = QLocalSocket()
    refused.connectToServer(NAME)
    assert refused.state() == QLocalSocket.UnconnectedState
    send_now(kept, b"still served\n")
    kept.disconnectFromServer()
    assert job.get(timeout=10) == EXIT_OK
    assert cap.read().out == b"first\nstill served\n"


@pytest.mark.parametrize(("modes", "mode"), [
    ("user", 0o700), ("user,group", 0o770), ("world", 0o777), ("Other, user", 0o707),
])
def test_listen_access_modes(cap: Captured, modes: str, mode: int) -> None:
    job = listening_cli(cap, NAME, "--mode", modes, "--max-clients", "1")
    assert stat.S_IMODE(os.lstat(path_of(NAME)).st_mode) == mode
    client = connect_to(NAME)
    send_now(client, b"x")
    client.disconnectFromServer()
    assert job.get(timeout=10) == EXIT_OK


def test_listen_abstract(cap: Captured) -> None:
    name = f"qlsock-cli-{os.getpid()}"
    job = listening_cli(cap, name, "--abstract", "--max-clients", "1")
    assert f"listening on @{name} (abstract)".encode() in cap.err
    assert not os.path.exists(path_of(name))
    client = QLocalSocket()
    client.setSocketOptions(QLocalSocket.AbstractNamespaceOption)
    client.connectToServer(name)
    assert client.state() == QLocalSocket.ConnectedState
    send_now(client, b"@")
    client.disconnectFromServer()
    assert job.get(timeout=10) == EXIT_OK
    assert cap.read().out == b"@"


def test_listen_never_takes_a_live_name(cap: Captured, harness: Harness) -> None:
    harness.server(NAME)
    assert main(["listen", NAME, "--reclaim"]) == EXIT_FAILURE
    # Remedies for a shell user; the library's text names removeServer() instead.
    assert cap.read().err.decode() == (
        f"qlsock: cannot listen: a server is listening at {path_of(NAME)}; choose another "
        f"name, or stop that server first (check with: qlsock probe {NAME})\n")
    assert probe(NAME).status is ServerStatus.LIVE


def test_listen_on_a_live_abstract_name_says_abstract_name(cap: Captured,
                                                           harness: Harness) -> None:
    name = f"qlsock-cli-live-{os.getpid()}"
    harness.server(name, options=QLocalServer.AbstractNamespaceOption)
    assert main(["listen", name, "--abstract"]) == EXIT_FAILURE
    assert cap.read().err.decode() == (
        f"qlsock: cannot listen: a server is listening on the abstract name {name!r}; "
        "choose another name, or stop that server first (check with: qlsock probe "
        f"--abstract {name})\n")


def test_listen_reclaims_a_stale_file_only_when_asked(cap: Captured) -> None:
    stale_file(NAME)
    assert main(["listen", NAME]) == EXIT_FAILURE
    err = cap.read().err.decode()
    # Advice for a shell user, not for Python code.
    assert "stale" in err
    assert "--reclaim" in err
    assert f"qlsock remove {NAME}" in err
    assert "reclaim_stale" not in err
    assert "remove_stale" not in err
    job = listening_cli(cap, NAME, "--reclaim", "--max-clients", "1")
    client = connect_to(NAME)
    send_now(client, b"x")
    client.disconnectFromServer()
    assert job.get(timeout=10) == EXIT_OK


def test_listen_name_error(cap: Captured) -> None:
    assert main(["listen", "x" * 200]) == EXIT_FAILURE
    assert b"Name error" in cap.read().err


# -- connect ---------------------------------------------------------------------------------


def test_connect_copies_stdin_to_the_server_and_back(cap: Captured, harness: Harness,
                                                     stdin: Any) -> None:
    echo_server(harness)
    stdin(PAYLOAD)
    assert run_main(["connect", NAME]) == EXIT_OK
    assert cap.read().out == PAYLOAD


def test_connect_half_closes_at_the_end_of_stdin_and_keeps_reading(
        cap: Captured, stdin: Any) -> None:
    # A plain socket server (Qt servers close when the stream ends) reads to the end
    # of the stream, and only then answers.
    listener = gsocket.socket(gsocket.AF_UNIX, gsocket.SOCK_STREAM)
    listener.bind(path_of(NAME))
    listener.listen(1)

    def answer_at_end() -> None:
        conn, _ = listener.accept()
        with conn:
            question = b""
            while chunk := conn.recv(65536):
                question += chunk
            conn.sendall(b"answer to " + question)

    server = gevent.spawn(answer_at_end)
    try:
        stdin(b"question")
        assert run_main(["connect", NAME]) == EXIT_OK
        server.get(timeout=10)
    finally:
        server.kill()
        listener.close()
    assert cap.read().out == b"answer to question"


def test_connect_ends_when_the_server_closes(cap: Captured, harness: Harness,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    server = harness.server(NAME)

    def greet_and_close() -> None:
        conn = server.nextPendingConnection()
        assert conn is not None
        harness.track(conn)
        conn.write(b"bye\n")
        conn.disconnectFromServer()

    server.newConnection.connect(greet_and_close)
    read_end, write_end = os.pipe()
    # stdin stays open: the session ends because the server closed.
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        monkeypatch.setattr(sys, "stdin", pipe)
        try:
            assert run_main(["connect", NAME]) == EXIT_OK
        finally:
            os.close(write_end)
    assert cap.read().out == b"bye\n"


def test_connect_to_nothing(cap: Captured) -> None:
    assert main(["connect", NAME, "--timeout", "1"]) == EXIT_FAILURE
    err = cap.read().err.decode()
    assert err == ("qlsock: cannot connect: QLocalSocket::connectToServer: Invalid name "
                   f"(no server is listening at {path_of(NAME)}: the socket file does not "
                   "exist)\n")


# -- send ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "expected"), [
    (["héllo ✓"], "héllo ✓".encode()),
    (["-n", "line"], b"line\n"),
    (["--newline", ""], b"\n"),
])
def test_send(cap: Captured, harness: Harness, argv: list[str], expected: bytes) -> None:
    readers = collecting_server(harness)
    assert run_main(["send", NAME, *argv]) == EXIT_OK
    assert qtry(lambda: readers and readers[0].finished)
    assert bytes(readers[0].data) == expected
    assert cap.read().out == b""


def test_send_stdin(harness: Harness, stdin: Any) -> None:
    readers = collecting_server(harness)
    data = os.urandom(3 << 20)
    stdin(data)
    assert run_main(["send", NAME, "-"]) == EXIT_OK
    assert qtry(lambda: readers and readers[0].finished)
    assert bytes(readers[0].data) == data


def test_send_to_a_stale_name(cap: Captured) -> None:
    stale_file(NAME)
    assert main(["send", NAME, "x"]) == EXIT_FAILURE
    err = cap.read().err.decode()
    # connectToServer's own detail, once (the CLI used to append a probe's too).
    assert err == (f"qlsock: cannot connect: QLocalSocket::connectToServer: Connection "
                   f"refused (a socket file exists at {path_of(NAME)} but no server is "
                   "listening on it: a stale file left by a server that exited without "
                   "closing, or one that has not started listening yet)\n")


# -- probe and remove ----------------------------------------------------------------------------


def test_probe(cap: Captured, harness: Harness) -> None:
    path = path_of(NAME)
    assert main(["probe", NAME]) == EXIT_ABSENT
    assert cap.read().out == f"absent: {path}\n".encode()
    stale_file(NAME)
    assert main(["probe", NAME]) == EXIT_STALE
    assert cap.read().out.endswith(f"stale: {path}\n".encode())
    os.unlink(path)
    harness.server(NAME)
    assert main(["probe", path]) == EXIT_OK
    assert cap.read().out.endswith(f"live: {path}\n".encode())
    Path(path_of("file")).write_text("")
    assert main(["probe", "file"]) == EXIT_NOT_A_SOCKET
    assert cap.read().out.endswith(f"not a socket: {path_of('file')}\n".encode())
    assert b"qlsock: " in cap.err


def test_probe_abstract(cap: Captured, harness: Harness) -> None:
    """An abstract name is @NAME on stdout and "the abstract name" on stderr, never a
    path (there is no file)."""
    name = f"qlsock-cli-probe-{os.getpid()}"
    assert main(["probe", name, "--abstract"]) == EXIT_ABSENT
    assert cap.take() == (f"absent: @{name}\n".encode(),
                          f"qlsock: no server is listening on the abstract name "
                          f"{name!r}\n".encode())
    harness.server(name, options=QLocalServer.AbstractNamespaceOption)
    assert main(["probe", name, "--abstract"]) == EXIT_OK
    assert cap.take() == (f"live: @{name}\n".encode(),
                          f"qlsock: a server is listening on the abstract name "
                          f"{name!r}\n".encode())


def test_remove(cap: Captured, harness: Harness) -> None:
    path = stale_file(NAME)
    assert main(["remove", NAME]) == EXIT_OK
    assert not os.path.exists(path)
    assert f"removed {path}".encode() in cap.read().err
    assert main(["remove", NAME]) == EXIT_ABSENT


def test_remove_keeps_a_live_server_unless_forced(cap: Captured, harness: Harness) -> None:
    harness.server(NAME)
    assert main(["remove", NAME]) == EXIT_FAILURE
    assert b"--force" in cap.read().err
    connect_to(NAME).abort()
    assert main(["remove", NAME, "--force"]) == EXIT_OK
    assert not os.path.exists(path_of(NAME))


def test_remove_never_removes_what_is_not_a_socket(cap: Captured) -> None:
    path = Path(path_of(NAME))
    path.write_text("data")
    assert main(["remove", NAME, "--force"]) == EXIT_NOT_A_SOCKET
    assert path.read_text() == "data"


# -- bench -----------------------------------------------------------------------------------


def test_bench(cap: Captured, tmpdir_env: str) -> None:
    assert main(["bench", "--count", "300", "--size", "100", "--megabytes", "2"]) == EXIT_OK
    cap.read()
    out = cap.out.decode()
    assert "round trips: 300 of 100 bytes" in out
    assert "throughput:  2.0 MB" in out
    assert "MB/s" in out
    assert "every byte echoed intact" in out
    err = cap.err.decode()
    # Not a terminal: no carriage-return bars, a line per finished phase.
    assert "\r" not in err
    assert "round trips  done\n" in err
    assert "throughput   done\n" in err
    assert os.listdir(tmpdir_env) == []


def test_bench_draws_bars_on_a_terminal(cap: Captured, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["bench", "--count", "50", "--size", "10", "--megabytes", "1"]) == EXIT_OK
    err = cap.read().err.decode()
    assert "round trips  [" + "#" * 30 + "] 100%" in err
    assert "throughput   [" + "#" * 30 + "] 100%" in err


def test_bench_seconds_ends_each_phase_early(cap: Captured) -> None:
    argv = ["bench", "--count", "100000000", "--megabytes", "1e9", "--seconds", "0.05"]
    assert main(argv) == EXIT_OK
    out = cap.read().out.decode()
    trips = int(out.split("round trips: ")[1].split()[0])
    assert 0 < trips < 100000000
    assert "every byte echoed intact" in out


# -- usage -----------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    [], ["frob"], ["listen"], ["listen", ""], ["listen", NAME, "--mode", "everyone"],
    ["listen", NAME, "--max-clients", "0"], ["send", NAME], ["connect", NAME, "--timeout", "x"],
    ["bench", "--count", "-1"], ["remove", NAME, "--abstract"],
])
def test_usage_errors(cap: Captured, argv: list[str]) -> None:
    assert main(argv) == EXIT_USAGE
    err = cap.read().err.decode()
    assert err.startswith("usage: qlsock")
    assert "error:" in err


def test_usage_error_messages(cap: Captured) -> None:
    assert main(["listen", NAME, "--mode", "user,everyone"]) == EXIT_USAGE
    assert "unknown access class 'everyone'" in cap.read().err.decode()


def test_help(cap: Captured) -> None:
    assert main(["--help"]) == EXIT_OK
    out = cap.read().out.decode()
    for command in ("listen", "connect", "send", "probe", "remove", "bench"):
        assert f"    {command}  " in out
    assert "exit status:" in out
    assert "3    probe: a stale socket file" in out
    for command in ("listen", "connect", "send", "probe", "remove", "bench"):
        assert main([command, "--help"]) == EXIT_OK
        assert f"usage: qlsock {command}" in cap.read().out.decode()


def test_each_commands_help_fits_80_columns_and_lists_its_own_exit_statuses(
        cap: Captured, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench takes no NAME and cannot be stale: its footer says neither; every help is
    wrapped to the terminal (descriptions were one long line)."""
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["bench", "--help"]) == EXIT_OK
    out = cap.take()[0].decode()
    footer = out[out.index("\nexit status:"):]
    assert footer == ("\nexit status:\n  0    success: every echoed byte matched\n"
                      "  1    an echo was missing or differed, or the server could not "
                      "listen\n  2    usage error\n  130  interrupted (Ctrl-C)\n")
    assert "NAME" not in out
    assert "--abstract" not in out
    for command in ("", "listen", "connect", "send", "probe", "remove", "bench"):
        assert main([command, "--help"] if command else ["--help"]) == EXIT_OK
        out = cap.take()[0].decode()
        assert max(len(line) for line in out.splitlines()) <= 80, out
        assert ("probe: a stale" in out) == (command == ""), out
        assert ("--abstract" in out) == (command not in ("remove", "bench")), out


def test_the_cli_page_holds_every_commands_current_help() -> None:
    """docs/cli.md shows the help texts in the file itself (GitHub, the sdist); a change
    to the command's options or texts must be carried there: ``make docs-cli``."""
    page = gen_cli_doc.PAGE.read_text()
    assert gen_cli_doc.documented(page) == ["", *cli._COMMANDS]
    assert page == gen_cli_doc.render(page), "docs/cli.md is out of date: make docs-cli"


def test_version(cap: Captured) -> None:
    assert main(["--version"]) == EXIT_OK
    assert cap.read().out.decode() == f"qlsock {__version__}\n"


def test_console_script_entry_point() -> None:
    scripts = importlib.metadata.entry_points(group="console_scripts", name="qlsock")
    assert [ep.value for ep in scripts] == ["qlsock.cli:main"]


# -- python -m qlsock ------------------------------------------------------------------------


def run(*argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "qlsock", *argv], input=stdin,
                          capture_output=True, timeout=30, cwd=PROJECT_ROOT,
                          env=peer_env(os.environ["TMPDIR"]))


def test_module_help_and_usage_error() -> None:
    done = run("--help")
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stdout.startswith(b"usage: qlsock ")
    done = run("probe")
    assert done.returncode == EXIT_USAGE
    assert b"the following arguments are required: NAME" in done.stderr


def test_module_connect_pipes_stdin(harness: Harness) -> None:
    echo_server(harness)
    done = run("connect", NAME, stdin=PAYLOAD)
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stdout == PAYLOAD


def test_module_listen_removes_its_file_on_sigterm() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "qlsock", "listen", NAME],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=PROJECT_ROOT,
                            env=peer_env(os.environ["TMPDIR"]))
    try:
        assert proc.stderr is not None
        with gevent.Timeout(30):
            line = proc.stderr.readline()
        assert line == f"qlsock: listening on {path_of(NAME)}\n".encode()
        client = connect_to(NAME)
        send_now(client, b"before the end")
        assert proc.stdout is not None
        with gevent.Timeout(30):
            assert proc.stdout.read(len(b"before the end")) == b"before the end"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == EXIT_OK, err
    assert out == b""
    assert not os.path.exists(path_of(NAME))
    client.abort()
