"""One module per implementation, each with the same command line (see
:mod:`benchmarks.common`): ``python -m benchmarks.impls.X server|client WORKLOAD ...``.

:data:`IMPLS` is the order trials run in (A B C A B C ...) and rows are printed in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Impl:
    key: str  #: the name --only takes
    module: str  #: benchmarks.impls.<module>
    label: str  #: the row heading
    needs: str = ""  #: a module that must be importable (an optional dependency)


IMPLS = (
    Impl("qlsock-blocking", "qlsock_blocking", "qlsock, blocking style"),
    Impl("qlsock-signal", "qlsock_signal", "qlsock, signal style"),
    Impl("qlsock-stream", "qlsock_stream", "qlsock, gevent style (serve)"),
    Impl("gevent", "gevent_raw", "raw gevent (baseline)"),
    Impl("asyncio", "asyncio_streams", "asyncio streams"),
    Impl("uvloop", "asyncio_uvloop", "asyncio + uvloop", needs="uvloop"),
    Impl("pyside6", "pyside6_qt", "PySide6 QLocalSocket", needs="PySide6"),
    Impl("c", "c_native", "C, blocking / epoll"),
)
BASELINE = "gevent"
#: qlsock's rows (each gets a ratio column in the scaling tables).
QLSOCK = ("qlsock-blocking", "qlsock-signal", "qlsock-stream")
#: The styles held to the targets: Qt's signal style, and the gevent style of
#: ``serve()`` (how gevent users serve). The blocking Qt style (QLocalServer with
#: ``waitFor*``) is measured and shown, not judged.
JUDGED = ("qlsock-signal", "qlsock-stream")
BY_KEY = {impl.key: impl for impl in IMPLS}
