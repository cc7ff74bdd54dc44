"""``AsyncBinaryIO`` over the kernel engine: stream position, read-ahead, write-behind.

The stream position lives in this object (kernel I/O is positional), so the
state is small and exact:

* ``_pos`` is the logical position the user sees (``tell()``);
* the read-ahead buffer ``_rbuf`` holds file bytes starting at ``_rbuf_off``;
* the write-behind buffer ``_wbuf`` holds bytes to land at ``_wbuf_off``.

Invariant: when ``_wbuf`` is non-empty, ``_pos == _wbuf_off + len(_wbuf)`` and
the read buffer is empty.  Reads, seeks and overlapping positional calls flush
the write buffer first, so every result equals what ``open()`` returns.

Stream calls (``read``, ``write``, ``seek``, ``tell``, ``truncate``, ``flush``,
``close``) on one handle behave as if serialised, whichever tasks make them: a
call that must suspend takes the handle's lock, and a call the buffers can
serve without suspending runs only while no locked call is in flight.
Positional calls stay concurrent; they take the lock only to flush buffered
bytes they overlap.

Errors and cancellation (RELIABILITY X4, F3): the position and the file always
tell the same story.  A ``write()`` that fits the buffer is stored; one that
does not first flushes the buffer, and if that flush fails (ENOSPC) or is
cancelled the new data is NOT taken, so a retry writes it exactly once (as
``BufferedWriter`` does).  A write that goes straight to the kernel moves the
position by the bytes the kernel confirmed, even when it then raises.  A
flush that fails keeps only the unconfirmed tail for a later retry.

A file opened from an fd starts at the fd's offset and leaves the fd's offset
at its position after every call (where an unbuffered ``FileIO`` would have
it), so a later ``os.write`` or ``print()`` to the same fd does not overwrite
what this file wrote.
"""

from __future__ import annotations

import asyncio
import errno
import os
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from .._engines.fdlimit import release_of
from .._modes import FileMode
from .._profile import BUILTIN
from .base import (
    FAR_SEEK,
    STUB_PARSES_SIZE,
    AsyncBinaryIO,
    as_c_int,
    bytes_view,
    check_closed,
    check_readable,
    check_truncate_size,
    check_whence,
    check_writable,
    lseek_probe,
    raw_whence,
    seek_offset,
    seek_target,
    unsupported,
    wrong_direction,
)
from .bufreads import StreamReads
from .closing import close_once, report_lost_write
from .exclusive import Exclusive
from .positional import PositionalIO
from .raw import RawKernelFile, WriteProgress

__all__ = ("KernelBinaryFile",)

_P = ParamSpec("_P")
_T = TypeVar("_T")


class KernelBinaryFile(StreamReads, PositionalIO, AsyncBinaryIO):
    """A regular file served by the kernel engine (io_uring, Linux AIO, caio pools)."""

    # Defaults as class attributes: an open sets only what differs (a
    # small-file open builds one of these, and each store costs).
    _closed = False
    _pos = 0
    _rbuf = b""
    _rbuf_off = 0
    _wbuf_off = 0
    # Created on first use: most small-file opens never need it.
    _lock: asyncio.Lock | None = None
    _lock_loop: asyncio.AbstractEventLoop | None = None
    _close_task: asyncio.Task[None] | None = None
    #: True while a stream call that suspends is in flight on this handle
    #: (set by :class:`~hybridio._layers.exclusive.Exclusive`): the fast paths
    #: then stand aside.
    _busy = False

    def __init__(
        self,
        raw: RawKernelFile,
        fmode: FileMode,
        *,
        name: Any,
        buffer_size: int = BUILTIN.read_ahead,
        closefd: bool = True,
        inline_batch_max: int = BUILTIN.inline_batch_max,
    ) -> None:
        self._raw = raw
        self._inline = raw.inline
        self._inline_batch_max = inline_batch_max
        self._readable = fmode.readable
        self._fd = raw.fd
        self._fmode = fmode
        self.name = name
        self.mode = fmode.raw_mode
        self._buffer_size = buffer_size
        self._closefd = closefd
        # Opened from an fd: others may use the same open file description,
        # so its offset is where this file starts and is kept up to date.
        self._share_offset = isinstance(name, int)
        if fmode.appending:
            self._pos = os.fstat(raw.fd).st_size
        elif self._share_offset:
            self._pos = os.lseek(raw.fd, 0, os.SEEK_CUR)
        # Last: __del__ takes a file without it for one whose __init__ failed.
        self._wbuf = bytearray()

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
        if self._buffer_size and not self._fmode.readable:
            return False  # BufferedWriter: IOBase.readable(), closed or not
        check_closed(self._closed)
        return self._fmode.readable

    def writable(self) -> bool:
        """True if the file was opened for writing."""
        if self._buffer_size and not self._fmode.writable:
            return False  # BufferedReader: IOBase.writable(), closed or not
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
        check_readable(self._fmode.readable, raw=not self._buffer_size)

    def _refuse_unreadable(self, op: str, size: object) -> None:
        # BufferedWriter lacks read()/read1(): BufferedIOBase's stubs parse a C
        # int, then refuse, whether the file is closed or not.
        if self._buffer_size and not self._readable:
            if STUB_PARSES_SIZE:
                as_c_int(size)
            raise unsupported(op)

    def _check_write(self) -> None:
        check_closed(self._closed)
        check_writable(self._fmode.writable, raw=not self._buffer_size)

    def _exclusive(self) -> Exclusive:
        """The handle's slow-path bracket, over this loop's lock.

        An asyncio.Lock binds to the loop of its first contention; a file that
        outlives its loop gets a fresh lock in the next one.
        """
        loop = asyncio.get_running_loop()
        lock = self._lock
        if self._lock_loop is not loop or lock is None:
            if lock is None or not lock.locked():
                self._lock = asyncio.Lock()
            self._lock_loop = loop
        return Exclusive(self)

    async def _serialised(
        self, call: Callable[_P, Awaitable[_T]], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """Run a stream call that may suspend under the handle's lock."""
        async with self._exclusive():
            try:
                return await call(*args, **kwargs)
            finally:
                if self._share_offset:
                    self._publish_offset()

    def _publish_offset(self) -> None:
        """Leave the fd's offset where an unbuffered FileIO would have it.

        Also before closing an fd we own: a dup of it shares the offset.
        """
        try:
            os.lseek(self._fd, self._wbuf_off if self._wbuf else self._pos, os.SEEK_SET)
        except OSError:
            pass  # fd closed behind our back: the next real call reports EBADF

    async def _flush_wbuf(self) -> None:
        """Write the write-behind buffer; on failure keep only what did not land."""
        if not self._wbuf:
            return
        progress = WriteProgress()
        try:
            with memoryview(self._wbuf) as view:
                await self._raw.pwrite_all(view, self._wbuf_off, progress)
        finally:
            if progress.written:
                del self._wbuf[: progress.written]
                self._wbuf_off += progress.written
        if self._fmode.appending:
            # O_APPEND put the bytes at the real end, wherever that was; the
            # position follows them as FileIO's does.
            self._pos = os.fstat(self._fd).st_size

    def _drop_rbuf(self) -> None:
        self._rbuf = b""
        self._rbuf_off = self._pos

    # -- writing --------------------------------------------------------------

    def _store(self, view: memoryview, n: int) -> bool:
        """Take *view* into the write buffer without I/O if it fits; False if not."""
        if self._rbuf:
            self._drop_rbuf()
        if self._wbuf:
            if self._wbuf_off + len(self._wbuf) != self._pos:
                return False
        else:
            if self._fmode.appending:
                # The bytes will land at the end, so the position is there too
                # (as with an unbuffered FileIO), not where a seek left it.
                self._pos = os.fstat(self._fd).st_size
            self._wbuf_off = self._pos
        if len(self._wbuf) + n > self._buffer_size:
            return False
        self._wbuf += view
        self._pos += n
        return True

    async def write(self, data: Any, /) -> int:
        """Buffer *data* (any bytes-like object); flush when the buffer is full."""
        if self._buffer_size and not self._fmode.writable:
            raise unsupported("write")  # BufferedReader has no write(): before the data
        view = bytes_view(data)
        self._check_write()
        n = view.nbytes
        if n == 0:
            return 0
        if not self._busy and self._buffer_size and self._store(view, n):
            return n
        return await self._serialised(self._write, view, n)

    async def _write(self, view: memoryview, n: int) -> int:
        if self._buffer_size and self._store(view, n):
            return n
        # It does not fit: flush first.  If that fails or is cancelled, this
        # write's bytes were not taken (BufferedWriter's rule): a retry lands
        # them once.
        await self._flush_wbuf()
        if self._buffer_size and n < self._buffer_size:
            stored = self._store(view, n)
            assert stored
            return n
        if self._rbuf:
            self._drop_rbuf()
        if self._fmode.appending:
            self._pos = os.fstat(self._fd).st_size
        progress = WriteProgress()
        try:
            await self._raw.pwrite_all(view, self._pos, progress)
        except OSError:
            self._moved_by(progress.written)
            if not self._buffer_size and progress.written:
                # Unbuffered: like write(2) and FileIO, report the short count;
                # the next write raises the error.
                return progress.written
            raise
        except asyncio.CancelledError:
            self._moved_by(progress.written)
            raise
        self._moved_by(progress.written)
        return n

    def _moved_by(self, written: int) -> None:
        if self._fmode.appending:
            self._pos = os.fstat(self._fd).st_size
        else:
            self._pos += written
        self._wbuf_off = self._pos

    async def flush(self) -> None:
        """Write the write-behind buffer to the OS."""
        check_closed(self._closed)
        if self._wbuf or self._busy:
            await self._serialised(self._flush_wbuf)

    async def fsync(self) -> None:
        """Flush, then fsync: data and metadata durable."""
        check_closed(self._closed)
        await self._serialised(self._flush_wbuf)
        await self._raw.fsync()

    async def fdatasync(self) -> None:
        """Flush, then fdatasync: data durable."""
        check_closed(self._closed)
        await self._serialised(self._flush_wbuf)
        await self._raw.fdatasync()

    async def truncate(self, size: int | None = None, /) -> int:
        """Resize to *size* (default: the position); the position is unchanged."""
        check_closed(self._closed)
        if not self._fmode.writable:
            raise wrong_direction("truncate", raw=not self._buffer_size)
        checked = check_truncate_size(size)
        return await self._serialised(self._truncate, checked)

    async def _truncate(self, size: int | None) -> int:
        await self._flush_wbuf()
        new_size = self._pos if size is None else size
        os.ftruncate(self._fd, new_size)
        self._drop_rbuf()
        return new_size

    # -- positioning ----------------------------------------------------------

    async def seek(self, offset: int, whence: int = 0, /) -> int:
        """Move the position (whence 0, 1, 2, or SEEK_DATA/SEEK_HOLE) and return it."""
        raw = not self._buffer_size
        how = check_whence(whence, raw=raw)
        check_closed(self._closed)
        off = seek_offset(offset, raw=raw)
        if raw:
            raw_whence(how)
        return await self._serialised(self._seek, off, how)

    async def _seek(self, off: int, how: int) -> int:
        await self._flush_wbuf()
        if how == os.SEEK_SET:
            target = off
        elif how == os.SEEK_CUR:
            target = self._pos + off
        elif how == os.SEEK_END:
            target = os.fstat(self._fd).st_size + off
        else:  # SEEK_DATA/SEEK_HOLE: only the kernel knows where the holes are
            target = lseek_probe(self._fd, off, how)
        if target >= FAR_SEEK:
            lseek_probe(self._fd, seek_target(target))
        self._pos = seek_target(target)
        return target

    async def tell(self) -> int:
        """The stream position."""
        check_closed(self._closed)
        if self._busy:
            # Another task's read/write/seek is in flight: answer after it.
            async with self._exclusive():
                return self._pos
        return self._pos

    # -- positional -----------------------------------------------------------

    # -- closing --------------------------------------------------------------

    async def _do_close(self) -> None:
        try:
            async with self._exclusive():
                await self._flush_wbuf()
        finally:
            # The fd is released even when the flush failed; an error from
            # close() then carries the flush error as __context__.  Not under
            # a read started early, though (see .prefetch).
            ahead = self._raw.ahead
            try:
                if ahead is not None:
                    await ahead.settle()
            finally:
                self._release()

    def _release(self) -> None:
        """Mark closed, drop the buffers, give back the fd slot and the fd."""
        if self._share_offset:
            self._publish_offset()
        self._closed = True
        self._rbuf = b""
        self._wbuf.clear()
        release_of(self)
        if self._closefd:
            os.close(self._fd)

    async def close(self) -> None:
        """Flush and close: the close contract of :mod:`hybridio._layers.closing`
        (idempotent, completes when cancelled, a flush error surfaces, chained
        to the CancelledError when the close was also cancelled)."""
        if (
            self._close_task is None
            and not self._closed
            and not self._wbuf
            and not self._busy
            and (self._raw.ahead is None or not self._raw.ahead.busy)
        ):
            # Nothing to flush: close right here.  No await, so nothing can
            # cancel it halfway, and no task costs a loop turn.
            self._release()
            return
        await close_once(self, self._do_close)

    def __del__(self) -> None:
        # No _wbuf: __init__ failed before its end, and the opener closed the fd.
        if self._closed or "_wbuf" not in self.__dict__:
            return
        try:
            warnings.warn(f"unclosed file {self!r}", ResourceWarning, stacklevel=2, source=self)
        finally:
            self._close_at_gc()

    def _close_at_gc(self, tail: bytes = b"") -> None:
        """Close with blocking calls, for the garbage collector: land the
        write buffer, then *tail* (a text layer's pending bytes) at the
        position, and release the fd.

        A failed write means those bytes are lost: it is raised (with a note),
        so that from ``__del__`` it reaches ``sys.unraisablehook`` instead of
        vanishing.
        """
        if self._closed:
            return
        self._closed = True
        pieces = [(bytes(self._wbuf), self._wbuf_off)] if self._wbuf else []
        if tail:
            # With a write buffer, _pos is where it ends (the class invariant).
            pieces.append((tail, self._pos))
        self._wbuf.clear()
        lost = sum(len(data) for data, _ in pieces)
        try:
            # Nothing lost: land buffered bytes with a blocking pwrite before
            # the fd goes; an event loop may not exist any more.
            for data, off in pieces:
                view = memoryview(data)
                while view:
                    n = os.pwrite(self._fd, view, off)
                    if n <= 0:
                        raise OSError(errno.EIO, f"pwrite returned {n}", self.name)
                    view = view[n:]
                    off += n
                    lost -= n
        except OSError as exc:
            raise report_lost_write(exc, self, lost) from None
        finally:
            release_of(self)
            if self._raw.ahead is not None:
                self._raw.ahead.settle_blocking()
            if self._closefd:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
