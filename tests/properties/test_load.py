"""Concurrency, fairness, backpressure and resource limits (L1, L2, L4, L5, F3)."""

from __future__ import annotations

import asyncio
import errno
import gc
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

import hybridio

# The first thread-served open imports the stream layer (and gzip, bz2, lzma) in
# the loop thread: a 60 ms stall measured here (issue 9 item 8, "first
# async_open of a process").  Imported up front so the 50 ms heartbeat test
# below measures slow I/O, not that.
import hybridio._layers.stream
from hybridio import TuningProfile
from hybridio._engines import fairness, kernel
from tests.conftest import LoopStall, fd_count, stall_watch
from tests.fakes import Fault, install_faults

CHUNK = 64 * 1024


async def test_concurrent_non_overlapping_writes_then_reads_are_byte_exact(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "l1"
    chunks = [os.urandom(CHUNK) for _ in range(32)]
    big = os.urandom(4 << 20)
    async with hybridio.async_open(path, "w+b", backend=backend) as f:
        await asyncio.gather(*(f.write_at(i * CHUNK, c) for i, c in enumerate(chunks)))
        await f.write_at(len(chunks) * CHUNK, big)  # a single 4 MiB transfer
        back = await asyncio.gather(*(f.read_at(i * CHUNK, CHUNK) for i in range(len(chunks))))
        tail = await f.read_at(len(chunks) * CHUNK, len(big))
    expected = hashlib.sha256(b"".join(chunks) + big).hexdigest()
    assert hashlib.sha256(b"".join(back) + tail).hexdigest() == expected
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected


def test_tiny_ring_40_concurrent_operations_all_complete(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "l2"
    path.write_bytes(bytes(range(256)) * 64)
    tiny = TuningProfile(max_requests=2, inline_max=0, source="test")

    async def main() -> list[Any]:
        async with hybridio.async_open(path, "r+b", backend=backend, profile=tiny) as f:
            assert f._raw.engine._max == 2  # type: ignore[attr-defined]
            reads = [f.read_at(i * 100, 100) for i in range(20)]
            writes = [f.write_at(10_000 + i * 10, b"w" * 10) for i in range(20)]
            results = await asyncio.wait_for(asyncio.gather(*reads, *writes), timeout=60)
            batch = await asyncio.wait_for(
                f.read_many([(i * 50, 50) for i in range(40)]), timeout=60
            )
            return [*results, *batch]

    results = asyncio.run(main())  # a fresh loop: its context is created with the tiny ring
    data = bytes(range(256)) * 64
    assert results[:20] == [data[i * 100 : i * 100 + 100] for i in range(20)]
    assert results[20:40] == [10] * 20
    assert path.read_bytes()[10_000:10_200] == b"w" * 200
    assert results[40:] == [
        (data[:10_000] + b"w" * 200 + data[10_200:])[i * 50 : i * 50 + 50] for i in range(40)
    ]


async def test_one_async_open_awaited_by_10_tasks_opens_one_fd(tmp_path: Path) -> None:
    path = tmp_path / "l4"
    path.write_bytes(b"shared")
    async with hybridio.async_open(path, "rb"):
        pass  # the loop's kernel context exists before the baseline
    fds = fd_count()
    opening = hybridio.async_open(path, "rb")

    async def use() -> bytes:
        f = await opening
        return await f.read_at(0, 6)

    results = await asyncio.gather(*(use() for _ in range(10)))
    assert results == [b"shared"] * 10
    assert fd_count() == fds + 1
    f = await opening
    await f.close()
    assert fd_count() == fds


async def test_readers_of_cached_data_let_other_tasks_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hot"
    path.write_bytes(os.urandom(4 << 20))
    path.read_bytes()  # page-cached: every read below completes without suspending
    # Every read after a streak's first is "overdue": the loop must turn every
    # other read, deterministically (the real budget is BUDGET_SECONDS).
    monkeypatch.setattr(fairness, "BUDGET_SECONDS", -1.0)
    ticks = 0
    stop = False

    async def other_task() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.ensure_future(other_task())
    await asyncio.sleep(0)
    async with hybridio.async_open(path, "rb", buffering=65536) as f:
        before = ticks
        for offset in range(0, 4 << 20, 4096):
            await f.read_at(offset, 4096)
        positional = ticks - before
        before = ticks
        while await f.read(16384):
            pass
        streaming = ticks - before
        before = ticks
        for offset in range(0, 4 << 20, 64 * 4096):
            await f.read_many([(offset + i * 4096, 4096) for i in range(64)])
        batched = ticks - before
        before = ticks
        # 8 concurrent readers share one turn: the ticker runs between rounds.
        await asyncio.gather(*(f.read_at(offset, 4096) for offset in range(0, 1 << 20, 4096)))
        concurrent = ticks - before
    stop = True
    await ticker
    assert positional >= 512  # a turn every other read
    assert streaming >= 32  # every other 64 KiB read-ahead refill
    assert batched >= 8  # every other batch
    assert concurrent >= 1
    assert fairness.BUDGET_SECONDS < 0


def test_efbig_from_rlimit_fsize_is_raised_and_the_fd_released(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio, errno, os, resource, signal, sys
        import hybridio

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        backend = sys.argv[2]

        async def main():
            async with hybridio.async_open(sys.argv[1] + ".warm", "wb", backend=backend):
                pass  # the loop's kernel context exists before the baseline
            base = len(os.listdir("/proc/self/fd"))
            f = await hybridio.async_open(sys.argv[1], "wb", backend=backend)
            await f.write(b"x" * 4000)                       # buffered: fine
            await f.write(b"y" * 200)                        # still buffered
            try:
                await f.flush()
            except OSError as exc:
                flush_errno = exc.errno
            else:
                flush_errno = None
            try:
                await f.close()
            except OSError as exc:
                close_errno = exc.errno
            else:
                close_errno = None
            print(flush_errno, close_errno, f.closed, len(os.listdir("/proc/self/fd")) - base)

        asyncio.run(main())
        """
    )
    for backend in ("uring", "thread"):
        if hybridio._engines.kernel.probe(backend) is not None:
            continue
        out = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / f"big-{backend}"), backend],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert out[0] == str(errno.EFBIG), out
        assert out[2] == "True"
        assert out[3] == "0"  # the fd is released although flush and close failed
        assert (tmp_path / f"big-{backend}").stat().st_size == 4096


def test_basic_io_on_uvloop(tmp_path: Path, backend: str, loop_factory: Any) -> None:
    path = tmp_path / "uv"

    async def main() -> list[bytes]:
        async with hybridio.async_open(path, "w+b", backend=backend) as f:
            await f.write(b"hello uvloop\n" * 1000)
            await f.seek(0)
            first = await f.readline()
            pages = await f.read_many([(0, 5), (13, 5)])
            return [first, *pages]

    loop = loop_factory()
    try:
        assert loop.run_until_complete(main()) == [b"hello uvloop\n", b"hello", b"hello"]
    finally:
        loop.close()


# -- load: many tasks, one file, every byte checked ---------------------------

READERS = 1000
SLICE = 4096


def _engine_params() -> list[Any]:
    """Every kernel backend (skipped with its reason when unavailable) and the thread engine."""
    params = []
    for name in kernel.BACKEND_NAMES:
        reason = kernel.probe(name)
        marks = [pytest.mark.skip(reason=f"{name} unavailable here: {reason}")] if reason else []
        if name == "python":
            # caio's pure-Python pool runs its workers' Python code under the
            # GIL: with 1,000 reads queued the loop thread waits for the GIL
            # (2.2 s seen).  Forced here; AUTO never serves a file with it (it
            # picks the thread engine instead).
            marks.append(pytest.mark.stall_bound(30.0))
        params.append(pytest.param({"backend": name}, marks=marks, id=name))
    params.append(pytest.param({"strategy": "thread"}, id="thread-engine"))
    return params


ENGINES = _engine_params()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# issue 9 item 8: 1,000 opens and first reads started in one loop turn.  The
# opens the memo declines (the thread and python backends here) now ask the
# loop's turn budget too: worst stall 0.6-4.7 s before, 15-45 ms after.
@pytest.mark.stall_bound(0.5)
@pytest.mark.parametrize("how", ENGINES)
async def test_1000_concurrent_readers_through_their_own_handles_read_exact_bytes(
    tmp_path: Path, how: dict[str, str]
) -> None:
    path = tmp_path / "shared"
    payload = os.urandom(READERS * SLICE)
    path.write_bytes(payload)

    async def reader(i: int) -> tuple[str, str]:
        async with hybridio.async_open(path, "rb", **how) as f:  # type: ignore[call-overload]
            positional = await f.read_at(i * SLICE, SLICE)
            await f.seek(i * SLICE)
            streamed = await f.read(SLICE // 2) + await f.read(SLICE - SLICE // 2)
            return _digest(positional), _digest(streamed)

    got = await asyncio.wait_for(asyncio.gather(*(reader(i) for i in range(READERS))), 120)
    expected = [_digest(payload[i * SLICE : (i + 1) * SLICE]) for i in range(READERS)]
    assert [p for p, _ in got] == expected
    assert [s for _, s in got] == expected


# issue 9 item 8: 1,000 ready reads are served in one turn: 20-180 ms measured here.
@pytest.mark.stall_bound(1.0)
@pytest.mark.parametrize("how", ENGINES)
async def test_1000_concurrent_positional_readers_on_one_shared_handle(
    tmp_path: Path, how: dict[str, str]
) -> None:
    path = tmp_path / "shared"
    payload = os.urandom(READERS * SLICE)
    path.write_bytes(payload)
    async with hybridio.async_open(path, "rb", **how) as f:  # type: ignore[call-overload]
        # Unaligned, overlapping slices: every reader gets exactly its range.
        spans = [
            (i * SLICE - (i % 7) * 100 if i else 0, SLICE + (i % 5) * 333) for i in range(READERS)
        ]
        got = await asyncio.wait_for(asyncio.gather(*(f.read_at(o, n) for o, n in spans)), 120)
    assert [_digest(g) for g in got] == [_digest(payload[o : o + n]) for o, n in spans]


@pytest.mark.parametrize("shared", [True, False], ids=["one-handle", "own-handles"])
@pytest.mark.parametrize("how", ENGINES)
async def test_64_writers_with_write_at_on_disjoint_ranges_are_byte_exact(
    tmp_path: Path, how: dict[str, str], shared: bool
) -> None:
    path = tmp_path / "w"
    path.write_bytes(b"")
    pieces = [os.urandom(16_384 + i * 7) for i in range(64)]  # odd sizes: unaligned offsets
    offsets = [sum(len(p) for p in pieces[:i]) for i in range(64)]
    async with hybridio.async_open(path, "r+b", **how) as f:  # type: ignore[call-overload]

        async def writer(i: int) -> int:
            if shared:
                return await f.write_at(offsets[i], pieces[i])
            async with hybridio.async_open(path, "r+b", **how) as own:  # type: ignore[call-overload]
                return await own.write_at(offsets[i], pieces[i])

        counts = await asyncio.wait_for(asyncio.gather(*(writer(i) for i in range(64))), 120)
        back = await f.read_at(0, offsets[-1] + len(pieces[-1]))
    assert counts == [len(p) for p in pieces]
    assert _digest(back) == _digest(b"".join(pieces))
    assert _digest(path.read_bytes()) == _digest(b"".join(pieces))


RECORD = 100
TASKS = 64
RECORDS_PER_TASK = 40


def _record(task: int, seq: int) -> bytes:
    head = f"{task:03d}:{seq:05d}:".encode()
    body = head + os.urandom(RECORD).hex().encode()[: RECORD - 9 - len(head)]
    crc = zlib.crc32(body)
    rec = body + f"{crc:08x}".encode() + b"\n"
    assert len(rec) == RECORD, len(rec)
    return rec


def _check_records(data: bytes) -> tuple[int, int, int]:
    """(intact, torn, duplicated) records; all TASKS x RECORDS_PER_TASK must be intact once."""
    seen: set[tuple[int, int]] = set()
    intact = torn = dup = 0
    for start in range(0, len(data), RECORD):
        rec = data[start : start + RECORD]
        body, crc, nl = rec[:-9], rec[-9:-1], rec[-1:]
        try:
            ok = nl == b"\n" and f"{zlib.crc32(body):08x}".encode() == crc
        except ValueError:
            ok = False
        if not ok:
            torn += 1
            continue
        key = (int(body[:3]), int(body[4:9]))
        if key in seen:
            dup += 1
        seen.add(key)
        intact += 1
    return intact - dup, torn, dup


async def _write_records(
    f: Any, task: int, records: dict[tuple[int, int], bytes], flush_every: int
) -> None:
    for seq in range(RECORDS_PER_TASK):
        # One complete record per write: the stream must behave as if the
        # writes were serialised (stdlib BufferedWriter).
        await f.write(records[(task, seq)])
        if flush_every and seq % flush_every == flush_every - 1:
            await f.flush()


def _streaming_params() -> list[Any]:
    # Every engine, the kernel ones included (issue 9 item 1: they tore and
    # lost records before stream calls were serialised per handle).
    return [pytest.param(p.values[0], marks=list(p.marks), id=p.id) for p in ENGINES]


@pytest.mark.parametrize("how", _streaming_params())
async def test_64_tasks_streaming_records_to_one_handle_lose_tear_and_duplicate_nothing(
    tmp_path: Path, how: dict[str, str]
) -> None:
    records = {(t, s): _record(t, s) for t in range(TASKS) for s in range(RECORDS_PER_TASK)}
    # Flushes in flight while other tasks write, at two buffer sizes, and the
    # buffer's own flushes alone: each pattern tears records on a handle that
    # does not serialise its stream calls (a flush every 3 records failed
    # 10 of 10 runs on every kernel backend here).
    patterns = [(3, -1), (3, 8192), (0, -1)]
    results = []
    for n, (flush_every, buffering) in enumerate(patterns):
        path = tmp_path / f"log{n}"
        async with hybridio.async_open(path, "wb", buffering=buffering, **how) as f:  # type: ignore[call-overload]
            writers = (_write_records(f, t, records, flush_every) for t in range(TASKS))
            await asyncio.wait_for(asyncio.gather(*writers), 120)
        data = path.read_bytes()
        results.append((*_check_records(data), len(data)))
        expected = sorted(records.values())
        if sorted(data[i : i + RECORD] for i in range(0, len(data), RECORD)) != expected:
            results[-1] += ("contents differ",)
    assert results == [(len(records), 0, 0, len(records) * RECORD)] * len(patterns)


# -- checklist cases that had no test -----------------------------------------


@pytest.mark.stall_bound(0.05)
async def test_the_loop_keeps_its_heartbeat_under_50ms_while_io_is_slow(tmp_path: Path) -> None:
    """L5 (aiofiles test_slow_file): a reader waiting on slow I/O never holds the loop.

    A writer thread trickles 20 chunks into a FIFO, 10 ms apart; the watchdog
    (bound 50 ms, this test's marker) fails the test if any read blocked it.
    """
    fifo = tmp_path / "slow"
    os.mkfifo(fifo)
    chunks = [os.urandom(1000) for _ in range(20)]

    def trickle() -> None:
        with open(fifo, "wb", buffering=0) as w:
            for chunk in chunks:
                w.write(chunk)
                threading.Event().wait(0.01)

    writer = threading.Thread(target=trickle)
    writer.start()
    try:
        got = bytearray()
        async with hybridio.async_open(fifo, "rb") as f:
            while piece := await asyncio.wait_for(f.read(4096), 30):
                got += piece
    finally:
        writer.join(30)
    assert bytes(got) == b"".join(chunks)


_ENOSPC_CHILD = textwrap.dedent(
    """
    import asyncio, errno, json, os, sys
    import hybridio

    async def one(path, how):
        base = len(os.listdir("/proc/self/fd"))
        out = {}
        f = await hybridio.async_open(path, "wb", **how)
        try:
            for _ in range(64):
                await f.write(b"x" * 8192)  # 512 KiB into a 256 KiB filesystem
            await f.flush()
        except OSError as exc:
            out["write"] = exc.errno
        try:
            await f.close()
        except OSError as exc:
            out["close"] = exc.errno
        out["closed"] = f.closed
        out["fds"] = len(os.listdir("/proc/self/fd")) - base
        os.unlink(path)
        return out

    async def main(root):
        results = {}
        for name in sys.argv[2:]:
            how = {"strategy": "thread"} if name == "thread-engine" else {"backend": name}
            async with hybridio.async_open(os.path.join(root, "warm"), "wb", **how):
                pass  # the loop's engine exists before the fd baseline
            os.unlink(os.path.join(root, "warm"))
            results[name] = await one(os.path.join(root, name), how)
        return results

    print(json.dumps(asyncio.run(main(sys.argv[1]))))
    """
)


def test_enospc_on_a_full_filesystem_is_raised_and_the_fd_released(tmp_path: Path) -> None:
    """F3 with a real ENOSPC: a 256 KiB tmpfs mounted in a private mount namespace."""
    names = [n for n in kernel.BACKEND_NAMES if kernel.probe(n) is None] + ["thread-engine"]
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    script = tmp_path / "child.py"
    script.write_text(_ENOSPC_CHILD)
    shell = (
        f"mount -t tmpfs -o size=256k tmpfs {mnt} || exit 77; "
        f"exec {sys.executable} {script} {mnt} {' '.join(names)}"
    )
    try:
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", shell],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
    except FileNotFoundError:
        pytest.skip("no unshare(1) here")
    if done.returncode in (1, 77) and not done.stdout:
        pytest.skip(f"cannot mount a private tmpfs here: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    for name in names:
        out = results[name]
        assert out["write"] == errno.ENOSPC, (name, out)  # never swallowed
        assert out["closed"] is True, (name, out)
        assert out["fds"] == 0, (name, out)  # released although flush and close failed


@pytest.mark.parametrize("how", ENGINES)
@pytest.mark.parametrize("call", ["fsync", "fdatasync"])
async def test_an_fsync_error_is_raised_never_swallowed(
    tmp_path: Path, how: dict[str, str], call: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D1: the kernel's error from fsync/fdatasync reaches the caller, on every engine."""
    path = tmp_path / "f"
    kernel_served = "backend" in how
    sync_fails = Fault(call, error=errno.EIO)
    if kernel_served:
        # Kernel-served: the engine's sync comes back EIO, as a dying disk answers.
        install_faults(monkeypatch, sync_fails)
    async with hybridio.async_open(path, "wb", **how) as f:  # type: ignore[call-overload]
        await f.write(b"durable?")
        if not kernel_served:
            # Thread-served: the OS call in the worker fails as a dying disk would.
            def eio(fd: int) -> None:
                raise OSError(errno.EIO, os.strerror(errno.EIO))

            monkeypatch.setattr(os, call, eio)
        with pytest.raises(OSError, match=os.strerror(errno.EIO)) as info:
            await getattr(f, call)()
        assert info.value.errno == errno.EIO
        monkeypatch.undo()
    assert path.read_bytes() == b"durable?"  # the flush before the sync landed
    assert sync_fails.hits == kernel_served  # the fake engine served the kernel's sync


def _block(seconds: float) -> None:
    time.sleep(seconds)  # a blocking call, as a library bug would make one


def test_the_stall_watchdog_catches_a_blocked_loop_and_names_the_call(loop_factory: Any) -> None:
    async def main() -> None:
        await asyncio.sleep(0.005)
        _block(0.12)
        await asyncio.sleep(0.005)

    loop = loop_factory()
    try:
        with pytest.raises(LoopStall) as info, stall_watch(loop, 0.05, what="self-test"):
            loop.run_until_complete(main())
    finally:
        loop.close()
    message = str(info.value)
    assert message.startswith("self-test: the event loop was blocked for ")
    assert "in _block" in message  # the monitor thread saw where the loop was


def test_the_stall_watchdog_leaves_garbage_collection_out(loop_factory: Any) -> None:
    # A collection is the interpreter's pause, not a library call blocking the
    # loop: the watchdog measures it apart (and a plain sleep still counts).
    # The objects are built before the watch and freed after it: building and
    # freeing a million lists hold the loop too (up to 0.2 s under load), and
    # only the collection is under test.
    junk = [[i] for i in range(1_000_000)]  # tracked objects: tens of ms to collect

    async def main() -> None:
        await asyncio.sleep(0.005)
        gc.collect()
        await asyncio.sleep(0.005)

    loop = loop_factory()
    try:
        with stall_watch(loop, 10.0, what="gc self-test") as watch:
            loop.run_until_complete(main())
    finally:
        loop.close()
        del junk
    assert watch.collecting > 0.01
    assert watch.worst < watch.collecting / 2  # the collection is not in the gaps


async def test_every_async_test_is_watched(request: pytest.FixtureRequest) -> None:
    if os.environ.get("HYBRIDIO_STALL_WATCH", "1") == "0":
        pytest.skip("the watchdog is turned off (HYBRIDIO_STALL_WATCH=0)")
    watch = request.getfixturevalue("_stall_watchdog")
    assert watch.loop is asyncio.get_running_loop()
    await asyncio.sleep(0.01)
    assert watch.worst > 0  # it is beating on this test's loop
