"""The open that needs no await (hybridio._assemble.open_now) and its per-loop memo.

A str path to an existing regular file takes it; each test checks that what
the memo hands out is what the general path would have chosen: the backend
in force, the profile asked for, the running loop's engine, and the same
exceptions as ``open()``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio import _assemble
from hybridio._profile import BUILTIN


@pytest.fixture
def existing(tmp_path: Path) -> str:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789" * 100)
    return str(path)


async def test_a_changed_backend_setting_reaches_the_next_open(
    monkeypatch: pytest.MonkeyPatch, existing: str, backend: str
) -> None:
    # Warm the memo with the default backend first, then switch.
    async with hybridio.async_open(existing, "rb") as f:
        assert f.backend == f.decision.backend  # type: ignore[attr-defined]
    monkeypatch.setenv("HYBRIDIO_BACKEND", backend)
    hybridio.reload_settings()
    for mode in ("rb", "r+b"):
        async with hybridio.async_open(existing, mode) as f:
            assert f.backend == backend  # type: ignore[attr-defined]
            assert f.decision.backend == backend
            assert await f.read(4) == b"0123"


def test_each_loop_gets_its_own_engine(existing: str, loop_factory: Any) -> None:
    seen = []

    async def main() -> None:
        for _ in range(3):  # the second and third open come from the memo
            async with hybridio.async_open(existing, "rb") as f:
                engine = f._raw.engine  # type: ignore[attr-defined]
                assert engine.loop is asyncio.get_running_loop()
                assert not engine.closed
                assert await f.read() == b"0123456789" * 100
                seen.append(engine)

    for _ in range(2):
        loop = loop_factory()
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()
    assert seen[0] is seen[2] and seen[3] is seen[5]
    assert seen[0] is not seen[3]
    assert seen[0].closed and seen[3].closed
    # A closed loop leaves nothing behind in the memo.
    assert not _assemble._recipes


async def test_the_profile_asked_for_is_the_one_used(existing: str) -> None:
    small = dataclasses.replace(BUILTIN, read_ahead=4096)
    large = dataclasses.replace(BUILTIN, read_ahead=1 << 20)
    for prof in (small, large, small):
        async with hybridio.async_open(existing, "rb", profile=prof) as f:
            assert f.plan.profile is prof
            assert f.plan.read_ahead == prof.read_ahead


@pytest.mark.parametrize("mode", ["rb", "r+b", "wb", "ab"])
async def test_what_the_memo_declines_raises_what_open_raises(tmp_path: Path, mode: str) -> None:
    os.mkfifo(tmp_path / "fifo")
    cases = [str(tmp_path), str(tmp_path / "missing" / "f")]
    if "r" in mode:
        cases.append(str(tmp_path / "missing"))
    for path in cases:
        with pytest.raises(OSError, match="directory") as expected:
            open(path, mode).close()
        with pytest.raises(type(expected.value), match="directory") as got:
            await hybridio.async_open(path, mode)
        assert got.value.errno == expected.value.errno
        assert got.value.filename == path


async def test_the_memo_never_serves_a_fifo(tmp_path: Path) -> None:
    # A FIFO must not be opened in the loop thread (open() would block until a
    # writer comes); the memo, warmed by a regular file, declines it.
    regular = tmp_path / "f"
    regular.write_bytes(b"x")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    async with hybridio.async_open(str(regular), "rb") as f:
        assert f.backend != "threads"

    def writer() -> None:
        with open(fifo, "wb") as w:
            w.write(b"through the fifo")

    task = asyncio.get_running_loop().run_in_executor(None, writer)
    async with asyncio.timeout(10):
        async with hybridio.async_open(str(fifo), "rb") as f:
            assert f.backend == "threads"
            assert await f.read() == b"through the fifo"
        await task


def _state(binary: Any) -> dict[str, Any]:
    """A kernel-served file's state, its layers' included, with the objects
    that are its own (raw layer, inline reader) replaced by their state."""
    state = dict(vars(binary))
    raw = dict(vars(state.pop("_raw")))
    inline = raw.pop("inline")
    assert state.pop("_inline") is inline
    state["raw"] = raw
    state["inline"] = {k: getattr(inline, k) for k in ("fd", "max", "reason", "enabled", "ops")}
    return state


@pytest.mark.parametrize("mode", ["rb", "r+b", "wb", "w+b"])
@pytest.mark.parametrize("buffering", [-1, 0, 4096])
async def test_a_file_from_the_memo_is_the_one_build_makes(
    tmp_path: Path, mode: str, buffering: int
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    for _ in range(2):  # the first open of a loop may probe; the second makes the recipe
        async with hybridio.async_open(str(path), mode, buffering=buffering):
            pass
    from hybridio._requests import _request

    req = _request(
        str(path), mode, buffering, None, None, None, True, None, None, None, None, None,
        hybridio.Strategy.AUTO, "auto", None, False,
    )  # fmt: skip
    writable = "+" in mode or "w" in mode
    (recipe,) = [r for key, r in _assemble._recipes.items() if key[1] == writable]
    fd = os.open(path, os.O_RDONLY)
    made = recipe.make(req, fd)
    built = _assemble.build(req, recipe.plan, fd, os.stat(path), recipe.engine, recipe.write_engine)
    try:
        assert _state(made) == _state(built)
    finally:
        made._closed = True  # one fd under both: closed once, below
        await built.close()
