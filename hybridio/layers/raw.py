"""Positional raw I/O on an fd through the kernel engine.

Everything here is offset-addressed (pread/pwrite semantics) and knows nothing
about a stream position; the buffered layer owns that.  Large requests are cut
into :data:`~hybridio.engines.kernel.MAX_CHUNK` pieces and the loop gets control
between pieces, because io_uring serves page-cached reads -- and Linux AIO on a
buffered fd serves every read -- synchronously inside the submit call: one
256 MiB read through aiofile holds the loop for 140-960 ms.
"""

from __future__ import annotations

import asyncio
import errno
import os
from typing import Any

from ..engines import kernel
from ..engines.kernel import KernelCancelled, KernelEngine

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


class RawKernelFile:
    """An open fd served by one :class:`KernelEngine` (pread/pwrite/fsync)."""

    def __init__(self, fd: int, engine: KernelEngine, name: Any) -> None:
        self.fd = fd
        self.engine = engine
        self.name = name

    @property
    def backend(self) -> str:
        """The kernel backend that serves this file ("uring", "linux", ...)."""
        return self.engine.name

    def _check(self, value: Any) -> Any:
        if isinstance(value, OSError):
            raise _raise_with_name(value, self.name)
        return value

    async def pread_once(self, size: int, offset: int) -> bytes:
        """One kernel read of at most ``MAX_CHUNK`` bytes; may be short."""
        size = min(size, kernel.MAX_CHUNK)
        return bytes(
            self._check((await self.engine.run([self.engine.op_read(self.fd, size, offset)]))[0])
        )

    async def pread(self, size: int, offset: int) -> bytes:
        """Read up to *size* bytes at *offset*; short only at EOF."""
        if size <= kernel.MAX_CHUNK:
            data = self._check(
                (await self.engine.run([self.engine.op_read(self.fd, size, offset)]))[0]
            )
            if len(data) == size or not data:
                return bytes(data)
            # A short read before EOF (possible on some filesystems): continue.
            parts = [data]
            got = len(data)
        else:
            parts = []
            got = 0
        while got < size:
            step = min(kernel.MAX_CHUNK, size - got)
            data = self._check(
                (await self.engine.run([self.engine.op_read(self.fd, step, offset + got)]))[0]
            )
            if not data:
                break
            parts.append(data)
            got += len(data)
            if got < size:
                # Bounded loop stall: the chunk may have completed inline.
                await asyncio.sleep(0)
        return b"".join(parts)

    async def pread_to_eof(self, offset: int) -> bytes:
        """Read from *offset* until a read returns nothing."""
        size = os.fstat(self.fd).st_size
        parts = []
        if size > offset:
            parts.append(await self.pread(size - offset, offset))
            offset += len(parts[0])
        while True:
            # The file may have grown since fstat; read until EOF proper.
            data = await self.pread(kernel.MAX_CHUNK, offset)
            if not data:
                break
            parts.append(data)
            offset += len(data)
        return b"".join(parts)

    async def pwrite_all(self, data: bytes | memoryview, offset: int) -> int:
        """Write all of *data* at *offset*, completing short writes.

        A zero-byte write raises OSError instead of looping forever.  On
        cancellation the submitted piece finishes first and
        :class:`WriteCancelled` tells how many bytes landed.
        """
        view = memoryview(data)
        total = len(view)
        done = 0
        try:
            while done < total:
                step = min(kernel.MAX_CHUNK, total - done)
                op = self.engine.op_write(self.fd, bytes(view[done : done + step]), offset + done)
                try:
                    result = (await self.engine.run([op]))[0]
                except KernelCancelled as exc:
                    value = exc.results[0]
                    if isinstance(value, int) and value > 0:
                        done += value
                    raise WriteCancelled(done) from None
                written = self._check(result)
                if written <= 0:
                    raise OSError(errno.EIO, "write returned 0 bytes", self.name)
                done += written
                if done < total and step == kernel.MAX_CHUNK:
                    await asyncio.sleep(0)
        finally:
            view.release()
        return done

    async def fsync(self) -> None:
        """fsync through the kernel engine."""
        self._check((await self.engine.run([self.engine.op_fsync(self.fd)]))[0])

    async def fdatasync(self) -> None:
        """fdatasync through the kernel engine."""
        self._check((await self.engine.run([self.engine.op_fdatasync(self.fd)]))[0])
