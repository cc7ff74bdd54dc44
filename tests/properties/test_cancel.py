"""Cancellation leaves files usable and exact (RELIABILITY X1, X3, X4)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import hybridio

CHUNK = 4096


async def test_cancel_storm_leaves_the_handle_usable_and_delivers_nothing_stale(
    tmp_path: Path, backend: str
) -> None:
    loop = asyncio.get_running_loop()
    handler_calls: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: handler_calls.append(context))
    path = tmp_path / "storm"
    blocks = [bytes([i]) * CHUNK for i in range(16)]
    path.write_bytes(b"".join(blocks))
    async with hybridio.async_open(path, "r+b", backend=backend) as f:
        for round_no in range(50):
            tasks = []
            for i in range(16):
                if i % 2:
                    coro: Any = f.write_at(i * CHUNK, blocks[i])
                else:
                    coro = f.read_at(i * CHUNK, CHUNK)
                tasks.append(asyncio.ensure_future(coro))
            if round_no % 5 == 0:
                tasks[0].cancel()  # cancelled right after creation
            _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=30)
            for i, task in enumerate(tasks):
                if not task.cancelled() and i % 2 == 0:
                    assert task.result() == blocks[i]
        # Still usable, and every block reads back what was written.
        results = await asyncio.gather(*(f.read_at(i * CHUNK, CHUNK) for i in range(16)))
        assert results == blocks
    assert handler_calls == []


async def test_cancelled_aclose_still_closes_then_delivers_the_cancellation(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "f"
    f = await hybridio.async_open(path, "wb", buffering=1 << 20, backend=backend)
    await f.write(os.urandom(100_000))  # buffered: close() has a flush to do
    task = asyncio.ensure_future(f.close())
    await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=30)
    assert done and task.cancelled()
    assert f.closed
    assert path.stat().st_size == 100_000


async def test_a_cancelled_flush_keeps_position_and_loses_no_bytes(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "f"
    payload = os.urandom(3 << 20)
    async with hybridio.async_open(path, "wb", buffering=4 << 20, backend=backend) as f:
        await f.write(payload)
        assert await f.tell() == len(payload)
        task = asyncio.ensure_future(f.flush())
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.wait([task], timeout=30)
        assert task.done()
        # Whatever the kernel confirmed is on disk; the rest is still buffered.
        assert await f.tell() == len(payload)
        await f.write(b"tail")
    assert path.read_bytes() == payload + b"tail"
