"""What is measured.

Each :class:`Workload` prepares its data once, then runs one *cell* (one adapter,
one repetition) at a time through :meth:`Workload.run`, which brackets the timed
part with ``await cell.start()`` / ``cell.stop()`` and counts ``cell.ops`` and
``cell.nbytes``.

Two kinds of workload:

- *time-boxed* (random reads): every adapter reads for ``cell_time`` seconds;
  rate = operations / elapsed.  Opening the handles is not timed.
- *fixed work* (everything else): the whole job, open and close included, is
  timed.  A job still running after ``cap`` seconds stops early and its rate is
  computed over the part done (``completed`` < 1 in the report): this keeps the
  run bounded when a library needs one thread hop per line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import os
import random
import shutil
from typing import Any

from benchmarks import sysinfo
from benchmarks.adapters import Adapter, BenchFile

__all__ = (
    "GROUPS",
    "Config",
    "Workload",
    "kernel_sweep",
    "kernel_sweep_keys",
    "make_workloads",
    "prepare_data",
)

KiB = 1024
MiB = 1024 * KiB


@dataclasses.dataclass
class Config:
    """Sizes and repetition counts (``--quick`` and flags change them)."""

    file_mib: int = 256
    text_mb: int = 50
    write_mib: int = 128
    hello_count: int = 100_000
    gzip_lines: int = 100_000
    small_files: int = 2000
    small_size: int = 4 * KiB
    mixed_reads: int = 4000
    mixed_whole: int = 40
    mixed_appends: int = 1000
    whole_kib: int = 1024
    #: The "mixed-large" workload reads a file this big whole (past the
    #: profile's thread_read_min, where AUTO and strategy=kernel part ways).
    whole_large_mib: int = 32
    mixed_whole_large: int = 8
    inflight: int = 64
    reps: int = 5
    warmup: int = 1
    cell_time: float = 0.12
    cap: float = 1.0
    #: Entries of the directory the "dir-*" workloads list (issue 10).
    dir_entries: int = 10_000


class Cell:
    """One timed run of one adapter (set up by the runner)."""

    cap: float
    ops: int
    nbytes: int
    completed: float
    backends: set[str]
    extra: dict[str, Any]

    async def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def elapsed(self) -> float:
        raise NotImplementedError

    def expired(self, budget: float | None = None) -> bool:
        raise NotImplementedError

    def note_backend(self, f: BenchFile) -> None:
        self.backends.add(f.backend)


async def _close_all(handles: list[BenchFile]) -> None:
    for h in handles:
        try:
            await h.close()
        except Exception:
            pass


async def _gather(*coros: Any) -> list[Any]:
    """Like ``asyncio.gather``, but every task has finished when an error is raised."""
    results = await asyncio.gather(*coros, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


class Workload:
    key: str = "?"
    title: str = "?"
    unit: str = "ops/s"
    #: Every adapter (forced backends, other caio contexts) runs it.
    chunk: bool = False
    #: Peers' alternative configurations run here too (the small-file rows,
    #: where a plain io_uring ring is the fastest peer).
    peer_variants: bool = False
    #: Only adapters with gzip support run it.
    needs_gzip: bool = False
    #: The batched "hybridio read_many" adapter applies.
    batched_ok: bool = False
    #: Multiplier of ``Config.cap`` for this workload's fixed job.
    cap_factor: float = 1.0
    #: File operations the job needs (an adapter that ``lacks`` one is "n/a").
    needs: tuple[str, ...] = ()
    description: str = ""

    def __init__(self, cfg: Config, paths: dict[str, str]) -> None:
        self.cfg = cfg
        self.paths = paths

    def applies(self, adapter: Adapter) -> str | None:
        """None if *adapter* runs this workload, else why not."""
        if adapter.batched and not self.batched_ok:
            return "read_many applies to random reads only"
        if (
            adapter.chunk_only
            and not self.chunk
            and not (self.peer_variants and adapter.role == "peer")
        ):
            return "alternative backend: measured in the chunk-I/O workloads only"
        for op in self.needs:
            if op in adapter.lacks:
                return adapter.lacks[op]
        return None

    async def before_cell(self, cell: Cell) -> None:
        """Untimed preparation before each cell (page-cache state)."""

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        raise NotImplementedError

    def rate(self, cell: Cell) -> float:
        elapsed = max(cell.elapsed(), 1e-9)
        if self.unit == "MiB/s":
            return cell.nbytes / MiB / elapsed
        return cell.ops / elapsed


# --------------------------------------------------------------------------- random reads


class RandomRead(Workload):
    unit = "ops/s"
    chunk = True
    batched_ok = True

    def __init__(
        self, cfg: Config, paths: dict[str, str], size: int, inflight: int, cold: bool
    ) -> None:
        super().__init__(cfg, paths)
        self.size = size
        self.inflight = inflight
        self.cold = cold
        kib = size // KiB
        temp = "cold" if cold else "cached"
        self.key = f"{'cold' if cold else 'rand'}{kib}k-qd{inflight}"
        self.title = f"random {kib} KiB reads, {temp}, {inflight} in flight"
        self.description = (
            f"read_at() of {kib} KiB at random 4 KiB-aligned offsets of a "
            f"{cfg.file_mib} MiB file, {inflight} concurrent worker(s), "
            f"{cfg.cell_time:g} s per cell; "
            + (
                "the file is evicted (POSIX_FADV_DONTNEED) before every cell"
                if cold
                else "the file is in the page cache"
            )
            + ". Stream-API libraries get one handle per worker (seek + read)."
        )
        rng = random.Random(1234 + size + inflight)
        blocks = max(1, (cfg.file_mib * MiB - size) // (4 * KiB))
        if cold:
            # Distinct blocks: a cell never re-reads a block it brought into the cache.
            picks = rng.sample(range(blocks), min(blocks, 1 << 16))
        else:
            picks = [rng.randrange(blocks) for _ in range(1 << 16)]
        self.offsets = [b * 4 * KiB for b in picks]

    async def before_cell(self, cell: Cell) -> None:
        path = self.paths["big"]
        if self.cold:
            cell.extra["residency_before"] = sysinfo.evict(path)
        else:
            res = sysinfo.residency(path)
            if res is None or res < 0.99:
                res = sysinfo.warm(path)
            cell.extra["residency_before"] = res

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        path = self.paths["big"]
        inflight, size, offsets = self.inflight, self.size, self.offsets
        n_off = len(offsets)
        n_handles = 1 if adapter.positional else inflight
        handles: list[BenchFile] = []
        try:
            for _ in range(n_handles):
                h = await adapter.open(path, "rb")
                handles.append(h)
                cell.note_backend(h)
            samples: list[tuple[int, bytes]] = []
            if adapter.batched:
                h = handles[0]
                await cell.start()
                i = 0
                while not cell.expired():
                    batch = [(offsets[(i + k) % n_off], size) for k in range(inflight)]
                    i += inflight
                    got = await h.read_many(batch)
                    for data in got:
                        cell.nbytes += len(data)
                    cell.ops += inflight
                cell.stop()
                if cell.ops:
                    samples.append((batch[-1][0], got[-1]))
            else:

                async def worker(w: int) -> tuple[int, int, int, bytes]:
                    h = handles[w % n_handles]
                    i, ops, nbytes, off, data = w, 0, 0, 0, b""
                    while not cell.expired():
                        off = offsets[i % n_off]
                        data = await h.read_at(off, size)
                        nbytes += len(data)
                        i += inflight
                        ops += 1
                    return ops, nbytes, off, data

                await cell.start()
                results = await _gather(*(worker(w) for w in range(inflight)))
                cell.stop()
                cell.ops = sum(r[0] for r in results)
                cell.nbytes = sum(r[1] for r in results)
                samples = [(r[2], r[3]) for r in results if r[0]]
        finally:
            await _close_all(handles)
        if cell.nbytes != cell.ops * size:
            raise RuntimeError(f"short reads: {cell.nbytes} bytes for {cell.ops} x {size}")
        _verify(path, samples)
        if self.cold:
            cell.extra["residency_after"] = sysinfo.residency(path)


def _verify(path: str, samples: list[tuple[int, bytes]]) -> None:
    """The last block each worker read must equal the file's bytes there (untimed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        for off, data in samples:
            if os.pread(fd, len(data), off) != data:
                raise RuntimeError(f"wrong data read at offset {off}")
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- sequential


class SequentialRead(Workload):
    key = "seq1m"
    unit = "MiB/s"
    chunk = True

    def __init__(self, cfg: Config, paths: dict[str, str]) -> None:
        super().__init__(cfg, paths)
        self.title = f"sequential 1 MiB reads of {cfg.file_mib} MiB, cached"
        self.description = (
            f"open, read(1 MiB) until EOF, close; the {cfg.file_mib} MiB file is in the page cache."
        )

    async def before_cell(self, cell: Cell) -> None:
        res = sysinfo.residency(self.paths["big"])
        if res is None or res < 0.99:
            res = sysinfo.warm(self.paths["big"])
        cell.extra["residency_before"] = res

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        total = self.cfg.file_mib * MiB
        await cell.start()
        f = await adapter.open(self.paths["big"], "rb")
        cell.note_backend(f)
        try:
            while True:
                data = await f.read(MiB)
                if not data:
                    break
                cell.nbytes += len(data)
                cell.ops += 1
                if cell.expired():
                    break
        finally:
            await f.close()
        cell.stop()
        cell.completed = cell.nbytes / total
        if cell.completed >= 1 and cell.nbytes != total:
            raise RuntimeError(f"read {cell.nbytes} bytes of {total}")


# --------------------------------------------------------------------------- lines


class Lines(Workload):
    key = "lines"
    unit = "lines/s"

    def __init__(self, cfg: Config, paths: dict[str, str], n_lines: int) -> None:
        super().__init__(cfg, paths)
        self.n_lines = n_lines
        self.title = f"async for line over {cfg.text_mb} MB of text"
        self.description = (
            f"open(mode='r', encoding='utf-8'), `async for line in f` over {n_lines:,} lines "
            f"({cfg.text_mb} MB, cached), close."
        )

    async def before_cell(self, cell: Cell) -> None:
        if (sysinfo.residency(self.paths["text"]) or 0) < 0.99:
            sysinfo.warm(self.paths["text"])

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        await cell.start()
        f = await adapter.open(self.paths["text"], "r")
        cell.note_backend(f)
        try:
            n = 0
            async for line in f.iter_lines():
                n += 1
                cell.nbytes += len(line)
                if not n & 1023 and cell.expired():
                    break
        finally:
            await f.close()
        cell.stop()
        cell.ops = n
        cell.completed = n / self.n_lines
        if cell.completed >= 1 and n != self.n_lines:
            raise RuntimeError(f"{n} lines, expected {self.n_lines}")


# --------------------------------------------------------------------------- writes


class WriteFsync(Workload):
    key = "write-fsync"
    unit = "MiB/s"
    chunk = True
    needs = ("fsync",)

    def __init__(self, cfg: Config, paths: dict[str, str]) -> None:
        super().__init__(cfg, paths)
        self.title = f"write {cfg.write_mib} MiB in 64 KiB chunks, then fsync"
        self.description = (
            f"open('wb'), {cfg.write_mib * 16:,} x write(64 KiB), fsync(), close; "
            "the file is deleted (untimed) after each cell."
        )
        self.chunk_data = random.Random(7).randbytes(64 * KiB)

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        path = os.path.join(self.paths["dir"], "write.bin")
        n = self.cfg.write_mib * 16
        data = self.chunk_data
        try:
            await cell.start()
            f = await adapter.open(path, "wb")
            cell.note_backend(f)
            try:
                for i in range(n):
                    cell.nbytes += await f.write(data)
                    cell.ops += 1
                    if not i & 15 and cell.expired():
                        break
                await f.fsync()
            finally:
                await f.close()
            cell.stop()
            cell.completed = cell.ops / n
            if os.path.getsize(path) != cell.nbytes:
                raise RuntimeError(f"file has {os.path.getsize(path)} bytes, wrote {cell.nbytes}")
        finally:
            if os.path.exists(path):
                os.unlink(path)


class Hello(Workload):
    key = "hello"
    unit = "writes/s"

    def __init__(self, cfg: Config, paths: dict[str, str]) -> None:
        super().__init__(cfg, paths)
        self.title = f'{cfg.hello_count:,} x write("Hello World\\n"), text mode'
        self.description = (
            f"open('w', encoding='utf-8'), {cfg.hello_count:,} x write('Hello World\\n'), close."
        )

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        path = os.path.join(self.paths["dir"], "hello.txt")
        n = self.cfg.hello_count
        try:
            await cell.start()
            f = await adapter.open(path, "w")
            cell.note_backend(f)
            try:
                for i in range(n):
                    await f.write("Hello World\n")
                    cell.ops += 1
                    if not i & 511 and cell.expired():
                        break
            finally:
                await f.close()
            cell.stop()
            cell.completed = cell.ops / n
            if os.path.getsize(path) != 12 * cell.ops:
                raise RuntimeError(f"file has {os.path.getsize(path)} bytes")
        finally:
            if os.path.exists(path):
                os.unlink(path)


# --------------------------------------------------------------------------- gzip


class GzipBase(Workload):
    unit = "lines/s"
    needs_gzip = True


class GzipWrite(GzipBase):
    key = "gzip-write"

    def __init__(self, cfg: Config, paths: dict[str, str], lines: list[str]) -> None:
        super().__init__(cfg, paths)
        self.lines = lines
        self.title = f"gzip text write of {cfg.gzip_lines:,} lines"
        self.description = (
            f"open('wt', gzip), {cfg.gzip_lines:,} x write(line), close (each library's "
            "default compression level; the baseline is gzip.open in the coroutine)."
        )

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        path = os.path.join(self.paths["dir"], "out.txt.gz")
        try:
            await cell.start()
            f = await adapter.open(path, "wt", gzip_=True)
            cell.note_backend(f)
            try:
                for i, line in enumerate(self.lines):
                    await f.write(line)
                    cell.ops += 1
                    if not i & 511 and cell.expired():
                        break
            finally:
                await f.close()
            cell.stop()
            cell.completed = cell.ops / len(self.lines)
            with gzip.open(path, "rt", encoding="utf-8") as check:
                if sum(1 for _ in check) != cell.ops:
                    raise RuntimeError("gzip file does not hold the lines written")
        finally:
            if os.path.exists(path):
                os.unlink(path)


class GzipRead(GzipBase):
    key = "gzip-read"

    def __init__(self, cfg: Config, paths: dict[str, str]) -> None:
        super().__init__(cfg, paths)
        self.title = f"gzip text read-back of {cfg.gzip_lines:,} lines"
        self.description = f"open('rt', gzip), `async for line` over {cfg.gzip_lines:,} lines."

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        await cell.start()
        f = await adapter.open(self.paths["gz"], "rt", gzip_=True)
        cell.note_backend(f)
        try:
            n = 0
            async for _line in f.iter_lines():
                n += 1
                if not n & 511 and cell.expired():
                    break
        finally:
            await f.close()
        cell.stop()
        cell.ops = n
        cell.completed = n / self.cfg.gzip_lines
        if cell.completed >= 1 and n != self.cfg.gzip_lines:
            raise RuntimeError(f"{n} lines, expected {self.cfg.gzip_lines}")


# --------------------------------------------------------------------------- small files


async def _create_files(
    adapter: Adapter, cell: Cell, root: str, n: int, payload: bytes, cap: float
) -> list[str]:
    """open('wb') + write + close of up to *n* new files in *root*, until *cap* s."""
    created: list[str] = []
    for i in range(n):
        p = os.path.join(root, f"f{i:05d}.bin")
        f = await adapter.open(p, "wb")
        cell.note_backend(f)
        try:
            await f.write(payload)
        finally:
            await f.close()
        created.append(p)
        if cell.expired(cap):
            break
    return created


class SmallFiles(Workload):
    key = "small-files"
    unit = "files/s"
    cap_factor = 2.0  # creating a file costs ~0.25 ms on ext4 even for the baseline

    def __init__(self, cfg: Config, paths: dict[str, str]) -> None:
        super().__init__(cfg, paths)
        self.title = f"{cfg.small_files:,} small files created and read back"
        self.description = (
            f"{cfg.small_files:,} x (open('wb'), write {cfg.small_size // KiB} KiB, close), then "
            "each file open('rb'), read(), close; rate = files per second (create + read); "
            f"the directory is removed (untimed) after each cell; time cap {cfg.cap * 2:g} s."
        )
        self.payload = random.Random(11).randbytes(cfg.small_size)

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        root = os.path.join(self.paths["dir"], "small")
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        n = self.cfg.small_files
        try:
            await cell.start()
            created = await _create_files(adapter, cell, root, n, self.payload, cell.cap / 2)
            read = 0
            for p in created:
                f = await adapter.open(p, "rb")
                try:
                    data = await f.read()
                finally:
                    await f.close()
                if data != self.payload:
                    raise RuntimeError(f"{p}: read back {len(data)} bytes")
                read += 1
                if cell.expired():
                    break
            cell.stop()
            cell.ops = (len(created) + read) // 2
            cell.completed = cell.ops / n
        finally:
            shutil.rmtree(root, ignore_errors=True)


class SmallRead(Workload):
    """open('rb') + read() + close() of each cached small file (issue 15's web-server case)."""

    peer_variants = True
    key = "small-read"
    unit = "files/s"

    def __init__(self, cfg: Config, paths: dict[str, str]) -> None:
        super().__init__(cfg, paths)
        kib = cfg.small_size // KiB
        self.title = f"open + read + close of {cfg.small_files:,} cached {kib} KiB files"
        self.description = (
            f"each of {cfg.small_files:,} page-cached {kib} KiB files: open('rb'), read(), "
            "close, one after the other, through each library's file API; rate = files per "
            f"second; time cap {cfg.cap * 2:g} s."
        )
        self.cap_factor = 2.0

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        files = small_file_paths(self.cfg, self.paths)
        size = self.cfg.small_size
        await cell.start()
        for p in files:
            f = await adapter.open(p, "rb")
            cell.note_backend(f)
            try:
                data = await f.read()
            finally:
                await f.close()
            if len(data) != size:
                raise RuntimeError(f"{p}: read {len(data)} bytes")
            cell.ops += 1
            cell.nbytes += size
            if not cell.ops & 63 and cell.expired():
                break
        cell.stop()
        cell.completed = cell.ops / len(files)


class SmallCreate(Workload):
    """open('wb') + write() + close() of new small files."""

    peer_variants = True

    key = "small-create"
    unit = "files/s"
    cap_factor = 2.0  # creating a file costs ~0.25 ms on ext4 even for the baseline

    def __init__(self, cfg: Config, paths: dict[str, str]) -> None:
        super().__init__(cfg, paths)
        kib = cfg.small_size // KiB
        self.title = f"create {cfg.small_files:,} files of {kib} KiB"
        self.description = (
            f"{cfg.small_files:,} x (open('wb') of a new file, write {kib} KiB, close); rate = "
            "files per second; the directory is removed (untimed) after each cell; "
            f"time cap {cfg.cap * 2:g} s."
        )
        self.payload = random.Random(12).randbytes(cfg.small_size)

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        root = os.path.join(self.paths["dir"], "small-create")
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        try:
            await cell.start()
            created = await _create_files(
                adapter, cell, root, self.cfg.small_files, self.payload, cell.budget
            )
            cell.stop()
            cell.ops = len(created)
            cell.nbytes = len(created) * len(self.payload)
            cell.completed = cell.ops / self.cfg.small_files
        finally:
            shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- mixed


class Mixed(Workload):
    key = "mixed"
    unit = "ops/s"
    chunk = True
    needs = ("append",)

    def __init__(self, cfg: Config, paths: dict[str, str], *, large: bool = False) -> None:
        super().__init__(cfg, paths)
        self.readers = 8
        self.whole_key = "whole_large" if large else "whole"
        self.whole_size = cfg.whole_large_mib * MiB if large else cfg.whole_kib * KiB
        self.whole_count = cfg.mixed_whole_large if large else cfg.mixed_whole
        if large:
            self.key = "mixed-large"
        size = f"{cfg.whole_large_mib} MiB" if large else f"{cfg.whole_kib} KiB"
        self.title = f"mixed: random reads + whole-file reads ({size}) + appends"
        self.description = (
            f"concurrently: {self.readers} workers doing {cfg.mixed_reads:,} random 4 KiB "
            f"read_at() in total on the cached {cfg.file_mib} MiB file; one task doing "
            f"{self.whole_count} x (open, read() of a {size} file, close); one task "
            f"doing {cfg.mixed_appends:,} x 4 KiB appends to a log opened 'ab'. "
            "Rate = all operations / elapsed."
        )
        rng = random.Random(99)
        blocks = max(1, (cfg.file_mib * MiB - 4 * KiB) // (4 * KiB))
        self.offsets = [rng.randrange(blocks) * 4 * KiB for _ in range(cfg.mixed_reads)]
        self.record = random.Random(5).randbytes(4 * KiB)

    async def before_cell(self, cell: Cell) -> None:
        for key in ("big", self.whole_key):
            if (sysinfo.residency(self.paths[key]) or 0) < 0.99:
                sysinfo.warm(self.paths[key])

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        cfg = self.cfg
        log = os.path.join(self.paths["dir"], "append.log")
        if os.path.exists(log):
            os.unlink(log)
        n_handles = 1 if adapter.positional else self.readers
        handles: list[BenchFile] = []
        whole_size = self.whole_size

        async def reader(w: int) -> int:
            h = handles[w % n_handles]
            done = 0
            for i in range(w, len(self.offsets), self.readers):
                if len(await h.read_at(self.offsets[i], 4 * KiB)) != 4 * KiB:
                    raise RuntimeError("short read")
                done += 1
                if not done & 31 and cell.expired():
                    break
            return done

        async def whole() -> int:
            done = 0
            for _ in range(self.whole_count):
                f = await adapter.open(self.paths[self.whole_key], "rb")
                try:
                    if len(await f.read()) != whole_size:
                        raise RuntimeError("short whole-file read")
                finally:
                    await f.close()
                done += 1
                if cell.expired():
                    break
            return done

        async def appender() -> int:
            f = await adapter.open(log, "ab")
            cell.note_backend(f)
            done = 0
            try:
                for _ in range(cfg.mixed_appends):
                    await f.write(self.record)
                    done += 1
                    if not done & 31 and cell.expired():
                        break
            finally:
                await f.close()
            return done

        try:
            await cell.start()
            for _ in range(n_handles):
                h = await adapter.open(self.paths["big"], "rb")
                handles.append(h)
                cell.note_backend(h)
            counts = await _gather(*(reader(w) for w in range(self.readers)), whole(), appender())
            await _close_all(handles)
            handles = []
            cell.stop()
            cell.ops = sum(counts)
            total = cfg.mixed_reads + self.whole_count + cfg.mixed_appends
            cell.completed = cell.ops / total
            if os.path.getsize(log) != counts[-1] * 4 * KiB:
                raise RuntimeError("append log has the wrong size")
        finally:
            await _close_all(handles)
            if os.path.exists(log):
                os.unlink(log)


# --------------------------------------------------------------------------- bulk path


class Bulk(Workload):
    """A whole-file job: one call per file, the library's bulk helper against
    the synchronous loop (the baseline) and the peers' equivalents."""

    op = "?"

    def applies(self, adapter: Adapter) -> str | None:
        why = super().applies(adapter)
        if why is not None:
            return why
        if self.op not in adapter.bulk:
            return f"no {self.op} equivalent"
        return None

    async def before_cell(self, cell: Cell) -> None:
        res = sysinfo.residency(self.paths["big"])
        if res is None or res < 0.99:
            res = sysinfo.warm(self.paths["big"])
        cell.extra["residency_before"] = res


class HashFile(Bulk):
    key = "hash-file"
    unit = "MiB/s"
    op = "hash_file"

    def __init__(self, cfg: Config, paths: dict[str, str]) -> None:
        super().__init__(cfg, paths)
        self.title = f"hash_file (blake2b) of a {cfg.file_mib} MiB cached file"
        self.description = (
            f"blake2b hex digest of the {cfg.file_mib} MiB file (in the page cache). "
            "Baseline: the synchronous hashlib loop (1 MiB readinto) in the coroutine; "
            "hybridio: hybridio.hash_file (the same loop in ONE thread call). "
            "The stall column is the worst event-loop stall during the job."
        )
        self.expected: str | None = None

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        path = self.paths["big"]
        if self.expected is None:
            self.expected = _blake2b(path)  # untimed, once
        await cell.start()
        digest = await adapter.hash_file(path)
        cell.stop()
        if adapter.role == "hybridio":
            cell.backends.add("bulk path")
        if digest != self.expected:
            raise RuntimeError(f"{adapter.name}: wrong digest")
        cell.ops = 1
        cell.nbytes = os.path.getsize(path)


class CopyFile(Bulk):
    key = "copy-file"
    unit = "MiB/s"
    op = "copy"

    def __init__(self, cfg: Config, paths: dict[str, str]) -> None:
        super().__init__(cfg, paths)
        self.title = f"copy of a {cfg.file_mib} MiB cached file"
        self.description = (
            f"copy the {cfg.file_mib} MiB file (in the page cache) to a new file in the same "
            "directory. Baseline: shutil.copyfile in the coroutine; hybridio: hybridio.copy "
            "(copy_file_range in ONE thread call, permission bits copied too). "
            "The copy is deleted (untimed) after each cell."
        )

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        src = self.paths["big"]
        dst = os.path.join(self.paths["dir"], "copy.bin")
        if os.path.exists(dst):
            os.unlink(dst)
        try:
            await cell.start()
            await adapter.copy(src, dst)
            cell.stop()
            if adapter.role == "hybridio":
                cell.backends.add("bulk path")
            size = os.path.getsize(src)
            if os.path.getsize(dst) != size:
                raise RuntimeError(f"{adapter.name}: copy has {os.path.getsize(dst)} bytes")
            if _head_tail(src) != _head_tail(dst):
                raise RuntimeError(f"{adapter.name}: copy differs")
            cell.ops = 1
            cell.nbytes = size
        finally:
            if os.path.exists(dst):
                os.unlink(dst)


class ReadSmallFiles(Bulk):
    key = "read-bytes-small"
    unit = "files/s"
    op = "read_bytes"

    def __init__(self, cfg: Config, paths: dict[str, str]) -> None:
        super().__init__(cfg, paths)
        kib = cfg.small_size // KiB
        self.title = f"read_bytes of {cfg.small_files:,} files of {kib} KiB"
        self.description = (
            f"read each of {cfg.small_files:,} cached {kib} KiB files whole, one after the "
            "other. Baseline: open/read/close in the coroutine; hybridio: hybridio.read_bytes "
            "(one thread call per file); anyio: anyio.Path.read_bytes; aiofiles: "
            "async with aiofiles.open + read (its idiom: three thread calls). "
            f"Time cap {cfg.cap * 2:g} s."
        )
        self.cap_factor = 2.0

    async def before_cell(self, cell: Cell) -> None:
        pass  # the files were just written by prepare_data or read by the last cell

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        files = small_file_paths(self.cfg, self.paths)
        size = self.cfg.small_size
        await cell.start()
        for p in files:
            data = await adapter.read_bytes(p)
            if len(data) != size:
                raise RuntimeError(f"{p}: read {len(data)} bytes")
            cell.ops += 1
            cell.nbytes += size
            if not cell.ops & 63 and cell.expired():
                break
        cell.stop()
        if adapter.role == "hybridio":
            cell.backends.add("bulk path")
        cell.completed = cell.ops / len(files)


def _blake2b(path: str) -> str:
    import hashlib

    digest = hashlib.blake2b()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def _head_tail(path: str) -> tuple[bytes, bytes]:
    with open(path, "rb") as f:
        head = f.read(64 * KiB)
        f.seek(-64 * KiB, os.SEEK_END)
        return head, f.read()


def small_file_paths(cfg: Config, paths: dict[str, str]) -> list[str]:
    """The files of the read-bytes-small workload (created by prepare_data)."""
    root = paths["bulk_small"]
    return [os.path.join(root, f"s{i:05d}.bin") for i in range(cfg.small_files)]


# --------------------------------------------------------------------------- data


_WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliett",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "async",
    "await",
    "kernel",
    "buffer",
    "thread",
    "future",
    "ring",
    "queue",
    "page",
    "cache",
    "read",
    "write",
    "line",
]


def _text_lines(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    base = [" ".join(rng.choices(_WORDS, k=rng.randint(3, 12))) for _ in range(4096)]
    return [f"{i:08d} {base[i % len(base)]}\n" for i in range(n)]


def _write_if_needed(path: str, size: int, writer: Any) -> None:
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    tmp = path + ".tmp"
    writer(tmp)
    os.replace(tmp, path)


def prepare_data(cfg: Config, data_dir: str, log: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """Create (or reuse) the data files; return their paths and facts about them."""
    os.makedirs(data_dir, exist_ok=True)
    paths = {
        "dir": data_dir,
        "big": os.path.join(data_dir, f"big-{cfg.file_mib}m.bin"),
        "whole": os.path.join(data_dir, f"whole-{cfg.whole_kib}k.bin"),
        "whole_large": os.path.join(data_dir, f"whole-{cfg.whole_large_mib}m.bin"),
        "text": os.path.join(data_dir, f"text-{cfg.text_mb}mb.txt"),
        "gz": os.path.join(data_dir, f"lines-{cfg.gzip_lines}.txt.gz"),
        "bulk_small": os.path.join(data_dir, f"small-{cfg.small_files}x{cfg.small_size}"),
    }
    facts: dict[str, Any] = {}

    def big(tmp: str) -> None:
        log(f"creating {paths['big']} ({cfg.file_mib} MiB)")
        rng = random.Random(42)
        with open(tmp, "wb") as f:
            for _ in range(cfg.file_mib):
                f.write(rng.randbytes(MiB))

    _write_if_needed(paths["big"], cfg.file_mib * MiB, big)

    def whole(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(random.Random(43).randbytes(cfg.whole_kib * KiB))

    _write_if_needed(paths["whole"], cfg.whole_kib * KiB, whole)

    def whole_large(tmp: str) -> None:
        rng = random.Random(44)
        with open(tmp, "wb") as f:
            for _ in range(cfg.whole_large_mib):
                f.write(rng.randbytes(MiB))

    _write_if_needed(paths["whole_large"], cfg.whole_large_mib * MiB, whole_large)

    # Text: numbered lines up to text_mb megabytes (10**6 bytes).
    target = cfg.text_mb * 10**6
    lines: list[str] = []
    size = 0
    i = 0
    chunk = _text_lines(200_000, 3)
    while size < target:
        line = chunk[i % len(chunk)]
        line = f"{i:08d}{line[8:]}"
        if size + len(line) > target and lines:
            break
        lines.append(line)
        size += len(line)
        i += 1
    text = "".join(lines).encode("utf-8")
    facts["text_lines"] = len(lines)
    del lines
    if not (os.path.exists(paths["text"]) and os.path.getsize(paths["text"]) == len(text)):
        log(f"creating {paths['text']} ({cfg.text_mb} MB)")
        with open(paths["text"] + ".tmp", "wb") as f:
            f.write(text)
        os.replace(paths["text"] + ".tmp", paths["text"])
    del text

    small = small_file_paths(cfg, paths)
    if not all(os.path.exists(p) for p in small):
        log(f"creating {len(small)} files in {paths['bulk_small']}")
        os.makedirs(paths["bulk_small"], exist_ok=True)
        payload = random.Random(12).randbytes(cfg.small_size)
        for p in small:
            with open(p, "wb") as f:
                f.write(payload)

    gz_lines = _text_lines(cfg.gzip_lines, 4)
    facts["gzip_lines"] = gz_lines
    if not os.path.exists(paths["gz"]):
        log(f"creating {paths['gz']}")
        tmp = paths["gz"] + ".tmp"
        with gzip.open(tmp, "wt", encoding="utf-8") as f:
            f.writelines(gz_lines)
        os.replace(tmp, paths["gz"])
    return paths, facts


#: Queue depths of the kernel-path sweep (issue 14).
KERNEL_DEPTHS = (1, 4, 16, 64)


def kernel_sweep(cfg: Config, paths: dict[str, str]) -> list[Workload]:
    """The kernel-path depth sweep (``--workloads kernel``, ``make bench-kernel``):
    cold and cached 4 KiB random reads at each of :data:`KERNEL_DEPTHS`, cached
    64 KiB random reads at depth 64 and sequential 1 MiB reads of the big file."""
    rows: list[Workload] = [RandomRead(cfg, paths, 4 * KiB, d, cold=True) for d in KERNEL_DEPTHS]
    rows += [RandomRead(cfg, paths, 4 * KiB, d, cold=False) for d in KERNEL_DEPTHS]
    rows += [RandomRead(cfg, paths, 64 * KiB, 64, cold=False), SequentialRead(cfg, paths)]
    return rows


def kernel_sweep_keys() -> list[str]:
    """The keys :func:`kernel_sweep` produces (the report's depth-sweep section)."""
    return [f"cold4k-qd{d}" for d in KERNEL_DEPTHS] + [
        *(f"rand4k-qd{d}" for d in KERNEL_DEPTHS),
        "rand64k-qd64",
        "seq1m",
    ]


#: Named sets of workloads ``--workloads`` accepts besides key substrings.
GROUPS = {"kernel": kernel_sweep}


def make_workloads(cfg: Config, paths: dict[str, str], facts: dict[str, Any]) -> list[Workload]:
    """Every workload, in report order."""
    q = cfg.inflight
    return [
        RandomRead(cfg, paths, 4 * KiB, 1, cold=False),
        RandomRead(cfg, paths, 4 * KiB, q, cold=False),
        RandomRead(cfg, paths, 64 * KiB, 1, cold=False),
        RandomRead(cfg, paths, 64 * KiB, q, cold=False),
        RandomRead(cfg, paths, 4 * KiB, 1, cold=True),
        RandomRead(cfg, paths, 4 * KiB, q, cold=True),
        SequentialRead(cfg, paths),
        Lines(cfg, paths, facts["text_lines"]),
        WriteFsync(cfg, paths),
        Hello(cfg, paths),
        GzipWrite(cfg, paths, facts["gzip_lines"]),
        GzipRead(cfg, paths),
        SmallFiles(cfg, paths),
        SmallRead(cfg, paths),
        SmallCreate(cfg, paths),
        Mixed(cfg, paths),
        Mixed(cfg, paths, large=True),
        HashFile(cfg, paths),
        CopyFile(cfg, paths),
        ReadSmallFiles(cfg, paths),
        # -- issue 10: directory listing
        DirListing(cfg, paths, "scandir"),
        DirListing(cfg, paths, "iterdir"),
    ]


# --------------------------------------------------------------------------- directory listing
# (issue 10: hybridio.os / hybridio.Path against aiofiles.os and anyio.Path)


# Each returns the listed objects: DirEntry objects in the scandir row, Path
# objects in the iterdir row (aiofiles has no Path: os.listdir's names).


async def _list_blocking(style: str, root: str) -> list[Any]:
    if style == "scandir":
        with os.scandir(root) as it:
            return list(it)
    import pathlib

    return list(pathlib.Path(root).iterdir())


async def _list_hybridio(style: str, root: str) -> list[Any]:
    import hybridio

    if style == "scandir":
        async with hybridio.os.scandir(root) as it:
            return [e async for e in it]
    return [p async for p in hybridio.Path(root).iterdir()]


async def _list_aiofiles(style: str, root: str) -> list[Any]:
    import aiofiles.os

    if style == "scandir":
        # aiofiles hands back os.scandir's iterator: each next() runs in the loop.
        with await aiofiles.os.scandir(root) as it:
            return list(it)
    return list(await aiofiles.os.listdir(root))


async def _list_anyio(style: str, root: str) -> list[Any]:
    import anyio

    # anyio has no scandir: Path.iterdir is its listing in both rows.
    return [p async for p in anyio.Path(root).iterdir()]


_LISTERS: dict[str, Any] = {
    "blocking (baseline)": _list_blocking,
    "hybridio": _list_hybridio,
    "aiofiles": _list_aiofiles,
    "anyio": _list_anyio,
}


class DirListing(Workload):
    """List a directory of ``cfg.dir_entries`` empty files (names only)."""

    unit = "entries/s"
    cap_factor = 4.0

    def __init__(self, cfg: Config, paths: dict[str, str], style: str) -> None:
        super().__init__(cfg, paths)
        self.style = style
        self.key = f"dir-{style}"
        n = cfg.dir_entries
        calls = {
            "scandir": "hybridio.os.scandir / aiofiles.os.scandir / os.scandir",
            "iterdir": "hybridio.Path.iterdir / aiofiles.os.listdir / pathlib.Path.iterdir",
        }[style]
        self.title = f"listing a {n:,}-file directory ({style})"
        self.description = (
            f"one directory of {n:,} empty files listed whole ({calls}; anyio.Path.iterdir "
            "in both rows); rate = entries per second; the directory is created once, untimed."
        )
        self.root = os.path.join(paths["dir"], f"dir-{n}")

    def applies(self, adapter: Adapter) -> str | None:
        if adapter.name not in _LISTERS:
            return "directory listing: measured for one row per library"
        return super().applies(adapter)

    async def before_cell(self, cell: Cell) -> None:
        n = self.cfg.dir_entries
        marker = os.path.join(self.root, ".complete")
        if os.path.exists(marker):
            return
        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(self.root)
        for i in range(n - 1):
            open(os.path.join(self.root, f"f{i:06d}"), "wb").close()
        open(marker, "wb").close()

    async def run(self, adapter: Adapter, cell: Cell) -> None:
        lister = _LISTERS[adapter.name]
        await cell.start()
        names = await lister(self.style, self.root)
        cell.stop()
        cell.backends.add("thread" if adapter.library != "blocking" else "blocking")
        if len(names) != self.cfg.dir_entries:
            raise RuntimeError(f"listed {len(names)} entries, expected {self.cfg.dir_entries}")
        cell.ops = len(names)
        cell.completed = 1.0
