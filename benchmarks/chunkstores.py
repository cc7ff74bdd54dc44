"""Zarr chunk stores side by side: hybridio.zarr.Store, zarr's LocalStore and
zarr's ObjectStore over obstore's LocalStore.

    python -m benchmarks.chunkstores [--dir DIR] [--reps N] [--quick]

Cases, each store measured in turn inside every repetition (interleaved, so a
noisy neighbour hits all stores alike); the figure is the median of the
repetitions and the ratio is (other store's median) / (hybridio's median):

- ``read warm`` / ``read cold``: 4,096 random 64 KiB chunks (uncompressed, one
  file each) of a 2-D array, read with ONE orthogonal selection of their rows
  (zarr fetches them ``async.concurrency`` at a time).  Cold: every chunk file
  is evicted from the page cache (``POSIX_FADV_DONTNEED``) before each read;
  ``64 in flight`` raises zarr's ``async.concurrency`` from 10 to 64.
- ``sharded partial warm``: the same rows of a sharded array (256 chunks per
  shard file): zarr reads each shard's index and then the chunks' byte ranges
  (``Store.get_ranges``).
- ``write``: 4,096 chunks into a new array (``durable=True`` is shown too).
- ``dask``: a 2-process ``LocalCluster`` sums the array read through each
  store (cluster start-up not included).

Speeds are measured, never asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks import sysinfo

CHUNK = 16384  # float32 elements: 64 KiB


@dataclass
class ChunkConfig:
    """Sizes: *chunks* chunk files in the array, *reads* of them read, *writes* written."""

    chunks: int = 8192
    reads: int = 4096
    writes: int = 4096
    shard_rows: int = 256
    reps: int = 5
    dask: bool = True


QUICK = ChunkConfig(chunks=256, reads=128, writes=128, shard_rows=64, reps=2, dask=False)


def unavailable() -> str | None:
    """Why the chunk-store benchmark cannot run here, or None."""
    if sys.version_info < (3, 12):  # noqa: UP036 - zarr 3 needs CPython >= 3.12
        return "zarr 3 needs Python >= 3.12"
    try:
        import obstore  # noqa: F401
        import zarr  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install -e '.[bench]')"
    return None


def _stores(root: str, read_only: bool) -> dict[str, Any]:
    import obstore.store
    import zarr.storage

    import hybridio.zarr

    return {
        "hybridio.zarr.Store": hybridio.zarr.Store(root, read_only=read_only),
        "zarr LocalStore": zarr.storage.LocalStore(root, read_only=read_only),
        "zarr ObjectStore (obstore)": zarr.storage.ObjectStore(
            obstore.store.LocalStore(prefix=root), read_only=read_only
        ),
    }


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _get_all(store: Any, keys: list[str]) -> None:
    """Every key's value through ``store.get``, as zarr's codec pipeline calls
    it (``concurrent_map`` with ``async.concurrency`` in flight), each value
    dropped once read, on zarr's event loop thread."""
    import zarr
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.common import concurrent_map
    from zarr.core.sync import sync

    proto = default_buffer_prototype()

    async def one(key: str) -> None:
        value = await store.get(key, proto)
        assert value is not None
        assert len(value) == CHUNK * 4

    limit = zarr.config.get("async.concurrency")
    sync(concurrent_map([(k,) for k in keys], one, limit=limit))


def _evict_tree(path: str) -> None:
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            sysinfo.evict(os.path.join(dirpath, name))


def _close(stores: dict[str, Any]) -> None:
    for store in stores.values():
        store.close()


def measure(
    directory: str | None, cfg: ChunkConfig, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Run every case; return ``{"config", "rows", "ratios"}`` for the report."""
    import numpy as np
    import zarr

    import hybridio.zarr

    rng = np.random.default_rng(42)
    times: dict[tuple[str, str], list[float]] = {}

    def record(case: str, store: str, seconds: float) -> None:
        times.setdefault((case, store), []).append(seconds)

    with tempfile.TemporaryDirectory(dir=directory, prefix="chunkstores-") as tmp:
        plain, sharded = os.path.join(tmp, "plain"), os.path.join(tmp, "sharded")
        shape = (cfg.chunks, CHUNK)
        data = rng.random(shape, dtype="float32")
        progress(f"chunk stores: writing {cfg.chunks} chunks, plain and sharded")
        z = zarr.create_array(
            hybridio.zarr.Store(plain),
            shape=shape,
            chunks=(1, CHUNK),
            dtype="float32",
            compressors=None,
            filters=None,
        )
        z[:] = data
        s = zarr.create_array(
            hybridio.zarr.Store(sharded),
            shape=shape,
            shards=(cfg.shard_rows, CHUNK),
            chunks=(1, CHUNK),
            dtype="float32",
            compressors=None,
            filters=None,
        )
        s[:] = data
        rows = np.sort(rng.choice(cfg.chunks, size=cfg.reads, replace=False))
        expected = data[rows]

        readers = {
            "plain": {n: zarr.open_array(st, mode="r") for n, st in _stores(plain, True).items()},
            "sharded": {
                n: zarr.open_array(st, mode="r") for n, st in _stores(sharded, True).items()
            },
        }
        # The sharded case compares with LocalStore only (the target).
        readers["sharded"].pop("zarr ObjectStore (obstore)")
        for arrays in readers.values():  # warm-up, and a correctness check
            for arr in arrays.values():
                assert np.array_equal(arr.get_orthogonal_selection((rows, slice(None))), expected)

        keys = [f"c/{int(r)}/0" for r in rows]
        wdata = data[: cfg.writes]

        def write_all(arr: Any) -> None:
            arr[:] = wdata

        store_level = {n: arr.store for n, arr in readers["plain"].items()}

        for rep in range(cfg.reps):
            progress(f"chunk stores: repetition {rep + 1}/{cfg.reps}")
            for name, store in store_level.items():
                record("store get, warm", name, _timed(lambda st=store: _get_all(st, keys)))
            for name, arr in readers["plain"].items():
                record("read warm", name, _timed(lambda a=arr: a.oindex[rows, :]))
            for name, arr in readers["plain"].items():
                _evict_tree(plain)
                record("read cold", name, _timed(lambda a=arr: a.oindex[rows, :]))
            with zarr.config.set({"async.concurrency": 64}):
                for name, arr in readers["plain"].items():
                    _evict_tree(plain)
                    record("read cold, 64 in flight", name, _timed(lambda a=arr: a.oindex[rows, :]))
            for name, arr in readers["sharded"].items():
                record("sharded partial warm", name, _timed(lambda a=arr: a.oindex[rows, :]))
            for name, arr in readers["sharded"].items():
                _evict_tree(sharded)
                record("sharded partial cold", name, _timed(lambda a=arr: a.oindex[rows, :]))
            writers = {
                "hybridio.zarr.Store": lambda r: hybridio.zarr.Store(r),
                "hybridio.zarr.Store(durable=True)": lambda r: hybridio.zarr.Store(r, durable=True),
                "zarr LocalStore": lambda r: zarr.storage.LocalStore(r),
            }
            for name, make in writers.items():
                target = os.path.join(tmp, f"w{rep}")
                store = make(target)
                arr = zarr.create_array(
                    store,
                    shape=wdata.shape,
                    chunks=(1, CHUNK),
                    dtype="float32",
                    compressors=None,
                    filters=None,
                )
                record("write", name, _timed(lambda a=arr: write_all(a)))
                store.close()
                shutil.rmtree(target)
        for arrays in readers.values():
            for arr in arrays.values():
                arr.store.close()
        if cfg.dask:
            progress("chunk stores: dask LocalCluster, 2 worker processes")
            _dask(plain, cfg, record, progress)

    rows_out = [
        {
            "case": case,
            "store": store,
            "median_s": statistics.median(ts),
            "min_s": min(ts),
            "reps": len(ts),
        }
        for (case, store), ts in times.items()
    ]
    ratios = []
    for case in dict.fromkeys(c for c, _ in times):
        base = times.get((case, "hybridio.zarr.Store"))
        if not base:
            continue
        for (c, store), ts in times.items():
            if c == case and store != "hybridio.zarr.Store":
                ratios.append(
                    {
                        "case": case,
                        "vs": store,
                        "ratio": statistics.median(ts) / statistics.median(base),
                    }
                )
    return {"config": asdict(cfg), "rows": rows_out, "ratios": ratios}


def _dask(
    plain: str,
    cfg: ChunkConfig,
    record: Callable[[str, str, float], None],
    progress: Callable[[str], None],
) -> None:
    import dask.array as da
    import zarr
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,  # a worker's heartbeat racing the shutdown
        ) as cluster,
        Client(cluster, timeout=60) as client,
    ):
        sums = {}
        for rep in range(cfg.reps + 1):
            for name, store in _stores(plain, True).items():
                if "ObjectStore" in name:
                    continue
                arr = da.from_zarr(zarr.open_array(store, mode="r"), chunks=(256, CHUNK))
                t = time.perf_counter()
                sums[name] = client.compute(arr.sum()).result(timeout=300)
                if rep:  # the first round starts the workers' imports
                    record("dask sum (2 processes)", name, time.perf_counter() - t)
        values = list(sums.values())
        assert all(abs(v - values[0]) <= 1e-3 * abs(values[0]) for v in values), sums


def terminal(result: dict[str, Any]) -> str:
    """The rows and ratios as plain text."""
    lines = [f"{'case':26s} {'store':36s} {'median':>9s} {'min':>9s}"]
    for r in result["rows"]:
        ms, low = r["median_s"] * 1e3, r["min_s"] * 1e3
        lines.append(f"{r['case']:26s} {r['store']:36s} {ms:7.1f}ms {low:7.1f}ms")
    lines.append("")
    for r in result["ratios"]:
        lines.append(f"{r['case']:26s} {r['vs']:36s} {r['ratio']:6.2f}x (hybridio faster if > 1)")
    return "\n".join(lines)


def markdown(result: dict[str, Any]) -> list[str]:
    """The report section of docs/benchmarks.md (lines)."""
    if "skipped" in result:
        return ["## Chunk stores (Zarr)", "", f"Not measured: {result['skipped']}.", ""]
    cfg = result["config"]
    out = [
        "## Chunk stores (Zarr)",
        "",
        f"`hybridio.zarr.Store` against zarr's `LocalStore` and `ObjectStore` over obstore's "
        f"`LocalStore` (benchmarks/chunkstores.py; `python -m benchmarks.chunkstores` runs it "
        f"alone). {cfg['reads']:,} random 64 KiB chunks (uncompressed, of {cfg['chunks']:,}) read "
        "with one orthogonal selection; sharded: the same rows of an array with "
        f"{cfg['shard_rows']} chunks per shard; writes: {cfg['writes']:,} chunks into a new "
        "array; *store get*: the same chunks through `store.get` alone, 10 in flight as zarr's "
        "pipeline calls it. Cold: every file evicted (`POSIX_FADV_DONTNEED`) before each read; "
        "*64 in flight*: zarr's `async.concurrency` raised from 10 to 64. "
        f"Stores interleaved in each of {cfg['reps']} repetitions; medians.",
        "",
        "| case | store | median ms | min ms |",
        "| --- | --- | ---: | ---: |",
    ]
    for r in result["rows"]:
        out.append(
            f"| {r['case']} | {r['store']} | {r['median_s'] * 1e3:.1f} | {r['min_s'] * 1e3:.1f} |"
        )
    out += [
        "",
        "Ratios (the other store's median / hybridio's; **> 1 means hybridio is faster**):",
        "",
        "| case | vs | ratio |",
        "| --- | --- | ---: |",
    ]
    out += [f"| {r['case']} | {r['vs']} | {r['ratio']:.2f}x |" for r in result["ratios"]]
    return [*out, ""]


def run(directory: str | None, quick: bool, progress: Callable[[str], None]) -> dict[str, Any]:
    """What ``python -m benchmarks`` stores under ``"chunkstores"``."""
    why = unavailable()
    if why:
        return {"skipped": why}
    return measure(directory, QUICK if quick else ChunkConfig(), progress)


def main(argv: list[str] | None = None) -> int:
    """Print the chunk-store figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chunkstores", description=__doc__)
    parser.add_argument("--dir", help="where the scratch arrays go (a real disk, not tmpfs)")
    parser.add_argument("--reps", type=int, help="repetitions")
    parser.add_argument("--quick", action="store_true", help="small sizes, no dask")
    args = parser.parse_args(argv)
    why = unavailable()
    if why:
        print(f"chunk stores: skipped ({why})")
        return 0
    cfg = QUICK if args.quick else ChunkConfig()
    if args.reps:
        cfg.reps = args.reps
    result = measure(args.dir, cfg, lambda m: print(m, file=sys.stderr, flush=True))
    print(terminal(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
