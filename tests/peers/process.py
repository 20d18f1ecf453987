"""The peer programs of this folder as child processes, for the interop tests.

:class:`Peer` runs ``qt_peer.py`` or ``qlsock_peer.py`` with a stdin pipe for commands
(``send()``) and reads its ``READY``/``RESULT`` lines from stdout. Every wait on it yields
only the calling greenlet (``gevent.subprocess``), so the hub keeps serving the test
process's own qlsock end meanwhile; a timeout fails the test with the child's whole
transcript. :func:`spawner` starts peers with the test's environment and reaps them
afterwards; a test module's ``spawn`` fixture wraps it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent import subprocess

import qlsock
from qlsock import QLocalServer, QLocalSocket

PEERS_DIR = Path(__file__).resolve().parent
QT_PEER = str(PEERS_DIR / "qt_peer.py")
QLSOCK_PEER = str(PEERS_DIR / "qlsock_peer.py")
PROJECT_ROOT = str(PEERS_DIR.parent.parent)
#: Where the qlsock this process imported lives (a checkout of another commit, when
#: tests are run against it): a peer runs the same code.
QLSOCK_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(qlsock.__file__)))

#: Longest single wait, in ms and s (the peers' own waits are as long or longer).
WAIT_MS = 20000
WAIT_S = WAIT_MS / 1000


class Peer:
    """A peer program in a child process, with a stdin pipe for commands.

    Every wait on it yields only this greenlet; a timeout fails the test with the
    child's whole transcript.
    """

    def __init__(self, program: str, args: tuple[str, ...], env: dict[str, str],
                 cwd: str) -> None:
        self.argv = [sys.executable, program, *args]
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
        self.lines: list[str] = []
        self.stdout = ""
        self.stderr = ""
        self.done = False

    def transcript(self) -> str:
        """Everything known about the child, for assertion messages."""
        name = Path(self.argv[1]).name
        return (f"\n--- {name} {' '.join(self.argv[2:])} (exit code {self.proc.returncode})"
                f"\n--- stdout:\n{''.join(self.lines)}{self.stdout}"
                f"--- stderr:\n{self.stderr}")

    def readline(self, timeout: float = WAIT_S) -> str:
        """The next stdout line without its newline; a timeout or EOF fails the test."""
        assert self.proc.stdout is not None
        try:
            with gevent.Timeout(timeout):
                line = self.proc.stdout.readline()
        except gevent.Timeout:
            self.reap()
            pytest.fail(f"no output line within {timeout} s{self.transcript()}")
        if not line:
            self.finish()
            pytest.fail(f"the peer ended its output early{self.transcript()}")
        self.lines.append(line)
        return line.rstrip("\n")

    def expect(self, prefix: str) -> str:
        """Read lines up to the next one starting with ``prefix + " "``; the rest of it."""
        while True:
            line = self.readline()
            if line == prefix or line.startswith(prefix + " "):
                return line[len(prefix) + 1:]

    def expect_json(self, prefix: str) -> Any:
        return json.loads(self.expect(prefix))

    def ready(self, count: int = 1) -> list[str]:
        """The fullServerName of each of *count* listening servers (``READY`` lines)."""
        names = []
        for _ in range(count):
            line = self.readline()
            if not line.startswith("READY "):
                self.finish()
                pytest.fail(f"the peer did not start listening{self.transcript()}")
            names.append(line[len("READY "):])
        return names

    def send(self, command: str) -> None:
        """Write one command line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = WAIT_S) -> int:
        """Close stdin and wait for the exit (cooperatively); the exit code.

        A hang fails the test.
        """
        if not self.done:
            try:
                out, err = self.proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, err = self.proc.communicate()
                self._store(out, err)
                pytest.fail(f"the peer did not finish within {timeout} s{self.transcript()}")
            self._store(out, err)
        return self.proc.returncode

    def _store(self, out: str | None, err: str | None) -> None:
        self.stdout, self.stderr, self.done = out or "", err or "", True

    def result(self, timeout: float = WAIT_S) -> dict[str, Any]:
        """Exit code 0 and the one ``RESULT`` line, parsed."""
        code = self.finish(timeout)
        assert code == 0, self.transcript()
        found = [line for line in (''.join(self.lines) + self.stdout).splitlines()
                 if line.startswith("RESULT ")]
        assert len(found) == 1, self.transcript()
        return dict(json.loads(found[0][len("RESULT "):]))

    def reap(self) -> None:
        """Kill the child if it still runs and collect it (test teardown)."""
        if self.done:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.finish(5)
        except (Exception, pytest.fail.Exception):  # the test has failed; don't mask it
            pass


def peer_env(tmpdir: str) -> dict[str, str]:
    """The child's environment: ours, with *tmpdir*, headless Qt, the qlsock under test
    and this checkout."""
    env = dict(os.environ)
    env["TMPDIR"] = tmpdir
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [QLSOCK_ROOT, PROJECT_ROOT, env.get("PYTHONPATH")]))
    return env


def pyside6_observations(program: str) -> dict[str, Any]:
    """Run scenario *program* (``tests/peers/qt_*.py``) on PySide6 in a child process
    and return the JSON object it prints: what PySide6 observed, scenario by scenario."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("QLSOCK_TEST_MONKEY", None)
    done = subprocess.run([sys.executable, str(PEERS_DIR / program)], capture_output=True,
                          text=True, timeout=60, env=env, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


Spawn = Callable[..., Peer]


@contextmanager
def spawner(cwd: str | None = None) -> Iterator[Spawn]:
    """``start(program, *args)``: a :class:`Peer` with the current $TMPDIR, in *cwd*
    (default: the current directory).

    Every peer started is reaped on leaving the block.
    """
    started: list[Peer] = []

    def start(program: str, *args: object) -> Peer:
        peer = Peer(program, tuple(str(a) for a in args),
                    peer_env(os.environ["TMPDIR"]), cwd or os.getcwd())
        started.append(peer)
        return peer

    try:
        yield start
    finally:
        for peer in started:
            peer.reap()


def accept_one(server: QLocalServer, peer: Peer) -> QLocalSocket:
    """The connection *peer* makes to *server* (``waitForNewConnection``)."""
    ok, timed_out = server.waitForNewConnection(WAIT_MS)
    sock = server.nextPendingConnection()
    assert (ok, timed_out) == (True, False), peer.transcript()
    assert sock is not None
    return sock
