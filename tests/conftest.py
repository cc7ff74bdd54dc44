"""Shared fixtures: the strategy, kernel-backend and event-loop matrices, hypothesis
profiles, and the loop-stall watchdog."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, settings

from hybridio._engines import kernel

# CI must be deterministic: derandomized, bounded, no deadline (shared, noisy machines).
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _backend_param(name: str) -> object:
    reason = kernel.probe(name)
    marks = [pytest.mark.skip(reason=f"{name} unavailable here: {reason}")] if reason else []
    return pytest.param(name, marks=marks, id=name)


ALL_BACKENDS = [_backend_param(name) for name in kernel.BACKEND_NAMES]


@pytest.fixture(params=ALL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Every kernel backend, each skipped with its reason when unavailable here."""
    return str(request.param)


#: The engines that can serve a plain file, as ``async_open(strategy=...)`` names them.
STRATEGIES = ("kernel", "thread")


@pytest.fixture(params=STRATEGIES)
def strategy(request: pytest.FixtureRequest) -> str:
    """Each forced strategy: the kernel engine (this machine's first working
    backend) and the thread engine."""
    return str(request.param)


def _uvloop_param() -> object:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return pytest.param("uvloop", marks=pytest.mark.skip(reason="uvloop not installed"))
    return "uvloop"


@pytest.fixture(params=["asyncio", _uvloop_param()])
def loop_factory(request: pytest.FixtureRequest) -> Iterator[object]:
    """A factory for a fresh event loop of each kind (asyncio, uvloop)."""
    if request.param == "uvloop":
        import uvloop

        yield uvloop.new_event_loop
    else:
        yield asyncio.new_event_loop


@contextlib.contextmanager
def tmpfs(point: os.PathLike[str] | str, options: str) -> Iterator[None]:
    """A tmpfs mounted at the existing directory *point* with mount *options*
    (``size=...``), lazily unmounted at the end; the test is skipped where
    mounting is not allowed."""
    import subprocess

    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", os.fspath(point)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", os.fspath(point)], capture_output=True, timeout=30)


def evict(path: os.PathLike[str] | str) -> None:
    """Write *path* back and drop its pages from the page cache, so that reads
    of it miss (a filesystem may keep them: tests that depend on it check)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def fd_count() -> int:
    """Open fds of this process."""
    return len(os.listdir("/proc/self/fd"))


def aio_contexts() -> int:
    """Linux AIO contexts of this process: each io_setup maps one "/[aio]" ring.

    Per process, unlike the system-wide /proc/sys/fs/aio-nr, so other processes
    on a shared machine cannot make it flaky.
    """
    with open("/proc/self/maps") as maps:
        return sum("/[aio]" in line for line in maps)


def uring_fds() -> int:
    """io_uring instances this process holds open."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            count += "io_uring" in os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass  # the listing's own fd, already closed
    return count


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Tests that change HYBRIDIO_* call ``hybridio.reload_settings()``; the next
    test starts from the environment as it is again."""
    yield
    from hybridio import _settings as settings

    settings.reload_settings()


# -- the loop-stall watchdog --------------------------------------------------
#
# A heartbeat callback runs every HEARTBEAT seconds on the test's loop and keeps
# the worst gap between two beats: the longest time the loop could not run a
# ready callback (RELIABILITY L5).  Time the loop thread spent waiting for a CPU
# (its run-queue delay in /proc/thread-self/schedstat) is subtracted: on a
# loaded 2-core machine that alone made idle loops look blocked for 500 ms.
# One process-wide monitor thread samples the loop thread's stack while a beat
# is overdue, so a failure names the call that held the loop, not just the
# test.  Every async test is watched (autouse, see
# pytest_collection_modifyitems); tests that run their own loops use
# stall_watch(loop).

HEARTBEAT = 0.001
#: Generous enough for a loaded 2-core CI machine (GC pauses, a busy neighbour);
#: targeted tests set tighter bounds with @pytest.mark.stall_bound(seconds).
DEFAULT_STALL_BOUND = float(os.environ.get("HYBRIDIO_STALL_BOUND", "0.2"))
#: A beat this late gets the loop thread's stack sampled.
_SAMPLE_AFTER = 0.02
#: Optional: append one JSON line per watched test (worst gap, where) to this file.
_STALL_REPORT = os.environ.get("HYBRIDIO_STALL_REPORT")


class LoopStall(AssertionError):
    """The watched loop was blocked longer than the bound."""


class _GCClock:
    """Seconds the garbage collector ran in each thread.

    A full collection of the test process's heap (hypothesis, zarr, dask and
    numpy loaded) took over 200 ms on the loop thread at times: a pause the
    watchdog excludes like a wait for a CPU, since it is no library call
    blocking the loop.
    """

    def __init__(self) -> None:
        self.total: dict[int, float] = {}
        self._started: dict[int, float] = {}

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        tid = threading.get_ident()
        if phase == "start":
            self._started[tid] = time.perf_counter()
            return
        began = self._started.pop(tid, None)
        if began is not None:
            self.total[tid] = self.total.get(tid, 0.0) + time.perf_counter() - began


_GC_CLOCK = _GCClock()
gc.callbacks.append(_GC_CLOCK)


class StallWatch:
    """Worst heartbeat gap of one event loop, and where the loop was during it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, bound: float, what: str) -> None:
        self.loop = loop
        self.bound = bound
        self.what = what
        self.worst = 0.0
        self.worst_where: list[str] = []
        self._last: float | None = None
        self._beats = 0
        self._sampled: tuple[int, list[str]] | None = None
        self._handle: asyncio.Handle | None = None
        self._thread_id: int | None = None
        self._schedstat: int | None = None
        self._waited = 0.0
        self._collected = 0.0
        #: Seconds the loop thread waited for a CPU (excluded from the gaps).
        self.starved = 0.0
        #: Seconds the garbage collector ran on the loop thread (excluded too).
        self.collecting = 0.0

    def start(self) -> None:
        """Begin beating on the loop's next turn (call it from the loop's thread)."""
        # Open the schedstat fd now, not at the first beat: a test that counts
        # fds (open, baseline, ...) must not see ours appear halfway.
        self._run_delay()
        self._handle = self.loop.call_soon(self._beat)
        _Monitor.add(self)

    def stop(self) -> None:
        """Stop beating; the figures stay."""
        _Monitor.remove(self)
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._schedstat is not None and self._schedstat >= 0:
            os.close(self._schedstat)
        self._schedstat = -1

    def _beat(self) -> None:
        now = time.perf_counter()
        waited = self._run_delay()
        collected = _GC_CLOCK.total.get(threading.get_ident(), 0.0)
        if self._last is None:
            self._thread_id = threading.get_ident()
        else:
            # Time the loop thread sat runnable but unscheduled (a loaded
            # machine, other processes) or collecting garbage is not the
            # loop's doing: only what is left is a stall.
            gap = now - self._last - (waited - self._waited) - (collected - self._collected)
            self.starved += waited - self._waited
            self.collecting += collected - self._collected
            if gap > self.worst:
                self.worst = gap
                sampled = self._sampled
                self.worst_where = sampled[1] if sampled and sampled[0] == self._beats else []
        self._beats += 1
        self._waited = waited
        self._collected = collected
        self._last = time.perf_counter()
        self._handle = self.loop.call_later(HEARTBEAT, self._beat)

    def _run_delay(self) -> float:
        # /proc/thread-self/schedstat: cpu time, run-queue wait, slices (ns).
        if self._schedstat is None:
            try:
                self._schedstat = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
            except OSError:
                self._schedstat = -1
        if self._schedstat < 0:
            return 0.0
        try:
            return int(os.pread(self._schedstat, 128, 0).split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0

    def _sample(self, now: float) -> None:
        # Monitor thread: the loop is late; remember where the loop thread is.
        # The latest sample of a late beat wins: it is still inside the call
        # that holds the loop.
        last, beats, tid = self._last, self._beats, self._thread_id
        if last is None or tid is None or now - last < min(self.bound / 2, _SAMPLE_AFTER):
            return
        frame = sys._current_frames().get(tid)
        # A sample taken inside the beat itself (the late beat has begun but
        # not yet counted), or in the event loop's own code once the blocking
        # call has returned, must not replace one that names the test's or
        # hybridio's code.
        if frame is None or frame.f_code in _BEAT_CODE:
            return
        inner = frame.f_code.co_filename
        ours = "/hybridio/" in inner or "/tests/" in inner
        sampled = self._sampled
        if not ours and sampled is not None and sampled[0] == beats:
            return
        self._sampled = (beats, _where(frame))

    def check(self) -> None:
        """Raise LoopStall when the worst gap exceeded the bound."""
        if _STALL_REPORT:
            with open(_STALL_REPORT, "a") as out:
                row = {
                    "test": self.what,
                    "worst_ms": round(self.worst * 1e3, 1),
                    "starved_ms": round(self.starved * 1e3, 1),
                }
                out.write(json.dumps({**row, "where": self.worst_where}) + "\n")
        if self.worst > self.bound:
            where = "\n  ".join(self.worst_where) or "(not sampled: the loop thread held the GIL)"
            raise LoopStall(
                f"{self.what}: the event loop was blocked for {self.worst * 1e3:.1f} ms "
                f"(bound {self.bound * 1e3:.0f} ms); the loop thread was in:\n  {where}"
            )


def _where(frame: Any) -> list[str]:
    # lookup_lines=False: reading source lines would open .py files from this
    # thread, in the middle of tests that count the process's fds.
    stack = traceback.StackSummary.extract(traceback.walk_stack(frame), lookup_lines=False)
    stack.reverse()
    # The frames worth naming: the test's and the library's, innermost last.
    keep = [f for f in stack if "/hybridio/" in f.filename or "/tests/" in f.filename]
    frames = (keep or list(stack))[-8:]
    return [f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}" for f in frames]


class _Monitor:
    """One daemon thread for the whole session (thread counts stay constant)."""

    _watches: ClassVar[set[StallWatch]] = set()
    _lock = threading.Lock()
    _thread: threading.Thread | None = None

    @classmethod
    def add(cls, watch: StallWatch) -> None:
        with cls._lock:
            cls._watches.add(watch)
            if cls._thread is None:
                cls._thread = threading.Thread(target=cls._run, name="stall-monitor", daemon=True)
                cls._thread.start()

    @classmethod
    def remove(cls, watch: StallWatch) -> None:
        with cls._lock:
            cls._watches.discard(watch)

    @classmethod
    def _run(cls) -> None:
        while True:
            time.sleep(0.005)
            with cls._lock:
                watches = list(cls._watches)
            now = time.perf_counter()
            for watch in watches:
                watch._sample(now)


#: The watchdog's own frames: never reported as where the loop was.
_BEAT_CODE: frozenset[Any] = frozenset({StallWatch._beat.__code__, StallWatch._run_delay.__code__})


@contextlib.contextmanager
def stall_watch(
    loop: asyncio.AbstractEventLoop | None = None,
    bound: float | None = None,
    what: str = "stall_watch",
) -> Iterator[StallWatch]:
    """Watch *loop* (default: the running loop) for the duration of the block.

    For tests that run their own loop, wrap ONE ``run_until_complete`` (time
    between two runs would count as a stall)::

        with stall_watch(loop, 0.05):
            loop.run_until_complete(main())

    Inside a coroutine (``asyncio.run``), ``with stall_watch():`` watches the
    running loop.  Raises LoopStall on exit when the bound was exceeded.
    """
    watch = StallWatch(
        loop or asyncio.get_running_loop(),
        DEFAULT_STALL_BOUND if bound is None else bound,
        what,
    )
    watch.start()
    try:
        yield watch
    finally:
        watch.stop()
    watch.check()


def stall_bound_of(node: pytest.Item) -> float:
    """The test's @pytest.mark.stall_bound(seconds), else the default.

    With several (the function's and a parameter's), the loosest applies.
    """
    bounds = [float(m.args[0]) for m in node.iter_markers("stall_bound")]
    return max(bounds) if bounds else DEFAULT_STALL_BOUND


@pytest.fixture
async def _stall_watchdog(request: pytest.FixtureRequest) -> AsyncIterator[StallWatch]:
    """Fail the async test whose loop was blocked longer than its bound."""
    watch = StallWatch(
        asyncio.get_running_loop(), stall_bound_of(request.node), request.node.nodeid
    )
    watch.start()
    yield watch
    watch.stop()
    watch.check()


def _uvloop_factory() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Any:
    """Every async test runs once on asyncio's loop and once on uvloop.

    A test marked ``asyncio_only(reason)`` gets asyncio's loop alone; so does every
    test under ``HYBRIDIO_TEST_LOOPS=asyncio`` (a quicker local run).
    """
    factories: dict[str, Any] = {"asyncio": asyncio.new_event_loop}
    if item.get_closest_marker("asyncio_only") is not None:
        return factories
    if os.environ.get("HYBRIDIO_TEST_LOOPS", "both") == "asyncio":
        return factories
    uv = _uvloop_factory()
    if uv is not None:
        factories["uvloop"] = uv
    return factories


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Watch every async test unless it is marked ``allow_stall``.

    ``HYBRIDIO_STALL_WATCH=0`` turns the watchdog off (to compare timings).
    """
    if os.environ.get("HYBRIDIO_STALL_WATCH", "1") == "0":
        return
    for item in items:
        if pytest_asyncio.is_async_test(item) and not item.get_closest_marker("allow_stall"):
            # First, so the watch spans the other fixtures' setup and teardown
            # too, but after pytest's own tmp_path: making that directory is
            # disk work outside the loop, which a busy disk held for 63 ms in
            # one suite run (the loop was not running, so not stalled by us).
            names = item.fixturenames  # type: ignore[attr-defined]
            first = names.index("tmp_path") + 1 if "tmp_path" in names else 0
            names.insert(first, "_stall_watchdog")
