"""Run a whole program's ``main()`` with only its Qt imports rewritten.

    python tests/realworld/run_ported.py TARGET PROGRAM [ARGS...]

TARGET is ``qlsock`` (the port) or ``PySide6``; PROGRAM is a key of
``tests.realworld.PROGRAMS`` (``fortune_server``, ``fortune_client``). The program sees
``sys.argv == [its own path, *ARGS]`` and its ``main()``'s return value is the exit
code, as under its own ``if __name__ == "__main__": sys.exit(main())``.

When ``QLSOCK_TEST_MONKEY=1`` (the monkey-patched test run) a qlsock run patches itself
with ``gevent.monkey`` first, so it runs the way the test process does.
"""

from __future__ import annotations

import os
import sys

if sys.argv[1:2] == ["qlsock"] and os.environ.get("QLSOCK_TEST_MONKEY") == "1":
    from gevent import monkey

    monkey.patch_all()

from tests.realworld import PROGRAMS, load_program


def main() -> int:
    target, program, *args = sys.argv[1:]
    module = load_program(program, target)
    sys.argv = [str(PROGRAMS[program]), *args]
    return int(module.main())


if __name__ == "__main__":
    sys.exit(main())
