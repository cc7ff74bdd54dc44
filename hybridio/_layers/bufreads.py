"""The stream reads of the kernel-served file: ``read``, ``read1``, ``peek``,
``readinto``, ``readline``, over the read-ahead buffer.

Mixed into :class:`~hybridio._layers.buffered.KernelBinaryFile`, which holds
the state and the locking these use (see :class:`_Stream`); the buffer rules
are that module's.  ``read()`` of a small cached rest is served inline, with no
lock and no coroutine of its own: the small-file case.
"""

from __future__ import annotations

from typing import Any

from ._bufstate import BufferedState
from .base import as_c_int, as_ssize, check_closed, check_size, unsupported, writable_view

__all__ = ("StreamReads",)


class StreamReads:
    """Stream reads over the read-ahead buffer (a mixin of the kernel-served file)."""

    def _buffered(self: BufferedState) -> memoryview | None:
        """The read buffer from the current position, if the position is inside it."""
        start = self._pos - self._rbuf_off
        if self._rbuf and 0 <= start < len(self._rbuf):
            return memoryview(self._rbuf)[start:]
        return None

    async def _refill(self: BufferedState) -> bool:
        """Fill the read buffer at the current position; False at EOF."""
        # One kernel read: a short one is EOF on a regular file, and read()
        # loops on its own when it needs more.
        data = await self._raw.pread_once(max(self._buffer_size, 1), self._pos)
        self._rbuf = data
        self._rbuf_off = self._pos
        return bool(data)

    # -- reading --------------------------------------------------------------

    async def read(self: BufferedState, size: int | None = -1, /) -> bytes:
        """Read up to *size* bytes; all until EOF when negative or None."""
        if (
            size == -1
            and type(size) is int
            and self._readable
            and not self._closed
            and not self._wbuf
            and self._lock is None
            and self._inline.enabled
        ):
            # read() to EOF of a small cached file, the small-file case: the
            # checks below in their cheapest order, no lock ever taken.
            whole = self._read_all_inline()
            if whole is not None:
                return whole
            return await self._serialised(self._read, -1)
        if not self._readable:
            self._refuse_unreadable("read", size)
        n = check_size(size)
        if n < -1 and self._buffer_size:  # FileIO reads all instead
            raise ValueError("read length must be non-negative or -1")
        self._check_read()
        if n == 0:
            return b""
        if not self._wbuf and not self._busy:
            if n > 0:
                head = self._buffered()
                if head is not None and len(head) >= n:
                    data = self._take(head, n)
                    if self._share_offset:
                        self._publish_offset()
                    return data
            elif self._inline.enabled:
                whole = self._read_all_inline()
                if whole is not None:
                    return whole
        return await self._serialised(self._read, n)

    def _read_all_inline(self: BufferedState) -> bytes | None:
        """read() to EOF of a small cached rest, without suspending; None if not."""
        pos = self._pos
        data = self._raw.read_to_eof_cached(pos, self._share_offset)
        if data is None:
            return None
        self._pos = pos + len(data)
        if self._rbuf:  # an empty buffer's offset is never read
            self._drop_rbuf()
        if self._share_offset:
            self._publish_offset()
        return data

    async def _read(self: BufferedState, n: int) -> bytes:
        await self._flush_wbuf()
        if n < 0:
            # Read from the file, not the read buffer: one result object, no join.
            data = await self._raw.pread_to_eof(self._pos)
            self._pos += len(data)
            self._drop_rbuf()
            return data
        head = self._buffered()
        if head is not None and len(head) >= n:
            data = bytes(head[:n])
            self._pos += n
            return data
        if not self._buffer_size or n >= self._buffer_size:
            # Unbuffered keeps raw semantics: one read as asked, none early.
            pread = self._raw.pread_sequential if self._buffer_size else self._raw.pread
            data = await pread(n, self._pos)
            self._pos += len(data)
            self._drop_rbuf()
            return data
        parts = []
        if head is not None:
            parts.append(bytes(head))
            self._pos += len(head)
        await self._refill()
        head = self._buffered()
        if head is not None:
            chunk = bytes(head[: n - sum(map(len, parts))])
            self._pos += len(chunk)
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def read1(self: BufferedState, size: int = -1, /) -> bytes:
        """Read up to *size* bytes with at most one kernel read."""
        if not self._readable:
            self._refuse_unreadable("read1", size)
        n = as_ssize(size)
        self._check_read()
        if n == 0:
            return b""
        # Fast path, as read(n)'s: what the read buffer holds needs no lock (a
        # text file's 8 KiB chunks are mostly served from it).
        if not self._wbuf and not self._busy:
            head = self._buffered()
            if head is not None:
                data = self._take(head, n)
                if self._share_offset:
                    self._publish_offset()
                return data
        return await self._serialised(self._read1, n)

    def _take(self: BufferedState, head: memoryview, n: int) -> bytes:
        """Up to *n* bytes (all when negative) of the buffered *head*, consumed
        (the caller publishes a shared fd's offset: see ``_publish_offset``)."""
        data = bytes(head if n < 0 else head[:n])
        self._pos += len(data)
        return data

    async def _read1(self: BufferedState, n: int) -> bytes:
        await self._flush_wbuf()
        head = self._buffered()
        if head is None:
            if not self._buffer_size or 0 < self._buffer_size <= n:
                # Unbuffered, or larger than the buffer: one direct read.
                data = await self._raw.pread(n if n > 0 else self._raw.max_chunk, self._pos)
                self._pos += len(data)
                return data
            await self._refill()
            head = self._buffered()
            if head is None:
                return b""
        return self._take(head, n)

    async def peek(self: BufferedState, size: int = 0, /) -> bytes:
        """The read-ahead buffer from the position, refilled if empty; the position
        does not move (``BufferedReader.peek``: at least 1 byte unless at EOF)."""
        as_c_int(size)
        self._check_read()
        if not self._wbuf and not self._busy:
            head = self._buffered()
            if head is not None:
                return bytes(head)
        return await self._serialised(self._peek)

    async def _peek(self: BufferedState) -> bytes:
        await self._flush_wbuf()
        head = self._buffered()
        if head is None and self._buffer_size:
            await self._refill()
            head = self._buffered()
        elif head is None:
            return await self._raw.pread(self._raw.max_chunk, self._pos)
        return b"" if head is None else bytes(head)

    async def readinto(self: BufferedState, buffer: Any, /) -> int:
        """Read into a writable buffer-protocol object; return the count."""
        with writable_view(buffer, raw=not self._buffer_size) as flat:
            if self._buffer_size and not self._readable:
                raise unsupported("read")  # BufferedIOBase.readinto calls read()
            data = await self.read(len(flat))  # which checks closed and direction
            flat[: len(data)] = data
            return len(data)

    async def readline(self: BufferedState, size: int | None = -1, /) -> bytes:
        """Read one line, or up to *size* bytes of it."""
        limit = check_size(size)
        if self._buffer_size and self._readable:
            check_closed(self._closed)
        if limit == 0:
            return b""  # IOBase.readline: even closed or write-only
        if self._buffer_size and not self._readable:
            raise unsupported("read")  # IOBase.readline calls read(), closed or not
        self._check_read()
        if not self._wbuf and not self._busy:
            line = self._line_from_buffer(limit)
            if line is not None:
                if self._share_offset:
                    self._publish_offset()
                return line
        return await self._serialised(self._readline, limit)

    def _line_from_buffer(self: BufferedState, limit: int) -> bytes | None:
        """A whole line (or *limit* bytes of one) from the read buffer, or None."""
        head = self._buffered()
        if head is None:
            return None
        start = self._pos - self._rbuf_off
        end = start + len(head) if limit < 0 else min(start + len(head), start + limit)
        newline = self._rbuf.find(b"\n", start, end)
        if newline < 0 and (limit < 0 or end - start < limit):
            return None
        stop = newline + 1 if newline >= 0 else end
        line = self._rbuf[start:stop]
        self._pos += len(line)
        return line

    async def _readline(self: BufferedState, limit: int) -> bytes:
        await self._flush_wbuf()
        parts: list[bytes] = []
        got = 0
        while limit < 0 or got < limit:
            head = self._buffered()
            if head is None:
                if not await self._refill():
                    break
                continue
            if limit >= 0:
                head = head[: limit - got]
            # bytes.find on a memoryview needs a copy; search the underlying bytes.
            start = self._pos - self._rbuf_off
            end = start + len(head)
            newline = self._rbuf.find(b"\n", start, end)
            if newline >= 0:
                chunk = self._rbuf[start : newline + 1]
                self._pos += len(chunk)
                parts.append(chunk)
                break
            chunk = self._rbuf[start:end]
            self._pos += len(chunk)
            parts.append(chunk)
            got += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)
