"""The ``qlsock`` logger, and Qt's warnings routed to it.

Qt prints its warnings (``qWarning``) to stderr; qlsock logs the same texts to the
``qlsock`` logger at WARNING so applications decide where they go. The package logger
has a :class:`logging.NullHandler`, so warnings are printed only once logging is
configured. Failures of user code (a slot, a handler) are printed regardless, through the
hub, as gevent prints a failed greenlet (see :mod:`qlsock.hub.report`).
"""

from __future__ import annotations

import logging

logger = logging.getLogger("qlsock")
logger.addHandler(logging.NullHandler())


def qt_warning(text: str) -> None:
    """Log one of Qt's warning texts, verbatim, at WARNING."""
    logger.warning("%s", text)
