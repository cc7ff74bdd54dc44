"""One caio context bound to one event loop: submission, completion, waiting.

Completions are delivered through ONE asyncio future per batch of operations,
not one per operation: waking a suspended future costs ~10 us here, as much as
the I/O itself.  Which engine a loop uses for a backend is :mod:`.kernel`'s.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Sequence
from typing import Any, Final

from .._profile import BUILTIN
from . import backends as backends_table
from . import fairness
from .contexts import (
    BackendUnavailableError,
    _destroy_context,
    _load,
    _recycle_or_destroy,
    _result,
    _submit_error,
)

__all__ = ("KernelEngine",)


class _Batch:
    """Completion state of one submission: one future, a result slot per op."""

    __slots__ = ("args", "future", "ops", "remaining")

    def __init__(self, future: asyncio.Future[None], ops: Sequence[Any]) -> None:
        self.future = future
        self.ops = ops
        self.args: list[Any] = [None] * len(ops)
        self.remaining = len(ops)

    def finish(self) -> None:
        """Every op is done: wake the waiter, and drop the ops.  Each op holds
        its callback, which holds this batch: without that, a finished batch
        is a cycle for the cyclic GC instead of freed by reference counting
        (8 objects per write; full collections of a large heap held the loop
        for 10-20 ms)."""
        self.ops = ()
        if not self.future.done():
            self.future.set_result(None)


class KernelEngine:
    """One caio context bound to one event loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        name: str,
        ctx: Any,
        spare_key: tuple[str, int, bool] | None = None,
        submit_mode: str = "adaptive",
        sqpoll_depth: int = 0,
        miss_sqpoll: bool = False,
    ) -> None:
        self.loop = loop
        #: The loop's fairness budget (shared by every engine and path of it).
        self.budget = fairness.for_loop(loop)
        self.name = name
        self.ctx = ctx
        self._spare_key = spare_key
        self._module = _load(name)
        self._op = self._module.Operation
        desc = backends_table.get(name)
        self._threaded = desc.threaded
        #: Linux AIO serves a buffered (non-O_DIRECT) read synchronously inside
        #: io_submit, disk wait included: a cold read holds the loop as long
        #: as the device takes, so the raw layer keeps such submissions small.
        self.reads_in_submit = desc.reads_in_submit
        #: Whether the kernel actually negotiated SQPOLL for this ring.
        self.sqpoll = bool(getattr(ctx, "sqpoll", False))
        self._inflight = 0
        self._max = int(getattr(ctx, "max_requests", BUILTIN.max_requests))
        self._waiters: list[asyncio.Future[None]] = []
        self.closed = False
        #: io_uring queues SQEs until a flush (io_uring_enter) submits them.
        self._flushes = desc.needs_flush
        self._eventfd = desc.eventfd
        #: How single operations are flushed (the profile's ``submit_mode``).
        self.submit_mode = submit_mode
        #: Past this many operations in flight, single operations go to a second,
        #: SQPOLL ring (0: never): SQPOLL won deep cold queues here and lost
        #: shallow ones badly, so one ring cannot serve both.
        self.sqpoll_depth = sqpoll_depth if desc.sqpoll and not self.sqpoll else 0
        #: Reads the page cache missed go to that SQPOLL ring whenever another
        #: read is in flight: with the hits served inline the ring sees mostly
        #: misses, and SQPOLL won cold queues of 4-64 here (1.1-1.6x the best
        #: peer) while losing a lone read (0.8x), which stays on this ring.
        self.miss_sqpoll = miss_sqpoll and desc.sqpoll and not self.sqpoll
        self._deep: KernelEngine | None = None
        self._deep_active = False
        # The task that last asked crowded(), and when (see crowded()).
        self._reader = 0
        self._reader_at = 0.0
        #: What crowded() last said.
        self._crowd = False
        self._flush_pending = False
        if desc.eventfd:
            loop.add_reader(ctx.fileno, self._on_readable)

    # -- completion plumbing -------------------------------------------------

    def _on_readable(self) -> None:
        try:
            self.ctx.poll()
        except BlockingIOError:
            # The eventfd counter can read zero while completions are still in
            # the ring; draining never depends on it.
            pass
        while self.ctx.process_events():
            pass

    def _complete(self, batch: _Batch, index: int, arg: Any) -> None:
        batch.args[index] = arg
        batch.remaining -= 1
        self._inflight -= 1
        if batch.remaining == 0:
            batch.finish()
        if self._waiters:
            self._wake()

    def _complete_threadsafe(self, batch: _Batch, index: int, arg: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(self._complete, batch, index, arg)
        except RuntimeError:
            # The loop closed while a pool thread finished: nobody waits.
            pass

    def _wake(self) -> None:
        while self._waiters and self._inflight < self._max:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _acquire(self, count: int) -> None:
        while self._inflight + count > self._max and self._inflight > 0:
            waiter = self.loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise

    def _start(self, ops: Sequence[Any], single: bool = False) -> _Batch:
        batch = _Batch(self.loop.create_future(), ops)
        done = self._complete_threadsafe if self._threaded else self._complete
        for index, op in enumerate(ops):
            op.set_callback(functools.partial(done, batch, index))
        self._inflight += len(ops)
        try:
            accepted = self.ctx.submit(*ops)
        except (ValueError, SystemError, OSError) as exc:
            # io_submit rejects the whole call for e.g. a bad fd; linux_aio
            # raises ValueError("... [EBADF]").  Every op of it failed.
            self._inflight -= len(ops)
            error = _submit_error(exc)
            batch.args = [error] * len(ops)
            batch.remaining = 0
            batch.finish()
            return batch
        except BaseException:
            self._inflight -= len(ops)
            raise
        if accepted < len(ops):
            # Linux AIO may accept a prefix (EAGAIN); the rest fail here and
            # the caller resubmits them, nothing is dropped.
            for index in range(accepted, len(ops)):
                batch.args[index] = _NOT_SUBMITTED
                batch.remaining -= 1
                self._inflight -= 1
            if batch.remaining == 0:
                batch.finish()
        if self._flushes:
            self._flush_after(single)
        return batch

    def _flush_after(self, single: bool) -> None:
        # How the queued SQEs reach the kernel (``submit_mode``): "immediate"
        # flushes after every submission; "tick" once per loop turn, so the
        # operations tasks issue in the same turn share one io_uring_enter;
        # "adaptive" flushes a lone operation at once (no added latency at
        # depth 1) and defers while others are in flight (a deep queue).
        # A batch from ``run()`` is already one submission: flushed at once.
        mode = self.submit_mode
        if (
            not single
            or mode == "immediate"
            or self.sqpoll
            or (mode == "adaptive" and self._inflight <= 1 and not self._flush_pending)
        ):
            self.ctx.flush()
            return
        if not self._flush_pending:
            self._flush_pending = True
            self.loop.call_soon(self._deferred_flush)

    def _deferred_flush(self) -> None:
        self._flush_pending = False
        if self.ctx is not None:
            self.ctx.flush()

    async def _wait(self, batch: _Batch) -> bool:
        """Wait until every op of *batch* completed; True if cancelled meanwhile.

        A cancellation cancels what the backend can and keeps waiting: the
        kernel may still write into the buffers, and no completion may reach
        a later operation.
        """
        cancelled = False
        while batch.remaining:
            try:
                # Awaited directly, not through shield(): one wake-up hop
                # instead of two per completion.
                await batch.future
            except asyncio.CancelledError:
                if not cancelled:
                    cancelled = True
                    self._cancel(batch)
                if batch.remaining:
                    # The cancel consumed the future; keep waiting on a new one.
                    batch.future = self.loop.create_future()
        return cancelled

    # -- the API layers use ----------------------------------------------------

    async def run_one(self, op: Any, landed: list[Any] | None = None, miss: bool = False) -> Any:
        """:meth:`run` for a single operation, without the chunking bookkeeping.

        The common case (one positional read or write) is Python-bound on the
        loop thread when many are in flight, so this path is kept lean.  On
        cancellation the operation is allowed to finish, its value is appended
        to *landed* (when given) and a plain CancelledError is raised.  *miss*
        says the op is a read the page cache missed (see ``miss_sqpoll``).
        """
        if self.closed:
            raise RuntimeError("the kernel engine of this event loop is closed")
        if miss and self.miss_sqpoll:
            deep = self._deep
            # A crowd too: a cached read crowded() sent here would complete
            # inside this ring's submit, in the loop thread, slower than inline.
            if self._inflight or self._crowd or (deep is not None and deep._inflight):
                deep = self._deep_ring()
                if deep is not self:
                    return await deep.run_one(op, landed)
        if self.sqpoll_depth:
            deep = self._deep
            total = self._inflight + (deep._inflight if deep is not None else 0)
            # With hysteresis: a queue that went deep stays on the SQPOLL ring
            # until it is half as deep, instead of splitting between the rings
            # at the threshold (measured slower than either ring alone).
            if total >= self.sqpoll_depth:
                self._deep_active = True
            elif self._deep_active and total < self.sqpoll_depth // 2:
                self._deep_active = False
            if self._deep_active:
                return await self._deep_ring().run_one(op, landed)
        if self._inflight >= self._max:
            await self._acquire(1)  # cancelled here: nothing was submitted
        batch = self._start((op,), True)
        if batch.args[0] is _NOT_SUBMITTED:
            # Linux AIO refused it (EAGAIN): the batch path retries it.
            results = [None]
            try:
                await self.run([op], results)
            finally:
                if landed is not None:
                    landed.append(results[0])
            return results[0]
        cancelled = await self._wait(batch)
        value = _result(self.name, op, batch.args[0])
        if cancelled:
            if landed is not None:
                landed.append(value)
            raise asyncio.CancelledError
        return value

    async def run(
        self, ops: Sequence[Any], results: list[Any] | None = None, miss: bool = False
    ) -> list[Any]:
        """Submit *ops*, wait for all of them, return values or OSError objects.

        Results are in request order, written into *results* when given.  A
        batch larger than the ring is split.  On cancellation the in-flight
        operations are cancelled where the backend can and awaited to
        completion, then a plain CancelledError is raised; *results* then
        holds what each operation did (None for those never submitted).
        *miss*: the ops are reads the page cache missed; more than one go to
        the SQPOLL ring under ``miss_sqpoll``, as single ones in company do.
        """
        if self.closed:
            raise RuntimeError("the kernel engine of this event loop is closed")
        if miss and self.miss_sqpoll and len(ops) > 1:
            deep = self._deep_ring()
            if deep is not self:
                return await deep.run(ops, results)
        if results is None:
            results = [None] * len(ops)
        pending = list(range(len(ops)))
        while pending:
            chunk = pending[: self._max]
            await self._acquire(len(chunk))
            batch = self._start([ops[i] for i in chunk])
            cancelled = await self._wait(batch)
            retry = []
            for slot, index in enumerate(chunk):
                arg = batch.args[slot]
                if arg is _NOT_SUBMITTED:
                    retry.append(index)
                    continue
                results[index] = _result(self.name, ops[index], arg)
            if cancelled:
                raise asyncio.CancelledError
            pending = retry + pending[len(chunk) :]
            if retry:
                # Give completions a chance to free ring slots before retrying.
                await asyncio.sleep(0)
        return results

    def _deep_ring(self) -> KernelEngine:
        deep = self._deep
        if deep is None or deep.closed:
            try:
                from .kernel import get_engine  # the loop's engine table (imports this)

                deep = get_engine(
                    self.name, max_requests=self._max, sqpoll=True, submit_mode="immediate"
                )
            except BackendUnavailableError:
                deep = self
            if not deep.sqpoll:
                # The kernel did not grant SQPOLL: this ring serves every depth.
                self.sqpoll_depth = 0
                self.miss_sqpoll = False
                deep = self
            self._deep = deep
        return deep

    def crowded(self) -> bool:
        """Whether a large cached read should leave the loop thread for the
        SQPOLL ring (``miss_sqpoll`` on): True while reads are in flight
        there, while other tasks wait for the loop's fairness budget, or when
        the read before this one came from another task within
        :data:`CROWD_WINDOW`.  Inline reads never suspend, so tasks reading
        inline show only as tasks parked on the budget (the first one of a
        turn takes all of it) or as a change of task between reads; one
        task's reads stay inline, where they are fastest."""
        if not self.miss_sqpoll:
            return False
        task = id(asyncio.current_task(self.loop))
        now = time.monotonic()
        # Every read is recorded, including the ones the first two signs send to
        # the ring: else the task resuming first after them (on uvloop, before
        # the others wake) sees itself as the last reader and goes on alone.
        other = task != self._reader and now - self._reader_at < CROWD_WINDOW
        self._reader = task
        self._reader_at = now
        deep = self._deep
        crowd = other or bool(self.budget.parked) or (deep is not None and deep._inflight > 0)
        self._crowd = crowd
        return crowd

    def _cancel(self, batch: _Batch) -> None:
        for slot, op in enumerate(batch.ops):
            if batch.args[slot] is None:
                try:
                    self.ctx.cancel(op)
                except (OSError, SystemError, ValueError, OverflowError):
                    pass

    def op_read(self, fd: int, size: int, offset: int) -> Any:
        """A read operation (not yet submitted)."""
        return self._op.read(size, fd, offset)

    def op_write(self, fd: int, data: bytes, offset: int) -> Any:
        """A write operation (not yet submitted)."""
        return self._op.write(data, fd, offset)

    def op_fsync(self, fd: int) -> Any:
        """An fsync operation."""
        return self._op.fsync(fd)

    def op_fdatasync(self, fd: int) -> Any:
        """An fdatasync operation."""
        return self._op.fdsync(fd)

    def close(self) -> None:
        """Detach from the loop and release the context (rings, fds, threads)."""
        if self.closed:
            return
        self.closed = True
        if self._eventfd:
            try:
                self.loop.remove_reader(self.ctx.fileno)
            except (RuntimeError, ValueError, OSError):
                pass
        if self._spare_key is not None and self._inflight == 0:
            # Nothing in flight: no stale completion can reach the next owner.
            _recycle_or_destroy(self._spare_key, self.ctx)
        else:
            _destroy_context(self.name, self.ctx)
        self.ctx = None


_NOT_SUBMITTED: Final = object()

#: Reads by two tasks this close together (seconds) count as concurrent:
#: tasks that take turns reading inline switch within a loop turn or two.
CROWD_WINDOW: Final = 0.001
