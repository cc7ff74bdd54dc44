"""A per-process limit on the fds hybridio's files hold (RELIABILITY L5).

``asyncio.gather`` over 10,000 ``async_open()`` calls would otherwise start
10,000 opens at once and run the process into EMFILE, failing most of them (and
whatever else the application opens meanwhile: aiofiles#83).  hybridio counts
the fds its files hold; an open *waits* while that count is within a headroom of
``RLIMIT_NOFILE``'s soft limit, and every close hands its slot to the oldest
waiter.  The headroom, ``max(32, limit // 8)``, is left to the application and
to the event loop's own fds (rings, eventfds, sockets).

Waiters are futures of their own event loop, so one limiter serves every loop
and thread of the process.  A slot is released exactly once: by ``close()``,
by the failed constructor, or by ``__del__`` of a file the GC reclaimed --
which may run in any thread, at any allocation, even while this thread is
inside the limiter.  Releases are therefore queued without blocking and applied
by whichever thread next holds (or frees) the lock.

When the process limit is too low to make progress (nothing hybridio holds
could be waited for), or EMFILE happens anyway because other code holds the
fds, the open raises ``OSError(EMFILE)`` naming the limit and how to raise it.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import os
import threading
from typing import Any, Final

try:
    import resource
except ImportError:  # pragma: no cover - not POSIX: no RLIMIT_NOFILE to respect
    resource = None  # type: ignore[assignment]

__all__ = ("LIMITER", "FdLimiter", "FdSlot", "attach", "emfile_error", "release_of")

#: fds left to the application and the loop: at least this many, or 1/8.
MIN_HEADROOM: Final = 32


def soft_limit() -> int | None:
    """RLIMIT_NOFILE's soft limit, or None for unlimited / unknown."""
    if resource is None:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    return int(soft)


def _limits_text() -> str:
    if resource is None:
        return "the process fd limit"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard_text = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
    return f"RLIMIT_NOFILE is {soft} (hard limit {hard_text})"


_HOW = (
    "raise it with `ulimit -n` in the shell or "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard)) in the process"
)


def emfile_error(filename: Any = None, *, held: int | None = None) -> OSError:
    """OSError(EMFILE) that says which limit was hit and how to raise it."""
    held_text = f"hybridio's open files hold {held} of them; " if held else ""
    message = f"Too many open files: {_limits_text()}; {held_text}{_HOW}"
    if filename is None or isinstance(filename, int):
        return OSError(errno.EMFILE, message)
    return OSError(errno.EMFILE, message, os.fspath(filename))


class _Waiter:
    __slots__ = ("future", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.granted = False


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class FdSlot:
    """One fd's worth of the limit; :meth:`release` is idempotent."""

    __slots__ = ("_limiter", "_released")

    def __init__(self, limiter: FdLimiter) -> None:
        self._limiter = limiter
        self._released = False

    def release(self) -> None:
        """Give the slot back (any thread, also from ``__del__``)."""
        if self._released:
            return
        self._released = True
        limiter = self._limiter
        lock = limiter._lock
        if lock.acquire(False):
            # The lock is free: hand the slot on right here (the queue is for
            # a release that finds the lock taken, e.g. from __del__).
            if limiter._waiters:
                limiter._hand_on()
            else:
                limiter.held -= 1  # _hand_on's answer with nobody waiting
            if limiter._pending:
                limiter._unlock()
                return
            lock.release()
            # A release queued by another thread while we held the lock is
            # applied now, as _unlock does.
            if limiter._pending and lock.acquire(False):
                limiter._unlock()
            return
        limiter._queue_release()


class FdLimiter:
    """Counts the fds hybridio's files hold; opens wait near the process limit."""

    def __init__(self, limit: Any = soft_limit) -> None:
        #: Returns the soft limit (None: no limit).  The capacity it gives is
        #: kept and read again only when hybridio reaches it, so a raised limit
        #: still takes effect at once, without a getrlimit per open.
        self._limit = limit
        self._cap: int | None = None
        self._cap_known = False
        self._lock = threading.Lock()
        self._pending: collections.deque[None] = collections.deque()
        self._waiters: collections.deque[_Waiter] = collections.deque()
        self.held = 0

    def capacity(self) -> int | None:
        """How many fds hybridio's files may hold now; None for no limit."""
        limit = self._limit()
        if limit is None:
            return None
        return int(limit) - max(MIN_HEADROOM, int(limit) // 8)

    # -- the lock ---------------------------------------------------------

    def _unlock(self) -> None:
        # Apply queued releases, then free the lock; a release queued by a
        # thread that found the lock taken is applied by whoever holds it next,
        # or here, after our own release (see _queue_release).
        while True:
            self._apply_pending()
            self._lock.release()
            if not self._pending or not self._lock.acquire(blocking=False):
                return

    def _queue_release(self) -> None:
        # Never blocks: __del__ may run while this very thread holds the lock.
        self._pending.append(None)
        if self._lock.acquire(blocking=False):
            self._unlock()

    def _apply_pending(self) -> None:
        while self._pending:
            self._pending.popleft()
            self._hand_on()

    def _hand_on(self) -> None:
        # A freed slot goes to the oldest live waiter, else back to the pool.
        while self._waiters:
            waiter = self._waiters.popleft()
            if waiter.future.done():
                continue  # cancelled while it waited
            try:
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
            except RuntimeError:
                continue  # its loop is closed: nobody to serve there
            waiter.granted = True
            return
        self.held -= 1

    # -- public -----------------------------------------------------------

    def try_acquire(self) -> FdSlot | None:
        """A slot at once when one is free and nobody waits; else None (then
        :meth:`acquire`).  The common open, without a coroutine."""
        cap = self._cap
        if not self._cap_known or self._waiters or (cap is not None and self.held >= cap):
            return None
        lock = self._lock
        if not lock.acquire(False):
            return None  # another thread is in here: acquire() waits for the lock
        if self._waiters or self._pending or (cap is not None and self.held >= cap):
            lock.release()
            return None
        self.held += 1
        lock.release()
        return FdSlot(self)

    async def acquire(self, filename: Any = None) -> FdSlot:
        """A slot for one more fd; waits while hybridio holds close to the limit."""
        cap = self._cap
        if not self._cap_known or (cap is not None and self.held >= cap):
            cap = self._cap = self.capacity()
            self._cap_known = True
        self._lock.acquire()
        try:
            # A raised limit may leave waiters behind while held < cap: they
            # are served by the next release; this open need not queue.
            if cap is None or self.held < cap:
                self.held += 1
                return FdSlot(self)
            if cap <= 0 or self.held == 0:
                # No close of ours can ever make room.
                raise emfile_error(filename, held=self.held)
            waiter = _Waiter(asyncio.get_running_loop())
            self._waiters.append(waiter)
        finally:
            self._unlock()
        try:
            await waiter.future
        except BaseException:
            self._lock.acquire()
            try:
                if waiter.granted:
                    self._hand_on()  # the slot we were given goes to the next one
                else:
                    waiter.future.cancel()  # skipped by _hand_on from now on
            finally:
                self._unlock()
            raise
        return FdSlot(self)

    def _after_fork_in_child(self) -> None:
        # The parent's files (and their fds) are inherited, so `held` stays;
        # its waiters belong to loops that do not run here, and another
        # thread may have held the lock at the fork.
        self._lock = threading.Lock()
        self._pending.clear()
        self._waiters.clear()


#: The process-wide limiter every ``async_open()`` goes through.
LIMITER: Final = FdLimiter()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=LIMITER._after_fork_in_child)


def attach(file: object, slot: FdSlot | None) -> None:
    """Hand *slot* to *file*: from now on its close (or ``__del__``) releases it."""
    # Not a constructor argument: every layer would need one, and a file whose
    # constructor fails is released by the opener instead.
    object.__setattr__(file, "_fd_slot", slot)


def release_of(file: object) -> None:
    """Release the fd slot *file* holds, if any (its close and ``__del__`` call this)."""
    slot = getattr(file, "_fd_slot", None)
    if slot is not None:
        slot.release()
