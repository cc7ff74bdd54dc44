"""Positional raw I/O on an fd through the kernel engine.

Everything here is offset-addressed (pread/pwrite semantics) and knows nothing
about a stream position; the buffered layer owns that.  Large requests are cut
into ``max_chunk`` pieces and the loop gets a turn once pieces have held it for
the loop's fairness budget (``_engines.fairness``), because io_uring serves page-cached
reads -- and Linux AIO on a buffered fd serves every read -- synchronously
inside the submit call: one 256 MiB read through aiofile holds the loop for
140-960 ms.  Reads of ``thread_read_min`` bytes or more are one thread call.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import Executor
from typing import Any, Final

from .._engines import kernel
from .._engines.direct import DirectFile
from .._engines.inline import InlineReader
from .._engines.kernel import KernelEngine
from .._engines.threads import run_in_thread
from .._errors import named
from .._profile import BUILTIN
from .prefetch import ReadAhead
from .rawwrite import KernelWrites
from .rawwrite import WriteProgress as WriteProgress

__all__ = ("SPENT", "RawKernelFile", "WriteProgress")

#: :meth:`RawKernelFile.read_cached`'s answer when the loop's budget is spent.
SPENT: Final = object()


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


class RawKernelFile(KernelWrites):
    """An open fd served by one :class:`KernelEngine` (pread/pwrite/fsync).

    Reads first try the inline path (page-cache hits served in the loop thread
    without suspending); ``kernel_ops``/``kernel_bytes`` count what the kernel
    engine served.
    """

    #: Set for an O_DIRECT fd (``direct.attach``): its reads and writes go there.
    _direct: DirectFile | None = None
    #: Early sequential reads (:meth:`pread_sequential`), once there are any.
    ahead: ReadAhead | None = None
    #: Where the last sequential-candidate read ended (-1: none yet).
    _seq_end = -1
    # Counters start at the class's zero: an open stores only what differs.
    kernel_ops = 0
    kernel_bytes = 0
    thread_ops = 0
    thread_bytes = 0

    def __init__(
        self,
        fd: int,
        engine: KernelEngine,
        name: Any,
        executor: Executor | None = None,
        *,
        max_chunk: int = BUILTIN.max_chunk,
        thread_read_min: int = BUILTIN.thread_read_min,
        sync_submit_max: int = BUILTIN.sync_submit_max,
        inline_max: int = BUILTIN.inline_max,
        write_engine: KernelEngine | None = None,
        max_requests: int = BUILTIN.max_requests,
        inline_reason: str | bool | None = True,
        sqpoll_read_min: int = BUILTIN.sqpoll_read_min,
        prefetch_min: int = BUILTIN.prefetch_min,
        prefetch_depth: int = 0,
    ) -> None:
        self.fd = fd
        self._engine = engine
        #: The engine writes and syncs go to (per-operation routing: Linux AIO
        #: copies a buffered write inside io_submit, where io_uring punts it to
        #: a worker; see the api's choice).
        self._write_engine = write_engine or engine
        self._max_requests = max_requests
        self.name = name
        self.executor = executor
        self.max_chunk = max_chunk
        self.thread_read_min = thread_read_min
        self.sync_submit_max = sync_submit_max
        self.inline = InlineReader(fd, inline_max, known_reason=inline_reason)
        #: Cached reads this large go to the kernel's SQPOLL ring while other
        #: tasks read too (the profile's ``sqpoll_read_min``; 0 never does).
        #: "Never" is one past the largest inline read, not sys.maxsize: a
        #: small int compares on CPython's fast path (0.5% of a 4 KiB read).
        self.crowd_min = sqpoll_read_min or inline_max + 1
        self.prefetch_min = prefetch_min
        self.prefetch_depth = prefetch_depth

    @property
    def backend(self) -> str:
        """The kernel backend that serves this file ("uring", "linux", ...)."""
        return self._engine.name

    @property
    def write_backend(self) -> str:
        """The kernel backend writes and syncs go to."""
        return self._write_engine.name

    @property
    def engine(self) -> KernelEngine:
        """The read engine of the running event loop.

        Engines belong to one loop; a file that outlives its loop (used again
        under a new ``asyncio.run()``) gets the same backend's engine of the
        new loop instead of failing, so nothing it buffered is lost.
        """
        engine = self._engine
        if engine.closed or engine.loop is not asyncio.get_running_loop():
            engine = self._engine = self._rebind(engine)
        return engine

    @property
    def write_engine(self) -> KernelEngine:
        """The write engine of the running event loop (see :attr:`engine`)."""
        engine = self._write_engine
        if engine.closed or engine.loop is not asyncio.get_running_loop():
            engine = self._write_engine = self._rebind(engine)
        return engine

    def _rebind(self, old: KernelEngine) -> KernelEngine:
        return kernel.get_engine_like(old.name, self._max_requests, old)

    def _check(self, value: Any) -> Any:
        if isinstance(value, OSError):
            raise named(value, self.name)
        return value

    async def _kread(self, size: int, offset: int) -> bytes:
        engine = self.engine
        # The budget is checked BEFORE the read: once reads that never suspend
        # (page-cached io_uring completes inside the submit) have held the loop
        # for the budget, every further reader yields first, instead of all
        # ready readers doing one more read in the same turn.
        budget = engine.budget
        if budget.spent():
            await budget.give_turn()
        miss = self.inline.tries(size)
        data = await engine.run_one(engine.op_read(self.fd, size, offset), None, miss)
        if isinstance(data, OSError):
            raise named(data, self.name)
        self.kernel_ops += 1
        self.kernel_bytes += len(data)
        return data if type(data) is bytes else bytes(data)

    def read_cached(self, size: int, offset: int) -> bytes | object | None:
        """A page-cache hit served without suspending; None on a miss (or when
        inline reads are off for this size, or a large read meets other
        tasks' reads: see ``crowd_min``); :data:`SPENT` when the loop's
        budget is spent (then :meth:`pread` yields first and tries again).

        The hot path of small cached reads: no coroutine at all.
        """
        inline = self.inline
        if not inline.enabled or size > inline.max:
            return None
        # The engine property's check, without its call: 1.2% of a cached
        # 4 KiB read's instructions.
        engine = self._engine
        if engine.closed or engine.loop is not asyncio.get_running_loop():
            engine = self.engine
        if engine.budget.spent():
            return SPENT
        if size >= self.crowd_min and engine.crowded():
            return None
        return inline.read(size, offset)

    def read_to_eof_cached(self, offset: int, shared_offset: bool = False) -> bytes | None:
        """The rest of the file from *offset* if it is small and cached, read
        without suspending; None when not (empty rest, too big, a miss, the
        loop's budget spent).

        The size comes from ``lseek(SEEK_END)``, a quarter of an ``fstat``'s
        cost (no stat_result): it leaves the fd's offset at EOF, where a
        read to EOF leaves it.  An fd whose offset is *shared_offset* with
        others (opened from an fd) is asked with ``fstat`` instead, so that a
        read which then fails has not moved it.
        """
        inline = self.inline
        fd = self.fd
        size = (os.fstat(fd).st_size if shared_offset else os.lseek(fd, 0, os.SEEK_END)) - offset
        if size <= 0 or size > inline.max or self.engine.budget.spent():
            return None
        # All `size` bytes is the file as of that size check: a complete read-to-EOF
        # (as if done then; a file growing meanwhile has no other answer).
        return inline.read(size, offset)

    async def read_many(self, reqs: list[tuple[int, int]], inline_budget: int) -> list[Any]:
        """Read every ``(offset, size)`` of *reqs* (checked by the caller).

        Cached ranges are served inline, up to *inline_budget* bytes and the
        loop's fairness budget; the rest go to the kernel in as few submissions
        as the ring and the per-submission bound allow.  Bytes or a named
        OSError per request, in request order.
        """
        budget = self.engine.budget
        if budget.spent():
            await budget.give_turn()
        results: list[Any] = [b""] * len(reqs)
        misses = self.inline.read_batch(reqs, results, inline_budget, budget.spent)
        if misses:
            for i, value in zip(misses, await self.read_batch(reqs, misses), strict=True):
                results[i] = value
        return results

    async def readinto_many(
        self, items: list[tuple[int, memoryview]], inline_budget: int
    ) -> list[Any]:
        """Fill each ``(offset, view)`` (writable byte views, checked by the
        caller); the byte count or a named OSError per item, in order."""
        turns = self.engine.budget
        if turns.spent():
            await turns.give_turn()
        results: list[Any] = [0] * len(items)
        inline = self.inline
        misses = []
        budget = inline_budget
        for i, (off, view) in enumerate(items):
            if not len(view):
                continue
            if (
                inline.enabled
                and len(view) <= inline.max
                and budget > 0
                and not (i and turns.spent())
            ):
                n = inline.readinto(view, off)
                if n is not None:
                    results[i] = n
                    budget -= n
                    continue
            misses.append(i)
        if misses:
            reqs = [(off, len(view)) for off, view in items]
            for i, value in zip(misses, await self.read_batch(reqs, misses), strict=True):
                if isinstance(value, BaseException):
                    results[i] = value
                else:
                    items[i][1][: len(value)] = value
                    results[i] = len(value)
        return results

    def size(self) -> int:
        """The file's size now (``fstat``)."""
        return os.fstat(self.fd).st_size

    async def read_inline(self, size: int, offset: int) -> bytes | None:
        """A page-cache hit served in the loop thread, or None (a miss, off,
        or a large read among other tasks' reads: see ``crowd_min``);
        :meth:`read_cached`, giving the loop its turn first when it asks."""
        data = self.read_cached(size, offset)
        if data is SPENT:
            await self.engine.budget.give_turn()
            data = self.read_cached(size, offset)
        return data if type(data) is bytes else None

    def _submit_max(self, engine: KernelEngine) -> int:
        """The most bytes one read submission may carry on *engine*."""
        return self.sync_submit_max if engine.reads_in_submit else self.max_chunk

    def _to_thread(self, engine: KernelEngine, size: int) -> bool:
        return size >= self.thread_read_min or (
            engine.reads_in_submit and size > self.sync_submit_max
        )

    async def pread_once(self, size: int, offset: int) -> bytes:
        """One read of at most ``max_chunk`` bytes (inline when cached); may be short."""
        if self._direct is not None:
            return await self._direct.pread(min(size, self.max_chunk), offset)
        size = min(size, self.max_chunk)
        data = await self.read_inline(size, offset)
        if data is not None:
            return data
        if self._to_thread(self.engine, size):
            return await self._thread_pread(size, offset)
        return await self._kread(size, offset)

    async def pread(self, size: int, offset: int, *, inline: bool = True) -> bytes:
        """Read up to *size* bytes at *offset*; short only at EOF.

        ``inline=False`` skips the page-cache attempt (the caller just made it).
        """
        if self._direct is not None:
            return await self._direct.pread(size, offset)
        if inline:
            data = await self.read_inline(size, offset)
            if data is not None:
                return data
        if self._to_thread(self.engine, size):
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

    async def pread_sequential(self, size: int, offset: int) -> bytes:
        """:meth:`pread` for a buffered file's large stream reads: two reads of
        ``prefetch_min`` bytes or more in a row start the next
        ``prefetch_depth`` in worker threads (:mod:`.prefetch`)."""
        ahead = self.ahead
        if ahead is not None:
            budget = self.engine.budget
            if budget.spent():
                await budget.give_turn()
            data = await ahead.take(offset, size)
            if data is not None:
                self.thread_ops += 1
                self.thread_bytes += size
                self._seq_end = offset + size
                ahead.start(offset + size, size)
                return data
        data = await self.pread(size, offset)
        if size >= self.prefetch_min and self.prefetch_depth and self._direct is None:
            if offset == self._seq_end and len(data) == size:
                if ahead is None:
                    ahead = self.ahead = ReadAhead(self.fd, self.executor, self.prefetch_depth)
                ahead.start(offset + size, size)
            self._seq_end = offset + len(data)
        return data

    async def preadinto(self, view: memoryview, offset: int) -> int:
        """Fill the writable byte view *view* from *offset*; short only at EOF.

        Cached ranges are read straight into the caller's memory (zero copy).
        """
        if self._direct is not None:
            return await self._direct.preadinto(view, offset)
        size = len(view)
        if self.inline.enabled and size <= self.inline.max:
            budget = self.engine.budget
            if budget.spent():
                await budget.give_turn()
            n = self.inline.readinto(view, offset)
            if n is not None:
                return n
        data = await self.pread(size, offset, inline=False)
        view[: len(data)] = data
        return len(data)

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

    async def read_batch(self, reqs: list[tuple[int, int]], indices: list[int]) -> list[Any]:
        """Read ``reqs[i]`` for each i of *indices* through the kernel engine.

        Returns bytes or a named OSError per index, in *indices* order; a short
        read that is not empty is completed (EOF, or a filesystem that splits
        reads).  Requests are submitted together, at most ``max_chunk`` bytes of
        them per submission: io_uring serves page-cached reads inside the
        submit call, so the bytes of one submission bound the loop stall.
        """
        if self._direct is not None:
            return await self._direct_batch(reqs, indices)
        results: list[Any] = [None] * len(indices)
        big: list[int] = []
        start = 0
        while start < len(indices):
            engine = self.engine
            if engine.budget.spent():
                await engine.budget.give_turn()
            start, ops = self._submission(engine, reqs, indices, start, big)
            if not ops:
                continue
            tries = self.inline.tries
            miss = all(tries(reqs[indices[i]][1]) for i, _ in ops)
            values = await engine.run([op for _, op in ops], None, miss)
            self.kernel_ops += len(ops)
            for (slot, _), value in zip(ops, values, strict=True):
                if isinstance(value, OSError):
                    results[slot] = named(value, self.name)
                    continue
                data = bytes(value)
                self.kernel_bytes += len(data)
                off, size = reqs[indices[slot]]
                if 0 < len(data) < size:
                    try:
                        data += await self.pread(size - len(data), off + len(data))
                    except OSError as exc:
                        results[slot] = exc
                        continue
                results[slot] = data
        for slot in big:
            off, size = reqs[indices[slot]]
            try:
                results[slot] = await self.pread(size, off, inline=False)
            except OSError as exc:
                results[slot] = exc
        return results

    def _submission(
        self,
        engine: KernelEngine,
        reqs: list[tuple[int, int]],
        indices: list[int],
        start: int,
        big: list[int],
    ) -> tuple[int, list[tuple[int, Any]]]:
        """The reads of one submission from ``indices[start:]`` (slot, op), up to
        the engine's bytes per submission, and where the next one starts;
        requests larger than that are left in *big* for :meth:`pread`."""
        limit = self._submit_max(engine)
        end = start
        nbytes = 0
        ops: list[tuple[int, Any]] = []
        while end < len(indices):
            off, size = reqs[indices[end]]
            if size > limit:
                big.append(end)
            elif ops and nbytes + size > limit:
                break
            else:
                ops.append((end, engine.op_read(self.fd, size, off)))
                nbytes += size
            end += 1
        return end, ops

    async def _direct_batch(self, reqs: list[tuple[int, int]], indices: list[int]) -> list[Any]:
        # O_DIRECT: aligned, checked transfers one by one (engines/direct.py).
        assert self._direct is not None
        results: list[Any] = [None] * len(indices)
        for slot, i in enumerate(indices):
            try:
                results[slot] = await self._direct.pread(reqs[i][1], reqs[i][0])
            except OSError as exc:
                results[slot] = named(exc, self.name)
        return results
