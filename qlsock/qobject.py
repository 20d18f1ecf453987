"""``QObject``: the base of QLocalServer, QLocalSocket, the kit's classes and user classes.

What programs that use local sockets use of Qt's object model: a name, the parent and
children tree (a parent keeps its children alive, as Qt's owns them), ``deleteLater``,
``destroyed``, ``blockSignals``, ``sender`` and ``tr``. Signals are declared with
:class:`qlsock.Signal` on any class, QObject or not.

Differences from Qt, on purpose:

* Python owns memory. An object nobody references is collected (a socket closed, a
  server stopped) unless its parent keeps it; nothing is deleted while referenced.
* ``deleteLater()`` runs on a later pass of the hub, in a greenlet, in Qt's order:
  the object's own clean-up (a socket is aborted, a server closed, a timer stopped),
  ``destroyed``, then its children the same way; it leaves its parent's children.
  Using it afterwards is not an error (PySide6 raises RuntimeError): it is closed.
* A connection a server accepted is its child while it is connected, and leaves the
  server's children when its connection ends (Qt keeps it until deleted): a
  long-running server that never calls ``deleteLater`` does not pile up sockets.
* No meta-object system: no properties, ``metaObject()``, event filters,
  ``senderSignalIndex()`` or ``moveToThread`` (an object belongs to the thread whose
  hub created it).
* ``sender()`` knows the sender inside slots that are bound methods of a QObject
  (Qt's receiver); a function, lambda or ``functools.partial`` has no receiver, so no
  object's ``sender()`` reports the signals that call it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from .signals import Receiver, Signal, sender_of

__all__ = ["QObject"]

_T = TypeVar("_T", bound="QObject")


class QObject(Receiver):
    """Qt's ``QObject``, as far as local-socket programs use it (see the module)."""

    #: ``destroyed(obj)``: emitted by ``deleteLater()``, last.
    destroyed = Signal(object)
    #: ``objectNameChanged(name)``.
    objectNameChanged = Signal(str)

    # Defaults on the class, set on an instance only when they change: CPython shares
    # one key table among instances of a class only while they hold at most 30
    # attributes, and a socket past that costs over a kilobyte more.
    _parent: QObject | None = None
    # Strong references: a parent keeps its children alive, as Qt's owns them. A dict
    # (ordered, O(1) removal: a server may have thousands of connections), made when
    # the first child comes.
    _children: dict[QObject, None] | None = None
    _object_name = ""
    _signals_blocked = False
    _deleted = False

    def __init__(self, parent: QObject | None = None) -> None:
        if parent is not None:
            self.setParent(parent)

    # -- names and tree ------------------------------------------------------------------

    def objectName(self) -> str:
        return self._object_name

    def setObjectName(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"setObjectName() takes a str, not {type(name).__name__}")
        if name != self._object_name:
            self._object_name = name
            self.objectNameChanged.emit(name)

    def parent(self) -> QObject | None:
        return self._parent

    def setParent(self, parent: QObject | None) -> None:
        """Make *parent* own this object (None: no parent), leaving the previous one."""
        if parent is not None and not isinstance(parent, QObject):
            raise TypeError(f"setParent() takes a QObject or None, not {type(parent).__name__}")
        if parent is self._parent:
            return
        ancestor = parent
        while ancestor is not None:
            if ancestor is self:
                raise ValueError("setParent(): an object cannot be its own ancestor")
            ancestor = ancestor._parent
        old = self._parent
        if old is not None:
            old._release_child(self)
        self._parent = parent
        if parent is not None:
            parent._keep_child(self)

    def children(self) -> list[QObject]:
        """The children, oldest first (a copy)."""
        return list(self._children or ())

    def _release_child(self, child: QObject) -> None:
        """Stop keeping *child* (an accepted connection that ended, a deleted object);
        it keeps its parent pointer."""
        if self._children is not None:
            self._children.pop(child, None)

    def _keep_child(self, child: QObject) -> None:
        """Keep *child* again (an accepted socket released, then connected anew)."""
        if self._children is None:
            self._children = {}
        self._children[child] = None

    def findChild(self, kind: type[_T], name: str = "") -> _T | None:
        """The first descendant of class *kind* (and name *name*, if given), depth-first."""
        for found in self._descendants(kind, name):
            return found
        return None

    def findChildren(self, kind: type[_T], name: str = "") -> list[_T]:
        """Every descendant of class *kind* (and name *name*, if given)."""
        return list(self._descendants(kind, name))

    def _descendants(self, kind: type[_T], name: str) -> Iterator[_T]:
        for child in list(self._children or ()):
            if isinstance(child, kind) and (not name or child._object_name == name):
                yield child
            yield from child._descendants(kind, name)

    # -- signals ---------------------------------------------------------------------------

    def blockSignals(self, block: bool) -> bool:
        """Block (True) or unblock this object's signals; the previous setting."""
        previous = self._signals_blocked
        self._signals_blocked = bool(block)
        return previous

    def signalsBlocked(self) -> bool:
        return self._signals_blocked

    def sender(self) -> Any:
        """The object whose signal called the slot of this object that is running, or None.

        As Qt's ``QObject::sender()``: inside a bound method of this object called by
        a signal (also in what that slot calls, until it returns) it is the signal's
        owner, a QObject unless the signal is declared on another class; called
        directly, or after the slot returned, it is None. It is kept per greenlet: a
        slot that blocks still gets its own sender while other greenlets deliver other
        objects' signals to this one. Slots that are functions or lambdas have no
        receiver, so they cannot ask (see the module).
        """
        return sender_of(self)

    @staticmethod
    def tr(text: str, disambiguation: str | None = None, n: int = -1) -> str:
        """No translations: *text* itself (``%n`` replaced by *n* when given)."""
        return text.replace("%n", str(n)) if n >= 0 else text

    # -- deletion ---------------------------------------------------------------------------

    def deleteLater(self) -> None:
        """Delete this object on a later pass of the hub (see the module docstring)."""
        from .hub import current_engine

        if self._deleted:
            return
        self._deleted = True
        current_engine().spawn(self._delete_now)

    def _delete_now(self) -> None:
        # Qt's order: the subclass's clean-up (its destructor runs first), then
        # destroyed, then the children, each the same way.
        try:
            self._destroy()
        finally:
            try:
                self.destroyed.emit(self)
            finally:
                for child in list(self._children or ()):
                    child._deleted = True
                    child._delete_now()
                self._children = None
                parent = self._parent
                if parent is not None:
                    parent._release_child(self)

    def _destroy(self) -> None:
        """What deleting this object closes (overridden by sockets, servers, timers)."""

    def __repr__(self) -> str:
        name = f" {self._object_name!r}" if self._object_name else ""
        return f"<{type(self).__name__}{name}>"

