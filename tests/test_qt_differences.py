"""The last differences from Qt, each observed beside PySide6 (issue 12's list).

``tests/peers/qt_differences.py`` holds scenarios written once against Qt's API. They
run on PySide6 6.11 in a child process (a Qt program without an event loop: only
``waitFor*`` calls) and on qlsock in this process, and each observation must be the
same: the signals in order, the state and ``bytesAvailable()`` inside every slot, the
error and its text afterwards. The peer on the other side of a connection is a plain
socket, or the same implementation's server: what a client observes of a server
closing is a kernel event (end of stream, or a reset from the backlog), whichever
implementation closed it.

Two rows differ on purpose ([differences](../docs/differences.md)): qlsock refuses to
listen over a *live* server's socket even with access options (Qt renames over it),
and its error texts add, in parentheses, what was wrong.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from qlsock import QLocalServer, QLocalSocket

from .peers import qt_differences
from .peers.process import pyside6_observations


@pytest.fixture(scope="module")
def qt() -> dict[str, Any]:
    """What PySide6 observed, scenario by scenario (one child process for all)."""
    return pyside6_observations("qt_differences.py")


def observe(name: str) -> Any:
    return json.loads(json.dumps(qt_differences.run(QLocalServer, QLocalSocket, name)))


@pytest.mark.parametrize("name", [
    "peer_closes_with_a_byte_queued",
    "server_closes_with_a_pending_connection",
    "server_closes_with_a_never_accepted_client",
    "abort_with_unread_data",
    "listen_with_access_option_over_a_stale_file",
    "autospec_mocks",
])
def test_same_as_pyside6(qt: dict[str, Any], name: str) -> None:
    """Differences 1, 2, 3 and 5: what qlsock does is what PySide6 does."""
    assert observe(name) == qt[name]


def test_an_error_that_ends_the_connection_goes_through_closing(qt: dict[str, Any]) -> None:
    """Difference 1, spelled out: a failed send reports the peer's close as Qt does."""
    seen = observe("peer_closes_with_a_byte_queued")
    assert [s[0] for s in seen["signals"]] == [
        "errorOccurred", "stateChanged", "stateChanged", "readChannelFinished",
        "disconnected"]
    assert seen["signals"][1][1] == ["ClosingState"]
    assert (seen["error"], seen["errorString"]) == ("PeerClosedError",
                                                    "QLocalSocket: Remote closed")
    assert seen == qt["peer_closes_with_a_byte_queued"]


def test_abort_drops_unread_data_before_any_signal(qt: dict[str, Any]) -> None:
    """Difference 2, spelled out: no slot of abort() sees the unread bytes."""
    seen = observe("abort_with_unread_data")
    assert [s[3] for s in seen["signals"]] == [0, 0, 0, 0]
    assert [s[0] for s in seen["signals"]][-1] == "aboutToClose"
    assert seen == qt["abort_with_unread_data"]


def test_a_live_servers_socket_is_never_replaced(qt: dict[str, Any]) -> None:
    """Difference 3's limit: a stale file is replaced as in Qt; a live server's is
    not (Qt renames over it, leaving that server unreachable)."""
    assert qt["listen_with_access_option_over_a_live_server"] == {"listening": True}
    assert observe("listen_with_access_option_over_a_live_server") == {"listening": False}
    stale = observe("listen_with_access_option_over_a_stale_file")
    assert stale["listening"] is True
    assert stale["mode"] == "0o700"


def test_none_as_a_name(qt: dict[str, Any]) -> None:
    """Difference 4: listen(None) and removeServer(None) are False, "Name error"."""
    seen = observe("none_as_a_name")
    theirs = qt["none_as_a_name"]
    assert seen["errorString"].startswith(theirs["errorString"])
    assert {**seen, "errorString": None} == {**theirs, "errorString": None}
