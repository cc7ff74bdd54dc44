"""The unbuffered kind of thread-served file (``buffering=0``): ``FileIO``.

No buffers: every call is one thread call on the ``io.FileIO``, with
``FileIO``'s argument conversions and error wording (``_raw_errors``).  Bytes
written have reached the OS when ``write`` returns; what is shared with the
buffered kind (positional I/O, flush, fsync, truncate, close) comes from
:class:`~.streamfile.StreamFile` and finds its buffers always empty.
"""

from __future__ import annotations

import operator
from typing import Any

from .base import (
    AsyncBinaryIO,
    as_ssize,
    bytes_view,
    check_closed,
    check_seekable,
    check_size,
    check_whence,
    raw_whence,
    seek_offset,
)
from .streamfile import StreamFile

__all__ = ("UnbufferedStreamFile",)


class UnbufferedStreamFile(StreamFile):
    """A :class:`StreamFile` with ``FileIO``'s behaviour: one thread call per operation."""

    _raw_errors = True

    def readable(self) -> bool:
        """True if the file was opened for reading."""
        check_closed(self._closed)
        return self._readable

    def writable(self) -> bool:
        """True if the file was opened for writing."""
        check_closed(self._closed)
        return self._writable

    def _check_args_read(self, op: str, size: object, convert: Any) -> int:
        # FileIO converts size, then checks closed and the direction.
        n: int = convert(size)
        check_closed(self._closed)
        self._check_direction(op)
        return n

    async def read(self, size: int | None = -1, /) -> bytes:
        """One ``FileIO.read`` (all until EOF when negative/None)."""
        n = self._check_args_read("read", size, check_size)
        return await self._call(self._counted_sync, self._raw.read, n)  # type: ignore[no-any-return]

    async def read1(self, size: int = -1, /) -> bytes:
        """One ``FileIO.read`` of up to *size* bytes (a buffer's worth when negative)."""
        n = self._check_args_read("read1", size, as_ssize)
        return await self._call(  # type: ignore[no-any-return]
            self._counted_sync, self._raw.read, n if n >= 0 else self._chunk
        )

    async def peek(self, size: int = 0, /) -> bytes:
        """Read and seek back: there is no buffer to look into."""
        operator.index(size)
        return await AsyncBinaryIO.peek(self, size)

    async def readline(self, size: int | None = -1, /) -> bytes:
        """One ``FileIO.readline`` (IOBase's: b"" for size 0 before anything else)."""
        limit = check_size(size)
        if limit == 0:
            return b""
        check_closed(self._closed)
        self._check_direction("readline")
        return await self._call(self._counted_sync, self._raw.readline, limit)  # type: ignore[no-any-return]

    async def write(self, data: Any, /) -> int:
        """One ``FileIO.write``: return how many bytes the OS took."""
        # FileIO looks at the data first, then closed and the direction.
        with bytes_view(data) as view:
            check_closed(self._closed)
            self._check_direction("write")
            return await self._call(self._counted_sync, self._raw.write, view)  # type: ignore[no-any-return]

    async def seek(self, offset: int, whence: int = 0, /) -> int:
        """One ``FileIO.seek`` (EINVAL for an unknown *whence*, as ``lseek``)."""
        whence = check_whence(whence, raw=True)
        check_closed(self._closed)
        offset = seek_offset(offset, raw=True)
        raw_whence(whence)
        check_seekable(self._seekable)
        return await self._call(self._raw.seek, offset, whence)  # type: ignore[no-any-return]

    async def tell(self) -> int:
        """One ``FileIO.tell`` (OSError ESPIPE on a pipe)."""
        check_closed(self._closed)
        return await self._call(self._raw.tell)  # type: ignore[no-any-return]

    def _truncate_sync(self, size: int | None) -> int:
        return int(self._raw.truncate(size))
