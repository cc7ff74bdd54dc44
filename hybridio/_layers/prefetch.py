"""Sequential reads started early in worker threads: read-ahead by whole requests.

A read-only file read front to back in large pieces (``read(1 MiB)`` in a
loop) was copied piece by piece in the loop thread, twice per piece (the page
cache into a scratch buffer, that into the result), and ran at 0.7x a
blocking ``pread`` loop here.  Once two such reads follow each other, the
next ``prefetch_depth`` pieces are read by ``os.pread`` in worker threads
while the caller works on this one: one copy each, on the other cores.  It is
read-ahead, as a buffer is: a piece read early shows the file as it was then,
which is why writable files never do it (their own writes would race it), and
why a piece that came back short (EOF then; the file may have grown since) is
read again instead of being served.

A file closes only after its early reads ended: an fd closed under a running
``pread`` could be reused by the time that runs.  And early reads never take
the whole library pool: past :func:`_cap` of them running, in every file
together, a file reads inline instead, so opens, syncs and thread-served
files still find a free thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections import deque
from concurrent.futures import Executor

from .._engines.threads import default_executor, default_executor_size

__all__ = ("ReadAhead",)


# Early reads submitted and not finished, in every file (worker threads end them).
_running = 0
_running_lock = threading.Lock()


def _cap() -> int:
    """How many early reads may run at once: the library pool less two threads."""
    return max(2, default_executor_size() - 2)


def _ended() -> None:
    global _running
    with _running_lock:
        _running -= 1


def _pread(fd: int, size: int, offset: int) -> bytes:
    # Counted off here, not in a done callback: those run after the future
    # already reads as done, when the next piece may be asked for.
    try:
        return os.pread(fd, size, offset)
    finally:
        _ended()


def _submit(
    pool: Executor, fd: int, size: int, offset: int, cap: int
) -> concurrent.futures.Future[bytes] | None:
    """``os.pread`` in *pool*, unless *cap* early reads are running already."""
    global _running
    with _running_lock:
        if _running >= cap:
            return None
        _running += 1
    try:
        return pool.submit(_pread, fd, size, offset)
    except BaseException:
        _ended()
        raise


def _after_fork_in_child() -> None:
    # No worker thread crossed the fork: nothing runs, and the lock may be held.
    global _running, _running_lock
    _running = 0
    _running_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Early:
    """One piece read early: ``os.pread(fd, size, offset)`` in a worker thread."""

    __slots__ = ("future", "offset", "size")

    def __init__(self, future: concurrent.futures.Future[bytes], offset: int, size: int) -> None:
        self.future = future
        self.offset = offset
        self.size = size


class ReadAhead:
    """The early reads of one fd, in offset order, at most *depth* of them."""

    __slots__ = ("_depth", "_executor", "_fd", "_pid", "_queue", "_stray")

    def __init__(self, fd: int, executor: Executor | None, depth: int) -> None:
        self._fd = fd
        #: The process whose threads run these reads: a forked child's copy
        #: of them never finishes, so it forgets them instead of waiting.
        self._pid = os.getpid()
        self._executor = executor
        self._depth = depth
        self._queue: deque[_Early] = deque()
        #: Early reads nobody will take that may still be running.
        self._stray: list[concurrent.futures.Future[bytes]] = []

    def _forked(self) -> bool:
        if self._pid == os.getpid():
            return False
        self._pid = os.getpid()
        self._queue.clear()
        self._stray = []
        return True

    @property
    def busy(self) -> bool:
        """Whether an early read may still be running (close must wait)."""
        if self._forked():
            return False
        self._stray = [f for f in self._stray if not f.done()]
        return bool(self._stray) or any(not e.future.done() for e in self._queue)

    def start(self, offset: int, size: int) -> None:
        """Keep *depth* reads of *size* bytes running from *offset* on."""
        self._forked()
        queue = self._queue
        if queue and (queue[0].offset != offset or queue[0].size != size):
            self.drop()
        nxt = queue[-1].offset + size if queue else offset
        pool = self._executor or default_executor()
        cap = _cap()
        while len(queue) < self._depth:
            future = _submit(pool, self._fd, size, nxt, cap)
            if future is None:
                break  # the pool is busy enough: the next pieces are read as asked
            queue.append(_Early(future, nxt, size))
            nxt += size

    async def take(self, offset: int, size: int) -> bytes | None:
        """The *size* bytes at *offset* if they were read early and completely;
        None otherwise (the caller reads them itself: a failed early read's
        error is then raised by the read that was asked for, at its time)."""
        queue = self._queue
        if not queue or self._forked():
            return None
        early = queue[0]
        if early.offset != offset or early.size != size:
            self.drop()
            return None
        queue.popleft()
        future = early.future
        if not future.done():
            try:
                # Shielded: a cancelled caller leaves the read running, as strays.
                await asyncio.shield(asyncio.wrap_future(future))
            except asyncio.CancelledError:
                self._stray.append(future)
                self.drop()
                raise
            except Exception:  # retrieved; the caller's own read reports it
                pass
        if future.exception() is not None:
            self.drop()
            return None
        data = future.result()
        if len(data) != size:
            self.drop()
            return None
        return data

    def drop(self) -> None:
        """Forget every early read (a seek, another size, an error)."""
        while self._queue:
            future = self._queue.popleft().future
            if future.cancel():
                _ended()  # withdrawn before it ran
            else:
                self._stray.append(future)

    async def settle(self) -> None:
        """Wait until no early read runs (before the fd is closed); a
        cancellation meanwhile is delivered after that."""
        if self._forked():
            return
        self.drop()
        strays = [asyncio.wrap_future(f) for f in self._stray if not f.done()]
        self._stray = []
        if not strays:
            return
        waiting = asyncio.gather(*strays, return_exceptions=True)
        cancelled = False
        while not waiting.done():
            try:
                await asyncio.shield(waiting)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError

    def settle_blocking(self) -> None:
        """:meth:`settle` for the garbage collector's close (no loop)."""
        if self._forked():
            return
        self.drop()
        concurrent.futures.wait(self._stray)
        self._stray = []
