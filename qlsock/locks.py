"""Inter-process locks on server names, kept out of reach of other users.

Reclaiming a stale socket file (probe, unlink, bind) must be done by one process at a
time, or two could each unlink the file the other has just bound. The lock that
serialises it is an exclusive ``flock`` on a lock file, and that file is where local
attackers would aim: a lock file beside the socket, in a shared directory such as
``/tmp``, can be a planted symbolic link (creating it as root would then create any
file on the system), or be held by another user forever.

So lock files live in a directory of the user's own, ``/tmp/qlsock-<euid>`` (as tmux
keeps ``/tmp/tmux-<uid>``): created with mode 0700, and used only if it is a real
directory (opened with ``O_NOFOLLOW``), owned by the effective user and closed to
everyone else, all checked on the opened directory, not on its name. Lock files are
opened relative to that descriptor with ``O_NOFOLLOW``, named after a hash of the
socket path, and removed when the lock is released: the holder unlinks the file before
it unlocks, and a process that got the lock checks that the file it locked is still the
one at the name (otherwise it locked an unlinked file, and tries again). Nothing piles up.

Taking a lock never blocks the hub: it is tried without blocking and, while another
process holds it, tried again after a cooperative sleep that backs off from 1 ms to
50 ms, until the caller's timeout, which then raises :class:`LockTimeout`.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import gevent

__all__ = ["LockTimeout", "UnsafeLockDirectory", "lock_directory", "name_lock"]


class LockTimeout(TimeoutError):
    """Another process held the lock on a server name for longer than the timeout."""


class UnsafeLockDirectory(PermissionError):
    """The per-user lock directory exists but cannot be trusted; ``str()`` says why."""


def lock_directory() -> str:
    """The path of this user's lock directory (it may not exist yet)."""
    base = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    return os.path.join(base, f"qlsock-{os.geteuid()}")


def _open_directory() -> int:
    """Open (creating if needed) the lock directory, checked on the descriptor."""
    path = lock_directory()
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafeLockDirectory(
                f"{path} is not a directory (a symbolic link or a file is in its place): "
                "qlsock keeps its lock files there and will not follow it; remove it"
            ) from None
        raise
    st = os.fstat(fd)
    euid = os.geteuid()
    if st.st_uid != euid or st.st_mode & 0o077 or not stat.S_ISDIR(st.st_mode):
        os.close(fd)
        raise UnsafeLockDirectory(
            f"{path} belongs to uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):04o}; "
            f"qlsock keeps its lock files there only if it belongs to uid {euid} and is "
            "closed to other users (0700): remove it, and it is made anew"
        )
    return fd


def _lock_name(full: str) -> str:
    return hashlib.sha256(os.fsencode(full)).hexdigest()[:40] + ".lock"


@contextmanager
def name_lock(full: str, timeout: float | None) -> Iterator[None]:
    """Hold the exclusive lock on socket path *full* (see the module docstring).

    *timeout* is in seconds (None: wait as long as it takes). Raises
    :class:`LockTimeout` when another process holds the lock that long, and
    :class:`UnsafeLockDirectory` when the lock directory cannot be trusted.
    """
    deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
    name = _lock_name(full)
    dirfd = _open_directory()
    try:
        fd = _acquire(dirfd, name, full, deadline)
        try:
            yield
        finally:
            try:
                os.unlink(name, dir_fd=dirfd)
            except FileNotFoundError:
                pass
            os.close(fd)
    finally:
        os.close(dirfd)


def _acquire(dirfd: int, name: str, full: str, deadline: float | None) -> int:
    delay = 0.001
    while True:
        try:
            fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=dirfd)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise UnsafeLockDirectory(
                f"{os.path.join(lock_directory(), name)}, the lock file for {full}, is a "
                "symbolic link: qlsock will not follow it; remove it") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise LockTimeout(
                    f"another process has held the lock on {full} (the file "
                    f"{os.path.join(lock_directory(), name)}) for the whole timeout; it "
                    "is reclaiming the same name, or hung while doing so"
                ) from None
            gevent.sleep(delay if remaining is None else min(delay, remaining))
            delay = min(delay * 2, 0.05)
            continue
        except BaseException:
            os.close(fd)
            raise
        # The previous holder unlinks the file before unlocking: a lock taken on a
        # file that is no longer at the name protects nothing.
        mine = os.fstat(fd)
        try:
            current = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            current = None
        if current is not None and (current.st_dev, current.st_ino) == \
                (mine.st_dev, mine.st_ino):
            return fd
        os.close(fd)
