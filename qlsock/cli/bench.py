"""The ``bench`` command: an echo server and a client in one process, timed."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from ..localserver import QLocalServer
from ..localsocket import QLocalSocket
from .commands import _connected
from .status import EXIT_OK, _Failure
from .streams import _CHUNK

_PROGRESS_WIDTH = 30


class _Progress:
    """A one-line progress bar on a terminal's stderr, redrawn when the percentage
    changes; in a file or a pipe, where a carriage return draws nothing, one line when
    the phase is done."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._shown = -1
        self._terminal = sys.stderr.isatty()

    def update(self, fraction: float) -> None:
        if not self._terminal:
            return
        percent = min(int(fraction * 100), 100)
        if percent == self._shown:
            return
        self._shown = percent
        filled = percent * _PROGRESS_WIDTH // 100
        bar = "#" * filled + "." * (_PROGRESS_WIDTH - filled)
        sys.stderr.write(f"\r{self._label:<12} [{bar}] {percent:3d}%")
        sys.stderr.flush()

    def finish(self) -> None:
        if self._terminal:
            self.update(1.0)
            sys.stderr.write("\n")
        else:
            sys.stderr.write(f"{self._label:<12} done\n")
        sys.stderr.flush()


class _Pattern:
    """Random bytes to send, addressable by stream offset, to check echoes against."""

    BLOCK = 1 << 20

    def __init__(self) -> None:
        block = os.urandom(self.BLOCK)
        self._ring = block + block

    def at(self, offset: int, size: int) -> bytes:
        """*size* (at most BLOCK) bytes of the stream from *offset*."""
        start = offset % self.BLOCK
        return self._ring[start:start + size]

    def check(self, data: bytes, offset: int) -> None:
        for start in range(0, len(data), self.BLOCK):
            piece = data[start:start + self.BLOCK]
            expected = self.at(offset + start, len(piece))
            if piece != expected:
                pairs = zip(piece, expected, strict=True)
                bad = next(i for i, (a, b) in enumerate(pairs) if a != b)
                raise _Failure(f"bench: the echo differs at byte {offset + start + bad}")


def _echo_server(name: str) -> tuple[QLocalServer, list[QLocalSocket]]:
    server = QLocalServer()
    if not server.listen(name):
        raise _Failure(server.errorString())
    conns: list[QLocalSocket] = []

    def on_new_connection() -> None:
        while (conn := server.nextPendingConnection()) is not None:
            conns.append(conn)
            conn.readyRead.connect(lambda c=conn: c.write(c.readAll()))

    server.newConnection.connect(on_new_connection)
    return server, conns


def _await_echo(sock: QLocalSocket) -> bytes:
    if not sock.waitForReadyRead(10000):
        raise _Failure(f"bench: no echo: {sock.errorString()}")
    return sock.readAll()


def _bench_round_trips(sock: QLocalSocket, pattern: _Pattern, count: int, size: int,
                       seconds: float | None) -> tuple[int, float]:
    progress = _Progress("round trips")
    start = time.perf_counter()
    done = 0
    while done < count:
        elapsed = time.perf_counter() - start
        if done and seconds is not None and elapsed >= seconds:
            break
        message = pattern.at(done, size)
        sock.write(message)
        echo = b""
        while len(echo) < size:
            echo += _await_echo(sock)
        if echo != message:
            raise _Failure(f"bench: the echo of round trip {done} differs")
        done += 1
        progress.update(max(done / count, elapsed / seconds if seconds else 0.0))
    elapsed = time.perf_counter() - start
    progress.finish()
    return done, elapsed


def _bench_stream(sock: QLocalSocket, pattern: _Pattern, total: int,
                  seconds: float | None) -> tuple[int, float]:
    progress = _Progress("throughput")
    start = time.perf_counter()
    sent = received = 0
    while received < total:
        elapsed = time.perf_counter() - start
        if sent and seconds is not None and elapsed >= seconds:
            total = sent
        while sent < total and sock.bytesToWrite() < 4 * _CHUNK:
            size = min(_CHUNK, total - sent)
            sock.write(pattern.at(sent, size))
            sent += size
        if received >= total:
            break
        data = _await_echo(sock)
        pattern.check(data, received)
        received += len(data)
        progress.update(max(received / total, elapsed / seconds if seconds else 0.0))
    elapsed = time.perf_counter() - start
    progress.finish()
    return received, elapsed


def _cmd_bench(args: argparse.Namespace) -> int:
    directory = tempfile.mkdtemp(prefix="qlsock-bench-")
    server, conns = _echo_server(os.path.join(directory, "s"))
    sock: QLocalSocket | None = None
    try:
        sock = _connected(server.fullServerName(), False, 10.0)
        pattern = _Pattern()
        size = min(args.size, _Pattern.BLOCK)
        trips, trip_time = _bench_round_trips(sock, pattern, args.count, size, args.seconds)
        streamed, stream_time = _bench_stream(
            sock, pattern, max(int(args.megabytes * 1e6), 1), args.seconds)
    finally:
        if sock is not None:
            sock.abort()
        for conn in conns:
            conn.abort()
        server.close()
        os.rmdir(directory)
    print(f"round trips: {trips} of {size} bytes in {trip_time:.2f} s: "
          f"{trips / trip_time:,.0f}/s, {trip_time / trips * 1e6:.1f} us each")
    print(f"throughput:  {streamed / 1e6:.1f} MB in {stream_time:.2f} s: "
          f"{streamed / 1e6 / stream_time:,.1f} MB/s ({_CHUNK // 1024} KiB writes, "
          "echoed back)")
    print("every byte echoed intact", flush=True)
    return EXIT_OK

