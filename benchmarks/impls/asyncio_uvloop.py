"""asyncio streams on uvloop's event loop: :mod:`benchmarks.impls.asyncio_streams`
with ``uvloop.new_event_loop`` as the loop."""

from __future__ import annotations

from argparse import Namespace

import uvloop

from benchmarks import common
from benchmarks.impls.asyncio_streams import run


def main(args: Namespace) -> None:
    run(args, uvloop.new_event_loop)


if __name__ == "__main__":
    common.run_main(main)
