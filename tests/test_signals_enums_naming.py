"""Signals, Qt's enumerations (names, values, spelling) and server-name resolution."""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest
from PySide6.QtCore import QDir

import qlsock
from qlsock import (
    BoundSignal,
    QAbstractSocket,
    QIODevice,
    QLocalServer,
    QLocalSocket,
    Signal,
)
from qlsock.naming import (
    NameProblem,
    abstract_address,
    clean_path,
    full_server_name,
    names_from_address,
    path_address,
    temp_path,
)
from tests.support import Spy

# -- signals ------------------------------------------------------------------------------------


class Emitter:
    """A plain object with two signals, as a QObject subclass would declare them."""

    sig = Signal(int, str)
    other = Signal(int, str)
    bare = Signal()


def test_signal_descriptor_and_bound_signal() -> None:
    """The class attribute is the Signal; each instance has its own cached BoundSignal."""
    assert isinstance(Emitter.sig, Signal)
    assert Emitter.sig.types == (int, str)
    first, second = Emitter(), Emitter()
    assert isinstance(first.sig, BoundSignal)
    assert first.sig is first.sig
    assert first.sig is not second.sig
    calls: list[tuple[Any, ...]] = []
    first.sig.connect(lambda *a: calls.append(a))
    second.sig.emit(2, "b")
    assert calls == []
    first.sig.emit(1, "a")
    assert calls == [(1, "a")]


def test_connect_emit_disconnect_one_slot() -> None:
    """connect returns True; disconnect(slot) removes it and returns True, then False."""
    obj = Emitter()
    calls: list[tuple[int, str]] = []

    def slot(number: int, text: str) -> None:
        calls.append((number, text))

    assert obj.sig.connect(slot) is True
    assert obj.sig.receivers() == 1
    obj.sig.emit(1, "x")
    assert calls == [(1, "x")]
    assert obj.sig.disconnect(slot) is True
    assert obj.sig.receivers() == 0
    obj.sig.emit(2, "y")
    assert calls == [(1, "x")]
    assert obj.sig.disconnect(slot) is False


def test_disconnect_unknown_slot_returns_false() -> None:
    """Disconnecting a slot that was never connected returns False and changes nothing."""
    obj = Emitter()
    calls: list[int] = []
    obj.sig.connect(calls.append)
    assert obj.sig.disconnect(lambda n: None) is False
    assert obj.sig.receivers() == 1
    obj.sig.emit(3, "z")
    assert calls == [3]


def test_disconnect_all() -> None:
    """disconnect() with no argument removes every slot."""
    obj = Emitter()
    calls: list[str] = []
    obj.sig.connect(lambda: calls.append("a"))
    obj.sig.connect(lambda: calls.append("b"))
    assert obj.sig.receivers() == 2
    assert obj.sig.disconnect() is True
    assert obj.sig.receivers() == 0
    obj.sig.emit(1, "x")
    assert calls == []


def test_same_slot_twice_is_called_twice() -> None:
    """A slot connected twice runs twice; one disconnect removes one connection."""
    obj = Emitter()
    calls: list[int] = []
    obj.sig.connect(calls.append)
    obj.sig.connect(calls.append)
    obj.sig.emit(5, "x")
    assert calls == [5, 5]
    assert obj.sig.disconnect(calls.append) is True
    obj.sig.emit(6, "y")
    assert calls == [5, 5, 6]


def test_emission_order_is_connection_order() -> None:
    """Slots run in the order they were connected."""
    obj = Emitter()
    order: list[int] = []
    for index in range(5):
        obj.bare.connect(lambda i=index: order.append(i))
    obj.bare.emit()
    assert order == [0, 1, 2, 3, 4]


def test_slot_arity() -> None:
    """A slot taking fewer arguments gets the leading ones; *args gets them all."""
    obj = Emitter()
    got: dict[str, tuple[Any, ...]] = {}

    def none() -> None:
        got["none"] = ()

    def one(a: int) -> None:
        got["one"] = (a,)

    def two(a: int, b: str) -> None:
        got["two"] = (a, b)

    def star(*args: Any) -> None:
        got["star"] = args

    def first_and_star(a: int, *rest: Any) -> None:
        got["first_and_star"] = (a, *rest)

    def defaults(a: int, b: str = "d", c: str = "e") -> None:
        got["defaults"] = (a, b, c)

    class Holder:
        def method(self, a: int) -> None:
            got["method"] = (a,)

    for slot in (none, one, two, star, first_and_star, defaults, Holder().method):
        obj.sig.connect(slot)
    obj.sig.emit(7, "seven")
    assert got == {
        "none": (),
        "one": (7,),
        "two": (7, "seven"),
        "star": (7, "seven"),
        "first_and_star": (7, "seven"),
        "defaults": (7, "seven", "e"),
        "method": (7,),
    }


def test_builtin_callables_as_slots() -> None:
    """Builtins (bound list.append, print-like C functions) work as slots."""
    obj = Emitter()
    received: list[int] = []
    obj.sig.connect(received.append)
    obj.sig.emit(9, "nine")
    assert received == [9]


def test_raising_slot_is_logged_and_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    """A slot's exception goes to the "qlsock" logger at ERROR with its traceback."""
    caplog.set_level(logging.ERROR, logger="qlsock")
    obj = Emitter()
    order: list[str] = []

    def bad(number: int) -> None:
        order.append("bad")
        raise RuntimeError(f"boom {number}")

    obj.sig.connect(lambda: order.append("before"))
    obj.sig.connect(bad)
    obj.sig.connect(lambda: order.append("after"))
    obj.sig.emit(4, "x")  # does not raise
    assert order == ["before", "bad", "after"]
    records = [r for r in caplog.records if r.name == "qlsock" and r.levelno == logging.ERROR]
    assert len(records) == 1
    record = records[0]
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    assert "boom 4" in caplog.text
    assert "Traceback" in caplog.text
    assert "Emitter" in record.getMessage()
    assert "sig" in record.getMessage()


def test_connect_non_callable_raises_type_error() -> None:
    """Connecting something that is not callable raises TypeError saying so."""
    obj = Emitter()
    with pytest.raises(TypeError, match="needs a callable"):
        obj.sig.connect(42)
    with pytest.raises(TypeError, match="needs a callable"):
        obj.sig.connect("slot")
    assert obj.sig.receivers() == 0


def test_connect_accepts_and_ignores_connection_type() -> None:
    """A Qt ConnectionType argument is accepted; the connection stays direct."""
    obj = Emitter()
    calls: list[int] = []
    assert obj.sig.connect(calls.append, object()) is True
    assert obj.sig.connect(calls.append, type=2) is True
    obj.sig.emit(1, "x")
    assert calls == [1, 1]


def test_chaining_a_signal_to_another() -> None:
    """Connecting a bound signal to another re-emits on it; it can be disconnected too."""
    source, target = Emitter(), Emitter()
    calls: list[tuple[int, str]] = []
    target.other.connect(lambda n, t: calls.append((n, t)))
    assert source.sig.connect(target.other) is True
    assert source.sig.receivers() == 1
    source.sig.emit(3, "three")
    assert calls == [(3, "three")]
    assert source.sig.disconnect(target.other) is True
    source.sig.emit(4, "four")
    assert calls == [(3, "three")]


def test_receivers_counts_connections() -> None:
    """receivers() counts every connection."""
    obj = Emitter()
    assert obj.bare.receivers() == 0

    def slot() -> None:
        pass

    obj.bare.connect(slot)
    obj.bare.connect(slot)
    obj.bare.connect(Emitter().bare)
    assert obj.bare.receivers() == 3
    obj.bare.disconnect(slot)
    assert obj.bare.receivers() == 2


def test_slot_disconnecting_during_emission() -> None:
    """A slot disconnected by an earlier slot of the same emission is not called,
    as in Qt (PySide6 prints ['first'], then ['first', 'first'])."""
    obj = Emitter()
    calls: list[str] = []

    def first() -> None:
        calls.append("first")
        obj.bare.disconnect(second)

    def second() -> None:
        calls.append("second")

    obj.bare.connect(first)
    obj.bare.connect(second)
    obj.bare.emit()
    assert calls == ["first"]
    obj.bare.emit()
    assert calls == ["first", "first"]


def test_repr_of_bound_signal() -> None:
    """A bound signal's repr names the class and the signal."""
    obj = Emitter()
    text = repr(obj.sig)
    assert "Emitter" in text
    assert "sig" in text


# -- the dual ``error`` -------------------------------------------------------------------------


def test_error_is_getter_and_signal() -> None:
    """sock.error() returns the error; sock.error.connect() receives errorOccurred."""
    sock = QLocalSocket()
    assert sock.error() == QLocalSocket.UnknownSocketError
    assert QLocalSocket.error(sock) == QLocalSocket.UnknownSocketError
    via_error: list[Any] = []
    sock.error.connect(via_error.append)
    spy = Spy(sock.errorOccurred)
    sock.connectToServer("no-such-server")
    assert sock.state() == QLocalSocket.UnconnectedState
    assert via_error == [QLocalSocket.ServerNotFoundError]
    assert spy.calls == [(QLocalSocket.ServerNotFoundError,)]
    assert sock.error() == QLocalSocket.ServerNotFoundError
    assert sock.error() is QLocalSocket.LocalSocketError.ServerNotFoundError
    assert QLocalSocket.error(sock) == QLocalSocket.ServerNotFoundError
    assert sock.error.receivers() == sock.errorOccurred.receivers() == 2


def test_error_signal_disconnect_and_emit() -> None:
    """Slots connected through ``error`` can be disconnected there; emit reaches both names."""
    sock = QLocalSocket()
    seen: list[Any] = []
    sock.error.connect(seen.append)
    sock.errorOccurred.emit(QLocalSocket.PeerClosedError)
    sock.error.emit(QLocalSocket.SocketTimeoutError)
    assert seen == [QLocalSocket.PeerClosedError, QLocalSocket.SocketTimeoutError]
    assert sock.error.disconnect(seen.append) is True
    assert sock.errorOccurred.receivers() == 0
    sock.errorOccurred.emit(QLocalSocket.PeerClosedError)
    assert len(seen) == 2


def test_error_signal_is_per_instance() -> None:
    """Each socket's ``error`` reports that socket's own error."""
    failed, fresh = QLocalSocket(), QLocalSocket()
    failed.connectToServer("")
    assert failed.error() == QLocalSocket.ServerNotFoundError
    assert fresh.error() == QLocalSocket.UnknownSocketError


# -- enums ----------------------------------------------------------------------------------------

SOCKET_ERROR_VALUES = {
    "ConnectionRefusedError": 0, "RemoteHostClosedError": 1, "HostNotFoundError": 2,
    "SocketAccessError": 3, "SocketResourceError": 4, "SocketTimeoutError": 5,
    "DatagramTooLargeError": 6, "NetworkError": 7, "AddressInUseError": 8,
    "SocketAddressNotAvailableError": 9, "UnsupportedSocketOperationError": 10,
    "UnfinishedSocketOperationError": 11, "ProxyAuthenticationRequiredError": 12,
    "SslHandshakeFailedError": 13, "ProxyConnectionRefusedError": 14,
    "ProxyConnectionClosedError": 15, "ProxyConnectionTimeoutError": 16,
    "ProxyNotFoundError": 17, "ProxyProtocolError": 18, "OperationError": 19,
    "SslInternalError": 20, "SslInvalidUserDataError": 21, "TemporaryError": 22,
    "UnknownSocketError": -1,
}

SOCKET_STATE_VALUES = {
    "UnconnectedState": 0, "HostLookupState": 1, "ConnectingState": 2,
    "ConnectedState": 3, "BoundState": 4, "ListeningState": 5, "ClosingState": 6,
}

#: LocalSocketError name -> (value, the SocketError alias).
LOCAL_SOCKET_ERROR_VALUES = {
    "ConnectionRefusedError": (0, "ConnectionRefusedError"),
    "PeerClosedError": (1, "RemoteHostClosedError"),
    "ServerNotFoundError": (2, "HostNotFoundError"),
    "SocketAccessError": (3, "SocketAccessError"),
    "SocketResourceError": (4, "SocketResourceError"),
    "SocketTimeoutError": (5, "SocketTimeoutError"),
    "DatagramTooLargeError": (6, "DatagramTooLargeError"),
    "ConnectionError": (7, "NetworkError"),
    "UnsupportedSocketOperationError": (10, "UnsupportedSocketOperationError"),
    "OperationError": (19, "OperationError"),
    "UnknownSocketError": (-1, "UnknownSocketError"),
}

LOCAL_SOCKET_STATE_VALUES = {
    "UnconnectedState": 0, "ConnectingState": 2, "ConnectedState": 3, "ClosingState": 6,
}

OPEN_MODE_VALUES = {
    "NotOpen": 0x0, "ReadOnly": 0x1, "WriteOnly": 0x2, "ReadWrite": 0x3, "Append": 0x4,
    "Truncate": 0x8, "Text": 0x10, "Unbuffered": 0x20, "NewOnly": 0x40, "ExistingOnly": 0x80,
}

LOCAL_SOCKET_OPTION_VALUES = {"NoOptions": 0x0, "AbstractNamespaceOption": 0x1}

LOCAL_SERVER_OPTION_VALUES = {
    "NoOptions": 0x0, "UserAccessOption": 0x1, "GroupAccessOption": 0x2,
    "OtherAccessOption": 0x4, "WorldAccessOption": 0x7, "AbstractNamespaceOption": 0x8,
}


def _members(enum_type: Any) -> dict[str, int]:
    return {name: int(member) for name, member in enum_type.__members__.items()}


def test_socket_error_values() -> None:
    """QAbstractSocket.SocketError has exactly Qt's members and values."""
    assert _members(QAbstractSocket.SocketError) == SOCKET_ERROR_VALUES
    for name, value in SOCKET_ERROR_VALUES.items():
        member = getattr(QAbstractSocket, name)
        assert member is getattr(QAbstractSocket.SocketError, name)
        assert member == value


def test_socket_state_values() -> None:
    """QAbstractSocket.SocketState has exactly Qt's members and values."""
    assert _members(QAbstractSocket.SocketState) == SOCKET_STATE_VALUES
    for name, value in SOCKET_STATE_VALUES.items():
        assert getattr(QAbstractSocket, name) is getattr(QAbstractSocket.SocketState, name)
        assert getattr(QAbstractSocket, name) == value


def test_local_socket_error_values_and_aliases() -> None:
    """QLocalSocket.LocalSocketError values equal their QAbstractSocket.SocketError aliases."""
    expected = {name: value for name, (value, _) in LOCAL_SOCKET_ERROR_VALUES.items()}
    assert _members(QLocalSocket.LocalSocketError) == expected
    for name, (value, alias) in LOCAL_SOCKET_ERROR_VALUES.items():
        member = getattr(QLocalSocket.LocalSocketError, name)
        assert getattr(QLocalSocket, name) is member
        assert member == value
        assert member == getattr(QAbstractSocket.SocketError, alias)
        assert hash(member) == hash(getattr(QAbstractSocket.SocketError, alias))


def test_local_socket_state_values() -> None:
    """QLocalSocket.LocalSocketState has 0, 2, 3, 6 and matches SocketState."""
    assert _members(QLocalSocket.LocalSocketState) == LOCAL_SOCKET_STATE_VALUES
    for name, value in LOCAL_SOCKET_STATE_VALUES.items():
        member = getattr(QLocalSocket.LocalSocketState, name)
        assert getattr(QLocalSocket, name) is member
        assert member == value == getattr(QAbstractSocket.SocketState, name)


def test_open_mode_values() -> None:
    """QIODevice.OpenModeFlag has Qt's values, on QIODevice and QLocalSocket."""
    assert _members(QIODevice.OpenModeFlag) == OPEN_MODE_VALUES
    for name, value in OPEN_MODE_VALUES.items():
        member = getattr(QIODevice.OpenModeFlag, name)
        assert getattr(QIODevice, name) is member
        assert getattr(QLocalSocket, name) is member
        assert member == value
    assert QIODevice.OpenMode is QIODevice.OpenModeFlag
    assert QIODevice.ReadOnly | QIODevice.WriteOnly == QIODevice.ReadWrite
    assert isinstance(QIODevice.ReadOnly | QIODevice.Text, QIODevice.OpenModeFlag)


def test_local_socket_option_values() -> None:
    """QLocalSocket.SocketOption: NoOptions 0, AbstractNamespaceOption 1."""
    assert _members(QLocalSocket.SocketOption) == LOCAL_SOCKET_OPTION_VALUES
    for name, value in LOCAL_SOCKET_OPTION_VALUES.items():
        assert getattr(QLocalSocket, name) is getattr(QLocalSocket.SocketOption, name)
        assert getattr(QLocalSocket, name) == value


def test_local_server_option_values() -> None:
    """QLocalServer.SocketOption: Qt's access bits, World = all three, Abstract 8."""
    assert _members(QLocalServer.SocketOption) == LOCAL_SERVER_OPTION_VALUES
    for name, value in LOCAL_SERVER_OPTION_VALUES.items():
        assert getattr(QLocalServer, name) is getattr(QLocalServer.SocketOption, name)
        assert getattr(QLocalServer, name) == value
    assert (QLocalServer.UserAccessOption | QLocalServer.GroupAccessOption
            | QLocalServer.OtherAccessOption) == QLocalServer.WorldAccessOption


def test_both_access_ways_give_the_same_object() -> None:
    """Scoped and unscoped spellings are the same member, as in PySide6."""
    assert QLocalSocket.LocalSocketError.PeerClosedError is QLocalSocket.PeerClosedError
    assert QLocalSocket.LocalSocketState.ConnectedState is QLocalSocket.ConnectedState
    assert QLocalSocket.SocketOption.AbstractNamespaceOption is \
        QLocalSocket.AbstractNamespaceOption
    assert QLocalServer.SocketOption.AbstractNamespaceOption is \
        QLocalServer.AbstractNamespaceOption
    assert QAbstractSocket.SocketError.HostNotFoundError is QAbstractSocket.HostNotFoundError
    assert QIODevice.OpenModeFlag.ReadOnly is QIODevice.ReadOnly
    # The member shadows the builtin name only as a class attribute.
    assert QLocalSocket.ConnectionError is QLocalSocket.LocalSocketError.ConnectionError
    assert ConnectionError is not QLocalSocket.ConnectionError


def test_package_level_enum_names() -> None:
    """The enums exported by the package are the ones on the classes."""
    assert qlsock.SocketError is QAbstractSocket.SocketError
    assert qlsock.SocketState is QAbstractSocket.SocketState
    assert qlsock.LocalSocketError is QLocalSocket.LocalSocketError
    assert qlsock.LocalSocketState is QLocalSocket.LocalSocketState
    assert qlsock.LocalSocketOption is QLocalSocket.SocketOption
    assert qlsock.LocalServerSocketOption is QLocalServer.SocketOption
    assert qlsock.OpenModeFlag is QIODevice.OpenModeFlag


def test_int_enum_comparisons_across_aliases() -> None:
    """Members compare equal to ints and to other enums' members of the same value."""
    assert QLocalSocket.PeerClosedError == QAbstractSocket.RemoteHostClosedError == 1
    assert QLocalSocket.ServerNotFoundError == QAbstractSocket.HostNotFoundError == 2
    assert QLocalSocket.ConnectionError == QAbstractSocket.NetworkError == 7
    assert QLocalSocket.ConnectedState == QAbstractSocket.ConnectedState == 3
    assert QLocalSocket.UnknownSocketError == QAbstractSocket.UnknownSocketError == -1
    assert QLocalSocket.PeerClosedError != QAbstractSocket.HostNotFoundError
    assert QLocalSocket.ConnectingState < QLocalSocket.ConnectedState < QLocalSocket.ClosingState
    assert {1: "peer"}[QLocalSocket.PeerClosedError] == "peer"
    assert QLocalSocket.LocalSocketError(1) is QLocalSocket.PeerClosedError
    assert QAbstractSocket.SocketError(2) is QAbstractSocket.HostNotFoundError
    assert int(QIODevice.ReadWrite | QIODevice.Text) == 0x13
    assert QIODevice.ReadWrite & QIODevice.ReadOnly


def test_enum_repr_and_str() -> None:
    """repr() and str() give Qt's qualified spelling."""
    assert repr(QLocalSocket.ConnectionRefusedError) == "QLocalSocket.ConnectionRefusedError"
    assert str(QLocalSocket.ConnectionRefusedError) == "QLocalSocket.ConnectionRefusedError"
    assert f"{QLocalSocket.PeerClosedError}" == "QLocalSocket.PeerClosedError"
    assert repr(QLocalSocket.ConnectedState) == "QLocalSocket.ConnectedState"
    assert repr(QAbstractSocket.SocketError.HostNotFoundError) == \
        "QAbstractSocket.HostNotFoundError"
    assert str(QAbstractSocket.ListeningState) == "QAbstractSocket.ListeningState"
    assert repr(QIODevice.ReadOnly) == "QIODevice.ReadOnly"
    assert repr(QIODevice.ReadWrite) == "QIODevice.ReadWrite"
    assert repr(QIODevice.NotOpen) == "QIODevice.NotOpen"
    assert repr(QIODevice.ReadOnly | QIODevice.Text) == "QIODevice.ReadOnly|QIODevice.Text"
    assert str(QIODevice.ReadOnly | QIODevice.Text) == "QIODevice.ReadOnly|QIODevice.Text"
    assert repr(QLocalServer.WorldAccessOption) == "QLocalServer.WorldAccessOption"
    assert repr(QLocalServer.UserAccessOption | QLocalServer.AbstractNamespaceOption) == \
        "QLocalServer.UserAccessOption|QLocalServer.AbstractNamespaceOption"
    assert repr(QLocalSocket.AbstractNamespaceOption) == "QLocalSocket.AbstractNamespaceOption"


# -- naming ---------------------------------------------------------------------------------


def test_full_server_name_relative_and_absolute(tmpdir_env: str) -> None:
    """Relative names join the temp dir unchanged; absolute ones are used as given."""
    assert full_server_name("name") == tmpdir_env + "/name"
    assert full_server_name("a/b") == tmpdir_env + "/a/b"
    assert full_server_name("./x") == tmpdir_env + "/./x"
    assert full_server_name("../up") == tmpdir_env + "/../up"
    assert full_server_name("/abs/./not//cleaned/../x") == "/abs/./not//cleaned/../x"
    assert full_server_name("/") == "/"


def test_server_full_name_matches_naming(tmpdir_env: str) -> None:
    """QLocalServer's fullServerName uses the same rule (name not cleaned)."""
    os.mkdir(tmpdir_env + "/sub")
    server = QLocalServer()
    assert server.listen("sub/../sub/./srv")
    assert server.serverName() == "sub/../sub/./srv"
    assert server.fullServerName() == tmpdir_env + "/sub/../sub/./srv"
    assert os.path.exists(tmpdir_env + "/sub/srv")
    server.close()
    assert not os.path.exists(tmpdir_env + "/sub/srv")


def test_tmpdir_unset_or_empty_means_tmp(monkeypatch: pytest.MonkeyPatch) -> None:
    """With TMPDIR unset or empty the temp dir is /tmp (not tempfile's fallbacks)."""
    monkeypatch.delenv("TMPDIR")
    monkeypatch.setenv("TEMP", "/var/other")
    monkeypatch.setenv("TMP", "/var/other")
    assert temp_path() == "/tmp"
    assert full_server_name("n") == "/tmp/n"
    monkeypatch.setenv("TMPDIR", "")
    assert temp_path() == "/tmp"
    assert full_server_name("n") == "/tmp/n"


def test_relative_tmpdir_made_absolute_and_cleaned(
    tmpdir_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative TMPDIR is joined to the cwd and cleaned; it need not exist."""
    monkeypatch.chdir(tmpdir_env)
    monkeypatch.setenv("TMPDIR", "rel/./a/../b/")
    assert temp_path() == tmpdir_env + "/rel/b"
    assert full_server_name("n") == tmpdir_env + "/rel/b/n"
    monkeypatch.setenv("TMPDIR", "..")
    assert temp_path() == os.path.dirname(tmpdir_env)


def test_absolute_tmpdir_cleaned_not_resolved(
    tmpdir_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An absolute TMPDIR loses doubled and trailing slashes; symlinks are kept."""
    os.mkdir(tmpdir_env + "/real")
    os.symlink(tmpdir_env + "/real", tmpdir_env + "/link")
    monkeypatch.setenv("TMPDIR", tmpdir_env + "//link/./")
    assert temp_path() == tmpdir_env + "/link"
    assert full_server_name("n") == tmpdir_env + "/link/n"
    monkeypatch.setenv("TMPDIR", tmpdir_env + "/missing/")
    assert temp_path() == tmpdir_env + "/missing"
    monkeypatch.setenv("TMPDIR", "/")
    assert temp_path() == "/"
    # Qt joins cleanPath(tempPath()) + "/" + name, even for the root directory.
    assert full_server_name("n") == "//n"


def test_temp_path_agrees_with_qt(tmpdir_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """temp_path() equals PySide6's QDir.tempPath() for the same environment."""
    monkeypatch.chdir(tmpdir_env)
    for value in ("", "rel", "rel/./x/../y/", tmpdir_env + "//a/", "../z", tmpdir_env):
        monkeypatch.setenv("TMPDIR", value)
        assert temp_path() == QDir.tempPath(), value


CLEAN_PATH_CASES = [
    ("", ""),
    ("/", "/"),
    ("//", "/"),
    ("/.", "/"),
    (".", "."),
    ("./", "."),
    ("./a", "a"),
    ("a//b", "a/b"),
    ("//a", "/a"),
    ("/a/./b/", "/a/b"),
    ("/a/b/../c", "/a/c"),
    ("/a/..", "/"),
    ("a/..", "."),
    ("a/../..", ".."),
    ("..", ".."),
    ("../..", "../.."),
    ("../a/b/..", "../a"),
    ("a/../../b", "../b"),
    ("a/b/../../..", ".."),
    ("/x/.", "/x"),
    ("...", "..."),
    ("/a/.../b", "/a/.../b"),
    ("/..a/..", "/"),
    ("/Users/sam/troll/qt4.0//..", "/Users/sam/troll"),
]


@pytest.mark.parametrize(("path", "expected"), CLEAN_PATH_CASES)
def test_clean_path(path: str, expected: str) -> None:
    """clean_path() is QDir::cleanPath."""
    assert clean_path(path) == expected
    assert QDir.cleanPath(path) == expected


def test_clean_path_keeps_dotdot_above_root() -> None:
    """Like QDir::cleanPath, ".." above the root of an absolute path is kept."""
    for path, expected in [("/..", "/.."), ("/../a", "/../a"), ("/./..", "/.."),
                           ("/a/b/../../..", "/..")]:
        assert QDir.cleanPath(path) == expected
        assert clean_path(path) == expected, path


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (b"", ("", "", None)),
        (b"/tmp/dir/sock", ("sock", "/tmp/dir/sock", False)),
        (b"/tmp/dir/sock\0\0", ("sock", "/tmp/dir/sock", False)),
        (b"sock", ("sock", "sock", False)),
        (b"/tmp/dir/", ("/tmp/dir/", "/tmp/dir/", False)),
        (b"/tmp/\xc3\xa9t\xc3\xa9", ("\u00e9t\u00e9", "/tmp/\u00e9t\u00e9", False)),
        (b"/tmp/\xff", ("", "", False)),
        (b"\0name", ("name", "name", True)),
        (b"\0name\0", ("name\0", "name\0", True)),
        (b"\0/looks/like/path", ("/looks/like/path", "/looks/like/path", True)),
        (b"\0\xff", ("", "", True)),
    ],
)
def test_names_from_address(address: bytes, expected: tuple[str, str, bool | None]) -> None:
    """names_from_address() is Qt's parseSockaddr."""
    assert names_from_address(address) == expected


def test_names_from_empty_abstract_address() -> None:
    """An abstract address with no name leaves the names empty."""
    server, full, _ = names_from_address(b"\0")
    assert (server, full) == ("", "")


def test_addresses() -> None:
    """path_address/abstract_address give the bytes Qt binds to, within 106 bytes."""
    assert path_address("/tmp/x") == b"/tmp/x"
    assert path_address("/tmp/\u00e9") == "/tmp/\u00e9".encode()
    assert abstract_address("name") == b"\0name"
    assert abstract_address("name\0") == b"\0name\0"
    assert abstract_address("a" * 106) == b"\0" + b"a" * 106
    with pytest.raises(NameProblem, match="107"):
        abstract_address("a" * 107)
    assert path_address("/" + "a" * 105) == b"/" + b"a" * 105
    with pytest.raises(NameProblem, match="107"):
        path_address("/" + "a" * 106)
    with pytest.raises(NameProblem, match="NUL"):
        path_address("/tmp/a\0b")
    with pytest.raises(NameProblem):
        path_address("/tmp/\udcff")
    assert issubclass(NameProblem, ValueError)
