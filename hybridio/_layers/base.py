"""The public file protocol shared by every layer, and the stdlib's small checks.

Every binary file hybridio hands out is an :class:`AsyncBinaryIO`, whichever
engine serves it; every text file is an ``AsyncTextIO`` (``_layers/text.py``).
The checks below (and the argument converters of ``_layers/_args.py``,
re-exported here) raise exactly what ``_pyio``/``_compression`` raise, so one
set of messages is used by every layer.
"""

from __future__ import annotations

import abc
import errno
import io
import os
import sys
import types
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from typing import Any, Final

from .._errors import finish_batch
from .._stats import IOStats
from ._args import (
    OFF_MAX,
    as_c_int,
    as_index,
    as_off_t,
    as_ssize,
    check_count,
    check_offset,
    check_size,
    check_span,
    check_truncate_size,
    seek_offset,
    seek_target,
)

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = (
    "OFF_MAX",
    "FAR_SEEK",
    "SEEK_WHENCES",
    "STUB_PARSES_SIZE",
    "AsyncBinaryIO",
    "AsyncFileBase",
    "as_c_int",
    "as_index",
    "as_off_t",
    "as_ssize",
    "bytes_view",
    "check_closed",
    "check_count",
    "check_offset",
    "check_readable",
    "check_seekable",
    "check_size",
    "check_span",
    "check_truncate_size",
    "check_whence",
    "check_writable",
    "lseek_probe",
    "raw_whence",
    "seek_offset",
    "seek_target",
    "unsupported",
    "writable_view",
    "wrong_direction",
)


def unsupported(name: str) -> io.UnsupportedOperation:
    """The exception the stdlib raises for a wrong-direction call."""
    return io.UnsupportedOperation(name)


def wrong_direction(op: str, *, raw: bool) -> io.UnsupportedOperation:
    """What the stdlib raises for *op* ("read", "write", "truncate") in the wrong direction.

    A ``FileIO`` (``buffering=0``) names the direction; a ``BufferedReader`` or
    ``BufferedWriter`` simply lacks the method, and says its name.
    """
    if raw:
        return io.UnsupportedOperation(
            "File not open for reading" if op == "read" else "File not open for writing"
        )
    return io.UnsupportedOperation(op)


def bytes_view(data: Any, *, via_memoryview: bool = False) -> memoryview:
    """A flat byte view of a bytes-like object, with ``BufferedWriter``'s errors.

    Any C-contiguous buffer-protocol object is accepted, multi-dimensional ones
    included.  A non-contiguous one (a strided numpy array or memoryview) gets
    the error its exporter raises when ``write()`` asks it for a simple buffer:
    ``ValueError("ndarray is not C-contiguous")``, ``BufferError(...)``.
    *via_memoryview*: the errors of a writer that wraps *data* in a memoryview
    first (GzipFile before 3.12).
    """
    if via_memoryview:
        view = memoryview(data)
        if not view.c_contiguous:
            view.release()
            raise BufferError("memoryview: underlying buffer is not C-contiguous")
    else:
        if isinstance(data, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        try:
            view = memoryview(data)
        except TypeError:
            raise TypeError(
                f"a bytes-like object is required, not '{type(data).__name__}'"
            ) from None
        if not view.c_contiguous:
            view.release()
            # crc32 parses its argument as "y*", exactly like BufferedWriter.write:
            # the exporter refuses with its own error.
            zlib.crc32(data)
            raise BufferError("memoryview: underlying buffer is not C-contiguous")
    if view.ndim != 1 or view.format not in ("B", "b", "c"):
        view = view.cast("B")
    return view


def writable_view(buffer: Any, what: str = "readinto", *, raw: bool = False) -> memoryview:
    """A flat writable byte view of *buffer*, with ``readinto``'s TypeError.

    The caller releases it (``with writable_view(...) as flat``).  *raw*: word
    the error as ``FileIO.readinto`` does (it numbers the argument from 3.12).
    """
    try:
        view = memoryview(buffer)
    except TypeError:
        if what != "readinto":  # positional: os.preadv's wording
            raise TypeError(
                f"a bytes-like object is required, not '{type(buffer).__name__}'"
            ) from None
        view = None
    if view is None or view.readonly or not view.c_contiguous:
        if view is not None:
            view.release()
        arg = "argument 1" if raw and sys.version_info >= (3, 12) else "argument"
        raise TypeError(
            f"{what}() {arg} must be read-write bytes-like object, not {_tp_name(buffer)}"
        )
    if view.ndim != 1 or view.format != "B":
        flat = view.cast("B")
        view.release()
        return flat
    return view


_HEAPTYPE: Final = 1 << 9


def _tp_name(obj: object) -> str:
    """The C-level type name the argument parser prints (``numpy.ndarray``, ``None``)."""
    if obj is None:
        return "None"
    cls = type(obj)
    if cls.__flags__ & _HEAPTYPE or cls.__module__ == "builtins":
        return cls.__name__  # a class defined in Python, or a builtin: tp_name is the name
    return f"{cls.__module__}.{cls.__qualname__}"


def check_closed(closed: bool) -> None:
    """Raise ValueError as ``_pyio`` does when the file is closed."""
    if closed:
        raise ValueError("I/O operation on closed file.")


def check_readable(readable: bool, *, raw: bool = False) -> None:
    """Raise ``io.UnsupportedOperation`` for a read on a write-only file."""
    if not readable:
        raise wrong_direction("read", raw=raw)


def check_writable(writable: bool, *, raw: bool = False) -> None:
    """Raise ``io.UnsupportedOperation`` for a write on a read-only file."""
    if not writable:
        raise wrong_direction("write", raw=raw)


def check_seekable(seekable: bool) -> None:
    """Raise ``io.UnsupportedOperation`` for a seek on an unseekable file."""
    if not seekable:
        raise unsupported("File or stream is not seekable.")


#: Seek targets from here on are checked with ``lseek`` (see :func:`lseek_probe`).
FAR_SEEK: Final = 1 << 40


def lseek_probe(fd: int, offset: int, whence: int = os.SEEK_SET) -> int:
    """Where ``lseek`` would land, leaving the fd's own offset where it was.

    For what only the kernel knows: SEEK_DATA/SEEK_HOLE (ENXIO past the end)
    and the filesystem's largest file size (16 TiB on ext4: EINVAL beyond,
    where FileIO's seek fails; a position kept past it would make every later
    flush fail instead).
    """
    saved = os.lseek(fd, 0, os.SEEK_CUR)
    try:
        return os.lseek(fd, offset, whence)
    finally:
        os.lseek(fd, saved, os.SEEK_SET)


#: The whence values ``lseek`` takes here (SEEK_DATA/SEEK_HOLE where they exist).
SEEK_WHENCES: Final = frozenset(
    {0, 1, 2} | {getattr(os, n) for n in ("SEEK_DATA", "SEEK_HOLE") if hasattr(os, n)}
)


#: BufferedIOBase.read()/read1() parse their size (a C int) before refusing
#: from 3.12 on; earlier they refuse whatever they are given.
STUB_PARSES_SIZE: Final = sys.version_info >= (3, 12)


def check_whence(whence: object, *, raw: bool = False) -> int:
    """Parse *whence*; refuse an unknown one as the buffered classes do.

    With *raw* (``FileIO``) only the conversion is checked here: ``lseek``
    refuses the value later, with EINVAL (see :func:`raw_whence`).
    """
    value = as_c_int(whence)
    if not raw and value not in SEEK_WHENCES:
        raise ValueError(f"whence value {value} unsupported")
    return value


def raw_whence(whence: int) -> int:
    """EINVAL, as ``lseek`` gives it to ``FileIO.seek``, for an unknown *whence*."""
    if whence not in SEEK_WHENCES:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    return whence


class AsyncFileBase(abc.ABC):
    """What binary and text files share: lifetime, iteration, context management.

    ``read``/``write``/``seek``/... are coroutines; ``name``, ``mode`` and
    ``closed`` are plain attributes as on stdlib files.  ``close()`` is
    idempotent and shielded from cancellation.
    """

    name: Any
    mode: str
    #: The selector's plan for this file (set by ``async_open``).
    plan: Any = None

    @property
    def decision(self) -> Any:
        """The selector's ``Decision`` (``hybridio.explain`` output): which engine
        serves this file and why; the reasons are written when first asked for."""
        return None if self.plan is None else self.plan.decision()

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """True once the file is closed."""

    @abc.abstractmethod
    def readable(self) -> bool:
        """True if the file was opened for reading."""

    @abc.abstractmethod
    def writable(self) -> bool:
        """True if the file was opened for writing."""

    @abc.abstractmethod
    def seekable(self) -> bool:
        """True if the file supports random access."""

    @abc.abstractmethod
    def fileno(self) -> int:
        """The underlying file descriptor."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush and close; idempotent; completes even when cancelled."""

    async def aclose(self) -> None:
        """Alias of :meth:`close` (trio/anyio spelling)."""
        await self.close()

    def isatty(self) -> bool:
        """Whether the file is a terminal (``os.isatty`` of the fd)."""
        import os

        check_closed(self.closed)
        return os.isatty(self.fileno())

    async def __aenter__(self) -> Self:
        check_closed(self.closed)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.close()

    def __await__(self) -> Generator[Any, None, Self]:
        # `f = await async_open(...)` and `async with async_open(...)` both work:
        # the object is fully open once constructed.
        if False:  # pragma: no cover - makes this a generator
            yield
        return self

    def __aiter__(self) -> Self:
        check_closed(self.closed)
        return self

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} name={self.name!r} mode={self.mode!r} {state}>"


class AsyncBinaryIO(AsyncFileBase):
    """A binary file with coroutine methods, mirroring ``io.BufferedRandom``.

    Positional methods (``read_at``, ``readinto_at``, ``write_at``) take the
    offset first, never default it, and never move the stream position.
    ``backend`` names what serves the file (a kernel backend such as
    ``"uring"``, or ``"threads"``) and ``stats`` counts what each engine did.
    """

    @property
    def backend(self) -> str:
        """What serves this file: a kernel backend name, or ``"threads"``."""
        return "threads"

    @property
    def stats(self) -> IOStats:
        """Which engine served how many operations and bytes (not counted here)."""
        return IOStats(backend=self.backend)

    @abc.abstractmethod
    async def read(self, size: int | None = -1, /) -> bytes:
        """Read up to *size* bytes (all when negative or None)."""

    @abc.abstractmethod
    async def read1(self, size: int = -1, /) -> bytes:
        """Read up to *size* bytes with at most one raw read."""

    @abc.abstractmethod
    async def readinto(self, buffer: Any, /) -> int:
        """Read into a writable buffer; return the byte count."""

    async def readinto1(self, buffer: Any, /) -> int:
        """Read into *buffer* with at most one raw read."""
        # Refuses a read-only buffer before reading, so nothing is consumed.
        with writable_view(buffer, "readinto1") as flat:
            data = await self.read1(len(flat))
            flat[: len(data)] = data
            return len(data)

    @abc.abstractmethod
    async def readline(self, size: int | None = -1, /) -> bytes:
        """Read one line (up to *size* bytes)."""

    async def readlines(self, hint: int | None = -1, /) -> list[bytes]:
        """Read lines until EOF, or until *hint* bytes have been read."""
        limit = check_size(hint)
        check_closed(self.closed)  # IOBase.readlines iterates: iter() checks first
        lines: list[bytes] = []
        total = 0
        while True:
            line = await self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < limit <= total:
                return lines

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    @abc.abstractmethod
    async def write(self, data: Any, /) -> int:
        """Write a bytes-like object; return its length in bytes."""

    async def writelines(self, lines: Iterable[Any], /) -> None:
        """Write each bytes-like object of *lines*."""
        check_closed(self.closed)
        for line in lines:
            await self.write(line)

    @abc.abstractmethod
    async def seek(self, offset: int, whence: int = 0, /) -> int:
        """Move the stream position; return the new absolute position."""

    @abc.abstractmethod
    async def tell(self) -> int:
        """The stream position."""

    @abc.abstractmethod
    async def truncate(self, size: int | None = None, /) -> int:
        """Resize the file to *size* (default: the current position)."""

    @abc.abstractmethod
    async def flush(self) -> None:
        """Write buffered data to the OS."""

    @abc.abstractmethod
    async def fsync(self) -> None:
        """Flush, then ``fsync`` the file (durable data and metadata)."""

    @abc.abstractmethod
    async def fdatasync(self) -> None:
        """Flush, then ``fdatasync`` the file (durable data)."""

    @abc.abstractmethod
    async def read_at(self, offset: int, size: int, /) -> bytes:
        """Read up to *size* bytes at *offset* without moving the position."""

    @abc.abstractmethod
    async def readinto_at(self, offset: int, buffer: Any, /) -> int:
        """Read into *buffer* at *offset* without moving the position."""

    @abc.abstractmethod
    async def write_at(self, offset: int, data: Any, /) -> int:
        """Write all of *data* at *offset* without moving the position."""

    # The batch calls: these generic versions run one request after the other;
    # kernel-served files override the reads with one batched submission.

    async def read_many(
        self, ranges: Iterable[tuple[int, int]], /, *, return_exceptions: bool = False
    ) -> list[Any]:
        """Read every ``(offset, size)`` range, results in request order."""
        return await self._one_by_one(self.read_at, ranges, return_exceptions)

    async def readinto_many(
        self, requests: Iterable[tuple[int, Any]], /, *, return_exceptions: bool = False
    ) -> list[Any]:
        """Fill each ``(offset, buffer)``; return the byte counts in request order."""
        return await self._one_by_one(self.readinto_at, requests, return_exceptions)

    async def write_many(
        self, writes: Iterable[tuple[int, Any]], /, *, return_exceptions: bool = False
    ) -> list[Any]:
        """Write each ``(offset, data)`` in order; return the byte counts."""
        return await self._one_by_one(self.write_at, writes, return_exceptions)

    async def readall(self) -> bytes:
        """Read until EOF (``FileIO.readall``)."""
        return await self.read(-1)

    async def peek(self, size: int = 0, /) -> bytes:
        """Bytes ahead of the position without moving it (``BufferedReader.peek``).

        At least one byte unless at EOF; possibly more than *size*.  This
        generic version reads and seeks back; kernel-served files return their
        read-ahead buffer.
        """
        check_closed(self.closed)
        if not self.readable():
            raise unsupported("peek")
        # Refused before reading: a pipe cannot give the bytes back.
        check_seekable(self.seekable())
        data = await self.read1(max(as_index(size), 1))
        if data:
            await self.seek(-len(data), 1)
        return data

    @staticmethod
    async def _one_by_one(
        call: Callable[[int, Any], Awaitable[Any]],
        requests: Iterable[tuple[int, Any]],
        return_exceptions: bool,
    ) -> list[Any]:
        results: list[Any] = []
        for offset, arg in requests:
            try:
                results.append(await call(offset, arg))
            except OSError as exc:
                results.append(exc)
        return finish_batch(results, return_exceptions)

    def __aiter__(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        check_closed(self.closed)
        return self
