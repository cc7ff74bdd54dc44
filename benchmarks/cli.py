"""Command line: ``python -m benchmarks [--quick] [--dir D] [--out O] ...``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import os
import shlex
import sys
import time
from collections.abc import Coroutine
from typing import Any

from benchmarks import report, sysinfo
from benchmarks.adapters import all_adapters
from benchmarks.runner import run_all, summarize
from benchmarks.workloads import (
    GROUPS,
    Config,
    Workload,
    kernel_sweep_keys,
    make_workloads,
    prepare_data,
)

__all__ = ("main",)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

QUICK = Config(
    file_mib=32,
    text_mb=5,
    write_mib=16,
    hello_count=20_000,
    gzip_lines=20_000,
    small_files=200,
    mixed_reads=800,
    mixed_whole=10,
    mixed_appends=200,
    whole_kib=256,
    whole_large_mib=8,
    mixed_whole_large=3,
    reps=2,
    warmup=1,
    cell_time=0.04,
    cap=0.25,
)


def _parser() -> argparse.ArgumentParser:
    d = Config()
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark hybridio against aiofiles, aiofile, aiomisc.io, anyio, raw caio, "
        "urio, turbofile, obstore's LocalStore and the plain blocking call.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, 2 repetitions (~1 min); writes only to --out, never docs/",
    )
    p.add_argument(
        "--dir",
        default=os.path.join(REPO, "bench-results", "data"),
        help="data directory, on a real disk filesystem (default: bench-results/data)",
    )
    p.add_argument(
        "--out", default=os.path.join(REPO, "bench-results"), help="results directory for JSON"
    )
    p.add_argument(
        "--docs",
        default=os.path.join(REPO, "docs"),
        help="where a full run writes benchmarks.md and img/ (default: docs/)",
    )
    p.add_argument("--no-docs", action="store_true", help="do not write the docs/ report")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    p.add_argument("--reps", type=int, help=f"measured repetitions (default {d.reps})")
    p.add_argument("--warmup", type=int, help=f"warm-up repetitions (default {d.warmup})")
    p.add_argument("--cell-time", type=float, help=f"seconds per random-read cell ({d.cell_time})")
    p.add_argument("--cap", type=float, help=f"time cap in seconds per fixed-job cell ({d.cap})")
    p.add_argument("--file-mib", type=int, help=f"random/sequential file size ({d.file_mib})")
    p.add_argument("--text-mb", type=int, help=f"text file size for lines ({d.text_mb})")
    p.add_argument("--write-mib", type=int, help=f"bytes written before fsync ({d.write_mib})")
    p.add_argument("--hello-count", type=int, help=f"Hello World writes ({d.hello_count})")
    p.add_argument("--gzip-lines", type=int, help=f"gzip lines ({d.gzip_lines})")
    p.add_argument("--small-files", type=int, help=f"small files ({d.small_files})")
    p.add_argument("--mixed-reads", type=int, help=f"mixed: random reads ({d.mixed_reads})")
    p.add_argument("--inflight", type=int, help=f"concurrent random reads ({d.inflight})")
    p.add_argument(
        "--adapters",
        help=(
            "comma-separated substrings: run only matching adapters (+ baseline);"
            " =NAME matches one adapter exactly"
        ),
    )
    p.add_argument(
        "--workloads",
        help="comma-separated substrings of workload keys, or group names: "
        + ", ".join(f"{k!r}" for k in GROUPS)
        + " (the kernel-path depth sweep: "
        + ", ".join(kernel_sweep_keys())
        + ")",
    )
    p.add_argument(
        "--md",
        help="also write the Markdown report here (a --workloads run never replaces "
        "docs/benchmarks.md)",
    )
    p.add_argument("--list", action="store_true", help="list adapters and workloads and exit")
    return p


def _config(args: argparse.Namespace) -> Config:
    cfg = dataclasses.replace(QUICK) if args.quick else Config()
    for field in dataclasses.fields(Config):
        value = getattr(args, field.name, None)
        if value is not None:
            setattr(cfg, field.name, value)
    return cfg


def _select(
    wanted: list[str], default: list[Workload], cfg: Config, paths: dict[str, str]
) -> list[Workload]:
    """The workloads *wanted* names: whole groups, then key substrings (of the
    default workloads and of every group's), each key once, in that order."""
    chosen: dict[str, Workload] = {}
    extra: list[Workload] = []
    for name, make in GROUPS.items():
        rows = make(cfg, paths)
        if name in wanted:
            for w in rows:
                chosen.setdefault(w.key, w)
        extra += rows
    for w in default + extra:
        if any(s not in GROUPS and s in w.key for s in wanted):
            chosen.setdefault(w.key, w)
    return list(chosen.values())


def _run(coro: Coroutine[Any, Any, Any], loop_name: str) -> Any:
    if loop_name == "uvloop":
        import uvloop

        if sys.version_info >= (3, 11):
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(coro)
        return uvloop.run(coro)
    return asyncio.run(coro)


def _progress(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _matches(wanted: str, name: str) -> bool:
    # "=name" picks one adapter exactly; a bare word keeps every variant that contains it.
    return name == wanted[1:] if wanted.startswith("=") else wanted in name


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cfg = _config(args)
    data_dir = os.path.abspath(args.dir)
    out_dir = os.path.abspath(args.out)
    adapters = all_adapters()
    if args.adapters:
        wanted = [s.strip() for s in args.adapters.split(",") if s.strip()]
        adapters = [
            a for a in adapters if a.role == "baseline" or any(_matches(s, a.name) for s in wanted)
        ]

    fs = sysinfo.filesystem_of(data_dir if os.path.exists(data_dir) else os.path.dirname(data_dir))
    if fs["type"] in ("tmpfs", "ramfs"):
        _progress(f"WARNING: {data_dir} is on {fs['type']}: cold reads cannot be measured there")

    t_start = time.perf_counter()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    _progress(f"preparing data in {data_dir}")
    paths, facts = prepare_data(cfg, data_dir, _progress)
    workloads = make_workloads(cfg, paths, facts)
    if args.workloads:
        wanted = [s.strip() for s in args.workloads.split(",") if s.strip()]
        workloads = _select(wanted, workloads, cfg, paths)
    if args.list:
        for a in adapters:
            print(f"adapter  {a.name}")
        for w in workloads:
            print(f"workload {w.key:<14} {w.title}")
        return 0

    _progress(
        f"{len(workloads)} workloads x {len(adapters)} adapters, "
        f"{cfg.warmup} warm-up + {cfg.reps} reps, loop={args.loop}"
    )
    results = _run(run_all(adapters, workloads, cfg, _progress), args.loop)
    summary = summarize(workloads, results)

    unavailable: dict[str, str] = {}
    for w in summary:
        for r in w["results"]:
            if r["status"] == "skipped":
                unavailable.setdefault(r["adapter"], r["reason"])

    shown_argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "benchmarks", *shown_argv])
    if command == "python -m benchmarks" and not args.quick:
        command = "make bench (python -m benchmarks)"
    doc: dict[str, Any] = {
        "schema": 1,
        "command": command,
        "quick": bool(args.quick),
        "started": started,
        "duration_s": round(time.perf_counter() - t_start, 1),
        "machine": sysinfo.machine_facts(data_dir, args.loop),
        "config": dataclasses.asdict(cfg),
        "adapters": [
            {
                "name": a.name,
                "library": a.library,
                "role": a.role,
                "available": a.name not in unavailable,
                "reason": unavailable.get(a.name, ""),
            }
            for a in adapters
        ],
        "unavailable": unavailable,
        "kernel_sweep": kernel_sweep_keys(),
        "workloads": summary,
    }

    if not args.quick and not args.workloads:
        # Single calls, each beside a heartbeat (benchmarks/stalls.py): the
        # stall figures the README quotes come from here.
        from benchmarks import stalls

        _progress("measuring the loop stall of single calls (benchmarks/stalls.py)")
        doc["stalls"] = stalls.measure(data_dir, cfg.reps)
        doc["duration_s"] = round(time.perf_counter() - t_start, 1)

    if not args.workloads or "chunk" in args.workloads:
        # Zarr stores side by side (benchmarks/chunkstores.py).
        from benchmarks import chunkstores

        _progress("chunk stores: hybridio.zarr.Store, LocalStore, ObjectStore")
        doc["chunkstores"] = chunkstores.run(data_dir, args.quick, _progress)
        doc["duration_s"] = round(time.perf_counter() - t_start, 1)

    print(report.terminal(doc))
    if "rows" in doc.get("chunkstores", {}):
        from benchmarks.chunkstores import terminal

        print(terminal(doc["chunkstores"]))
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, "latest.json")
    report.write_json(doc, json_path)

    # Plots and Markdown: always into --out; into docs/ only for a full run
    # (a --workloads run would replace the whole report with a few rows).
    write_docs = not args.quick and not args.no_docs and not args.workloads
    img_dir = os.path.join(args.docs, "img") if write_docs else os.path.join(out_dir, "img")
    note = "Plots skipped (--no-plots)."
    img_ok = False
    if not args.no_plots:
        why = report.plots(doc, img_dir)
        img_ok = why is None
        note = why or ""
        if why:
            _progress(why)
    md_path = (
        os.path.join(args.docs, "benchmarks.md")
        if write_docs
        else os.path.join(out_dir, "report.md")
    )
    img_rel = os.path.relpath(img_dir, os.path.dirname(md_path)) if img_ok else None
    os.makedirs(os.path.dirname(md_path), exist_ok=True)
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(report.markdown(doc, img_rel, note))
    if args.md:
        extra_md = os.path.abspath(args.md)
        os.makedirs(os.path.dirname(extra_md), exist_ok=True)
        extra_img = os.path.relpath(img_dir, os.path.dirname(extra_md)) if img_ok else None
        with open(extra_md, "w", encoding="utf-8") as f:
            f.write(report.markdown(doc, extra_img, note))
        md_path += f" and {extra_md}"
    _progress(f"wrote {json_path} and {md_path} in {time.perf_counter() - t_start:.0f} s")
    return 0
