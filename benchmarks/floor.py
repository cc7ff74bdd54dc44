"""How fast an async small-file read can be in Python, beside hybridio's.

    python -m benchmarks.floor [--dir DIR] [--files N] [--reps N]

open + read-to-EOF + close of N cached 4 KiB files, one after the other, in
one event loop, interleaved repetitions, median microseconds per file:

* ``syscalls``: the system calls alone in a coroutine (``open``, ``fstat``,
  ``preadv2(RWF_NOWAIT)``, ``close``), no file object;
* ``thin file``: the least an awaitable file API adds: an awaitable open
  (``stat`` first, so a FIFO is never opened in the loop), a slotted object,
  ``read()`` and ``close()`` coroutines, nothing else (no fd limit, no
  fairness budget, no plan, no checks);
* ``blocking open()``: ``with open(p, "rb") as f: f.read()`` (C all the way);
* ``hybridio``: ``async_open``.

The thin file is a floor for any pure-Python file object making the same
calls; the benchmark report's small-read row sets hybridio against the
peers.  Ratios are to the blocking loop (> 1: faster).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import hybridio

_FLAGS = os.O_RDONLY | os.O_CLOEXEC


def _preadv(fd: int, buf: bytearray, offset: int) -> int:
    try:
        return os.preadv(fd, [buf], offset, os.RWF_NOWAIT)
    except BlockingIOError:  # not cached after all: read it anyway
        return os.preadv(fd, [buf], offset)


class _ThinFile:
    __slots__ = ("fd", "pos")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pos = 0

    async def read(self) -> bytes:
        buf = bytearray(os.fstat(self.fd).st_size - self.pos)
        n = _preadv(self.fd, buf, self.pos)
        self.pos += n
        return bytes(buf) if n == len(buf) else bytes(buf[:n])

    async def close(self) -> None:
        os.close(self.fd)


class _ThinOpen:
    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __await__(self) -> Generator[Any, None, _ThinFile]:
        os.stat(self.path)
        return _done(_ThinFile(os.open(self.path, _FLAGS)))


def _done(value: _ThinFile) -> Generator[Any, None, _ThinFile]:
    return value
    yield  # pragma: no cover - makes this a generator


async def _syscalls(paths: list[str]) -> None:
    for p in paths:
        fd = os.open(p, _FLAGS)
        buf = bytearray(os.fstat(fd).st_size)
        _preadv(fd, buf, 0)
        bytes(buf)
        os.close(fd)


async def _thin(paths: list[str]) -> None:
    for p in paths:
        f = await _ThinOpen(p)
        try:
            await f.read()
        finally:
            await f.close()


async def _blocking(paths: list[str]) -> None:
    for p in paths:
        with open(p, "rb") as f:
            f.read()


async def _hybridio(paths: list[str]) -> None:
    for p in paths:
        f = await hybridio.async_open(p, "rb")
        try:
            await f.read()
        finally:
            await f.close()


_RUNS: dict[str, Callable[[list[str]], Awaitable[None]]] = {
    "syscalls": _syscalls,
    "thin file": _thin,
    "blocking open()": _blocking,
    "hybridio": _hybridio,
}


async def measure(paths: list[str], reps: int) -> dict[str, float]:
    """Median seconds per file of each way, repetitions interleaved."""
    times: dict[str, list[float]] = {name: [] for name in _RUNS}
    for rep in range(reps + 1):
        for name, run in _RUNS.items():
            start = time.perf_counter()
            await run(paths)
            if rep:  # the first round warms caches and hybridio's memo
                times[name].append((time.perf_counter() - start) / len(paths))
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> None:
    """Print the table."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__)
    ap.add_argument("--dir", default="bench-results/data", help="on a disk filesystem")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=9)
    args = ap.parse_args(argv)
    root = Path(args.dir) / "floor"
    root.mkdir(parents=True, exist_ok=True)
    payload = os.urandom(4096)
    paths = []
    for i in range(args.files):
        path = root / f"f{i}"
        if not path.exists() or path.stat().st_size != len(payload):
            path.write_bytes(payload)
        paths.append(str(path))
    result = asyncio.run(measure(paths, args.reps))
    base = result["blocking open()"]
    print(f"open + read + close of {args.files:,} cached 4 KiB files, median of {args.reps}")
    for name, seconds in result.items():
        print(f"  {name:16s} {seconds * 1e6:6.2f} us/file  {base / seconds:5.2f}x blocking")


if __name__ == "__main__":
    main()
