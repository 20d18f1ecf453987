"""How a failure in user code run by qlsock is reported: the gevent way, and logged.

gevent prints a failed greenlet's traceback through the hub's ``handle_error`` (to the
hub's ``exception_stream``, stderr unless changed), and hands ``SystemExit`` and
``KeyboardInterrupt`` to the main greenlet. A slot or handler that qlsock runs for the
hub fails the same way, and the same record goes to the ``qlsock`` logger at ERROR, so
neither a silent default nor an application's logging setup hides it.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from gevent import get_hub

from .._log import logger

__all__ = ["report_failure"]


def report_failure(context: Any, kind: type[BaseException] | None,
                   value: BaseException | None, tb: TracebackType | None) -> None:
    """Report an exception that escaped user code qlsock ran; never raises.

    *context* says what was running (a string or the callable); it appears in the
    hub's "... failed with ..." line.
    """
    if kind is None or value is None:
        return
    if not issubclass(kind, SystemExit):
        # A kill (GreenletExit) is logged too, though gevent does not print it:
        # the slot it ended never finished, and nobody else can tell.
        logger.error("qlsock: %s raised %s", context, kind.__name__,
                     exc_info=(kind, value, tb))
    try:
        hub = get_hub()
        hub.handle_error(context if isinstance(context, str) else repr(context),
                         kind, value, tb)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        logger.exception("qlsock: the hub's handle_error failed")
