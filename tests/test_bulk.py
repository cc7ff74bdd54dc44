"""The bulk path: threaded() and the one-thread-call whole-file helpers."""

from __future__ import annotations

import hashlib
import inspect
import os
import threading
from pathlib import Path

import pytest

from hybridio import bulk
from hybridio.bulk import threaded


@threaded
def write_random(path: str, size: int, *, seed: bytes = b"") -> str:
    """Write *size* random bytes; return the writing thread's name."""
    with open(path, "wb") as f:
        f.write(seed + os.urandom(size - len(seed)))
    return threading.current_thread().name


async def test_threaded_keeps_metadata_and_runs_in_the_pool(tmp_path: Path) -> None:
    assert write_random.__name__ == "write_random"
    assert write_random.__doc__ is not None and "random bytes" in write_random.__doc__
    assert inspect.iscoroutinefunction(write_random)
    assert list(inspect.signature(write_random).parameters) == ["path", "size", "seed"]
    name = await write_random(os.fspath(tmp_path / "r"), 10, seed=b"ab")
    assert name.startswith("hybridio")
    assert (tmp_path / "r").read_bytes()[:2] == b"ab"


async def test_aiomisc_threaded_hash_example(tmp_path: Path) -> None:
    """aiomisc example (c): two 1 MiB random files hash to different blake2b digests."""
    a, b = tmp_path / "a", tmp_path / "b"
    await write_random(os.fspath(a), 1 << 20)
    await write_random(os.fspath(b), 1 << 20)
    da, db = await bulk.hash_file(a), await bulk.hash_file(b)
    assert da != db
    assert da == hashlib.blake2b(a.read_bytes()).hexdigest()


async def test_whole_file_helpers(tmp_path: Path) -> None:
    p = tmp_path / "f"
    assert await bulk.write_bytes(p, b"\x00bytes") == 6
    assert await bulk.read_bytes(p) == b"\x00bytes"
    assert await bulk.write_text(p, "héllo\n", encoding="utf-8") == 6
    assert await bulk.read_text(p, encoding="utf-8") == "héllo\n"
    await bulk.copy(p, tmp_path / "g")
    assert (tmp_path / "g").read_text(encoding="utf-8") == "héllo\n"
    assert await bulk.hash_file(p, "sha256") == hashlib.sha256(p.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="unsupported hash type"):
        await bulk.hash_file(p, "no-such-hash")
    with pytest.raises(FileNotFoundError):
        await bulk.read_bytes(tmp_path / "missing")
