"""Fixtures: a short private $TMPDIR per test, and Qt-warning capture."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from qlsock import LocalStreamServer

#: True in the monkey-patched run (``make test-monkey``).
MONKEY = os.environ.get("QLSOCK_TEST_MONKEY") == "1"


@pytest.fixture(autouse=True)
def tmpdir_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point $TMPDIR at a fresh, short directory (socket paths max out at 106 bytes).

    Qt resolves relative server names against $TMPDIR on every call, so each test
    gets its own namespace of names.
    """
    path = tempfile.mkdtemp(prefix="q", dir="/tmp")
    monkeypatch.setenv("TMPDIR", path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


class QtWarnings:
    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    @property
    def texts(self) -> list[str]:
        return [r.getMessage() for r in self._caplog.records
                if r.name == "qlsock" and r.levelno == logging.WARNING]

    def clear(self) -> None:
        self._caplog.clear()


@pytest.fixture
def qt_warnings(caplog: pytest.LogCaptureFixture) -> QtWarnings:
    """The Qt warning texts qlsock logged during the test."""
    caplog.set_level(logging.WARNING, logger="qlsock")
    return QtWarnings(caplog)


@pytest.fixture
def closing() -> Iterator[list[Any]]:
    """Servers and instances to close at teardown, whatever the test's outcome."""
    things: list[Any] = []
    yield things
    for thing in things:
        if isinstance(thing, LocalStreamServer):
            thing.stop(timeout=0)
        else:
            thing.close()
