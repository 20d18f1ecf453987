"""Qt's Local Fortune Client example, on qlsock: fetch fortunes from a fortune server.

A port of Qt's ``localfortuneclient`` (``examples/corelib/ipc``) without its dialog.
It reads the protocol described in ``fortune_server.py`` (what ``QDataStream`` writes
for ``quint32`` + ``QString``), so it works with that server, with
``pyside6_fortune_server.py`` and with Qt's own Local Fortune Server. As in Qt's
client, a fortune equal to the previous one is not shown: the client asks again.

It reads in a ``readyRead`` slot inside an I/O transaction: if the block is not
complete yet, ``rollbackTransaction()`` puts the bytes back and the next ``readyRead``
tries again (what ``QDataStream::startTransaction()`` does in Qt 6's clients). Run::

    python examples/fortune_client.py [NAME] [--count N]

NAME defaults to ``fortune``; the client prints N fortunes (default 1) and exits.
"""

from __future__ import annotations

import argparse
import struct
import sys

import gevent
from gevent.event import Event

from qlsock import QLocalSocket

#: How long to wait for all the fortunes, in seconds.
TIMEOUT_S = 10.0


class FortuneClient:
    def __init__(self, name: str, count: int) -> None:
        self.name = name
        self.wanted = count
        self.fortunes: list[str] = []
        self.failed = False
        self.finished = Event()
        self.socket = QLocalSocket()
        self.socket.readyRead.connect(self.read_fortune)
        self.socket.errorOccurred.connect(self.display_error)

    def request_new_fortune(self) -> None:
        self.socket.abort()
        self.socket.connectToServer(self.name)

    def read_fortune(self) -> None:
        sock = self.socket
        sock.startTransaction()
        header = sock.read(8)
        if len(header) < 8:
            sock.rollbackTransaction()
            return
        _units, size = struct.unpack(">II", header)
        data = sock.read(size)
        if len(data) < size:
            sock.rollbackTransaction()
            return
        sock.commitTransaction()
        fortune = data.decode("utf-16-be")

        if self.fortunes and fortune == self.fortunes[-1]:
            print("client: the same fortune again, asking for another")
        else:
            print(f"client: {fortune}")
            self.fortunes.append(fortune)
        if len(self.fortunes) < self.wanted:
            # Qt's client uses QTimer.singleShot(0, ...): not from inside this
            # socket's own slot. A new greenlet runs once this slot has returned.
            gevent.spawn(self.request_new_fortune)
        else:
            self.finished.set()

    def display_error(self, error: QLocalSocket.LocalSocketError) -> None:
        if error == QLocalSocket.LocalSocketError.PeerClosedError:
            return  # the server closes after each fortune: expected
        if error == QLocalSocket.LocalSocketError.ServerNotFoundError:
            print("client: the server was not found; is the fortune server running, "
                  "with the same name?", file=sys.stderr)
        elif error == QLocalSocket.LocalSocketError.ConnectionRefusedError:
            print("client: the connection was refused; is the fortune server running?",
                  file=sys.stderr)
        else:
            print(f"client: the following error occurred: {self.socket.errorString()}",
                  file=sys.stderr)
        self.failed = True
        self.finished.set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="fortune",
                        help="server name (default: fortune)")
    parser.add_argument("--count", type=int, default=1, metavar="N",
                        help="how many fortunes to fetch (default: 1)")
    args = parser.parse_args()

    client = FortuneClient(args.name, args.count)
    client.request_new_fortune()
    if not client.finished.wait(TIMEOUT_S):
        print("client: timed out", file=sys.stderr)
        return 1
    return 1 if client.failed else 0


if __name__ == "__main__":
    sys.exit(main())
