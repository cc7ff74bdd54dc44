"""Positional raw I/O on an fd through the kernel engine.

Everything here is offset-addressed (pread/pwrite semantics) and knows nothing
about a stream position; the buffered layer owns that.  Large requests are cut
into ``max_chunk`` pieces and the loop gets a turn once pieces have held it for
``YIELD_AFTER`` (``KernelEngine.pay``), because io_uring serves page-cached
reads -- and Linux AIO on a buffered fd serves every read -- synchronously
inside the submit call: one 256 MiB read through aiofile holds the loop for
140-960 ms.  Reads of ``thread_read_min`` bytes or more are one thread call.
"""

from __future__ import annotations

import asyncio
import errno
import os
from concurrent.futures import Executor
from typing import Any, Final

from ..engines import kernel
from ..engines.direct import DirectFile
from ..engines.inline import INLINE_MAX, InlineReader
from ..engines.kernel import KernelCancelled, KernelEngine
from ..engines.threads import run_in_thread

__all__ = ("RawKernelFile", "WriteCancelled")


class WriteCancelled(asyncio.CancelledError):
    """A cancelled :meth:`RawKernelFile.pwrite_all`; ``written`` bytes landed."""

    def __init__(self, written: int) -> None:
        super().__init__()
        self.written = written


def _raise_with_name(exc: OSError, name: Any) -> OSError:
    if exc.filename is None and isinstance(name, (str, bytes, os.PathLike)):
        return OSError(exc.errno, exc.strerror, os.fspath(name))
    return exc


#: Reads at least this large are ONE ``pread`` in a worker thread.  The syscall
#: runs without the GIL, so the loop keeps running while the kernel copies into
#: (and page-faults in) the result; in the loop thread, even in 1 MiB chunks,
#: allocating and joining 256 MiB held the loop for ~130 ms.
THREAD_READ_MIN: Final = 8 << 20
#: Linux caps one read(2) at 0x7ffff000 bytes.
_MAX_SYSCALL_READ: Final = 0x7FFFF000


def _pread_full(fd: int, size: int, offset: int) -> bytes:
    """Blocking pread of *size* bytes (fewer only at EOF); runs in a thread."""
    first = os.pread(fd, min(size, _MAX_SYSCALL_READ), offset)
    if len(first) == size or not first:
        return first
    parts = [first]
    got = len(first)
    while got < size:
        data = os.pread(fd, min(size - got, _MAX_SYSCALL_READ), offset + got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


class RawKernelFile:
    """An open fd served by one :class:`KernelEngine` (pread/pwrite/fsync).

    Reads first try the inline path (page-cache hits served in the loop thread
    without suspending); ``kernel_ops``/``kernel_bytes`` count what the kernel
    engine served.
    """

    #: Set for an O_DIRECT fd (``direct.attach``): its reads and writes go there.
    _direct: DirectFile | None = None

    def __init__(
        self,
        fd: int,
        engine: KernelEngine,
        name: Any,
        executor: Executor | None = None,
        *,
        max_chunk: int = kernel.MAX_CHUNK,
        thread_read_min: int = THREAD_READ_MIN,
        inline_max: int = INLINE_MAX,
        write_engine: KernelEngine | None = None,
    ) -> None:
        self.fd = fd
        self.engine = engine
        #: The engine writes and syncs go to (per-operation routing: Linux AIO
        #: copies a buffered write inside io_submit, where io_uring punts it to
        #: a worker; see the api's choice).
        self.write_engine = write_engine or engine
        self.name = name
        self.executor = executor
        self.max_chunk = max_chunk
        self.thread_read_min = thread_read_min
        self.inline = InlineReader(fd, inline_max)
        self.kernel_ops = 0
        self.kernel_bytes = 0
        self.thread_ops = 0
        self.thread_bytes = 0

    @property
    def backend(self) -> str:
        """The kernel backend that serves this file ("uring", "linux", ...)."""
        return self.engine.name

    def _check(self, value: Any) -> Any:
        if isinstance(value, OSError):
            raise _raise_with_name(value, self.name)
        return value

    async def _kread(self, size: int, offset: int) -> bytes:
        # engine.pay() after each piece bounds the loop stall of long reads
        # whose pieces complete inside the submit call (page-cached io_uring).
        op = self.engine.op_read(self.fd, size, offset)
        data = self._check(await self.engine.run_one(op))
        self.kernel_ops += 1
        self.kernel_bytes += len(data)
        await self.engine.pay()
        return bytes(data)

    async def _inline_hit(self, data: bytes) -> bytes:
        await self.engine.pay()
        return data

    async def pread_once(self, size: int, offset: int) -> bytes:
        """One read of at most ``MAX_CHUNK`` bytes (inline when cached); may be short."""
        if self._direct is not None:
            return await self._direct.pread(min(size, self.max_chunk), offset)
        size = min(size, self.max_chunk)
        if self.inline.enabled and size <= self.inline.max:
            data = self.inline.read(size, offset)
            if data is not None:
                return await self._inline_hit(data)
        return await self._kread(size, offset)

    async def pread(self, size: int, offset: int, *, inline: bool = True) -> bytes:
        """Read up to *size* bytes at *offset*; short only at EOF.

        ``inline=False`` skips the page-cache attempt (the caller just made it).
        """
        if self._direct is not None:
            return await self._direct.pread(size, offset)
        if inline and self.inline.enabled and size <= self.inline.max:
            data = self.inline.read(size, offset)
            if data is not None:
                return await self._inline_hit(data)
        if size >= self.thread_read_min:
            return await self._thread_pread(size, offset)
        parts: list[bytes] = []
        got = 0
        while got < size:
            data = await self._kread(min(self.max_chunk, size - got), offset + got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def preadinto(self, view: memoryview, offset: int) -> int:
        """Fill the writable byte view *view* from *offset*; short only at EOF.

        Cached ranges are read straight into the caller's memory (zero copy).
        """
        if self._direct is not None:
            return await self._direct.preadinto(view, offset)
        size = len(view)
        if self.inline.enabled and size <= self.inline.max:
            n = self.inline.readinto(view, offset)
            if n is not None:
                await self.engine.pay()
                return n
        got = 0
        while got < size:
            data = await self._kread(min(self.max_chunk, size - got), offset + got)
            if not data:
                break
            view[got : got + len(data)] = data
            got += len(data)
        return got

    async def pread_to_eof(self, offset: int) -> bytes:
        """Read from *offset* to the end of the file (which may grow meanwhile)."""
        parts = []
        while True:
            # st_size is exact for the regular files this layer serves; asking
            # it again is cheaper than a probing read (whose buffer would have
            # to be allocated and zeroed).
            size = os.fstat(self.fd).st_size
            if size <= offset:
                break
            data = await self.pread(size - offset, offset)
            if not data:
                break
            parts.append(data)
            offset += len(data)
        # A single part is returned as is: joining would copy it once more.
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def _thread_pread(self, size: int, offset: int) -> bytes:
        data = await run_in_thread(_pread_full, self.fd, size, offset, executor=self.executor)
        self.thread_ops += 1
        self.thread_bytes += len(data)
        return data

    async def pwrite_all(self, data: bytes | memoryview, offset: int) -> int:
        """Write all of *data* at *offset*, completing short writes.

        A zero-byte write raises OSError instead of looping forever.  On
        cancellation the submitted piece finishes first and
        :class:`WriteCancelled` tells how many bytes landed.
        """
        if self._direct is not None:
            return await self._direct.pwrite_all(data, offset)
        view = memoryview(data)
        total = len(view)
        done = 0
        try:
            while done < total:
                step = min(self.max_chunk, total - done)
                engine = self.write_engine
                op = engine.op_write(self.fd, bytes(view[done : done + step]), offset + done)
                try:
                    result = await engine.run_one(op)
                except KernelCancelled as exc:
                    value = exc.results[0]
                    if isinstance(value, int) and value > 0:
                        done += value
                    raise WriteCancelled(done) from None
                written = self._check(result)
                self.kernel_ops += 1
                self.kernel_bytes += max(written, 0)
                if written <= 0:
                    raise OSError(errno.EIO, "write returned 0 bytes", self.name)
                done += written
                if done < total and step == self.max_chunk:
                    await asyncio.sleep(0)
        finally:
            view.release()
        return done

    async def fsync(self) -> None:
        """fsync through the kernel engine."""
        engine = self.write_engine
        self._check(await engine.run_one(engine.op_fsync(self.fd)))

    async def fdatasync(self) -> None:
        """fdatasync through the kernel engine."""
        engine = self.write_engine
        self._check(await engine.run_one(engine.op_fdatasync(self.fd)))
