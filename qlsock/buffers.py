"""Read and write buffers that never copy quadratically.

The read buffer keeps the chunks ``recv()`` returned. A read that takes a whole
chunk hands it out as is; a read spanning chunks copies each byte once. The search
for ``\\n`` remembers how far it has looked, so ``canReadLine()`` polled after every
arrival costs O(new bytes), not O(buffered bytes).

During a transaction the bytes handed out are kept aside, so that a rollback can
put them back in front.

The write buffer keeps what ``write()`` was given (immutable bytes are not copied);
its ``chunks`` go to one gathering ``sendmsg`` as they are (a single chunk to a
plain ``send``), or, beyond the iovec limit, the head of them as a list.
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["ReadBuffer", "WriteBuffer"]

_MAX_IOV = 64
#: What an empty buffer holds until its first bytes: a deque costs 624 bytes even
#: empty, and an idle connection, or a socket whose reads never touch its buffer
#: (``recv`` takes them straight from the kernel), should not pay that. A tuple, so
#: that appending to it by mistake fails loudly instead of sharing bytes.
_NO_CHUNKS: Any = ()


class ReadBuffer:
    """A FIFO of received bytes."""

    __slots__ = ("_chunks", "_offset", "_scanned", "_taken", "size")

    def __init__(self) -> None:
        self._chunks: deque[bytes] = _NO_CHUNKS
        self._offset = 0
        # Bytes at the front known to hold no b"\n".
        self._scanned = 0
        # What was read since a transaction started (None: no transaction).
        self._taken: list[bytes] | None = None
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def clear(self) -> None:
        self._chunks = _NO_CHUNKS
        self._offset = 0
        self._scanned = 0
        self._taken = None
        self.size = 0

    @property
    def in_transaction(self) -> bool:
        return self._taken is not None

    def start_transaction(self) -> None:
        self._taken = []

    def commit_transaction(self) -> None:
        self._taken = None

    def rollback_transaction(self) -> None:
        taken, self._taken = self._taken, None
        if taken:
            self.prepend(b"".join(taken))

    def append(self, data: bytes) -> None:
        if data:
            chunks = self._chunks
            if chunks is _NO_CHUNKS:
                chunks = self._chunks = deque()
            chunks.append(data)
            self.size += len(data)

    def prepend(self, data: bytes) -> None:
        if not data:
            return
        chunks = self._chunks
        if chunks is _NO_CHUNKS:
            chunks = self._chunks = deque()
        if self._offset:
            chunks[0] = chunks[0][self._offset:]
            self._offset = 0
        chunks.appendleft(data)
        self.size += len(data)
        self._scanned = self._scanned + len(data) if b"\n" not in data else 0

    def _take(self, n: int, consume: bool) -> bytes:
        if n <= 0 or not self.size:
            return b""
        n = min(n, self.size)
        chunks = self._chunks
        offset = self._offset
        first = chunks[0]
        avail = len(first) - offset
        if n <= avail:
            if offset == 0 and n == len(first):
                out = first
                if consume:
                    chunks.popleft()
            else:
                out = first[offset:offset + n]
                if consume:
                    if n == avail:
                        chunks.popleft()
                        self._offset = 0
                    else:
                        self._offset = offset + n
            if consume:
                self._consumed(n)
                if self._taken is not None:
                    self._taken.append(out)
            return out
        pieces: list[bytes | memoryview] = []
        need = n
        index = 0
        while need:
            chunk = chunks[index]
            start = offset if index == 0 else 0
            part = len(chunk) - start
            if part <= need:
                pieces.append(memoryview(chunk)[start:] if start else chunk)
                need -= part
                index += 1
            else:
                pieces.append(memoryview(chunk)[start:start + need])
                need = 0
        out = b"".join(pieces)
        if consume:
            self._skip_unchecked(n)
            if self._taken is not None:
                self._taken.append(out)
        return out

    def read(self, n: int) -> bytes:
        chunks = self._chunks
        if chunks and not self._offset and self._taken is None and len(chunks[0]) == n:
            # The common read: exactly the oldest chunk, handed out as is.
            self.size -= n
            scanned = self._scanned - n
            self._scanned = scanned if scanned > 0 else 0
            return chunks.popleft()
        return self._take(n, True)

    def peek(self, n: int) -> bytes:
        return self._take(n, False)

    def read_all(self) -> bytes:
        return self._take(self.size, True)

    def skip(self, n: int) -> int:
        n = min(max(n, 0), self.size)
        if self._taken is not None:
            self._taken.append(self._take(n, False))
        self._skip_unchecked(n)
        return n

    def _skip_unchecked(self, n: int) -> None:
        left = n
        chunks = self._chunks
        while left:
            avail = len(chunks[0]) - self._offset
            if avail <= left:
                chunks.popleft()
                self._offset = 0
                left -= avail
            else:
                self._offset += left
                left = 0
        self._consumed(n)

    def _consumed(self, n: int) -> None:
        self.size -= n
        self._scanned = max(self._scanned - n, 0)

    def find_newline(self, limit: int | None = None) -> int:
        """Index of the first ``\\n`` within the first *limit* bytes, or -1."""
        end = self.size if limit is None else min(limit, self.size)
        if self._scanned >= end:
            return -1
        pos = 0
        for index, chunk in enumerate(self._chunks):
            start = self._offset if index == 0 else 0
            length = len(chunk) - start
            if pos + length > self._scanned:
                lo = start + max(self._scanned - pos, 0)
                hi = start + min(end - pos, length)
                found = chunk.find(b"\n", lo, hi)
                if found >= 0:
                    return pos + found - start
                if hi - start < length:
                    self._scanned = max(self._scanned, end)
                    return -1
                self._scanned = pos + length
            pos += length
            if pos >= end:
                break
        return -1


#: Writes shorter than this are copied into a shared chunk when they queue up behind
#: others: a ``bytes`` object and its queue slot cost about 41 bytes beyond the data,
#: which for many small writes would be several times what they hold.
SMALL_WRITE = 1024
#: A shared chunk stops growing at this size (a new one starts).
_SHARED_MAX = 256 * 1024


class WriteBuffer:
    """A FIFO of bytes waiting to be sent.

    Memory: at most about 1.25 times :attr:`size` plus a small constant, whatever the
    mix of write sizes. A write of :data:`SMALL_WRITE` bytes or more is queued as it
    is (no copy); a smaller one is appended to the last chunk when that is a shared
    ``bytearray`` (or a small ``bytes`` that becomes one), so a run of small writes
    costs what a ``bytearray`` over-allocates (an eighth) and nothing per write. A
    lone small write, the usual case, is queued without a copy.
    """

    __slots__ = ("chunks", "size")

    #: The most chunks one send may be given (``head()`` beyond it).
    MAX_IOV = _MAX_IOV

    def __init__(self) -> None:
        # Read by the sender directly: building a list per send would cost a
        # call and an allocation for the usual single chunk. A list, not a deque:
        # 56 bytes empty against 624, for every connection, and the sender takes
        # whole chunks off the front in one slice deletion per send.
        self.chunks: list[bytes | bytearray | memoryview] = []
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def clear(self) -> None:
        self.chunks.clear()
        self.size = 0

    def append(self, data: bytes | memoryview) -> None:
        size = len(data)
        self.size += size
        chunks = self.chunks
        if size >= SMALL_WRITE or not chunks:
            chunks.append(data)
            return
        last = chunks[-1]
        if last.__class__ is bytearray and len(last) < _SHARED_MAX:
            last += data
        elif last.__class__ is bytes and len(last) < SMALL_WRITE:
            chunks[-1] = bytearray(last) + data
        else:
            chunks.append(data)

    def head(self) -> list[bytes | bytearray | memoryview]:
        """The first ``MAX_IOV`` chunks, for a buffer holding more than that."""
        return self.chunks[:_MAX_IOV]

    def consume(self, n: int) -> None:
        chunks = self.chunks
        if n == self.size:
            # Everything left: the usual outcome of a send.
            chunks.clear()
            self.size = 0
            return
        self.size -= n
        whole = 0
        while n:
            first = chunks[whole]
            if len(first) <= n:
                whole += 1
                n -= len(first)
            elif first.__class__ is bytearray:
                # Dropping a bytearray's head is O(1) in CPython, and unlike a
                # memoryview of it this keeps it growable.
                del first[:n]
                n = 0
            else:
                chunks[whole] = memoryview(first)[n:]
                n = 0
        if whole:
            del chunks[:whole]
