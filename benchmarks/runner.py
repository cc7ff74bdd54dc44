"""The measurement method.

For each workload: one warm-up repetition (not recorded), then ``reps``
repetitions.  Within a repetition every applicable adapter -- the blocking
baseline included -- runs once, in an order rotated by one each repetition, so
slow drift of a shared, noisy machine hits every adapter alike.  Per cell we
record the rate, the CPU time of the process (``time.process_time``: all
threads, so thread pools count; kernel io_uring/AIO workers do not) and the
lateness of a 1 ms heartbeat task (the event-loop stall).

Ratios are medians of *per-repetition* ratios (adapter rate / other rate within
the same repetition), not ratios of medians.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.adapters import Adapter, Unavailable, Unsupported
from benchmarks.workloads import Cell, Config, Workload

__all__ = ("Heartbeat", "RunCell", "run_all", "summarize")

HEARTBEAT = 0.001


class Heartbeat:
    """A task that sleeps 1 ms at a time and records how late it wakes up."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._due = 0.0

    async def _beat(self) -> None:
        clock = time.perf_counter
        while True:
            self._due = clock() + HEARTBEAT
            await asyncio.sleep(HEARTBEAT)
            self.samples.append(max(0.0, clock() - self._due))

    async def start(self) -> None:
        self.samples = []
        self._task = asyncio.create_task(self._beat())
        await asyncio.sleep(0)  # let it take its first timestamp

    def stop(self) -> None:
        # A workload that never yields never lets the heartbeat run: count the
        # pending beat's lateness so a blocking workload shows its full stall.
        late = time.perf_counter() - self._due
        if late > 0:
            self.samples.append(late)
        if self._task is not None:
            self._task.cancel()
            self._task = None


class RunCell(Cell):
    def __init__(self, cap: float, budget: float) -> None:
        self.cap = cap
        self.budget = budget  # time-boxed workloads: run this long
        self.ops = 0
        self.nbytes = 0
        self.completed = 1.0
        self.backends = set()
        self.extra = {}
        self.hb = Heartbeat()
        self.t0 = self.t1 = 0.0
        self.cpu = 0.0
        self._cpu0 = 0.0
        self.started = self.stopped = False

    async def start(self) -> None:
        await self.hb.start()
        self._cpu0 = time.process_time()
        self.t0 = time.perf_counter()
        self.started = True

    def stop(self) -> None:
        self.t1 = time.perf_counter()
        self.cpu = time.process_time() - self._cpu0
        self.hb.stop()
        self.stopped = True

    def elapsed(self) -> float:
        return (self.t1 if self.stopped else time.perf_counter()) - self.t0

    def expired(self, budget: float | None = None) -> bool:
        limit = self.budget if budget is None else budget
        return time.perf_counter() - self.t0 >= limit


def _p99(samples: list[float]) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class CellResult:
    """Everything recorded for one (workload, adapter) pair."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self.status = "ok"
        self.reason = ""
        self.rates: dict[int, float] = {}
        self.cpu_us: list[float] = []
        self.stall_max: list[float] = []
        self.stall_samples: list[float] = []
        self.completed: list[float] = []
        self.backends: set[str] = set()
        self.extra: dict[str, list[Any]] = {}
        self.engine: dict[str, int] | None = None
        self.seconds = 0.0


def _engine_note(e: dict[str, int]) -> str:
    """'inline 97%, kernel 3%' from hybridio's per-file counters."""
    total = e.get("inline_ops", 0) + e.get("kernel_ops", 0) + e.get("thread_ops", 0)
    if not total:
        return ""
    parts = []
    for key, name in (("inline_ops", "inline"), ("kernel_ops", "kernel"), ("thread_ops", "thread")):
        if e.get(key):
            parts.append(f"{name} {e[key] / total:.0%}")
    return ", ".join(parts)


def _backend_label(adapter: Adapter, served: set[str], engine: dict[str, int] | None = None) -> str:
    served_s = "+".join(sorted(served)) or "?"
    if (
        engine
        and engine.get("inline_ops")
        and not (engine.get("kernel_ops") or engine.get("thread_ops"))
    ):
        # The file names its backend, but every operation was a page-cache hit
        # served inline: the backend itself was never reached.
        served_s += ", all inline"
    forced = getattr(adapter, "forced", None)
    strategy = getattr(adapter, "strategy", None)
    if adapter.library == "hybridio":
        if adapter.batched:
            return f"hybridio read_many [{served_s}]"
        if strategy is not None:
            return f"hybridio strategy={strategy} [{served_s}]"
        submit = getattr(adapter, "submit", None)
        if submit is not None:
            return f"hybridio submit={submit} [{served_s}]"
        if forced is None:
            return f"hybridio auto [{served_s}]"
        if served == {forced}:
            return f"hybridio [{served_s}]"
        return f"hybridio (asked {forced}, served by {served_s})"
    return adapter.name


async def _run_cell(workload: Workload, adapter: Adapter, cfg: Config, time_boxed: bool) -> RunCell:
    cap = cfg.cap * workload.cap_factor
    cell = RunCell(cap=cap, budget=cfg.cell_time if time_boxed else cap)
    await workload.before_cell(cell)
    await asyncio.wait_for(workload.run(adapter, cell), timeout=cap + cfg.cell_time + 60)
    if not cell.stopped:
        raise RuntimeError("workload did not stop its timer")
    return cell


async def run_all(
    adapters: list[Adapter],
    workloads: list[Workload],
    cfg: Config,
    progress: Callable[[str], None],
) -> dict[str, dict[str, CellResult]]:
    """Run every workload; return ``{workload key: {adapter name: CellResult}}``."""
    results: dict[str, dict[str, CellResult]] = {}
    usable: list[Adapter] = []
    unavailable: dict[str, str] = {}
    for a in adapters:
        try:
            a.check()
            await a.setup()
            usable.append(a)
        except Unavailable as exc:
            unavailable[a.name] = str(exc)
            progress(f"skip {a.name}: {exc}")

    try:
        for wi, w in enumerate(workloads, 1):
            table: dict[str, CellResult] = {}
            results[w.key] = table
            active: list[Adapter] = []
            for a in adapters:
                r = table[a.name] = CellResult(a)
                if a.name in unavailable:
                    r.status, r.reason = "skipped", unavailable[a.name]
                    continue
                why = w.applies(a)
                if why is not None:
                    r.status, r.reason = "n/a", why
                    continue
                active.append(a)
            time_boxed = w.key.startswith(("rand", "cold"))
            total = cfg.warmup + cfg.reps
            t_w = time.perf_counter()
            for rep in range(total):
                measured = rep >= cfg.warmup
                shift = rep % max(1, len(active))
                order = active[shift:] + active[:shift]
                for a in order:
                    r = table[a.name]
                    if r.status != "ok":
                        continue
                    tag = f"[{wi}/{len(workloads)}] {w.key} rep {rep + 1 - cfg.warmup}/{cfg.reps}"
                    if not measured:
                        tag = f"[{wi}/{len(workloads)}] {w.key} warm-up"
                    t_c = time.perf_counter()
                    a.take_stats()  # forget files opened outside the cell
                    try:
                        cell = await _run_cell(w, a, cfg, time_boxed)
                    except Unsupported as exc:
                        r.status, r.reason = "n/a", str(exc)
                        progress(f"{tag} {a.name}: n/a ({exc})")
                        continue
                    except Unavailable as exc:
                        r.status, r.reason = "skipped", str(exc)
                        progress(f"{tag} {a.name}: skipped ({exc})")
                        continue
                    except Exception as exc:  # includes TimeoutError from wait_for
                        r.status = "error"
                        r.reason = f"{type(exc).__name__}: {exc}"[:300]
                        progress(f"{tag} {a.name}: ERROR {r.reason}")
                        continue
                    r.seconds += time.perf_counter() - t_c
                    r.backends |= cell.backends
                    engine = a.take_stats()
                    if not measured:
                        continue
                    if engine is not None:
                        r.engine = r.engine or dict.fromkeys(engine, 0)
                        for k, v in engine.items():
                            r.engine[k] = r.engine.get(k, 0) + v
                    rate = w.rate(cell)
                    r.rates[rep] = rate
                    r.cpu_us.append(cell.cpu / max(cell.ops, 1) * 1e6)
                    r.stall_max.append(max(cell.hb.samples, default=0.0))
                    r.stall_samples.extend(cell.hb.samples)
                    r.completed.append(cell.completed)
                    for k, v in cell.extra.items():
                        r.extra.setdefault(k, []).append(v)
                    done = "" if cell.completed >= 1 else f" ({cell.completed:.0%} done, capped)"
                    progress(f"{tag} {a.name:<24} {rate:>12,.1f} {w.unit}{done}")
            for r in table.values():
                if r.status == "ok" and not r.rates:
                    r.status, r.reason = "error", r.reason or "no measurement"
            progress(f"[{wi}/{len(workloads)}] {w.key} done in {time.perf_counter() - t_w:.1f} s")
    finally:
        for a in usable:
            try:
                await a.teardown()
            except Exception as exc:  # pragma: no cover - best effort
                progress(f"teardown {a.name}: {exc}")
    return results


def _median_ratio(a: dict[int, float], b: dict[int, float]) -> float | None:
    common = [rep for rep in a if rep in b and b[rep] > 0]
    if not common:
        return None
    return statistics.median(a[rep] / b[rep] for rep in common)


def _best_peer(
    table: dict[str, CellResult], subject: str, pool: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The peer of *pool* that *subject* compares worst against side by side
    (lowest median per-repetition ratio); the highest median rate if *subject*
    has no measurement."""
    ranked: list[tuple[float, dict[str, Any]]] = []
    if subject in table and table[subject].status == "ok":
        for p in pool:
            x = _median_ratio(table[subject].rates, table[p["adapter"]].rates)
            if x is not None:
                ranked.append((x, p))
    if ranked:
        return min(ranked, key=lambda t: t[0])[1]
    return max(pool, key=lambda row: row["median"], default=None)


def summarize(
    workloads: list[Workload], results: dict[str, dict[str, CellResult]]
) -> list[dict[str, Any]]:
    """JSON-ready per-workload summaries (rows, ratios, best peer)."""
    out: list[dict[str, Any]] = []
    for w in workloads:
        table = results.get(w.key, {})
        base = next((r for r in table.values() if r.adapter.role == "baseline"), None)
        base_rates = base.rates if base is not None and base.status == "ok" else {}
        rows: list[dict[str, Any]] = []
        for name, r in table.items():
            row: dict[str, Any] = {
                "adapter": name,
                "library": r.adapter.library,
                "role": r.adapter.role,
                "status": r.status,
                "reason": r.reason,
            }
            if r.status == "ok":
                rates = [r.rates[k] for k in sorted(r.rates)]
                stalls = r.stall_samples
                row.update(
                    {
                        "label": _backend_label(r.adapter, r.backends, r.engine),
                        "served_by": sorted(r.backends),
                        "rates": rates,
                        "median": statistics.median(rates),
                        "min": min(rates),
                        "max": max(rates),
                        "cpu_us_per_op": statistics.median(r.cpu_us),
                        "stall_max_ms": max(r.stall_max) * 1e3,
                        "stall_p99_ms": _p99(stalls) * 1e3,
                        "completed": min(r.completed),
                        "ratio_to_baseline": _median_ratio(r.rates, base_rates),
                        "seconds": round(r.seconds, 2),
                    }
                )
                for k, v in r.extra.items():
                    row[k] = v
                if r.engine is not None:
                    row["engine_ops"] = r.engine
                    row["served_note"] = _engine_note(r.engine)
            row["batched"] = r.adapter.batched
            rows.append(row)
        ok = {row["adapter"]: row for row in rows if row["status"] == "ok"}
        peers = [row for row in ok.values() if row["role"] == "peer"]
        single = [p for p in peers if not p["batched"]]

        # hybridio's single calls are judged against peers making single calls
        # too; read_many against every peer, batched ones included.
        best_peer = _best_peer(table, "hybridio", single)
        best_any = _best_peer(table, "hybridio read_many", peers)
        comparisons: dict[str, Any] = {}
        for subject, best in (("hybridio", best_peer), ("hybridio read_many", best_any)):
            if subject not in ok:
                continue
            sr = table[subject].rates
            comparisons[subject] = {
                "vs_baseline": _median_ratio(sr, base_rates),
                "best_peer": best["adapter"] if best else None,
                "vs_best_peer": (_median_ratio(sr, table[best["adapter"]].rates) if best else None),
                "vs": {p["adapter"]: _median_ratio(sr, table[p["adapter"]].rates) for p in peers},
                # AUTO against hybridio's own forced choices (issue: AUTO must
                # never be much slower than the best of them).
                "vs_forced": {
                    name: _median_ratio(sr, table[name].rates)
                    for name, row in ok.items()
                    if row["role"] == "hybridio" and name.startswith(("hybridio strategy=",))
                },
            }
        out.append(
            {
                "key": w.key,
                "title": w.title,
                "unit": w.unit,
                "description": w.description,
                "best_peer": best_peer["adapter"] if best_peer else None,
                "best_peer_any": best_any["adapter"] if best_any else None,
                "comparisons": comparisons,
                "results": rows,
            }
        )
    return out
