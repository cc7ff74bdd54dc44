"""The public file protocol shared by every layer, and the stdlib's small checks.

Every binary file hybridio hands out is an :class:`AsyncBinaryIO`, whichever
engine serves it; every text file is an ``AsyncTextIO`` (``layers/text.py``).
The checks below raise exactly what ``_pyio``/``_compression`` raise, so one set
of messages is used by every layer.
"""

from __future__ import annotations

import abc
import io
import operator
import sys
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from typing import Any

from ..errors import finish_batch
from ..stats import IOStats

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = (
    "AsyncBinaryIO",
    "AsyncFileBase",
    "as_index",
    "bytes_view",
    "check_closed",
    "check_readable",
    "check_seekable",
    "check_size",
    "check_whence",
    "check_writable",
    "unsupported",
)


def unsupported(name: str) -> io.UnsupportedOperation:
    """The exception the stdlib raises for a wrong-direction call."""
    return io.UnsupportedOperation(name)


def bytes_view(data: Any) -> memoryview:
    """A flat byte view of a bytes-like object, with ``BufferedWriter``'s TypeError.

    Any buffer-protocol object is accepted, multi-dimensional ones included.
    """
    if isinstance(data, str):
        raise TypeError("a bytes-like object is required, not 'str'")
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{type(data).__name__}'") from None
    if view.ndim != 1 or view.format not in ("B", "b", "c"):
        view = view.cast("B")
    return view


def check_closed(closed: bool) -> None:
    """Raise ValueError as ``_pyio`` does when the file is closed."""
    if closed:
        raise ValueError("I/O operation on closed file.")


def check_readable(readable: bool) -> None:
    """Raise ``io.UnsupportedOperation`` for a read on a write-only file."""
    if not readable:
        raise unsupported("read")


def check_writable(writable: bool) -> None:
    """Raise ``io.UnsupportedOperation`` for a write on a read-only file."""
    if not writable:
        raise unsupported("write")


def check_seekable(seekable: bool) -> None:
    """Raise ``io.UnsupportedOperation`` for a seek on an unseekable file."""
    if not seekable:
        raise unsupported("File or stream is not seekable.")


def check_size(size: object, *, allow_none: bool = True) -> int:
    """Normalise a read size as ``_pyio`` does: None/negative mean 'all'."""
    if size is None and allow_none:
        return -1
    if isinstance(size, bool) or not hasattr(size, "__index__"):
        raise TypeError(f"argument should be integer or None, not '{type(size).__name__}'")
    return operator.index(size)


def as_index(value: object) -> int:
    """An int from any ``__index__`` object, with the stdlib's TypeError otherwise."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    return operator.index(value)


def check_whence(whence: object) -> int:
    """Validate *whence* like ``FileIO.seek``: 0, 1 or 2, else ValueError."""
    value = as_index(whence)
    if value not in (0, 1, 2):
        raise ValueError(f"invalid whence ({value}, should be 0, 1 or 2)")
    return value


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
        with memoryview(buffer) as view, view.cast("B") as flat:
            data = await self.read1(len(flat))
            flat[: len(data)] = data
            return len(data)

    @abc.abstractmethod
    async def readline(self, size: int | None = -1, /) -> bytes:
        """Read one line (up to *size* bytes)."""

    async def readlines(self, hint: int | None = -1, /) -> list[bytes]:
        """Read lines until EOF, or until *hint* bytes have been read."""
        limit = check_size(hint)
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

    async def read_many(
        self, ranges: Iterable[tuple[int, int]], /, *, return_exceptions: bool = False
    ) -> list[Any]:
        """Read every ``(offset, size)`` range, results in request order.

        This generic version reads one range after the other; kernel-served
        files override it with one batched submission.
        """
        return await self._one_by_one(self.read_at, ranges, return_exceptions)

    async def write_many(
        self, writes: Iterable[tuple[int, Any]], /, *, return_exceptions: bool = False
    ) -> list[Any]:
        """Write each ``(offset, data)`` in order; return the byte counts."""
        return await self._one_by_one(self.write_at, writes, return_exceptions)

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
