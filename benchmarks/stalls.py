"""Worst event-loop stall of the calls issue 9 item 8 named, one line each.

    python -m benchmarks.stalls [--dir DIR] [--reps N]

A heartbeat task (0.5 ms sleep) runs beside each call; the figure is the
longest gap between two beats, i.e. the longest the loop could not run a ready
callback.  Median and worst of ``--reps`` repetitions are printed.  The first
open of a process is measured in a fresh interpreter per repetition.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import hybridio

MIB = 1 << 20


async def worst_gap(work: Callable[[], Awaitable[Any]]) -> float:
    """Seconds of the longest heartbeat gap while *work* runs."""
    gaps: list[float] = []
    stop = False

    async def beat() -> None:
        last = time.perf_counter()
        while not stop:
            await asyncio.sleep(0.0005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.ensure_future(beat())
    await asyncio.sleep(0.005)
    gaps.clear()
    keep = await work()
    stop = True
    await task
    del keep  # freeing the results is the caller's cost, not the call's
    return max(gaps, default=0.0)


def evict(path: Path) -> None:
    """Drop *path* from the page cache (POSIX_FADV_DONTNEED)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _fill(path: Path, mib: int) -> None:
    block = os.urandom(MIB)
    with path.open("wb") as f:
        for _ in range(mib):
            f.write(block)


async def _cases(root: Path, reps: int) -> list[tuple[str, list[float]]]:
    big = root / "big"
    _fill(big, 256)
    small = []
    for i in range(50):
        p = root / f"small{i}"
        p.write_bytes(os.urandom(4096))
        small.append(p)
    ranges = [(i * 3 * MIB + 4096, MIB) for i in range(64)]
    rows: list[tuple[str, list[float]]] = []

    async def run(name: str, work: Callable[[], Awaitable[Any]], prepare: Any = None) -> None:
        figures = []
        for _ in range(reps):
            if prepare is not None:
                prepare()
            figures.append(await worst_gap(work))
        rows.append((name, figures))

    for backend in ("uring", "linux"):
        async with hybridio.async_open(big, "rb", backend=backend) as f:  # type: ignore[call-overload]
            await f.read_many(ranges)

            def gather(f: Any = f) -> Awaitable[Any]:
                return asyncio.gather(*(f.read_at(o, n) for o, n in ranges))

            await run(f"read_many 64 x 1 MiB, cached ({backend})", lambda f=f: f.read_many(ranges))
            await run(f"64 concurrent read_at 1 MiB, cached ({backend})", gather)
            await run(
                f"read_many 64 x 1 MiB, cold ({backend})",
                lambda f=f: f.read_many(ranges),
                lambda: evict(big),
            )
            await run(f"64 concurrent read_at 1 MiB, cold ({backend})", gather, lambda: evict(big))

    async def opens() -> None:
        for i in range(1000):
            g = await hybridio.async_open(small[i % 50], "rb")
            await g.close()

    await run("1,000 opens in a row (open + close)", opens)
    victim = root / "victim"

    async def truncate() -> None:
        g = await hybridio.async_open(victim, "wb")
        await g.close()

    await run("open('wb') truncating a cached 256 MiB file", truncate, lambda: _fill(victim, 256))
    return rows


_FIRST_OPEN = """
import asyncio, sys
sys.path.insert(0, {here!r})
from benchmarks.stalls import worst_gap
import hybridio

async def main():
    async def first():
        async with hybridio.async_open({path!r}, "rb") as f:
            return await f.read()
    print(await worst_gap(first))

asyncio.run(main())
"""


def _first_open(root: Path, reps: int) -> list[float]:
    target = root / "first"
    target.write_bytes(os.urandom(4096))
    here = str(Path(__file__).resolve().parent.parent)
    code = _FIRST_OPEN.format(here=here, path=str(target))
    figures = []
    for _ in range(reps):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
        )
        figures.append(float(out.stdout.strip().splitlines()[-1]))
    return figures


def measure(directory: str | None, reps: int) -> list[dict[str, Any]]:
    """Each call's worst loop stall: ``{"call", "median_ms", "worst_ms", "reps"}`` rows.

    ``make bench`` puts them in docs/benchmarks.md; *directory* holds the
    512 MiB of scratch files meanwhile.
    """
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        root = Path(tmp)
        rows = asyncio.run(_cases(root, reps))
        rows.append(("first async_open of a process", _first_open(root, reps)))
    return [
        {
            "call": name,
            "median_ms": round(statistics.median(figures) * 1e3, 1),
            "worst_ms": round(max(figures) * 1e3, 1),
            "reps": reps,
        }
        for name, figures in rows
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the worst loop stall of each call, median and worst of the repetitions."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stalls", description=__doc__)
    parser.add_argument("--dir", help="where the 512 MiB of scratch files go")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per call")
    args = parser.parse_args(argv)
    print(f"{'call':52s} {'median':>9s} {'worst':>9s}   (worst loop stall, {args.reps} reps)")
    for row in measure(args.dir, args.reps):
        print(f"{row['call']:52s} {row['median_ms']:7.1f}ms {row['worst_ms']:7.1f}ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
