"""Qt's Local Fortune Client in PySide6: the Qt side of the fortune examples.

This program uses PySide6 only (no qlsock). It reads each fortune with a real
``QDataStream`` transaction, so reading from the qlsock ``fortune_server.py`` shows that
a Qt program can be a client of a qlsock server. Compare it with ``fortune_client.py``,
the same program on qlsock. Run it (``QT_QPA_PLATFORM=offscreen`` where there is no
display)::

    python examples/fortune_server.py [NAME]
    python examples/pyside6_fortune_client.py [NAME] [--count N]

NAME defaults to ``fortune``; the client prints N fortunes (default 1) and quits.
"""

from __future__ import annotations

import argparse
import sys

from PySide6.QtCore import QCoreApplication, QDataStream, QTimer
from PySide6.QtNetwork import QLocalSocket

#: How long to wait for all the fortunes, in milliseconds.
TIMEOUT_MS = 10000


class FortuneClient:
    def __init__(self, app: QCoreApplication, name: str, count: int) -> None:
        self.app = app
        self.name = name
        self.wanted = count
        self.fortunes: list[str] = []
        self.socket = QLocalSocket()
        self.stream = QDataStream(self.socket)
        self.stream.setVersion(QDataStream.Version.Qt_5_10)
        self.socket.readyRead.connect(self.read_fortune)
        self.socket.errorOccurred.connect(self.display_error)

    def request_new_fortune(self) -> None:
        self.socket.abort()
        self.socket.connectToServer(self.name)

    def read_fortune(self) -> None:
        # A transaction: if the block is incomplete, commitTransaction() fails and
        # puts the bytes back for the next readyRead.
        self.stream.startTransaction()
        self.stream.readUInt32()  # the fortune's length; readQString() has its own
        fortune = self.stream.readQString()
        if not self.stream.commitTransaction():
            return
        if self.fortunes and fortune == self.fortunes[-1]:
            print("client: the same fortune again, asking for another")
        else:
            print(f"client: {fortune}")
            self.fortunes.append(fortune)
        if len(self.fortunes) < self.wanted:
            QTimer.singleShot(0, self.request_new_fortune)
        else:
            self.app.quit()

    def display_error(self, error: QLocalSocket.LocalSocketError) -> None:
        if error == QLocalSocket.LocalSocketError.PeerClosedError:
            return  # the server closes after each fortune: expected
        print(f"client: the following error occurred: {self.socket.errorString()}",
              file=sys.stderr)
        self.app.exit(1)


def main() -> int:
    app = QCoreApplication(sys.argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="fortune",
                        help="server name (default: fortune)")
    parser.add_argument("--count", type=int, default=1, metavar="N",
                        help="how many fortunes to fetch (default: 1)")
    args = parser.parse_args(app.arguments()[1:])

    client = FortuneClient(app, args.name, args.count)
    client.request_new_fortune()

    def give_up() -> None:
        print("client: timed out", file=sys.stderr)
        app.exit(1)

    QTimer.singleShot(TIMEOUT_MS, give_up)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
