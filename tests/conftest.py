"""Shared fixtures: the kernel-backend matrix, the event-loop matrix, hypothesis profiles."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from hybridio.engines import kernel

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
    from hybridio import settings

    settings.reload_settings()
