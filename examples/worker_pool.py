"""A greenlet-per-client server with a bounded pool of workers.

:class:`qlsock.streamserver.LocalStreamServer` is gevent's ``StreamServer`` for local
sockets: it accepts in the background and runs ``handle(sock)`` in a greenlet of its
own for each client, with ``sock`` an already connected :class:`qlsock.QLocalSocket`.
The handler is written in plain blocking style (``waitForReadyRead()``, ``write()``):
each wait suspends only that client's greenlet. ``spawn=Pool(N)`` caps how many
clients are served at once; while all N workers are busy the server stops accepting
and newcomers wait in the kernel's backlog. When the handler returns, the server
closes the connection gracefully (what the handler wrote is still delivered).
``idle_timeout`` closes a connection that stays silent too long, and ``reclaim_stale``
takes over the socket file of a previous run that crashed.

The service here is an echo (so ``echo_client.py`` is its client); put your own
request handling in ``handle()``. Run::

    python examples/worker_pool.py [NAME] [--workers N] [--clients N]
    python examples/echo_client.py [NAME] hello world

NAME defaults to ``pool``. The server stops gracefully after ``--clients`` clients,
or on Ctrl-C / SIGTERM: it stops accepting, lets running handlers finish (up to
5 s), then disconnects what is left.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gevent
from gevent.pool import Pool

from qlsock import ListenError, QLocalSocket
from qlsock.streamserver import LocalStreamServer

#: A client that sends nothing for this long is disconnected (seconds).
IDLE_TIMEOUT_S = 30.0
#: How long stop() lets running handlers finish (seconds).
STOP_TIMEOUT_S = 5.0


class EchoService:
    """The per-client handler, and the counting that ends the example."""

    def __init__(self, workers: int, clients: int | None) -> None:
        self.workers = workers
        self.pool = Pool(workers)
        self.clients_left = clients
        self.started = 0
        self.server: LocalStreamServer | None = None

    def handle(self, sock: QLocalSocket) -> None:
        """Serve one client, in its own greenlet; return to close the connection."""
        self.started += 1
        number = self.started
        busy = self.workers - self.pool.free_count()
        print(f"worker: client {number} connected ({busy} of {self.workers} workers busy)")
        # False once the client has closed its end (or was idle too long).
        while sock.waitForReadyRead(-1):
            data = sock.readAll()
            print(f"worker: client {number} sent {len(data)} bytes, echoing")
            sock.write(data)
        print(f"worker: client {number} done")
        if self.clients_left is not None:
            self.clients_left -= 1
            if self.clients_left == 0 and self.server is not None:
                # From a handler, stop() neither waits for nor kills that handler.
                self.server.stop(STOP_TIMEOUT_S)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="pool", help="server name (default: pool)")
    parser.add_argument("--workers", type=int, default=10, metavar="N",
                        help="serve at most N clients at once (default: 10)")
    parser.add_argument("--clients", type=int, metavar="N",
                        help="stop after N clients (default: serve until Ctrl-C / SIGTERM)")
    args = parser.parse_args()

    service = EchoService(args.workers, args.clients)
    # reclaim_stale: a socket file left by a run that crashed is removed first; a live
    # server's file never is (start() then fails with AddressInUseError).
    server = LocalStreamServer(args.name, service.handle, spawn=service.pool,
                               idle_timeout=IDLE_TIMEOUT_S, reclaim_stale=True)
    service.server = server
    try:
        server.start()
    except ListenError as exc:
        print(f"server: cannot listen on {args.name!r}: {exc}", file=sys.stderr)
        return 1
    print(f"server: listening on {server.fullServerName()} with {args.workers} workers")

    # The signal handler runs in a greenlet of its own, so it may block in stop().
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, server.stop, STOP_TIMEOUT_S)
    server.serve_forever()  # returns once stop() has run
    print(f"server: stopped after {service.started} clients")
    return 0


if __name__ == "__main__":
    sys.exit(main())
