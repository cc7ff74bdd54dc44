"""The per-process fd limiter (RELIABILITY L5, R2): no EMFILE storm, a clear error.

The 10,000-open runs happen in a child process whose RLIMIT_NOFILE is lowered
to 256, so the limit is hit for sure and the test process is not affected.

The child hands its result back in a file, not on stdout: uvloop's loop.close()
closes libuv's io_uring ring, and the kernel's ring teardown interrupts the
main thread (task work, like a signal) so that a blocking write to a full pipe
returns short; with PYTHONUNBUFFERED=1 sys.stdout is a TextIOWrapper over the
raw FileIO, which drops the unwritten rest (CPython gh-85393).
"""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio._engines import fdlimit
from hybridio._engines.fdlimit import FdLimiter

ROOT = Path(__file__).resolve().parents[2]
_CHILD = textwrap.dedent(
    """
    import asyncio, errno, hashlib, json, os, resource, sys
    sys.path.insert(0, {root!r})
    import hybridio

    soft, hard = {soft}, resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    out_path, files = sys.argv[1], sys.argv[2:-4]
    opens, strategy, loop_kind, squat = sys.argv[-4:]
    opens, squat = int(opens), int(squat)

    async def one(i):
        path = files[i % len(files)]
        async with hybridio.async_open(path, "rb", strategy=strategy) as f:
            # Hold the file across a loop turn: every task opens before any
            # closes (a cached read does not suspend), so the opens overlap.
            await asyncio.sleep(0)
            return hashlib.sha256(await f.read()).hexdigest()

    async def main():
        held = [os.open("/dev/null", os.O_RDONLY) for _ in range(squat)]
        out = {{}}
        try:
            digests = await asyncio.wait_for(
                asyncio.gather(*(one(i) for i in range(opens)), return_exceptions=True), 60
            )
        finally:
            for fd in held:
                os.close(fd)
        errors = [d for d in digests if isinstance(d, BaseException)]
        out["errors"] = len(errors)
        out["errnos"] = sorted({{getattr(e, "errno", None) or -1 for e in errors}})
        out["message"] = str(errors[0]) if errors else None
        out["digests"] = [d for d in digests if isinstance(d, str)]
        from hybridio._engines import fdlimit
        out["held_after"] = fdlimit.LIMITER.held
        return out

    if loop_kind == "uvloop":
        import uvloop
        result = uvloop.run(main())
    else:
        result = asyncio.run(main())
    with open(out_path, "w") as sink:
        json.dump(result, sink)
    """
)


def _run_child(
    tmp_path: Path, *, soft: int, opens: int, strategy: str, loop: str, squat: int = 0
) -> tuple[dict[str, Any], list[str]]:
    files = []
    for i in range(4):
        path = tmp_path / f"small{i}"
        path.write_bytes(os.urandom(100 + i * 1000))
        files.append(str(path))
    result = tmp_path / "result.json"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD.format(root=str(ROOT), soft=soft),
            str(result),
            *files,
            str(opens),
            strategy,
            loop,
            str(squat),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    import hashlib

    expected = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in files]
    return json.loads(result.read_text()), expected


def _loops() -> list[Any]:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return ["asyncio", pytest.param("uvloop", marks=pytest.mark.skip(reason="no uvloop"))]
    return ["asyncio", "uvloop"]


@pytest.mark.parametrize("loop", _loops())
@pytest.mark.parametrize(("strategy", "opens"), [("kernel", 10_000), ("thread", 2_000)])
def test_10000_concurrent_opens_under_a_256_fd_limit_never_hit_emfile(
    tmp_path: Path, strategy: str, opens: int, loop: str
) -> None:
    out, expected = _run_child(tmp_path, soft=256, opens=opens, strategy=strategy, loop=loop)
    assert out["errors"] == 0, (out["errnos"], out["message"])
    assert len(out["digests"]) == opens
    assert out["digests"] == [expected[i % 4] for i in range(opens)]  # every read exact
    assert out["held_after"] == 0  # every close gave its slot back


def test_a_limit_too_low_to_make_progress_raises_a_clear_emfile(tmp_path: Path) -> None:
    out, _ = _run_child(tmp_path, soft=24, opens=3, strategy="kernel", loop="asyncio")
    assert out["errors"] == 3
    assert out["errnos"] == [errno.EMFILE]
    assert "RLIMIT_NOFILE is 24" in out["message"]
    assert "ulimit -n" in out["message"] and "setrlimit" in out["message"]
    assert out["held_after"] == 0


def test_emfile_because_other_code_holds_the_fds_is_clear_and_leaks_no_slot(
    tmp_path: Path,
) -> None:
    # The application itself holds ~all fds: hybridio's opens fail with EMFILE
    # from open(2), reworded, never hang, and return their slots.
    out, _ = _run_child(tmp_path, soft=256, opens=200, strategy="kernel", loop="asyncio", squat=240)
    assert out["errors"] > 0
    assert out["errnos"] == [errno.EMFILE]
    assert "RLIMIT_NOFILE is 256" in out["message"] and "ulimit -n" in out["message"]
    assert out["held_after"] == 0


# -- the limiter itself, with a fake limit ----------------------------------


async def _drop_and_reclaim(box: list[Any], held: int) -> None:
    # Drop the last reference the test holds, then wait until __del__ has run
    # (the slot count is back to `held`): the loop may still hold the open's
    # futures, and so the file, for a turn or two.  Bounded, never "whenever".
    box.clear()
    for i in range(100):
        if fdlimit.LIMITER.held == held:
            return
        await asyncio.sleep(0)
        # The young generations first: a full collection of this process's
        # heap held the loop past the stall watchdog's bound on a busy machine.
        gc.collect(1 if i < 90 else 2)
    raise AssertionError("the unclosed file's slot was never released")


def _limiter(capacity: int) -> FdLimiter:
    # capacity = limit - max(32, limit // 8)
    return FdLimiter(limit=lambda: capacity + 32)


async def test_opens_wait_at_capacity_and_each_release_admits_the_oldest() -> None:
    lim = _limiter(2)
    a, b = await lim.acquire(), await lim.acquire()
    order: list[int] = []

    async def waiter(i: int) -> fdlimit.FdSlot:
        slot = await lim.acquire()
        order.append(i)
        return slot

    tasks = [asyncio.ensure_future(waiter(i)) for i in range(3)]
    await asyncio.sleep(0.01)
    assert order == [] and lim.held == 2
    a.release()
    a.release()  # idempotent: admits one waiter, not two
    await asyncio.wait_for(asyncio.sleep(0.01), 5)
    assert order == [0]
    tasks[1].cancel()  # a cancelled waiter is skipped, nothing leaks
    b.release()
    slot2 = await asyncio.wait_for(tasks[2], 5)
    assert order == [0, 2] and lim.held == 2
    slot0 = tasks[0].result()
    slot0.release()
    slot2.release()
    assert lim.held == 0


async def test_a_waiter_cancelled_after_being_granted_passes_the_slot_on() -> None:
    lim = _limiter(1)
    first = await lim.acquire()
    second = asyncio.ensure_future(lim.acquire())
    third = asyncio.ensure_future(lim.acquire())
    await asyncio.sleep(0)
    first.release()  # granted to `second`, whose wake-up is only scheduled
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    slot = await asyncio.wait_for(third, 5)
    assert lim.held == 1
    slot.release()
    assert lim.held == 0


def test_a_release_from_another_loop_and_thread_wakes_the_waiter() -> None:
    lim = _limiter(1)
    held = asyncio.run(lim.acquire())
    got = threading.Event()

    def other_loop() -> None:
        async def main() -> None:
            slot = await asyncio.wait_for(lim.acquire(), 10)
            got.set()
            slot.release()

        asyncio.run(main())

    thread = threading.Thread(target=other_loop)
    thread.start()
    while not lim._waiters:  # the other loop is waiting
        threading.Event().wait(0.001)
    held.release()  # from this thread, no loop running here
    thread.join(10)
    assert got.is_set() and lim.held == 0


def test_a_release_while_this_thread_holds_the_lock_is_applied_not_deadlocked() -> None:
    # __del__ of a GC-reclaimed file may run inside the limiter's own critical
    # section: the release is queued and applied when the lock is freed.
    lim = _limiter(4)
    slot = asyncio.run(lim.acquire())
    lim._lock.acquire()
    slot.release()  # would deadlock with a blocking lock
    assert lim.held == 1
    lim._unlock()
    assert lim.held == 0


def test_too_low_a_limit_raises_at_once_instead_of_waiting() -> None:
    lim = FdLimiter(limit=lambda: 20)  # all of it is headroom
    with pytest.raises(OSError, match="RLIMIT_NOFILE") as info:
        asyncio.run(lim.acquire("some/file"))
    assert info.value.errno == errno.EMFILE
    assert info.value.filename == "some/file"


async def test_close_failed_constructor_and_gc_each_release_the_slot(
    tmp_path: Path, strategy: str
) -> None:
    base = fdlimit.LIMITER.held
    path = tmp_path / "f"
    path.write_bytes(b"data")
    f = await hybridio.async_open(path, "rb", strategy=strategy)
    assert fdlimit.LIMITER.held == base + 1
    await f.close()
    assert fdlimit.LIMITER.held == base
    with pytest.raises(IsADirectoryError):
        await hybridio.async_open(tmp_path, "rb", strategy=strategy)
    assert fdlimit.LIMITER.held == base
    with pytest.raises(FileNotFoundError):
        await hybridio.async_open(tmp_path / "missing", "rb", strategy=strategy)
    assert fdlimit.LIMITER.held == base
    t = await hybridio.async_open(path, "r", strategy=strategy)  # text wraps binary
    assert fdlimit.LIMITER.held == base + 1
    await t.close()
    assert fdlimit.LIMITER.held == base
    g = await hybridio.async_open(path, "rb", strategy=strategy)
    assert fdlimit.LIMITER.held == base + 1
    box = [g]
    del g
    with pytest.warns(ResourceWarning):
        await _drop_and_reclaim(box, base)
    fd = os.open(path, os.O_RDONLY)
    h = await hybridio.async_open(fd, "rb", strategy=strategy)  # the caller's fd
    assert fdlimit.LIMITER.held == base
    await h.close()
    assert fdlimit.LIMITER.held == base


def test_a_child_forked_while_the_limiter_is_locked_can_still_open(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, os, sys, time, warnings
        sys.path.insert(0, {str(ROOT)!r})
        import hybridio
        from hybridio._engines import fdlimit

        async def use():
            async with hybridio.async_open({str(tmp_path / "f")!r}, "wb") as f:
                await f.write(b"child")

        fdlimit.LIMITER._lock.acquire()  # as if another thread was inside it
        pid = os.fork()
        if pid == 0:
            asyncio.run(use())
            os._exit(0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                print(os.waitstatus_to_exitcode(status))
                break
            time.sleep(0.01)
        else:
            os.kill(pid, 9)
            print("hung")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    assert out == "0"
    assert (tmp_path / "f").read_bytes() == b"child"
