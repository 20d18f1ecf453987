"""VoxVibe's single-instance guard (``voxvibe/single_instance.py``) in a process of its own.

    python tests/realworld/voxvibe_driver.py TARGET KEY [--reset]

VoxVibe is a PyQt6 program. PyQt6 is not installed here (PySide6 is the Qt binding of
this test suite), so TARGET ``PySide6`` runs the original with its imports rewritten
to PySide6 (``PyQt6.QtNetwork`` -> ``PySide6.QtNetwork``: same classes, same calls),
and TARGET ``qlsock`` the port (``PyQt6.QtNetwork`` -> ``qlsock.QtNetwork``); both are
made by ``tests.realworld.load_program``, which changes the imports only.

The driver plays VoxVibe's ``main()``: ``with SingleInstance(KEY, reset=...)`` around
the service, exit code 1 on ``SingleInstanceError``. It prints ``ACQUIRED`` inside the
block, stays there until stdin ends (the service running), then prints ``RELEASED``
and whether the socket file is still there as ``FILE <json bool>``. A refusal prints
``REFUSED <message>`` and exits with 1. The program's log records print as
``LOG <LEVEL> <message>``.

When ``QLSOCK_TEST_MONKEY=1`` (the monkey-patched test run) a qlsock run patches itself
with ``gevent.monkey`` first, so it runs the way the test process does.
"""

from __future__ import annotations

import os
import sys

if sys.argv[1:2] == ["qlsock"] and os.environ.get("QLSOCK_TEST_MONKEY") == "1":
    from gevent import monkey

    monkey.patch_all()

import json
import logging

from tests.realworld import load_program


def main() -> int:
    target, key, *options = sys.argv[1:]
    program = load_program("voxvibe", target)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("LOG %(levelname)s %(message)s"))
    logger = logging.getLogger(program.__name__)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    path = os.path.join(os.environ["TMPDIR"], key)
    try:
        with program.SingleInstance(key, reset="--reset" in options):
            print("ACQUIRED", flush=True)
            sys.stdin.read()  # the service runs until the test closes our stdin
    except program.SingleInstanceError as e:
        print("REFUSED", e, flush=True)
        return 1
    print("RELEASED", flush=True)
    print("FILE", json.dumps(os.path.exists(path)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
