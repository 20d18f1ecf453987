"""Real programs ported by their imports only, run against the originals on PySide6.

Two published programs that use Qt's local sockets are vendored unmodified under
``tests/realworld/`` (each with its LICENSE and SOURCE.txt), and the Qt local fortune
examples of ``examples/`` join them. The port of each is the same file with its Qt
import prefixes replaced by ``qlsock.`` (``tests.realworld.load_program``); nothing
else differs, which the first tests check. Each program then runs end to end in child
processes (``tests/realworld/*_driver.py``, ``run_ported.py``): the original on
PySide6, the port on qlsock. Every case runs in each pairing of the two (PySide6 with
PySide6 being the reference), each pairing in a directory of its own ($TMPDIR), all at
the same time; their outcomes must be equal, and equal to what is expected::

    test_ports_differ_from_the_originals_...      only import lines differ (text, AST)
    test_vendored_programs_are_the_published_...  sha256 as in SOURCE.txt, MIT licence
    PDFApps (PySide6; app/single_instance.py): server = the running instance,
    client = a second invocation (send_to_existing)
      test_pdfapps_second_invocation_...          server x client: two paths, then one
      test_pdfapps_without_a_running_instance     send_to_existing() is False
      test_pdfapps_after_a_killed_instance        killed x next: the stale file refuses
                                                  clients; the next instance removes
                                                  it and listens
      test_pdfapps_a_second_instance_server_...   older x newer: removeServer() and
                                                  listen() while one runs; the older
                                                  one's exit (differs, on purpose)
      test_pdfapps_server_rejects_malformed_...   server x plain-socket peers: a split
                                                  header, a late payload, lengths 0
                                                  and 64 KiB + 1, bad UTF-8, NULs only,
                                                  an empty connection, a short read
                                                  then close, a wedged peer; then a
                                                  client of the other implementation
    VoxVibe (PyQt6, its original run on PySide6; voxvibe/single_instance.py)
      test_voxvibe_a_running_instance_...         holder x second: refused, then free
      test_voxvibe_takes_over_from_a_killed_...   killed x next: stale file removed,
                                                  listen retried; the next is refused
    Qt's local fortune examples (examples/pyside6_fortune_*.py)
      test_fortune_examples_serve_each_other_...  server x client, two fortunes; and
                                                  no server: the error, then the 10 s
                                                  timeout (each implementation)

The PySide6 side always runs as a child process; so does the qlsock side, which in the
monkey-patched run patches itself first (as the test process is patched).
"""

from __future__ import annotations

import ast
import difflib
import functools
import hashlib
import importlib.abc
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent import socket as gsocket

from .peers.process import PROJECT_ROOT, WAIT_S, Peer, peer_env
from .realworld import (
    HERE,
    PROGRAMS,
    QT_PACKAGES,
    changed_lines,
    load_program,
    rewrite_imports,
)

IMPLS = ("PySide6", "qlsock")
OTHER = {"PySide6": "qlsock", "qlsock": "PySide6"}
PAIRS = [(a, b) for a in IMPLS for b in IMPLS]

PDFAPPS = HERE / "pdfapps_driver.py"
VOXVIBE = HERE / "voxvibe_driver.py"
RUN_PORTED = HERE / "run_ported.py"
EXAMPLES = Path(PROJECT_ROOT) / "examples"

Start = Callable[..., Peer]


@pytest.fixture
def start(tmpdir_env: str) -> Iterator[Start]:
    """``start(program, *args, lane=DIR)``: a child process with $TMPDIR = DIR.

    Every child is reaped at teardown.
    """
    started: list[Peer] = []

    def start_(program: Path, *args: object, lane: str) -> Peer:
        env = peer_env(lane)
        env["PYTHONUNBUFFERED"] = "1"
        peer = Peer(str(program), tuple(str(a) for a in args), env, os.getcwd())
        started.append(peer)
        return peer

    try:
        yield start_
    finally:
        for peer in started:
            peer.reap()


def lane_dirs(tmpdir: str, keys: list[Any]) -> dict[Any, str]:
    """A directory of its own (a $TMPDIR, so a namespace of names) for each key."""
    dirs = {}
    for n, key in enumerate(keys):
        dirs[key] = os.path.join(tmpdir, str(n))
        os.mkdir(dirs[key])
    return dirs


def in_parallel(run: Callable[..., Any], cases: dict[Any, tuple[Any, ...]]) -> dict[Any, Any]:
    """``run(*args)`` for every case at once (a greenlet each); the results by case."""
    greenlets = {key: gevent.spawn(run, *args) for key, args in cases.items()}
    gevent.joinall(list(greenlets.values()))
    return {key: g.get() for key, g in greenlets.items()}


def output(peer: Peer, code: int = 0) -> list[str]:
    """Every line the child printed, once it has exited with *code*."""
    assert peer.finish() == code, peer.transcript()
    return ("".join(peer.lines) + peer.stdout).splitlines()


def all_equal(outcomes: dict[Any, Any]) -> None:
    """Every implementation (pairing) had the same outcome as the first one."""
    (first, expected), *rest = outcomes.items()
    for key, outcome in rest:
        assert outcome == expected, f"{key} differs from {first}"


# -- the ports are the originals but for their imports -------------------------------------


def import_modules(source: str) -> list[str]:
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def without_qt_package(source: str) -> str:
    """The AST of *source* with the package of every import path blanked out."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            node.module = node.module.split(".", 1)[-1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                alias.name = alias.name.split(".", 1)[-1]
    return ast.dump(tree)


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_ports_differ_from_the_originals_in_their_import_lines_only(program: str) -> None:
    original = PROGRAMS[program].read_text(encoding="utf-8")
    ported = rewrite_imports(original, "qlsock")
    diff = "\n".join(difflib.unified_diff(original.splitlines(), ported.splitlines(),
                                          "original", "ported", lineterm="", n=0))
    changes = changed_lines(original, ported)
    assert changes, "nothing to port?"
    for before, after in changes:
        assert before.lstrip().startswith(("from ", "import ")), diff
        assert any(before.replace(f"{package}.", "qlsock.", 1) == after
                   for package in QT_PACKAGES), diff
    # The same program, statement for statement, once import paths lose their package.
    assert without_qt_package(original) == without_qt_package(ported), diff
    # No Qt binding is left, and every import of the port exists.
    assert not [m for m in import_modules(ported) if m.split(".")[0] in QT_PACKAGES], diff
    module = load_program(program, "qlsock", f"diffcheck_{program}")
    loader = module.__spec__.loader if module.__spec__ else None
    assert isinstance(loader, importlib.abc.InspectLoader)
    assert loader.get_source(module.__name__) == ported  # what was run
    # The originals' own binding, rewritten to PySide6: unchanged for PySide6 programs;
    # VoxVibe's PyQt6 becomes PySide6 (PyQt6 is not installed: see voxvibe_driver.py).
    as_pyside6 = rewrite_imports(original, "PySide6")
    if "PySide6." in original:
        assert as_pyside6 == original
    else:
        assert without_qt_package(as_pyside6) == without_qt_package(original)


def test_vendored_programs_are_the_published_files() -> None:
    for folder in ("pdfapps", "voxvibe"):
        source = (HERE / folder / "SOURCE.txt").read_text()
        assert (HERE / folder / "LICENSE").read_text().startswith("MIT License")
        path = PROGRAMS[folder]
        digest = re.search(r"sha256 ([0-9a-f]{64})", source)
        assert digest is not None
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest[1], \
            f"{path} was modified"


# -- PDFApps ------------------------------------------------------------------------------


@functools.cache
def pdfapps_name() -> str:
    """PDFApps' socket name (the program's own ``_socket_name()``)."""
    return str(load_program("pdfapps", "qlsock", "names_pdfapps")._socket_name())


LISTENING = [f"LOG INFO single-instance: listening on {pdfapps_name()}", "READY true"]


def received(*paths: str) -> list[str]:
    """What PDFApps' server prints when *paths* arrive."""
    return [f"LOG INFO single-instance: received {len(paths)} path(s) from second instance",
            f"PATHS {json.dumps(list(paths))}"]


TWO_PATHS = ("/home/ana/Invoice 2024.pdf", "/home/ana/ünïcödé\nwith a newline.pdf")


def pdfapps_server(start: Start, impl: str, lane: str) -> Peer:
    server = start(PDFAPPS, impl, "server", lane=lane)
    assert server.expect("READY") == "true", server.transcript()
    return server


def pdfapps_client(start: Start, impl: str, lane: str, *paths: str) -> list[str]:
    """A second invocation's output: ``RESULT true`` if it handed *paths* over."""
    return output(start(PDFAPPS, impl, "client", *paths, lane=lane))


def test_pdfapps_second_invocation_hands_its_paths_to_the_running_instance(
        start: Start, tmpdir_env: str) -> None:
    def run(server_impl: str, client_impl: str, lane: str) -> dict[str, Any]:
        server = pdfapps_server(start, server_impl, lane)
        clients = [pdfapps_client(start, client_impl, lane, *TWO_PATHS),
                   pdfapps_client(start, client_impl, lane, "/tmp/one more.pdf")]
        return {"clients": clients, "server": output(server)}

    lanes = lane_dirs(tmpdir_env, PAIRS)
    outcomes = in_parallel(run, {pair: (*pair, lanes[pair]) for pair in PAIRS})
    all_equal(outcomes)
    assert outcomes["PySide6", "PySide6"] == {
        "clients": [["RESULT true"], ["RESULT true"]],
        "server": [*LISTENING, *received(*TWO_PATHS), *received("/tmp/one more.pdf"),
                   "EXIT 0"],
    }


def test_pdfapps_without_a_running_instance(start: Start, tmpdir_env: str) -> None:
    def run(impl: str, lane: str) -> list[str]:
        result = pdfapps_client(start, impl, lane, "/a.pdf")
        assert os.listdir(lane) == []
        return result

    lanes = lane_dirs(tmpdir_env, list(IMPLS))
    outcomes = in_parallel(run, {impl: (impl, lanes[impl]) for impl in IMPLS})
    all_equal(outcomes)
    assert outcomes["PySide6"] == ["RESULT false"]


def test_pdfapps_after_a_killed_instance(start: Start, tmpdir_env: str) -> None:
    """A killed instance leaves its socket file: a second invocation finds nobody
    there and starts itself; its server removes the stale file and listens."""
    def run(killed_impl: str, impl: str, lane: str) -> dict[str, Any]:
        killed = pdfapps_server(start, killed_impl, lane)
        killed.proc.kill()
        assert killed.finish() < 0
        assert os.listdir(lane) == [pdfapps_name()]  # stale
        refused = pdfapps_client(start, impl, lane, "/a.pdf")
        server = pdfapps_server(start, impl, lane)
        handed = pdfapps_client(start, killed_impl, lane, "/b.pdf")
        return {"refused": refused, "handed": handed, "server": output(server)}

    lanes = lane_dirs(tmpdir_env, PAIRS)
    outcomes = in_parallel(run, {pair: (*pair, lanes[pair]) for pair in PAIRS})
    all_equal(outcomes)
    assert outcomes["PySide6", "PySide6"] == {
        "refused": ["RESULT false"], "handed": ["RESULT true"],
        "server": [*LISTENING, *received("/b.pdf"), "EXIT 0"]}


def test_pdfapps_a_second_instance_server_takes_the_name_over(
        start: Start, tmpdir_env: str) -> None:
    """SingleInstanceServer calls removeServer() before listen(), so a second one
    unlinks a running instance's socket and takes its name: the paths go to it.

    When the older instance then exits, PySide6's server deletes whatever is at its
    path, the newer instance's socket included, and the newer one can no longer be
    reached; qlsock's deletes only the file it created (docs/differences.md, "Where Qt
    is poor", row 8), so the newer one still can.
    """
    def run(older_impl: str, newer_impl: str, lane: str) -> dict[str, Any]:
        older = pdfapps_server(start, older_impl, lane)
        newer = pdfapps_server(start, newer_impl, lane)
        handed = pdfapps_client(start, older_impl, lane, "/c.pdf")
        older_output = output(older)
        left = os.listdir(lane)
        then = pdfapps_client(start, older_impl, lane, "/d.pdf")
        return {"handed": handed, "older": older_output, "left": left, "then": then,
                "newer": output(newer)}

    lanes = lane_dirs(tmpdir_env, PAIRS)
    outcomes = in_parallel(run, {pair: (*pair, lanes[pair]) for pair in PAIRS})
    # What the newer instance does not depend on; what the older does on exit does.
    for (older_impl, _), outcome in outcomes.items():
        expected = {"handed": ["RESULT true"], "older": [*LISTENING, "EXIT 0"]}
        if older_impl == "PySide6":
            expected |= {"left": [], "then": ["RESULT false"],
                         "newer": [*LISTENING, *received("/c.pdf"), "EXIT 0"]}
        else:
            expected |= {"left": [pdfapps_name()], "then": ["RESULT true"],
                         "newer": [*LISTENING, *received("/c.pdf"), *received("/d.pdf"),
                                   "EXIT 0"]}
        assert outcome == expected


def frame(payload: bytes, length: int | None = None) -> bytes:
    """PDFApps' wire format: a 4-byte big-endian length, then the payload."""
    return (len(payload) if length is None else length).to_bytes(4, "big") + payload


class RawPeer:
    """A plain Unix socket talking to PDFApps' server, byte by byte."""

    def __init__(self, path: str) -> None:
        self.sock = gsocket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)

    def send(self, *steps: bytes | float) -> RawPeer:
        """Send each bytes step; a float step sleeps that long first."""
        for step in steps:
            if isinstance(step, float):
                gevent.sleep(step)
            else:
                self.sock.sendall(step)
        return self

    def closed_by_server(self) -> tuple[bool, float]:
        """Whether the server then closed the connection without sending anything,
        and after how long."""
        began = time.monotonic()
        try:
            with gevent.Timeout(WAIT_S):
                data = self.sock.recv(1)
        finally:
            self.sock.close()
        return data == b"", time.monotonic() - began

    def close(self) -> None:
        self.sock.close()


def test_pdfapps_server_rejects_malformed_messages_and_keeps_serving(
        start: Start, tmpdir_env: str) -> None:
    def run(impl: str, lane: str) -> dict[str, Any]:
        server = pdfapps_server(start, impl, lane)
        path = os.path.join(lane, pdfapps_name())
        closed: dict[str, bool] = {}

        def peer(case: str, *steps: bytes | float) -> float:
            closed[case], waited = RawPeer(path).send(*steps).closed_by_server()
            return waited

        # The header in two readyReads: "readyRead will fire again".
        peer("split header", b"\0\0", 0.1, b"\0\x12/split header.pdf")
        # The payload 100 ms after the header: the one waitForReadyRead() gets it.
        peer("late payload", frame(b"/late.pdf")[:4], 0.1, b"/late.pdf")
        peer("length 0", frame(b""))
        peer("length 64 KiB + 1", frame(b"/x.pdf", 64 * 1024 + 1))
        peer("bad UTF-8", frame(b"/\xff\xfe.pdf"))
        peer("separators only", frame(b"\0 \0"))
        RawPeer(path).close()  # connects and leaves without a word
        # A short read, then the peer closes: the server takes what came.
        RawPeer(path).send(frame(b"/short", 20)).close()
        while server.expect("PATHS") != '["/short"]':  # the earlier cases' first
            pass
        # A wedged peer: the header, then nothing. The server waits one second.
        waited = peer("wedged", frame(b"", 8))
        assert waited >= 0.9, waited
        handed = pdfapps_client(start, OTHER[impl], lane, *TWO_PATHS)
        return {"closed": closed, "handed": handed, "server": output(server)}

    lanes = lane_dirs(tmpdir_env, list(IMPLS))
    outcomes = in_parallel(run, {impl: (impl, lanes[impl]) for impl in IMPLS})
    all_equal(outcomes)
    assert outcomes["PySide6"] == {
        "closed": dict.fromkeys(["split header", "late payload", "length 0",
                                 "length 64 KiB + 1", "bad UTF-8", "separators only",
                                 "wedged"], True),
        "handed": ["RESULT true"],
        "server": [*LISTENING,
                   *received("/split header.pdf"),
                   *received("/late.pdf"),
                   "LOG WARNING single-instance: invalid payload length 0",
                   "LOG WARNING single-instance: invalid payload length 65537",
                   "LOG WARNING single-instance: payload not valid UTF-8",
                   *received("/short"),
                   *received(*TWO_PATHS),
                   "EXIT 0"],
    }


# -- VoxVibe ------------------------------------------------------------------------------

VOX_KEY = "voxvibe_service_instance"
HOLDS = ["LOG INFO Single-instance lock acquired via QLocalServer", "ACQUIRED",
         "LOG INFO Single-instance lock released and socket removed", "RELEASED",
         "FILE false"]
REFUSED = ["LOG DEBUG Listen failed \N{EN DASH} attempting to connect to determine stale vs "
           "running instance", "REFUSED Another instance is already running."]


def voxvibe(start: Start, impl: str, lane: str) -> Peer:
    return start(VOXVIBE, impl, VOX_KEY, lane=lane)


def holding(start: Start, impl: str, lane: str) -> Peer:
    holder = voxvibe(start, impl, lane)
    holder.expect("ACQUIRED")
    return holder


def test_voxvibe_a_running_instance_refuses_a_second(start: Start, tmpdir_env: str) -> None:
    def run(holder_impl: str, second_impl: str, lane: str) -> dict[str, Any]:
        holder = holding(start, holder_impl, lane)
        refused = output(voxvibe(start, second_impl, lane), code=1)
        held = output(holder)
        # Released: the next instance starts at once.
        after = voxvibe(start, second_impl, lane)
        after.expect("ACQUIRED")
        return {"refused": refused, "holder": held, "after": output(after)}

    lanes = lane_dirs(tmpdir_env, PAIRS)
    outcomes = in_parallel(run, {pair: (*pair, lanes[pair]) for pair in PAIRS})
    all_equal(outcomes)
    assert outcomes["PySide6", "PySide6"] == {"refused": REFUSED, "holder": HOLDS,
                                              "after": HOLDS}


def test_voxvibe_takes_over_from_a_killed_instance(start: Start, tmpdir_env: str) -> None:
    def run(killed_impl: str, impl: str, lane: str) -> dict[str, Any]:
        killed = holding(start, killed_impl, lane)
        killed.proc.kill()
        assert killed.finish() < 0
        assert os.listdir(lane) == [VOX_KEY]  # stale
        holder = holding(start, impl, lane)
        refused = output(voxvibe(start, killed_impl, lane), code=1)
        return {"holder": output(holder), "refused": refused}

    lanes = lane_dirs(tmpdir_env, PAIRS)
    outcomes = in_parallel(run, {pair: (*pair, lanes[pair]) for pair in PAIRS})
    all_equal(outcomes)
    assert outcomes["PySide6", "PySide6"] == {
        "holder": [REFUSED[0],
                   "LOG WARNING Stale local socket detected; removing and retrying once",
                   *HOLDS],
        "refused": REFUSED,
    }


# -- Qt's local fortune examples ------------------------------------------------------------


def fortune_program(start: Start, role: str, impl: str, lane: str, *args: object) -> Peer:
    """The original example (PySide6) as it is run, or its port (qlsock)."""
    if impl == "PySide6":
        return start(EXAMPLES / f"pyside6_fortune_{role}.py", *args, lane=lane)
    return start(RUN_PORTED, "qlsock", f"fortune_{role}", *args, lane=lane)


def test_fortune_examples_serve_each_other_and_fail_alike_without_a_server(
        start: Start, tmpdir_env: str) -> None:
    """Two fortunes in each pairing; and a client with no server, in each
    implementation: it reports the error, but its ``app.exit(1)`` comes before
    ``exec()``, where it does nothing (in Qt as on qlsock), so it ends at its 10 s
    timeout. Those two clients wait while the pairings run."""
    fortunes = load_program("fortune_server", "qlsock", "fortunes_of_the_server").FORTUNES
    fortune = re.compile("|".join(map(re.escape, fortunes)))
    timeout = load_program("fortune_client", "qlsock", "timeout_of_the_client").TIMEOUT_MS

    def without_server(impl: str, lane: str) -> dict[str, Any]:
        began = time.monotonic()
        client = fortune_program(start, "client", impl, lane, "nobody")
        lines = output(client, code=1)
        # Qt's default (coarse) timers may fire up to 5 % early.
        assert time.monotonic() - began >= 0.95 * timeout / 1000
        return {"stdout": lines, "stderr": client.stderr.splitlines()}

    def serve(server_impl: str, client_impl: str, lane: str) -> list[list[str]]:
        server = fortune_program(start, "server", server_impl, lane, "fortune", "--count", 2)
        server.expect("server: listening on")
        shown = [output(fortune_program(start, "client", client_impl, lane, "fortune"))
                 for _ in range(2)]
        served = output(server)
        sent = [line for line in served if line.startswith("server: sending ")]
        assert sent == [f"server: sending {lines[0][len('client: '):]!r}" for lines in shown], \
            server.transcript()
        assert all(lines[0][len("client: "):] in fortunes for lines in shown)
        return [[fortune.sub("<fortune>", line).replace(lane, "$TMPDIR") for line in lines]
                for lines in (*shown, served)]

    lanes = lane_dirs(tmpdir_env, [*PAIRS, *IMPLS])
    alone = {impl: gevent.spawn(without_server, impl, lanes[impl]) for impl in IMPLS}
    try:
        outcomes = in_parallel(serve, {pair: (*pair, lanes[pair]) for pair in PAIRS})
        all_equal(outcomes)
        assert outcomes["PySide6", "PySide6"] == [
            ["client: <fortune>"], ["client: <fortune>"],
            ["server: listening on $TMPDIR/fortune", "server: sending '<fortune>'",
             "server: sending '<fortune>'", "server: served 2 fortunes, closed"]]

        gevent.joinall(list(alone.values()))
        qt, ours = alone["PySide6"].get(), alone["qlsock"].get()
    finally:
        gevent.killall(list(alone.values()))
    assert qt == {"stdout": [], "stderr": [
        "client: the following error occurred: QLocalSocket::connectToServer: Invalid name",
        "client: timed out"]}
    # qlsock's error texts start with Qt's and may add details.
    assert ours["stdout"] == qt["stdout"]
    assert len(ours["stderr"]) == len(qt["stderr"])
    assert all(a.startswith(b) for a, b in zip(ours["stderr"], qt["stderr"], strict=True))
