"""Every implementer honours its zope.interface contract, as a class and as live objects."""

from __future__ import annotations

from collections.abc import Iterator

import gevent
import pytest
from gevent.event import Event
from zope.interface import Interface
from zope.interface.interface import Method
from zope.interface.verify import verifyClass, verifyObject

from qlsock import BoundSignal, QIODevice, QLocalServer, QLocalSocket, interfaces
from qlsock.hub import HubEngine, current_engine
from qlsock.hub.listener import ListeningEndpoint
from qlsock.hub.transport import StreamTransport
from qlsock.interfaces import (
    IEngine,
    IIODevice,
    IListeningEndpoint,
    ILocalServer,
    ILocalSocket,
    ISignal,
    IStreamTransport,
    ITimer,
)


def _timer_class() -> type:
    timer = current_engine().call_later(3600, lambda: None)
    timer.cancel()
    return type(timer)


CLASS_CASES = [
    (IIODevice, QIODevice),
    (IIODevice, QLocalSocket),
    (ILocalSocket, QLocalSocket),
    (ILocalServer, QLocalServer),
    (ISignal, BoundSignal),
    (IEngine, HubEngine),
    (IStreamTransport, StreamTransport),
    (IListeningEndpoint, ListeningEndpoint),
]


@pytest.mark.parametrize(("iface", "cls"), CLASS_CASES,
                         ids=[f"{c.__name__}-{i.__name__}" for i, c in CLASS_CASES])
def test_verify_class(iface: type[Interface], cls: type) -> None:
    """The class declares and implements the interface's methods with matching signatures."""
    assert iface.implementedBy(cls)
    assert verifyClass(iface, cls)


def test_verify_timer_class() -> None:
    """The engine's timer class implements ITimer."""
    cls = _timer_class()
    assert ITimer.implementedBy(cls)
    assert verifyClass(ITimer, cls)


@pytest.fixture
def connection() -> Iterator[tuple[QLocalServer, QLocalSocket, QLocalSocket]]:
    """A listening server, a connected client and the accepted socket."""
    server = QLocalServer()
    assert server.listen("iface")
    client = QLocalSocket()
    client.connectToServer("iface")
    assert client.state() == QLocalSocket.ConnectedState
    assert server.waitForNewConnection(5000) == (True, False)
    accepted = server.nextPendingConnection()
    assert accepted is not None
    yield server, client, accepted
    client.abort()
    accepted.abort()
    server.close()


def test_verify_live_server(connection: tuple[QLocalServer, QLocalSocket, QLocalSocket]) -> None:
    """A listening server provides ILocalServer; its endpoint provides IListeningEndpoint."""
    server, _, _ = connection
    assert verifyObject(ILocalServer, server)
    assert verifyObject(ISignal, server.newConnection)
    endpoint = server._endpoint
    assert endpoint is not None
    assert verifyObject(IListeningEndpoint, endpoint)
    assert endpoint.closed is False
    assert endpoint.fileno() == server.socketDescriptor()
    assert endpoint.address == server.fullServerName().encode()


@pytest.mark.parametrize("which", ["client", "accepted"])
def test_verify_live_sockets(
    connection: tuple[QLocalServer, QLocalSocket, QLocalSocket], which: str
) -> None:
    """Connected sockets provide ILocalSocket/IIODevice; their transports IStreamTransport."""
    _, client, accepted = connection
    sock = client if which == "client" else accepted
    assert verifyObject(ILocalSocket, sock)
    assert verifyObject(IIODevice, sock)
    for name in ("readyRead", "bytesWritten", "aboutToClose", "readChannelFinished",
                 "connected", "disconnected", "errorOccurred", "error", "stateChanged"):
        assert verifyObject(ISignal, getattr(sock, name)), name
    transport = sock._transport
    assert transport is not None
    assert verifyObject(IStreamTransport, transport)
    assert transport.closed is False
    assert transport.fileno() == sock.socketDescriptor()
    assert transport.sockname() or transport.peername()


def test_verify_unconnected_socket_and_device() -> None:
    """An unconnected socket and a bare QIODevice provide their interfaces too."""
    assert verifyObject(ILocalSocket, QLocalSocket())
    assert verifyObject(IIODevice, QIODevice())


def test_verify_bound_signal() -> None:
    """A bound signal provides ISignal."""
    sock = QLocalSocket()
    assert isinstance(sock.readyRead, BoundSignal)
    assert verifyObject(ISignal, sock.readyRead)


def test_verify_engine_and_timer() -> None:
    """The current engine provides IEngine; a timer from call_later provides ITimer."""
    engine = current_engine()
    assert engine is current_engine()
    assert verifyObject(IEngine, engine)
    engine.check_thread()
    timer = engine.call_later(3600, lambda: None)
    try:
        assert verifyObject(ITimer, timer)
    finally:
        timer.cancel()


def test_timer_fires_and_cancel_stops_it() -> None:
    """call_later runs its callback after the delay; a cancelled timer never does."""
    engine = current_engine()
    fired = Event()
    cancelled_fired = Event()
    cancelled = engine.call_later(0.01, cancelled_fired.set)
    cancelled.cancel()
    engine.call_later(0.02, fired.set)
    assert fired.wait(5)
    assert not cancelled_fired.wait(0.05)


def test_engine_spawn_and_sleep() -> None:
    """spawn runs a function in a new greenlet of the hub; sleep yields."""
    engine = current_engine()
    results: list[int] = []
    greenlet = engine.spawn(results.append, 7)
    assert results == []
    engine.sleep(0)
    assert results == [7]
    assert greenlet.dead
    assert greenlet is not gevent.getcurrent()


def test_engine_spawn_reports_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """What escapes a spawned function, a BaseException included, goes to the hub's
    handle_error (as a failed greenlet's does) and ends only that greenlet."""
    engine = current_engine()
    seen: list[type[BaseException]] = []
    monkeypatch.setattr(gevent.get_hub(), "handle_error",
                        lambda context, kind, value, tb: seen.append(kind))

    def fail() -> None:
        raise gevent.Timeout()

    greenlet = engine.spawn(fail)
    engine.sleep(0)
    assert greenlet.dead
    assert seen == [gevent.Timeout]


def test_transport_close_is_reflected(
    connection: tuple[QLocalServer, QLocalSocket, QLocalSocket]
) -> None:
    """After abort() the transport is closed and its descriptor reads -1."""
    _, client, _ = connection
    transport = client._transport
    client.abort()
    assert transport.closed is True
    assert transport.fileno() == -1
    assert client._transport is None


ALL_INTERFACES = [getattr(interfaces, name) for name in interfaces.__all__
                  if isinstance(getattr(interfaces, name), type(Interface))]


def test_all_interfaces_listed() -> None:
    """interfaces.__all__ names every contract."""
    names = {iface.__name__ for iface in ALL_INTERFACES}
    assert names == {"IEngine", "IIODevice", "IListeningEndpoint", "ILocalServer",
                     "ILocalSocket", "ISignal", "IStreamTransport", "ITimer"}


@pytest.mark.parametrize("iface", ALL_INTERFACES, ids=lambda i: i.__name__)
def test_every_public_name_is_documented(iface: type[Interface]) -> None:
    """The interface and each of its methods and attributes have a non-empty docstring."""
    assert (iface.__doc__ or "").strip(), iface.__name__
    undocumented = [name for name in iface.names(all=True)
                    if not iface[name].getDoc().strip()]
    assert undocumented == []
    assert list(iface.names(all=False)), f"{iface.__name__} declares nothing"


@pytest.mark.parametrize("iface", ALL_INTERFACES, ids=lambda i: i.__name__)
def test_interface_methods_are_declared_without_self(iface: type[Interface]) -> None:
    """Interface methods are declared without ``self`` (zope.interface convention)."""
    for name in iface.names(all=False):
        element = iface[name]
        if isinstance(element, Method):
            assert "self" not in element.positional, f"{iface.__name__}.{name}"
