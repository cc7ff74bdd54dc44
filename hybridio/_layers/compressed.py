"""The compressed kind of thread-served file: :class:`CompressedStreamFile`.

The buffers and the thread calls are :class:`~.streamfile.StreamFile`'s; what
differs is whose rules the argument checks follow -- the format objects'
(``GzipFile``, and ``_compression.BaseStream`` for ``BZ2File``/``LZMAFile``,
which the zstd adapters imitate) rather than ``BufferedRandom``'s -- and that
positions belong to the compressor (``_format_positions``: no lazy seek, no
positional I/O, no truncate, ``tell()`` asked after reads and seeks).
"""

from __future__ import annotations

import errno
import io
import sys
from typing import Any

from .._compression import Compression
from .base import (
    as_index,
    as_ssize,
    bytes_view,
    check_closed,
    check_seekable,
    check_size,
    unsupported,
)
from .streamfile import OpenExclusive, StreamFile

__all__ = ("CompressedStreamFile",)

#: GzipFile writes through a BufferedWriter from 3.12 on: its readline() is
#: IOBase's (UnsupportedOperation('read'), b"" for size 0), not GzipFile's EBADF.
_GZIP_BUFFERED = sys.version_info >= (3, 12)
#: The format whose write() takes memoryview(data) first, with its errors
#: (GzipFile before 3.12); None when there is none.
_VIEW_WRITER = None if _GZIP_BUFFERED else Compression.GZIP


def _gzip_read1_size(value: object) -> int:
    # GzipFile.read1 compares with 0 before anything (TypeError for None).
    return -1 if value < 0 else as_ssize(value)  # type: ignore[operator]


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


class CompressedStreamFile(StreamFile):
    """A :class:`StreamFile` over a gzip, bz2, lzma or zstd file object."""

    _format_positions = True
    _read1_size = staticmethod(_gzip_read1_size)

    def readable(self) -> bool:
        """True if the file was opened for reading."""
        if self.compression is not Compression.GZIP:  # GzipFile answers even when closed
            check_closed(self._closed)
        return self._readable

    def writable(self) -> bool:
        """True if the file was opened for writing."""
        if self.compression is not Compression.GZIP:
            check_closed(self._closed)
        return self._writable

    def seekable(self) -> bool:
        """True if the file supports seek/tell."""
        if self.compression is not Compression.GZIP:
            check_closed(self._closed)
        return self._seekable

    def _check_direction(self, op: str) -> None:
        reading = op.startswith("read")
        if self._readable if reading else self._writable:
            return
        if self.compression is Compression.GZIP:
            other = "write" if reading else "read"
            raise OSError(errno.EBADF, f"{op}() on {other}-only GzipFile object")
        # BZ2File, LZMAFile (_compression.BaseStream)
        raise unsupported("File not open for " + ("reading" if reading else "writing"))

    def _check_args_read(self, op: str, size: object, convert: Any) -> int:
        # The format objects check closed and the mode before they look at size.
        check_closed(self._closed)
        self._check_direction(op)
        return convert(size)  # type: ignore[no-any-return]

    async def readline(self, size: int | None = -1, /) -> bytes:
        """Read one line (up to *size* bytes), the newline included."""
        check_closed(self._closed)
        limit = check_size(size)
        if not self._readable and _GZIP_BUFFERED and self.compression is Compression.GZIP:
            # GzipFile.readline on 3.12+ is its BufferedWriter's (IOBase's).
            if limit == 0:
                return b""
            raise unsupported("read")
        self._check_direction("readline")
        if limit == 0:
            return b""
        if not self._busy and (line := self._line_from_buffer(limit, False)) is not None:
            return line
        return await self._readline_slow(limit)

    async def write(self, data: Any, /) -> int:
        """Write a bytes-like object; return its length (always all of it)."""
        # GzipFile checks closed and its mode before it looks at the data.
        check_closed(self._closed)
        self._check_direction("write")
        with bytes_view(data, via_memoryview=self.compression is _VIEW_WRITER) as view:
            n = view.nbytes
            # A compressed file writes or reads, never both: nothing is read ahead.
            if not self._busy and len(self._wbuf) + n < self._chunk:
                self._wbuf += view
                return n
            return await self._write_slow(view, n)

    async def seek(self, offset: int, whence: int = 0, /) -> int:
        """Move the position in the uncompressed stream (GzipFile's rules:
        backward in read mode rewinds; in write mode forward writes zeros)."""
        if self._closed and self.compression is Compression.GZIP and not self._readable:
            _gzip_write_seek_checks(offset, whence, self._raw_pos or 0)
        check_closed(self._closed)
        if not (hasattr(offset, "__index__") and hasattr(whence, "__index__")):
            # The format's own seek judges offset and whence.
            return await self._call(self._seek_sync, offset, whence)  # type: ignore[no-any-return]
        offset = as_index(offset)
        whence = as_index(whence)
        check_seekable(self._seekable)
        async with OpenExclusive(self):
            return await self._seek_locked(offset, whence)

    async def truncate(self, size: int | None = None, /) -> int:
        """Refused, as by the format objects (IOBase.truncate), closed or not."""
        raise unsupported("truncate")
