"""The thread engine: pool ownership, context propagation and the cancellation
policy (RELIABILITY X4, R1)."""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading

import pytest

from hybridio._engines import threads
from hybridio._engines.threads import run_in_thread, run_to_completion

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


async def test_runs_in_a_library_thread_with_the_callers_context() -> None:
    request_id.set("abc")

    def job(x: int) -> tuple[str, str, int]:
        return threading.current_thread().name, request_id.get(), x * 2

    name, rid, value = await run_in_thread(job, 21)
    assert name.startswith("hybridio")
    assert (rid, value) == ("abc", 42)


async def test_exceptions_propagate() -> None:
    def fail() -> None:
        raise OSError(5, "boom")

    with pytest.raises(OSError, match="boom"):
        await run_in_thread(fail)


async def test_cancel_while_running_waits_for_the_call_then_reraises() -> None:
    """X4: a running call is not abandoned; its effect is complete when the
    cancellation arrives, and a successful result goes to cleanup()."""
    started, release = threading.Event(), threading.Event()
    effects: list[str] = []
    cleaned: list[str] = []

    def job() -> str:
        started.set()
        release.wait(10)
        effects.append("done")
        return "result"

    task = asyncio.create_task(run_in_thread(job, cleanup=cleaned.append))
    assert await asyncio.to_thread(started.wait, 10)
    task.cancel()
    await asyncio.sleep(0.01)
    assert not task.done()
    task.cancel()  # a second cancellation is absorbed too
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert effects == ["done"]
    assert cleaned == ["result"]


async def test_cancel_before_start_withdraws_the_call() -> None:
    executor = threads.concurrent.futures.ThreadPoolExecutor(max_workers=1)
    gate = threading.Event()
    ran: list[int] = []
    blocker = asyncio.ensure_future(run_in_thread(gate.wait, 10, executor=executor))
    queued = asyncio.create_task(run_in_thread(ran.append, 1, executor=executor))
    await asyncio.sleep(0.01)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    gate.set()
    await blocker
    executor.shutdown(wait=True)
    assert ran == []


async def test_run_to_completion_finishes_the_coroutine_when_cancelled() -> None:
    steps: list[int] = []

    async def closing() -> None:
        for i in range(3):
            await asyncio.sleep(0.005)
            steps.append(i)

    task = asyncio.create_task(run_to_completion(closing()))
    await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == [0, 1, 2]


def test_default_pool_is_shared_by_event_loops_and_resizable() -> None:
    """R1: no pool per loop; 20 loops reuse the same threads."""
    threads.set_default_executor_size(3)
    assert threads.default_executor_size() == 3

    async def one() -> str:
        return await run_in_thread(lambda: threading.current_thread().name)

    before = threading.active_count()
    names = {asyncio.run(one()) for _ in range(20)}
    assert len(names) <= 3
    assert threading.active_count() <= before + 3
    with pytest.raises(ValueError, match="at least 1"):
        threads.set_default_executor_size(0)
    with pytest.raises(TypeError):
        threads.set_default_executor_size(2.5)  # type: ignore[arg-type]
    threads.set_default_executor_size(None)
    assert threads.default_executor_size() == min(32, (os.cpu_count() or 1) + 4)
