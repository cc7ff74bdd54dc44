"""AsyncTextIO: ``io.TextIOWrapper`` semantics over any :class:`AsyncBinaryIO`.

The async shell over :mod:`hybridio._layers.textcore`, which holds the
TextIOWrapper logic that needs no I/O (decoding and the decoded-characters
bookkeeping, the line-ending search, the ``tell()`` cookies and their
reconstruction, newline translation of writes).  This module adds what does:
the lock (its bracket is ``_layers/_textlock.py``), the fast paths, and the
calls to the binary layer; the attributes are in ``_layers/_textattrs.py``.

The algorithm is CPython's (``_pyio.TextIOWrapper``, with the C version's
messages and details where they differ): incremental codecs and
``io.IncrementalNewlineDecoder`` run in the event-loop thread, ``tell()``
returns the same opaque cookies (a decoder-state snapshot), and reads pull
``chunk_size`` bytes at a time from the binary layer.

Why it is fast enough to iterate: the binary layer serves ``read1`` from its
own read-ahead without a thread hop, and a decoded chunk is split into lines
once (``str.splitlines`` when the chunk holds no other line-break characters),
so ``async for`` and ``readline()`` return a cached line without taking a lock
or suspending.  Writes of ASCII text in an ASCII-compatible codec (utf-8,
latin-1, ascii) are deferred as ``str`` and encoded in one go per chunk, as the
C TextIOWrapper does; anything else is encoded at ``write()`` time so encoding
errors surface there.  Operations that need the binary layer are serialised
by a lock per file.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from collections.abc import AsyncIterator, Iterable

from ._textattrs import TextFileBase
from ._textlock import Exclusive
from .base import (
    AsyncBinaryIO,
    as_c_int,
    as_ssize,
    check_closed,
    check_size,
    unsupported,
)
from .closing import close_once
from .textcore import (
    LineScan,
    Newlines,
    TextReader,
    TextWriter,
    check_text_args,
    join_pending,
    unpack_cookie,
)

__all__ = ("AsyncTextIO",)

# Pending text handed to the binary layer in one write.  Larger than
# TextIOWrapper's 8 KiB: each hand-over is a few awaits here, not a C call, and
# nothing observable depends on it (reads, tell, seek and flush hand over first).
_PENDING_LIMIT = 64 * 1024


class AsyncTextIO(TextFileBase):
    """A text file: str in, str out, over an :class:`AsyncBinaryIO`.

    Same arguments and behaviour as ``io.TextIOWrapper``; ``read``,
    ``readline``, ``write``, ``seek``, ``tell``, ``truncate``, ``flush`` and
    ``close`` are coroutines.
    """

    # Slots: attribute access on the hot paths stays fast (an instance dict
    # with this many keys would not share keys, and lookups would slow down).
    __slots__ = (
        "_buffer",
        "_busy",
        "_close_task",
        "_line_buffering",
        "_lock",
        "_newlines",
        "_pending",
        "_pending_count",
        "_pending_has_bytes",
        "_readable",
        "_reader",
        "_seekable",
        "_started",
        "_telling",
        "_wfast",
        "_wfast_now",
        "_writable",
        "_write_fast_ok",
        "_write_through",
        "_writer",
    )

    #: Bytes asked of the binary layer per decode step (TextIOWrapper's
    #: ``_CHUNK_SIZE``; the same value keeps ``r+`` positions identical).
    chunk_size = 8192

    def __init__(
        self,
        buffer: AsyncBinaryIO,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        line_buffering: bool = False,
        write_through: bool = False,
        *,
        mode: str | None = None,
    ) -> None:
        encoding, errors, codec = check_text_args(encoding, errors, newline)
        self._buffer = buffer
        self._line_buffering = bool(line_buffering)
        self._write_through = bool(write_through)
        self.mode = mode if mode is not None else str(getattr(buffer, "mode", "")).replace("b", "")
        self._newlines = newlines = Newlines(newline)
        self._reader = TextReader(encoding, errors, newlines)
        self._writer = writer = TextWriter(encoding, errors, codec)
        self._readable = buffer.readable()
        self._writable = buffer.writable()
        self._seekable = self._telling = buffer.seekable()
        # The part of TextIOWrapper.__init__ that needs I/O (a tell()) runs
        # at the first slow operation: see _start().
        self._started = False
        self._write_fast_ok = (
            self._writable
            and writer.ascii_fast
            and not newlines.translates_writes
            and not self._line_buffering
            and not self._write_through
        )
        # _wfast: the write fast path is allowed by the file's state;
        # _wfast_now: ... and no slow operation is in progress (the one flag
        # the fast path tests).
        self._wfast = self._wfast_now = self._write_fast_ok
        # Writes not yet handed to the binary layer (see TextWriter.encode).
        self._pending: list[str | bytes] = []
        self._pending_count = 0
        self._pending_has_bytes = False
        self._lock = asyncio.Lock()
        self._busy = False
        self._close_task: asyncio.Task[None] | None = None

    # -- first use --------------------------------------------------------------

    async def _start(self) -> None:
        """TextIOWrapper.__init__'s BOM rule: no BOM in the middle of a file.

        Runs before the first operation that could write encoded bytes (ASCII
        fast-path writes only happen for codecs without a BOM).
        """
        self._started = True
        if self._writable:
            self._writer.start()
            if self._seekable and await self._buffer.tell() != 0:
                self._writer.reset_encoder(False)

    # -- writing --------------------------------------------------------------

    async def write(self, s: str, /) -> int:
        """Write *s*; return its length in characters."""
        # The hot path: no lock, no suspension, no encoding (C's pending_bytes).
        if self._wfast_now and type(s) is str and s.isascii():
            n = len(s)
            self._pending.append(s)
            self._pending_count += n
            if self._pending_count > _PENDING_LIMIT:
                async with Exclusive(self):
                    await self._flush_pending()
            return n
        return await self._write_slow(s)

    async def _write_slow(self, s: str) -> int:
        if not isinstance(s, str):
            kind = "None" if s is None else type(s).__name__
            raise TypeError(f"write() argument must be str, not {kind}")
        async with Exclusive(self):
            check_closed(self.closed)
            if not self._writable:
                raise unsupported("not writable")
            text, needflush = self._newlines.for_write(s, self._line_buffering)
            item = self._writer.encode(text)
            self._pending.append(item)
            if type(item) is bytes:
                self._pending_has_bytes = True
            self._pending_count += len(text)
            if self._pending_count > _PENDING_LIMIT or needflush or self._write_through:
                await self._flush_pending()
            if needflush:
                await self._buffer.flush()
            self._reader.after_write()
            self._wfast = self._write_fast_ok
            return len(s)

    def _take_pending_bytes(self) -> bytes:
        """The pending writes as one bytes object; the pending state is reset."""
        data = join_pending(self._pending, self._pending_has_bytes)
        self._pending = []
        self._pending_count = 0
        self._pending_has_bytes = False
        return data

    async def _flush_pending(self) -> None:
        """Hand pending writes to the binary layer (caller holds the lock)."""
        if self._pending:
            await self._buffer.write(self._take_pending_bytes())

    async def writelines(self, lines: Iterable[str], /) -> None:
        """Write each string of *lines* (no newlines added)."""
        check_closed(self.closed)
        for line in lines:
            await self.write(line)

    async def flush(self) -> None:
        """Write pending text to the binary layer and flush it."""
        async with Exclusive(self):
            await self._flush_unlocked()

    async def _flush_unlocked(self) -> None:
        await self._hand_over_text()
        await self._buffer.flush()

    async def _hand_over_text(self) -> None:
        """Give the pending text to the binary layer (without flushing it)."""
        check_closed(self.closed)
        self._telling = self._seekable
        await self._flush_pending()

    async def fsync(self) -> None:
        """Flush the text, then the bytes, then ``fsync`` the file (RELIABILITY D1)."""
        async with Exclusive(self):
            await self._hand_over_text()
            await self._buffer.fsync()  # flushes the bytes first

    async def fdatasync(self) -> None:
        """Flush the text, then the bytes, then ``fdatasync`` the file."""
        async with Exclusive(self):
            await self._hand_over_text()
            await self._buffer.fdatasync()

    # -- reading --------------------------------------------------------------

    async def _read_chunk(self, size_hint: int = 0) -> bool:
        """Read and decode the next chunk; False at EOF (``_pyio._read_chunk``).

        *size_hint*: characters still wanted by ``read(n)`` (see
        :meth:`TextReader.chunk_request`).
        """
        reader = self._reader
        telling = self._telling
        input_chunk = await self._buffer.read1(reader.chunk_request(self.chunk_size, size_hint))
        more = reader.feed(input_chunk, telling)
        self._wfast = False  # a write must now reset the decoder
        return more

    async def _prepare_read(self) -> None:
        check_closed(self.closed)
        if not self._readable:
            raise unsupported("not readable")
        if self._pending:
            await self._flush_pending()
        self._reader.ensure_decoder()

    async def read(self, size: int | None = -1, /) -> str:
        """Read at most *size* characters (all when negative or None)."""
        n = check_size(size)
        reader = self._reader
        if n > 0 and not self._busy:
            if reader.lines:
                reader.drop_lines()
            used = reader.decoded_chars_used
            if len(reader.decoded_chars) - used >= n:
                check_closed(self.closed)
                reader.decoded_chars_used = used + n
                return reader.decoded_chars[used : used + n]
        async with Exclusive(self):
            await self._prepare_read()
            if n < 0:
                result = reader.take_all(await self._buffer.read())
                self._wfast = False
                return result
            parts = [reader.take(n)]
            got = len(parts[0])
            eof = False
            while got < n and not eof:
                eof = not await self._read_chunk(n - got)
                part = reader.take(n - got)
                parts.append(part)
                got += len(part)
            return "".join(parts)

    async def readline(self, size: int | None = -1, /) -> str:
        """Read one line (at most *size* characters), the line ending included."""
        if size == -1 and type(size) is int:
            line = next(self._reader.line_iter, None)
            if line is not None:
                return line
        return await self._readline_slow(size)

    async def __anext__(self) -> str:
        self._telling = False
        line = next(self._reader.line_iter, None)
        if line is not None:
            return line
        line = await self._readline_slow(-1)
        if not line:
            self._reader.snapshot = None
            self._telling = self._seekable
            raise StopAsyncIteration
        return line

    def __aiter__(self) -> AsyncIterator[str]:  # type: ignore[override]
        # An async generator: its __anext__ is C code, about half the cost of
        # a coroutine method per line.  It re-reads the file's state at every
        # step, so other calls between iterations see a consistent file.
        check_closed(self.closed)
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        while True:
            self._telling = False  # as TextIOWrapper.__next__
            # Between two lines, the loop body may do anything to the file;
            # the shared iterator is emptied if it does (see drop_lines).
            for line in self._reader.line_iter:
                yield line
            line = await self._readline_slow(-1)
            if not line:
                self._reader.snapshot = None
                self._telling = self._seekable
                return
            yield line

    async def _readline_slow(self, size: int | None) -> str:
        limit = as_ssize(size)  # TextIOWrapper.readline takes no None
        async with Exclusive(self):
            check_closed(self.closed)
            await self._prepare_read()
            line = await self._readline_locked(limit)
            reader = self._reader
            if reader.decoded_chars_used < len(reader.decoded_chars):
                reader.split_lines()
            return line

    async def _readline_locked(self, limit: int) -> str:
        # As the C TextIOWrapper, a chunk is read even for readline(0) when
        # nothing is decoded yet, so decode errors surface at the same call.
        reader = self._reader
        scan = LineScan(reader, limit)
        while True:
            while not reader.decoded_chars:
                if not await self._read_chunk():
                    return scan.at_eof()
            line = scan.step()
            if line is not None:
                return line

    async def readlines(self, hint: int | None = -1, /) -> list[str]:
        """Read lines until EOF, or until *hint* characters have been read.

        Iterates like ``IOBase.readlines`` (so, as there, ``tell()`` stays
        disabled if it stops before EOF).
        """
        limit = check_size(hint)
        check_closed(self.closed)
        lines: list[str] = []
        total = 0
        lines_iter = self._iterate()
        try:
            async for line in lines_iter:
                lines.append(line)
                total += len(line)
                if 0 < limit <= total:
                    break
        finally:
            await lines_iter.aclose()  # type: ignore[attr-defined]
        return lines

    # -- positioning ----------------------------------------------------------

    async def tell(self) -> int:
        """An opaque cookie for :meth:`seek` (a byte offset for simple codecs)."""
        async with Exclusive(self):
            return await self._tell_unlocked()

    async def _tell_unlocked(self) -> int:
        check_closed(self.closed)
        if not self._seekable:
            raise unsupported("underlying stream is not seekable")
        if not self._telling:
            raise OSError("telling position disabled by next() call")
        await self._flush_unlocked()
        return self._reader.tell(await self._buffer.tell())

    async def seek(self, cookie: int, whence: int = 0, /) -> int:
        """Go to a position returned by :meth:`tell` (or the start/end).

        The cookie is checked as the C TextIOWrapper checks it: compared with
        0 (TypeError for a non-number), converted with ``int()``, and its
        position field is a signed ``off_t`` (a huge one is EINVAL from the
        binary seek); a cookie that cannot be replayed raises OSError.
        """
        whence = as_c_int(whence)  # parsed before anything else, as in C
        async with Exclusive(self):
            check_closed(self.closed)
            if not self._seekable:
                raise unsupported("underlying stream is not seekable")
            if whence == io.SEEK_CUR:
                if cookie != 0:
                    raise unsupported("can't do nonzero cur-relative seeks")
                # Seeking to the current position syncs the binary layer.
                cookie = await self._tell_unlocked()
            elif whence == io.SEEK_END:
                if cookie != 0:
                    raise unsupported("can't do nonzero end-relative seeks")
                await self._flush_unlocked()
                self._reader.reset()
                position = await self._buffer.seek(0, io.SEEK_END)
                self._writer.reset_encoder(position == 0)
                return position
            elif whence != io.SEEK_SET:
                raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
            if cookie < 0:
                raise ValueError(f"negative seek position {cookie!r}")
            await self._flush_unlocked()
            await self._seek_cookie(int(cookie))
            return cookie

    async def _seek_cookie(self, cookie: int) -> None:
        # Go back to the safe start point and replay read(chars_to_skip).
        start_pos, dec_flags, bytes_to_feed, need_eof, chars_to_skip = unpack_cookie(cookie)
        await self._buffer.seek(start_pos)
        self._wfast = False
        reader = self._reader
        decoder = reader.restart(start_pos, dec_flags, self._readable)
        if chars_to_skip:
            # The binary read comes first: on a write-only file it is what refuses.
            input_chunk = await self._buffer.read(bytes_to_feed)
            if decoder is None:
                raise unsupported("not readable")
            reader.replay(dec_flags, input_chunk, need_eof, chars_to_skip)
        else:
            reader.snapshot = (dec_flags, b"")
        self._writer.reset_encoder(start_pos == 0 and dec_flags == 0)

    async def truncate(self, size: int | None = None, /) -> int:
        """Flush, then truncate the binary file (at its position by default)."""
        async with Exclusive(self):
            await self._flush_unlocked()
            return await self._buffer.truncate(size)

    # -- closing --------------------------------------------------------------

    async def close(self) -> None:
        """Flush and close the binary file: the close contract of
        :mod:`hybridio._layers.closing` (idempotent, completes when cancelled,
        a flush error surfaces)."""
        await close_once(self, self._close)

    async def _close(self) -> None:
        try:
            async with Exclusive(self):
                if self.closed:
                    return
                self._wfast = self._write_fast_ok = False
                await self._flush_unlocked()
        finally:
            # Also when the flush (or the first-use start) failed: the fd goes.
            await self._buffer.close()

    def __del__(self) -> None:
        try:
            # _close_task is set last in __init__: a half-built wrapper owns nothing.
            started = self._close_task is not None
        except AttributeError:
            return
        buffer = self._buffer
        if started or buffer.closed:
            return
        try:
            warnings.warn(f"unclosed file {self!r}", ResourceWarning, stacklevel=2, source=self)
        finally:
            # As TextIOWrapper's finaliser: pending text is written, then the
            # binary file closed -- here with blocking calls, as no loop may run.
            tail = self._take_pending_bytes()
            close_at_gc = getattr(buffer, "_close_at_gc", None)
            if close_at_gc is not None:
                close_at_gc(tail)
