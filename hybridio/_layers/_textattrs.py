"""What a text file tells without I/O: TextIOWrapper's read-only attributes.

The base of :class:`~hybridio._layers.text.AsyncTextIO`: what it was opened
with, and what the binary file underneath says about itself.
"""

from __future__ import annotations

from typing import Any

from .base import AsyncBinaryIO, AsyncFileBase, check_closed
from .textcore import TextReader, TextWriter

__all__ = ("TextFileBase",)


class TextFileBase(AsyncFileBase):
    """The attributes of :class:`~hybridio._layers.text.AsyncTextIO` (which sets
    the state below in its constructor)."""

    __slots__ = ()

    _buffer: AsyncBinaryIO
    _line_buffering: bool
    _reader: TextReader
    _seekable: bool
    _write_through: bool
    _writer: TextWriter

    @property
    def buffer(self) -> AsyncBinaryIO:
        """The binary file underneath."""
        return self._buffer

    @property
    def encoding(self) -> str:
        """The codec name."""
        return self._writer.encoding

    @property
    def errors(self) -> str:
        """The codec error handler."""
        return self._writer.errors

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
        decoder = self._reader.decoder
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
        return result + f" mode={self.mode!r} encoding={self.encoding!r}>"
