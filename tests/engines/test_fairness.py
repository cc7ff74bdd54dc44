"""The per-loop fairness budget (_engines/fairness.py): who runs when work gives a turn."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from hybridio._engines import fairness


@pytest.fixture
async def budget(monkeypatch: pytest.MonkeyPatch) -> fairness.TurnBudget:
    """The running loop's budget, spent by the second check of every streak."""
    monkeypatch.setattr(fairness, "BUDGET_SECONDS", -1.0)
    return fairness.for_loop(asyncio.get_running_loop())


def _hold_loop(seconds: float) -> None:
    # Work that never suspends (as inline reads): the loop cannot turn meanwhile.
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _reader(budget: fairness.TurnBudget, resumed: list[int]) -> Callable[[int], Awaitable[None]]:
    """A task body that finds the budget spent, gives its turn, then notes *i*."""

    async def reader(i: int) -> None:
        budget.spent()
        if budget.spent():
            await budget.give_turn()
        resumed.append(i)

    return reader


async def test_a_task_woken_by_a_due_timer_runs_before_the_parked_task_resumes(
    budget: fairness.TurnBudget,
) -> None:
    order: list[str] = []

    async def sleeper() -> None:
        await asyncio.sleep(0.0001)
        order.append("woken by its timer")

    task = asyncio.ensure_future(sleeper())
    await asyncio.sleep(0)  # it waits on its timer now
    _hold_loop(0.002)  # the timer is due
    assert not budget.spent()  # a streak starts
    assert budget.spent()
    await budget.give_turn()
    order.append("parked task")
    await asyncio.wait_for(task, 5)
    # With sleep(0) as the turn, the parked task resumed first and started the
    # next streak before the sleeper's task step (queued by its timer) could run.
    assert order == ["woken by its timer", "parked task"]


async def test_every_parked_task_resumes_and_the_count_returns_to_zero(
    budget: fairness.TurnBudget,
) -> None:
    resumed: list[int] = []
    reader = _reader(budget, resumed)

    await asyncio.wait_for(asyncio.gather(*(reader(i) for i in range(16))), 5)
    assert sorted(resumed) == list(range(16))
    assert budget.parked == 0


async def test_a_task_cancelled_while_parked_does_not_strand_the_others(
    budget: fairness.TurnBudget,
) -> None:
    resumed: list[int] = []
    reader = _reader(budget, resumed)

    tasks = [asyncio.ensure_future(reader(i)) for i in range(4)]
    await asyncio.sleep(0)  # all four parked now
    assert budget.parked == 4
    tasks[1].cancel()
    done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    assert isinstance(done[1], asyncio.CancelledError)
    assert sorted(resumed) == [0, 2, 3]
    assert budget.parked == 0


async def test_parked_tasks_resume_one_per_turn_in_the_order_they_parked(
    budget: fairness.TurnBudget,
) -> None:
    order: list[str] = []

    async def ticker() -> None:
        # A callback every loop turn: where it falls between the resumed
        # tasks shows how many of them one turn woke.
        for _ in range(40):
            order.append("turn")
            await asyncio.sleep(0)

    async def reader(i: int) -> None:
        budget.spent()
        if budget.spent():
            await budget.give_turn()
        order.append(f"r{i}")

    tick = asyncio.ensure_future(ticker())
    await asyncio.wait_for(asyncio.gather(*(reader(i) for i in range(4))), 5)
    tick.cancel()
    resumed = [x for x in order if x != "turn"]
    assert resumed == ["r0", "r1", "r2", "r3"]
    between = [order.index(f"r{i + 1}") - order.index(f"r{i}") for i in range(3)]
    assert all(gap > 1 for gap in between), order  # a turn between each two


async def test_a_timer_due_during_a_resumed_task_s_work_runs_before_the_next_parked_task(
    budget: fairness.TurnBudget,
) -> None:
    order: list[str] = []

    async def sleeper() -> None:
        await asyncio.sleep(0.003)  # whole ms: uvloop's timers have no finer grain
        order.append("woken by its timer")

    async def reader(name: str) -> None:
        budget.spent()
        if budget.spent():
            await budget.give_turn()
        order.append(name)
        _hold_loop(0.01)  # the sleeper's timer falls due meanwhile

    task = asyncio.ensure_future(sleeper())
    await asyncio.sleep(0)  # it waits on its timer now
    await asyncio.wait_for(asyncio.gather(reader("first"), reader("second")), 5)
    await asyncio.wait_for(task, 5)
    # The second parked task's wake-up is set after the first one's work, so
    # the timer that fell due during that work is served first.
    assert order == ["first", "woken by its timer", "second"]
