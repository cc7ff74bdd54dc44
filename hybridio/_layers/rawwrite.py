"""The write half of the raw kernel layer: batched and whole pwrites, fsync.

Mixed into :class:`~hybridio._layers.raw.RawKernelFile`, whose state it uses
(see :class:`_Raw`).  Writes go to the file's *write* engine (Linux AIO copies
a buffered write inside ``io_submit`` where io_uring punts it to a worker; the
plan picks), in pieces of at most ``max_chunk`` bytes with a loop turn between
pieces once the loop's fairness budget is spent.
"""

from __future__ import annotations

import asyncio
import errno
import os
from concurrent.futures import Executor
from typing import Any, Protocol

from .._engines.direct import DirectFile
from .._engines.kernel import KernelEngine
from .._errors import named
from .durability import needs_full_fsync, sync_in_thread

__all__ = ("KernelWrites", "WriteProgress")


class WriteProgress:
    """How many bytes of one :meth:`RawKernelFile.pwrite_all` the kernel confirmed.

    The caller passes one in and reads it when the write raised (an OSError
    such as ENOSPC, or a cancellation): the layer above then moves its
    position by exactly what landed.  A plain object rather than an exception
    subclass carrying results, because such subclasses escaped to users
    (``asyncio.timeout()`` on 3.11 only converts a plain CancelledError).
    """

    __slots__ = ("written",)

    def __init__(self) -> None:
        self.written = 0


class _Raw(Protocol):
    """What the write methods use of the raw file they are mixed into."""

    fd: int
    name: Any
    executor: Executor | None
    max_chunk: int
    kernel_ops: int
    kernel_bytes: int
    _direct: DirectFile | None

    @property
    def write_engine(self) -> KernelEngine: ...
    def _check(self, value: Any) -> Any: ...
    async def pwrite_all(
        self, data: bytes | memoryview, offset: int, progress: WriteProgress | None = None
    ) -> int: ...


class KernelWrites:
    """Positional writes and syncs of a raw kernel-served file (a mixin)."""

    async def write_batch(self: _Raw, items: list[tuple[int, bytes]]) -> list[Any]:
        """Write every ``(offset, data)`` of *items* at once; counts or OSErrors.

        The writes must not overlap (the caller groups them).  Short writes are
        completed.  Like :meth:`read_batch`, at most ``max_chunk`` bytes go into
        one submission (Linux AIO copies buffered writes inside io_submit).
        """
        results: list[Any] = [0] * len(items)
        if self._direct is not None:
            for i, (off, data) in enumerate(items):
                try:
                    results[i] = await self._direct.pwrite_all(data, off)
                except OSError as exc:
                    results[i] = named(exc, self.name)
            return results
        start = 0
        while start < len(items):
            engine = self.write_engine
            if engine.budget.spent():
                await engine.budget.give_turn()
            end = start
            nbytes = 0
            while end < len(items) and (
                end == start or nbytes + len(items[end][1]) <= self.max_chunk
            ):
                nbytes += len(items[end][1])
                end += 1
            chunk = range(start, end)
            start = end
            todo = [i for i in chunk if items[i][1] and len(items[i][1]) <= self.max_chunk]
            values = await engine.run(
                [engine.op_write(self.fd, items[i][1], items[i][0]) for i in todo]
            )
            self.kernel_ops += len(todo)
            for i, value in zip(todo, values, strict=True):
                if isinstance(value, OSError):
                    results[i] = named(value, self.name)
                    continue
                results[i] = int(value)
                self.kernel_bytes += max(results[i], 0)
            for i in chunk:
                off, data = items[i]
                done = results[i]
                if isinstance(done, OSError) or done >= len(data):
                    continue
                try:
                    results[i] = done + await self.pwrite_all(memoryview(data)[done:], off + done)
                except OSError as exc:
                    results[i] = exc
        return results

    async def pwrite_all(
        self: _Raw, data: bytes | memoryview, offset: int, progress: WriteProgress | None = None
    ) -> int:
        """Write all of *data* at *offset*, completing short writes.

        A zero-byte write raises OSError instead of looping forever.  When the
        write raises -- an OSError, or a cancellation (the piece in flight is
        allowed to finish first) -- ``progress.written`` tells how many bytes
        landed, so the caller's position can tell the same story as the file.
        """
        if self._direct is not None:
            return await self._direct.pwrite_all(data, offset, progress)
        view = memoryview(data)
        total = len(view)
        done = 0
        try:
            while done < total:
                step = min(self.max_chunk, total - done)
                engine = self.write_engine
                # Between pieces: Linux AIO copies each buffered write inside
                # io_submit, so the pieces hold the loop.
                if done and engine.budget.spent():
                    await engine.budget.give_turn()
                op = engine.op_write(self.fd, bytes(view[done : done + step]), offset + done)
                landed: list[Any] = []
                try:
                    result = await engine.run_one(op, landed)
                except asyncio.CancelledError:
                    # The piece in flight finished first: count what it wrote.
                    if landed and isinstance(landed[0], int) and landed[0] > 0:
                        done += landed[0]
                    raise
                written = self._check(result)
                self.kernel_ops += 1
                self.kernel_bytes += max(written, 0)
                if written <= 0:
                    raise OSError(errno.EIO, "write returned 0 bytes", self.name)
                done += written
        finally:
            view.release()
            if progress is not None:
                progress.written = done
        return done

    async def fsync(self: _Raw) -> None:
        """fsync through the kernel engine (``F_FULLFSYNC`` in a thread on macOS)."""
        if needs_full_fsync():
            # caio cannot issue F_FULLFSYNC, and a plain fsync is not durable there.
            await sync_in_thread(self.fd, False, executor=self.executor, name=self.name)
            return
        engine = self.write_engine
        self._check(await engine.run_one(engine.op_fsync(self.fd)))

    async def fdatasync(self: _Raw) -> None:
        """fdatasync through the kernel engine (fsync where the OS has none)."""
        if needs_full_fsync() or not hasattr(os, "fdatasync"):
            # caio's pure-Python backend would call the missing os.fdatasync.
            await sync_in_thread(self.fd, True, executor=self.executor, name=self.name)
            return
        engine = self.write_engine
        self._check(await engine.run_one(engine.op_fdatasync(self.fd)))
