"""``AsyncBinaryIO`` over the kernel engine: stream position, read-ahead, write-behind.

The stream position lives in this object (kernel I/O is positional), so the
state is small and exact:

* ``_pos`` is the logical position the user sees (``tell()``);
* the read-ahead buffer ``_rbuf`` holds file bytes starting at ``_rbuf_off``;
* the write-behind buffer ``_wbuf`` holds bytes to land at ``_wbuf_off``.

Invariant: when ``_wbuf`` is non-empty, ``_pos == _wbuf_off + len(_wbuf)`` and
the read buffer is empty.  Reads, seeks and overlapping positional calls flush
the write buffer first, so every result equals what ``open()`` returns.

Cancellation policy (RELIABILITY X4): data handed to ``write()`` is in the
buffer once the call returns; a flush that is cancelled keeps the part the
kernel did not confirm, so the position never moves backwards and nothing is
written twice or at a stale offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Final

from ..engines.fdlimit import release_of
from ..errors import finish_batch
from ..modes import FileMode
from ..stats import IOStats
from .base import (
    AsyncBinaryIO,
    as_index,
    bytes_view,
    check_closed,
    check_readable,
    check_size,
    check_whence,
    check_writable,
)
from .raw import RawKernelFile, WriteCancelled

__all__ = ("KernelBinaryFile",)

#: Default read-ahead / write-behind size.  Large enough that streaming costs
#: one kernel round trip per 128 KiB, small enough to stay in L2.
DEFAULT_BUFFER_SIZE = 128 * 1024
#: Bytes one batch may serve inline before the rest goes to the kernel, so a
#: huge cached batch still cannot hold the loop for long.
INLINE_BATCH_MAX: Final = 4 << 20


def _check_offset(offset: object) -> int:
    value = as_index(offset)
    if value < 0:
        raise ValueError(f"negative offset: {value}")
    return value


def _check_count(size: object) -> int:
    n = check_size(size, allow_none=False)
    if n < 0:
        raise ValueError(f"negative size: {n}")
    return n


@contextlib.contextmanager
def _writable_view(buffer: Any, what: str) -> Iterator[memoryview]:
    with memoryview(buffer) as view:
        if view.readonly:
            raise TypeError(f"{what}() argument must be read-write bytes-like object")
        with view.cast("B") if view.format != "B" or view.ndim != 1 else view[:] as flat:
            yield flat


def _named(exc: OSError, name: Any) -> OSError:
    if exc.filename is None and not isinstance(name, int):
        return OSError(exc.errno, exc.strerror, os.fspath(name))
    return exc


def _non_overlapping_groups(items: list[tuple[int, bytes]]) -> list[list[int]]:
    """Split writes, in order, into consecutive groups without overlaps."""
    groups: list[list[int]] = []
    current: list[int] = []
    spans: list[tuple[int, int]] = []
    for i, (off, data) in enumerate(items):
        end = off + len(data)
        if any(off < e and s < end for s, e in spans):
            groups.append(current)
            current, spans = [], []
        current.append(i)
        spans.append((off, end))
    groups.append(current)
    return groups


class KernelBinaryFile(AsyncBinaryIO):
    """A regular file served by the kernel engine (io_uring, Linux AIO, caio pools)."""

    def __init__(
        self,
        raw: RawKernelFile,
        fmode: FileMode,
        *,
        name: Any,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        closefd: bool = True,
        inline_batch_max: int = INLINE_BATCH_MAX,
    ) -> None:
        self._raw = raw
        self._engine = raw.engine
        self._inline = raw.inline
        self._inline_batch_max = inline_batch_max
        self._readable = fmode.readable
        self._fd = raw.fd
        self._fmode = fmode
        self.name = name
        self.mode = fmode.raw_mode
        self._buffer_size = buffer_size
        self._closefd = closefd
        self._closed = False
        self._pos = os.fstat(raw.fd).st_size if fmode.appending else 0
        self._rbuf = b""
        self._rbuf_off = 0
        self._wbuf = bytearray()
        self._wbuf_off = 0
        self._close_task: asyncio.Task[None] | None = None

    # -- plain attributes -----------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the file is closed."""
        return self._closed

    @property
    def backend(self) -> str:
        """The kernel backend serving this file ("uring", "linux", "thread", "python")."""
        return self._raw.backend

    def readable(self) -> bool:
        """True if the file was opened for reading."""
        check_closed(self._closed)
        return self._fmode.readable

    def writable(self) -> bool:
        """True if the file was opened for writing."""
        check_closed(self._closed)
        return self._fmode.writable

    def seekable(self) -> bool:
        """Regular files always are."""
        check_closed(self._closed)
        return True

    def fileno(self) -> int:
        """The file descriptor."""
        check_closed(self._closed)
        return self._fd

    # -- internal helpers -----------------------------------------------------

    def _check_read(self) -> None:
        check_closed(self._closed)
        check_readable(self._fmode.readable)

    def _check_write(self) -> None:
        check_closed(self._closed)
        check_writable(self._fmode.writable)

    async def _flush_wbuf(self) -> None:
        if not self._wbuf:
            return
        data = bytes(self._wbuf)
        try:
            written = await self._raw.pwrite_all(data, self._wbuf_off)
        except WriteCancelled as exc:
            del self._wbuf[: exc.written]
            self._wbuf_off += exc.written
            raise
        # Any other error leaves the buffer as it was: a later flush/close retries.
        del self._wbuf[:written]
        self._wbuf_off += written
        if self._fmode.appending:
            # O_APPEND put the bytes at the real end, wherever that was; the
            # position follows them as FileIO's does.
            self._pos = os.fstat(self._fd).st_size

    def _drop_rbuf(self) -> None:
        self._rbuf = b""
        self._rbuf_off = self._pos

    def _buffered(self) -> memoryview | None:
        """The read buffer from the current position, if the position is inside it."""
        start = self._pos - self._rbuf_off
        if self._rbuf and 0 <= start < len(self._rbuf):
            return memoryview(self._rbuf)[start:]
        return None

    async def _refill(self) -> bool:
        """Fill the read buffer at the current position; False at EOF."""
        # One kernel read: a short one is EOF on a regular file, and read()
        # loops on its own when it needs more.
        data = await self._raw.pread_once(max(self._buffer_size, 1), self._pos)
        self._rbuf = data
        self._rbuf_off = self._pos
        return bool(data)

    # -- reading --------------------------------------------------------------

    async def read(self, size: int | None = -1, /) -> bytes:
        """Read up to *size* bytes; all until EOF when negative or None."""
        n = check_size(size)
        self._check_read()
        if n < -1:
            raise ValueError("read length must be non-negative or -1")
        if n == 0:
            return b""
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
            data = await self._raw.pread(n, self._pos)
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

    async def read1(self, size: int = -1, /) -> bytes:
        """Read up to *size* bytes with at most one kernel read."""
        n = check_size(size)
        self._check_read()
        if n == 0:
            return b""
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
        data = bytes(head if n < 0 else head[:n])
        self._pos += len(data)
        return data

    async def readinto(self, buffer: Any, /) -> int:
        """Read into a writable buffer-protocol object; return the count."""
        self._check_read()
        with memoryview(buffer) as view, view.cast("B") as flat:
            data = await self.read(len(flat))
            flat[: len(data)] = data
            return len(data)

    async def readline(self, size: int | None = -1, /) -> bytes:
        """Read one line, or up to *size* bytes of it."""
        limit = check_size(size)
        self._check_read()
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

    # -- writing --------------------------------------------------------------

    async def write(self, data: Any, /) -> int:
        """Buffer *data* (any bytes-like object); flush when the buffer is full."""
        self._check_write()
        view = bytes_view(data)
        n = view.nbytes
        if n == 0:
            return 0
        if self._rbuf:
            self._drop_rbuf()
        if self._wbuf and self._wbuf_off + len(self._wbuf) != self._pos:
            await self._flush_wbuf()
        if not self._wbuf:
            if self._fmode.appending:
                # The bytes will land at the end, so the position is there too
                # (as with an unbuffered FileIO), not where a seek left it.
                self._pos = os.fstat(self._fd).st_size
            self._wbuf_off = self._pos
        if not self._buffer_size or n >= self._buffer_size:
            await self._flush_wbuf()
            self._wbuf_off = self._pos
            try:
                written = await self._raw.pwrite_all(view, self._pos)
            except WriteCancelled as exc:
                self._pos += exc.written
                raise
            if self._fmode.appending:
                self._pos = os.fstat(self._fd).st_size
            else:
                self._pos += written
            self._wbuf_off = self._pos
            return n
        self._wbuf += view
        self._pos += n
        if len(self._wbuf) >= self._buffer_size:
            await self._flush_wbuf()
        return n

    async def flush(self) -> None:
        """Write the write-behind buffer to the OS."""
        check_closed(self._closed)
        await self._flush_wbuf()

    async def fsync(self) -> None:
        """Flush, then fsync: data and metadata durable."""
        check_closed(self._closed)
        await self._flush_wbuf()
        await self._raw.fsync()

    async def fdatasync(self) -> None:
        """Flush, then fdatasync: data durable."""
        check_closed(self._closed)
        await self._flush_wbuf()
        await self._raw.fdatasync()

    async def truncate(self, size: int | None = None, /) -> int:
        """Resize to *size* (default: the position); the position is unchanged."""
        self._check_write()
        await self._flush_wbuf()
        if size is None:
            new_size = self._pos
        else:
            new_size = as_index(size)
            if new_size < 0:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        os.ftruncate(self._fd, new_size)
        self._drop_rbuf()
        return new_size

    # -- positioning ----------------------------------------------------------

    async def seek(self, offset: int, whence: int = 0, /) -> int:
        """Move the position (whence 0, 1 or 2) and return it."""
        off = as_index(offset)
        how = check_whence(whence)
        check_closed(self._closed)
        await self._flush_wbuf()
        if how == os.SEEK_SET:
            target = off
        elif how == os.SEEK_CUR:
            target = self._pos + off
        else:
            target = os.fstat(self._fd).st_size + off
        if target < 0:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        self._pos = target
        return target

    async def tell(self) -> int:
        """The stream position."""
        check_closed(self._closed)
        return self._pos

    # -- positional -----------------------------------------------------------

    async def _flush_if_overlapping(self, offset: int, size: int) -> None:
        if (
            self._wbuf
            and offset < self._wbuf_off + len(self._wbuf)
            and self._wbuf_off < offset + size
        ):
            await self._flush_wbuf()

    async def _flush_if_visible(self, offset: int) -> None:
        # Buffered bytes at or after `offset` may also extend the file, which
        # turns a read past the old EOF into a read of a hole (zeros).
        if self._wbuf and offset < self._wbuf_off + len(self._wbuf):
            await self._flush_wbuf()

    async def read_at(self, offset: int, size: int, /) -> bytes:
        """Read up to *size* bytes at *offset*; the position does not move.

        A range the page cache holds is returned without suspending.
        """
        # Fast path first: the common call is a small read of cached data, and
        # every attribute lookup here is a measurable share of its ~1 us.
        if (
            type(offset) is int
            and type(size) is int
            and offset >= 0
            and 0 < size <= self._inline.max
            and not self._closed
            and self._readable
            and not self._wbuf
        ):
            inline = self._inline
            if inline.enabled:
                data = inline.read(size, offset)
                if data is not None:
                    if self._engine.overdue():  # engine.pay(), unrolled: no coroutine
                        await asyncio.sleep(0)
                    return data
            return await self._raw.pread(size, offset, inline=False)
        off = _check_offset(offset)
        n = _check_count(size)
        self._check_read()
        if n == 0:
            return b""
        await self._flush_if_visible(off)
        return await self._raw.pread(n, off)

    async def readinto_at(self, offset: int, buffer: Any, /) -> int:
        """Read into *buffer* at *offset* (zero copy when cached); the position does not move."""
        off = _check_offset(offset)
        self._check_read()
        with _writable_view(buffer, "readinto_at") as flat:
            if not len(flat):
                return 0
            await self._flush_if_visible(off)
            return await self._raw.preadinto(flat, off)

    async def read_many(
        self, ranges: Iterable[tuple[int, int]], /, *, return_exceptions: bool = False
    ) -> list[Any]:
        """Read every ``(offset, size)`` range; results in request order.

        Cached ranges are served inline; the others go to the kernel in ONE
        submission awaited through one future (split only past the ring size).
        A failure is raised as :class:`~hybridio.errors.BatchError` after every
        read completed, or returned in place with ``return_exceptions=True``.
        """
        reqs = ranges if type(ranges) is list else list(ranges)
        self._check_read()
        lowest = -1
        for off, size in reqs:
            if type(off) is not int or type(size) is not int or off < 0 or size < 0:
                _check_offset(off)
                _check_count(size)
            if lowest < 0 or off < lowest:
                lowest = off
        if not reqs:
            return []
        if self._wbuf:
            await self._flush_if_visible(lowest)
        results: list[Any] = [b""] * len(reqs)
        misses = self._inline.read_batch(reqs, results, self._inline_batch_max)
        if not misses:
            await self._engine.pay()
            return results  # inline reads raise; they never leave an error in place
        await self._kernel_reads(reqs, misses, results)
        return finish_batch(results, return_exceptions)

    async def _kernel_reads(
        self, reqs: list[tuple[int, int]], misses: list[int], results: list[Any]
    ) -> None:
        raw = self._raw
        engine = raw.engine
        small = [i for i in misses if reqs[i][1] <= raw.max_chunk]
        values = await engine.run([engine.op_read(self._fd, reqs[i][1], reqs[i][0]) for i in small])
        raw.kernel_ops += len(small)
        for i, value in zip(small, values, strict=False):
            if isinstance(value, OSError):
                results[i] = _named(value, self.name)
                continue
            data = bytes(value)
            raw.kernel_bytes += len(data)
            off, size = reqs[i]
            if 0 < len(data) < size:
                # Short but not empty: EOF, or a filesystem that splits reads.
                rest = await raw.pread(size - len(data), off + len(data))
                data += rest
            results[i] = data
        for i in misses:
            if reqs[i][1] > raw.max_chunk:
                try:
                    results[i] = await raw.pread(reqs[i][1], reqs[i][0], inline=False)
                except OSError as exc:
                    results[i] = exc

    async def readinto_many(
        self, requests: Iterable[tuple[int, Any]], /, *, return_exceptions: bool = False
    ) -> list[Any]:
        """Fill each ``(offset, buffer)``; return the byte counts in request order.

        Any writable buffer-protocol object works (bytearray, memoryview slices,
        array, numpy arrays); cached ranges are read straight into it.
        """
        self._check_read()
        items = [(_check_offset(off), buf) for off, buf in requests]
        with contextlib.ExitStack() as stack:
            views = [stack.enter_context(_writable_view(buf, "readinto_many")) for _, buf in items]
            if not items:
                return []
            await self._flush_if_visible(min(off for off, _ in items))
            results: list[Any] = [0] * len(items)
            inline = self._inline
            misses = []
            budget = self._inline_batch_max
            for i, ((off, _), view) in enumerate(zip(items, views, strict=False)):
                if not len(view):
                    continue
                if inline.enabled and len(view) <= inline.max and budget > 0:
                    n = inline.readinto(view, off)
                    if n is not None:
                        results[i] = n
                        budget -= n
                        continue
                misses.append(i)
            if misses:
                reqs = [(off, len(view)) for (off, _), view in zip(items, views, strict=False)]
                data: list[Any] = [b""] * len(items)
                await self._kernel_reads(reqs, misses, data)
                for i in misses:
                    if isinstance(data[i], BaseException):
                        results[i] = data[i]
                    else:
                        views[i][: len(data[i])] = data[i]
                        results[i] = len(data[i])
            return finish_batch(results, return_exceptions)

    async def write_many(
        self, writes: Iterable[tuple[int, Any]], /, *, return_exceptions: bool = False
    ) -> list[Any]:
        """Write each ``(offset, data)``; return the byte counts in request order.

        Non-overlapping writes go to the kernel in one submission; a write that
        overlaps an earlier one of the same batch waits for it, so the file ends
        up exactly as if the writes were done one by one in order.
        """
        self._check_write()
        items = [(_check_offset(off), bytes(bytes_view(data))) for off, data in writes]
        if not items:
            return []
        if self._wbuf:
            await self._flush_wbuf()
        if self._rbuf:
            self._drop_rbuf()
        results: list[Any] = [0] * len(items)
        if self._fmode.appending:
            # Every write appends: order is the only thing that matters.
            groups = [[i] for i in range(len(items))]
        else:
            groups = _non_overlapping_groups(items)
        raw = self._raw
        engine = raw.write_engine
        for group in groups:
            todo = [i for i in group if items[i][1]]
            values = await engine.run(
                [engine.op_write(self._fd, items[i][1], items[i][0]) for i in todo]
            )
            raw.kernel_ops += len(todo)
            for i, value in zip(todo, values, strict=False):
                off, data = items[i]
                if isinstance(value, OSError):
                    results[i] = _named(value, self.name)
                    continue
                written = int(value)
                raw.kernel_bytes += max(written, 0)
                if 0 <= written < len(data):
                    try:
                        written += await raw.pwrite_all(memoryview(data)[written:], off + written)
                    except OSError as exc:
                        results[i] = exc
                        continue
                results[i] = written
        return finish_batch(results, return_exceptions)

    @property
    def stats(self) -> IOStats:
        """Which engine served how many operations and bytes of this file."""
        raw = self._raw
        inline = raw.inline
        return IOStats(
            backend=raw.backend,
            write_backend=raw.write_engine.name if raw.write_engine is not raw.engine else None,
            inline_ops=inline.ops,
            inline_bytes=inline.bytes,
            inline_misses=inline.misses,
            inline_skipped=inline.skipped,
            kernel_ops=raw.kernel_ops,
            kernel_bytes=raw.kernel_bytes,
            thread_ops=raw.thread_ops,
            thread_bytes=raw.thread_bytes,
            inline_disabled_reason=inline.reason,
        )

    async def write_at(self, offset: int, data: Any, /) -> int:
        """Write all of *data* at *offset*; the position does not move.

        On a file opened in append mode the kernel appends instead, exactly as
        ``os.pwrite`` does on Linux.
        """
        off = _check_offset(offset)
        self._check_write()
        view = bytes_view(data)
        n = view.nbytes
        if n == 0:
            return 0
        if self._fmode.appending:
            # The kernel appends this write; earlier buffered writes go first.
            await self._flush_wbuf()
        else:
            await self._flush_if_overlapping(off, n)
        if self._rbuf and off < self._rbuf_off + len(self._rbuf) and self._rbuf_off < off + n:
            self._drop_rbuf()
        return await self._raw.pwrite_all(view, off)

    # -- closing --------------------------------------------------------------

    async def _do_close(self) -> None:
        try:
            await self._flush_wbuf()
        finally:
            # The fd is released even when the flush failed; an error from
            # close() then carries the flush error as __context__.
            self._closed = True
            self._rbuf = b""
            self._wbuf.clear()
            release_of(self)
            if self._closefd:
                os.close(self._fd)

    async def close(self) -> None:
        """Flush and close.  Idempotent; runs to completion even when cancelled.

        The first caller sees a flush or close error; later calls do nothing.
        """
        first = self._close_task is None
        if first:
            if self._closed:
                return
            if not self._wbuf:
                # Nothing to flush: close right here.  No await, so nothing can
                # cancel it halfway, and no task costs a loop turn.
                self._closed = True
                self._rbuf = b""
                release_of(self)
                if self._closefd:
                    os.close(self._fd)
                return
            self._close_task = asyncio.ensure_future(self._do_close())
        task = self._close_task
        assert task is not None
        cancelled = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                cancelled = True
        error = task.exception()
        if cancelled:
            raise asyncio.CancelledError
        if first and error is not None:
            raise error

    def __del__(self) -> None:
        if getattr(self, "_closed", True):
            return
        warnings.warn(f"unclosed file {self!r}", ResourceWarning, stacklevel=2, source=self)
        self._closed = True
        try:
            # Nothing lost: land buffered bytes with a blocking pwrite before
            # the fd goes; an event loop may not exist any more.
            if self._wbuf:
                data = memoryview(bytes(self._wbuf))
                off = self._wbuf_off
                while data:
                    n = os.pwrite(self._fd, data, off)
                    if n <= 0:
                        break
                    data = data[n:]
                    off += n
        except OSError:
            pass
        finally:
            release_of(self)
            if self._closefd:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
