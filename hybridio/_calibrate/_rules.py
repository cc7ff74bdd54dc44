"""The thresholds of a calibrated profile, each decided by one rule.

A rule is a pure function of the measurements (lists of :class:`Cell` and a
few facts: the stall budget, whether eviction worked) that returns
``(value, reason)``: the threshold and the one line ``calibrate`` prints and
stores in ``measurements["reasons"]``.  No rule does I/O, so each is tested
on synthetic cells.  :func:`derive` applies them all and builds the profile.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, Final, NamedTuple, TypeAlias

from .._engines.threads import default_executor_size
from .._profile import TuningProfile
from ._cells import Cell, format_size

#: A loop stall budget: the most one operation may hold the event loop.
DEFAULT_BUDGET_MS: Final = 1.0
#: The percentile of per-operation stalls compared with the budget: on a
#: shared 2-vCPU VM the tail (p90, max) is dominated by the hypervisor and
#: the neighbours preempting us, whatever the request size.
STALL_PERCENTILE: Final = 50

_PCT: Final = f"p{STALL_PERCENTILE}"
_DEFAULT: Final = TuningProfile()


class Way(NamedTuple):
    """One way single io_uring reads can reach the kernel."""

    name: str
    submit_mode: str
    sqpoll: bool
    sqpoll_depth: int
    miss_sqpoll: bool = False


#: The ways calibrate compares.  With SQPOLL the kernel thread picks the SQEs
#: up itself, so the flush only wakes it: the mode does not matter there.
#: "deep16" is adaptive with a second, SQPOLL ring past 16 in flight: SQPOLL
#: for deep queues only.  "misses" is adaptive with that second ring for the
#: reads the page cache missed while another is in flight: the cold cells
#: (inline reads on) send it their misses, the warm ones (inline reads off,
#: as on a filesystem that refuses them) keep the plain ring.
SUBMISSIONS: Final = (
    Way("adaptive", "adaptive", False, 0),
    Way("immediate", "immediate", False, 0),
    Way("tick", "tick", False, 0),
    Way("sqpoll", "immediate", True, 0),
    Way("deep16", "adaptive", False, 16),
    Way("misses", "adaptive", False, 0, True),
)


# -- small helpers --------------------------------------------------------------------


def find(cells: Sequence[Cell], engine: str, cache: str, size: int, level: int = 1) -> Cell | None:
    """The cell measuring *engine* on *cache* data at *size* x *level*, if any."""
    for c in cells:
        if (c.engine, c.cache, c.size, c.concurrency) == (engine, cache, size, level):
            return c
    return None


def kernel_name(cells: Sequence[Cell]) -> str:
    """The kernel engine's cell name (``kernel:uring``, ...) in *cells*."""
    return next((c.engine for c in cells if c.engine.startswith("kernel:")), "kernel")


def pow2_floor(n: float) -> int:
    """The largest power of two <= *n* (1 below 1)."""
    return 1 << max(0, int(n).bit_length() - 1) if n >= 1 else 1


def geomean(values: Sequence[float]) -> float:
    """The geometric mean of *values* (each floored at 1e-9, so zero stays finite)."""
    product = 1.0
    for v in values:
        product *= max(v, 1e-9)
    return float(product ** (1 / len(values)))


# -- inline_max, inline_batch_max -------------------------------------------------------


def _inline_loses(c: Cell, cells: Sequence[Cell], budget: float) -> str:
    """Why a warm inline read of ``c.size`` should not be served inline ("" if it should)."""
    if c.stall_ms > budget:
        return f"took {c.stall_ms:.2f} ms ({_PCT})"
    names = (kernel_name(cells), "thread")
    rivals = [r for e in names if (r := find(cells, e, "warm", c.size)) and r.ops]
    rival = max(rivals, key=lambda r: r.mb_s, default=None)
    if rival is not None and rival.mb_s > c.mb_s:
        return f"ran {c.mb_s:.0f} MB/s inline vs {rival.mb_s:.0f} MB/s on {rival.engine}"
    return ""


def _inline_fits(
    cells: Sequence[Cell], budget: float
) -> tuple[list[Cell], tuple[Cell, str] | None]:
    """The warm inline cells that fit, smallest first, up to the first that does
    not; and that one with the reason (None when every size fits)."""
    inline = [c for c in cells if c.engine == "inline" and c.cache == "warm" and c.ops]
    fits: list[Cell] = []
    for c in sorted(inline, key=lambda c: c.size):
        why = _inline_loses(c, cells, budget)
        if why:
            return fits, (c, why)
        fits.append(c)
    return fits, None


def inline_max(cells: Sequence[Cell], budget: float) -> tuple[int, str]:
    """The largest size whose warm inline read stays within *budget* and is not
    slower than a kernel or thread read of the same size (past that point a
    thread serves it faster *and* leaves the loop free); 0 (off) when none is."""
    fits, beaten = _inline_fits(cells, budget)
    if fits:
        best = fits[-1]
        tail = (
            f"; {format_size(beaten[0].size)} {beaten[1]}"
            if beaten
            else " (the largest size measured)"
        )
        return best.size, (
            f"a cached {format_size(best.size)} inline read holds the loop "
            f"{best.stall_ms:.3f} ms ({_PCT}) at {best.mb_s:.0f} MB/s{tail}"
        )
    if beaten is not None:
        return 0, f"already at {format_size(beaten[0].size)} the inline read {beaten[1]}: off"
    note = next((c.note for c in cells if c.engine == "inline" and c.note), "")
    return 0, f"inline reads do not work here ({note or 'no data'}): off"


def inline_batch_max(cells: Sequence[Cell], budget: float) -> tuple[int, str]:
    """The bytes one batch may serve inline within *budget*: the best inline
    copy rate times the budget, rounded down to a power of two (at least
    :func:`inline_max`)."""
    fits, _ = _inline_fits(cells, budget)
    if not fits:
        return _DEFAULT.inline_batch_max, "inline reads are off: kept the default"
    fast = max(fits, key=lambda c: c.mb_s)
    batch = pow2_floor(fast.mb_s * 1e6 * budget / 1e3)
    return max(batch, fits[-1].size), (
        f"inline reads copy {fast.mb_s:.0f} MB/s at best, so {budget:g} ms serves "
        f"~{format_size(int(fast.mb_s * 1e3 * budget))}; rounded down to a power of two"
    )


# -- max_chunk ------------------------------------------------------------------------


def _kernel_stalls(cells: Sequence[Cell], kname: str) -> list[tuple[int, float]]:
    """(size, the worse of the warm and cold stall) for each measured kernel size."""
    per_size = []
    for size in sorted({c.size for c in cells}):
        pair = [find(cells, kname, cache, size) for cache in ("warm", "cold")]
        got = [c for c in pair if c is not None and c.ops]
        if got:
            per_size.append((size, max(c.stall_ms for c in got)))
    return per_size


def max_chunk(cells: Sequence[Cell], budget: float) -> tuple[int, str]:
    """The largest kernel request whose submission stays within *budget*, warm
    (io_uring copies cached pages inside the submit) and cold (Linux AIO reads
    a buffered fd inside io_submit)."""
    kname = kernel_name(cells)
    per_size = _kernel_stalls(cells, kname)
    ok = [(s, st) for s, st in per_size if st <= budget]
    if ok:
        size, stall = max(ok)
        over = [(s, st) for s, st in per_size if s > size]
        tail = (
            f"; {format_size(over[0][0])} took {over[0][1]:.2f} ms"
            if over
            else " (the largest size measured)"
        )
        return size, (
            f"a {format_size(size)} {kname} request holds the loop {stall:.3f} ms "
            f"({_PCT}, warm or cold, whichever is worse){tail}"
        )
    if per_size:
        smallest = per_size[0][0]
        return smallest, (
            f"every {kname} request size exceeded the {budget:g} ms budget; "
            f"the smallest measured, {format_size(smallest)}, bounds the damage"
        )
    return _DEFAULT.max_chunk, "no kernel measurements: kept the default"


# -- thread_read_min --------------------------------------------------------------------

#: size -> cache -> {"thread": cell, "kernel": cell}, only where both were measured.
_Pairs: TypeAlias = dict[int, dict[str, dict[str, Cell]]]


def _large_pairs(large: Sequence[Cell], eviction_ok: bool) -> _Pairs:
    """The whole-read cells paired by size and cache (cold only where eviction worked)."""
    by_size: _Pairs = {}
    for c in large:
        if c.ops and (c.cache == "warm" or eviction_ok):
            kind = "thread" if c.engine == "thread" else "kernel"
            by_size.setdefault(c.size, {}).setdefault(c.cache, {})[kind] = c
    return {
        size: {cache: p for cache, p in caches.items() if "thread" in p and "kernel" in p}
        for size, caches in by_size.items()
    }


def _thread_wins(pairs: dict[str, dict[str, Cell]], budget: float) -> str:
    """Why one thread pread should serve this size ("" when kernel chunks should)."""
    stalled = [p["kernel"] for p in pairs.values() if p["kernel"].stall_ms > budget]
    if stalled:
        return f"kernel chunks held the loop {stalled[0].stall_ms:.2f} ms ({_PCT})"
    if pairs and all(p["thread"].mb_s >= p["kernel"].mb_s for p in pairs.values()):
        what = ", ".join(
            f"{cache} {p['thread'].mb_s:.0f} vs {p['kernel'].mb_s:.0f} MB/s"
            for cache, p in pairs.items()
        )
        return f"one thread pread beat {format_size(_DEFAULT.max_chunk)} kernel chunks ({what})"
    return ""


def thread_read_min(large: Sequence[Cell], budget: float, eviction_ok: bool) -> tuple[int, str]:
    """The smallest whole read where ONE thread pread is at least as fast as
    kernel chunks (warm and cold agreeing), or where the chunked path stalls
    the loop past *budget*."""
    by_size = _large_pairs(large, eviction_ok)
    for size in sorted(by_size):
        why = _thread_wins(by_size[size], budget)
        if why:
            return size, f"at {format_size(size)} {why}"
    if not by_size:
        return _DEFAULT.thread_read_min, "no large-read measurements: kept the default"
    top = max(by_size)
    kept = max(_DEFAULT.thread_read_min, top * 2)
    return kept, (
        f"kernel chunks were faster up to {format_size(top)} (the largest measured); "
        f"kept {format_size(kept)} so whole-file reads still leave the loop"
    )


# -- read_ahead, sequential_read_ahead ------------------------------------------------

#: A read-ahead within this factor of the best sequential throughput counts as
#: "as fast"; the smallest such buffer wastes least when a seek discards it.
READ_AHEAD_TOLERANCE: Final = 0.90


def _read_ahead_scores(cells: Sequence[Cell], eviction_ok: bool) -> tuple[dict[int, float], str]:
    """Buffer size -> sequential MB/s, the geometric mean of warm and cold (a
    buffer must be good at both; cold only where eviction worked), and what
    the score is made of."""
    rates: dict[int, list[float]] = {}
    for c in cells:
        if c.ops and (c.cache == "warm" or eviction_ok):
            rates.setdefault(c.size, []).append(c.mb_s)
    both = any(len(v) > 1 for v in rates.values())
    what = "warm and cold, geometric mean" if both else "warm"
    return {size: geomean(v) for size, v in rates.items()}, what


def sequential_read_ahead(cells: Sequence[Cell], eviction_ok: bool) -> tuple[int, str]:
    """The buffer with the best sequential stream throughput."""
    score, what = _read_ahead_scores(cells, eviction_ok)
    if not score:
        return _DEFAULT.sequential_read_ahead, "no read-ahead measurements: kept the default"
    best = max(score, key=lambda s: score[s])
    return best, (
        f"{format_size(best)} gave the best sequential throughput "
        f"({score[best]:.0f} MB/s, {what}) among "
        f"{format_size(min(score))}-{format_size(max(score))}"
    )


def read_ahead(cells: Sequence[Cell], eviction_ok: bool) -> tuple[int, str]:
    """The smallest buffer within READ_AHEAD_TOLERANCE of the best sequential
    throughput: as fast, and a seek discards less."""
    score, _ = _read_ahead_scores(cells, eviction_ok)
    if not score:
        return _DEFAULT.read_ahead, "no read-ahead measurements: kept the default"
    best = max(score.values())
    good = min(s for s in score if score[s] >= READ_AHEAD_TOLERANCE * best)
    return good, (
        f"the smallest buffer within {1 - READ_AHEAD_TOLERANCE:.0%} of the best "
        f"sequential throughput ({score[good]:.0f} MB/s): a seek discards less"
    )


# -- submit_mode, sqpoll, sqpoll_depth, miss_sqpoll ----------------------------------------

#: How much faster (geometric mean) another way of submitting must be than
#: "adaptive" before the profile picks it ...
SUBMIT_MARGIN: Final = 1.10
#: ... and reach this share of adaptive's rate in every measured cell: a way
#: that wins deep queues but loses shallow ones (SQPOLL alone lost a warm
#: single read 4x in one calibration here, 0.84x in the next) is not taken.
SUBMIT_FLOOR: Final = 0.90


def _submission_scores(cells: Sequence[Cell]) -> tuple[int, dict[str, tuple[float, float]]]:
    """(cells compared, way -> (geometric mean, worst cell) against adaptive),
    over the (cache, concurrency) cells every way measured; (0, {}) when
    there is no such cell or no adaptive one."""
    by_way: dict[str, dict[tuple[str, int], float]] = {}
    for c in cells:
        if c.note or c.mb_s <= 0 or not c.engine.startswith("submit-"):
            continue
        by_way.setdefault(c.engine.removeprefix("submit-"), {})[(c.cache, c.concurrency)] = c.mb_s
    keys = set.intersection(*(set(v) for v in by_way.values())) if by_way else set()
    if not keys or "adaptive" not in by_way:
        return 0, {}
    base = by_way["adaptive"]
    scores = {}
    for way, rates in by_way.items():
        ratios = [rates[k] / base[k] for k in keys]
        scores[way] = (math.exp(sum(map(math.log, ratios)) / len(ratios)), min(ratios))
    return len(keys), scores


def _pick_way(scores: dict[str, tuple[float, float]]) -> str:
    """The best way by geometric mean among those at SUBMIT_FLOOR or better in
    every cell, if it beats adaptive by SUBMIT_MARGIN; else adaptive."""
    fair = {w: gmean for w, (gmean, worst) in scores.items() if worst >= SUBMIT_FLOOR}
    best = max(fair, key=lambda w: fair[w], default="adaptive")
    return best if fair.get(best, 0.0) >= SUBMIT_MARGIN else "adaptive"


def submission(cells: Sequence[Cell], not_measured: str, quick: bool) -> tuple[Way, str]:
    """How single io_uring reads are submitted: "adaptive", unless another way's
    geometric mean against it over the measured cells is at least
    SUBMIT_MARGIN and it reaches SUBMIT_FLOOR of adaptive's rate in every
    cell (then the best such way).  *not_measured* says why *cells* may be
    empty."""
    keep = Way("default", _DEFAULT.submit_mode, False, _DEFAULT.sqpoll_depth, _DEFAULT.miss_sqpoll)
    if quick:
        return keep, "not measured in --quick mode: kept the default"
    if not cells:
        return keep, f"{not_measured}: kept the default"
    count, scores = _submission_scores(cells)
    if not count:
        return keep, "no complete set of measurements: kept the default"
    pick = _pick_way(scores)
    detail = ", ".join(
        f"{w} {g:.2f}x (worst cell {x:.2f}x)"
        for w, (g, x) in sorted(scores.items())
        if w != "adaptive"
    )
    return next(w for w in SUBMISSIONS if w.name == pick), (
        f"4 KiB reads against adaptive, geometric mean over {count} cells: {detail}; "
        f"another way needs >= {SUBMIT_MARGIN:.2f}x and no cell below {SUBMIT_FLOOR:.2f}x: {pick}"
    )


# -- sqpoll_read_min -----------------------------------------------------------------------

#: How much faster warm reads in company must be on the SQPOLL ring than inline
#: before reads of that size (and every larger measured one) go there ...
CROWD_MARGIN: Final = 1.10
#: ... and the share of inline's rate they must keep with every other CPU
#: busy: the SQPOLL thread then takes a core the application wanted (zarr's
#: warm reads ran 2.9x slower with it here, its decoding on the other core).
CROWD_BUSY_FLOOR: Final = 0.95
#: The cells: warm reads of each size, this many in flight, served inline
#: ("crowd-inline") or sent to the SQPOLL ring ("crowd-sqpoll"), each also
#: with the other CPUs busy ("...-busy").
CROWD_LEVEL: Final = 16


def _crowd_ratios(cells: Sequence[Cell], suffix: str) -> dict[int, float]:
    """size -> SQPOLL ring rate / inline rate, over the crowd cells named with *suffix*."""
    rates: dict[str, dict[int, float]] = {"inline": {}, "sqpoll": {}}
    for c in cells:
        for way, seen in rates.items():
            if c.engine == f"crowd-{way}{suffix}" and not c.note and c.mb_s > 0:
                seen[c.size] = c.mb_s
    inline, ring = rates["inline"], rates["sqpoll"]
    return {size: ring[size] / inline[size] for size in sorted(set(inline) & set(ring))}


def sqpoll_read_min(cells: Sequence[Cell], not_measured: str, quick: bool) -> tuple[int, str]:
    """The smallest measured size from which every larger measured size read
    CROWD_MARGIN faster on the SQPOLL ring than inline, with company, and
    kept CROWD_BUSY_FLOOR of inline's rate with the other CPUs busy; 0
    (never) when the largest does not.  *not_measured* says why *cells* may
    hold none."""
    if quick:
        return _DEFAULT.sqpoll_read_min, "not measured in --quick mode: kept the default"
    idle, busy = _crowd_ratios(cells, ""), _crowd_ratios(cells, "-busy")
    sizes = sorted(set(idle) & set(busy))
    if not sizes:
        return _DEFAULT.sqpoll_read_min, f"{not_measured}: kept the default"
    pick = 0
    for size in reversed(sizes):
        if idle[size] < CROWD_MARGIN or busy[size] < CROWD_BUSY_FLOOR:
            break
        pick = size
    detail = ", ".join(f"{format_size(s)} {idle[s]:.2f}x ({busy[s]:.2f}x busy)" for s in sizes)
    chosen = format_size(pick) if pick else "never (0)"
    return pick, (
        f"warm reads, {CROWD_LEVEL} in flight, on the SQPOLL ring against inline, idle "
        f"(and with the other CPUs busy): {detail}; from the smallest size where it and every "
        f"larger one gain >= {CROWD_MARGIN:.2f}x and keep >= {CROWD_BUSY_FLOOR:.2f}x busy: "
        f"{chosen} (with miss_sqpoll on)"
    )


# -- thread_pool_size, and the profile --------------------------------------------------


def thread_pool_size(default_threads: int) -> tuple[int, str]:
    """Not measured: 0, Python's default pool size (*default_threads* here)."""
    return 0, f"not measured: Python's default pool size ({default_threads} threads here)"


def _origin(facts: dict[str, Any]) -> str:
    """The profile's origin line: the command and the machine it ran on."""
    machine = facts.get("machine", {})
    summary = (
        f"{machine.get('system', '?')} {machine.get('release', '?')} "
        f"{machine.get('machine', '')}, {machine.get('cpus', '?')} CPUs, "
        f"{machine.get('memory_gib', '?')} GiB RAM, {facts.get('filesystem', 'unknown')}, "
        f"kernel backend {facts.get('kernel_backend', '?')}"
    )
    return f"{facts.get('command', 'python -m hybridio calibrate')} on {summary}"


def decide(
    cells: Sequence[Cell],
    large: Sequence[Cell],
    read_ahead_cells: Sequence[Cell],
    submission_cells: Sequence[Cell],
    facts: dict[str, Any],
    quick: bool,
) -> dict[str, tuple[Any, str]]:
    """Every calibrated threshold: field name -> (value, reason)."""
    budget = float(facts.get("budget_ms", DEFAULT_BUDGET_MS))
    eviction_ok = facts.get("eviction") == "ok"
    way, why = submission(submission_cells, facts.get("submission", "not measured"), quick)
    return {
        "inline_max": inline_max(cells, budget),
        "inline_batch_max": inline_batch_max(cells, budget),
        "max_chunk": max_chunk(cells, budget),
        "thread_read_min": thread_read_min(large, budget, eviction_ok),
        "sequential_read_ahead": sequential_read_ahead(read_ahead_cells, eviction_ok),
        "read_ahead": read_ahead(read_ahead_cells, eviction_ok),
        "submit_mode": (way.submit_mode, why),
        "sqpoll": (way.sqpoll, why),
        "sqpoll_depth": (way.sqpoll_depth, why),
        "miss_sqpoll": (way.miss_sqpoll, why),
        "sqpoll_read_min": sqpoll_read_min(
            submission_cells, facts.get("sqpoll", facts.get("submission", "not measured")), quick
        ),
        "thread_pool_size": thread_pool_size(default_executor_size()),
    }


def derive(
    cells: Sequence[Cell],
    large: Sequence[Cell],
    read_ahead_cells: Sequence[Cell],
    submission_cells: Sequence[Cell],
    facts: dict[str, Any],
    *,
    quick: bool = False,
) -> tuple[TuningProfile, dict[str, str]]:
    """The thresholds the measurements support, each with a one-line reason."""
    decided = decide(cells, large, read_ahead_cells, submission_cells, facts, quick)
    reasons = {name: reason for name, (_, reason) in decided.items()}
    measurements = {
        **facts,
        "reasons": dict(reasons),
        "cells": [c.to_dict() for c in cells],
        "large_reads": [c.to_dict() for c in large],
        "read_ahead": [c.to_dict() for c in read_ahead_cells],
        "submission_cells": [c.to_dict() for c in submission_cells],
    }
    values = {name: value for name, (value, _) in decided.items()}
    profile = dataclasses.replace(
        _DEFAULT, source="calibrate", origin=_origin(facts), measurements=measurements, **values
    )
    return profile, reasons
