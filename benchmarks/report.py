"""Terminal table, JSON, Markdown report and PNG plots."""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ("markdown", "plots", "terminal", "write_json")

PEER_ORDER = (
    "aiofiles",
    "aiofile uring",
    "aiofile linux",
    "aiofile thread",
    "aiomisc.io",
    "anyio",
    "caio uring (raw)",
    "caio uring (raw, no SQPOLL)",
    "caio uring (raw, no SQPOLL, per-tick flush)",
    "urio",
    "turbofile",
    "obstore",
    "obstore get_ranges_async",
)


def fmt_rate(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e4:
        return f"{x / 1e3:.0f}k"
    if x >= 1e3:
        return f"{x / 1e3:.2f}k"
    if x >= 10:
        return f"{x:.0f}"
    return f"{x:.2f}"


def fmt_ratio(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.0f}x"
    if x >= 10:
        return f"{x:.1f}x"
    return f"{x:.2f}x"


def fmt_ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def _row_cells(row: dict[str, Any]) -> list[str]:
    if row["status"] != "ok":
        status = "not available" if row["status"] == "skipped" else row["status"]
        return [row["adapter"], status, "", "", "", "", "", row["reason"]]
    note = ""
    if row["completed"] < 1:
        note = f"capped: {row['completed']:.0%} of the job done in the time cap"
    res_b = row.get("residency_before")
    res_a = row.get("residency_after")
    if res_a:
        known_b = [x for x in res_b or [] if x is not None]
        known_a = [x for x in res_a if x is not None]
        if known_a:
            note = f"cached before {max(known_b, default=0):.1%} / after {max(known_a):.1%}" + (
                f"; {note}" if note else ""
            )
        else:
            note = "residency unknown" + (f"; {note}" if note else "")
    served = "+".join(row["served_by"])
    if row.get("served_note"):
        served += f" ({row['served_note']})"
    return [
        row["label"],
        served,
        fmt_rate(row["median"]),
        f"{fmt_rate(row['min'])}-{fmt_rate(row['max'])}",
        fmt_ratio(row["ratio_to_baseline"]),
        f"{row['cpu_us_per_op']:.1f}",
        f"{fmt_ms(row['stall_max_ms'])} / {fmt_ms(row['stall_p99_ms'])}",
        note,
    ]


ROW_HEAD = [
    "adapter",
    "served by",
    "median",
    "min-max",
    "x baseline",
    "CPU us/op",
    "stall max / p99 ms",
    "note",
]


def _headline_rows(summary: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    present: list[str] = []
    for w in summary:
        comp = w["comparisons"].get("hybridio", {})
        for name in comp.get("vs", {}):
            if name not in present:
                present.append(name)
    peers = [p for p in PEER_ORDER if p in present] + [p for p in present if p not in PEER_ORDER]
    head = ["workload", "unit", "hybridio", "stall ms", "x baseline", "x best peer"]
    head += [f"x {p}" for p in peers]
    rows: list[list[str]] = []
    for w in summary:
        ok = {r["adapter"]: r for r in w["results"] if r["status"] == "ok"}
        comp = w["comparisons"].get("hybridio")
        if comp is None:
            h = next((r for r in w["results"] if r["adapter"] == "hybridio"), None)
            why = h["reason"] if h else "not run"
            rows.append(
                [w["key"], w["unit"], f"({h['status'] if h else 'n/a'}: {why})"]
                + [""] * (3 + len(peers))
            )
            continue
        best = w["best_peer"]
        best_s = f"{fmt_ratio(comp['vs_best_peer'])} ({best})" if best else "-"
        rows.append(
            [
                w["key"],
                w["unit"],
                fmt_rate(ok["hybridio"]["median"]),
                fmt_ms(ok["hybridio"]["stall_max_ms"]),
                fmt_ratio(comp["vs_baseline"]),
                best_s,
            ]
            + [fmt_ratio(comp["vs"].get(p)) for p in peers]
        )
    return head, rows


def _text_table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows, strict=False)]
    widths = [min(w, 60) for w in widths]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c)[:60].ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    def esc(c: str) -> str:
        return str(c).replace("|", "\\|")

    out = ["| " + " | ".join(esc(h) for h in head) + " |"]
    out.append("|" + "|".join("---" for _ in head) + "|")
    out.extend("| " + " | ".join(esc(c) for c in r) + " |" for r in rows)
    return "\n".join(out)


def _not_applicable(w: dict[str, Any]) -> str:
    by_reason: dict[str, list[str]] = {}
    for r in w["results"]:
        if r["status"] == "n/a":
            by_reason.setdefault(r["reason"], []).append(r["adapter"])
    return "; ".join(f"{', '.join(names)} ({why})" for why, names in by_reason.items())


def terminal(doc: dict[str, Any]) -> str:
    parts: list[str] = []
    for w in doc["workloads"]:
        parts.append(f"\n== {w['key']}: {w['title']} ({w['unit']}) ==")
        rows = [_row_cells(r) for r in w["results"] if r["status"] == "ok"]
        rows += [_row_cells(r) for r in w["results"] if r["status"] in ("error", "skipped")]
        parts.append(_text_table(ROW_HEAD, rows))
        na = _not_applicable(w)
        if na:
            parts.append("not applicable: " + na)
    if doc.get("unavailable"):
        parts.append("\nadapters that could not run:")
        parts.extend(f"  {k}: {v}" for k, v in doc["unavailable"].items())
    head, rows = _headline_rows(doc["workloads"])
    parts.append("\n== hybridio (AUTO) vs baseline and peers: median of per-repetition ratios ==")
    parts.append("   (>1 = hybridio faster)")
    parts.append(_text_table(head, rows))
    sweep = _sweep_rows(doc)
    if sweep is not None:
        parts.append(
            "\n== kernel path: depth sweep (hybridio against the baseline and the best peer) =="
        )
        parts.append(_text_table(*sweep))
        parts.extend(f"   {line}" for line in _missing_peers(doc))
    return "\n".join(parts) + "\n"


def _missing_peers(doc: dict[str, Any]) -> list[str]:
    """'not available: reason' for every peer that could not run at all."""
    roles = {a["name"]: a["role"] for a in doc.get("adapters", [])}
    return [
        f"{name}: not available: {why}"
        for name, why in (doc.get("unavailable") or {}).items()
        if roles.get(name, "peer") == "peer"
    ]


def _sweep_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    """The kernel-path sweep: per row, hybridio against the baseline and the best
    single-call peer (named), and read_many against the best peer of all."""
    keys = doc.get("kernel_sweep") or []
    by_key = {w["key"]: w for w in doc["workloads"]}
    present = [by_key[k] for k in keys if k in by_key]
    if not present:
        return None
    head = [
        "workload",
        "unit",
        "hybridio",
        "x baseline",
        "best single-call peer",
        "its rate",
        "hybridio x best peer",
        "read_many x baseline",
        "read_many x best peer (of all)",
    ]
    rows: list[list[str]] = []
    for w in present:
        ok = {r["adapter"]: r for r in w["results"] if r["status"] == "ok"}
        comp = w["comparisons"].get("hybridio")
        best = w.get("best_peer")
        row = [w["key"], w["unit"]]
        if comp is None:
            h = next((r for r in w["results"] if r["adapter"] == "hybridio"), None)
            row += [f"({h['status'] if h else 'n/a'}: {h['reason'] if h else 'not run'})", "-"]
        else:
            row += [fmt_rate(ok["hybridio"]["median"]), fmt_ratio(comp["vs_baseline"])]
        row += [
            best or "-",
            fmt_rate(ok[best]["median"]) if best in ok else "-",
            fmt_ratio(comp["vs_best_peer"]) if comp else "-",
        ]
        rm = w["comparisons"].get("hybridio read_many")
        if rm is None:
            row += ["-", "-"]
        else:
            row += [
                fmt_ratio(rm["vs_baseline"]),
                f"{fmt_ratio(rm['vs_best_peer'])} ({rm['best_peer']})" if rm["best_peer"] else "-",
            ]
        rows.append(row)
    return head, rows


def write_json(doc: dict[str, Any], path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=False, default=str)
        f.write("\n")
    os.replace(tmp, path)


def _ratio_named(comp: dict[str, Any]) -> str:
    best = comp.get("best_peer")
    return f"{fmt_ratio(comp['vs_best_peer'])} ({best})" if best else "-"


def _ahead_lines(summary: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for w in summary:
        comp = w["comparisons"].get("hybridio")
        if not comp:
            continue
        ahead = [(p, x) for p, x in comp["vs"].items() if x is not None and x < 0.95]
        if ahead:
            who = ", ".join(f"{p} ({1 / x:.2f}x hybridio)" for p, x in sorted(ahead))
            lines.append(f"- **{w['key']}**: {who}")
        if comp["vs_baseline"] is not None and comp["vs_baseline"] < 0.5:
            lines.append(
                f"- **{w['key']}**: hybridio reaches {comp['vs_baseline']:.0%} of the "
                "blocking baseline"
            )
    return lines


def _forced_section(summary: list[dict[str, Any]]) -> list[str]:
    """AUTO against hybridio forced to one strategy, per workload."""
    rows: list[list[str]] = []
    names: list[str] = []
    for w in summary:
        forced = (w["comparisons"].get("hybridio") or {}).get("vs_forced") or {}
        for name in forced:
            if name not in names:
                names.append(name)
    if not names:
        return []
    for w in summary:
        forced = (w["comparisons"].get("hybridio") or {}).get("vs_forced") or {}
        ratios = [forced.get(n) for n in names]
        known = [x for x in ratios if x is not None]
        if not known:
            continue
        worst = min(known)
        if worst >= 1.0:
            verdict = "faster than every forced strategy"
        elif worst >= 0.9:
            verdict = "within 10% of the best"
        else:
            verdict = f"**{1 / worst:.2f}x slower than the best**"
        rows.append([w["key"], *(fmt_ratio(x) for x in ratios), verdict])
    head = ["workload", *(f"AUTO / {n.removeprefix('hybridio ')}" for n in names), "verdict"]
    return [
        "## AUTO against forced strategies",
        "",
        "Median per-repetition ratio of hybridio AUTO to hybridio forced to one engine "
        "(`strategy=`); above 1 means AUTO is faster. Forced strategies that cannot serve "
        "a workload (the kernel engine for gzip) have no entry.",
        "",
        _md_table(head, rows),
        "",
    ]


def _backends_fact(value: Any) -> str:
    if not isinstance(value, list):
        return str(value)
    parts = []
    for b in value:
        state = "available" if b["available"] else f"unavailable: {b['reason']}"
        parts.append(f"{b['name']} ({state}{', selected' if b.get('selected') else ''})")
    return ", ".join(parts)


def _profile_fact(value: Any) -> str:
    if not isinstance(value, dict):
        return str(value)
    th = ", ".join(f"{k}={v}" for k, v in value.get("thresholds", {}).items())
    return f"`{value.get('source')}` ({value.get('origin')}): {th}"


def markdown(doc: dict[str, Any], img_rel: str | None, plot_note: str) -> str:
    m = doc["machine"]
    cfg = doc["config"]
    libs = ", ".join(f"{k} {v or '(not installed)'}" for k, v in m["libraries"].items())
    fs = m["filesystem"]
    out: list[str] = [
        "# Benchmarks: hybridio against the libraries users would pick instead",
        "",
        "<!-- Generated by `python -m benchmarks`; do not edit by hand, re-run `make bench`. -->",
        "",
        f"Produced by `{doc['command']}` on {doc['started']} ({doc['duration_s']:.0f} s).",
        "",
        "## Machine",
        "",
        _md_table(
            ["fact", "value"],
            [
                ["kernel", m["kernel"]],
                ["CPU", f"{m['cpu_count']} x {m['cpu_model']} (affinity {m['cpu_affinity']})"],
                ["memory", f"{m['memory_mib']} MiB"],
                ["python", f"{m['python_implementation']} {m['python']}"],
                ["event loop", m["event_loop"]],
                ["libraries", libs],
                ["data directory", f"`{m['data_dir']}` on {fs['type']} ({fs['device']})"],
                ["io_uring_disabled sysctl", str(m["io_uring_disabled_sysctl"])],
                ["hybridio kernel backends", _backends_fact(m.get("hybridio_backends"))],
                ["hybridio tuning profile", _profile_fact(m.get("hybridio_profile"))],
                [
                    "caio io_uring contexts use SQPOLL by default",
                    str(m.get("caio_uring_sqpoll_default")),
                ],
            ],
        ),
        "",
        "The machine is a shared, noisy VM: treat differences under ~20% as noise; the "
        "min-max columns below show the spread.",
        "",
        "## Headline: hybridio (AUTO) against the baseline and each peer",
        "",
        "Each cell is the median over repetitions of (hybridio rate / other rate) measured "
        "in the same repetition; **> 1 means hybridio is faster**. *stall ms* is hybridio's "
        "worst event-loop stall during the workload. The baseline is the "
        "plain blocking call made directly in the coroutine (it stalls the event loop for "
        "the whole job -- see the stall columns).",
        "",
    ]
    head, rows = _headline_rows(doc["workloads"])
    out += [_md_table(head, rows), ""]
    out += [
        "*x best peer* names the fastest peer making single calls; batched calls "
        "(obstore's `get_ranges_async`) are set against `read_many` below.",
        "",
    ]
    missing = _missing_peers(doc)
    if missing:
        out += ["Not measured here:", "", *(f"- {m}" for m in missing), ""]
    rm = [w for w in doc["workloads"] if "hybridio read_many" in w["comparisons"]]
    if rm:
        out += ["Batched `read_many` (one call for all requests in flight):", ""]
        out.append(
            _md_table(
                ["workload", "x baseline", "x best peer (batched peers included)"],
                [
                    [
                        w["key"],
                        fmt_ratio(w["comparisons"]["hybridio read_many"]["vs_baseline"]),
                        _ratio_named(w["comparisons"]["hybridio read_many"]),
                    ]
                    for w in rm
                ],
            )
        )
        out.append("")
    sweep = _sweep_rows(doc)
    if sweep is not None:
        out += [
            "## Kernel path: depth sweep",
            "",
            "Cold (evicted before every cell) and cached 4 KiB random reads at 1, 4, 16 "
            "and 64 concurrent single `read_at`-style calls, cached 64 KiB random reads at "
            "depth 64 and sequential 1 MiB reads (`python -m benchmarks --workloads kernel`, "
            "`make bench-kernel`). *x baseline* and *x best peer* are medians of "
            "per-repetition ratios; **> 1 means hybridio is faster**. The best peer is the "
            "peer making single calls that hybridio compares worst against in the same "
            "repetitions (batched calls such as obstore's `get_ranges_async` compete with "
            "hybridio's `read_many` only); *its rate* is that peer's median.",
            "",
            _md_table(*sweep),
            "",
        ]
        absent = [
            k
            for k in doc.get("kernel_sweep") or []
            if k not in {w["key"] for w in doc["workloads"]}
        ]
        if absent:
            out += [
                f"Not in this run: {', '.join(absent)} (`make bench-kernel` runs the whole sweep).",
                "",
            ]
        missing = _missing_peers(doc)
        if missing:
            out += ["Peers that could not run here:", "", *(f"- {m}" for m in missing), ""]
    ahead = _ahead_lines(doc["workloads"])
    if ahead:
        out += ["Where hybridio is behind (by more than 5%):", "", *ahead, ""]
    out += _forced_section(doc["workloads"])
    out += ["## Plots", ""]
    if img_rel:
        out += [
            f"![Rate relative to the blocking baseline]({img_rel}/ratio_to_baseline.png)",
            "",
            f"![Worst event-loop stall per library and workload]({img_rel}/loop_stall.png)",
            "",
        ]
    else:
        out += [plot_note, ""]
    out += [
        "## Method",
        "",
        f"- {cfg['warmup']} warm-up repetition(s), then {cfg['reps']} measured repetitions. "
        "Within each repetition every adapter runs once, in an order rotated by one per "
        "repetition; the blocking baseline is measured in the same repetition.",
        f"- Random-read workloads are time-boxed ({cfg['cell_time']:g} s per cell; opening the "
        "handles is not timed). The others are fixed jobs timed from open to close; a job "
        f"still running after {cfg['cap']:g} s stops and its rate is taken over the part done "
        "(marked *capped*): libraries that need one thread hop per line or per small write "
        "would otherwise take minutes.",
        "- Rates: median, min-max over repetitions. CPU us/op: `time.process_time()` of the "
        "whole process (all threads; not kernel io_uring/AIO workers) per operation.",
        "- Loop stall: a task sleeping 1 ms at a time records how late it wakes up while the "
        "workload runs; worst and 99th percentile in ms. About 1 ms is the floor (timer "
        "granularity). A workload that never suspends (the baseline, or reads served inline "
        "from the page cache without ever yielding) shows its whole duration as one stall.",
        "- Stream-API libraries (aiofiles, aiomisc.io, anyio) have no positional read: "
        "`read_at` is `seek` + `read`, and concurrent workers get one handle each. aiofile, "
        "raw caio and hybridio share one handle.",
        "- `served by` is what the library reports it used (for hybridio the file's `backend` "
        "attribute); a forced backend that was not honoured is shown as *asked X, served by Y*. "
        "For hybridio the brackets give the share of operations its per-file `stats` counted "
        "as served inline (page cache, in the loop thread, no suspension), by the kernel "
        "engine or by threads: a forced backend with *inline 100%* never reached that backend. "
        "A cell that opens more than 256 files counts the first 256 and every 64th after that "
        "(keeping every file for its counters made the collector hold the loop).",
        "- aiofile and raw caio use caio's default io_uring context, which turns SQPOLL on when "
        "the kernel allows it (see the machine table): a kernel thread then polls the ring, "
        "which helps deep queues of cold reads and costs CPU that `process_time` does not see. "
        "hybridio's SQPOLL setting comes from its tuning profile.",
        "- The raw caio variants: *no SQPOLL* asks caio for a plain ring flushed after every "
        "submission; *per-tick flush* (`deferred=True`) flushes once per event-loop turn, so "
        "reads issued in the same turn share one `io_uring_enter`.",
        "- urio has no positional read: `read_at` is `seek` + `read`, one handle per "
        "concurrent worker (its files share one io_uring ring per loop, no SQPOLL). turbofile "
        "has `read_at` on one shared handle and serves pages already in the page cache "
        "inline, as hybridio does. Neither has compression; turbofile files have no `fsync`.",
        "- obstore: a `LocalStore` without prefix; `get_range_async` per read, "
        "`get_ranges_async` for the batched row (its default coalescing: ranges less than "
        "1 MiB apart become one request), `get_async` for whole files and `put_async` at "
        "close for writes (objects are written whole: no text, append or fsync). Its "
        "`copy_async` makes a hard link on a local store, so it has no copy-file row.",
        "- aiofile's `close()` runs `fdatasync` on files opened for writing: that cost is part "
        "of its write workloads, as it is for its users.",
        "- Cold reads: `posix_fadvise(POSIX_FADV_DONTNEED)` before every cell; residency is "
        "checked with `mmap` + `mincore` and shown in the note column.",
        "",
    ]
    if doc.get("stalls"):
        reps = doc["stalls"][0]["reps"]
        out += [
            "## Worst loop stall of single calls",
            "",
            "Each call runs beside a heartbeat task (0.5 ms sleeps); the figure is the longest "
            f"gap between two beats, median and worst of {reps} repetitions "
            "(`python -m benchmarks.stalls` measures the same on its own).",
            "",
            _md_table(
                ["call", "median ms", "worst ms"],
                [
                    [r["call"], f"{r['median_ms']:.1f}", f"{r['worst_ms']:.1f}"]
                    for r in doc["stalls"]
                ],
            ),
            "",
        ]
    if doc.get("chunkstores"):
        from benchmarks.chunkstores import markdown as chunkstores_markdown

        out += chunkstores_markdown(doc["chunkstores"])
    out += [
        "## Workloads in detail",
        "",
    ]
    for w in doc["workloads"]:
        out += [f"### {w['key']}: {w['title']} ({w['unit']})", "", w["description"], ""]
        rows_ok = [_row_cells(r) for r in w["results"] if r["status"] == "ok"]
        rows_err = [_row_cells(r) for r in w["results"] if r["status"] in ("error", "skipped")]
        out += [_md_table(ROW_HEAD, rows_ok + rows_err), ""]
        na = _not_applicable(w)
        if na:
            out += ["Not applicable: " + na + ".", ""]
    skipped = doc.get("unavailable") or {}
    if skipped:
        out += ["## Adapters that could not run", ""]
        out += [f"- **{k}**: {v}" for k, v in skipped.items()]
        out.append("")
    return "\n".join(out)


# The hybridio rows a reader needs beside AUTO: the forced engines and the batch
# call. backend= variants are in the tables; on the chart they crowd out peers.
_PLOT_VARIANTS = (
    ("hybridio", "hybridio (auto)", "o", 9),
    ("hybridio read_many", "hybridio read_many", "D", 6),
    ("hybridio strategy=kernel", "hybridio strategy=kernel", "^", 6),
    ("hybridio strategy=thread", "hybridio strategy=thread", "v", 6),
)


def _ratio_figure(plt: Any, workloads: list[dict[str, Any]]) -> Any:
    """Headline (x best peer) and detail (x baseline) panels on shared log axes."""
    import math

    keys = [f"{w['key']} ({w['unit']})" for w in workloads]
    n = len(workloads)
    fig, (head, detail) = plt.subplots(
        1,
        2,
        figsize=(15, 1.6 + 0.42 * n),
        sharey=True,
        gridspec_kw={"width_ratios": (1, 1.6)},
        layout="constrained",
    )
    ys = list(range(n))

    # Headline: hybridio AUTO over the best peer, one bar per workload.
    best: list[float | None] = []
    for w in workloads:
        comp = w["comparisons"].get("hybridio") or {}
        best.append(comp.get("vs_best_peer") if w.get("best_peer") else None)
    known = [b for b in best if b]
    # Room on both sides for the labels written past the bar ends.
    lo = min([*known, 1.0]) / 30
    hi = max([*known, 1.0]) * 30
    for y, w, b in zip(ys, workloads, best, strict=True):
        if not b:
            head.text(1.0, y, "  no peer does this job", va="center", fontsize=8, color="0.4")
            continue
        color = "tab:green" if b >= 1 else "tab:orange"
        # From 1 to the ratio: the bar's length is how far ahead or behind.
        head.barh(y, max(b, 1.0) - min(b, 1.0), left=min(b, 1.0), color=color, height=0.6)
        label = f" {fmt_ratio(b)} vs {w['best_peer']} "
        head.text(
            b,
            y,
            label,
            va="center",
            ha="left" if b >= 1 else "right",
            fontsize=7.5,
        )
    head.set_xscale("log")
    head.set_xlim(lo, hi)
    head.axvline(1.0, color="black", linewidth=0.9)
    head.set_yticks(ys)
    head.set_yticklabels(keys, fontsize=8.5)
    head.invert_yaxis()
    head.set_xlabel(
        "hybridio (auto) rate / the best peer's rate\n(log scale; > 1: hybridio faster)"
    )
    head.set_title("Headline: hybridio against the best peer per workload", fontsize=10)
    head.grid(axis="x", which="major", color="0.9")
    from matplotlib.patches import Patch

    head.legend(
        handles=[
            Patch(color="tab:green", label="hybridio faster"),
            Patch(color="tab:orange", label="the best peer faster"),
        ],
        loc="lower right",
        fontsize=8,
    )

    # Detail: rate / blocking baseline of hybridio's main rows and every peer.
    peers: list[str] = []
    for w in workloads:
        for r in w["results"]:
            if r["role"] == "peer" and r["status"] == "ok" and r["adapter"] not in peers:
                peers.append(r["adapter"])
    peers = [p for p in PEER_ORDER if p in peers] + [p for p in peers if p not in PEER_ORDER]
    # No green: green is hybridio's.
    palette = ("tab:orange", "tab:blue", "tab:red", "tab:purple", "tab:brown", "tab:pink")
    palette += ("tab:gray", "tab:olive", "tab:cyan", "black")
    peer_colors = {p: palette[i % len(palette)] for i, p in enumerate(peers)}
    handles: dict[str, Any] = {}
    values: list[float] = []
    for y, w in zip(ys, workloads, strict=True):
        ok = {r["adapter"]: r for r in w["results"] if r["status"] == "ok"}
        for adapter, label, marker, size in _PLOT_VARIANTS:
            r = ok.get(adapter)
            if r and r.get("ratio_to_baseline"):
                v = r["ratio_to_baseline"]
                values.append(v)
                (h,) = detail.plot(
                    [v],
                    [y],
                    marker=marker,
                    markersize=size,
                    color="tab:green" if adapter == "hybridio" else "darkgreen",
                    markerfacecolor="tab:green" if adapter == "hybridio" else "none",
                    linestyle="none",
                    zorder=3,
                )
                handles.setdefault(label, h)
        for p in peers:
            r = ok.get(p)
            if r and r.get("ratio_to_baseline"):
                v = r["ratio_to_baseline"]
                values.append(v)
                (h,) = detail.plot(
                    [v], [y], marker="s", markersize=5, color=peer_colors[p], linestyle="none"
                )
                handles.setdefault(p, h)
    if values:
        detail.set_xlim(
            10 ** math.floor(math.log10(min(values)) - 0.2),
            10 ** math.ceil(math.log10(max(values)) + 0.2),
        )
    detail.set_xscale("log")
    detail.axvline(1.0, color="black", linewidth=0.9)
    for y in ys:
        detail.axhline(y, color="0.92", linewidth=0.6, zorder=0)
    detail.set_xlabel(
        "rate / the blocking call made in the coroutine (log scale; > 1: faster than it)\n"
        "the blocking baseline holds the event loop for the whole job"
    )
    detail.set_title("Detail: every library against the blocking baseline", fontsize=10)
    detail.grid(axis="x", which="major", color="0.9")
    detail.legend(
        handles=list(handles.values()),
        labels=list(handles),
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        frameon=False,
    )
    return fig


def _stall_figure(plt: Any, workloads: list[dict[str, Any]]) -> Any:
    """Worst loop stall per library and workload; "not applicable" is hatched grey."""
    import math

    names: list[str] = []
    for w in workloads:
        for r in w["results"]:
            if r["status"] == "ok" and r["adapter"] not in names:
                names.append(r["adapter"])
    grid: list[list[float]] = []
    for name in names:
        line: list[float] = []
        for w in workloads:
            r = next((x for x in w["results"] if x["adapter"] == name), None)
            line.append(r["stall_max_ms"] if r and r["status"] == "ok" else float("nan"))
        grid.append(line)
    fig, ax = plt.subplots(
        figsize=(max(7.0, 3.0 + 0.75 * len(workloads)), 2.0 + 0.38 * len(names)),
        layout="constrained",
    )
    cmap = plt.get_cmap("Reds").copy()
    cmap.set_bad("white")
    # vmin below log10(1 ms): the ~1 ms timer floor is a visible pale red, never
    # the white of a cell that was not measured.
    logged = [[math.log10(max(v, 0.1)) if v == v else float("nan") for v in row] for row in grid]
    im = ax.imshow(logged, cmap=cmap, aspect="auto", vmin=-0.7, vmax=3)
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if v == v:
                ax.text(
                    j,
                    i,
                    fmt_ms(v),
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if v >= 100 else "black",
                )
            else:
                ax.add_patch(
                    plt.Rectangle(
                        (j - 0.5, i - 0.5),
                        1,
                        1,
                        facecolor="0.93",
                        hatch="///",
                        edgecolor="0.7",
                        linewidth=0,
                    )
                )
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=6, color="0.45")
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels([w["key"] for w in workloads], rotation=45, ha="right", fontsize=7.5)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=7.5)
    cbar = fig.colorbar(im, ax=ax, ticks=[0, 1, 2, 3])
    cbar.ax.set_yticklabels(["1 ms", "10 ms", "100 ms", "1 s"], fontsize=7)
    cbar.set_label("worst stall (log scale)", fontsize=7.5)
    ax.set_title(
        "Worst event-loop stall (ms) per library and workload; "
        "hatched n/a: not applicable (not measured)",
        fontsize=9,
    )
    return fig


def plots(doc: dict[str, Any], img_dir: str) -> str | None:
    """Write the PNGs into *img_dir*; return None, or a note why they were skipped."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as exc:
        return (
            f"Plots skipped: matplotlib is not importable ({type(exc).__name__}). "
            "Install the `plot` extra: `pip install -e '.[plot]'`."
        )
    os.makedirs(img_dir, exist_ok=True)
    workloads = [w for w in doc["workloads"] if any(r["status"] == "ok" for r in w["results"])]
    if not workloads:
        return "Plots skipped: no results."
    fig = _ratio_figure(plt, workloads)
    fig.savefig(os.path.join(img_dir, "ratio_to_baseline.png"), dpi=110)
    plt.close(fig)
    fig = _stall_figure(plt, workloads)
    fig.savefig(os.path.join(img_dir, "loop_stall.png"), dpi=110)
    plt.close(fig)
    return None
