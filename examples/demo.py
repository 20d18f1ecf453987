"""The qlsock demo: an echo server and several concurrent clients, one process.

The server is written in Qt's signal style (``newConnection`` and ``readyRead``
slots); each client runs in its own greenlet in blocking style
(``waitForConnected``/``waitForReadyRead``), which yields only that greenlet. Run it
with ``make demo``.
"""

from __future__ import annotations

import os
import sys
import tempfile

import gevent

from qlsock import QLocalServer, QLocalSocket

CLIENTS = 4
MESSAGES = 3


def start_server(name: str) -> QLocalServer:
    server = QLocalServer()
    if not server.listen(name):
        sys.exit(f"demo: cannot listen on {name!r}: {server.errorString()}")
    print(f"server: listening on {server.fullServerName()}")

    def on_new_connection() -> None:
        while (conn := server.nextPendingConnection()) is not None:
            serve(conn)

    def serve(conn: QLocalSocket) -> None:
        peer = f"fd {conn.socketDescriptor()}"
        print(f"server: client connected ({peer})")

        def on_ready_read() -> None:
            while conn.canReadLine():
                line = conn.readLine()
                print(f"server: {peer} says {line.decode().strip()!r}, echoing")
                conn.write(b"echo: " + line)

        conn.readyRead.connect(on_ready_read)
        conn.disconnected.connect(lambda: print(f"server: {peer} disconnected"))

    server.newConnection.connect(on_new_connection)
    return server


def client(name: str, number: int) -> list[str]:
    sock = QLocalSocket()
    sock.connectToServer(name)
    if not sock.waitForConnected(3000):
        raise SystemExit(f"client {number}: {sock.errorString()}")
    replies = []
    for i in range(MESSAGES):
        sock.write(f"hello {i} from client {number}\n".encode())
        while not sock.canReadLine():
            if not sock.waitForReadyRead(3000):
                raise SystemExit(f"client {number}: {sock.errorString()}")
        reply = sock.readLine().decode().strip()
        print(f"client {number}: got {reply!r}")
        replies.append(reply)
        gevent.sleep(0.01 * number)  # interleave the clients' output
    sock.disconnectFromServer()
    return replies


def main() -> int:
    # A private directory keeps the demo from meeting another program's socket.
    os.environ["TMPDIR"] = tempfile.mkdtemp(prefix="qlsock-demo-", dir="/tmp")
    name = "qlsock-demo"
    server = start_server(name)
    workers = [gevent.spawn(client, name, n) for n in range(1, CLIENTS + 1)]
    gevent.joinall(workers, raise_error=True)
    expected = {
        n: [f"echo: hello {i} from client {n}" for i in range(MESSAGES)]
        for n in range(1, CLIENTS + 1)
    }
    ok = all(w.value == expected[n] for n, w in enumerate(workers, start=1))
    gevent.sleep(0.05)  # let the server print the last disconnects
    server.close()
    os.rmdir(os.environ["TMPDIR"])
    total = CLIENTS * MESSAGES
    print(f"demo: {CLIENTS} clients exchanged {total} messages, all echoed "
          f"{'correctly' if ok else 'WRONGLY'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
