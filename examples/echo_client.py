"""An echo client in either of Qt's two styles: send lines, print what comes back.

``--style blocking`` (the default) reads top to bottom like Qt's blocking examples:
``waitForConnected()``, ``write()``, ``waitForReadyRead()`` until the echo is complete.
Under gevent each wait suspends only the calling greenlet, so many such clients can
run at once in one process. ``--style signals`` is Qt's event-driven style: the work
happens in ``connected``, ``readyRead`` and ``disconnected`` slots.

Start the server first, then::

    python examples/echo_client.py [NAME] [MESSAGE ...] [--style blocking|signals]

NAME defaults to ``echo``; each MESSAGE is sent as one line (default: ``hello``).
The exit code is 0 when every line came back unchanged.
"""

from __future__ import annotations

import argparse
import sys

from gevent.event import Event

from qlsock import QLocalSocket

#: How long any one wait may take, in milliseconds (Qt's unit).
TIMEOUT_MS = 5000


def echo_blocking(name: str, messages: list[str]) -> bool:
    sock = QLocalSocket()
    sock.connectToServer(name)
    if not sock.waitForConnected(TIMEOUT_MS):
        print(f"client: cannot connect to {name!r}: {sock.errorString()}", file=sys.stderr)
        return False
    ok = True
    for message in messages:
        sock.write(f"{message}\n".encode())
        # The echo may arrive in pieces: wait until the whole line is there.
        while not sock.canReadLine():
            if not sock.waitForReadyRead(TIMEOUT_MS):
                print(f"client: no echo: {sock.errorString()}", file=sys.stderr)
                return False
        reply = sock.readLine().decode().rstrip("\n")
        print(f"client: sent {message!r}, got back {reply!r}")
        ok = ok and reply == message
    # Sends anything still buffered, then closes; nothing is buffered here, so the
    # socket is Unconnected when this returns.
    sock.disconnectFromServer()
    return ok


def echo_with_signals(name: str, messages: list[str]) -> bool:
    sock = QLocalSocket()
    pending = list(messages)
    ok = True
    finished = Event()

    def on_connected() -> None:
        sock.write("".join(f"{m}\n" for m in messages).encode())

    def on_ready_read() -> None:
        nonlocal ok
        while sock.canReadLine() and pending:
            reply = sock.readLine().decode().rstrip("\n")
            message = pending.pop(0)
            print(f"client: sent {message!r}, got back {reply!r}")
            ok = ok and reply == message
        if not pending:
            sock.disconnectFromServer()

    def on_error(error: QLocalSocket.LocalSocketError) -> None:
        nonlocal ok
        print(f"client: {error}: {sock.errorString()}", file=sys.stderr)
        ok = False
        finished.set()

    # Connect the slots first: on Unix connectToServer() completes before it
    # returns, emitting connected() (or errorOccurred()) inside the call.
    sock.connected.connect(on_connected)
    sock.readyRead.connect(on_ready_read)
    sock.errorOccurred.connect(on_error)
    sock.disconnected.connect(finished.set)
    sock.connectToServer(name)
    # Run the hub until a slot says we are done: this is app.exec().
    if not finished.wait(TIMEOUT_MS / 1000):
        print("client: timed out", file=sys.stderr)
        return False
    return ok and not pending


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="echo", help="server name (default: echo)")
    parser.add_argument("messages", nargs="*", default=["hello"], metavar="MESSAGE")
    parser.add_argument("--style", choices=("blocking", "signals"), default="blocking")
    args = parser.parse_args()
    run = echo_blocking if args.style == "blocking" else echo_with_signals
    ok = run(args.name, args.messages)
    print(f"client: {'all lines echoed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
