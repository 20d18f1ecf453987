"""Qt-style signals as small objects: ``connect``, ``disconnect``, ``emit``.

A :class:`Signal` is declared on a class; reading it from an instance gives that
instance's :class:`BoundSignal`. Slots are called in the emitting greenlet, in the
order they were connected, with as many of the signal's arguments as they accept
(PySide6 lets a slot take fewer arguments than the signal carries).

A slot that raises is reported the way gevent reports a failed greenlet (the hub's
``handle_error`` prints the traceback; see :mod:`qlsock.hub.report`) and logged to the
``qlsock`` logger; the other slots still run and the emitter carries on. That holds for
any exception in a greenlet qlsock runs for the hub (a ``gevent.Timeout`` or a
``kill()`` included: nobody else could catch it there). Where user code called the
emission (in the caller's own greenlet, or in a slot that waits inside a slot) only
an ``Exception`` is swallowed that way: a ``BaseException`` (the caller's own
``gevent.Timeout``, ``GreenletExit``) propagates to the caller, as from any call.

Where the emission comes from (qlsock's contract, see ``docs/semantics.md``):

* a signal caused by a call is emitted before that call returns, in the caller's
  greenlet (Qt's direct connection);
* a signal caused by the outside world is emitted from a greenlet the hub schedules,
  or by a ``waitFor*`` call that observes the event, in the waiting greenlet: once,
  never twice, never recursively. Slots never run in the hub, so they may block.

A slot that is a bound method of a :class:`Receiver` (a ``QObject``) can ask
``self.sender()`` who emitted, per greenlet; other slots are called as they are.
"""

from __future__ import annotations

import inspect
import sys
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, overload

from greenlet import getcurrent
from zope.interface import implementer

from .hub.dispatcher import DeliveryGreenlet
from .hub.report import report_failure
from .interfaces import ISignal

__all__ = ["BoundSignal", "Signal", "Slot", "emit_if_connected"]

_Slot = tuple[Callable[..., Any], "int | None"]


_CO_VARARGS = inspect.CO_VARARGS


def _arity(slot: Callable[..., Any]) -> int | None:
    """How many positional arguments *slot* takes; ``None`` for "any number"."""
    # Plain functions and bound methods are read off their code object directly;
    # inspect.signature costs microseconds per connect, and servers connect
    # several slots per accepted connection.
    func = getattr(slot, "__func__", slot)
    code = getattr(func, "__code__", None)
    if code is not None and type(func).__name__ == "function":
        if code.co_flags & _CO_VARARGS:
            return None
        count: int = code.co_argcount
        return count - (1 if func is not slot else 0)
    try:
        sig = inspect.signature(slot)
    except (TypeError, ValueError):
        return None
    count = 0
    for param in sig.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            return None
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            count += 1
    return count



class Receiver:
    """A class whose bound methods, connected as slots, learn who emitted.

    :class:`~qlsock.QObject` derives from it: inside such a slot,
    ``self.sender()`` (:func:`sender_of`) is the object whose signal called it, as
    Qt's ``QObject::sender()``. Other slots (functions, lambdas, partials, methods
    of other classes) are called as they are, at no cost.
    """

    __slots__ = ()


#: The Receivers' slots running in this greenlet, innermost first, as (receiver,
#: sender, the entry of the slot this one runs inside) or None. A context variable,
#: because each greenlet has a context of its own: a slot that blocks keeps its
#: sender while other greenlets deliver other signals to the same receiver.
_running: ContextVar[tuple[Any, Any, Any] | None] = ContextVar("qlsock_running_slot",
                                                               default=None)


class _ReceiverSlot:
    """A Receiver's bound method connected to a signal: while it runs, the receiver's
    sender is the signal's owner. Equal to the method, so ``disconnect`` finds it."""

    __slots__ = ("_method", "_owner")

    def __init__(self, method: Callable[..., Any], owner: weakref.ref[Any]) -> None:
        self._method = method
        self._owner = owner

    def __call__(self, *args: Any) -> None:
        # One context-variable store and its restore per call: all it costs.
        token = _running.set((self._method.__self__,  # type: ignore[attr-defined]
                              self._owner(), _running.get()))
        try:
            self._method(*args)
        finally:
            _running.reset(token)

    def __eq__(self, other: object) -> bool:
        return self._method == other

    def __repr__(self) -> str:
        return repr(self._method)


def sender_of(receiver: object) -> Any:
    """The object whose signal called *receiver*'s slot that is running in this
    greenlet, or None outside such a slot (``QObject.sender()``).

    A slot of *receiver* further up counts, as in Qt, where the sender stays set on
    the receiver while its slot runs: also inside a function that slot calls, or a
    slot of another object that a signal it emits calls.
    """
    entry = _running.get()
    while entry is not None:
        if entry[0] is receiver:
            return entry[1]
        entry = entry[2]
    return None


def _inside_a_slot(frame: Any) -> bool:
    """Whether the emission at *frame* happens inside another slot, further up.

    In a greenlet qlsock runs for the hub, a BaseException escaping a slot is caught
    only at the outermost emission: if a slot further up called this one (it waited
    inside a ``with gevent.Timeout(...)``, and the timer fired in a nested slot), the
    exception may be that slot's, and goes to it. Looked at only when such an
    exception escapes, so emissions cost nothing more.
    """
    emit_code = BoundSignal.emit.__code__
    while frame is not None:
        if frame.f_code is emit_code:
            return True
        frame = frame.f_back
    return False


@implementer(ISignal)
class BoundSignal:
    """One object's signal: a list of slots and a way to call them."""

    __slots__ = ("__weakref__", "_name", "_owner", "_slots")

    def __init__(self, owner: object, name: str) -> None:
        # Weakly: the owner holds its signals, and a cycle would keep an object
        # nobody references alive until the cyclic collector runs (a socket must
        # close, and a server release its name, as soon as the last reference goes).
        self._owner = weakref.ref(owner)
        self._name = name
        # A tuple, replaced by connect and disconnect: an emission iterates the one
        # it started with (a slot connected meanwhile waits for the next emission)
        # without copying it, and a signal with no slots shares the empty tuple
        # instead of owning a list the collector must visit.
        self._slots: tuple[_Slot, ...] = ()

    def connect(self, slot: Callable[..., Any] | BoundSignal,
                type: object = None) -> bool:  # noqa: A002
        """Call *slot* on every emission; returns True.

        *slot* may be any callable, or another bound signal (whose ``emit`` is then
        called, as Qt chains signals). *type* (Qt's ``ConnectionType``) is accepted
        for source compatibility and ignored: qlsock connections are always direct.
        """
        if isinstance(slot, BoundSignal):
            slot = slot.emit
        if not callable(slot):
            raise TypeError(
                f"{self._name}.connect() needs a callable slot, not {slot.__class__.__name__}"
            )
        arity = _arity(slot)
        if isinstance(getattr(slot, "__self__", None), Receiver):
            slot = _ReceiverSlot(slot, self._owner)
        self._slots += ((slot, arity),)
        return True

    def disconnect(self, slot: Callable[..., Any] | BoundSignal | None = None) -> bool:
        """Remove *slot* (its first connection), or every slot when *slot* is None.

        Returns False, as PySide6 does, when *slot* was not connected.
        """
        if slot is None:
            had = bool(self._slots)
            self._slots = ()
            return had
        if isinstance(slot, BoundSignal):
            slot = slot.emit
        slots = self._slots
        for index, (fn, _) in enumerate(slots):
            if fn == slot:
                self._slots = slots[:index] + slots[index + 1:]
                return True
        return False

    def emit(self, *args: Any) -> None:
        """Call every connected slot with *args*, in connection order (nothing while
        the owner's signals are blocked, ``QObject.blockSignals``)."""
        slots = self._slots
        if not slots or getattr(self._owner(), "_signals_blocked", False):
            return
        for entry in slots:
            if self._slots is not slots and entry not in self._slots:
                # Disconnected by a slot called before it in this emission: Qt
                # does not call it any more. (A slot connected meanwhile waits
                # for the next emission, as in Qt.)
                continue
            fn, arity = entry
            try:
                if arity is None or arity >= len(args):
                    fn(*args)
                else:
                    fn(*args[:arity])
            except BaseException as exc:
                if not isinstance(exc, Exception) and (
                        getcurrent().__class__ is not DeliveryGreenlet
                        or _inside_a_slot(sys._getframe(1))):
                    raise
                report_failure(
                    f"slot {fn!r} connected to {type(self._owner()).__name__}."
                    f"{self._name} (the other slots still run)", *sys.exc_info())

    def receivers(self) -> int:
        """The number of connected slots."""
        return len(self._slots)

    def __repr__(self) -> str:
        owner = self._owner()
        return f"<signal {type(owner).__name__}.{self._name} of {owner!r}>"



class Signal:
    """A signal declaration; ``instance.name`` is that instance's :class:`BoundSignal`.

    ``*types`` documents the argument types, as ``PySide6.QtCore.Signal`` does.
    """

    def __init__(self, *types: object) -> None:
        self.types = types
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Signal: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> BoundSignal: ...

    def __get__(self, obj: object | None, objtype: type | None = None) -> Signal | BoundSignal:
        if obj is None:
            return self
        bound = BoundSignal(obj, self.name)
        # A non-data descriptor: later lookups find the instance attribute directly.
        obj.__dict__[self.name] = bound
        return bound

    # The declaration's own methods exist for ``unittest.mock.create_autospec``: a mock
    # of a class then has signals with ``connect``, ``disconnect`` and ``emit`` (and,
    # as PySide6's, callable). On the declaration itself they only say what to do.

    def _unbound(self) -> TypeError:
        return TypeError(f"{self.name} is a signal declaration: connect, disconnect and "
                         f"emit an object's signal (instance.{self.name}), not the class's")

    def connect(self, slot: Callable[..., Any], type: object = None) -> bool:  # noqa: A002
        raise self._unbound()

    def disconnect(self, slot: Callable[..., Any] | None = None) -> bool:
        raise self._unbound()

    def emit(self, *args: Any) -> None:
        raise self._unbound()

    def __call__(self, *args: Any) -> None:
        raise self._unbound()


def emit_if_connected(owner: object, name: str, *args: Any) -> None:
    """Emit *owner*'s signal *name* with *args*, if anything is connected to it.

    A signal's :class:`BoundSignal` is made on first access (``connect`` is one)
    and kept in the instance dict: a signal missing from it has no slots, and
    emitting it neither makes one nor calls anything. Owners on the data path use
    this for signals that usually have no slots.
    """
    bound = owner.__dict__.get(name)
    if bound is not None and bound._slots:
        bound.emit(*args)


def any_slots(owner: object, name: str, other: str) -> bool:
    """Whether *owner*'s signal *name* or *other* has a slot, without making either.

    Read from the instance dict, as :func:`emit_if_connected` reads it: asking the
    attributes would make both signals on every socket that ever reads or writes
    (memory an idle connection carries and the cyclic collector visits) only to
    find no slot.
    """
    signals = owner.__dict__
    bound = signals.get(name)
    if bound is not None and bound._slots:
        return True
    bound = signals.get(other)
    return bound is not None and bool(bound._slots)


@implementer(ISignal)
class SignalAlias:
    """A name that is both a getter and another object's signal, under Qt 5's rules.

    Qt 5's ``QLocalSocket::error`` was both the ``error()`` getter and the ``error``
    signal (renamed ``errorOccurred`` in 5.15); PySide2/PyQt5 code uses both forms.
    The class keeps the getter as a plain method (so that ``QLocalSocket.error(sock)``
    and an autospec'd mock's ``error()`` behave as PySide6's); each instance holds an
    alias under the same name: calling it is the getter, and ``connect``,
    ``disconnect``, ``emit`` and ``receivers`` act on the aliased signal, whose slots
    it shares.
    """

    __slots__ = ("_getter", "_owner", "_target")

    def __init__(self, owner: object, target: str, getter: Callable[[Any], Any]) -> None:
        self._owner = weakref.ref(owner)  # as BoundSignal's
        self._target = target
        self._getter = getter

    def __call__(self) -> Any:
        return self._getter(self._owner())

    def _signal(self) -> BoundSignal:
        signal: BoundSignal = getattr(self._owner(), self._target)
        return signal

    def connect(self, slot: Callable[..., Any] | BoundSignal,
                type: object = None) -> bool:  # noqa: A002
        """Connect *slot* to the aliased signal."""
        return self._signal().connect(slot, type)

    def disconnect(self, slot: Callable[..., Any] | BoundSignal | None = None) -> bool:
        """Disconnect *slot* (or every slot) from the aliased signal."""
        return self._signal().disconnect(slot)

    def emit(self, *args: Any) -> None:
        """Emit the aliased signal."""
        self._signal().emit(*args)

    def receivers(self) -> int:
        """The aliased signal's number of slots."""
        return self._signal().receivers()

    def __repr__(self) -> str:
        return f"<signal alias of {type(self._owner()).__name__}.{self._target}>"


def Slot(*types: Any, name: str | None = None, result: Any = None) -> Any:
    """PySide6's ``@Slot(...)`` (and PyQt's ``@pyqtSlot(...)``): marks a method as a slot.

    Any callable can be connected here, so it returns the function unchanged; the
    argument types are for documentation only. Written without parentheses
    (``@Slot``) it works as well.
    """
    if len(types) == 1 and callable(types[0]) and not isinstance(types[0], type):
        return types[0]

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        return function

    return decorate
