"""The I/O-free half of :class:`~hybridio._layers.text.AsyncTextIO`.

Everything here is plain synchronous code over ``str``, ``bytes`` and codec
objects: no awaits, no locks, no file objects.  The async shell reads bytes
from the binary layer and hands them in; this module decodes them, finds line
endings, keeps the decoded-characters bookkeeping, builds and replays
``tell()`` cookies (their codec is ``_layers/_cookies.py``), and prepares
written text.  That split is what lets the tests compare this logic with
``_pyio.TextIOWrapper`` and ``io.TextIOWrapper`` without an event loop
(tests/layers/test_textcore.py).  TextIOWrapper's argument checks are in
``_layers/_args.py``.

The algorithms are CPython's (``_pyio.TextIOWrapper``, with the C version's
details where the two differ, so cookies are interchangeable with
``io.TextIOWrapper``'s).
"""

from __future__ import annotations

import codecs
import io
import operator
import os
from collections.abc import Iterator
from typing import Any

from ._args import check_text_args
from ._cookies import c_flags, pack_cookie, reconstruct_cookie, unpack_cookie

__all__ = (
    "LineScan",
    "Newlines",
    "TextReader",
    "TextWriter",
    "check_text_args",
    "join_pending",
    "pack_cookie",
    "reconstruct_cookie",
    "unpack_cookie",
)

# Codecs whose encoding of ASCII text is the text itself (C's fast path).
_ASCII_COMPATIBLE = frozenset({"utf-8", "iso8859-1", "ascii"})

# How lines end, per newline mode (for the line cache).
_LINE_ENDS: dict[str | None, tuple[str, ...]] = {
    None: ("\n",),
    "\n": ("\n",),
    "": ("\r", "\n"),
    "\r": ("\r",),
    "\r\n": ("\r\n",),
}


class Newlines:
    """What a (validated) ``newline`` argument means for reading and writing."""

    __slots__ = (
        "line_ends",
        "readnl",
        "readtranslate",
        "readuniversal",
        "writenl",
        "writetranslate",
    )

    def __init__(self, newline: str | None) -> None:
        self.readuniversal = not newline
        self.readtranslate = newline is None
        self.readnl = newline
        self.writetranslate = newline != ""
        self.writenl = newline or os.linesep
        self.line_ends = _LINE_ENDS[newline]

    @property
    def translates_writes(self) -> bool:
        """Whether written ``"\\n"`` become something else."""
        return self.writetranslate and self.writenl != "\n"

    def find_line_ending(self, line: str, start: int) -> tuple[int, int]:
        """(index after the first line ending at/after *start* or -1, index up to
        which *line* holds no partial ending): C's ``_PyIO_find_line_ending``.

        *line* is decoded text: with universal newlines, ``\\r\\n`` is never
        split across two calls (the newline decoder holds a trailing ``\\r``).
        """
        if self.readtranslate:
            pos = line.find("\n", start)
            return (pos + 1 if pos >= 0 else -1), len(line)
        if self.readuniversal:
            nlpos = line.find("\n", start)
            crpos = line.find("\r", start)
            if crpos == -1:
                return (nlpos + 1 if nlpos >= 0 else -1), len(line)
            if nlpos == -1 or nlpos > crpos + 1:
                return crpos + 1, len(line)
            if nlpos == crpos + 1:
                return crpos + 2, len(line)
            return nlpos + 1, len(line)
        readnl = self.readnl
        assert readnl is not None
        pos = line.find(readnl, start)
        if pos >= 0:
            return pos + len(readnl), len(line)
        # A "\r\n" may be cut after its "\r": keep that "\r" for the next round
        # (only a "\r": a readline(limit) counts every other character now).
        tail = line.find(readnl[0], max(start, len(line) - len(readnl) + 1))
        return -1, len(line) if tail < 0 else tail

    def for_write(self, s: str, line_buffering: bool) -> tuple[str, bool]:
        """(*s* with its newlines translated, whether line buffering flushes it)."""
        need_nl = self.translates_writes
        haslf = (need_nl or line_buffering) and "\n" in s
        if haslf and need_nl:
            s = s.replace("\n", self.writenl)
        return s, line_buffering and (haslf or "\r" in s)


# -- reading ------------------------------------------------------------------


class TextReader:
    """The read side of a text file: the decoder, the decoded characters not
    yet returned, the ``tell()`` snapshot, and the line cache.

    The shell feeds it the bytes it reads (:meth:`feed`) and takes characters
    out (:meth:`take`, :class:`LineScan`, the line cache).
    """

    __slots__ = (
        "b2cratio",
        "decoded_chars",
        "decoded_chars_used",
        "decoder",
        "encoding",
        "errors",
        "line_base",
        "line_iter",
        "line_total",
        "lines",
        "newlines",
        "snapshot",
    )

    def __init__(self, encoding: str, errors: str, newlines: Newlines) -> None:
        self.encoding = encoding
        self.errors = errors
        self.newlines = newlines
        self.decoder: Any = None
        self.decoded_chars = ""
        self.decoded_chars_used = 0
        # (decoder flags, the bytes fed since): the decoder state at the start
        # of decoded_chars, where tell() starts its walk (_pyio's _snapshot).
        self.snapshot: tuple[int, bytes] | None = None
        self.b2cratio = 0.0
        # The line cache: the whole lines of decoded_chars[line_base:], split
        # ahead of time and served through ONE shared list iterator (the
        # shell's readline, __anext__ and async-for all advance it).  Served
        # lines are counted in decoded_chars_used only by drop_lines(), which
        # every slow operation calls first; it empties the list, which ends
        # every iterator over it, so nobody serves a stale line.
        self.lines: list[str] = []
        self.line_iter: Iterator[str] = iter(self.lines)
        self.line_base = 0
        self.line_total = 0

    def get_decoder(self) -> Any:
        """A fresh decoder (the newline decoder wrapped around the codec's)."""
        decoder: Any = codecs.getincrementaldecoder(self.encoding)(self.errors)
        if self.newlines.readuniversal:
            decoder = io.IncrementalNewlineDecoder(decoder, self.newlines.readtranslate)
        self.decoder = decoder
        return decoder

    def ensure_decoder(self) -> Any:
        """The decoder, made at the first read."""
        return self.decoder or self.get_decoder()

    def set_decoded_chars(self, chars: str) -> None:
        """Replace the decoded characters (none used yet)."""
        self.decoded_chars = chars
        self.decoded_chars_used = 0
        if self.lines:
            self.lines.clear()

    def take(self, n: int = -1) -> str:
        """Up to *n* (all when negative) of the decoded characters, used up."""
        offset = self.decoded_chars_used
        end = len(self.decoded_chars) if n < 0 else offset + n
        chars = self.decoded_chars[offset:end]
        self.decoded_chars_used += len(chars)
        return chars

    def reset(self) -> None:
        """Forget what was read ahead (after a write, or a seek to the end)."""
        self.set_decoded_chars("")
        self.snapshot = None
        if self.decoder is not None:
            self.decoder.reset()

    def after_write(self) -> None:
        """What a write does to the read side, as the C TextIOWrapper's: the
        text read ahead is dropped only when a snapshot places it (not after
        iteration, which keeps none); the decoder is reset either way."""
        if self.snapshot is not None:
            self.set_decoded_chars("")
            self.snapshot = None
        if self.decoder is not None:
            self.decoder.reset()

    def chunk_request(self, chunk_size: int, size_hint: int = 0) -> int:
        """Bytes to ask for next; *size_hint* (characters still wanted by
        ``read(n)``) enlarges the chunk as the C TextIOWrapper does, so binary
        positions match it."""
        if size_hint > 0:
            return max(chunk_size, int(max(self.b2cratio, 1.0) * size_hint))
        return chunk_size

    def feed(self, input_chunk: bytes, telling: bool) -> bool:
        """Decode the next chunk read (``b""`` at EOF) into the decoded
        characters; False at EOF (``_pyio._read_chunk`` after its read).

        *telling*: keep the snapshot ``tell()`` needs.  The decoder exists
        (:meth:`ensure_decoder`).
        """
        decoder = self.decoder
        if telling:
            # A point where the decoder's input buffer is empty, for tell().
            dec_buffer, dec_flags = decoder.getstate()
        eof = not input_chunk
        decoded = decoder.decode(input_chunk, eof)
        self.set_decoded_chars(decoded)
        self.b2cratio = len(input_chunk) / len(decoded) if decoded else 0.0
        if telling:
            self.snapshot = (dec_flags, dec_buffer + input_chunk)
        # As C (not _pyio): a final decode that produced text is not EOF yet.
        return not eof or bool(decoded)

    def take_all(self, rest: bytes) -> str:
        """The decoded characters plus the decoding of *rest*, the whole
        remainder of the file (``read()``)."""
        result: str = self.take() + self.ensure_decoder().decode(rest, final=True)
        self.set_decoded_chars("")
        self.snapshot = None
        return result

    def drop_lines(self) -> None:
        """Count the lines served from the cache, then forget the cache."""
        lines = self.lines
        remaining = operator.length_hint(self.line_iter)
        if remaining == 0:
            used = self.line_base + self.line_total
        else:
            used = self.line_base + sum(map(len, lines[: len(lines) - remaining]))
        self.decoded_chars_used = used
        lines.clear()

    def split_lines(self) -> None:
        """Split the unread decoded text into lines for the fast path."""
        if self.lines:
            self.drop_lines()
        used = self.decoded_chars_used
        rest = self.decoded_chars[used:] if used else self.decoded_chars
        nl = self.newlines.readnl
        if not rest or nl == "\r\n":
            return
        if nl == "\r" and "\n" in rest:
            return
        # StringIO's C line splitter (memchr-fast, unlike str.splitlines,
        # which also breaks at \v, \f, \x1c-\x1e, \x85, \u2028, \u2029).
        # With newline="" it ends lines at \r, \n and \r\n (the decoder never
        # leaves a \r\n split in two); with "\n" at \n only.
        lines = list(io.StringIO(rest, "\n" if nl is None or nl == "\n" else ""))
        total = len(rest)
        if not lines[-1].endswith(self.newlines.line_ends):
            total -= len(lines.pop())  # the tail waits for the next chunk
        self.lines = lines
        self.line_iter = iter(lines)
        self.line_base = used
        self.line_total = total

    def at_eof(self) -> None:
        """EOF reached by iteration: nothing decoded is left, no snapshot."""
        self.set_decoded_chars("")
        self.snapshot = None

    # -- tell / seek ----------------------------------------------------------

    def tell(self, position: int) -> int:
        """The cookie for the current point, *position* being the binary
        file's position (after the pending writes were handed over)."""
        decoder = self.decoder
        if decoder is None or self.snapshot is None:
            return position
        # Skip backward to the snapshot point (see feed).
        dec_flags, next_input = self.snapshot
        dec_flags = c_flags(dec_flags)
        position -= len(next_input)
        # How many decoded characters have been used up since the snapshot?
        chars_to_skip = self.decoded_chars_used
        if chars_to_skip == 0:
            return pack_cookie(position, dec_flags)
        return reconstruct_cookie(
            decoder, position, dec_flags, next_input, chars_to_skip, self.b2cratio
        )

    def restart(self, start_pos: int, dec_flags: int, readable: bool) -> Any:
        """``seek(cookie)`` after the binary seek to *start_pos*: nothing
        decoded, the decoder in state ``(b"", dec_flags)``; the decoder, or
        None on a file that is not *readable*.

        The decoder is made here if the file has none yet, as the C
        TextIOWrapper has one from the start: a fresh utf-16 decoder expects
        a BOM, one set to ``(b"", 0)`` does not.
        """
        self.set_decoded_chars("")
        self.snapshot = None
        decoder = self.decoder
        if decoder is None and readable:
            decoder = self.get_decoder()
        if decoder is not None:
            if start_pos == 0 and dec_flags == 0:
                decoder.reset()
            else:
                decoder.setstate((b"", dec_flags))
        return decoder

    def replay(
        self, dec_flags: int, input_chunk: bytes, need_eof: bool, chars_to_skip: int
    ) -> None:
        """``seek(cookie)``, second half: decode the *input_chunk* the cookie
        says to feed and skip *chars_to_skip* characters of it."""
        self.snapshot = (dec_flags, input_chunk)
        self.set_decoded_chars(self.decoder.decode(input_chunk, need_eof))
        if len(self.decoded_chars) < chars_to_skip:
            raise OSError("can't restore logical file position")
        self.decoded_chars_used = chars_to_skip


class LineScan:
    """One ``readline(limit)`` in progress: the C TextIOWrapper's
    ``_textiowrapper_readline``, step for step, without its reads.

    The caller loops: while the reader has no decoded characters, read and
    :meth:`TextReader.feed` a chunk (at EOF, return :meth:`at_eof`); then
    :meth:`step` returns the line, or None when it needs the next chunk.
    """

    __slots__ = ("_chunked", "_chunks", "_limit", "_reader", "_remaining")

    def __init__(self, reader: TextReader, limit: int) -> None:
        self._reader = reader
        self._limit = limit
        self._chunks: list[str] = []
        self._chunked = 0
        # The tail of the previous chunk that may start a line ending ("\r"
        # of a "\r\n" when newline="\r\n").
        self._remaining: str | None = None

    def step(self) -> str | None:
        """Look for the end of the line in the reader's decoded characters."""
        reader = self._reader
        limit = self._limit
        chunked = self._chunked
        if self._remaining is None:
            line = reader.decoded_chars
            start = reader.decoded_chars_used
            offset_to_buffer = 0
        else:
            line = self._remaining + reader.decoded_chars
            start = 0
            offset_to_buffer = len(self._remaining)
            self._remaining = None
        found, consumed = reader.newlines.find_line_ending(line, start)
        endpos = found if found >= 0 else consumed
        if limit >= 0 and (endpos - start) + chunked >= limit:
            endpos = start + limit - chunked  # the length limit is reached
        elif found < 0:
            # No line ending yet: keep the part that cannot start one, and
            # ask for the next chunk.
            if endpos > start:
                self._chunks.append(line[start:endpos])
                self._chunked += endpos - start
            if endpos < len(line):
                self._remaining = line[endpos:]
            reader.set_decoded_chars("")
            return None
        # The line ends in the current buffer.
        reader.decoded_chars_used = endpos - offset_to_buffer
        return self._join(line[start:endpos])

    def at_eof(self) -> str:
        """The line so far, the file having ended."""
        self._reader.at_eof()
        if self._remaining is not None:
            self._chunks.append(self._remaining)
        return self._join("")

    def _join(self, line: str) -> str:
        chunks = self._chunks
        if chunks:
            if line:
                chunks.append(line)
            line = "".join(chunks)
        return line


# -- writing ------------------------------------------------------------------


class TextWriter:
    """The write side of a text file: the encoder, and what a written text
    becomes until the shell hands it to the binary layer.

    With an ASCII-compatible codec, ASCII text stays ``str`` (encoded later,
    in one go, by :func:`join_pending`: C's ``pending_bytes``); anything else
    is encoded at once, so encoding errors surface at ``write()``.
    """

    __slots__ = ("ascii_fast", "encoder", "encoding", "errors")

    def __init__(self, encoding: str, errors: str, codec: codecs.CodecInfo) -> None:
        self.encoding = encoding
        self.errors = errors
        #: The codec encodes ASCII text as itself.
        self.ascii_fast = codec.name in _ASCII_COMPATIBLE
        self.encoder: Any = None

    def start(self) -> None:
        """Make the encoder (a BOM-writing one: see :meth:`reset_encoder`)."""
        self.encoder = codecs.getincrementalencoder(self.encoding)(self.errors)

    def reset_encoder(self, start_of_stream: bool) -> None:
        """A BOM is written next only at the start of the stream
        (TextIOWrapper's rule, at open and after a seek)."""
        encoder = self.encoder
        if encoder is None:
            return
        if start_of_stream:
            encoder.reset()
        else:
            encoder.setstate(0)

    def encode(self, text: str) -> str | bytes:
        """What to queue for *text* (newlines already translated): *text*
        itself when :func:`join_pending` can encode it later, else its bytes."""
        if self.ascii_fast and text.isascii():
            return text
        data: bytes = self.encoder.encode(text)
        return data


def join_pending(pending: list[str | bytes], has_bytes: bool) -> bytes:
    """The queued writes as one bytes object (*has_bytes*: some are bytes)."""
    if has_bytes:
        return b"".join(p if isinstance(p, bytes) else p.encode("ascii") for p in pending)
    return "".join(pending).encode("ascii")  # type: ignore[arg-type]
