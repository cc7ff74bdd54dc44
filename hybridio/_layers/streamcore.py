"""The blocking half of a thread-served file: buffers, positions, and the
``*_sync`` steps that a worker thread runs on the blocking file object.

:class:`StreamCore` knows nothing of the event loop: every method here either
moves bytes within the buffers or is one step the async facade
(:class:`hybridio._layers.streamfile.StreamFile`) runs in a worker thread
while it holds the handle's lock.  So the state machine can be driven, and
tested, with plain calls.

State: ``_rbuf[_rpos:]`` are bytes read ahead (the raw file is past them);
``_wbuf`` bytes written behind (not yet given to the raw file); ``_seek_to`` a
raw seek still to be done (plain files seek lazily, in the next thread call);
``_raw_pos`` where the raw file is (None when it cannot tell: a pipe).
"""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from .._engines.fdlimit import release_of
from .closing import report_lost_write
from .durability import sync_fd

__all__ = ("StreamCore",)

_T = TypeVar("_T")


class StreamCore:
    """Buffers and positions over a blocking binary file, and the blocking steps."""

    # Class-level defaults so that __del__ works on a half-built object.
    _closed = True
    _raw: Any = None
    _fileobj: Any = None
    # What the thread engine moved for this file (f.stats): one op per
    # transfer call on the blocking file, bytes as the caller sees them.
    _thread_ops = 0
    _thread_bytes = 0
    #: A compressed format: reads return one decompression step each, and
    #: positions are known only to the compressor (ask its tell()).
    _format_positions = False

    def _init_core(
        self, raw: BinaryIO, fileobj: BinaryIO | None, chunk: int, appending: bool
    ) -> None:
        """Blocking (it asks the file for its position): call it in a thread."""
        self._raw = raw
        # For compressed files, the buffered file the compressor sits on: we
        # opened it, so we close it (the compressor never does).
        self._fileobj = fileobj
        self._chunk = chunk
        self._readable = raw.readable()
        self._writable = raw.writable()
        self._seekable = raw.seekable()
        compressed = self._format_positions
        # Compressed readers return whatever one decompression step yields;
        # reading on until a buffer is full saves thread hops.  Plain files
        # stop as soon as the caller is served: a pipe must not block for
        # read-ahead the caller did not ask for.
        self._read_raw: Callable[[int], bytes | None] = (
            raw.read1 if compressed else raw.read  # type: ignore[attr-defined]
        )
        # O_APPEND writes land at the end, and compressed positions are only
        # known by the compressor: ask the file after such writes.
        self._tell_after_write = appending or compressed
        # A compressed writer always has bytes to lose at close: its trailer.
        self._has_trailer = compressed and self._writable
        self._rbuf = b""
        self._rpos = 0
        self._wbuf = bytearray()
        self._seek_to: int | None = None
        self._raw_pos: int | None = self._raw_tell()
        self._pending_exc: BaseException | None = None

    # -- the buffers (no I/O) ---------------------------------------------

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

    def _take(self, n: int) -> bytes:
        """Up to *n* unread bytes (all of them when *n* < 0), consumed."""
        pos = self._rpos
        end = len(self._rbuf) if n < 0 else min(pos + n, len(self._rbuf))
        self._rpos = end
        return self._rbuf[pos:end]

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

    def _take_pending(self) -> None:
        exc = self._pending_exc
        if exc is not None:
            self._pending_exc = None
            raise exc

    # -- blocking steps (run in a worker thread, under the lock) ------------

    def _raw_tell(self) -> int | None:
        try:
            return int(self._raw.tell())
        except (OSError, io.UnsupportedOperation):
            return None

    def _fd(self) -> int:
        return (self._fileobj or self._raw).fileno()  # type: ignore[no-any-return]

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

    def _write_big_sync(self, view: memoryview) -> None:
        self._flush_sync()  # applies a pending seek too
        self._write_all_sync(view)

    def _fill_sync(self, need: int, newline: bool = False, once: bool = False) -> None:
        """Refill the read buffer in one thread call.

        Reads until the unread bytes reach *need* (``need >= 0``), or a newline
        arrived (*newline*), or EOF; a compressed file also reads on to a
        whole buffer.  An error after some bytes arrived is kept for later,
        so the bytes before it are still delivered (as ``_pyio`` delivers the
        payload of a truncated gzip before raising EOFError).
        """
        self._flush_sync()
        chunks = [self._rbuf[self._rpos :]] if self._unread() else []
        have = len(chunks[0]) if chunks else 0
        found = newline and bool(chunks) and b"\n" in chunks[0]
        chunk = self._chunk
        greedy = self._format_positions
        try:
            while True:
                satisfied = (need >= 0 and have >= need) or found
                if satisfied and (not greedy or have >= chunk):
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
            if greedy:
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
        if self._format_positions:
            # GzipFile.seek in write mode returns a stale offset on 3.12+ (the
            # zeros sit in its BufferedWriter); tell() knows where it is.
            pos = int(self._raw.tell())
        self._seek_to = None
        self._raw_pos = pos
        return pos

    def _truncate_sync(self, size: int | None) -> int:
        # As BufferedRandom: flush, put the OS position where ours is, then let
        # the raw file truncate (at that position when size is None).
        self._flush_sync()
        self._drop_read_buffer()
        self._apply_seek_sync()
        result = int(self._raw.truncate(size))
        self._raw_pos = self._raw_tell()
        return result

    def _flush_all_sync(self) -> None:
        self._flush_sync()
        if self._writable:
            self._raw.flush()
            if self._fileobj is not None:
                self._fileobj.flush()

    def _fsync_blocking(self, data_only: bool) -> None:
        self._flush_all_sync()
        sync_fd(self._fd(), data_only)

    # -- positional steps (plain seekable files) -----------------------------

    def _pread_sync(self, offset: int, size: int) -> bytes:
        self._flush_sync()  # buffered writes are visible to positional reads
        fd = self._fd()
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

    def _pwrite_sync(self, offset: int, view: memoryview) -> int:
        self._flush_sync()
        # Bytes read ahead may now be stale.
        self._drop_read_buffer()
        fd = self._fd()
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
            if pending or self._has_trailer:
                raise report_lost_write(exc, self, pending) from None
            # A reader (or a writer with nothing left) loses nothing.
