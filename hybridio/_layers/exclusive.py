"""The one bracket every layer puts around an operation that suspends.

A file layer serves what it can from its buffers without suspending (the fast
paths), and serialises everything else under the handle's ``asyncio.Lock``.
While such an operation is in flight the buffers are in motion, so the fast
paths must stand aside: the layer keeps a plain ``_busy`` flag that a fast path
tests with one attribute load (no call, no lock).  :class:`Exclusive` is the
bracket that takes the lock, raises the flag, and undoes both, whatever
happens::

    async with Exclusive(self):          # self._lock held, self._busy True
        await run_in_thread(...)

A layer that must do more subclasses it: :meth:`Exclusive.entered` runs once
the lock is held (check that the file is still open, drop a read-ahead; what it
raises leaves lock and flag as they were), :meth:`Exclusive.leaving` on the
way out (restore a fast-path flag; lock and flag are released even if it
raises).  One object per use, living only for the ``async with``: the file holds no
reference to it (no cycle), and it costs less than a generator-based context
manager.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

__all__ = ("Exclusive", "Guarded")


class Guarded(Protocol):
    """What :class:`Exclusive` needs of a file: its lock and its busy flag.

    The lock may be created lazily (the kernel-served file makes one per loop
    on first need); it exists by the time the bracket is entered.
    """

    _busy: bool

    @property
    def _lock(self) -> asyncio.Lock | None: ...


class Exclusive:
    """``async with Exclusive(owner)``: *owner*'s lock held and ``owner._busy``
    set for the body; both released on the way out, also on error or cancel."""

    __slots__ = ("_owner",)

    def __init__(self, owner: Guarded) -> None:
        self._owner = owner

    def entered(self, owner: Guarded) -> None:
        """Called with the lock held and the flag set; may raise to refuse."""

    def leaving(self, owner: Guarded) -> None:
        """Called on the way out, before the flag drops and the lock is released."""

    async def __aenter__(self) -> None:
        owner = self._owner
        lock = owner._lock
        assert lock is not None
        await lock.acquire()
        owner._busy = True
        try:
            self.entered(owner)
        except BaseException:
            owner._busy = False
            lock.release()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        owner = self._owner
        try:
            self.leaving(owner)
        finally:
            owner._busy = False
            lock = owner._lock
            assert lock is not None
            lock.release()
