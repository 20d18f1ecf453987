"""Qt's Local Fortune Server example, on qlsock: each client gets one fortune.

A port of Qt's ``localfortuneserver`` (``examples/corelib/ipc``) without its dialog,
speaking the same protocol, so Qt's own Local Fortune Client can read from it, and the
qlsock and PySide6 clients beside this file too. The protocol is what Qt's
``QDataStream`` (version ``Qt_5_10``) writes for ``out << quint32(message.size());
out << message``, all big-endian:

* ``quint32``: the fortune's length in UTF-16 code units (``QString::size()``);
* ``quint32``: the byte length of the string that follows (``QDataStream``'s
  ``QString`` header);
* the fortune, UTF-16BE.

After writing it the server disconnects. Run::

    python examples/fortune_server.py [NAME] [--count N]

NAME defaults to ``fortune``; the server stops after N fortunes, or on Ctrl-C /
SIGTERM. Compared with ``pyside6_fortune_server.py`` only the import changes, the
framing is done with :mod:`struct` instead of ``QDataStream``, and waiting on an event
replaces ``app.exec()``.
"""

from __future__ import annotations

import argparse
import random
import signal
import struct
import sys

import gevent
from gevent.event import Event

from qlsock import QLocalServer

FORTUNES = [
    "You will write a test that fails for the right reason.",
    "A greenlet that waits is a greenlet that lets others run.",
    "Today the kernel's buffer is big enough.",
    "Read everything in your readyRead slot, or it will not be emitted again.",
    "The socket file you left behind will be found.",
    "You will port a Qt program by changing one import.",
    "Somebody is listening on the other end.",
]


def fortune_block(text: str) -> bytes:
    """What ``QDataStream`` writes for ``quint32(text.size())`` then ``text``."""
    data = text.encode("utf-16-be")
    return struct.pack(">II", len(data) // 2, len(data)) + data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="fortune",
                        help="server name (default: fortune)")
    parser.add_argument("--count", type=int, metavar="N",
                        help="stop after N fortunes (default: serve until Ctrl-C / SIGTERM)")
    args = parser.parse_args()

    server = QLocalServer()
    if not server.listen(args.name):
        print(f"server: unable to start the server: {server.errorString()}", file=sys.stderr)
        return 1
    print(f"server: listening on {server.fullServerName()}")

    finished = Event()  # set() is app.quit(); finished.wait() below is app.exec()
    served = 0

    def fortune_delivered() -> None:
        nonlocal served
        served += 1
        if served == args.count:
            finished.set()

    def send_fortune() -> None:
        # One newConnection may stand for several queued connections.
        while (client := server.nextPendingConnection()) is not None:
            fortune = random.choice(FORTUNES)
            print(f"server: sending {fortune!r}")
            # Counted once the connection has closed: by then the block has left.
            client.disconnected.connect(fortune_delivered)
            client.write(fortune_block(fortune))
            client.flush()
            # Closes once the write buffer has drained (nothing is dropped).
            client.disconnectFromServer()

    server.newConnection.connect(send_fortune)
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, finished.set)
    finished.wait()
    server.close()
    print(f"server: served {served} fortunes, closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
