"""Raw-socket peers for ``tests/test_faults.py``: plain blocking ``AF_UNIX`` sockets.

No qlsock and no gevent in here, so a peer starts in a few milliseconds and its
behaviour depends on nothing under test. One mode per run; every mode prints what it
did, one line at a time, flushed, so a test that SIGKILLs the peer still knows how far
it got. Paths are absolute (the test resolves the server name itself).

``send PATH``
    Connect, print ``CONNECTED``, then write the endless :func:`pattern` in
    ``--chunk``-byte pieces, printing ``SENT <total>`` after each piece the kernel
    took. Runs until killed (or until the connection breaks: exit code 0).
``recv PATH``
    Connect, print ``CONNECTED``, then read until end of stream, printing
    ``RECV <total>`` after each read and finally ``RESULT <json>``. Meant to be
    killed mid-way.
``silent PATH``
    Connect, print ``CONNECTED``, then neither send nor close (``nc -U`` left
    open): wait for the server to close, and print ``EOF <bytes received>``.
``sink PATH``
    Listen at PATH, print ``READY PATH``, accept one connection, print ``ACCEPTED``,
    then read *nothing* until told. Commands on stdin, one per line: ``inq`` prints
    ``INQ <n>``, the bytes the kernel holds unread for this end (``FIONREAD``, exact
    for ``AF_UNIX`` streams); ``read`` reads to end of stream, prints
    ``RESULT {"received": n, "sha256": ...}`` and exits.
``sigpipe-control PATH``
    The control for the SIGPIPE test: with SIGPIPE's default action (death), listen
    at PATH, connect to it, close the accepted end, then ``send()`` *without*
    ``MSG_NOSIGNAL``. The process must die of SIGPIPE; if it does not, it exits 0
    after printing ``SURVIVED``.
"""

from __future__ import annotations

import argparse
import array
import fcntl
import hashlib
import json
import signal
import socket
import sys
import termios

#: The period of :func:`pattern`: a prime, so that no power-of-two chunk lines up with it.
PERIOD = 251
_CYCLE = bytes(range(PERIOD))


def pattern(start: int, size: int) -> bytes:
    """Bytes ``start .. start + size`` of the endless stream ``0, 1, ..., 250, 0, 1, ...``."""
    offset = start % PERIOD
    reps = (offset + size) // PERIOD + 1
    return (_CYCLE * reps)[offset:offset + size]


def say(*words: object) -> None:
    print(*words, flush=True)


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def run_send(path: str, chunk: int) -> int:
    sock = connect(path)
    say("CONNECTED")
    total = 0
    try:
        while True:
            sock.sendall(pattern(total, chunk))
            total += chunk
            say(f"SENT {total}")
    except OSError as exc:
        say(f"BROKEN {total} {exc.errno}")
    return 0


def run_recv(path: str) -> int:
    sock = connect(path)
    say("CONNECTED")
    total = 0
    digest = hashlib.sha256()
    while True:
        data = sock.recv(65536)
        if not data:
            break
        digest.update(data)
        total += len(data)
        say(f"RECV {total}")
    say("RESULT " + json.dumps({"received": total, "sha256": digest.hexdigest()}))
    return 0


def run_silent(path: str) -> int:
    sock = connect(path)
    say("CONNECTED")
    total = 0
    while data := sock.recv(65536):
        total += len(data)
    say(f"EOF {total}")
    return 0


def unread(sock: socket.socket) -> int:
    buf = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.FIONREAD, buf, True)
    return buf[0]


def run_sink(path: str) -> int:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    say(f"READY {path}")
    conn, _ = listener.accept()
    say("ACCEPTED")
    for line in sys.stdin:
        command = line.strip()
        if command == "inq":
            say(f"INQ {unread(conn)}")
        elif command == "read":
            total = 0
            digest = hashlib.sha256()
            while data := conn.recv(1 << 20):
                digest.update(data)
                total += len(data)
            say("RESULT " + json.dumps({"received": total, "sha256": digest.hexdigest()}))
            return 0
    return 1


def run_sigpipe_control(path: str) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    client = connect(path)
    accepted, _ = listener.accept()
    accepted.close()
    try:
        client.send(b"x")  # no MSG_NOSIGNAL: SIGPIPE kills the process here
    except OSError as exc:
        say(f"ERROR {exc.errno}")
    say("SURVIVED")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("send", "recv", "silent", "sink", "sigpipe-control"))
    parser.add_argument("path")
    parser.add_argument("--chunk", type=int, default=16384)
    args = parser.parse_args()
    if args.mode == "send":
        return run_send(args.path, args.chunk)
    if args.mode == "recv":
        return run_recv(args.path)
    if args.mode == "silent":
        return run_silent(args.path)
    if args.mode == "sink":
        return run_sink(args.path)
    return run_sigpipe_control(args.path)


if __name__ == "__main__":
    sys.exit(main())
