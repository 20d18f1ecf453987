"""The programs in examples/ run as a user runs them, and do what they say.

Each example runs in a child process of its own (as ``python examples/NAME.py``), in
the test's private ``$TMPDIR``; the test reads what it prints and checks the exit
code, that every reply matches what was sent, and that servers remove their socket
file on a clean stop (SIGTERM or their ``--clients`` / ``--count`` limit). Waiting on
the children yields only the test's greenlet (``gevent.subprocess``), so this works in
the monkey-patched run too.
"""

from __future__ import annotations

import ast
import itertools
import os
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from .peers.process import PROJECT_ROOT, Peer, Spawn, spawner

EXAMPLES = Path(PROJECT_ROOT) / "examples"


@pytest.fixture
def spawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spawn]:
    """Start ``examples/<file>`` with arguments; every child is reaped afterwards."""
    # Unbuffered, so each line the example prints reaches the test as it happens.
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    with spawner() as start:
        def start_example(filename: str, *args: object) -> Peer:
            return start(str(EXAMPLES / filename), *args)
        yield start_example


def output(peer: Peer) -> list[str]:
    """Every line the child printed, once it has exited with code 0."""
    assert peer.finish() == 0, peer.transcript()
    return "".join(peer.lines).splitlines() + peer.stdout.splitlines()


def socket_path(name: str) -> str:
    return os.path.join(os.environ["TMPDIR"], name)


def stop(server: Peer) -> list[str]:
    """SIGTERM *server*; its output after a clean exit (code 0)."""
    server.proc.send_signal(signal.SIGTERM)
    return output(server)


def fortunes_sent(lines: list[str]) -> set[str]:
    """The fortunes a fortune server printed as ``server: sending '...'``."""
    prefix = "server: sending "
    return {ast.literal_eval(line[len(prefix):]) for line in lines if line.startswith(prefix)}


def fortunes_shown(lines: list[str]) -> list[str]:
    """The fortunes a fortune client printed (``client: <fortune>``)."""
    return [line[len("client: "):] for line in lines
            if line.startswith("client: ") and "the same fortune again" not in line]


# -- echo -------------------------------------------------------------------------------


@pytest.mark.parametrize("server_style", ["signals", "blocking"])
def test_echo_server_and_clients_in_both_styles(spawn: Spawn, server_style: str) -> None:
    server = spawn("echo_server.py", "echo", "--style", server_style, "--clients", 2)
    assert server.expect("server: listening on") == \
        f"{socket_path('echo')} ({server_style} style)"
    messages = ["hello", "two words", "ünïcödé ✓"]
    # Both clients at once: the server serves them concurrently.
    clients = [spawn("echo_client.py", "echo", *messages, "--style", style)
               for style in ("blocking", "signals")]
    for client in clients:
        lines = output(client)
        echoed = [line for line in lines if line.startswith("client: sent")]
        assert echoed == [f"client: sent {m!r}, got back {m!r}" for m in messages], \
            client.transcript()
        assert lines[-1] == "client: all lines echoed"

    lines = output(server)  # --clients 2: it stops by itself after both
    assert sorted(line for line in lines if line.endswith("disconnected")) == \
        ["server: client 1 disconnected", "server: client 2 disconnected"]
    assert lines[-1] == "server: closed"
    assert not os.path.exists(socket_path("echo"))


def test_echo_client_reports_a_missing_server(spawn: Spawn) -> None:
    client = spawn("echo_client.py", "nobody-here")
    assert client.finish() == 1
    assert "client: cannot connect to 'nobody-here': QLocalSocket::connectToServer: " \
        "Invalid name (no server is listening at " in client.stderr, client.transcript()
    assert "/nobody-here: the socket file does not exist)" in client.stderr, \
        client.transcript()


# -- fortunes -----------------------------------------------------------------------------


def test_fortune_server_and_client(spawn: Spawn) -> None:
    server = spawn("fortune_server.py", "fortune")
    server.expect("server: listening on")
    shown = fortunes_shown(output(spawn("fortune_client.py", "fortune", "--count", 3)))
    assert len(shown) == 3
    # As in Qt's client, a fortune equal to the previous one is never shown.
    assert all(a != b for a, b in itertools.pairwise(shown))

    lines = stop(server)
    assert set(shown) <= fortunes_sent(lines)
    served = re.fullmatch(r"server: served (\d+) fortunes, closed", lines[-1])
    assert served is not None, server.transcript()
    assert int(served[1]) >= 3
    assert not os.path.exists(socket_path("fortune"))


def test_qlsock_fortune_client_reads_a_pyside6_server(spawn: Spawn) -> None:
    server = spawn("pyside6_fortune_server.py", "fortune", "--count", 1)
    server.expect("server: listening on")
    shown = fortunes_shown(output(spawn("fortune_client.py", "fortune")))
    lines = output(server)
    assert len(shown) == 1
    assert shown[0] in fortunes_sent(lines), server.transcript()
    assert lines[-1] == "server: served 1 fortunes, closed"


def test_pyside6_fortune_client_reads_a_qlsock_server(spawn: Spawn) -> None:
    server = spawn("fortune_server.py", "fortune")
    server.expect("server: listening on")
    shown = fortunes_shown(output(spawn("pyside6_fortune_client.py", "fortune",
                                        "--count", 2)))
    lines = stop(server)
    assert len(shown) == 2
    assert shown[0] != shown[1]
    assert set(shown) <= fortunes_sent(lines)


# -- greenlet per client -----------------------------------------------------------------


def test_worker_pool_serves_each_client_in_a_bounded_pool(spawn: Spawn) -> None:
    server = spawn("worker_pool.py", "pool", "--workers", 2, "--clients", 4)
    assert server.expect("server: listening on") == f"{socket_path('pool')} with 2 workers"
    clients = [spawn("echo_client.py", "pool", f"job {n}", "done") for n in range(4)]
    for n, client in enumerate(clients):
        assert output(client)[:2] == [f"client: sent 'job {n}', got back 'job {n}'",
                                      "client: sent 'done', got back 'done'"]
    lines = output(server)  # --clients 4: it stops by itself after the fourth
    busy = [int(m[1]) for line in lines
            if (m := re.fullmatch(r"worker: client \d connected \((\d) of 2 workers busy\)",
                                  line))]
    assert len(busy) == 4, server.transcript()
    assert max(busy) <= 2
    assert sorted(line for line in lines if line.endswith(" done")) == \
        [f"worker: client {n} done" for n in range(1, 5)]
    assert lines[-1] == "server: stopped after 4 clients"
    assert not os.path.exists(socket_path("pool"))


def test_worker_pool_reclaims_a_stale_file_and_stops_gracefully_on_sigterm(
        spawn: Spawn) -> None:
    # A socket file nobody listens on, as a crashed run leaves behind.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(socket_path("pool"))
    server = spawn("worker_pool.py", "pool")
    server.expect("server: listening on")
    assert output(spawn("echo_client.py", "pool"))[-1] == "client: all lines echoed"
    assert stop(server)[-1] == "server: stopped after 1 clients"
    assert not os.path.exists(socket_path("pool"))


# -- single instance -----------------------------------------------------------------------


def test_single_instance_hands_arguments_to_the_primary(spawn: Spawn) -> None:
    primary = spawn("single_instance.py", "--name", "app", "--messages", 2, "first")
    assert primary.expect("primary: listening on") == \
        f"{socket_path('app')}, with arguments ['first']"
    for args in (["a.txt", "b c"], []):
        lines = output(spawn("single_instance.py", "--name", "app", *args))
        assert lines == [f"secondary: handed {args} to the primary; exiting"]
    assert output(primary)[-3:] == ["primary: message 1: ['a.txt', 'b c']",
                                    "primary: message 2: []",
                                    "primary: closed"]
    assert not os.path.exists(socket_path("app"))


def test_single_instance_takes_over_after_a_crashed_primary(spawn: Spawn) -> None:
    crashed = spawn("single_instance.py", "--name", "app")
    crashed.expect("primary: listening on")
    crashed.proc.kill()  # SIGKILL: no chance to remove its socket file
    assert crashed.finish() == -signal.SIGKILL
    assert os.path.exists(socket_path("app"))

    primary = spawn("single_instance.py", "--name", "app", "--messages", 1)
    assert primary.expect("primary: listening on") == f"{socket_path('app')}, with arguments []"
    output(spawn("single_instance.py", "--name", "app", "hello"))
    assert output(primary)[-2:] == ["primary: message 1: ['hello']", "primary: closed"]


# -- threads under monkey patching ------------------------------------------------------


def test_legacy_threads_under_patch_all(spawn: Spawn) -> None:
    lines = output(spawn("legacy_threads.py", "--clients", 4))
    assert sorted(line for line in lines if line.startswith("client ")) == \
        [f"client {n}: got 'HELLO FROM THREAD {n}'" for n in range(1, 5)]
    assert lines[-1] == "main: 4 of 4 threads got their reply"


# -- the demo ---------------------------------------------------------------------------


def test_demo(spawn: Spawn) -> None:
    lines = output(spawn("demo.py"))
    assert lines[-1] == "demo: 4 clients exchanged 12 messages, all echoed correctly"


# -- every example ----------------------------------------------------------------------


def test_every_example_says_what_it_shows_and_how_to_run_it() -> None:
    for path in sorted(EXAMPLES.glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc, f"{path.name} has no module docstring"
        if path.name != "demo.py":  # run with `make demo`
            assert f"python examples/{path.name}" in doc, \
                f"{path.name}'s docstring does not say how to run it"
