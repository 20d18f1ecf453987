"""A program that uses :class:`qlsock.singleinstance.SingleInstance`, for the tests.

``single_app.py NAME EXPECTED [ARG...]``: prints ``READY`` and waits for a line on
stdin (so that several copies can be released at the same moment), then calls
``SingleInstance(NAME).start([ARG...])`` and prints ``PRIMARY`` or ``SECONDARY``.
A secondary exits 0 (its message was acknowledged). A primary prints
``MESSAGE <json list>`` for each message received and exits 0 after EXPECTED of them,
printing ``DONE`` (or runs until killed). An election failure prints
``ERROR <text>`` and exits 1.

When ``QLSOCK_TEST_MONKEY=1`` the program patches itself with ``gevent.monkey``
first, as the test process is.
"""

from __future__ import annotations

import os

if os.environ.get("QLSOCK_TEST_MONKEY") == "1":
    from gevent import monkey

    monkey.patch_all()

import json
import sys

from gevent.event import Event

from qlsock.singleinstance import SingleInstance, SingleInstanceError


def say(*words: object) -> None:
    print(*words, flush=True)


def main(argv: list[str]) -> int:
    name, expected, args = argv[0], int(argv[1]), argv[2:]
    say("READY")
    sys.stdin.readline()
    instance = SingleInstance(name, timeout=20)
    try:
        primary = instance.start(args)
    except SingleInstanceError as exc:
        say("ERROR", exc)
        return 1
    if not primary:
        say("SECONDARY")
        return 0
    say("PRIMARY")
    received: list[list[str]] = []
    done = Event()

    def on_message(message: list[str]) -> None:
        received.append(message)
        say("MESSAGE", json.dumps(message))
        if len(received) >= expected:
            done.set()

    instance.messageReceived.connect(on_message)
    done.wait()
    instance.close()
    say("DONE")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
