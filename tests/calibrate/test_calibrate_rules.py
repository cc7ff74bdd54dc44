"""The calibration rules, one by one, on synthetic measurements (no I/O, no loop).

Each rule of ``hybridio._calibrate._rules`` decides one threshold from lists
of cells and returns ``(value, reason)``; these tests pin each rule's edges:
where it stops, which measurements it ignores, and what it keeps when it has
nothing to go on.
"""

from __future__ import annotations

import pytest

from hybridio import TuningProfile
from hybridio._calibrate import _rules as rules
from hybridio._calibrate._cells import Cell, percentile

KiB = 1024
MiB = 1 << 20
DEFAULT = TuningProfile()


def measured(
    engine: str,
    size: int,
    mb_s: float,
    stall_ms: float = 0.01,
    *,
    cache: str = "warm",
    level: int = 1,
    ops: int | None = None,
) -> Cell:
    """A cell that ran at *mb_s* with a median stall of *stall_ms* (the tail 10x worse)."""
    c = Cell(engine, cache, size, level)
    c.seconds = 1.0
    c.ops = max(1, round(mb_s * 1e6 / size)) if ops is None else ops
    c.nbytes = int(mb_s * 1e6)
    c.stall_p50_ms = stall_ms
    c.stall_p90_ms = c.stall_max_ms = stall_ms * 10
    return c


# -- helpers ------------------------------------------------------------------------


def test_percentile_is_the_nearest_rank() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([3.0], 90) == 3.0
    samples = [5.0, 1.0, 4.0, 2.0, 3.0]  # unsorted on purpose
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 50) == 3.0
    assert percentile(samples, 100) == 5.0
    assert percentile([float(i) for i in range(11)], 90) == 9.0
    assert percentile([float(i) for i in range(10)], 90) == 8.0  # rank round(0.9 x 9)


def test_cell_record_keeps_the_median_tail_and_max_in_ms() -> None:
    c = Cell("thread", "warm", 4 * KiB, 1)
    c.record(5, 2.0, [0.001, 0.005, 0.002, 0.004, 0.003], 0.010)
    assert (c.ops, c.seconds) == (5, 2.0)
    assert c.stall_ms == c.stall_p50_ms == pytest.approx(3.0)
    assert c.stall_p90_ms == pytest.approx(5.0)
    assert c.stall_max_ms == pytest.approx(5.0)
    assert c.lag_max_ms == pytest.approx(10.0)
    assert c.mb_s == pytest.approx(5 * 4096 / 2.0 / 1e6)
    c.nbytes = 0  # an inline cell that only missed delivered nothing
    assert c.mb_s == 0.0


def test_pow2_floor_and_geomean() -> None:
    assert [rules.pow2_floor(n) for n in (0, 0.5, 1, 3, 1023.9, 1024, 5e6)] == [
        1,
        1,
        1,
        2,
        512,
        1024,
        4 * MiB,
    ]
    assert rules.geomean([4.0, 9.0]) == pytest.approx(6.0)
    assert rules.geomean([7.0]) == pytest.approx(7.0)
    assert 0 < rules.geomean([0.0, 100.0]) < 1e-2  # a zero rate drags it down, finitely


def test_find_and_kernel_name() -> None:
    cells = [
        measured("kernel:linux", 4 * KiB, 100, level=4),
        measured("kernel:linux", 4 * KiB, 200),
        measured("thread", 4 * KiB, 300, cache="cold"),
    ]
    assert rules.kernel_name(cells) == "kernel:linux"
    assert rules.kernel_name([]) == "kernel"
    found = rules.find(cells, "kernel:linux", "warm", 4 * KiB)
    assert found is cells[1]
    assert rules.find(cells, "kernel:linux", "warm", 4 * KiB, 4) is cells[0]
    assert rules.find(cells, "thread", "warm", 4 * KiB) is None


# -- inline_max -------------------------------------------------------------------------


def test_inline_max_takes_every_size_when_all_fit() -> None:
    cells = [measured("inline", s, 5000, 0.1) for s in (MiB, 4 * KiB, 64 * KiB)]
    value, reason = rules.inline_max(cells, 1.0)
    assert value == MiB
    assert reason.endswith("(the largest size measured)")
    assert "1 MiB" in reason


def test_inline_max_compares_the_median_with_the_budget_inclusively() -> None:
    # The tail (10x the median here) is not what is compared.
    at_budget = [measured("inline", 4 * KiB, 5000, 1.0), measured("inline", MiB, 5000, 1.01)]
    value, reason = rules.inline_max(at_budget, 1.0)
    assert value == 4 * KiB
    assert "1 MiB took 1.01 ms (p50)" in reason


def test_inline_max_stops_at_the_first_size_that_fails() -> None:
    # 1 MiB would fit again, but past a failing size nothing larger is taken.
    cells = [
        measured("inline", 4 * KiB, 5000, 0.01),
        measured("inline", 64 * KiB, 5000, 2.0),
        measured("inline", MiB, 5000, 0.3),
    ]
    assert rules.inline_max(cells, 1.0)[0] == 4 * KiB


def test_inline_max_stops_where_a_rival_is_strictly_faster() -> None:
    base = [measured("inline", 4 * KiB, 3000), measured("inline", 64 * KiB, 3000)]
    equal = [*base, measured("kernel:uring", 64 * KiB, 3000)]
    assert rules.inline_max(equal, 1.0)[0] == 64 * KiB  # a tie keeps inline
    faster = [*base, measured("kernel:uring", 64 * KiB, 3001)]
    value, reason = rules.inline_max(faster, 1.0)
    assert value == 4 * KiB
    assert "vs 3001 MB/s on kernel:uring" in reason


def test_inline_max_ignores_cold_rivals_and_cells_that_never_ran() -> None:
    cells = [
        measured("inline", 4 * KiB, 3000),
        measured("inline", 64 * KiB, 3000),
        measured("thread", 64 * KiB, 9000, cache="cold"),  # a cold rival is no rival
        measured("thread", 4 * KiB, 9000, ops=0),  # nor one that did nothing
        measured("inline", MiB, 9000, cache="cold"),  # cold inline cells do not count
        measured("inline", 4 * MiB, 9000, ops=0),
    ]
    assert rules.inline_max(cells, 1.0)[0] == 64 * KiB


def test_inline_max_is_off_when_the_smallest_size_fails() -> None:
    cells = [measured("inline", 4 * KiB, 500), measured("thread", 4 * KiB, 900)]
    value, reason = rules.inline_max(cells, 1.0)
    assert value == 0
    assert reason.startswith("already at 4 KiB the inline read ran 500 MB/s inline")
    assert reason.endswith(": off")


def test_inline_max_is_off_when_inline_reads_did_not_run() -> None:
    assert rules.inline_max([], 1.0) == (0, "inline reads do not work here (no data): off")
    refused = Cell("inline", "warm", 4 * KiB, 1, note="inline reads unavailable: tmpfs")
    value, reason = rules.inline_max([refused], 1.0)
    assert value == 0
    assert "(inline reads unavailable: tmpfs)" in reason


# -- inline_batch_max ----------------------------------------------------------------


def test_inline_batch_max_is_a_budget_of_the_best_fitting_copy_rate() -> None:
    cells = [
        measured("inline", 4 * KiB, 1000),
        measured("inline", 64 * KiB, 3000),
        measured("inline", MiB, 9000, 5.0),  # faster but over budget: not counted
    ]
    value, reason = rules.inline_batch_max(cells, 1.0)
    assert value == 2 * MiB  # 3000 MB/s x 1 ms = 3 MB -> 2 MiB
    assert "3000 MB/s" in reason
    assert rules.inline_batch_max(cells, 0.5)[0] == MiB  # 1.5 MB -> 1 MiB


def test_inline_batch_max_is_at_least_inline_max() -> None:
    cells = [measured("inline", MiB, 100)]  # 100 MB/s x 1 ms = 100 kB
    assert rules.inline_batch_max(cells, 1.0)[0] == MiB


def test_inline_batch_max_keeps_the_default_when_inline_is_off() -> None:
    off = [measured("inline", 4 * KiB, 5000, 3.0)]
    assert rules.inline_batch_max(off, 1.0) == (
        DEFAULT.inline_batch_max,
        "inline reads are off: kept the default",
    )


# -- max_chunk ------------------------------------------------------------------------


def kernel(size: int, warm_ms: float, cold_ms: float, name: str = "kernel:uring") -> list[Cell]:
    return [
        measured(name, size, 2000, warm_ms),
        measured(name, size, 900, cold_ms, cache="cold"),
    ]


def test_max_chunk_takes_the_worse_of_warm_and_cold() -> None:
    cells = kernel(64 * KiB, 0.05, 0.1) + kernel(MiB, 0.2, 1.5) + kernel(4 * MiB, 1.2, 0.5)
    value, reason = rules.max_chunk(cells, 1.0)
    assert value == 64 * KiB
    assert "0.100 ms" in reason  # the cold one, the worse
    assert reason.endswith("; 1 MiB took 1.50 ms")


def test_max_chunk_is_the_largest_size_within_budget_past_a_smaller_one_over_it() -> None:
    cells = kernel(4 * KiB, 2.0, 0.1) + kernel(64 * KiB, 0.2, 0.3) + kernel(MiB, 0.9, 1.5)
    value, reason = rules.max_chunk(cells, 1.0)
    assert value == 64 * KiB
    assert reason.endswith("; 1 MiB took 1.50 ms")  # what failed above it, not below


def test_max_chunk_budget_is_inclusive_and_only_kernel_cells_count() -> None:
    cells = kernel(64 * KiB, 0.05, 0.1) + kernel(MiB, 1.0, 1.0)
    cells.append(measured("thread", 4 * MiB, 900, 0.01))  # not a kernel request
    cells.append(measured("inline", 4 * MiB, 900, 0.01))
    value, reason = rules.max_chunk(cells, 1.0)
    assert value == MiB
    assert reason.endswith("(the largest size measured)")


def test_max_chunk_uses_the_backend_measured_and_ignores_empty_cells() -> None:
    cells = kernel(4 * KiB, 0.01, 0.01, "kernel:linux")
    cells.append(measured("kernel:linux", MiB, 900, 0.01, ops=0))
    value, reason = rules.max_chunk(cells, 1.0)
    assert value == 4 * KiB
    assert "kernel:linux request" in reason


def test_max_chunk_when_every_size_is_over_budget_or_nothing_was_measured() -> None:
    value, reason = rules.max_chunk(kernel(MiB, 3.0, 3.0) + kernel(4 * KiB, 2.0, 0.1), 1.0)
    assert value == 4 * KiB
    assert "every kernel:uring request size exceeded the 1 ms budget" in reason
    assert rules.max_chunk([], 1.0) == (
        DEFAULT.max_chunk,
        "no kernel measurements: kept the default",
    )


# -- thread_read_min --------------------------------------------------------------------


def whole(
    size: int, thread: float, chunks: float, stall: float = 0.1, cache: str = "warm"
) -> list[Cell]:
    return [
        measured("kernel:uring chunked", size, chunks, stall, cache=cache),
        measured("thread", size, thread, cache=cache),
    ]


def test_thread_read_min_is_the_first_size_where_one_pread_is_as_fast() -> None:
    rows = whole(MiB, 1999, 2000) + whole(4 * MiB, 2000, 2000) + whole(16 * MiB, 9000, 2000)
    value, reason = rules.thread_read_min(rows, 1.0, True)
    assert value == 4 * MiB  # a tie goes to the thread: it leaves the loop free
    assert reason == "at 4 MiB one thread pread beat 1 MiB kernel chunks (warm 2000 vs 2000 MB/s)"


def test_thread_read_min_where_kernel_chunks_stall_the_loop() -> None:
    rows = whole(MiB, 1000, 2000, stall=1.0) + whole(4 * MiB, 1000, 2000, stall=1.5)
    value, reason = rules.thread_read_min(rows, 1.0, True)
    assert value == 4 * MiB
    assert reason == "at 4 MiB kernel chunks held the loop 1.50 ms (p50)"


def test_thread_read_min_needs_warm_and_cold_to_agree_when_eviction_worked() -> None:
    rows = whole(MiB, 3000, 2000) + whole(MiB, 800, 900, cache="cold")
    rows += whole(4 * MiB, 3000, 2000) + whole(4 * MiB, 950, 900, cache="cold")
    value, reason = rules.thread_read_min(rows, 1.0, True)
    assert value == 4 * MiB
    assert "(warm 3000 vs 2000 MB/s, cold 950 vs 900 MB/s)" in reason
    # When eviction failed the cold numbers are warm ones in disguise: ignored.
    assert rules.thread_read_min(rows, 1.0, False)[0] == MiB


def test_thread_read_min_skips_sizes_without_both_measurements() -> None:
    rows = [measured("thread", MiB, 9000)]  # no kernel counterpart
    rows += [
        measured("kernel:uring chunked", 4 * MiB, 100),
        measured("thread", 4 * MiB, 9000, ops=0),
    ]
    rows += whole(16 * MiB, 3000, 2000)
    assert rules.thread_read_min(rows, 1.0, True)[0] == 16 * MiB


def test_thread_read_min_when_the_kernel_always_wins_or_nothing_was_measured() -> None:
    rows = whole(MiB, 1000, 2000) + whole(4 * MiB, 1000, 2000)
    value, reason = rules.thread_read_min(rows, 1.0, True)
    assert value == max(DEFAULT.thread_read_min, 8 * MiB)
    assert reason.startswith("kernel chunks were faster up to 4 MiB (the largest measured)")
    top = whole(256 * MiB, 1000, 2000)
    assert rules.thread_read_min(top, 1.0, True)[0] == 512 * MiB  # past the largest one
    assert rules.thread_read_min([], 1.0, True) == (
        DEFAULT.thread_read_min,
        "no large-read measurements: kept the default",
    )


# -- sequential_read_ahead, read_ahead ------------------------------------------------


def buffers(rates: dict[int, float], cache: str = "warm") -> list[Cell]:
    return [measured("read-ahead", size, mb_s, cache=cache) for size, mb_s in rates.items()]


def test_sequential_read_ahead_is_the_fastest_buffer() -> None:
    rows = buffers({64 * KiB: 1000, 256 * KiB: 2100, 128 * KiB: 2000, MiB: 1500})
    value, reason = rules.sequential_read_ahead(rows, True)
    assert value == 256 * KiB
    assert reason == (
        "256 KiB gave the best sequential throughput (2100 MB/s, warm) among 64 KiB-1 MiB"
    )


def test_read_ahead_is_the_smallest_buffer_within_tolerance_of_the_best() -> None:
    rows = buffers({64 * KiB: 1799, 128 * KiB: 1850, 256 * KiB: 2000, MiB: 1990})
    value, reason = rules.read_ahead(rows, True)
    assert value == 128 * KiB  # 1850 >= 0.9 x 2000; 1799 is not
    assert "within 10% of the best" in reason
    assert "(1850 MB/s)" in reason


def test_read_ahead_scores_warm_and_cold_by_their_geometric_mean() -> None:
    # 64 KiB: warm 4000, cold 100 -> 632; 1 MiB: 1000 and 1000 -> 1000.
    rows = buffers({64 * KiB: 4000, MiB: 1000}) + buffers({64 * KiB: 100, MiB: 1000}, "cold")
    value, reason = rules.sequential_read_ahead(rows, True)
    assert value == MiB
    assert "warm and cold, geometric mean" in reason
    assert rules.read_ahead(rows, True)[0] == MiB
    # Eviction failed: the cold cells are ignored and warm alone decides.
    assert rules.sequential_read_ahead(rows, False)[0] == 64 * KiB
    assert rules.read_ahead(rows, False)[0] == 64 * KiB


def test_read_ahead_keeps_the_defaults_without_measurements() -> None:
    empty = buffers({64 * KiB: 1000})
    empty[0].ops = 0
    for rule, default in (
        (rules.read_ahead, DEFAULT.read_ahead),
        (rules.sequential_read_ahead, DEFAULT.sequential_read_ahead),
    ):
        assert rule(empty, True) == (default, "no read-ahead measurements: kept the default")


# -- submission -----------------------------------------------------------------------


def ways(rates: dict[str, tuple[float, ...]], levels: tuple[int, ...] = (1, 64)) -> list[Cell]:
    """way -> its rate at each level (cold)."""
    return [
        measured(f"submit-{way}", 4 * KiB, rate, cache="cold", level=level)
        for way, row in rates.items()
        for level, rate in zip(levels, row, strict=True)
    ]


def test_submission_needs_the_margin_on_the_geometric_mean() -> None:
    below = ways({"adaptive": (100, 100), "tick": (109, 109)})
    way, reason = rules.submission(below, "", False)
    assert way.name == "adaptive"
    assert reason.endswith("no cell below 0.90x: adaptive")
    above = ways({"adaptive": (100, 100), "tick": (111, 111)})
    way, reason = rules.submission(above, "", False)
    assert (way.name, way.submit_mode, way.sqpoll, way.sqpoll_depth) == ("tick", "tick", False, 0)
    assert "tick 1.11x (worst cell 1.11x)" in reason
    assert "over 2 cells" in reason


def test_submission_needs_the_floor_in_every_cell() -> None:
    # sqpoll: 4x at depth 64, 0.89x at depth 1: never taken, however large its mean.
    unfair = ways({"adaptive": (100, 100), "sqpoll": (89, 400)})
    assert rules.submission(unfair, "", False)[0].name == "adaptive"
    fair = ways({"adaptive": (100, 100), "sqpoll": (91, 400)})
    way = rules.submission(fair, "", False)[0]
    assert (way.submit_mode, way.sqpoll, way.sqpoll_depth) == ("immediate", True, 0)


def test_submission_takes_the_best_fair_way_past_an_unfair_better_one() -> None:
    cells = ways(
        {"adaptive": (100, 100), "sqpoll": (50, 900), "deep16": (99, 200), "tick": (100, 130)}
    )
    way, reason = rules.submission(cells, "", False)
    assert (way.name, way.submit_mode, way.sqpoll_depth) == ("deep16", "adaptive", 16)
    assert "sqpoll 2.12x (worst cell 0.50x)" in reason


def test_submission_can_send_only_the_misses_to_sqpoll() -> None:
    # SQPOLL alone loses the lone read; the misses way keeps it on the plain ring.
    cells = ways({"adaptive": (100, 100), "sqpoll": (80, 170), "misses": (98, 160)})
    way, reason = rules.submission(cells, "", False)
    assert way == ("misses", "adaptive", False, 0, True)
    assert "misses 1.25x (worst cell 0.98x)" in reason
    profile = TuningProfile(
        **{k: v for k, (v, _) in rules.decide([], [], [], cells, {}, quick=False).items()}
    )
    assert profile.miss_sqpoll and not profile.sqpoll and profile.sqpoll_depth == 0


def test_submission_compares_only_the_cells_every_way_measured() -> None:
    # tick is 2x at depth 64 but did not measure depth 1; compared at depth 64 only.
    cells = ways({"adaptive": (100, 100)}) + ways({"tick": (200,)}, levels=(64,))
    way, reason = rules.submission(cells, "", False)
    assert way.name == "tick"
    assert "over 1 cells" in reason


def test_submission_ignores_cells_with_a_note_or_no_throughput() -> None:
    cells = ways({"adaptive": (100, 100), "sqpoll": (300, 300), "tick": (0, 0)})
    for c in cells:
        if c.engine == "submit-sqpoll":
            c.note = "the kernel did not grant SQPOLL"
    way, reason = rules.submission(cells, "", False)
    assert way.name == "adaptive"
    assert "sqpoll" not in reason
    assert "tick" not in reason


def test_submission_keeps_the_default_without_a_comparison() -> None:
    kept = rules.Way(
        "default", DEFAULT.submit_mode, False, DEFAULT.sqpoll_depth, DEFAULT.miss_sqpoll
    )
    some = ways({"adaptive": (100, 100), "sqpoll": (300, 300)})
    assert rules.submission(some, "", True) == (
        kept,
        "not measured in --quick mode: kept the default",
    )
    why = "not measured: the kernel backend is linux, not io_uring"
    assert rules.submission([], why, False) == (kept, f"{why}: kept the default")
    no_base = ways({"tick": (300, 300), "sqpoll": (300, 300)})
    assert rules.submission(no_base, "", False) == (
        kept,
        "no complete set of measurements: kept the default",
    )
    disjoint = ways({"adaptive": (100,)}, levels=(1,)) + ways({"tick": (300,)}, levels=(64,))
    assert rules.submission(disjoint, "", False)[1].startswith("no complete set")


def test_submission_measured_adaptive_is_the_plain_ring() -> None:
    cells = ways({"adaptive": (100, 100), "tick": (100, 100)})
    way = rules.submission(cells, "", False)[0]
    assert way == ("adaptive", "adaptive", False, 0, False)


# -- sqpoll_read_min -----------------------------------------------------------------


def crowd(
    rates: dict[int, tuple[float, float]], busy: dict[int, tuple[float, float]] | None = None
) -> list[Cell]:
    """crowd-inline / crowd-sqpoll cells: size -> (inline MB/s, SQPOLL MB/s),
    idle and with the other CPUs *busy* (default: SQPOLL level with inline)."""
    cells = []
    busy = busy if busy is not None else dict.fromkeys(rates, (100, 100))
    for suffix, table in (("", rates), ("-busy", busy)):
        for size, pair in table.items():
            names = (f"crowd-inline{suffix}", f"crowd-sqpoll{suffix}")
            for name, mb_s in zip(names, pair, strict=True):
                cell = Cell(name, "warm", size, rules.CROWD_LEVEL)
                cell.ops, cell.seconds = int(mb_s * 1e6 / size), 1.0
                cells.append(cell)
    return cells


def test_sqpoll_read_min_is_where_every_larger_size_gains() -> None:
    cells = crowd(
        {16 * KiB: (100, 40), 64 * KiB: (100, 125), 256 * KiB: (100, 118), MiB: (100, 111)}
    )
    value, reason = rules.sqpoll_read_min(cells, "", False)
    assert value == 64 * KiB
    assert "16 KiB 0.40x (1.00x busy), 64 KiB 1.25x (1.00x busy)" in reason
    assert "256 KiB 1.18x (1.00x busy), 1 MiB 1.11x (1.00x busy)" in reason
    assert reason.endswith("64 KiB (with miss_sqpoll on)")


def test_sqpoll_read_min_is_not_taken_where_it_loses_with_the_cpus_busy() -> None:
    # Idle, 64 KiB gains; with the other CPUs busy it loses (the SQPOLL thread
    # takes a core): the pick moves above it, or to never.
    idle = {64 * KiB: (100, 130), MiB: (100, 130)}
    value, reason = rules.sqpoll_read_min(
        crowd(idle, {64 * KiB: (100, 60), MiB: (100, 97)}), "", False
    )
    assert value == MiB and "64 KiB 1.30x (0.60x busy)" in reason
    value, reason = rules.sqpoll_read_min(
        crowd(idle, {64 * KiB: (100, 99), MiB: (100, 50)}), "", False
    )
    assert value == 0 and "never (0)" in reason


def test_sqpoll_read_min_needs_the_larger_sizes_to_gain_too() -> None:
    # A gain at 64 KiB alone is not taken when 256 KiB loses: the pick is above it.
    cells = crowd({64 * KiB: (100, 130), 256 * KiB: (100, 105), MiB: (100, 120)})
    assert rules.sqpoll_read_min(cells, "", False)[0] == MiB
    losing = crowd({64 * KiB: (100, 130), MiB: (100, 109)})
    value, reason = rules.sqpoll_read_min(losing, "", False)
    assert value == 0 and "never (0)" in reason


def test_sqpoll_read_min_ignores_submission_cells_and_noted_ones() -> None:
    cells = crowd({64 * KiB: (100, 150), MiB: (100, 150)})
    for c in cells:
        if c.engine == "crowd-sqpoll" and c.size == MiB:
            c.note = "the kernel did not grant SQPOLL"
    cells += ways({"adaptive": (100, 100), "sqpoll": (300, 300)})
    value, reason = rules.sqpoll_read_min(cells, "", False)
    assert value == 64 * KiB and "1 MiB" not in reason
    # ... and the submission rule ignores the crowd cells.
    assert "crowd" not in rules.submission(cells, "", False)[1]


def test_sqpoll_read_min_keeps_the_default_unmeasured() -> None:
    cells = crowd({64 * KiB: (100, 150)})
    assert rules.sqpoll_read_min(cells, "", True) == (
        DEFAULT.sqpoll_read_min,
        "not measured in --quick mode: kept the default",
    )
    why = "not measured: the kernel does not allow SQPOLL here"
    assert rules.sqpoll_read_min([], why, False) == (
        DEFAULT.sqpoll_read_min,
        f"{why}: kept the default",
    )
    decided = rules.decide([], [], [], [], {"sqpoll": why}, quick=False)
    assert decided["sqpoll_read_min"][1] == f"{why}: kept the default"


# -- thread_pool_size, and the whole set ----------------------------------------------


def test_thread_pool_size_is_not_measured() -> None:
    assert rules.thread_pool_size(6) == (
        0,
        "not measured: Python's default pool size (6 threads here)",
    )


def test_decide_answers_every_calibrated_field_with_a_reason() -> None:
    decided = rules.decide([], [], [], [], {}, quick=False)
    assert set(decided) == {
        "inline_max",
        "inline_batch_max",
        "max_chunk",
        "thread_read_min",
        "sequential_read_ahead",
        "read_ahead",
        "submit_mode",
        "sqpoll",
        "sqpoll_depth",
        "miss_sqpoll",
        "sqpoll_read_min",
        "thread_pool_size",
    }
    assert set(decided) <= set(DEFAULT.thresholds())
    for name, (value, reason) in decided.items():
        assert reason, name
        assert isinstance(value, type(getattr(DEFAULT, name))), name
    # One decision sets the four submission fields, with one reason.
    reasons = {decided[k][1] for k in ("submit_mode", "sqpoll", "sqpoll_depth", "miss_sqpoll")}
    assert len(reasons) == 1
    assert decided["submit_mode"][1] == "not measured: kept the default"


def test_decide_passes_the_budget_and_eviction_facts_to_the_rules() -> None:
    cells = [measured("inline", 4 * KiB, 5000, 0.4), measured("inline", 64 * KiB, 5000, 0.6)]
    rows = whole(MiB, 3000, 2000) + whole(MiB, 100, 900, cache="cold")
    loose = rules.decide(cells, rows, [], [], {"budget_ms": 1.0, "eviction": "ok"}, quick=False)
    tight = rules.decide(cells, rows, [], [], {"budget_ms": 0.5}, quick=False)
    assert (loose["inline_max"][0], tight["inline_max"][0]) == (64 * KiB, 4 * KiB)
    assert loose["thread_read_min"][0] != MiB  # the cold pair disagrees
    assert tight["thread_read_min"][0] == MiB  # no eviction fact: cold ignored
    assert rules.decide(cells, [], [], [], {}, quick=False)["inline_max"][0] == 64 * KiB
