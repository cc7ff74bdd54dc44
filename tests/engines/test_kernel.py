"""Kernel backend probing, fallback with reasons, forcing, one context per loop (F5, R1)."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio._engines import contexts, kernel
from tests.fakes import fail_backend_start


@pytest.fixture
def fresh_probes() -> Iterator[None]:
    """Forget probe results before and after a test that injects faults."""
    contexts._reset_probes()
    yield
    contexts._reset_probes()


@pytest.mark.usefixtures("fresh_probes")
async def test_a_bug_in_starting_a_backend_is_raised_not_hidden_as_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A TypeError (say, a wrong argument to caio) is a bug: it must not turn
    # into "backend unavailable" and a silent fallback to the next backend.
    for name in kernel.BACKEND_NAMES:
        assert kernel.probe(name) is None
    kernel._close_loop_engines(asyncio.get_running_loop())
    fail_backend_start(monkeypatch, {"uring": TypeError("bad argument")}, spares=False)
    with pytest.raises(TypeError, match="bad argument"):
        await hybridio.async_open(tmp_path / "f", "wb", backend="uring")
    with pytest.raises(TypeError, match="bad argument"):
        await hybridio.async_open(tmp_path / "f", "wb", strategy="kernel")
    assert kernel.probe("uring") is None  # not marked unavailable


def test_backends_lists_every_candidate_in_order_with_reasons() -> None:
    infos = hybridio.backends()
    assert [i.name for i in infos] == list(kernel.BACKEND_NAMES)
    assert sum(i.selected for i in infos) == 1
    for info in infos:
        assert info.available == (info.reason is None)
    first_available = next(i for i in infos if i.available)
    assert first_available.selected
    assert infos[-1].available  # the pure-Python pool runs everywhere


@pytest.mark.usefixtures("fresh_probes")
@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (OSError(errno.ENOSYS, "Function not implemented"), "ENOSYS"),  # seccomp
        (OSError(errno.EPERM, "Operation not permitted"), "EPERM"),  # io_uring_disabled
        (ImportError("linux_uring requires Linux 5.6+"), "5.6"),  # old kernel
    ],
)
def test_io_uring_failing_to_start_falls_back_to_linux_aio_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failure: BaseException, reason: str
) -> None:
    fail_backend_start(monkeypatch, {"uring": failure})
    path = tmp_path / "f"

    async def main() -> tuple[str, dict[str, str]]:
        async with hybridio.async_open(path, "w+b") as f:
            await f.write(b"fallback works")
            await f.seek(0)
            assert await f.read() == b"fallback works"
            return f.backend, f.decision.skipped_backends  # type: ignore[attr-defined]

    used, skipped = asyncio.run(main())
    assert used == "linux"
    assert reason in skipped["uring"]
    info = {i.name: i for i in hybridio.backends()}
    assert not info["uring"].available
    assert info["uring"].reason is not None and reason in info["uring"].reason
    assert info["linux"].selected


@pytest.mark.usefixtures("fresh_probes")
def test_io_setup_eagain_at_context_creation_falls_back_to_threads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Probes pass (aio-max-nr had room then); every later context fails the
    # way io_setup does once aio-max-nr is used up.
    for name in kernel.BACKEND_NAMES:
        assert kernel.probe(name) is None
    eagain = OSError(errno.EAGAIN, "Resource temporarily unavailable")
    fail_backend_start(monkeypatch, {"uring": eagain, "linux": eagain}, spares=False)

    async def main() -> tuple[str, str, dict[str, str]]:
        async with hybridio.async_open(tmp_path / "f", "wb") as f:
            await f.write(b"x")
            return f.backend, f.decision.backend, f.decision.skipped_backends  # type: ignore[attr-defined]

    used, planned, skipped = asyncio.run(main())
    assert used == planned == "thread"
    assert "EAGAIN" in skipped["linux"] and "EAGAIN" in skipped["uring"]


@pytest.mark.usefixtures("fresh_probes")
async def test_forcing_an_unavailable_backend_raises_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fail_backend_start(monkeypatch, {"uring": OSError(errno.EPERM, "Operation not permitted")})
    with pytest.raises(hybridio.BackendUnavailableError, match=r"uring.*EPERM"):
        await hybridio.async_open(tmp_path / "f", "wb", backend="uring")
    monkeypatch.setenv("HYBRIDIO_BACKEND", "uring")
    hybridio.reload_settings()
    with pytest.raises(hybridio.BackendUnavailableError, match="EPERM"):
        await hybridio.async_open(tmp_path / "f", "wb")
    assert not (tmp_path / "f").exists()  # refused before any fd existed


async def test_hybridio_backend_env_forces_a_backend(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, backend: str
) -> None:
    monkeypatch.setenv("HYBRIDIO_BACKEND", backend)
    hybridio.reload_settings()
    async with hybridio.async_open(tmp_path / "f", "wb") as f:
        assert f.backend == backend  # type: ignore[attr-defined]


async def test_unknown_hybridio_backend_value_warns_and_is_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HYBRIDIO_BACKEND", "turbo")
    hybridio.reload_settings()
    with pytest.warns(RuntimeWarning, match="turbo"):
        f = await hybridio.async_open(tmp_path / "f", "wb")
    await f.close()
    assert f.backend in kernel.BACKEND_NAMES  # type: ignore[attr-defined]


def test_unknown_backend_argument_is_a_valueerror(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown backend"):
        hybridio.async_open(tmp_path / "f", "wb", backend="turbo")  # type: ignore[call-overload]


def test_one_context_per_loop_closed_with_the_loop(tmp_path: Path, loop_factory: Any) -> None:
    engines = []

    async def main() -> None:
        for _ in range(3):
            async with hybridio.async_open(tmp_path / "f", "wb") as f:
                await f.write(b"x")
                engines.append(f._raw.engine)  # type: ignore[attr-defined]

    for _ in range(2):
        loop = loop_factory()
        try:
            loop.run_until_complete(main())
            assert not engines[-1].closed
        finally:
            loop.close()
        assert engines[-1].closed
    assert engines[0] is engines[1] is engines[2]
    assert engines[3] is not engines[0]


def test_backend_info_is_a_frozen_record() -> None:
    info = hybridio.backends()[0]
    with pytest.raises(AttributeError):
        info.name = "other"  # type: ignore[misc]
