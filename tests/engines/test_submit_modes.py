"""How single io_uring operations reach the kernel (the profile's ``submit_mode``)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio._engines import kernel
from tests.conftest import evict

pytestmark = pytest.mark.skipif(
    kernel.probe("uring") is not None, reason=f"io_uring unavailable: {kernel.probe('uring')}"
)

DATA = os.urandom(1 << 20)


def caio_sqpoll_allowed() -> bool:
    import caio.linux_uring

    return bool(getattr(caio.linux_uring, "SQPOLL_ALLOWED", False))


class CountingContext:
    """Wraps a real caio io_uring context and counts its flushes (io_uring_enter)."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx
        self.flushes = 0

    def flush(self) -> int:
        self.flushes += 1
        return int(self._ctx.flush())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


async def _open(path: Path, mode: str) -> Any:
    # Inline reads off, so every read_at is one kernel operation.
    profile = hybridio.TuningProfile(inline_max=0, submit_mode=mode, origin="test")
    f = await hybridio.async_open(path, "rb", strategy="kernel", backend="uring", profile=profile)
    engine = f._raw.engine
    assert engine.submit_mode == mode
    counter = CountingContext(engine.ctx)
    engine.ctx = counter
    return f, engine, counter


def _restore(engine: Any, counter: CountingContext) -> None:
    engine.ctx = counter._ctx


@pytest.mark.parametrize("mode", ["immediate", "tick", "adaptive"])
async def test_concurrent_reads_share_io_uring_enters_per_loop_turn(
    tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    kernel._close_loop_engines(asyncio.get_running_loop())  # a fresh engine in this mode
    f, engine, counter = await _open(path, mode)
    r, w = os.pipe()
    try:
        # One operation that stays in flight (a pipe read waits for data), as
        # a cold read would: the queue is not empty when the others arrive.
        blocked = asyncio.ensure_future(engine.run_one(engine.op_read(r, 5, 0)))
        await asyncio.sleep(0)
        before = counter.flushes
        offsets = [random.Random(i).randrange(0, len(DATA) - 4096) for i in range(64)]
        got = await asyncio.wait_for(asyncio.gather(*(f.read_at(off, 4096) for off in offsets)), 30)
        assert got == [DATA[off : off + 4096] for off in offsets]
        flushes = counter.flushes - before
        if mode == "immediate":
            assert flushes == 64
        else:
            assert 1 <= flushes <= 4  # one per loop turn, not one per read
        os.write(w, b"hello")
        assert await asyncio.wait_for(blocked, 30) == b"hello"
    finally:
        _restore(engine, counter)
        os.close(r)
        os.close(w)
        await f.close()


@pytest.mark.parametrize("mode", ["immediate", "tick", "adaptive"])
async def test_a_lone_read_is_flushed_at_once_except_in_tick_mode(
    tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    kernel._close_loop_engines(asyncio.get_running_loop())
    f, engine, counter = await _open(path, mode)
    try:
        for off in range(0, 40960, 4096):
            before = counter.flushes
            pending = asyncio.ensure_future(f.read_at(off, 4096))
            await asyncio.sleep(0)  # the read ran up to its submission
            # A lone operation in "adaptive" is in the kernel before the loop turns.
            assert counter.flushes - before == (0 if mode == "tick" else 1)
            assert await asyncio.wait_for(pending, 30) == DATA[off : off + 4096]
    finally:
        _restore(engine, counter)
        await f.close()


@pytest.mark.parametrize("mode", ["immediate", "tick", "adaptive"])
async def test_every_mode_reads_and_writes_what_the_stdlib_does(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    kernel._close_loop_engines(asyncio.get_running_loop())
    rng = random.Random(mode)
    expect = bytearray(DATA)
    profile = hybridio.TuningProfile(inline_max=0, submit_mode=mode, origin="test")
    async with hybridio.async_open(
        path, "r+b", strategy="kernel", backend="uring", profile=profile
    ) as f:
        writes = []
        for _ in range(32):
            off = rng.randrange(0, len(DATA) - 512) // 512 * 512
            writes.append((off, os.urandom(512)))
        # Non-overlapping slots: the concurrent writes' order does not matter.
        slots = dict(writes)
        await asyncio.wait_for(asyncio.gather(*(f.write_at(o, d) for o, d in slots.items())), 30)
        for off, data in slots.items():
            expect[off : off + 512] = data
        ranges = [(rng.randrange(0, len(DATA)), rng.randrange(1, 9000)) for _ in range(48)]
        got = await asyncio.wait_for(asyncio.gather(*(f.read_at(o, n) for o, n in ranges)), 30)
        assert got == [bytes(expect[o : o + n]) for o, n in ranges]
    assert path.read_bytes() == bytes(expect)


def test_the_profile_refuses_an_unknown_submit_mode() -> None:
    with pytest.raises(ValueError, match="submit_mode must be one of"):
        hybridio.TuningProfile.from_mapping({"version": 1, "submit_mode": "later"}, "test")


async def test_a_profile_with_another_submit_mode_gets_its_own_engine(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    modes = {}
    for mode in ("tick", "immediate", "tick"):
        profile = hybridio.TuningProfile(submit_mode=mode, origin="test")
        async with hybridio.async_open(
            path, "rb", strategy="kernel", backend="uring", profile=profile
        ) as f:
            engine = f._raw.engine
            assert engine.submit_mode == mode  # not the first profile's engine
            assert modes.setdefault(mode, engine) is engine  # one per configuration
            assert await f.read_at(5, 10) == DATA[5:15]
    assert modes["tick"] is not modes["immediate"]


async def test_past_sqpoll_depth_single_reads_go_to_a_second_sqpoll_ring(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    profile = hybridio.TuningProfile(inline_max=0, sqpoll_depth=4, origin="test")
    async with hybridio.async_open(
        path, "rb", strategy="kernel", backend="uring", profile=profile
    ) as f:
        engine = f._raw.engine
        assert engine.sqpoll_depth == 4 and not engine.sqpoll
        r, w = os.pipe()
        try:
            # Five operations that stay in flight fill the first ring past its depth.
            blocked = [
                asyncio.ensure_future(engine.run_one(engine.op_read(r, 1, 0))) for _ in range(5)
            ]
            await asyncio.sleep(0)
            offsets = [random.Random(i).randrange(0, len(DATA) - 4096) for i in range(16)]
            got = await asyncio.wait_for(
                asyncio.gather(*(f.read_at(off, 4096) for off in offsets)), 30
            )
            assert got == [DATA[off : off + 4096] for off in offsets]
            deep = engine._deep
            assert deep is not None
            # A second ring with SQPOLL, or this one when the kernel refused SQPOLL.
            assert deep.sqpoll if deep is not engine else engine.sqpoll_depth == 0
            if caio_sqpoll_allowed():
                assert deep is not engine and deep.submit_mode == "immediate"
            assert engine._deep_active  # the queue went deep
            os.write(w, b"x" * 5)
            assert await asyncio.wait_for(asyncio.gather(*blocked), 30) == [b"x"] * 5
            # Once the queue is shallow again (< half the depth), reads come back.
            assert await f.read_at(0, 10) == DATA[:10]
            assert not engine._deep_active
        finally:
            os.close(r)
            os.close(w)


@contextlib.asynccontextmanager
async def _miss_sqpoll_file(tmp_path: Path, inline_max: int) -> AsyncIterator[Any]:
    """DATA in tmp_path/f, opened on io_uring with miss_sqpoll and *inline_max*
    (skipped where inline reads are off although asked for)."""
    path = tmp_path / "f"
    path.write_bytes(DATA)
    profile = hybridio.TuningProfile(inline_max=inline_max, miss_sqpoll=True, origin="test")
    async with hybridio.async_open(
        path, "rb", strategy="kernel", backend="uring", profile=profile
    ) as f:
        inline = f._raw.inline  # type: ignore[attr-defined]
        if inline_max and not inline.enabled:
            pytest.skip(f"inline reads are off for {tmp_path}: {inline.reason}")
        yield f


@pytest.mark.parametrize("inline_max", [1 << 20, 0])
async def test_misses_in_company_go_to_a_second_sqpoll_ring(
    tmp_path: Path, inline_max: int
) -> None:
    # miss_sqpoll: a read the page cache missed goes to the SQPOLL ring while
    # another read is in flight; a lone miss, and every read of a file not
    # read inline (whose ring serves hits too), stay on the plain ring.
    async with _miss_sqpoll_file(tmp_path, inline_max) as f:
        engine = f._raw.engine
        inline = f._raw.inline
        assert engine.miss_sqpoll and not engine.sqpoll
        evict(tmp_path / "f")
        assert await f.read_at(0, 4096) == DATA[:4096]  # a lone read
        assert engine._deep is None
        r, w = os.pipe()
        try:
            blocked = asyncio.ensure_future(engine.run_one(engine.op_read(r, 1, 0)))
            await asyncio.sleep(0)
            # As in the batch test below: a fast device's readahead can make
            # every read of an evicted range a hit, so try again.
            for attempt in range(10):
                evict(tmp_path / "f")
                rng = random.Random(attempt)
                offsets = [rng.randrange(0, len(DATA) - 4096) for _ in range(8)]
                got = await asyncio.wait_for(
                    asyncio.gather(*(f.read_at(off, 4096) for off in offsets)), 30
                )
                assert got == [DATA[off : off + 4096] for off in offsets]
                missed = bool(inline.misses + inline.skipped)
                if not inline_max or missed:
                    break
            if not inline_max:
                assert engine._deep is None  # not a file read inline: no misses
            elif missed:
                deep = engine._deep
                assert deep is not None
                # The SQPOLL ring, or this one when the kernel refused SQPOLL.
                if caio_sqpoll_allowed():
                    assert deep is not engine and deep.sqpoll
                else:
                    assert deep is engine and not engine.miss_sqpoll
            os.write(w, b"x")
            assert await asyncio.wait_for(blocked, 30) == b"x"
        finally:
            os.close(r)
            os.close(w)
    if inline_max and not missed:
        pytest.skip("readahead filled every evicted page before RWF_NOWAIT looked again")


@pytest.mark.parametrize("inline_max", [1 << 20, 0])
async def test_a_batch_of_misses_goes_to_the_sqpoll_ring(tmp_path: Path, inline_max: int) -> None:
    # read_many's misses are one submission of several reads: "in company" by
    # themselves, so under miss_sqpoll they go to the SQPOLL ring too.
    async with _miss_sqpoll_file(tmp_path, inline_max) as f:
        engine = f._raw.engine
        # A miss starts readahead that a fast device may finish before the
        # kernel looks at the page again, so a batch can be served inline
        # whole: try again.
        for attempt in range(10):
            evict(tmp_path / "f")
            rng = random.Random(attempt)
            offsets = [rng.randrange(0, len(DATA) - 4096) for _ in range(8)]
            got = await asyncio.wait_for(f.read_many([(off, 4096) for off in offsets]), 30)
            assert got == [DATA[off : off + 4096] for off in offsets]
            if f.stats.kernel_ops:
                break
        if not inline_max:
            assert engine._deep is None  # not a file read inline: the plain ring
        else:
            if not f.stats.kernel_ops:
                pytest.skip("readahead filled every evicted page before RWF_NOWAIT looked again")
            deep = engine._deep
            assert deep is not None
            if caio_sqpoll_allowed():
                assert deep is not engine and deep.sqpoll


@contextlib.asynccontextmanager
async def _crowd_file(tmp_path: Path, sqpoll_read_min: int) -> AsyncIterator[Any]:
    """DATA, cached, in a file read inline with miss_sqpoll and *sqpoll_read_min*."""
    path = tmp_path / "f"
    path.write_bytes(DATA)
    profile = hybridio.TuningProfile(
        inline_max=1 << 20, miss_sqpoll=True, sqpoll_read_min=sqpoll_read_min, origin="test"
    )
    async with hybridio.async_open(
        path, "rb", strategy="kernel", backend="uring", profile=profile
    ) as f:
        if not f._raw.inline.enabled:  # type: ignore[attr-defined]
            pytest.skip(f"inline reads are off for {tmp_path}")
        assert await f.read() == DATA  # cached now
        yield f


async def _readers(f: Any, tasks: int, reads: int, size: int, turns: bool) -> None:
    """*tasks* tasks reading *reads* ranges of *size* each, checked against DATA;
    *turns*: each yields after every read; else they draw from one queue of
    ranges and yield only to the fairness budget, so the first one to run
    would read all the ranges inline if company went unseen."""
    rng = random.Random(size)
    ranges = iter([rng.randrange(0, len(DATA) - size) for _ in range(tasks * reads)])

    async def reader(seed: int) -> None:
        for off in itertools.islice(ranges, reads) if turns else ranges:
            assert await f.read_at(off, size) == DATA[off : off + size]
            if turns:
                await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(*(reader(i) for i in range(tasks))), 60)


@pytest.mark.parametrize("turns", [True, False], ids=["taking-turns", "sharing-the-budget"])
async def test_large_cached_reads_in_company_go_to_the_sqpoll_ring(
    tmp_path: Path, turns: bool
) -> None:
    # sqpoll_read_min: cached reads that large leave the loop thread for the
    # SQPOLL ring when other tasks read too (seen as a change of task between
    # reads, or as tasks parked on the fairness budget, which 8 tasks reading
    # 64 MiB between them spend many times over); one task's stay inline.
    async with _crowd_file(tmp_path, 64 * 1024) as f:
        engine = f._raw.engine
        await _readers(f, 1, 50, 64 * 1024, turns=True)
        assert f.stats.kernel_ops == 0 and engine._deep is None
        await _readers(f, 8, 2, 16 * 1024, turns)  # company, but below the size
        assert f.stats.kernel_ops == 0
        await _readers(f, 8, 128, 64 * 1024, turns)
        # Most of them, once company is seen (the first budget's worth, about
        # 1 ms of reads, is served inline before anyone is seen waiting).
        assert f.stats.kernel_ops >= 8 * 128 // 8, f.stats
        deep = engine._deep
        assert deep is not None
        if caio_sqpoll_allowed():
            assert deep is not engine and deep.sqpoll
            assert deep._inflight == 0
        else:
            assert deep is engine and not engine.miss_sqpoll


async def test_large_reads_in_company_stay_inline_without_sqpoll_read_min(
    tmp_path: Path,
) -> None:
    async with _crowd_file(tmp_path, 0) as f:
        await _readers(f, 8, 32, 64 * 1024, turns=True)
        assert f.stats.kernel_ops == 0 and f.stats.inline_ops > 8 * 32
