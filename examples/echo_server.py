"""An echo server in either of Qt's two styles: every byte a client sends comes back.

``--style signals`` (the default) is Qt's event-driven style: a ``newConnection``
slot takes each connection and a ``readyRead`` slot writes back what arrived.
``--style blocking`` is the style of Qt's threaded examples, with a greenlet where Qt
has a thread: the main loop waits in ``waitForNewConnection()`` and each client gets a
greenlet that loops on ``waitForReadyRead()``. Each wait suspends only its own greenlet.

Run it, then the client in another terminal::

    python examples/echo_server.py [NAME] [--style signals|blocking] [--clients N]
    python examples/echo_client.py [NAME] hello world

NAME defaults to ``echo`` (the socket ``$TMPDIR/echo``, or ``/tmp/echo``). The server
stops after N clients have come and gone, or on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gevent
from gevent.event import Event

from qlsock import QLocalServer, QLocalSocket


class EchoServer:
    """Counts finished clients and sets ``finished`` after the last one."""

    def __init__(self, server: QLocalServer, clients: int | None) -> None:
        self.server = server
        self.clients_left = clients
        # The equivalent of QCoreApplication: main() waits on it, as app.exec()
        # would, and set() plays the role of app.quit().
        self.finished = Event()

    def client_done(self, number: int) -> None:
        print(f"server: client {number} disconnected")
        if self.clients_left is not None:
            self.clients_left -= 1
            if self.clients_left == 0:
                self.finished.set()

    # -- signal style ---------------------------------------------------------------

    def serve_with_signals(self) -> None:
        """Connect the slots and return: the hub calls them as clients arrive."""
        count = 0

        def on_new_connection() -> None:
            nonlocal count
            # One newConnection may stand for several queued connections.
            while (conn := self.server.nextPendingConnection()) is not None:
                count += 1
                echo_with_signals(conn, count)

        def echo_with_signals(conn: QLocalSocket, number: int) -> None:
            print(f"server: client {number} connected")

            def on_ready_read() -> None:
                data = conn.readAll()
                print(f"server: client {number} sent {len(data)} bytes, echoing")
                conn.write(data)

            conn.readyRead.connect(on_ready_read)
            conn.disconnected.connect(lambda: self.client_done(number))

        self.server.newConnection.connect(on_new_connection)

    # -- blocking style -------------------------------------------------------------

    def serve_blocking(self) -> None:
        """Accept in a loop, one greenlet per client; returns when the server closes."""
        count = 0
        while self.server.isListening():
            # Waits in this greenlet only; close() from elsewhere ends the wait
            # with (False, False).
            pending, _timed_out = self.server.waitForNewConnection(-1)
            conn = self.server.nextPendingConnection() if pending else None
            if conn is not None:
                count += 1
                gevent.spawn(self.echo_blocking, conn, count)

    def echo_blocking(self, conn: QLocalSocket, number: int) -> None:
        print(f"server: client {number} connected")
        # waitForReadyRead() is False once the client has closed its end.
        while conn.waitForReadyRead(-1):
            data = conn.readAll()
            print(f"server: client {number} sent {len(data)} bytes, echoing")
            conn.write(data)
        conn.close()
        self.client_done(number)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="echo", help="server name (default: echo)")
    parser.add_argument("--style", choices=("signals", "blocking"), default="signals")
    parser.add_argument("--clients", type=int, metavar="N",
                        help="stop after N clients (default: serve until Ctrl-C / SIGTERM)")
    args = parser.parse_args()

    server = QLocalServer()
    if not server.listen(args.name):
        print(f"server: cannot listen on {args.name!r}: {server.errorString()}", file=sys.stderr)
        return 1
    print(f"server: listening on {server.fullServerName()} ({args.style} style)")

    echo = EchoServer(server, args.clients)
    # Stop cleanly on Ctrl-C and SIGTERM, so close() removes the socket file.
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, echo.finished.set)
    if args.style == "signals":
        echo.serve_with_signals()
    else:
        gevent.spawn(echo.serve_blocking)

    echo.finished.wait()
    server.close()
    print("server: closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
