"""systemd socket activation: listening descriptors passed as ``LISTEN_FDS``.

A service manager (systemd, or anything speaking its protocol) binds the sockets
itself and starts the service with them open from descriptor 3
(``SD_LISTEN_FDS_START``) upwards. Three environment variables describe them:

``LISTEN_PID``
    the process they are meant for; any other process (a child that inherited the
    environment) sees none.
``LISTEN_FDS``
    how many descriptors were passed: 3, 4, ... ``3 + LISTEN_FDS - 1``.
``LISTEN_FDNAMES``
    optional, colon-separated names, one per descriptor (``FileDescriptorName=``,
    by default the socket unit's name); ``"unknown"`` for each when absent.

:func:`listen_fds` reads them as ``sd_listen_fds_with_names(3)`` does (and marks the
descriptors close-on-exec, as it does). :func:`listen_fd` picks one by index or by
name and checks that it is a listening ``AF_UNIX`` stream socket, which
``sd_listen_fds`` leaves to the caller (``sd_is_socket_unix``). :func:`listen_activated`
hands it to a :class:`~qlsock.QLocalServer` (Qt's ``listen(qintptr)``);
:meth:`qlsock.streamserver.LocalStreamServer.from_activation` to the
greenlet-per-client server.

Differences from libsystemd: a malformed variable raises :class:`ActivationError`
instead of returning ``-EINVAL``; ``LISTEN_PIDFDID`` (systemd 258+, a guard against
pid reuse) is unset with the others but not compared, since Python cannot tell
whether the kernel's pidfds have unique inodes; the ``LISTEN_PID`` check still applies.
"""

from __future__ import annotations

import _socket
import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .socketfile import file_kind

if TYPE_CHECKING:
    from .localserver import QLocalServer

__all__ = [
    "SD_LISTEN_FDS_START",
    "ActivationError",
    "ListenFd",
    "check_listening",
    "listen_activated",
    "listen_fd",
    "listen_fds",
]

#: The first passed descriptor; the others follow without gaps.
SD_LISTEN_FDS_START = 3

_VARIABLES = ("LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES")


class ActivationError(OSError):
    """The passed descriptors are malformed, missing, or not what was asked for.

    ``str()`` says what was found and what was expected.
    """


@dataclass(frozen=True)
class ListenFd:
    """One passed descriptor: its number, position and ``LISTEN_FDNAMES`` name."""

    fd: int
    index: int
    name: str


def listen_fds(unset_environment: bool = False) -> list[ListenFd]:
    """The descriptors passed to this process (``sd_listen_fds_with_names``).

    Returns ``[]`` when ``LISTEN_PID`` or ``LISTEN_FDS`` is unset, or when
    ``LISTEN_PID`` names another process (the variables were inherited, the
    descriptors were not meant for us). Each returned descriptor is made
    close-on-exec, so the service's own children do not inherit it. With
    *unset_environment* the variables are removed afterwards, whatever the
    outcome, so that children do not see them either.

    Raises :class:`ActivationError` when a variable is malformed: a ``LISTEN_PID``
    or ``LISTEN_FDS`` that is not a positive number, a ``LISTEN_FDNAMES`` whose
    count differs from ``LISTEN_FDS``, or a listed descriptor that is not open.
    """
    try:
        return _parse()
    finally:
        if unset_environment:
            for variable in _VARIABLES:
                os.environ.pop(variable, None)


def _parse() -> list[ListenFd]:
    pid_text = os.environ.get("LISTEN_PID")
    if pid_text is None:
        return []
    pid = _positive(pid_text, "LISTEN_PID")
    if pid != os.getpid():
        return []
    count_text = os.environ.get("LISTEN_FDS")
    if count_text is None:
        return []
    count = _positive(count_text, "LISTEN_FDS")
    names_text = os.environ.get("LISTEN_FDNAMES")
    if names_text is None:
        names = ["unknown"] * count
    else:
        names = names_text.split(":")
        if len(names) != count:
            raise ActivationError(
                f"LISTEN_FDNAMES={names_text!r} names {len(names)} descriptors but "
                f"LISTEN_FDS={count}; the service manager's environment is inconsistent"
            )
    passed = []
    for index, name in enumerate(names):
        fd = SD_LISTEN_FDS_START + index
        try:
            os.set_inheritable(fd, False)
        except OSError as exc:
            raise ActivationError(
                f"descriptor {fd} (index {index}, name {name!r}) is listed in "
                f"LISTEN_FDS={count} but cannot be used: {exc.strerror}"
            ) from None
        passed.append(ListenFd(fd, index, name))
    return passed


def _positive(text: str, variable: str) -> int:
    value = int(text) if text.isascii() and text.isdigit() else 0
    if value <= 0:
        raise ActivationError(f"{variable}={text!r} is not a positive decimal number")
    return value


def listen_fd(which: int | str = 0, *, unset_environment: bool = False) -> int:
    """The passed listening descriptor at index *which* (from 0), or named *which*.

    The descriptor is checked to be a listening ``AF_UNIX`` stream socket, the
    only kind a local server can serve. Raises :class:`ActivationError` when no
    descriptors were passed to this process, when the index or name matches none
    (or a name matches several: pick one by index then), or when the descriptor is
    of another kind; the message lists what was passed.
    """
    if isinstance(which, bool) or not isinstance(which, (int, str)):
        raise TypeError(
            f"listen_fd(): pick a descriptor by index (int) or name (str), "
            f"not {type(which).__name__}"
        )
    pid_text = os.environ.get("LISTEN_PID")
    passed = listen_fds(unset_environment)
    if not passed:
        if pid_text is None:
            why = "LISTEN_PID is not set"
        elif int(pid_text) != os.getpid():
            why = f"LISTEN_PID={pid_text} is another process; this one is {os.getpid()}"
        else:
            why = "LISTEN_FDS is not set"
        raise ActivationError(
            f"no listening descriptors were passed to this process ({why}); start it "
            "from a systemd socket unit, or another manager that sets LISTEN_FDS"
        )
    chosen = _choose(passed, which)
    check_listening(chosen.fd, f"passed descriptor {chosen.fd} (index {chosen.index}, "
                               f"name {chosen.name!r})")
    return chosen.fd


def _choose(passed: list[ListenFd], which: int | str) -> ListenFd:
    listing = ", ".join(f"{p.index}: {p.name!r} (fd {p.fd})" for p in passed)
    if isinstance(which, int):
        if 0 <= which < len(passed):
            return passed[which]
        raise ActivationError(
            f"there is no passed descriptor at index {which}; {len(passed)} were "
            f"passed: {listing}"
        )
    named = [p for p in passed if p.name == which]
    if len(named) == 1:
        return named[0]
    if not named:
        raise ActivationError(
            f"no passed descriptor is named {which!r} (LISTEN_FDNAMES); passed: {listing}"
        )
    indexes = ", ".join(str(p.index) for p in named)
    raise ActivationError(
        f"{len(named)} passed descriptors are named {which!r} (indexes {indexes}); "
        f"choose one by index, or give them distinct FileDescriptorName= values"
    )


def check_listening(fd: int, what: str = "") -> None:
    """Raise :class:`ActivationError` unless *fd* is a listening ``AF_UNIX`` stream socket.

    *what* names the descriptor in the message (default: ``"descriptor N"``).
    """
    what = what or f"descriptor {fd}"
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        raise ActivationError(f"{what} cannot be used: {exc.strerror}") from None
    if not stat.S_ISSOCK(mode):
        raise ActivationError(f"{what} is {file_kind(mode)}, not a socket; a local "
                              "server needs a listening AF_UNIX stream socket")
    sock = _socket.socket(fileno=fd)
    try:
        family, kind = sock.family, sock.type
        accepting = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ACCEPTCONN)
    finally:
        sock.detach()
    if family != _socket.AF_UNIX:
        raise ActivationError(f"{what} is a socket of address family {family}, not "
                              "AF_UNIX; a local server serves Unix domain sockets only")
    if kind != _socket.SOCK_STREAM:
        raise ActivationError(f"{what} is an AF_UNIX socket of type {_type_name(kind)}, "
                              "not SOCK_STREAM (ListenStream=, not ListenDatagram= or "
                              "ListenSequentialPacket=)")
    if not accepting:
        raise ActivationError(f"{what} is an AF_UNIX stream socket that is not "
                              "listening (listen(2) was never called on it; with "
                              "Accept=yes systemd passes connections, not listeners)")


def _type_name(kind: int) -> str:
    for name in ("SOCK_DGRAM", "SOCK_SEQPACKET", "SOCK_RAW"):
        if kind == getattr(_socket, name, None):
            return name
    return str(kind)


def listen_activated(server: QLocalServer, which: int | str = 0, *,
                     unset_environment: bool = False) -> bool:
    """Make *server* listen on a passed descriptor, picked as :func:`listen_fd` does.

    This is Qt's ``QLocalServer::listen(qintptr socketDescriptor)`` fed from
    ``LISTEN_FDS``; its result is returned. ``serverName()`` and
    ``fullServerName()`` are read back from the socket's address. ``close()``
    closes the descriptor but never removes the socket file: the service manager
    created it and keeps it (and its own copy of the socket), so connections
    arriving while the service is down wait in the backlog for the next start.
    Raises :class:`ActivationError` as :func:`listen_fd` does, before touching
    *server*.
    """
    return server.listen(listen_fd(which, unset_environment=unset_environment))
