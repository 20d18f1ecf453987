"""PDFApps' single-instance IPC (``pdfapps/app/single_instance.py``) in a process of its own.

    python tests/realworld/pdfapps_driver.py TARGET server
    python tests/realworld/pdfapps_driver.py TARGET client PATH...

TARGET is ``PySide6`` (the original, unchanged) or ``qlsock`` (the same file with its
imports rewritten: ``tests.realworld.load_program``). The driver plays what PDFApps'
own code around the module does, with TARGET's QtCore:

``server``
    The running instance: ``app/window.py`` creates ``SingleInstanceServer()`` and
    connects ``new_paths`` to its tab loader. Here a ``QCoreApplication`` runs the
    event loop and each ``new_paths`` emission prints ``PATHS <json list>``. Prints
    ``READY <listening: true|false>`` once constructed; quits when stdin ends.
``client``
    The second invocation: ``pdfapps.py`` calls ``send_to_existing(pdf_files)`` before
    creating any application object and exits if it returns True. Prints
    ``RESULT <json bool>``.

The program's own log records (its module's logger) are printed as
``LOG <LEVEL> <message>`` lines, in order with the rest.

When ``QLSOCK_TEST_MONKEY=1`` (the monkey-patched test run) a qlsock run patches itself
with ``gevent.monkey`` first, so it runs the way the test process does.
"""

from __future__ import annotations

import os
import sys

if sys.argv[1:2] == ["qlsock"] and os.environ.get("QLSOCK_TEST_MONKEY") == "1":
    from gevent import monkey

    monkey.patch_all()

import importlib
import json
import logging
import select
from typing import Any

from tests.realworld import load_program


def show_log(module: Any) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("LOG %(levelname)s %(message)s"))
    logger = logging.getLogger(module.__name__)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def quit_when_stdin_ends(app: Any, QTimer: Any) -> Any:
    """A timer polling stdin (a pipe from the test): ``app.quit()`` at its end."""
    def poll() -> None:
        if select.select([0], [], [], 0)[0] and not os.read(0, 4096):
            app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(20)
    return timer


def main() -> int:
    target, role, *paths = sys.argv[1:]
    program = load_program("pdfapps", target)
    show_log(program)
    if role == "client":
        print("RESULT", json.dumps(program.send_to_existing(paths)), flush=True)
        return 0
    assert role == "server", role
    QtCore = importlib.import_module(f"{target}.QtCore")
    app = QtCore.QCoreApplication(sys.argv[:1])
    server = program.SingleInstanceServer()
    server.new_paths.connect(lambda paths: print("PATHS", json.dumps(paths), flush=True))
    print("READY", json.dumps(server._server.isListening()), flush=True)
    watcher = quit_when_stdin_ends(app, QtCore.QTimer)
    code = app.exec()
    watcher.stop()
    print("EXIT", code, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
