"""qlsock's benchmark suite (``make bench``); not part of the installed package.

``benchmarks/run.py`` is the driver; ``benchmarks/impls/`` holds one module per
implementation, each run as a server and a client subprocess. See
``docs/benchmarks.md`` for the method and the latest results.
"""
