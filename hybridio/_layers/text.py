"""AsyncTextIO: ``io.TextIOWrapper`` semantics over any :class:`AsyncBinaryIO`.

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
import codecs
import io
import operator
import os
import types
import warnings
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from .base import (
    AsyncBinaryIO,
    AsyncFileBase,
    as_c_int,
    as_ssize,
    check_closed,
    check_size,
    unsupported,
)
from .closing import close_once

__all__ = ("AsyncTextIO",)

# How lines end, per newline mode (for the line cache).
_LINE_ENDS: dict[str | None, tuple[str, ...]] = {
    None: ("\n",),
    "\n": ("\n",),
    "": ("\r", "\n"),
    "\r": ("\r",),
    "\r\n": ("\r\n",),
}
# Pending text handed to the binary layer in one write.  Larger than
# TextIOWrapper's 8 KiB: each hand-over is a few awaits here, not a C call, and
# nothing observable depends on it (reads, tell, seek and flush hand over first).
_PENDING_LIMIT = 64 * 1024
# Codecs whose encoding of ASCII text is the text itself (C's fast path).
_ASCII_COMPATIBLE = frozenset({"utf-8", "iso8859-1", "ascii"})


def _locale_encoding() -> str:
    import locale

    getencoding = getattr(locale, "getencoding", None)  # Python >= 3.11
    if getencoding is not None:
        return str(getencoding())
    return locale.getpreferredencoding(False)  # pragma: no cover - Python 3.10


_text_encoding: Any = getattr(io, "text_encoding")  # noqa: B009 - missing from some typesheds


class _Exclusive:
    """``async with`` that serialises slow paths and flags the file busy,
    so fast paths know they may not touch shared state."""

    __slots__ = ("_file",)

    def __init__(self, file: AsyncTextIO) -> None:
        self._file = file

    async def __aenter__(self) -> None:
        file = self._file
        await file._lock.acquire()
        file._busy = True
        file._wfast_now = False
        if file._lines:
            file._drop_lines()
        if not file._started:
            try:
                await file._start()
            except BaseException:
                file._busy = False
                file._wfast_now = file._wfast
                file._lock.release()
                raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self._file._busy = False
        self._file._wfast_now = self._file._wfast
        self._file._lock.release()


class AsyncTextIO(AsyncFileBase):
    """A text file: str in, str out, over an :class:`AsyncBinaryIO`.

    Same arguments and behaviour as ``io.TextIOWrapper``; ``read``,
    ``readline``, ``write``, ``seek``, ``tell``, ``truncate``, ``flush`` and
    ``close`` are coroutines.
    """

    # Slots: attribute access on the hot paths stays fast (an instance dict
    # with this many keys would not share keys, and lookups would slow down).
    __slots__ = (
        "_ascii_fast",
        "_b2cratio",
        "_buffer",
        "_busy",
        "_close_task",
        "_decoded_chars",
        "_decoded_chars_used",
        "_decoder",
        "_encoder",
        "_encoding",
        "_errors",
        "_line_base",
        "_line_buffering",
        "_line_ends",
        "_line_iter",
        "_line_total",
        "_lines",
        "_lock",
        "_pending",
        "_pending_count",
        "_pending_has_bytes",
        "_readable",
        "_readnl",
        "_readtranslate",
        "_readuniversal",
        "_seekable",
        "_snapshot",
        "_started",
        "_telling",
        "_wfast",
        "_wfast_now",
        "_writable",
        "_write_fast_ok",
        "_write_through",
        "_writenl",
        "_writetranslate",
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
        if newline is not None and not isinstance(newline, str):
            raise TypeError(
                f"TextIOWrapper() argument 'newline' must be str or None, "
                f"not {type(newline).__name__}"
            )
        if newline not in (None, "", "\n", "\r", "\r\n"):
            raise ValueError(f"illegal newline value: {newline}")
        if encoding is not None and not isinstance(encoding, str):
            raise TypeError(
                f"TextIOWrapper() argument 'encoding' must be str or None, "
                f"not {type(encoding).__name__}"
            )
        if errors is not None and not isinstance(errors, str):
            raise TypeError(
                f"TextIOWrapper() argument 'errors' must be str or None, "
                f"not {type(errors).__name__}"
            )
        encoding = _text_encoding(encoding, 2)
        if encoding == "locale":
            encoding = _locale_encoding()
        codec = codecs.lookup(encoding)
        if not codec._is_text_encoding:
            raise LookupError(
                f"{encoding!r} is not a text encoding; use codecs.open() to handle arbitrary codecs"
            )
        self._buffer = buffer
        self._encoding = encoding
        self._errors = "strict" if errors is None else errors
        self._line_buffering = bool(line_buffering)
        self._write_through = bool(write_through)
        self.mode = mode if mode is not None else str(getattr(buffer, "mode", "")).replace("b", "")

        self._readuniversal = not newline
        self._readtranslate = newline is None
        self._readnl = newline
        self._writetranslate = newline != ""
        self._writenl = newline or os.linesep
        self._line_ends = _LINE_ENDS[newline]

        self._readable = buffer.readable()
        self._writable = buffer.writable()
        self._seekable = self._telling = buffer.seekable()

        self._decoder: Any = None
        self._encoder: Any = None
        # The part of TextIOWrapper.__init__ that needs I/O (a tell()) runs
        # at the first slow operation: see _start().
        self._started = False
        self._decoded_chars = ""
        self._decoded_chars_used = 0
        self._snapshot: tuple[int, bytes] | None = None
        self._b2cratio = 0.0
        # The line cache: the whole lines of _decoded_chars[_line_base:],
        # split ahead of time and served through ONE shared list iterator
        # (readline, __anext__ and async-for all advance it).  Served lines
        # are counted in _decoded_chars_used only by _drop_lines(), which
        # every slow operation calls first; it empties the list, which ends
        # every iterator over it, so nobody serves a stale line.
        self._lines: list[str] = []
        self._line_iter: Iterator[str] = iter(self._lines)
        self._line_base = 0
        self._line_total = 0

        # Writes not yet handed to the binary layer: ASCII str (encoded
        # later, in one go) or already-encoded bytes, in order.
        self._pending: list[str | bytes] = []
        self._pending_count = 0
        self._pending_has_bytes = False
        self._ascii_fast = codec.name in _ASCII_COMPATIBLE
        self._write_fast_ok = (
            self._writable
            and self._ascii_fast
            and not (self._writetranslate and self._writenl != "\n")
            and not self._line_buffering
            and not self._write_through
        )
        # _wfast: the write fast path is allowed by the file's state;
        # _wfast_now: ... and no slow operation is in progress (the one flag
        # the fast path tests).
        self._wfast = self._wfast_now = self._write_fast_ok

        self._lock = asyncio.Lock()
        self._busy = False
        self._close_task: asyncio.Task[None] | None = None

    # -- attributes ---------------------------------------------------------

    @property
    def buffer(self) -> AsyncBinaryIO:
        """The binary file underneath."""
        return self._buffer

    @property
    def encoding(self) -> str:
        """The codec name."""
        return self._encoding

    @property
    def errors(self) -> str:
        """The codec error handler."""
        return self._errors

    @property
    def line_buffering(self) -> bool:
        """Whether a write containing a newline flushes."""
        return self._line_buffering

    @property
    def write_through(self) -> bool:
        """Whether writes go straight to the binary layer."""
        return self._write_through

    @property
    def newlines(self) -> str | tuple[str, ...] | None:
        """Newline kinds seen so far (universal newline mode), as TextIOWrapper."""
        decoder = self._decoder
        if decoder is None:
            return None
        return getattr(decoder, "newlines", None)

    @property
    def name(self) -> Any:
        """The name of the binary file."""
        return self._buffer.name

    @property
    def closed(self) -> bool:
        """True once the file is closed."""
        return self._buffer.closed

    def readable(self) -> bool:
        """True if the file was opened for reading."""
        return self._buffer.readable()

    def writable(self) -> bool:
        """True if the file was opened for writing."""
        return self._buffer.writable()

    def seekable(self) -> bool:
        """True if the file supports seek/tell."""
        check_closed(self.closed)
        return self._seekable

    def fileno(self) -> int:
        """The underlying file descriptor."""
        return self._buffer.fileno()

    def isatty(self) -> bool:
        """Whether the file is a terminal."""
        return self._buffer.isatty()

    def __repr__(self) -> str:
        cls = type(self)
        result = f"<{cls.__module__}.{cls.__qualname__}"
        try:
            result += f" name={self.name!r}"
        except Exception:
            pass
        return result + f" mode={self.mode!r} encoding={self._encoding!r}>"

    # -- codec state ----------------------------------------------------------

    def _get_decoder(self) -> Any:
        decoder: Any = codecs.getincrementaldecoder(self._encoding)(self._errors)
        if self._readuniversal:
            decoder = io.IncrementalNewlineDecoder(decoder, self._readtranslate)
        self._decoder = decoder
        return decoder

    async def _start(self) -> None:
        """TextIOWrapper.__init__'s BOM rule: no BOM in the middle of a file.

        Runs before the first operation that could write encoded bytes (ASCII
        fast-path writes only happen for codecs without a BOM).
        """
        self._started = True
        if self._writable:
            encoder = self._encoder = codecs.getincrementalencoder(self._encoding)(self._errors)
            if self._seekable and await self._buffer.tell() != 0:
                encoder.setstate(0)

    def _reset_encoder(self, start_of_stream: bool) -> None:
        encoder = self._encoder
        if encoder is None:
            return
        if start_of_stream:
            encoder.reset()
        else:
            encoder.setstate(0)

    def _set_decoded_chars(self, chars: str) -> None:
        self._decoded_chars = chars
        self._decoded_chars_used = 0
        if self._lines:
            self._lines.clear()

    def _get_decoded_chars(self, n: int = -1) -> str:
        offset = self._decoded_chars_used
        end = len(self._decoded_chars) if n < 0 else offset + n
        chars = self._decoded_chars[offset:end]
        self._decoded_chars_used += len(chars)
        return chars

    def _drop_lines(self) -> None:
        """Count the lines served from the cache, then forget the cache."""
        lines = self._lines
        remaining = operator.length_hint(self._line_iter)
        if remaining == 0:
            used = self._line_base + self._line_total
        else:
            used = self._line_base + sum(map(len, lines[: len(lines) - remaining]))
        self._decoded_chars_used = used
        lines.clear()

    def _split_lines(self) -> None:
        """Split the unread decoded text into lines for the fast path."""
        if self._lines:
            self._drop_lines()
        used = self._decoded_chars_used
        rest = self._decoded_chars[used:] if used else self._decoded_chars
        if not rest or self._readnl == "\r\n":
            return
        nl = self._readnl
        if nl == "\r" and "\n" in rest:
            return
        # StringIO's C line splitter (memchr-fast, unlike str.splitlines,
        # which also breaks at \v, \f, \x1c-\x1e, \x85, \u2028, \u2029).
        # With newline="" it ends lines at \r, \n and \r\n (the decoder never
        # leaves a \r\n split in two); with "\n" at \n only.
        lines = list(io.StringIO(rest, "\n" if nl is None or nl == "\n" else ""))
        total = len(rest)
        if not lines[-1].endswith(self._line_ends):
            total -= len(lines.pop())  # the tail waits for the next chunk
        self._lines = lines
        self._line_iter = iter(lines)
        self._line_base = used
        self._line_total = total

    def _reset_read_state(self) -> None:
        self._set_decoded_chars("")
        self._snapshot = None
        if self._decoder is not None:
            self._decoder.reset()

    # -- writing --------------------------------------------------------------

    async def write(self, s: str, /) -> int:
        """Write *s*; return its length in characters."""
        # The hot path: no lock, no suspension, no encoding (C's pending_bytes).
        if self._wfast_now and type(s) is str and s.isascii():
            n = len(s)
            self._pending.append(s)
            self._pending_count += n
            if self._pending_count > _PENDING_LIMIT:
                async with _Exclusive(self):
                    await self._flush_pending()
            return n
        return await self._write_slow(s)

    async def _write_slow(self, s: str) -> int:
        if not isinstance(s, str):
            kind = "None" if s is None else type(s).__name__
            raise TypeError(f"write() argument must be str, not {kind}")
        async with _Exclusive(self):
            check_closed(self.closed)
            if not self._writable:
                raise unsupported("not writable")
            encoder = self._encoder
            length = len(s)
            text = s
            need_nl = self._writetranslate and self._writenl != "\n"
            haslf = (need_nl or self._line_buffering) and "\n" in text
            if haslf and need_nl:
                text = text.replace("\n", self._writenl)
            needflush = self._line_buffering and (haslf or "\r" in text)
            if self._ascii_fast and text.isascii():
                self._pending.append(text)
            else:
                data = encoder.encode(text)
                self._pending.append(data)
                self._pending_has_bytes = True
            self._pending_count += len(text)
            if self._pending_count > _PENDING_LIMIT or needflush or self._write_through:
                await self._flush_pending()
            if needflush:
                await self._buffer.flush()
            self._reset_read_state()
            self._wfast = self._write_fast_ok
            return length

    def _take_pending_bytes(self) -> bytes:
        """The pending writes as one bytes object; the pending state is reset."""
        pending = self._pending
        has_bytes = self._pending_has_bytes
        self._pending = []
        self._pending_count = 0
        self._pending_has_bytes = False
        if has_bytes:
            return b"".join(p if isinstance(p, bytes) else p.encode("ascii") for p in pending)
        return "".join(pending).encode("ascii")  # type: ignore[arg-type]

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
        async with _Exclusive(self):
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
        async with _Exclusive(self):
            await self._hand_over_text()
            await self._buffer.fsync()  # flushes the bytes first

    async def fdatasync(self) -> None:
        """Flush the text, then the bytes, then ``fdatasync`` the file."""
        async with _Exclusive(self):
            await self._hand_over_text()
            await self._buffer.fdatasync()

    # -- reading --------------------------------------------------------------

    async def _read_chunk(self, size_hint: int = 0) -> bool:
        """Read and decode the next chunk; False at EOF (``_pyio._read_chunk``).

        *size_hint* (characters still wanted by ``read(n)``) enlarges the
        chunk as the C TextIOWrapper does, so binary positions match it.
        """
        decoder = self._decoder
        telling = self._telling
        if telling:
            # A point where the decoder's input buffer is empty, for tell().
            dec_buffer, dec_flags = decoder.getstate()
        size = self.chunk_size
        if size_hint > 0:
            size = max(size, int(max(self._b2cratio, 1.0) * size_hint))
        input_chunk = await self._buffer.read1(size)
        eof = not input_chunk
        decoded = decoder.decode(input_chunk, eof)
        self._set_decoded_chars(decoded)
        self._b2cratio = len(input_chunk) / len(decoded) if decoded else 0.0
        if telling:
            self._snapshot = (dec_flags, dec_buffer + input_chunk)
        self._wfast = False  # a write must now reset the decoder
        # As C (not _pyio): a final decode that produced text is not EOF yet.
        return not eof or bool(decoded)

    async def _prepare_read(self) -> Any:
        check_closed(self.closed)
        if not self._readable:
            raise unsupported("not readable")
        if self._pending:
            await self._flush_pending()
        return self._decoder or self._get_decoder()

    async def read(self, size: int | None = -1, /) -> str:
        """Read at most *size* characters (all when negative or None)."""
        n = check_size(size)
        if n > 0 and not self._busy:
            if self._lines:
                self._drop_lines()
            used = self._decoded_chars_used
            if len(self._decoded_chars) - used >= n:
                check_closed(self.closed)
                self._decoded_chars_used = used + n
                return self._decoded_chars[used : used + n]
        async with _Exclusive(self):
            decoder = await self._prepare_read()
            if n < 0:
                data = await self._buffer.read()
                result = self._get_decoded_chars() + decoder.decode(data, final=True)
                self._set_decoded_chars("")
                self._snapshot = None
                self._wfast = False
                return result  # type: ignore[no-any-return]
            parts = [self._get_decoded_chars(n)]
            got = len(parts[0])
            eof = False
            while got < n and not eof:
                eof = not await self._read_chunk(n - got)
                part = self._get_decoded_chars(n - got)
                parts.append(part)
                got += len(part)
            return "".join(parts)

    async def readline(self, size: int | None = -1, /) -> str:
        """Read one line (at most *size* characters), the line ending included."""
        if size == -1 and type(size) is int:
            line = next(self._line_iter, None)
            if line is not None:
                return line
        return await self._readline_slow(size)

    async def __anext__(self) -> str:
        self._telling = False
        line = next(self._line_iter, None)
        if line is not None:
            return line
        line = await self._readline_slow(-1)
        if not line:
            self._snapshot = None
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
            # the shared iterator is emptied if it does (see _drop_lines).
            for line in self._line_iter:
                yield line
            line = await self._readline_slow(-1)
            if not line:
                self._snapshot = None
                self._telling = self._seekable
                return
            yield line

    async def _readline_slow(self, size: int | None) -> str:
        limit = as_ssize(size)  # TextIOWrapper.readline takes no None
        async with _Exclusive(self):
            check_closed(self.closed)
            await self._prepare_read()
            line = await self._readline_locked(limit)
            if self._decoded_chars_used < len(self._decoded_chars):
                self._split_lines()
            return line

    def _find_line_ending(self, line: str, start: int) -> tuple[int, int]:
        """(index after the first line ending at/after *start* or -1, index up to
        which *line* holds no partial ending): C's ``_PyIO_find_line_ending``."""
        if self._readtranslate:
            pos = line.find("\n", start)
            return (pos + 1 if pos >= 0 else -1), len(line)
        if self._readuniversal:
            nlpos = line.find("\n", start)
            crpos = line.find("\r", start)
            if crpos == -1:
                return (nlpos + 1 if nlpos >= 0 else -1), len(line)
            if nlpos == -1 or nlpos > crpos + 1:
                return crpos + 1, len(line)
            if nlpos == crpos + 1:
                return crpos + 2, len(line)
            return nlpos + 1, len(line)
        readnl = self._readnl
        assert readnl is not None
        pos = line.find(readnl, start)
        if pos >= 0:
            return pos + len(readnl), len(line)
        # A "\r\n" may be cut after its "\r": keep that for the next round.
        return -1, max(start, len(line) - len(readnl) + 1)

    async def _readline_locked(self, limit: int) -> str:
        # The C TextIOWrapper's _textiowrapper_readline, step for step (it
        # reads a chunk even for readline(0) when nothing is decoded yet, so
        # decode errors surface at the same call as there).
        chunks: list[str] = []
        chunked = 0
        remaining: str | None = None
        line = ""
        start = endpos = offset_to_buffer = 0
        at_eof = False
        while True:
            more = True
            while not self._decoded_chars:
                more = await self._read_chunk()
                if not more:
                    break
            if not more:
                self._set_decoded_chars("")
                self._snapshot = None
                at_eof = True
                break
            if remaining is None:
                line = self._decoded_chars
                start = self._decoded_chars_used
                offset_to_buffer = 0
            else:
                line = remaining + self._decoded_chars
                start = 0
                offset_to_buffer = len(remaining)
                remaining = None
            found, consumed = self._find_line_ending(line, start)
            if found >= 0:
                endpos = found
                if limit >= 0 and (endpos - start) + chunked >= limit:
                    endpos = start + limit - chunked
                break
            endpos = consumed
            if limit >= 0 and (endpos - start) + chunked >= limit:
                # No line ending, but the length limit is reached.
                endpos = start + limit - chunked
                break
            if endpos > start:
                chunks.append(line[start:endpos])
                chunked += endpos - start
            if endpos < len(line):
                remaining = line[endpos:]
            self._set_decoded_chars("")
        if at_eof:
            line = ""
        else:
            # The line ends in the current buffer.
            self._decoded_chars_used = endpos - offset_to_buffer
            line = line[start:endpos]
        if remaining is not None:
            chunks.append(remaining)
        if chunks:
            if line:
                chunks.append(line)
            line = "".join(chunks)
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

    @staticmethod
    def _pack_cookie(
        position: int,
        dec_flags: int = 0,
        bytes_to_feed: int = 0,
        need_eof: bool = False,
        chars_to_skip: int = 0,
    ) -> int:
        # Seek to position, set the decoder flags, feed bytes_to_feed bytes
        # (with need_eof as the EOF flag), skip chars_to_skip characters.
        # The C TextIOWrapper's layout (an off_t, three C ints, a char, little
        # endian), so cookies are interchangeable with io.TextIOWrapper's.
        return (
            position
            | ((dec_flags & 0xFFFFFFFF) << 64)
            | (bytes_to_feed << 96)
            | (chars_to_skip << 128)
            | (int(bool(need_eof)) << 160)
        )

    @staticmethod
    def _unpack_cookie(cookie: int) -> tuple[int, int, int, bool, int]:
        if cookie >> 168:
            raise OverflowError("int too big to convert")
        position = cookie & 0xFFFFFFFFFFFFFFFF
        if position >> 63:
            position -= 1 << 64  # an off_t: the binary seek refuses it (EINVAL)
        dec_flags = (cookie >> 64) & 0xFFFFFFFF
        if dec_flags & 0x80000000:
            dec_flags -= 1 << 32
        bytes_to_feed = (cookie >> 96) & 0xFFFFFFFF
        chars_to_skip = (cookie >> 128) & 0xFFFFFFFF
        need_eof = bool((cookie >> 160) & 0xFF)
        return position, dec_flags, bytes_to_feed, need_eof, chars_to_skip

    async def tell(self) -> int:
        """An opaque cookie for :meth:`seek` (a byte offset for simple codecs)."""
        async with _Exclusive(self):
            return await self._tell_unlocked()

    async def _tell_unlocked(self) -> int:
        check_closed(self.closed)
        if not self._seekable:
            raise unsupported("underlying stream is not seekable")
        if not self._telling:
            raise OSError("telling position disabled by next() call")
        await self._flush_unlocked()
        position = await self._buffer.tell()
        decoder = self._decoder
        if decoder is None or self._snapshot is None:
            return position

        # Skip backward to the snapshot point (see _read_chunk).
        dec_flags, next_input = self._snapshot
        position -= len(next_input)

        # How many decoded characters have been used up since the snapshot?
        chars_to_skip = self._decoded_chars_used
        if chars_to_skip == 0:
            return self._pack_cookie(position, dec_flags)

        # Walk the decoder forward from the snapshot until it gives enough
        # characters (the _pyio algorithm, verbatim in spirit).
        saved_state = decoder.getstate()
        try:
            # Fast search for an acceptable start point close to the position:
            # O(1) decode calls for common codecs.
            skip_bytes = int(self._b2cratio * chars_to_skip)
            skip_back = 1
            assert skip_bytes <= len(next_input)
            while skip_bytes > 0:
                decoder.setstate((b"", dec_flags))
                n = len(decoder.decode(next_input[:skip_bytes]))
                if n <= chars_to_skip:
                    b, d = decoder.getstate()
                    if not b:
                        # Before pos and no bytes buffered in decoder => OK
                        dec_flags = d
                        chars_to_skip -= n
                        break
                    # Skip back by buffered amount and reset heuristic
                    skip_bytes -= len(b)
                    skip_back = 1
                else:
                    # We're too far ahead, skip back a bit
                    skip_bytes -= skip_back
                    skip_back = skip_back * 2
            else:
                skip_bytes = 0
                decoder.setstate((b"", dec_flags))

            start_pos = position + skip_bytes
            start_flags = dec_flags
            if chars_to_skip == 0:
                return self._pack_cookie(start_pos, start_flags)

            # Feed the decoder one byte at a time, noting the nearest safe
            # start point (nothing buffered in the decoder) before the target.
            bytes_fed = 0
            need_eof = False
            chars_decoded = 0
            for i in range(skip_bytes, len(next_input)):
                bytes_fed += 1
                chars_decoded += len(decoder.decode(next_input[i : i + 1]))
                dec_buffer, dec_flags = decoder.getstate()
                if not dec_buffer and chars_decoded <= chars_to_skip:
                    start_pos += bytes_fed
                    chars_to_skip -= chars_decoded
                    start_flags, bytes_fed, chars_decoded = dec_flags, 0, 0
                if chars_decoded >= chars_to_skip:
                    break
            else:
                # Not enough decoded data; signal EOF to get more.
                chars_decoded += len(decoder.decode(b"", final=True))
                need_eof = True
                if chars_decoded < chars_to_skip:
                    raise OSError("can't reconstruct logical file position")

            return self._pack_cookie(start_pos, start_flags, bytes_fed, need_eof, chars_to_skip)
        finally:
            decoder.setstate(saved_state)

    async def seek(self, cookie: int, whence: int = 0, /) -> int:
        """Go to a position returned by :meth:`tell` (or the start/end).

        The cookie is checked as the C TextIOWrapper checks it: compared with
        0 (TypeError for a non-number), converted with ``int()``, and its
        position field is a signed ``off_t`` (a huge one is EINVAL from the
        binary seek); a cookie that cannot be replayed raises OSError.
        """
        whence = as_c_int(whence)  # parsed before anything else, as in C
        async with _Exclusive(self):
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
                self._reset_read_state()
                position = await self._buffer.seek(0, io.SEEK_END)
                self._reset_encoder(position == 0)
                return position
            elif whence != io.SEEK_SET:
                raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
            if cookie < 0:
                raise ValueError(f"negative seek position {cookie!r}")
            await self._flush_unlocked()

            # Go back to the safe start point and replay read(chars_to_skip).
            start_pos, dec_flags, bytes_to_feed, need_eof, chars_to_skip = self._unpack_cookie(
                int(cookie)
            )
            await self._buffer.seek(start_pos)
            self._set_decoded_chars("")
            self._snapshot = None
            self._wfast = False
            decoder = self._decoder
            if decoder is None and self._readable and (dec_flags or chars_to_skip):
                decoder = self._get_decoder()
            if decoder is not None:
                if start_pos == 0 and dec_flags == 0:
                    decoder.reset()
                else:
                    decoder.setstate((b"", dec_flags))
            if chars_to_skip:
                # The binary read comes first: on a write-only file it is what refuses.
                input_chunk = await self._buffer.read(bytes_to_feed)
                if decoder is None:
                    raise unsupported("not readable")
                self._snapshot = (dec_flags, input_chunk)
                self._set_decoded_chars(decoder.decode(input_chunk, need_eof))
                if len(self._decoded_chars) < chars_to_skip:
                    raise OSError("can't restore logical file position")
                self._decoded_chars_used = chars_to_skip
            else:
                self._snapshot = (dec_flags, b"")
            self._reset_encoder(start_pos == 0 and dec_flags == 0)
            return cookie

    async def truncate(self, size: int | None = None, /) -> int:
        """Flush, then truncate the binary file (at its position by default)."""
        async with _Exclusive(self):
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
            async with _Exclusive(self):
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
