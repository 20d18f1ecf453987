"""Legacy thread-per-client code, unchanged, under ``gevent.monkey.patch_all()``.

Code written for Qt's blocking API with Python threads: a server thread accepts with
``waitForNewConnection()`` and starts a thread per client; client threads talk with
``waitForConnected()`` / ``waitForReadyRead()``. The only gevent-specific line is
the first one: ``monkey.patch_all()`` turns every ``threading.Thread`` into a greenlet
of one hub, so each blocking call suspends just its own "thread", and the sockets and
the server may be shared between them (without patching, each real thread would have
a hub of its own and an object used from another thread raises
``qlsock.WrongThreadError``). Run it on its own::

    python examples/legacy_threads.py [--clients N]

It starts an upper-casing server and N client threads (default 5) in one process,
and exits 0 when every client got its reply.
"""

from gevent import monkey

monkey.patch_all()

# ruff: noqa: E402  (the patching must come before everything else)
import argparse
import os
import sys
import tempfile
import threading

from qlsock import QLocalServer, QLocalSocket

TIMEOUT_MS = 5000


def handle_client(conn: QLocalSocket) -> None:
    """Answer each line with the same line upper-cased, until the client leaves."""
    while conn.waitForReadyRead(TIMEOUT_MS):
        while conn.canReadLine():
            conn.write(conn.readLine().upper())
        conn.waitForBytesWritten(TIMEOUT_MS)
    conn.close()


def server_thread(server: QLocalServer, clients: int) -> None:
    handlers = []
    for _ in range(clients):
        pending, _timed_out = server.waitForNewConnection(TIMEOUT_MS)
        conn = server.nextPendingConnection()
        if not pending or conn is None:
            print("server: no client came", file=sys.stderr)
            break
        handler = threading.Thread(target=handle_client, args=(conn,))
        handler.start()
        handlers.append(handler)
    for handler in handlers:
        handler.join()


def client_thread(name: str, number: int, replies: dict[int, str]) -> None:
    sock = QLocalSocket()
    sock.connectToServer(name)
    if not sock.waitForConnected(TIMEOUT_MS):
        print(f"client {number}: {sock.errorString()}", file=sys.stderr)
        return
    sock.write(f"hello from thread {number}\n".encode())
    while not sock.canReadLine():
        if not sock.waitForReadyRead(TIMEOUT_MS):
            print(f"client {number}: {sock.errorString()}", file=sys.stderr)
            return
    replies[number] = sock.readLine().decode().rstrip("\n")
    print(f"client {number}: got {replies[number]!r}")
    sock.disconnectFromServer()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=5, metavar="N")
    args = parser.parse_args()

    # A private directory, so the example never meets another program's socket.
    with tempfile.TemporaryDirectory(prefix="qlsock-legacy-") as directory:
        name = os.path.join(directory, "upper")
        server = QLocalServer()
        if not server.listen(name):
            print(f"server: {server.errorString()}", file=sys.stderr)
            return 1
        print(f"server: listening on {server.fullServerName()}")

        replies: dict[int, str] = {}
        threads = [threading.Thread(target=server_thread, args=(server, args.clients))]
        threads += [threading.Thread(target=client_thread, args=(name, n, replies))
                    for n in range(1, args.clients + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        server.close()

    ok = all(replies.get(n) == f"HELLO FROM THREAD {n}" for n in range(1, args.clients + 1))
    print(f"main: {len(replies)} of {args.clients} threads got their reply"
          f"{'' if ok else '; FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
