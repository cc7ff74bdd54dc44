"""A blocking binary file object driven from the thread engine, with buffers.

:class:`StreamFile` serves pipes, FIFOs, character devices, ``/proc`` files and
compressed streams (gzip, bz2, lzma, zstd): anything the kernel engine must not
or cannot see.  The blocking object is only ever touched inside a worker
thread, and the thread hop is the expensive part (~100 µs against ~1 µs for a
buffered call), so the file keeps its own buffers:

* **read-ahead** — a refill reads at least ``buffer_size`` bytes (256 KiB by
  default) in one thread call; ``read``/``readline``/``async for`` are served
  from memory until the buffer runs dry;
* **write-behind** — ``write`` appends to memory; one thread call writes the
  buffer out when it reaches ``buffer_size``, on ``flush``/``seek``/``close``.

All operations of one handle are serialised by an ``asyncio.Lock`` because the
compressed file objects are not thread-safe.  A call that the buffers can serve
does not take the lock (nor suspend) unless another operation is in flight.

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
import contextlib
import errno
import io
import operator
import os
import sys
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any, BinaryIO, TypeVar

from .._compression import (
    Compression,
    check_level,
    check_mode,
    open_compressed,
    open_fileobj,
)
from .._engines.fdlimit import release_of
from .._engines.threads import run_in_thread
from .._modes import FileMode
from .._profile import BUILTIN
from .._stats import IOStats
from .base import (
    FAR_SEEK,
    STUB_PARSES_SIZE,
    AsyncBinaryIO,
    as_c_int,
    as_index,
    as_ssize,
    bytes_view,
    check_closed,
    check_count,
    check_offset,
    check_readable,
    check_seekable,
    check_size,
    check_span,
    check_truncate_size,
    check_whence,
    check_writable,
    raw_whence,
    seek_offset,
    unsupported,
    writable_view,
    wrong_direction,
)
from .closing import close_once, report_lost_write
from .durability import sync_fd

__all__ = ("StreamFile", "open_stream")

_T = TypeVar("_T")


#: GzipFile writes through a BufferedWriter from 3.12 on: its readline() is
#: IOBase's (UnsupportedOperation('read'), b"" for size 0), not GzipFile's EBADF.
_GZIP_BUFFERED = sys.version_info >= (3, 12)


def _gzip_read1_size(size: Any) -> int:
    # GzipFile.read1 compares with 0 before anything (TypeError for None).
    return -1 if size < 0 else as_ssize(size)


def _gzip_write_seek_checks(offset: Any, whence: Any, current: int) -> None:
    """What GzipFile.seek in write mode refuses before it writes (and, before
    3.12, before it notices that the file is closed)."""
    if _GZIP_BUFFERED:
        return  # 3.12+ checks closed first
    if whence != io.SEEK_SET:
        if whence != io.SEEK_CUR:
            raise ValueError("Seek from end not supported")
        offset = current + offset
    if offset < current:
        raise OSError("Negative seek in write mode")
    count = offset - current
    # Then it writes count // 1024 chunks and count % 1024 zeros, which refuses
    # a float (or a small numpy int) before the closed file would.
    range(count // 1024)
    b"\0" * (count % 1024)


def _espipe() -> OSError:
    return OSError(errno.ESPIPE, os.strerror(errno.ESPIPE))


class StreamFile(AsyncBinaryIO):
    """An :class:`AsyncBinaryIO` over a blocking file object, served by threads.

    Build it with :func:`open_stream`.  ``backend`` names what serves it
    (``"threads"``), ``compression`` the format.
    """

    backend: str = "threads"

    # Class-level defaults so that __del__ works on a half-built object.
    _closed = True
    _raw: Any = None
    _fileobj: Any = None
    _close_task: asyncio.Task[None] | None = None
    # What the thread engine moved for this file (f.stats): one op per
    # transfer call on the blocking file, bytes as the caller sees them.
    _thread_ops = 0
    _thread_bytes = 0

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
        self._raw = raw
        # For compressed files, the buffered file the compressor sits on: we
        # opened it, so we close it (the compressor never does).
        self._fileobj = fileobj
        self.name = name
        self.mode = mode
        self.compression = compression
        self._executor = executor
        self._unbuffered = buffer_size == 0
        self._chunk = buffer_size if buffer_size > 0 else BUILTIN.stream_chunk
        self._compressed = compression is not Compression.NONE
        # GzipFile.write before 3.12 takes memoryview(data): its errors.
        self._legacy_gzip = compression is Compression.GZIP and not _GZIP_BUFFERED
        self._readable = raw.readable()
        self._writable = raw.writable()
        self._seekable = raw.seekable()
        # Compressed readers return whatever one decompression step yields;
        # reading on until a buffer is full saves thread hops.  Plain files
        # stop as soon as the caller is served: a pipe must not block for
        # read-ahead the caller did not ask for.
        self._greedy = self._compressed
        self._read_raw: Callable[[int], bytes | None] = (
            raw.read1 if self._compressed else raw.read  # type: ignore[attr-defined]
        )
        # O_APPEND writes land at the end, and compressed positions are only
        # known by the compressor: ask the file after such writes.
        self._tell_after_write = appending or self._compressed
        self._rbuf = b""
        self._rpos = 0
        self._wbuf = bytearray()
        self._seek_to: int | None = None
        self._raw_pos: int | None = self._raw_tell()
        self._pending_exc: BaseException | None = None
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

    def readable(self) -> bool:
        """True if the file was opened for reading."""
        if self.compression is Compression.GZIP:
            return self._readable  # GzipFile answers even when closed
        if not self._readable and not self._unbuffered and not self._compressed:
            return False  # BufferedWriter (IOBase.readable): closed or not
        check_closed(self._closed)
        return self._readable

    def writable(self) -> bool:
        """True if the file was opened for writing."""
        if self.compression is Compression.GZIP:
            return self._writable  # GzipFile answers even when closed
        if not self._writable and not self._unbuffered and not self._compressed:
            return False  # BufferedReader (IOBase.writable): closed or not
        check_closed(self._closed)
        return self._writable

    def seekable(self) -> bool:
        """True if the file supports seek/tell."""
        if self.compression is not Compression.GZIP:  # GzipFile answers even when closed
            check_closed(self._closed)
        return self._seekable

    def fileno(self) -> int:
        """The underlying file descriptor."""
        check_closed(self._closed)
        return (self._fileobj or self._raw).fileno()  # type: ignore[no-any-return]

    def _check_direction(self, op: str) -> None:
        """Refuse a wrong-direction call with the error the stdlib file raises."""
        reading = op.startswith("read")
        if self._readable if reading else self._writable:
            return
        if self.compression is Compression.GZIP:
            other = "write" if reading else "read"
            raise OSError(errno.EBADF, f"{op}() on {other}-only GzipFile object")
        if self._compressed:  # BZ2File, LZMAFile (_compression.BaseStream)
            raise unsupported("File not open for " + ("reading" if reading else "writing"))
        raw = self._unbuffered
        check_readable(False, raw=raw) if reading else check_writable(False, raw=raw)

    def _check_args_read(self, op: str, size: object, convert: Callable[[object], int]) -> int:
        """Validate a read call in the order the stdlib file would.

        GzipFile checks closed and the mode before it looks at *size*; a
        BufferedWriter lacks read()/read1() (BufferedIOBase's stub parses a C
        int, then refuses, closed or not); FileIO and the buffered readers
        convert *size* first, then check closed and the direction.
        """
        if self._compressed:
            check_closed(self._closed)
            self._check_direction(op)
            return convert(size)
        if not self._readable and not self._unbuffered:
            if STUB_PARSES_SIZE:
                as_c_int(size)
            raise unsupported(op)
        n = convert(size)
        if op == "read" and n < -1 and not self._unbuffered:
            raise ValueError("read length must be non-negative or -1")
        check_closed(self._closed)
        self._check_direction(op)
        return n

    # -- blocking helpers (run in a worker thread, under the lock) ----------

    def _raw_tell(self) -> int | None:
        try:
            return int(self._raw.tell())
        except (OSError, io.UnsupportedOperation):
            return None

    def _count(self, nbytes: int) -> None:
        self._thread_ops += 1
        self._thread_bytes += nbytes

    def _counted_sync(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        """``fn(arg)`` -- a read or write of the blocking file -- counted."""
        result = fn(arg)
        if isinstance(result, int):
            self._count(result)
        else:
            self._count(len(result) if result else 0)
        return result

    @property
    def stats(self) -> IOStats:
        """What served this file: every transfer went through the thread engine."""
        return IOStats(
            backend=self.backend, thread_ops=self._thread_ops, thread_bytes=self._thread_bytes
        )

    def _unread(self) -> int:
        return len(self._rbuf) - self._rpos

    def _logical_pos(self) -> int | None:
        base = self._seek_to if self._seek_to is not None else self._raw_pos
        if base is None:
            return None
        if self._wbuf:
            return base + len(self._wbuf)
        return base - self._unread()

    def _drop_read_buffer(self) -> None:
        # The raw position is ahead of the logical one by the unread bytes;
        # remember where the next raw operation has to start.
        if self._unread() and self._seekable:
            self._seek_to = self._logical_pos()
        self._rbuf = b""
        self._rpos = 0

    def _apply_seek_sync(self) -> None:
        target = self._seek_to
        if target is not None:
            self._raw_pos = self._raw.seek(target)
            self._seek_to = None

    def _write_all_sync(self, data: bytes | memoryview) -> None:
        """Write every byte of *data*: a short write is continued, a zero count
        is an error rather than an endless loop.  ``self._wdone`` says how
        much went out, also when it raised."""
        self._wdone = done = 0
        # Written bytes make anything read ahead stale (write-then-read).
        self._rbuf = b""
        self._rpos = 0
        with memoryview(data) as view:
            try:
                while done < len(view):
                    n = self._raw.write(view[done:])
                    self._count(n or 0)
                    if n is None:
                        raise BlockingIOError(
                            errno.EAGAIN, "write could not complete without blocking"
                        )
                    if n <= 0:
                        raise OSError(
                            errno.EIO, f"write returned {n} with {len(view) - done} bytes left"
                        )
                    done += n
            finally:
                self._wdone = done
                if self._tell_after_write:
                    self._raw_pos = self._raw_tell()
                elif self._raw_pos is not None:
                    self._raw_pos += done

    def _flush_sync(self) -> None:
        self._apply_seek_sync()
        if self._wbuf:
            # Write from an immutable copy: a traceback holding a view of the
            # bytearray would forbid trimming it.
            data = bytes(self._wbuf)
            try:
                self._write_all_sync(data)
            finally:
                del self._wbuf[: self._wdone]

    def _fill_sync(self, need: int, newline: bool = False, once: bool = False) -> None:
        """Refill the read buffer in one thread call.

        Reads until the unread bytes reach *need* (``need >= 0``), or a newline
        arrived (*newline*), or EOF; a greedy (compressed) file also reads on
        to a whole buffer.  An error after some bytes arrived is kept for later,
        so the bytes before it are still delivered (as ``_pyio`` delivers the
        payload of a truncated gzip before raising EOFError).
        """
        self._flush_sync()
        chunks = [self._rbuf[self._rpos :]] if self._unread() else []
        have = len(chunks[0]) if chunks else 0
        found = newline and bool(chunks) and b"\n" in chunks[0]
        chunk = self._chunk
        try:
            while True:
                satisfied = (need >= 0 and have >= need) or found
                if satisfied and (not self._greedy or have >= chunk):
                    break
                data = self._read_raw(max(chunk, need - have))
                self._count(len(data) if data else 0)
                if not data:
                    break
                chunks.append(data)
                have += len(data)
                if self._raw_pos is not None:
                    self._raw_pos += len(data)
                if newline and not found:
                    found = b"\n" in data
                if once:
                    break
        except Exception as exc:
            if have == 0:
                raise
            self._pending_exc = exc
        finally:
            self._rbuf = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            self._rpos = 0
            if self._compressed:
                self._raw_pos = self._raw_tell()

    def _readall_sync(self) -> bytes:
        self._flush_sync()
        head = self._rbuf[self._rpos :]
        self._rbuf = b""
        self._rpos = 0
        rest = self._raw.read()
        self._count(len(rest) if rest else 0)
        self._raw_pos = self._raw_tell()
        return head + rest if head else (rest or b"")

    def _close_sync(self) -> None:
        try:
            try:
                if self._wbuf:
                    self._flush_sync()
            finally:
                self._raw.close()
        finally:
            if self._fileobj is not None:
                self._fileobj.close()

    # -- async plumbing ---------------------------------------------------

    @contextlib.asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """The handle's lock for a call that suspends, on an open file; while it
        is held the buffer-only fast paths stand aside (``_busy``)."""
        async with self._lock:
            check_closed(self._closed)
            self._busy = True
            try:
                yield
            finally:
                self._busy = False

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run *fn* in a thread while holding the handle's lock."""
        async with self._exclusive():
            return await run_in_thread(fn, *args, executor=self._executor)

    def _take_pending(self) -> None:
        exc = self._pending_exc
        if exc is not None:
            self._pending_exc = None
            raise exc

    # -- reading ----------------------------------------------------------

    async def read(self, size: int | None = -1, /) -> bytes:
        """Read up to *size* bytes; fewer only at EOF (all when negative/None)."""
        n = self._check_args_read("read", size, check_size)
        if self._unbuffered:
            return await self._call(self._counted_sync, self._raw.read, n)  # type: ignore[no-any-return]
        if n < -1:
            raise ValueError("read length must be non-negative or -1")
        if n == 0:
            return b""
        if n > 0 and not self._busy and self._unread() >= n:
            pos = self._rpos
            self._rpos = pos + n
            return self._rbuf[pos : pos + n]
        async with self._exclusive():
            if n < 0:
                self._take_pending()
                data: bytes = await run_in_thread(self._readall_sync, executor=self._executor)
                return data
            if self._unread() < n:
                await run_in_thread(self._fill_sync, n, executor=self._executor)
                if self._unread() < n:
                    self._take_pending()
            pos = self._rpos
            end = min(pos + n, len(self._rbuf))
            self._rpos = end
            return self._rbuf[pos:end]

    async def read1(self, size: int = -1, /) -> bytes:
        """Read up to *size* bytes with at most one raw read (buffered first)."""
        n = self._check_args_read("read1", size, _gzip_read1_size if self._compressed else as_ssize)
        if self._unbuffered:
            return await self._call(  # type: ignore[no-any-return]
                self._counted_sync, self._raw.read, n if n >= 0 else self._chunk
            )
        if n == 0:
            return b""
        if not self._busy and self._unread():
            pos = self._rpos
            end = len(self._rbuf) if n < 0 else min(pos + n, len(self._rbuf))
            self._rpos = end
            return self._rbuf[pos:end]
        async with self._exclusive():
            if not self._unread():
                self._take_pending()
                # One raw read of at least a buffer (of n if larger, like
                # BufferedReader.read1), so positions match the stdlib's.
                want = n if n > 0 else 1
                await run_in_thread(self._fill_sync, want, False, True, executor=self._executor)
            pos = self._rpos
            end = len(self._rbuf) if n < 0 else min(pos + n, len(self._rbuf))
            self._rpos = end
            return self._rbuf[pos:end]

    async def readinto(self, buffer: Any, /) -> int:
        """Read into a writable buffer until it is full or EOF; return the count."""
        with writable_view(buffer, raw=self._unbuffered and not self._compressed) as flat:
            if not self._readable and not self._unbuffered and not self._compressed:
                raise unsupported("read")  # BufferedIOBase.readinto calls read()
            data = await self.read(len(flat))
            flat[: len(data)] = data
            return len(data)

    async def peek(self, size: int = 0, /) -> bytes:
        """The read-ahead buffer from the position (refilled by one raw read if
        empty); the position does not move -- pipes included."""
        operator.index(size)
        if self._unbuffered:
            return await super().peek(size)
        check_closed(self._closed)
        self._check_direction("read")
        if not self._busy and self._unread():
            return self._rbuf[self._rpos :]
        async with self._exclusive():
            if not self._unread():
                self._take_pending()
                await run_in_thread(self._fill_sync, 1, False, True, executor=self._executor)
            return self._rbuf[self._rpos :]

    async def readline(self, size: int | None = -1, /) -> bytes:
        """Read one line (up to *size* bytes), the newline included."""
        # Each stdlib class checks in its own order (IOBase.readline returns
        # b"" for size 0 before anything else).
        if self._compressed:
            check_closed(self._closed)
        limit = check_size(size)
        if self._compressed:
            if not self._readable and self.compression is Compression.GZIP and _GZIP_BUFFERED:
                # GzipFile.readline on 3.12+ is its BufferedWriter's (IOBase's).
                if limit == 0:
                    return b""
                raise unsupported("read")
            self._check_direction("readline")
        elif self._unbuffered:  # FileIO: IOBase.readline, then read()
            if limit == 0:
                return b""
            check_closed(self._closed)
            self._check_direction("readline")
        else:
            if self._readable:
                check_closed(self._closed)  # the buffered readers check first
            if limit == 0:
                return b""
            if not self._readable:
                raise unsupported("read")  # BufferedWriter: IOBase.readline calls read()
        if limit == 0:
            return b""
        if self._unbuffered:
            return await self._call(self._counted_sync, self._raw.readline, limit)  # type: ignore[no-any-return]
        if not self._busy:
            line = self._line_from_buffer(limit, False)
            if line is not None:
                return line
        async with self._exclusive():
            line = self._line_from_buffer(limit, False)
            if line is None:
                await run_in_thread(self._fill_sync, limit, True, executor=self._executor)
                # Without a newline the refill stopped at EOF, unless an
                # error cut it short: that error is the answer then.
                line = self._line_from_buffer(limit, self._pending_exc is None)
                if line is None:
                    self._take_pending()
            return line or b""

    def _line_from_buffer(self, limit: int, at_eof: bool) -> bytes | None:
        """A line served from the read buffer, or None if it needs more data."""
        buf = self._rbuf
        pos = self._rpos
        end = buf.find(b"\n", pos)
        if end >= 0:
            end += 1
        elif at_eof:
            end = len(buf)
        over = end < 0 or end - pos > limit
        if limit > 0 and over and (len(buf) - pos >= limit or at_eof):
            end = min(pos + limit, len(buf))
        if end < 0:
            return None
        self._rpos = end
        return buf[pos:end]

    # -- writing ----------------------------------------------------------

    async def write(self, data: Any, /) -> int:
        """Write a bytes-like object; return its length (always all of it)."""
        compressed, unbuffered = self._compressed, self._unbuffered
        # Each check once, in the order the stdlib class makes them: GzipFile
        # checks closed and its mode first; a BufferedReader lacks write();
        # FileIO looks at the data first.
        if compressed:
            check_closed(self._closed)
        if compressed or not unbuffered:
            self._check_direction("write")
        view = bytes_view(data, via_memoryview=self._legacy_gzip)
        with view:
            if not compressed:
                check_closed(self._closed)
                if unbuffered:
                    self._check_direction("write")
            n = view.nbytes
            if self._unbuffered:
                return await self._call(self._counted_sync, self._raw.write, view)  # type: ignore[no-any-return]
            if not self._busy and not self._unread() and len(self._wbuf) + n < self._chunk:
                self._wbuf += view
                return n
            async with self._exclusive():
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

    def _write_big_sync(self, view: memoryview) -> None:
        self._flush_sync()  # applies a pending seek too
        self._write_all_sync(view)

    # -- positioning ------------------------------------------------------

    async def seek(self, offset: int, whence: int = 0, /) -> int:
        """Move the stream position; return the new absolute position."""
        if self._compressed:
            # The format's own seek judges offset and whence (GzipFile's rules).
            if self._closed and self.compression is Compression.GZIP and not self._readable:
                _gzip_write_seek_checks(offset, whence, self._raw_pos or 0)
            check_closed(self._closed)
            if not (hasattr(offset, "__index__") and hasattr(whence, "__index__")):
                return await self._call(self._seek_sync, offset, whence)  # type: ignore[no-any-return]
            offset = as_index(offset)
            whence = as_index(whence)
        else:
            raw = self._unbuffered
            whence = check_whence(whence, raw=raw)
            check_closed(self._closed)
            offset = seek_offset(offset, raw=raw)
            if raw:
                raw_whence(whence)
        check_seekable(self._seekable)
        if self._unbuffered:
            return await self._call(self._raw.seek, offset, whence)  # type: ignore[no-any-return]
        async with self._exclusive():
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
                if 0 <= target < FAR_SEEK and not self._compressed:
                    # A plain file: the raw seek is done lazily, in the same
                    # thread hop as the next read or write (a far one now:
                    # the filesystem may refuse it, and then nothing moves).
                    self._rbuf = b""
                    self._rpos = 0
                    self._seek_to = target
                    return target
        result: int = await run_in_thread(self._seek_sync, offset, whence, executor=self._executor)
        return result

    def _seek_sync(self, offset: int, whence: int) -> int:
        self._flush_sync()
        # Keeps the logical position in _seek_to, so a failed seek moves nothing.
        self._drop_read_buffer()
        self._pending_exc = None
        if whence == io.SEEK_CUR:
            # The raw position may be ahead of ours by the read-ahead.
            pos = self._logical_pos()
            if pos is not None:
                offset, whence = pos + offset, io.SEEK_SET
        pos = int(self._raw.seek(offset, whence))
        if self._compressed:
            # GzipFile.seek in write mode returns a stale offset on 3.12+ (the
            # zeros sit in its BufferedWriter); tell() knows where it is.
            pos = int(self._raw.tell())
        self._seek_to = None
        self._raw_pos = pos
        return pos

    async def tell(self) -> int:
        """The stream position (OSError ESPIPE on a pipe, as the stdlib)."""
        check_closed(self._closed)
        if self._unbuffered:
            return await self._call(self._raw.tell)  # type: ignore[no-any-return]
        pos = self._logical_pos()
        if pos is None:
            raise _espipe()
        return pos

    async def truncate(self, size: int | None = None, /) -> int:
        """Resize the file to *size* (default: the position); the position stays."""
        if self._compressed:
            raise unsupported("truncate")  # IOBase.truncate, closed or not
        if self._closed:
            raise ValueError("truncate of closed file")
        if not self._writable:
            raise wrong_direction("truncate", raw=self._unbuffered)
        size = check_truncate_size(size)
        result: int = await self._call(self._truncate_sync, size)
        return result

    def _truncate_sync(self, size: int | None) -> int:
        if self._unbuffered:
            return int(self._raw.truncate(size))
        # As BufferedRandom: flush, put the OS position where ours is, then let
        # the raw file truncate (at that position when size is None).
        self._flush_sync()
        self._drop_read_buffer()
        self._apply_seek_sync()
        result = int(self._raw.truncate(size))
        self._raw_pos = self._raw_tell()
        return result

    # -- flushing and durability -------------------------------------------

    async def flush(self) -> None:
        """Write buffered data to the OS (a compressor also flushes its state:
        gzip and zstd data written so far then decodes; bz2/lzma follow the
        stdlib, which cannot flush mid-stream)."""
        if self._closed:
            raise ValueError("flush of closed file")
        if self._unbuffered or not (self._wbuf or (self._compressed and self._writable)):
            return
        await self._call(self._flush_all_sync)

    def _flush_all_sync(self) -> None:
        self._flush_sync()
        if self._writable:
            self._raw.flush()
            if self._fileobj is not None:
                self._fileobj.flush()

    async def fsync(self) -> None:
        """Flush (compressor, buffer, OS) then ``fsync``: data and metadata durable."""
        check_closed(self._closed)
        await self._call(self._fsync_blocking, False)

    async def fdatasync(self) -> None:
        """Flush then ``fdatasync`` (``fsync`` where it does not exist)."""
        check_closed(self._closed)
        await self._call(self._fsync_blocking, True)

    def _fsync_blocking(self, data_only: bool) -> None:
        self._flush_all_sync()
        sync_fd(self.fileno(), data_only)

    # -- positional I/O (plain seekable files only) --------------------------

    def _check_positional(self, offset: object) -> int:
        if self._compressed or not self._seekable:
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

    def _pread_sync(self, offset: int, size: int) -> bytes:
        self._flush_sync()  # buffered writes are visible to positional reads
        fd = self.fileno()
        pread = getattr(os, "pread", None)
        if pread is None:  # Windows
            return self._without_positional_calls(fd, offset, self._read_here, fd, size)
        parts = []
        while size > 0:
            data = pread(fd, size, offset)
            self._count(len(data))
            if not data:
                break
            parts.append(data)
            offset += len(data)
            size -= len(data)
        return b"".join(parts)

    def _read_here(self, fd: int, size: int) -> bytes:
        parts = []
        while size > 0:
            data = os.read(fd, size)
            self._count(len(data))
            if not data:
                break
            parts.append(data)
            size -= len(data)
        return b"".join(parts)

    def _without_positional_calls(
        self, fd: int, offset: int, fn: Callable[..., _T], *args: Any
    ) -> _T:
        """``fn(*args)`` at *offset* where the OS has no pread/pwrite: seek
        there, transfer, seek back.  Nothing else can move the fd meanwhile:
        every operation of this handle runs under its lock."""
        saved = os.lseek(fd, 0, os.SEEK_CUR)
        try:
            os.lseek(fd, offset, os.SEEK_SET)
            return fn(*args)
        finally:
            os.lseek(fd, saved, os.SEEK_SET)

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

    def _pwrite_sync(self, offset: int, view: memoryview) -> int:
        self._flush_sync()
        # Bytes read ahead may now be stale.
        self._drop_read_buffer()
        fd = self.fileno()
        pwrite = getattr(os, "pwrite", None)
        if pwrite is None:  # Windows
            return self._without_positional_calls(
                fd, offset, self._write_here, lambda done: os.write(fd, view[done:]), view
            )
        return self._write_here(lambda done: pwrite(fd, view[done:], offset + done), view)

    def _write_here(self, write: Callable[[int], int], view: memoryview) -> int:
        """Call ``write(done)`` until all of *view* is written."""
        done = 0
        while done < len(view):
            n = write(done)
            if n <= 0:
                raise OSError(errno.EIO, f"pwrite returned {n}")
            self._count(n)
            done += n
        return done

    # -- closing ----------------------------------------------------------

    async def close(self) -> None:
        """Flush and close: the close contract of :mod:`hybridio._layers.closing`
        (idempotent, completes when cancelled, a flush error surfaces)."""
        await close_once(self, self._close)

    async def _close(self) -> None:
        async with self._lock:
            if self._closed:
                return
            self._busy = True
            try:
                await run_in_thread(self._close_sync, executor=self._executor)
            finally:
                self._closed = True
                self._busy = False
                self._rbuf = b""
                release_of(self)

    def __del__(self) -> None:
        if self._closed or self._raw is None:
            return
        try:
            warnings.warn(f"unclosed file {self!r}", ResourceWarning, stacklevel=2, source=self)
        finally:
            self._close_at_gc()

    def _close_at_gc(self, tail: bytes = b"") -> None:
        """Close with blocking calls, for the garbage collector: land the
        write buffer and then *tail* (a text layer's pending bytes) at the
        stream position, and release the fd.

        A failure means those bytes are lost: it is raised (with a note), so
        that from ``__del__`` it reaches ``sys.unraisablehook`` instead of
        vanishing.
        """
        if self._closed or self._raw is None:
            return
        self._closed = True
        release_of(self)
        if tail:
            self._drop_read_buffer()
            self._wbuf += tail
        pending = len(self._wbuf)
        try:
            self._close_sync()
        except Exception as exc:
            if pending or (self._compressed and self._writable):
                raise report_lost_write(exc, self, pending) from None
            # A reader (or a writer with nothing left) loses nothing.


def _open_sync(
    file: Any,
    fmode: FileMode,
    buffering: int,
    closefd: bool,
    opener: Callable[[str, int], int] | None,
    compression: Compression,
    level: object,
    executor: concurrent.futures.Executor | None,
) -> StreamFile:
    if compression is Compression.NONE:
        # Python 3.10's "U" (universal newlines) only ever reads.
        mode = "rb" if "U" in fmode.mode else fmode.mode.replace("t", "")
        raw: Any = io.FileIO(
            file, mode if "b" in mode else mode + "b", closefd=closefd, opener=opener
        )
        try:
            size = buffering if buffering > 1 else BUILTIN.stream_chunk
            return StreamFile(
                raw,
                name=raw.name,
                mode=raw.mode,
                buffer_size=0 if buffering == 0 else size,
                appending=fmode.appending,
                executor=executor,
            )
        except BaseException:
            raw.close()
            raise
    fileobj = open_fileobj(file, compression, fmode, closefd=closefd, opener=opener)
    try:
        comp = open_compressed(fileobj, compression, fmode, level, file)
        try:
            letter = next(c for c in "rwax" if c in fmode.mode)
            return StreamFile(
                comp,
                fileobj=fileobj,
                name=getattr(fileobj, "name", file),
                mode=letter + "b",
                compression=compression,
                buffer_size=buffering if buffering > 1 else BUILTIN.stream_chunk,
                executor=executor,
            )
        except BaseException:
            comp.close()
            raise
    except BaseException:
        fileobj.close()
        raise


def _discard(f: StreamFile) -> None:
    # Close an object whose opener was cancelled (nothing was written yet).
    f._closed = True
    f._close_sync()


async def open_stream(
    file: Any,
    fmode: FileMode,
    *,
    buffering: int = -1,
    closefd: bool = True,
    opener: Callable[[str, int], int] | None = None,
    compression: Compression | str | None = Compression.NONE,
    compresslevel: object = None,
    executor: concurrent.futures.Executor | None = None,
) -> StreamFile:
    """Open *file* in a worker thread and return a :class:`StreamFile`.

    The open itself runs in a thread, so opening a FIFO with no peer yet does
    not block the event loop.  Mode and level errors are raised before any fd
    exists; if building the file fails after the open, the fd is released.
    ``compression`` must be concrete here: the caller resolves AUTO first
    (:func:`hybridio._compression.resolve`, in a thread).
    """
    comp = Compression.coerce(compression)
    if comp is Compression.AUTO:
        raise ValueError("open_stream needs a concrete compression; resolve AUTO first")
    check_mode(comp, fmode)
    level = check_level(comp, fmode, compresslevel) if comp is not Compression.NONE else None
    return await run_in_thread(
        _open_sync,
        file,
        fmode,
        buffering,
        closefd,
        opener,
        comp,
        level,
        executor,
        executor=executor,
        cleanup=_discard,
    )
