"""One fairness budget per event loop: work that does not suspend gives the loop turns.

Inline page-cache reads, io_uring reads that complete inside the submit call,
inline opens, Linux AIO writes copied inside ``io_submit``: a task doing only
that never suspends, so without a budget it would hold the loop until it is
done.  Every such path -- reads, writes, retries, opens, the bulk path --
asks the same per-loop :class:`TurnBudget`, so one task's inline reads and
another's kernel writes share one allowance instead of each having its own.
"""

from __future__ import annotations

import asyncio
import collections
import time
import weakref
from typing import Final

__all__ = ("BUDGET_SECONDS", "TurnBudget", "for_loop")

#: How long work may hold the loop without a turn before the next piece yields.
#: Time, not bytes: a text reader spends far more CPU per byte than a binary one.
#: A bound of the design (no call stalls the loop more than a few ms), not a
#: measured threshold, so it is not part of the tuning profile.
BUDGET_SECONDS: Final = 0.001


class TurnBudget:
    """One event loop's allowance for work done without suspending."""

    __slots__ = (
        "__weakref__",
        "_armed",
        "_streak_end",
        "_turn_pending",
        "_waiters",
        "loop",
        "parked",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._turn_pending = False
        # When the current streak's allowance runs out (time.monotonic()).
        self._streak_end = 0.0
        # The tasks in give_turn, oldest first, and whether a timer will wake
        # the oldest.
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._armed = False
        #: Tasks waiting in :meth:`give_turn` now: other file work wants the
        #: loop (the kernel engine's sign that reads have company).
        self.parked = 0

    def spent(self) -> bool:
        """True once work has held the loop for :data:`BUDGET_SECONDS` without a turn.

        The first call of a streak schedules a marker callback; the loop runs
        it at its next turn, which ends the streak.  So the cost is one
        ``call_soon`` per loop turn in which such work happens, and a task
        that suspends anyway never yields twice.
        """
        if not self._turn_pending:
            self._turn_pending = True
            self._streak_end = time.monotonic() + BUDGET_SECONDS
            self.loop.call_soon(self._mark_turn)
            return False
        return time.monotonic() > self._streak_end

    async def give_turn(self) -> None:
        """Yield until the allowance is back (a loop turn really happened).

        Callers check :meth:`spent` first, so the common case costs no coroutine.
        """
        # The wake-up is a timer due at once, not sleep(0).  sleep(0) resumes
        # a task in the next turn AHEAD of the tasks that turn's due timers and
        # I/O events wake (their callbacks run in that turn, their tasks in the
        # one after), so those waited one more allowance: a 0.5 ms ticker beside
        # `async for line` ran every 3.6 ms, now every 1.2 ms.
        #
        # The timer wakes the oldest parked task only (see _after_slice).
        self.parked += 1
        try:
            while self.spent():
                waiter = self.loop.create_future()
                self._waiters.append(waiter)
                self._arm()
                await waiter
        finally:
            self.parked -= 1

    def _arm(self) -> None:
        if not self._armed and self._waiters:
            self._armed = True
            self.loop.call_later(0, self._release)

    def _mark_turn(self) -> None:
        self._turn_pending = False

    def _exhausted(self) -> bool:
        """:meth:`spent` without starting a streak."""
        return self._turn_pending and time.monotonic() > self._streak_end

    def _release(self) -> None:
        self._armed = False
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # a cancelled task's
                waiter.set_result(None)
                # Queued behind the woken task's step: runs when it suspends.
                self.loop.call_soon(self._after_slice)
                return

    def _after_slice(self) -> None:
        """After the task :meth:`_release` woke: the next one's turn.

        When it spent the allowance (tasks reading cached data do), the next
        task waits for another turn, by the timer, set only now: a timer that
        fell due meanwhile runs first.  Waking them all instead cost 64 tasks
        reading cached 4 KiB ranges 5% of their instructions: the first spent
        it all and 63 woke only to park again.  When it left some (it
        suspended soon, as after an open), all of them share the rest.
        """
        if self._exhausted():
            self._arm()
            return
        waiters, self._waiters = self._waiters, collections.deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


_budgets: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TurnBudget] = (
    weakref.WeakKeyDictionary()
)


# The last loop's budget without a weak-dict lookup; a weak reference, so a
# closed loop is not kept alive by it.
_last: weakref.ref[TurnBudget] | None = None


def for_loop(loop: asyncio.AbstractEventLoop) -> TurnBudget:
    """The budget of *loop* (created on first use, gone with the loop)."""
    global _last
    last = _last() if _last is not None else None
    if last is not None and last.loop is loop:
        return last
    budget = _budgets.get(loop)
    if budget is None:
        budget = _budgets[loop] = TurnBudget(loop)
    _last = weakref.ref(budget)
    return budget
