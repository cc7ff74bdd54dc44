"""``aiofile.aio``: ``AIOFile``, explicit-offset I/O over a hybridio file.

aiofile's ``AIOFile`` has no position: every ``read``/``write`` takes an
offset (defaulting to 0), text is encoded/decoded per call, ``close()``
fdatasyncs a writable file first.  Here the I/O goes to a hybridio file's
``read_at``/``write_at``; ``context=`` picks the hybridio kernel backend of
the same kind (an io_uring context -> ``backend="uring"``, ...), and any other
``caio.AbstractContext`` (a user's own, a test fake) is used as given.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Generator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, NamedTuple

from ..._api import async_open as _core_open
from ..._engines.threads import run_in_thread
from ..._layers.base import AsyncBinaryIO

__all__ = (
    "DEFAULT_CONTEXT_STORE",
    "AIOFile",
    "FileMode",
    "create_context",
    "get_default_context",
    "parse_mode",
)

# caio's asyncio context modules -> hybridio's kernel backend of that kind.
_BACKEND_OF_CONTEXT = {
    "caio.linux_uring_asyncio": "uring",
    "caio.linux_aio_asyncio": "linux",
    "caio.thread_aio_asyncio": "thread",
    "caio.python_aio_asyncio": "python",
}

# aiofile keeps one caio context per loop here; hybridio keeps its own engines
# per loop, so this stays empty unless create_context() is called.
DEFAULT_CONTEXT_STORE: dict[int, Any] = {}


class FileMode(NamedTuple):
    """aiofile's parsed mode."""

    readable: bool
    writable: bool
    plus: bool
    appending: bool
    created: bool
    flags: int
    binary: bool


def parse_mode(mode: str) -> FileMode:
    """Parse *mode* as aiofile does (errors are those of builtin ``open()``)."""
    from ..._modes import parse_mode as core_parse

    m = core_parse(mode)
    return FileMode(
        readable=m.readable,
        writable=m.writable,
        plus="+" in mode,
        appending="a" in mode,
        created="x" in mode,
        flags=m.os_flags,
        binary=m.binary,
    )


def create_context(max_requests: int = 512) -> Any:
    """A new caio context for the running loop, kept in ``DEFAULT_CONTEXT_STORE``."""
    import caio

    loop = asyncio.get_event_loop()
    context = caio.AsyncioContext(max_requests, loop=loop)
    DEFAULT_CONTEXT_STORE[id(loop)] = context
    return context


def get_default_context() -> Any:
    """The stored context of the running loop, or None: hybridio picks the backend."""
    return DEFAULT_CONTEXT_STORE.get(id(asyncio.get_event_loop()))


def _binary_mode(mode: str) -> str:
    return mode if "b" in mode else mode.replace("t", "") + "b"


class AIOFile:
    """aiofile's ``AIOFile``: open explicitly (or await / ``async with``), I/O at offsets."""

    def __init__(
        self,
        filename: str | Path,
        mode: str = "r",
        encoding: str = "utf-8",
        context: Any = None,
        executor: Executor | None = None,
    ) -> None:
        self._fname = str(filename)
        self._open_mode = mode
        self.mode = parse_mode(mode)
        self._encoding = encoding
        self._executor = executor
        self._context = context
        self._backend: Any = None
        self._direct: Any = None
        if context is not None:
            backend = _BACKEND_OF_CONTEXT.get(type(context).__module__)
            if backend is None:
                self._direct = context
            else:
                self._backend = backend
        self._file: AsyncBinaryIO | None = None
        self._fd_source: int | None = None
        self._owner = True
        self._opening: asyncio.Future[None] | None = None
        self._closed = False
        self._clones = 0
        self._clone_lock = asyncio.Lock()

    @classmethod
    def from_fp(cls, fp: Any, **kwargs: Any) -> AIOFile:
        """An AIOFile over an open file object; closing it leaves *fp* open."""
        afp = cls(fp.name, fp.mode, **kwargs)
        afp._fd_source = fp.fileno()
        afp._owner = False
        return afp

    @property
    def name(self) -> str:
        """The file name."""
        return self._fname

    @property
    def encoding(self) -> str:
        """The encoding of text modes."""
        return self._encoding

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running event loop."""
        return asyncio.get_event_loop()

    @property
    def closed(self) -> bool:
        """True before ``open()`` and after ``close()``."""
        return self._file is None or self._file.closed

    def __repr__(self) -> str:
        return f"<AIOFile: {self._fname!r}>"

    async def open(self) -> int | None:
        """Open; the fd the first time, None if already open (or opening elsewhere)."""
        if self._closed:
            raise asyncio.InvalidStateError("AIOFile closed")
        if self._file is not None:
            return None
        if self._opening is not None:
            await asyncio.shield(self._opening)
            return None
        self._opening = asyncio.get_running_loop().create_future()
        try:
            mode = _binary_mode(self._open_mode)
            if self._fd_source is not None:
                # An fd is never truncated or re-created by its mode.
                f = await _core_open(
                    self._fd_source, mode, 0, closefd=False, executor=self._executor
                )
            else:
                f = await _core_open(
                    self._fname, mode, 0, backend=self._backend, executor=self._executor
                )
        except BaseException as exc:
            self._opening.set_exception(exc)
            self._opening.exception()
            self._opening = None
            raise
        assert isinstance(f, AsyncBinaryIO)
        self._file = f
        self._opening.set_result(None)
        self._opening = None
        return f.fileno()

    def fileno(self) -> int:
        """The file descriptor; ``InvalidStateError`` when not open."""
        if self._file is None or self._file.closed:
            raise asyncio.InvalidStateError("AIOFile closed")
        return self._file.fileno()

    def _core(self) -> AsyncBinaryIO:
        if self._file is None or self._file.closed:
            raise asyncio.InvalidStateError("AIOFile closed")
        return self._file

    async def clone(self) -> AIOFile:
        """This file with one more reference: ``close()`` waits for the last one."""
        async with self._clone_lock:
            self._clones += 1
        return self

    async def close(self) -> None:
        """Close (fdatasync first if writable); idempotent; clones close last."""
        if self._file is None or self._file.closed:
            return
        async with self._clone_lock:
            if self._clones > 0:
                self._clones -= 1
                return
        try:
            if self.mode.writable:
                await self.fdsync()
        finally:
            self._closed = True
            await self._file.close()

    def __await__(self) -> Generator[Any, None, AIOFile]:
        yield from self.open().__await__()
        return self

    async def __aenter__(self) -> AIOFile:  # noqa: PYI034 - aiofile's signature
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def encode_bytes(self, data: str) -> bytes:
        """*data* in the file's encoding."""
        return data.encode(self._encoding)

    def decode_bytes(self, data: bytes) -> str:
        """*data* decoded with the file's encoding."""
        return data.decode(self._encoding)

    async def read(self, size: int = -1, offset: int = 0) -> bytes | str:
        """*size* bytes at *offset* (all with -1), decoded in text modes."""
        data = await self.read_bytes(size, offset)
        return data if self.mode.binary else self.decode_bytes(data)

    async def read_bytes(self, size: int = -1, offset: int = 0) -> bytes:
        """*size* bytes at *offset*; -1 reads as many bytes as the file has."""
        if size < -1:
            raise ValueError(f"Unsupported value {size} for size")
        core = self._core()
        if size == -1:
            # As the core does for read(): fstat inline costs less than a hop.
            size = os.fstat(core.fileno()).st_size
        if self._direct is not None:
            return bytes(await self._direct.read(size, core.fileno(), offset))
        return await core.read_at(offset, size)

    async def write(self, data: str | bytes, offset: int = 0) -> int:
        """Write *data* at *offset* (bytes in binary modes, str in text modes)."""
        if self.mode.binary:
            if not isinstance(data, bytes):
                raise ValueError("Data must be bytes in binary mode")
            return await self.write_bytes(data, offset)
        if not isinstance(data, str):
            raise ValueError("Data must be str in text mode")
        return await self.write_bytes(self.encode_bytes(data), offset)

    async def write_bytes(self, data: bytes, offset: int = 0) -> int:
        """Write all of *data* at *offset*; returns its length."""
        core = self._core()
        if not data:
            return 0
        if self._direct is None:
            return await core.write_at(offset, data)
        # A caller's own context: resubmit the rest after a short write, as
        # BufferedWriter does; 0 or a negative errno cannot make progress.
        done = 0
        while done < len(data):
            n = await self._direct.write(data[done:], core.fileno(), offset + done)
            if n == 0:
                raise RuntimeError("Write operation returned 0", self, offset, done)
            if n < 0:
                raise OSError(-n, os.strerror(-n), self._fname)
            done += n
        return done

    async def fsync(self) -> None:
        """fsync the file (data and metadata)."""
        if self._direct is not None:
            await self._direct.fsync(self.fileno())
            return
        await self._core().fsync()

    async def fdsync(self) -> None:
        """fdatasync the file (data)."""
        if self._direct is not None:
            await self._direct.fdsync(self.fileno())
            return
        await self._core().fdatasync()

    async def truncate(self, length: int = 0) -> None:
        """Resize the file to *length* bytes (default 0)."""
        await run_in_thread(os.ftruncate, self.fileno(), length)
