"""``python -m qlsock``: the ``qlsock`` command (see :mod:`qlsock.cli`)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
