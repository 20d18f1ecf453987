"""docs/cli.md holds what ``qlsock [COMMAND] --help`` prints, as plain text blocks.

The page is read as it is, on GitHub and in the sdist, not only through Sphinx, so the
help texts are in the file itself. A block that starts with ``$ qlsock ... --help`` is
that command's output, 80 columns wide; ``tests/test_cli.py`` fails when one differs
from what the command prints now. Regenerate them with ``make docs-cli``
(``python -m tests.gen_cli_doc``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from pathlib import Path

from qlsock import cli

PAGE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
#: argparse fills its help to the terminal's width: a fixed one keeps the page stable.
COLUMNS = "80"
#: A help block: the fence and the command line, the output, the closing fence.
BLOCK = re.compile(r"^(```text\n\$ qlsock(?P<args>[^\n]*) --help\n)(.*?)(^```$)",
                   re.M | re.S)


def help_text(args: list[str]) -> str:
    """What ``qlsock *args* --help`` prints, *COLUMNS* wide (run in-process)."""
    out = io.StringIO()
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = COLUMNS
    try:
        with contextlib.redirect_stdout(out):
            cli.main([*args, "--help"])
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return out.getvalue()


def documented(page: str) -> list[str]:
    """The commands the page has a help block for ("" is ``qlsock --help``), in order."""
    return [m["args"].strip() for m in BLOCK.finditer(page)]


def render(page: str) -> str:
    """*page* with every help block holding the command's current output."""
    return BLOCK.sub(lambda m: m[1] + help_text(m["args"].split()) + m[4], page)


def main() -> int:
    page = PAGE.read_text()
    fresh = render(page)
    if fresh != page:
        PAGE.write_text(fresh)
        print(f"updated {PAGE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
