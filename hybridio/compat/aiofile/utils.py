"""``aiofile.utils``: Reader, Writer, LineReader and the file wrappers of ``async_open``.

aiofile's wrappers keep their own offset: ``seek()`` and ``tell()`` are
synchronous (they only move that number), every read or write is a
positional call on the ``AIOFile`` below, and ``flush()`` fdatasyncs.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import os
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any, Generic, TypeVar

from .aio import AIOFile

__all__ = (
    "BinaryFileWrapper",
    "FileIOCloner",
    "FileIOWrapperBase",
    "LineReader",
    "Reader",
    "TextFileWrapper",
    "Writer",
    "async_open",
    "clone",
    "unicode_reader",
)

# Longest encoded character: how many extra bytes a chunk may need so that it
# does not end inside a character.
_MAX_CHAR_BYTES = {"utf-8": 4, "utf-16": 8}


async def unicode_reader(
    afp: AIOFile, chunk_size: int, offset: int, encoding: str = "utf-8"
) -> tuple[int, str]:
    """Decode at least *chunk_size* bytes at *offset*: (bytes used, text)."""
    if chunk_size < 0:
        data = await afp.read_bytes(-1, offset)
        return len(data), data.decode(encoding)
    error: UnicodeDecodeError | None = None
    for extra in range(_MAX_CHAR_BYTES.get(codecs.lookup(encoding).name, 4)):
        data = await afp.read_bytes(chunk_size + extra, offset)
        try:
            return len(data), data.decode(encoding)
        except UnicodeDecodeError as exc:
            error = exc
    assert error is not None
    raise error


def _item_or_stop(item: str | bytes) -> str | bytes:
    """An iteration's next chunk or line; the first empty one ends it (as aiofile)."""
    if not item:
        raise StopAsyncIteration(item)
    return item


class Reader:
    """Chunks of *chunk_size* bytes (whole characters in text modes) from *offset* on."""

    CHUNK_SIZE = 32 * 1024

    def __init__(self, aio_file: AIOFile, offset: int = 0, chunk_size: int = CHUNK_SIZE) -> None:
        self.file = aio_file
        self.encoding = aio_file.encoding
        self._offset = int(offset)
        self._chunk_size = int(chunk_size)
        self._lock = asyncio.Lock()

    async def read_chunk(self) -> str | bytes:
        """The next chunk; empty at the end of the file."""
        async with self._lock:
            chunk: str | bytes
            if self.file.mode.binary:
                chunk = await self.file.read_bytes(self._chunk_size, self._offset)
                used = len(chunk)
            else:
                used, chunk = await unicode_reader(
                    self.file, self._chunk_size, self._offset, self.encoding
                )
            self._offset += used
            return chunk

    def __aiter__(self) -> Reader:
        return self

    async def __anext__(self) -> str | bytes:
        return _item_or_stop(await self.read_chunk())


class Writer:
    """Callable that writes each piece after the previous one, from *offset* on."""

    def __init__(self, aio_file: AIOFile, offset: int = 0) -> None:
        self._file = aio_file
        self._offset = int(offset)
        self._lock = asyncio.Lock()

    async def __call__(self, data: str | bytes) -> None:
        async with self._lock:
            raw = self._file.encode_bytes(data) if isinstance(data, str) else data
            await self._file.write_bytes(raw, self._offset)
            self._offset += len(raw)


class LineReader:
    """Lines (with their separator) from *offset* on, read *chunk_size* at a time."""

    CHUNK_SIZE = 4192

    def __init__(
        self,
        aio_file: AIOFile,
        offset: int = 0,
        chunk_size: int = CHUNK_SIZE,
        line_sep: str = "\n",
    ) -> None:
        self._reader = Reader(aio_file, offset=offset, chunk_size=chunk_size)
        binary = aio_file.mode.binary
        self.linesep: Any = aio_file.encode_bytes(line_sep) if binary else line_sep
        self._pending: Any = b"" if binary else ""

    async def readline(self) -> str | bytes:
        """The next line; what is left (maybe empty) at the end of the file."""
        while True:
            cut = self._pending.find(self.linesep)
            if cut >= 0:
                end = cut + len(self.linesep)
                line, self._pending = self._pending[:end], self._pending[end:]
                return line  # type: ignore[no-any-return]
            chunk = await self._reader.read_chunk()
            if not chunk:
                line, self._pending = self._pending, self._pending[:0]
                return line  # type: ignore[no-any-return]
            self._pending += chunk

    def __aiter__(self) -> LineReader:
        return self

    async def __anext__(self) -> str | bytes:
        return _item_or_stop(await self.readline())


class FileIOWrapperBase:
    """A position over an ``AIOFile``: sync ``seek``/``tell``, async I/O."""

    _READLINE_CHUNK_SIZE = 4192

    def __init__(self, afp: AIOFile, *, offset: int = 0) -> None:
        self.file = afp
        self._offset = offset
        self._lock = asyncio.Lock()
        if afp.mode.appending:
            # Appending files start at their end.
            try:
                self._offset = os.stat(afp.name).st_size
            except FileNotFoundError:
                self._offset = 0

    def seek(self, offset: int) -> None:
        """Move the position (synchronous: nothing to await)."""
        self._offset = offset

    def tell(self) -> int:
        """The position, in bytes."""
        return self._offset

    @property
    def closed(self) -> bool:
        """Whether the file is closed (or not opened yet)."""
        return self.file.closed

    async def flush(self, sync_metadata: bool = False) -> None:
        """fdatasync (fsync with ``sync_metadata=True``): writes are never buffered here."""
        if sync_metadata:
            await self.file.fsync()
        else:
            await self.file.fdsync()

    async def close(self) -> None:
        """Close the file."""
        await self.file.close()

    def __await__(self) -> Generator[Any, None, FileIOWrapperBase]:
        yield from self.file.__await__()
        return self

    async def __aenter__(self) -> Any:
        await self.file.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Any]:
        # From the wrapper's position (aiofile 3.12 starts at 0 whatever the
        # position; code that seeks first behaves the same on both).
        return LineReader(self.file, offset=self._offset)

    def iter_chunked(self, chunk_size: int = Reader.CHUNK_SIZE) -> Reader:
        """Chunks from the position on."""
        return Reader(self.file, chunk_size=chunk_size, offset=self._offset)

    async def _readline_with(self, size: int, newline: Any, read: Any, measure: Any) -> Any:
        start = self._offset
        buf = io.BytesIO() if isinstance(newline, bytes) else io.StringIO()
        with buf:
            while True:
                chunk = await read(self._READLINE_CHUNK_SIZE)
                if chunk:
                    buf.write(chunk)
                    if newline not in chunk:
                        continue
                if 0 < size <= buf.tell():
                    buf.truncate(size)
                    self._offset = start + measure(buf.getvalue())
                    return buf.getvalue()
                buf.seek(0)
                line = buf.readline()
                self._offset = start + measure(line)
                return line


class BinaryFileWrapper(FileIOWrapperBase):
    """``async_open`` in a binary mode."""

    def __init__(self, afp: AIOFile) -> None:
        if not afp.mode.binary:
            raise ValueError("Expected file in binary mode")
        super().__init__(afp)

    async def _read(self, length: int) -> bytes:
        data = await self.file.read_bytes(length, self._offset)
        self._offset += len(data)
        return data

    async def read(self, length: int = -1) -> bytes:
        """Up to *length* bytes from the position (all with -1)."""
        async with self._lock:
            return await self._read(length)

    async def write(self, data: bytes) -> int:
        """Write at the position; the position moves past it at once."""
        async with self._lock:
            at = self._offset
            self._offset += len(data)
        await self.file.write_bytes(data, at)
        return len(data)

    async def readline(self, size: int = -1, newline: bytes = b"\n") -> bytes:
        """One line (at most *size* bytes)."""
        async with self._lock:
            line: bytes = await self._readline_with(size, newline, self._read, len)
            return line


class TextFileWrapper(FileIOWrapperBase):
    """``async_open`` in a text mode: positions are byte offsets."""

    def __init__(self, afp: AIOFile) -> None:
        if afp.mode.binary:
            raise ValueError("Expected file in text mode")
        super().__init__(afp)
        self.encoding = afp.encoding

    def _size(self, text: str) -> int:
        return len(text.encode(self.encoding))

    async def _read(self, length: int) -> str:
        offset = self._offset
        text = ""
        while length < 0 or len(text) < length:
            used, part = await unicode_reader(self.file, length, offset, self.encoding)
            if not part:
                break
            text += part
            offset += used
        if 0 < length < len(text):
            # Never more characters than asked (aiofile#91): the extra ones
            # are given back to the position.
            offset -= self._size(text[length:])
            text = text[:length]
        self._offset = offset
        return text

    async def read(self, length: int = -1) -> str:
        """Up to *length* characters from the position (all with -1)."""
        async with self._lock:
            return await self._read(length)

    async def write(self, data: str) -> int:
        """Write at the position; returns the number of bytes written."""
        async with self._lock:
            raw = data.encode(self.encoding)
            at = self._offset
            self._offset += len(raw)
        await self.file.write_bytes(raw, at)
        return len(raw)

    async def readline(self, size: int = -1, newline: str = "\n") -> str:
        """One line (at most *size* characters)."""
        async with self._lock:
            line: str = await self._readline_with(size, newline, self._read, self._size)
            return line


def async_open(file_specifier: str | Path | Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
    """aiofile's ``async_open``: a wrapper to await or ``async with`` (a path or a file object)."""
    if isinstance(file_specifier, (str, Path)):
        afp = AIOFile(str(file_specifier), mode, *args, **kwargs)
    else:
        if args:
            raise ValueError("Arguments denied when IO[Any] opening.")
        afp = AIOFile.from_fp(file_specifier, **kwargs)
    if afp.mode.binary:
        return BinaryFileWrapper(afp)
    return TextFileWrapper(afp)


_W = TypeVar("_W", bound=FileIOWrapperBase)


class FileIOCloner(Generic[_W]):
    """What ``clone()`` returns: await it or ``async with`` it."""

    def __init__(self, file: _W) -> None:
        self.source_afp = file
        self.cloned_afp: _W | None = None
        self._lock = asyncio.Lock()

    async def _clone(self) -> _W:
        async with self._lock:
            if self.cloned_afp is None:
                self.cloned_afp = type(self.source_afp)(await self.source_afp.file.clone())
            return self.cloned_afp

    def __await__(self) -> Generator[Any, None, _W]:
        return self._clone().__await__()

    async def __aenter__(self) -> _W:
        return await self._clone()

    async def __aexit__(self, *exc: object) -> None:
        if self.cloned_afp is not None:
            await self.cloned_afp.close()


def clone(afp: _W) -> FileIOCloner[_W]:
    """A second position over the same open file; the file closes with the last one."""
    return FileIOCloner(afp)
