"""The async facade of a thread-served file: :class:`StreamFile`.

A :class:`StreamFile` serves pipes, FIFOs, character devices, ``/proc`` files
and compressed streams (gzip, bz2, lzma, zstd): anything the kernel engine must
not or cannot see.  Its blocking half, :class:`~.streamcore.StreamCore`, is
only ever driven inside a worker thread, and the thread hop is the expensive
part (~100 µs against ~1 µs for a buffered call), so the file keeps its own
buffers:

* **read-ahead** — a refill reads at least ``buffer_size`` bytes (256 KiB by
  default) in one thread call; ``read``/``readline``/``async for`` are served
  from memory until the buffer runs dry;
* **write-behind** — ``write`` appends to memory; one thread call writes the
  buffer out when it reaches ``buffer_size``, on ``flush``/``seek``/``close``.

This class is the plain buffered kind (``BufferedRandom``'s behaviour); the
other kinds subclass it: :class:`~.compressed.CompressedStreamFile` (the
format objects' rules) and :class:`~.unbuffered.UnbufferedStreamFile`
(``buffering=0``: ``FileIO``'s, one thread call per operation).

All operations of one handle are serialised by an ``asyncio.Lock`` because the
compressed file objects are not thread-safe (:class:`~.exclusive.Exclusive`).
A call that the buffers can serve does not take the lock (nor suspend) unless
another operation is in flight.

Cancellation: a thread call that already runs is completed before the
cancellation is re-raised (see :mod:`hybridio._engines.threads`), so buffers and
position stay consistent.  A cancelled ``write`` has either stored all its
bytes (they reach the file with the next flush, and ``tell()`` counts them),
or -- cancelled while waiting for another operation on the same handle, or
while the bytes of earlier writes were landing to make room -- none of them.

Errors (ENOSPC, EFBIG, EIO) leave the file and the position telling the same
story, as ``BufferedWriter`` does: a ``write`` that raised stored none of its
bytes, except the ones that demonstrably landed before the error (a large
write goes out directly; ``tell()`` then counts what is on disk); bytes of
earlier writes that could not land stay buffered for the next flush.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import io
import operator
import os
import warnings
from collections.abc import Callable
from typing import Any, BinaryIO

from .._compression import Compression
from .._engines.fdlimit import release_of
from .._engines.threads import run_in_thread
from .._profile import BUILTIN
from .._stats import IOStats
from .base import (
    FAR_SEEK,
    STUB_PARSES_SIZE,
    AsyncBinaryIO,
    as_c_int,
    as_ssize,
    bytes_view,
    check_closed,
    check_count,
    check_offset,
    check_seekable,
    check_size,
    check_span,
    check_truncate_size,
    check_whence,
    seek_offset,
    unsupported,
    writable_view,
    wrong_direction,
)
from .closing import close_once
from .exclusive import Exclusive
from .streamcore import StreamCore

__all__ = ("StreamFile",)


def espipe() -> OSError:
    """What ``tell()``/``seek()`` raise on a pipe."""
    return OSError(errno.ESPIPE, os.strerror(errno.ESPIPE))


class OpenExclusive(Exclusive):
    """:class:`Exclusive` on a file that must still be open once it holds the lock."""

    __slots__ = ()

    def entered(self, owner: Any) -> None:
        """Refuse a file that was closed while this call waited for the lock."""
        check_closed(owner._closed)


class StreamFile(StreamCore, AsyncBinaryIO):
    """An :class:`AsyncBinaryIO` over a blocking file object, served by threads.

    Build it with :func:`hybridio._layers.stream.open_stream`.  ``backend``
    names what serves it (``"threads"``), ``compression`` the format.
    """

    backend: str = "threads"

    _close_task: asyncio.Task[None] | None = None
    #: Word errors as ``FileIO`` does (the unbuffered kind).
    _raw_errors = False
    #: How read1() converts its size.
    _read1_size = staticmethod(as_ssize)

    def __init__(
        self,
        raw: BinaryIO,
        *,
        fileobj: BinaryIO | None = None,
        name: Any,
        mode: str,
        compression: Compression = Compression.NONE,
        buffer_size: int = BUILTIN.stream_chunk,
        appending: bool = False,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        """Blocking (it asks the file for its position): call it in a thread."""
        self.name = name
        self.mode = mode
        self.compression = compression
        self._executor = executor
        chunk = buffer_size if buffer_size > 0 else BUILTIN.stream_chunk
        self._init_core(raw, fileobj, chunk, appending)
        self._lock = asyncio.Lock()
        self._busy = False
        self._closed = False

    # -- plain attributes -------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the file is closed."""
        return self._closed

    @property
    def raw(self) -> BinaryIO:
        """The blocking file object (use only from a thread, with care)."""
        return self._raw  # type: ignore[no-any-return]

    @property
    def stats(self) -> IOStats:
        """What served this file: every transfer went through the thread engine."""
        return IOStats(
            backend=self.backend, thread_ops=self._thread_ops, thread_bytes=self._thread_bytes
        )

    def readable(self) -> bool:
        """True if the file was opened for reading."""
        if not self._readable:
            return False  # BufferedWriter (IOBase.readable): closed or not
        check_closed(self._closed)
        return True

    def writable(self) -> bool:
        """True if the file was opened for writing."""
        if not self._writable:
            return False  # BufferedReader (IOBase.writable): closed or not
        check_closed(self._closed)
        return True

    def seekable(self) -> bool:
        """True if the file supports seek/tell."""
        check_closed(self._closed)
        return self._seekable

    def fileno(self) -> int:
        """The underlying file descriptor."""
        check_closed(self._closed)
        return self._fd()

    def _check_direction(self, op: str) -> None:
        """Refuse a wrong-direction call with the error the stdlib file raises."""
        if op.startswith("read"):
            if not self._readable:
                raise wrong_direction("read", raw=self._raw_errors)
        elif not self._writable:
            raise wrong_direction("write", raw=self._raw_errors)

    def _check_args_read(self, op: str, size: object, convert: Callable[[object], int]) -> int:
        """Validate a read call in the order ``BufferedRandom`` would: a
        BufferedWriter lacks read()/read1() (BufferedIOBase's stub parses a C
        int, then refuses, closed or not); the readers convert *size* first,
        then check closed."""
        if not self._readable:
            if STUB_PARSES_SIZE:
                as_c_int(size)
            raise unsupported(op)
        n = convert(size)
        if op == "read" and n < -1:
            raise ValueError("read length must be non-negative or -1")
        check_closed(self._closed)
        return n

    # -- async plumbing ---------------------------------------------------

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run *fn* in a thread while holding the handle's lock."""
        async with OpenExclusive(self):
            return await run_in_thread(fn, *args, executor=self._executor)

    # -- reading ----------------------------------------------------------

    async def read(self, size: int | None = -1, /) -> bytes:
        """Read up to *size* bytes; fewer only at EOF (all when negative/None)."""
        n = self._check_args_read("read", size, check_size)
        if n < -1:
            raise ValueError("read length must be non-negative or -1")
        if n == 0:
            return b""
        if n > 0 and not self._busy and len(self._rbuf) - self._rpos >= n:
            pos = self._rpos
            self._rpos = pos + n
            return self._rbuf[pos : pos + n]
        async with OpenExclusive(self):
            if n < 0:
                self._take_pending()
                data: bytes = await run_in_thread(self._readall_sync, executor=self._executor)
                return data
            if self._unread() < n:
                await run_in_thread(self._fill_sync, n, executor=self._executor)
                if self._unread() < n:
                    self._take_pending()
            return self._take(n)

    async def read1(self, size: int = -1, /) -> bytes:
        """Read up to *size* bytes with at most one raw read (buffered first)."""
        n = self._check_args_read("read1", size, self._read1_size)
        if n == 0:
            return b""
        if not self._busy and self._rpos < len(self._rbuf):
            pos = self._rpos
            end = len(self._rbuf) if n < 0 else min(pos + n, len(self._rbuf))
            self._rpos = end
            return self._rbuf[pos:end]
        async with OpenExclusive(self):
            if not self._unread():
                # One raw read of at least a buffer (of n if larger, like
                # BufferedReader.read1), so positions match the stdlib's.
                await self._refill_once(n if n > 0 else 1)
            return self._take(n)

    async def _refill_once(self, want: int) -> None:
        """Under the lock, with nothing unread: one raw read (an error kept
        from the last refill is the answer instead)."""
        self._take_pending()
        await run_in_thread(self._fill_sync, want, False, True, executor=self._executor)

    async def readinto(self, buffer: Any, /) -> int:
        """Read into a writable buffer until it is full or EOF; return the count."""
        # A BufferedWriter's readinto calls read(): read() refuses as it does.
        with writable_view(buffer, raw=self._raw_errors) as flat:
            data = await self.read(len(flat))
            flat[: len(data)] = data
            return len(data)

    async def peek(self, size: int = 0, /) -> bytes:
        """The read-ahead buffer from the position (refilled by one raw read if
        empty); the position does not move -- pipes included."""
        operator.index(size)
        check_closed(self._closed)
        self._check_direction("read")
        if not self._busy and self._unread():
            return self._rbuf[self._rpos :]
        async with OpenExclusive(self):
            if not self._unread():
                await self._refill_once(1)
            return self._rbuf[self._rpos :]

    async def readline(self, size: int | None = -1, /) -> bytes:
        """Read one line (up to *size* bytes), the newline included."""
        limit = check_size(size)
        if self._readable:
            check_closed(self._closed)  # the buffered readers check first
        if limit == 0:
            return b""  # IOBase.readline, before anything else
        if not self._readable:
            raise unsupported("read")  # BufferedWriter: IOBase.readline calls read()
        if not self._busy and (line := self._line_from_buffer(limit, False)) is not None:
            return line
        return await self._readline_slow(limit)

    async def _readline_slow(self, limit: int) -> bytes:
        """The rest of readline() when the buffer holds no whole line."""
        async with OpenExclusive(self):
            line = self._line_from_buffer(limit, False)
            if line is None:
                await run_in_thread(self._fill_sync, limit, True, executor=self._executor)
                # Without a newline the refill stopped at EOF, unless an
                # error cut it short: that error is the answer then.
                line = self._line_from_buffer(limit, self._pending_exc is None)
                if line is None:
                    self._take_pending()
            return line or b""

    # -- writing ----------------------------------------------------------

    async def write(self, data: Any, /) -> int:
        """Write a bytes-like object; return its length (always all of it)."""
        # In BufferedWriter's order: the method exists, the data, then closed.
        self._check_direction("write")
        with bytes_view(data) as view:
            check_closed(self._closed)
            n = view.nbytes
            if (
                not self._busy
                and self._rpos == len(self._rbuf)
                and len(self._wbuf) + n < self._chunk
            ):
                self._wbuf += view
                return n
            return await self._write_slow(view, n)

    async def _write_slow(self, view: memoryview, n: int) -> int:
        """The rest of write() when the bytes do not just join the buffer."""
        async with OpenExclusive(self):
            self._drop_read_buffer()
            if len(self._wbuf) + n < self._chunk:
                self._wbuf += view
            elif n >= self._chunk:
                await run_in_thread(self._write_big_sync, view, executor=self._executor)
            else:
                # As BufferedWriter: land what earlier writes buffered,
                # then store this one.  If landing fails, this write
                # raises having stored nothing, so a retry after ENOSPC
                # does not write the record twice (issue 9 item 4).
                await run_in_thread(self._flush_sync, executor=self._executor)
                self._wbuf += view
        return n

    # -- positioning ------------------------------------------------------

    async def seek(self, offset: int, whence: int = 0, /) -> int:
        """Move the stream position; return the new absolute position."""
        whence = check_whence(whence)
        check_closed(self._closed)
        offset = seek_offset(offset, raw=False)
        check_seekable(self._seekable)
        async with OpenExclusive(self):
            return await self._seek_locked(offset, whence)

    async def _seek_locked(self, offset: int, whence: int) -> int:
        if whence in (io.SEEK_SET, io.SEEK_CUR) and not self._wbuf:
            pos = self._logical_pos()
            if pos is not None:
                target = offset if whence == io.SEEK_SET else pos + offset
                # Within the read buffer: just move in it, no thread hop.
                start = pos - self._rpos
                if self._seek_to is None and start <= target <= start + len(self._rbuf):
                    self._rpos = target - start
                    return target
                if 0 <= target < FAR_SEEK and not self._format_positions:
                    # A plain file: the raw seek is done lazily, in the same
                    # thread hop as the next read or write (a far one now:
                    # the filesystem may refuse it, and then nothing moves).
                    self._rbuf = b""
                    self._rpos = 0
                    self._seek_to = target
                    return target
        result: int = await run_in_thread(self._seek_sync, offset, whence, executor=self._executor)
        return result

    async def tell(self) -> int:
        """The stream position (OSError ESPIPE on a pipe, as the stdlib)."""
        check_closed(self._closed)
        pos = self._logical_pos()
        if pos is None:
            raise espipe()
        return pos

    async def truncate(self, size: int | None = None, /) -> int:
        """Resize the file to *size* (default: the position); the position stays."""
        if self._closed:
            raise ValueError("truncate of closed file")
        if not self._writable:
            raise wrong_direction("truncate", raw=self._raw_errors)
        size = check_truncate_size(size)
        result: int = await self._call(self._truncate_sync, size)
        return result

    # -- flushing and durability -------------------------------------------

    async def flush(self) -> None:
        """Write buffered data to the OS (a compressor also flushes its state:
        gzip and zstd data written so far then decodes; bz2/lzma follow the
        stdlib, which cannot flush mid-stream)."""
        if self._closed:
            raise ValueError("flush of closed file")
        if self._wbuf or self._has_trailer:
            await self._call(self._flush_all_sync)

    async def fsync(self) -> None:
        """Flush (compressor, buffer, OS) then ``fsync``: data and metadata durable."""
        check_closed(self._closed)
        await self._call(self._fsync_blocking, False)

    async def fdatasync(self) -> None:
        """Flush then ``fdatasync`` (``fsync`` where it does not exist)."""
        check_closed(self._closed)
        await self._call(self._fsync_blocking, True)

    # -- positional I/O (plain seekable files only) --------------------------

    def _check_positional(self, offset: object) -> int:
        if self._format_positions or not self._seekable:
            raise unsupported("positional I/O needs a plain seekable file")
        return check_offset(offset)

    async def read_at(self, offset: int, size: int, /) -> bytes:
        """Read up to *size* bytes at *offset*; the position does not move."""
        pos = self._check_positional(offset)
        n = check_count(size)
        check_closed(self._closed)
        self._check_direction("read")
        if n == 0:
            return b""
        check_span(pos, n)
        data: bytes = await self._call(self._pread_sync, pos, n)
        return data

    async def readinto_at(self, offset: int, buffer: Any, /) -> int:
        """Read into *buffer* at *offset*; the position does not move."""
        self._check_positional(offset)
        with writable_view(buffer, "readinto_at") as flat:
            data = await self.read_at(offset, len(flat))
            flat[: len(data)] = data
            return len(data)

    async def write_at(self, offset: int, data: Any, /) -> int:
        """Write all of *data* at *offset*; the position does not move."""
        pos = self._check_positional(offset)
        view = bytes_view(data)
        with view:
            check_closed(self._closed)
            self._check_direction("write")
            check_span(pos, view.nbytes)
            result: int = await self._call(self._pwrite_sync, pos, view)
            return result

    # -- closing ----------------------------------------------------------

    async def close(self) -> None:
        """Flush and close: the close contract of :mod:`hybridio._layers.closing`
        (idempotent, completes when cancelled, a flush error surfaces)."""
        await close_once(self, self._close)

    async def _close(self) -> None:
        async with Exclusive(self):
            if self._closed:
                return
            try:
                await run_in_thread(self._close_sync, executor=self._executor)
            finally:
                self._closed = True
                self._rbuf = b""
                release_of(self)

    def __del__(self) -> None:
        if self._closed or self._raw is None:
            return
        try:
            warnings.warn(f"unclosed file {self!r}", ResourceWarning, stacklevel=2, source=self)
        finally:
            self._close_at_gc()
