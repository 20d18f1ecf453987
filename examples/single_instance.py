"""A single-instance application: the first run serves, later runs hand over and exit.

Every run calls :meth:`qlsock.singleinstance.SingleInstance.start` with its
arguments. The first becomes the *primary*: it listens on the name and gets the
arguments of every later run through the ``messageReceived`` signal (an editor opening
the files you pass to it, in the window already open). Later runs are *secondaries*:
``start()`` forwards their arguments, waits until the primary has acknowledged them,
and returns False, and they exit. A socket file left by a primary that crashed is
reclaimed; a live primary's never is.

Run it several times (the first run keeps going; the others print and exit)::

    python examples/single_instance.py [--name NAME] [--messages N] [ARG ...]

NAME defaults to ``single-instance-<your uid>`` (relative names share ``$TMPDIR``
with other users, hence the uid). The primary exits after N messages (default: runs
until Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import gevent
from gevent.event import Event

from qlsock.singleinstance import SingleInstance, SingleInstanceError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default=f"single-instance-{os.getuid()}",
                        help="the name every instance uses")
    parser.add_argument("--messages", type=int, metavar="N",
                        help="as the primary, exit after N messages (default: never)")
    parser.add_argument("args", nargs="*", metavar="ARG",
                        help="what to hand to the primary (files to open, say)")
    args = parser.parse_args()

    instance = SingleInstance(args.name)
    finished = Event()
    received = 0

    def on_message(message: list[str]) -> None:
        nonlocal received
        received += 1
        print(f"primary: message {received}: {message}")
        if received == args.messages:
            finished.set()

    # Connected before start(): a secondary may hand over as soon as we listen.
    instance.messageReceived.connect(on_message)
    try:
        primary = instance.start(args.args)
    except SingleInstanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not primary:
        print(f"secondary: handed {args.args} to the primary; exiting")
        return 0

    with instance:  # on leaving: stop listening, remove the socket file
        print(f"primary: listening on {instance.full_server_name}, with arguments "
              f"{args.args}")
        for signum in (signal.SIGINT, signal.SIGTERM):
            gevent.signal_handler(signum, finished.set)
        finished.wait()
    print("primary: closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
