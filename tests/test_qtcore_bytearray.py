"""QByteArray against PySide6's, in the same process: construction, null-ness, the Qt
methods programs use on socket data (hex, base64, searching, parts), Python's
operators, and the documented differences; and that a qlsock socket writes one.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QByteArray as QtByteArray

from qlsock.qtcore import QByteArray
from tests.support import DEFAULT_WAIT_MS, Harness, torn_down

SETTINGS = settings(deadline=None, max_examples=150, derandomize=True, database=None)
BLOB = st.binary(max_size=16)
SMALL = st.integers(-20, 20)


def view(array: Any) -> tuple[bool, bytes]:
    """Null-ness and contents; isNull() first, since Qt's data() detaches a null array."""
    return array.isNull(), bytes(array.data())


def both(data: bytes | None) -> tuple[Any, Any]:
    if data is None:
        return QByteArray(), QtByteArray()
    return QByteArray(data), QtByteArray(data)


@pytest.mark.parametrize("args", [(), (None,), (b"ab",), (b"",), (bytearray(b"ab"),),
                                  ("h\u00e9",), (3, "x"), (0, "x"), (-1, "x"), (2, "\u00e9")])
def test_construction_as_in_pyside6(args: tuple[Any, ...]) -> None:
    assert view(QByteArray(*args)) == view(QtByteArray(*args))
    assert view(QByteArray(QByteArray(*args))) == view(QtByteArray(QtByteArray(*args)))


def test_construction_refuses_what_pyside6_refuses() -> None:
    for args in [(5,), (1.5,), (object(),)]:
        with pytest.raises(TypeError):
            QtByteArray(*args)
        with pytest.raises(TypeError):
            QByteArray(*args)
    # A memoryview is taken (PySide6 6.11 raises ValueError).
    assert QByteArray(memoryview(b"ab")) == b"ab"


@SETTINGS
@given(data=st.none() | BLOB, other=BLOB, start=SMALL, length=SMALL)
def test_methods_as_in_pyside6(data: bytes | None, other: bytes, start: int,
                               length: int) -> None:
    """Every method, on random arrays (null ones too) and arguments: the same results,
    null-ness included."""
    ours, qt = both(data)
    arrays = [(ours, qt)]
    if data is not None and len(data) > 0:
        index = start % len(data)
        assert ours[index] == qt[index]
    for a, b in arrays:
        assert (a.size(), a.length(), len(a), a.isEmpty(), a.isNull()) == \
            (b.size(), b.length(), len(b), b.isEmpty(), b.isNull())
        assert (a == other, a != other, a < other, a <= other, a > other, a >= other) == \
            (b == other, b != other, b < other, b <= other, b > other, b >= other)
        assert (a == QByteArray(other)) == (b == QtByteArray(other))
        assert view(a + other) == view(b + other)
        assert view(a + QByteArray(other)) == view(b + QtByteArray(other))
        assert (a.startsWith(other), a.endsWith(other), a.contains(other)) == \
            (b.startsWith(other), b.endsWith(other), b.contains(other))
        assert a.indexOf(other, start) == b.indexOf(other, start)
        assert a.indexOf(other) == b.indexOf(other)
        assert a.count(other) == b.count(other)
        assert view(a.left(start)) == view(b.left(start))
        assert view(a.right(start)) == view(b.right(start))
        assert view(a.mid(start, length)) == view(b.mid(start, length))
        assert view(a.mid(start)) == view(b.mid(start))
        assert view(a[start:length]) == view(b[start:length])
        if length:
            assert view(a[start::length]) == view(b[start::length])
        assert list(a) == list(b)
        assert str(a) == str(b)
        assert view(a.toHex()) == view(b.toHex())
        assert view(a.toHex(":")) == view(b.toHex(":"))
        for option in (0, 1, 2, 3):
            assert view(a.toBase64(QByteArray.Base64Option(option))) == \
                view(b.toBase64(QtByteArray.Base64Option(option)))
        assert a.data() == b.data()


@SETTINGS
@given(data=st.none() | BLOB, count=SMALL)
def test_mutators_as_in_pyside6(data: bytes | None, count: int) -> None:
    for method, args in [("chop", (count,)), ("truncate", (count,)), ("clear", ()),
                         ("append", (b"xy",)), ("append", (b"",)), ("append", (None,)),
                         ("append", (QByteArray(),)), ("append", (66,)),
                         ("append", (2, "z")), ("prepend", (b"p",)), ("prepend", (b"",))]:
        ours, qt = both(data)
        qt_args = tuple(QtByteArray() if isinstance(arg, QByteArray) else arg for arg in args)
        result = getattr(ours, method)(*args)
        qt_result = getattr(qt, method)(*qt_args)
        assert view(ours) == view(qt), (method, args)
        if method in ("append", "prepend"):
            assert (result is ours, qt_result is qt) == (True, True)


HEXISH = st.binary(max_size=12) | st.text("0123456789abcdefABCDEF :-xyz", max_size=12).map(
    str.encode)
BASE64ISH = st.binary(max_size=12) | st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= *", max_size=16).map(
    str.encode)


@SETTINGS
@given(hexish=HEXISH, base64ish=BASE64ISH, option=st.sampled_from([0, 1, 4, 5]))
def test_decoding_as_in_pyside6(hexish: bytes, base64ish: bytes, option: int) -> None:
    """fromHex skips non-digits and pairs from the end; fromBase64 skips what is not
    in the alphabet, or gives up with AbortOnBase64DecodingErrors."""
    assert view(QByteArray.fromHex(hexish)) == view(QtByteArray.fromHex(hexish))
    assert view(QByteArray.fromBase64(base64ish, QByteArray.Base64Option(option))) == \
        view(QtByteArray.fromBase64(base64ish, QtByteArray.Base64Option(option)))


def test_operators_as_in_pyside6() -> None:
    ours, qt = QByteArray(b"h\xc3\xa9"), QtByteArray(b"h\xc3\xa9")
    assert ("x" + ours) == ("x" + qt) == "xh\u00e9"
    assert ("x" + QByteArray(b"\xff")) == ("x" + QtByteArray(b"\xff"))
    assert view(ours + "!") == view(qt + "!")
    assert view(ours + 33) == view(qt + 33)
    assert (ours == "h\u00e9", QByteArray() == None, ours == 5) == (  # noqa: E711
        qt == "h\u00e9", QtByteArray() == None, qt == 5)  # noqa: E711
    for a in (ours, qt):
        a += b"!"
    assert view(ours) == view(qt)
    ours[0], qt[0] = b"H", b"H"
    ours[1:3], qt[1:3] = b"EY", b"EY"
    assert view(ours) == view(qt)
    assert (ours.toStdString(), QByteArray.fromStdString("\u00e9")) == (
        qt.toStdString(), QtByteArray.fromStdString("\u00e9").data())
    assert {ours: 1}[QByteArray(ours)] == 1
    assert sorted([QByteArray(b"b"), QByteArray(b"a")]) == [b"a", b"b"]
    assert repr(QByteArray(b"a")) == "QByteArray(b'a')"
    for wrong in (1.5, object()):
        with pytest.raises(TypeError):
            ours + wrong  # type: ignore[operator]


def test_where_it_differs_from_pyside6() -> None:
    """Each a case PySide6 refuses or gets wrong; see the module's docstring."""
    array = QByteArray(b"hello")
    assert (array[-1], QtByteArray(b"hello").at(4)) == (b"o", "o")  # PySide6: IndexError
    assert (b"ell" in array, 101 in array) == (True, True)  # PySide6: both False
    assert (type(b"!" + array), b"!" + array) == (bytes, b"!hello")
    assert hash(array) == hash(b"hello")
    assert (array.startsWith("he"), array.contains("ll"), array.endsWith(111)) == (True,) * 3
    assert (QByteArray.fromHex("6869"), QByteArray.fromBase64("aGk=")) == (b"hi", b"hi")
    assert array.toHex(b"-") == b"68-65-6c-6c-6f"
    assert QByteArray.fromRawData(b"abc") == b"abc"
    assert QByteArray.fromRawData(b"abc", 2) == b"ab"
    array[0] = ord("j")  # an int, as for a bytearray (PySide6: one-byte bytes only)
    assert array == b"jello"


def test_python_protocols() -> None:
    array = QByteArray(b"ab")
    assert (bytes(array), bytes(memoryview(array))) == (b"ab", b"ab")
    assert isinstance(array, bytearray)
    copied = copy.copy(array)
    assert (copied, copied is array, type(copied)) == (array, False, QByteArray)
    assert pickle.loads(pickle.dumps(array)) == array
    assert pickle.loads(pickle.dumps(QByteArray())).isNull()
    assert copy.deepcopy(QByteArray()).isNull()
    assert (array.decode(), array.find(b"b")) == ("ab", 1)  # bytearray's own


@pytest.fixture
def harness() -> Iterator[Harness]:
    yield from torn_down(Harness())


def test_a_socket_writes_a_qbytearray(harness: Harness) -> None:
    """QLocalSocket.write() takes a QByteArray (the buffer protocol); reads stay bytes."""
    _, client, peer = harness.connection("qbytearray")
    assert peer.write(QByteArray(b"block")) == 5
    assert peer.flush()
    while client.bytesAvailable() < 5:
        assert client.waitForReadyRead(DEFAULT_WAIT_MS)
    data = client.readAll()
    assert (type(data), data) == (bytes, b"block")
