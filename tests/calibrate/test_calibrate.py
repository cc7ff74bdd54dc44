"""``calibrate``: the quick run end to end, and the rules that pick thresholds."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio import _calibrate as cal
from hybridio._calibrate import Cell, derive
from hybridio._calibrate._measure import _Heartbeat, _Timed
from hybridio._calibrate._run import QUICK
from hybridio._profile import TuningProfile, load_profile
from tests.surface.test_cli import run_cli

KiB = 1024
MiB = 1 << 20


# -- the quick run, once per module (it takes a few seconds) -------------------------------


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """``python -m hybridio calibrate --quick`` into a temporary directory."""
    work = tmp_path_factory.mktemp("calibrate")
    out = work / "p.json"
    proc = run_cli(
        work, "calibrate", "--quick", "--dir", str(work), "--output", str(out), timeout=120
    )
    return work, proc


def test_quick_calibrate_succeeds(quick_run: tuple[Path, Any]) -> None:
    work, proc = quick_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    # progress went to stderr, one line per step, ending at N/N
    steps = [line for line in proc.stderr.splitlines() if line.startswith("[")]
    assert steps, proc.stderr
    last = steps[-1].split()[1]
    done, total = last.split("/")
    assert done == total
    # the table and the thresholds went to stdout
    assert "random reads" in proc.stdout
    assert "thresholds:" in proc.stdout
    assert f"wrote {work / 'p.json'}" in proc.stdout
    # the test file is removed afterwards
    assert not [p.name for p in work.iterdir() if p.name.startswith(".hybridio-calibrate")]


def test_quick_calibrate_writes_a_valid_profile(quick_run: tuple[Path, Any]) -> None:
    work, proc = quick_run
    assert proc.returncode == 0, proc.stderr
    profile = load_profile(work / "p.json")
    assert profile.origin.startswith("python -m hybridio calibrate --quick on ")
    m = profile.measurements
    assert m["eviction"]
    engines = {c["engine"] for c in m["cells"]}
    assert {"inline", "thread"} <= engines
    assert any(e.startswith("kernel:") for e in engines)
    sizes = {c["size"] for c in m["cells"]}
    assert sizes == set(QUICK.sizes)
    assert {c["concurrency"] for c in m["cells"] if c["engine"] == "thread"} == set(
        QUICK.concurrency
    )
    assert {c["cache"] for c in m["cells"]} == {"warm", "cold"}
    for c in m["cells"]:
        assert c["mb_s"] >= 0
        assert c["stall_max_ms"] >= c["stall_p90_ms"] >= c["stall_p50_ms"] >= 0
    # every calibrated threshold is explained, and sqpoll stays off in quick mode
    for key in (
        "inline_max",
        "max_chunk",
        "thread_read_min",
        "read_ahead",
        "sqpoll",
        "submit_mode",
    ):
        assert m["reasons"][key], key
    assert profile.sqpoll is False
    assert profile.thread_pool_size == 0
    assert 64 * KiB <= profile.read_ahead <= profile.sequential_read_ahead <= MiB
    assert profile.max_chunk in QUICK.sizes


def test_calibrated_profile_is_used_by_info_and_explain(quick_run: tuple[Path, Any]) -> None:
    work, proc = quick_run
    assert proc.returncode == 0, proc.stderr
    path = work / "p.json"
    profile = load_profile(path)
    info = run_cli(work, "info", "--json", HYBRIDIO_PROFILE=str(path))
    assert info.returncode == 0, info.stderr
    shown = json.loads(info.stdout)["profile"]
    assert shown["source"] == str(path)
    assert shown["origin"] == profile.origin
    assert shown["thresholds"] == json.loads(json.dumps(profile.thresholds()))
    if not hasattr(hybridio, "explain"):
        pytest.skip("hybridio.explain is not in this version yet")
    (work / "data.bin").write_bytes(b"\0" * 4096)
    explained = run_cli(work, "explain", "data.bin", "rb", "--json", HYBRIDIO_PROFILE=str(path))
    assert explained.returncode == 0, explained.stderr
    data = json.loads(explained.stdout)
    assert data["profile_source"] == str(path)
    assert data["thresholds"] == json.loads(json.dumps(profile.thresholds()))


# -- threshold rules on synthetic measurements ------------------------------------------------


def cell(
    engine: str, size: int, mb_s: float, stall_ms: float, cache: str = "warm", level: int = 1
) -> Cell:
    """A measured cell with the given throughput and median stall."""
    c = Cell(engine, cache, size, level)
    c.seconds = 1.0
    c.ops = max(1, round(mb_s * 1e6 / size))
    c.nbytes = int(mb_s * 1e6)
    c.stall_p50_ms = stall_ms
    c.stall_p90_ms = stall_ms * 2
    c.stall_max_ms = stall_ms * 4
    return c


FACTS: dict[str, Any] = {
    "budget_ms": 1.0,
    "eviction": "ok",
    "command": "python -m hybridio calibrate",
    "machine": {"system": "Linux", "release": "6.x", "machine": "x86_64", "cpus": 2},
    "filesystem": "ext4",
    "kernel_backend": "uring",
}


def grid(inline_stall: dict[int, float], kernel_stall: dict[int, float]) -> list[Cell]:
    """Inline/kernel/thread cells where inline is fastest unless told otherwise."""
    cells = []
    for size, stall in inline_stall.items():
        cells.append(cell("inline", size, 5000, stall))
    for size, stall in kernel_stall.items():
        cells.append(cell("kernel:uring", size, 2000, stall))
        cells.append(cell("kernel:uring", size, 1000, stall, cache="cold"))
        cells.append(cell("thread", size, 1000, 0.02))
    return cells


def test_inline_max_is_the_largest_size_within_budget() -> None:
    cells = grid({4 * KiB: 0.01, 64 * KiB: 0.05, MiB: 0.3, 4 * MiB: 1.5}, {4 * KiB: 0.01})
    profile, reasons = derive(cells, [], [], [], FACTS)
    assert profile.inline_max == MiB
    assert "1 MiB" in reasons["inline_max"]
    assert "4 MiB" in reasons["inline_max"]  # says what failed


def test_inline_max_stops_where_another_engine_is_faster() -> None:
    cells = grid({4 * KiB: 0.01, 64 * KiB: 0.05, MiB: 0.3}, {})
    cells.append(cell("thread", MiB, 9000, 0.02))
    profile, reasons = derive(cells, [], [], [], FACTS)
    assert profile.inline_max == 64 * KiB
    assert "thread" in reasons["inline_max"]


def test_inline_off_when_it_never_fits_or_never_ran() -> None:
    profile, reasons = derive(grid({4 * KiB: 2.0}, {}), [], [], [], FACTS)
    assert profile.inline_max == 0
    assert "off" in reasons["inline_max"]
    unavailable = Cell("inline", "warm", 4 * KiB, 1, note="inline reads unavailable: test")
    profile, reasons = derive([unavailable], [], [], [], FACTS)
    assert profile.inline_max == 0
    assert "unavailable: test" in reasons["inline_max"]
    assert profile.inline_batch_max == TuningProfile().inline_batch_max


def test_inline_batch_max_is_the_budget_worth_of_copying() -> None:
    cells = grid({64 * KiB: 0.05}, {})
    profile, _ = derive(cells, [], [], [], FACTS)
    # 5000 MB/s for 1 ms = 5 MB -> 4 MiB
    assert profile.inline_batch_max == 4 * MiB


def test_max_chunk_is_the_largest_request_within_budget() -> None:
    profile, reasons = derive(grid({}, {64 * KiB: 0.05, MiB: 0.5, 4 * MiB: 2.0}), [], [], [], FACTS)
    assert profile.max_chunk == MiB
    assert "4 MiB took 2.00 ms" in reasons["max_chunk"]


def test_max_chunk_uses_the_worse_of_warm_and_cold() -> None:
    cells = [
        cell("kernel:uring", 64 * KiB, 2000, 0.05),
        cell("kernel:uring", 64 * KiB, 900, 0.05, cache="cold"),
        cell("kernel:uring", MiB, 2000, 0.1),  # warm is fine...
        cell("kernel:uring", MiB, 900, 3.0, cache="cold"),  # ...cold blocks in the submit
    ]
    profile, reasons = derive(cells, [], [], [], FACTS)
    assert profile.max_chunk == 64 * KiB
    assert "1 MiB took 3.00 ms" in reasons["max_chunk"]


def test_max_chunk_when_every_size_is_over_budget() -> None:
    profile, reasons = derive(grid({}, {4 * KiB: 2.0, MiB: 9.0}), [], [], [], FACTS)
    assert profile.max_chunk == 4 * KiB
    assert "every" in reasons["max_chunk"]


def large(size: int, thread_mb_s: float, kernel_mb_s: float, kernel_stall: float) -> list[Cell]:
    """A thread/kernel-chunks pair for one whole-read size."""
    return [
        cell("kernel:uring chunked", size, kernel_mb_s, kernel_stall),
        cell("thread", size, thread_mb_s, 0.03),
    ]


def test_thread_read_min_where_one_pread_wins() -> None:
    rows = large(MiB, 1000, 2000, 0.3) + large(4 * MiB, 3000, 2000, 0.5)
    profile, reasons = derive([], rows, [], [], FACTS)
    assert profile.thread_read_min == 4 * MiB
    assert "3000 vs 2000" in reasons["thread_read_min"]


def test_thread_read_min_where_kernel_chunks_stall() -> None:
    rows = large(MiB, 1000, 2000, 0.3) + large(16 * MiB, 1000, 2000, 4.0)
    profile, reasons = derive([], rows, [], [], FACTS)
    assert profile.thread_read_min == 16 * MiB
    assert "held the loop" in reasons["thread_read_min"]


def test_thread_read_min_needs_warm_and_cold_to_agree() -> None:
    rows = large(MiB, 3000, 2000, 0.3)
    rows += [
        cell("kernel:uring chunked", MiB, 900, 0.3, cache="cold"),
        cell("thread", MiB, 800, 0.03, cache="cold"),
    ]
    rows += large(4 * MiB, 3000, 2000, 0.5)
    profile, _ = derive([], rows, [], [], FACTS)
    assert profile.thread_read_min == 4 * MiB


def test_thread_read_min_kept_when_kernel_always_wins() -> None:
    rows = large(MiB, 1000, 2000, 0.3) + large(4 * MiB, 1000, 2000, 0.5)
    profile, reasons = derive([], rows, [], [], FACTS)
    assert profile.thread_read_min == TuningProfile().thread_read_min
    assert "kept" in reasons["thread_read_min"]


def test_read_ahead_choices() -> None:
    rows = [
        cell("read-ahead", 64 * KiB, 1000, 0.01),
        cell("read-ahead", 128 * KiB, 1900, 0.01),
        cell("read-ahead", 256 * KiB, 2000, 0.01),
        cell("read-ahead", MiB, 1500, 0.01),
    ]
    profile, reasons = derive([], [], rows, [], FACTS)
    assert profile.sequential_read_ahead == 256 * KiB
    assert profile.read_ahead == 128 * KiB  # within 10% of the best, smaller
    assert "256 KiB" in reasons["sequential_read_ahead"]


def test_read_ahead_ignores_cold_numbers_when_eviction_failed() -> None:
    rows = [
        cell("read-ahead", 64 * KiB, 2000, 0.01),
        cell("read-ahead", MiB, 1000, 0.01),
        cell("read-ahead", 64 * KiB, 10, 0.01, cache="cold"),
        cell("read-ahead", MiB, 1000, 0.01, cache="cold"),
    ]
    assert derive([], [], rows, [], FACTS)[0].sequential_read_ahead == MiB
    failed = {**FACTS, "eviction": "POSIX_FADV_DONTNEED left 100% cached"}
    assert derive([], [], rows, [], failed)[0].sequential_read_ahead == 64 * KiB


def way(name: str, mb_s: float, level: int, cache: str = "cold") -> Cell:
    """One cell of the submission comparison."""
    return cell(f"submit-{name}", 4 * KiB, mb_s, 0.01, cache=cache, level=level)


def _ways(rates: dict[str, tuple[float, float]]) -> list[Cell]:
    # rates: way -> (depth 1, depth 64)
    return [
        way(w, r, lvl) for w, pair in rates.items() for lvl, r in zip((1, 64), pair, strict=True)
    ]


def test_submission_keeps_adaptive_unless_another_way_is_clearly_better() -> None:
    close = _ways({"adaptive": (100, 100), "immediate": (104, 103), "tick": (90, 105)})
    profile, reasons = derive([], [], [], close, FACTS)
    assert (profile.submit_mode, profile.sqpoll) == ("adaptive", False)
    assert "immediate 1." in reasons["submit_mode"]
    tick = _ways({"adaptive": (100, 100), "immediate": (100, 60), "tick": (95, 200)})
    assert derive([], [], [], tick, FACTS)[0].submit_mode == "tick"


def test_submission_never_picks_a_way_that_loses_badly_somewhere() -> None:
    # SQPOLL: 3x at depth 64 but half the speed of the best at depth 1.
    cells = _ways({"adaptive": (100, 100), "sqpoll": (50, 300)})
    profile, reasons = derive([], [], [], cells, FACTS)
    assert (profile.submit_mode, profile.sqpoll) == ("adaptive", False)
    assert "worst cell 0.50x" in reasons["sqpoll"]
    fine = _ways({"adaptive": (100, 100), "sqpoll": (95, 300)})
    profile = derive([], [], [], fine, FACTS)[0]
    assert (profile.submit_mode, profile.sqpoll) == ("immediate", True)


def test_submission_ignores_refused_sqpoll_and_quick_mode() -> None:
    cells = _ways({"adaptive": (100, 100), "sqpoll": (150, 300)})
    for c in cells:
        if c.engine == "submit-sqpoll":
            c.note = "the kernel did not grant SQPOLL"
    assert derive([], [], [], cells, FACTS)[0].sqpoll is False
    fine = _ways({"adaptive": (100, 100), "sqpoll": (150, 300)})
    assert derive([], [], [], fine, FACTS, quick=True)[0].sqpoll is False


def test_derived_profile_is_loadable(tmp_path: Path) -> None:
    cells = grid({4 * KiB: 0.01, MiB: 0.3}, {4 * KiB: 0.01, MiB: 0.4})
    rows = large(MiB, 1000, 2000, 0.3) + large(4 * MiB, 3000, 2000, 0.5)
    ra = [cell("read-ahead", 64 * KiB, 1000, 0.01), cell("read-ahead", MiB, 2000, 0.01)]
    profile, reasons = derive(cells, rows, ra, [], FACTS)
    expected = "python -m hybridio calibrate on Linux 6.x x86_64, 2 CPUs, ? GiB RAM, ext4"
    assert profile.origin == expected + ", kernel backend uring"
    assert profile.measurements["reasons"] == reasons
    profile.save(tmp_path / "p.json")
    again = load_profile(tmp_path / "p.json")
    assert again.thresholds() == profile.thresholds()
    assert again.measurements["cells"][0]["engine"] == "inline"


# -- the timing helpers ------------------------------------------------------------------------


def busy(seconds: float) -> None:
    """Hold the CPU (and so the loop) for at least *seconds*."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def test_timed_measures_the_longest_synchronous_step() -> None:
    async def op() -> str:
        busy(0.005)
        await asyncio.sleep(0.001)
        busy(0.001)
        return "done"

    timed = _Timed(op())
    assert await timed == "done"
    assert timed.suspended
    assert 0.005 <= timed.stall < 5.0


async def test_timed_without_suspension_and_with_errors() -> None:
    async def quick() -> int:
        return 7

    timed = _Timed(quick())
    assert await timed == 7
    assert not timed.suspended

    async def fails() -> None:
        await asyncio.sleep(0)
        raise OSError(5, "boom")

    with pytest.raises(OSError, match="boom"):
        await _Timed(fails())


async def test_timed_delivers_cancellation_into_the_coroutine() -> None:
    seen: list[str] = []

    async def op() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def run() -> None:
        await _Timed(op())

    task = asyncio.ensure_future(run())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert seen == ["cancelled"]


async def test_heartbeat_sees_a_stall() -> None:
    async with _Heartbeat() as beat:
        await asyncio.sleep(0.005)
        busy(0.02)
        await asyncio.sleep(0.005)
    assert beat.worst >= 0.015


def test_format_size() -> None:
    assert cal.format_size(4096) == "4 KiB"
    assert cal.format_size(1536) == "1.5 KiB"
    assert cal.format_size(4 << 20) == "4 MiB"
    assert cal.format_size(100) == "100 B"
    assert cal.format_size(3 << 30) == "3 GiB"


def test_submission_takes_a_sqpoll_ring_for_deep_queues_when_that_wins_without_losing() -> None:
    # SQPOLL alone loses shallow queues badly; a second SQPOLL ring past 16 in
    # flight keeps the shallow rate and takes the deep win.
    cells = _ways(
        {"adaptive": (100, 100), "sqpoll": (40, 250), "deep16": (98, 240), "immediate": (99, 90)}
    )
    profile, reasons = derive([], [], [], cells, FACTS)
    assert (profile.submit_mode, profile.sqpoll, profile.sqpoll_depth) == ("adaptive", False, 16)
    assert "deep16" in reasons["sqpoll_depth"]
