"""Single-instance applications: the first instance serves, later ones hand over.

The most common use of ``QLocalServer`` (QtSingleApplication, KDSingleApplication,
SingleApplication): every instance of a program calls :meth:`SingleInstance.start`
with its arguments. Exactly one becomes the *primary*, which listens on the name
and receives the arguments of every later instance through
:attr:`SingleInstance.messageReceived`; the others are *secondaries*: they forward
their arguments, wait until the primary has acknowledged them, and are told to exit.

Election (the order matters; removing a file and then listening admits two primaries):

1. **Connect first.** If a server accepts, it is the primary: forward and return False.
2. **Otherwise listen**, with ``reclaim_stale=True``: a socket file left by a primary
   that died is removed and the name taken over, under a lock, so a live primary's
   file is never touched and two instances never both reclaim it.
3. If the listen fails with ``AddressInUseError``, another instance won the race
   between our connect and our listen: go back to 1. Retries are bounded by the
   timeout; each one waits on a connect, never spins.

A primary that goes away while a secondary is forwarding (its connection closes with
no answer) sends that secondary back to the election, so it may become the primary.

Every primary takes the reclaim lock of :mod:`qlsock.socketfile` (a lock file in the
user's private lock directory, see :mod:`qlsock.locks`), waiting for it cooperatively and
at most until the timeout.

The wire protocol, one message per connection: the secondary sends a frame, a
4-byte big-endian length followed by that many bytes of a JSON array of strings
(ASCII, with ``\\uXXXX`` escapes, so non-ASCII text and the surrogate-escaped bytes
of an undecodable ``argv`` entry arrive intact); the primary answers with the single
byte ``0x06`` (ACK) once it has decoded the message, then closes.
"""

from __future__ import annotations

import json
import math
import os
import stat
import sys
import time
from collections.abc import Sequence

import gevent
from gevent.pool import Group

from ._log import logger
from .enums import LocalServerSocketOption, LocalSocketError, LocalSocketOption, SocketError
from .localserver import QLocalServer
from .localsocket import QLocalSocket
from .naming import coerce_name, full_server_name
from .signals import Signal

__all__ = ["ACK", "MAX_MESSAGE_BYTES", "SingleInstance", "SingleInstanceError"]

#: The primary's one-byte answer: "your message arrived and was decoded".
ACK = b"\x06"
#: The largest message (the JSON text) a primary accepts, in bytes.
MAX_MESSAGE_BYTES = 1 << 20
_HEADER = 4
#: connect(2) failures that mean "no primary here": nothing at the name, or a socket
#: file nobody accepts on (stale, or a winner between its bind and its listen).
_NO_PRIMARY = (LocalSocketError.ServerNotFoundError, LocalSocketError.ConnectionRefusedError)
_ABSTRACT = LocalServerSocketOption.AbstractNamespaceOption


class SingleInstanceError(RuntimeError):
    """This instance could become neither the primary nor a secondary; ``str()`` says why."""


class _Dropped(Exception):
    """A connection to the primary that did not carry a valid message."""


def encode_message(args: Sequence[str]) -> bytes:
    """One frame: a 4-byte big-endian length, then *args* as an ASCII JSON array."""
    payload = json.dumps(list(args), ensure_ascii=True, separators=(",", ":")).encode("ascii")
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ValueError(
            f"the arguments take {len(payload)} bytes encoded; a primary accepts at most "
            f"{MAX_MESSAGE_BYTES}"
        )
    return len(payload).to_bytes(_HEADER, "big") + payload


def decode_message(payload: bytes) -> list[str]:
    """The argument list in a frame's *payload*; ValueError if it is not one.

    Bounded: the payload is at most :data:`MAX_MESSAGE_BYTES` (the frame header is
    checked before anything is read), and nesting deep enough to exhaust the
    parser's recursion is refused like any other malformed message.
    """
    try:
        args = json.loads(payload.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"the message is not ASCII JSON ({exc})") from None
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError("the message is not a JSON array of strings")
    return args


def _check_args(argv: object) -> list[str]:
    if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence):
        raise TypeError(
            "SingleInstance.start(): argv must be a sequence of str (such as "
            f"sys.argv[1:]), not {type(argv).__name__}"
        )
    for index, arg in enumerate(argv):
        if not isinstance(arg, str):
            raise TypeError(
                f"SingleInstance.start(): argv[{index}] is a {type(arg).__name__}, not a str"
            )
    return list(argv)


def _msecs(deadline: float) -> int:
    return max(int((deadline - time.monotonic()) * 1000), 0)


class SingleInstance:
    """Make one process the primary instance of *name*; later ones forward their arguments.

    Args:
        name: the server name, resolved as ``QLocalServer.listen`` does: relative
            names live in ``$TMPDIR`` (else ``/tmp``), which several users may share,
            so include something per-user in a relative name (or use an absolute
            path in a private directory).
        options: ``QLocalServer.SocketOption`` flags for the primary's server. The
            default, ``UserAccessOption``, lets only this user's processes connect
            (Qt's default, ``NoOptions``, leaves it to the umask).
            ``AbstractNamespaceOption`` (Linux) uses the abstract namespace, for
            instances and secondaries alike.
        timeout: seconds that :meth:`start` may take in all (the election and the
            primary's acknowledgement), and that a primary waits for a secondary's
            message before dropping the connection.

    Slots connected to :attr:`messageReceived` run in a greenlet per message (never
    in the hub), after the secondary was acknowledged, so they may block; messages
    from secondaries that start at once may then be delivered concurrently.
    """

    #: ``messageReceived(args: list[str])``: a secondary forwarded its arguments.
    messageReceived = Signal(list)

    def __init__(self, name: str | os.PathLike[str], *,
                 options: LocalServerSocketOption | int = LocalServerSocketOption.UserAccessOption,
                 timeout: float = 5.0) -> None:
        text = coerce_name(name, "SingleInstance()")
        if not text:
            raise ValueError("SingleInstance(): the name is empty")
        if isinstance(options, bool) or not isinstance(options, int):
            raise TypeError(
                "SingleInstance(): options must be QLocalServer.SocketOption flags, "
                f"not {type(options).__name__}"
            )
        if options < 0 or options & ~0xF:
            raise ValueError(f"SingleInstance(): {options:#x} is not a combination of "
                             "QLocalServer.SocketOption")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"SingleInstance(): timeout must be a number of seconds, "
                            f"not {type(timeout).__name__}")
        if not 0 < timeout < math.inf:
            raise ValueError(f"SingleInstance(): timeout must be a positive, finite number "
                             f"of seconds, not {timeout}")
        self._name = text
        self._options = LocalServerSocketOption(options)
        self._timeout = float(timeout)
        self._server: QLocalServer | None = None
        self._handlers = Group()
        self._started = False
        self._deadline = 0.0

    def __repr__(self) -> str:
        role = "primary" if self.is_primary else "not primary"
        return f"<SingleInstance {self._name!r} {role}>"

    def __enter__(self) -> SingleInstance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def name(self) -> str:
        """The server name given to the constructor."""
        return self._name

    @property
    def is_primary(self) -> bool:
        """True while this instance is the primary (after :meth:`start` returned True)."""
        return self._server is not None

    @property
    def full_server_name(self) -> str:
        """The socket path the name resolves to now (the name itself when abstract)."""
        return self._name if self._abstract else full_server_name(self._name)

    @property
    def _abstract(self) -> bool:
        return bool(self._options & _ABSTRACT)

    def start(self, argv: Sequence[str] | None = None) -> bool:
        """Elect: True if this instance is now the primary, False if it is a secondary.

        A secondary has forwarded *argv* (default ``sys.argv[1:]``) and the primary
        has acknowledged it when this returns False; the program should then exit.
        The calling greenlet waits (cooperatively) at most ``timeout`` seconds.

        Raises:
            SingleInstanceError: the name is unusable (the text says why: permissions,
                a file that is not a socket, too long), the primary did not answer
                within the timeout, or it answered something else.
            TypeError: *argv* is not a sequence of str.
            ValueError: *argv* encodes to more than :data:`MAX_MESSAGE_BYTES`.
            RuntimeError: start() was called before on this object.
        """
        args = _check_args(sys.argv[1:] if argv is None else argv)
        frame = encode_message(args)
        if self._started:
            raise RuntimeError("SingleInstance.start() may be called only once per object")
        self._started = True
        deadline = self._deadline = time.monotonic() + self._timeout
        rounds = 0
        while True:
            if rounds > 1:
                # Losing one round is a race with another instance, which the next
                # round resolves; losing more means something else (a primary that
                # closes connections unanswered): back off, as connects do.
                gevent.sleep(min(0.001 * 2 ** min(rounds, 6),
                                 max(deadline - time.monotonic(), 0.0)))
            rounds += 1
            sock = QLocalSocket()
            if self._abstract:
                sock.setSocketOptions(LocalSocketOption.AbstractNamespaceOption)
            sock.connectToServer(self._name)
            if sock.waitForConnected(_msecs(deadline)):
                if self._forward(sock, frame, deadline):
                    return False
            elif sock.error() not in _NO_PRIMARY:
                text = sock.errorString() or "timed out while the server's backlog was full"
                sock.abort()
                raise SingleInstanceError(f"cannot reach the primary at "
                                          f"{self.full_server_name}: {text}")
            else:
                sock.abort()
                if self._listen():
                    return True
            if time.monotonic() >= deadline:
                raise SingleInstanceError(
                    f"no primary answered at {self.full_server_name} and it could not "
                    f"be taken over within {self._timeout:g} s"
                )

    def _forward(self, sock: QLocalSocket, frame: bytes, deadline: float) -> bool:
        """Send *frame* and wait for the ACK: True once acknowledged.

        False if the connection closed with no answer at all (the primary went away:
        elect again). Anything else is an error.
        """
        sock.write(frame)
        while sock.bytesToWrite() and sock.waitForBytesWritten(_msecs(deadline)):
            pass
        while not sock.bytesAvailable() and sock.waitForReadyRead(_msecs(deadline)):
            pass
        answer = sock.read(1)
        timed_out = sock.error() == LocalSocketError.SocketTimeoutError
        sock.abort()
        if answer == ACK:
            return True
        if answer:
            raise SingleInstanceError(
                f"the server at {self.full_server_name} answered {answer!r}, not a "
                "SingleInstance acknowledgement: is another program using this name?"
            )
        if timed_out:
            raise SingleInstanceError(
                f"the primary at {self.full_server_name} did not acknowledge within "
                f"{self._timeout:g} s"
            )
        return False

    def _listen(self) -> bool:
        """Try to become the primary: True if listening; False if another one won."""
        server = QLocalServer()
        server.setSocketOptions(self._options)
        remaining = max(self._deadline - time.monotonic(), 0.0)
        if server.listen(self._name, reclaim_stale=True, reclaim_timeout=remaining):
            self._server = server
            server.newConnection.connect(self._on_new_connection)
            return True
        if server.serverError() != SocketError.AddressInUseError:
            raise SingleInstanceError(f"cannot become the primary: {server.errorString()}")
        if not self._abstract:
            try:
                mode = os.lstat(full_server_name(self._name)).st_mode
            except OSError:
                return False
            if not stat.S_ISSOCK(mode):
                raise SingleInstanceError(
                    f"cannot become the primary: {full_server_name(self._name)} exists and "
                    "is not a socket; remove it or choose another name"
                )
        return False

    def _on_new_connection(self) -> None:
        server = self._server
        while server is not None:
            conn = server.nextPendingConnection()
            if conn is None:
                return
            self._handlers.spawn(self._serve, conn)

    def _serve(self, conn: QLocalSocket) -> None:
        deadline = time.monotonic() + self._timeout
        try:
            args = decode_message(self._receive(conn, deadline))
            conn.write(ACK)
            while conn.bytesToWrite() and conn.waitForBytesWritten(_msecs(deadline)):
                pass
        except (_Dropped, ValueError) as exc:
            # The text, not the exception: a handler that keeps records (pytest's,
            # a MemoryHandler) would keep the connection alive through it.
            logger.warning("SingleInstance %s: dropped a connection: %s",
                           self.full_server_name, str(exc))
            return
        except Exception as exc:
            # Whatever a peer sends ends here, not in the hub: one warning, and that
            # peer is dropped while the primary keeps serving.
            logger.warning("SingleInstance %s: dropped a connection: %s: %s",
                           self.full_server_name, type(exc).__name__, str(exc))
            return
        finally:
            # Also when close() kills this greenlet mid-wait.
            conn.abort()
        self.messageReceived.emit(args)

    def _receive(self, conn: QLocalSocket, deadline: float) -> bytes:
        header = self._read_exactly(conn, _HEADER, deadline)
        size = int.from_bytes(header, "big")
        if size > MAX_MESSAGE_BYTES:
            raise _Dropped(f"a message of {size} bytes announced; the limit is "
                           f"{MAX_MESSAGE_BYTES}")
        return self._read_exactly(conn, size, deadline)

    @staticmethod
    def _read_exactly(conn: QLocalSocket, size: int, deadline: float) -> bytes:
        while conn.bytesAvailable() < size:
            if not conn.waitForReadyRead(_msecs(deadline)):
                got = conn.bytesAvailable()
                why = ("timed out" if conn.error() == LocalSocketError.SocketTimeoutError
                       else "the connection closed")
                raise _Dropped(f"{why} with {got} of {size} bytes received")
        return conn.read(size)

    def close(self) -> None:
        """Stop being the primary: stop listening (the socket file is removed) and stop
        serving connections in progress. A secondary, or an instance not started, has
        nothing to close. The object cannot be started again.
        """
        self._started = True
        server, self._server = self._server, None
        if server is not None:
            server.close()
        # A slot may call close() from its own handler greenlet, which must not kill
        # (or wait for) itself.
        current = gevent.getcurrent()
        for handler in list(self._handlers):
            if handler is not current:
                handler.kill(block=False)
