"""The socket file on disk: bind it safely, tell live from stale, reclaim a stale one.

Binding follows Qt: without access options the socket is bound straight at its
path (so accepted sockets report the server's names). With access options Qt binds
in a private directory beside the target, sets the mode and *renames* the socket
into place, replacing whatever is there, a live server's file included; here it is
*hard-linked* into place instead, which is just as atomic (the file appears
already listening and already with its final mode) but never replaces an existing
file: ``AddressInUseError``, as without options.

A file is *stale* when a connect to it is refused and, on Linux, no open socket
is bound at its path any more (``/proc/net/unix``): a server between its
``bind()`` and ``listen()`` also refuses connects, but is still in that table.

Reclaiming a stale file (:func:`remove_stale`, ``bind(..., reclaim_stale=True)``)
probes, unlinks and binds while holding the name's lock (:mod:`qlsock.locks`: a lock
file in a private per-user directory, never beside the socket), so of several
processes reclaiming at once exactly one wins and none unlinks a file another has
just bound. The lock is taken only when a file was found in the way, without ever
blocking the hub, and for at most the caller's timeout.

Abstract-namespace names (Linux) have no file: the kernel frees the name with the
last descriptor, so they are never stale and need none of this.
"""

from __future__ import annotations

import atexit
import enum
import errno
import os
import socket
import stat
import sys
import tempfile
import weakref
from dataclasses import dataclass, field

from ._log import logger
from .enums import LocalServerSocketOption, SocketError
from .errors import listen_error
from .locks import LockTimeout, UnsafeLockDirectory, name_lock
from .naming import (
    ABSTRACT_SUPPORTED,
    MAX_NAME_BYTES,
    NameProblem,
    coerce_name,
    resolve,
)

__all__ = [
    "Bound",
    "ListenError",
    "Probe",
    "ServerStatus",
    "bind",
    "probe",
    "remove_stale",
]

_FLAGS = socket.SOCK_STREAM | getattr(socket, "SOCK_NONBLOCK", 0) | getattr(
    socket, "SOCK_CLOEXEC", 0
)
#: Where a path that would be too long for ``sun_path`` can be reached short (Linux).
_PROC_FD = "/proc/self/fd"
#: How long a reclaim waits for another process reclaiming the same name, by default.
RECLAIM_TIMEOUT = 5.0


class ServerStatus(enum.Enum):
    """What is at a server name, as :func:`probe` finds it."""

    #: A server accepts connections there (or its backlog is full).
    LIVE = "live"
    #: A socket file nobody listens on: its server died without closing.
    STALE = "stale"
    #: Nothing there.
    ABSENT = "absent"
    #: Something that is not a socket (a regular file, a directory...).
    NOT_A_SOCKET = "not a socket"
    #: A socket this process may not connect to; whether it is live cannot be told.
    INACCESSIBLE = "inaccessible"


@dataclass(frozen=True)
class Probe:
    """The outcome of :func:`probe`: the status, the resolved path and a sentence."""

    status: ServerStatus
    full_server_name: str
    detail: str


class ListenError(OSError):
    """Listening failed; ``error`` is Qt's code, ``str()`` Qt's text plus why.

    ``str()`` reads like Qt's ``errorString()`` without the ``QLocalServer::listen:``
    prefix, e.g. ``Address in use (/tmp/app is a stale socket file: ...)``.
    """

    def __init__(self, error: SocketError, text: str, err: int = 0) -> None:
        super().__init__(err, text)
        self.error = error
        self.text = text

    def __str__(self) -> str:
        return self.text


#: The socket files bound by this process and not yet released: removed at exit (as
#: Qt's destructors remove them when the application ends), so that a program ended
#: by Ctrl-C can be started again without a stale file in the way.
_BOUND: weakref.WeakSet[Bound] = weakref.WeakSet()


@atexit.register
def _release_at_exit() -> None:
    for bound in list(_BOUND):
        try:
            bound.release()
        except Exception:
            pass


@dataclass(eq=False)  # compared and hashed by identity: kept in a WeakSet
class Bound:
    """A listening ``AF_UNIX`` socket bound to a server name.

    ``sock`` is non-blocking and close-on-exec. :meth:`release` removes the socket
    file, but only if it is still the file this bind created (same device and
    inode), and only in the process that created it or, once that process has
    exited, in a forked process that inherited the server (a daemon whose launcher
    exited, as Qt allows). A successor's file is never removed, nor a live parent's
    file seen from a forked child. "Exited" is checked by the pid *and* its start
    time, so a reused pid does not pass for the binder.
    """

    sock: socket.socket
    server_name: str
    full_server_name: str
    abstract: bool
    _identity: tuple[int, int] | None = field(default=None, repr=False)
    _pid: int = field(default_factory=os.getpid, repr=False)
    _started: str | None = field(default_factory=lambda: _start_time(os.getpid()),
                                 repr=False)

    def release(self) -> None:
        """Remove the socket file if it is still ours (see the class docstring)."""
        identity, self._identity = self._identity, None
        _BOUND.discard(self)
        if identity is None:
            return
        if os.getpid() != self._pid and _start_time(self._pid) in (self._started, "?"):
            return
        _unlink_if_same(self.full_server_name, identity)


def _start_time(pid: int) -> str | None:
    """When process *pid* started (``/proc/<pid>/stat``, field 22); None if there is no
    such process, "?" when that cannot be told (then it counts as alive)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError:
        return "?"
    # The command name (field 2) is in parentheses and may hold spaces or ')'.
    fields = text[text.rfind(b")") + 2:].split()
    if fields[:1] in ([b"Z"], [b"X"]):
        return None  # exited, not yet reaped by its parent: gone all the same
    return fields[19].decode() if len(fields) > 19 else "?"


def probe(name: str, *, abstract: bool = False) -> Probe:
    """Find out what is at server *name*, modifying nothing.

    The name resolves as ``QLocalSocket.connectToServer`` resolves it. A socket
    file is tested with a non-blocking connect, which never waits: accepted or
    "backlog full" means live, refused means stale. Raises ``TypeError`` for a
    name that is not a ``str`` and :class:`~qlsock.naming.NameProblem` (a
    ``ValueError``) for one that cannot be an address.
    """
    name = coerce_name(name, "probe()")
    if not name:
        raise NameProblem("the name is empty")
    full, address = resolve(name, abstract and ABSTRACT_SUPPORTED)
    if abstract and ABSTRACT_SUPPORTED:
        return _probe_connect(full, address, missing=ServerStatus.ABSENT)
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return Probe(ServerStatus.ABSENT, full, f"nothing exists at {full}")
    except OSError as exc:
        return Probe(ServerStatus.INACCESSIBLE, full, f"{full} cannot be examined: "
                     f"{exc.strerror}")
    if not stat.S_ISSOCK(st.st_mode):
        return Probe(ServerStatus.NOT_A_SOCKET, full,
                     f"{full} exists and is {file_kind(st.st_mode)}, not a socket")
    return _probe_connect(full, address, missing=ServerStatus.STALE)


def remove_stale(name: str, *, force: bool = False, abstract: bool = False,
                 timeout: float | None = RECLAIM_TIMEOUT) -> Probe:
    """Remove server *name*'s socket file if, and only if, it is stale.

    With ``force=True`` a live (or inaccessible) server's file is removed too,
    which leaves that server running but unreachable, as Qt's
    ``QLocalServer::removeServer()`` always does. Something that is not a socket is
    never removed. Returns the probe taken (under the reclaim lock) before
    removing: ``status`` says what was there. *timeout* bounds the wait for another
    process reclaiming the same name (:class:`~qlsock.locks.LockTimeout`).
    """
    name = coerce_name(name, "remove_stale()")
    if abstract and ABSTRACT_SUPPORTED:
        return probe(name, abstract=True)
    found = probe(name)
    if found.status in (ServerStatus.ABSENT, ServerStatus.NOT_A_SOCKET):
        return found
    with name_lock(found.full_server_name, timeout):
        found = probe(name)
        removable = {ServerStatus.STALE}
        if force:
            removable |= {ServerStatus.LIVE, ServerStatus.INACCESSIBLE}
        if found.status in removable:
            try:
                os.unlink(found.full_server_name)
            except FileNotFoundError:
                pass
    return found


def bind(
    name: str,
    options: LocalServerSocketOption | int = LocalServerSocketOption.NoOptions,
    backlog: int = 50,
    *,
    reclaim_stale: bool = False,
    reclaim_timeout: float | None = RECLAIM_TIMEOUT,
) -> Bound:
    """Bind and listen on server *name* with Qt's naming and access options.

    Raises ``TypeError`` for a name that is not a ``str`` and :class:`ListenError`
    for every other failure: an empty or unusable name (``HostNotFoundError``), a
    file already there (``AddressInUseError``, with a text that says whether a
    server is live there or the file is stale, and how to recover), no permission
    (``SocketAccessError``)... With ``reclaim_stale=True`` a *stale* socket file is
    removed and the bind retried; a live server's file, or anything that is not a
    socket, is never touched. *reclaim_timeout* bounds the wait for another process
    reclaiming the same name (then ``AddressInUseError``).
    """
    name = coerce_name(name, "listen()")
    if not name:
        raise ListenError(SocketError.HostNotFoundError, "Name error (the name is empty)")
    abstract = bool(options & LocalServerSocketOption.AbstractNamespaceOption) \
        and ABSTRACT_SUPPORTED
    try:
        full, address = resolve(name, abstract)
    except NameProblem as exc:
        raise ListenError(SocketError.HostNotFoundError, f"Name error ({exc})") from None
    if abstract:
        try:
            sock = _listening(address, backlog)
        except OSError as exc:
            raise _listen_failure(exc, full, abstract=True) from None
        return Bound(sock, name, full, abstract=True)
    mode = _access_mode(LocalServerSocketOption(int(options)))
    # With access options Qt renames over whatever is at the path; a stale socket is
    # replaced here too (under the lock, after a probe), but never anything else.
    reclaim_stale = reclaim_stale or bool(mode)
    try:
        try:
            sock, identity = _bind_path(full, mode, backlog)
        except OSError as exc:
            if not reclaim_stale or exc.errno != errno.EADDRINUSE:
                raise
            with name_lock(full, reclaim_timeout):
                sock, identity = _bind_reclaiming(full, mode, backlog)
    except LockTimeout as exc:
        raise ListenError(SocketError.AddressInUseError, f"Address in use ({exc})") from None
    except UnsafeLockDirectory as exc:
        raise ListenError(SocketError.SocketAccessError,
                          f"Socket access error (cannot lock the name: {exc})") from None
    except OSError as exc:
        raise _listen_failure(exc, full, abstract=False) from None
    bound = Bound(sock, name, full, abstract=False, _identity=identity)
    _BOUND.add(bound)
    return bound


def _bind_reclaiming(full: str, mode: int, backlog: int) -> tuple[socket.socket, tuple[int, int]]:
    try:
        return _bind_path(full, mode, backlog)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        found = probe(full)
        if found.status is not ServerStatus.STALE:
            raise
        try:
            os.unlink(full)
        except FileNotFoundError:
            pass
        return _bind_path(full, mode, backlog)


def _bind_path(full: str, mode: int, backlog: int) -> tuple[socket.socket, tuple[int, int]]:
    """Bind and listen at *full*; with a *mode*, by way of a private directory."""
    if not mode:
        sock = _listening(full, backlog)
        st = os.lstat(full)
        return sock, (st.st_dev, st.st_ino)
    directory = os.path.dirname(full) or "."
    tmpdir = tempfile.mkdtemp(prefix=".q", dir=directory)
    tmp = tmpdir + "/s"
    dirfd = -1
    try:
        address = tmp
        if len(os.fsencode(tmp)) > MAX_NAME_BYTES and sys.platform.startswith("linux"):
            # The private directory adds a few bytes to a path that may already be
            # at the limit; its descriptor under /proc reaches it by a short path.
            dirfd = os.open(tmpdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            address = f"{_PROC_FD}/{dirfd}/s"
        sock = _listening(address, backlog)
        try:
            if mode:
                os.chmod(tmp, mode)
            try:
                os.link(tmp, full)
            except FileExistsError:
                raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE), full) from None
            st = os.lstat(full)
        except BaseException:
            sock.close()
            raise
        return sock, (st.st_dev, st.st_ino)
    finally:
        if dirfd >= 0:
            os.close(dirfd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        os.rmdir(tmpdir)


def _listening(address: bytes | str, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, _FLAGS)
    try:
        sock.setblocking(False)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    try:
        # listen(2) takes a C int and the kernel caps it at net.core.somaxconn
        # anyway: an absurd backlog is the largest one, not an OverflowError.
        sock.listen(min(backlog, 2**31 - 1))
    except BaseException:
        sock.close()
        if isinstance(address, str):
            os.unlink(address)
        raise
    return sock


def _probe_connect(full: str, address: bytes, missing: ServerStatus) -> Probe:
    # A listening socket bound at the path is live: said without connecting to it, so
    # that a probe (and a failed listen() wording its error) is no spurious
    # connection of that server's. Otherwise a non-blocking connect decides.
    abstract = address.startswith(b"\0")
    # An abstract name is no path: "at app" would send people looking for a file.
    where = f"on the abstract name {full!r}" if abstract else f"at {full}"
    if not abstract and _kernel_state(full) == _KERNEL_LISTENING:
        return Probe(ServerStatus.LIVE, full, f"a server is listening {where}")
    sock = socket.socket(socket.AF_UNIX, _FLAGS)
    try:
        sock.setblocking(False)
        err = sock.connect_ex(address)
    finally:
        sock.close()
    if err == 0:
        return Probe(ServerStatus.LIVE, full, f"a server is listening {where}")
    if err in (errno.EAGAIN, errno.EWOULDBLOCK):
        return Probe(ServerStatus.LIVE, full,
                     f"a server is listening {where} (its backlog is full)")
    if err == errno.ECONNREFUSED:
        if missing is ServerStatus.ABSENT:
            return Probe(ServerStatus.ABSENT, full, f"no server is listening {where}")
        if _kernel_state(full) is not None:
            return Probe(ServerStatus.LIVE, full,
                         f"a socket is bound at {full} but not (yet) listening")
        return Probe(ServerStatus.STALE, full,
                     f"{full} is a stale socket file: no server is listening there "
                     "(the one that created it exited without closing)")
    if err == errno.ENOENT:
        return Probe(ServerStatus.ABSENT, full, f"nothing exists at {full}")
    return Probe(ServerStatus.INACCESSIBLE, full,
                 f"cannot tell whether a server is listening {where}: {os.strerror(err)}")


#: /proc/net/unix's flag of a listening socket (``__SO_ACCEPTCON``).
_ACCEPTCON = 0x10000
_KERNEL_LISTENING = "listening"
_KERNEL_BOUND = "bound"


def _kernel_state(full: str) -> str | None:
    """Whether an open socket is bound at path *full*, listening or not (Linux's
    ``/proc/net/unix``); None when none is, or the table cannot be read.

    A refused connect alone cannot tell a dead server's file from one a server has
    bound but not yet made listening (microseconds between ``bind()`` and
    ``listen()``); only the dead one's socket is gone from the kernel's table. A
    socket bound by a relative path is listed under that path and not found here:
    the connect then decides.
    """
    state = None
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="surrogateescape") as table:
            next(table, None)
            for line in table:
                fields = line.rstrip("\n").split(None, 7)
                if len(fields) == 8 and fields[7] == full:
                    if int(fields[3], 16) & _ACCEPTCON:
                        return _KERNEL_LISTENING
                    state = _KERNEL_BOUND
    except (OSError, ValueError):
        return None
    return state


def _listen_failure(exc: OSError, full: str, *, abstract: bool) -> ListenError:
    err = exc.errno or 0
    code, text = listen_error(err)
    return ListenError(code, f"{text} ({_why(err, exc, full, abstract)})", err)


def _why(err: int, exc: OSError, full: str, abstract: bool) -> str:
    """A sentence saying what a listen failure means for this name, and what to do."""
    if err == errno.EADDRINUSE:
        if abstract:
            return f"another server is listening on the abstract name {full!r}"
        found = probe(full)
        if found.status is ServerStatus.STALE:
            return (f"{found.detail}; listen(name, reclaim_stale=True) (for a stream "
                    "server, serve(..., reclaim_stale=True)) or qlsock.remove_stale(name) "
                    "removes it safely")
        if found.status is ServerStatus.NOT_A_SOCKET:
            return f"{found.detail}; remove it or choose another name"
        return (f"{found.detail}; choose another name, or stop that server first "
                "(QLocalServer.removeServer() would make it unreachable)")
    if err == errno.ENOENT:
        directory = os.path.dirname(full) or "."
        if os.path.isdir(directory):
            return f"{directory} cannot hold a socket file (creating {full} failed: ENOENT)"
        return f"the directory of {full} does not exist"
    if err == errno.ENOTDIR:
        return f"a component of {full} is not a directory"
    if err in (errno.EACCES, errno.EPERM):
        return f"no permission to create {full}"
    if err == errno.EROFS:
        return f"{full} is on a read-only file system"
    return f"{exc.strerror} for {full}"


def connect_failure(err: int, full: str, abstract: bool) -> str:
    """What a failed ``connect(2)`` to *full* means, for the detail of Qt's text.

    Qt says "Invalid name" for a missing file and "Connection refused" for a file
    nobody listens on, neither naming the path. Only the failure path pays for the
    ``lstat``; the kernel's socket table is not read, so a server between its
    ``bind()`` and ``listen()`` is mentioned as a possibility instead.
    """
    if abstract:
        if err in (errno.EACCES, errno.EPERM):
            return f"no permission to connect to the abstract name {full!r}"
        return f"no server is listening on the abstract name {full!r}"
    if err == errno.ENOENT:
        directory = os.path.dirname(full) or "."
        if not os.path.isdir(directory):
            return (f"no server is listening at {full}: the directory {directory} does "
                    "not exist")
        return f"no server is listening at {full}: the socket file does not exist"
    if err in (errno.ECONNREFUSED, errno.EINVAL):
        try:
            mode = os.lstat(full).st_mode
        except OSError:
            return f"no server is listening at {full}"
        if not stat.S_ISSOCK(mode):
            return f"{full} exists and is {file_kind(mode)}, not a socket"
        return (f"a socket file exists at {full} but no server is listening on it: a "
                "stale file left by a server that exited without closing, or one that "
                "has not started listening yet")
    if err in (errno.EACCES, errno.EPERM):
        return (f"no permission to connect to {full}: that takes write permission on "
                "the socket file and search permission on every directory above it")
    if err == errno.ENOTDIR:
        return f"a component of {full} is not a directory"
    return f"connecting to {full}"


def _access_mode(options: LocalServerSocketOption) -> int:
    """The file mode Qt gives the socket for *options* (0: leave it to the umask)."""
    mode = 0
    if options & LocalServerSocketOption.UserAccessOption:
        mode |= 0o700
    if options & LocalServerSocketOption.GroupAccessOption:
        mode |= 0o070
    if options & LocalServerSocketOption.OtherAccessOption:
        mode |= 0o007
    return mode


def _unlink_if_same(path: str, identity: tuple[int, int]) -> None:
    try:
        st = os.lstat(path)
    except OSError:
        return
    if (st.st_dev, st.st_ino) == identity:
        try:
            os.unlink(path)
        except OSError as exc:
            logger.warning("qlsock: could not remove %s: %s", path, exc.strerror)


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` *mode* is, for messages: "a directory", "a pipe"..."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


