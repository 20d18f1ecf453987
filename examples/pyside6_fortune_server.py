"""Qt's Local Fortune Server in PySide6: the Qt side of the fortune examples.

This program uses PySide6 only (no qlsock): it is what a Qt application on the other
end of a qlsock program looks like. It frames each fortune with a real ``QDataStream``,
so the qlsock ``fortune_client.py`` reading it shows that qlsock programs and Qt
programs talk to each other. Compare it with ``fortune_server.py``, the same program
on qlsock. Run it (``QT_QPA_PLATFORM=offscreen`` where there is no display)::

    python examples/pyside6_fortune_server.py [NAME] [--count N]
    python examples/fortune_client.py [NAME]

NAME defaults to ``fortune``; the server quits after N fortunes (or on Ctrl-C).
"""

from __future__ import annotations

import argparse
import random
import signal
import sys

from PySide6.QtCore import QByteArray, QCoreApplication, QDataStream, QIODevice
from PySide6.QtNetwork import QLocalServer

FORTUNES = [
    "Qt was here first, and it is still listening.",
    "Your event loop will run until someone calls quit().",
    "A QDataStream never forgets its version.",
]


def main() -> int:
    app = QCoreApplication(sys.argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="fortune",
                        help="server name (default: fortune)")
    parser.add_argument("--count", type=int, metavar="N",
                        help="quit after N fortunes (default: serve until Ctrl-C)")
    args = parser.parse_args(app.arguments()[1:])

    server = QLocalServer()
    if not server.listen(args.name):
        print(f"server: unable to start the server: {server.errorString()}", file=sys.stderr)
        return 1
    print(f"server: listening on {server.fullServerName()}")
    served = 0

    def fortune_delivered() -> None:
        nonlocal served
        served += 1
        if served == args.count:
            app.quit()

    def send_fortune() -> None:
        while (client := server.nextPendingConnection()) is not None:
            fortune = random.choice(FORTUNES)
            print(f"server: sending {fortune!r}")
            block = QByteArray()
            out = QDataStream(block, QIODevice.OpenModeFlag.WriteOnly)
            out.setVersion(QDataStream.Version.Qt_5_10)
            # QString::size() counts UTF-16 code units, not Python characters.
            out.writeUInt32(len(fortune.encode("utf-16-be")) // 2)
            out.writeQString(fortune)
            client.disconnected.connect(fortune_delivered)
            client.disconnected.connect(client.deleteLater)
            client.write(block)
            client.flush()
            client.disconnectFromServer()

    server.newConnection.connect(send_fortune)
    # Qt's event loop runs in C++, where Python's KeyboardInterrupt cannot reach it:
    # let Ctrl-C end the process the default way.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    app.exec()
    server.close()
    print(f"server: served {served} fortunes, closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
