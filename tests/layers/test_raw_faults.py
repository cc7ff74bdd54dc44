"""The raw kernel-served file under a misbehaving engine (RELIABILITY F1, F2; STYLE's
``MisbehavedRawIO``): short counts are completed, a zero-byte write is an error, an
errno reaches the caller with the file's name -- on every kernel backend."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

import hybridio
from tests.fakes import Fault, install_faults

PAYLOAD = bytes(range(256)) * 40  # 10 KiB, every byte value


@pytest.fixture
def no_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read goes to the kernel engine (none served from the page cache inline)."""
    monkeypatch.setenv("HYBRIDIO_INLINE", "0")
    hybridio.reload_settings()


async def test_a_short_write_count_is_completed(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = Fault("write", short=3, times=2)
    install_faults(monkeypatch, short)
    path = tmp_path / "f"
    async with hybridio.async_open(path, "w+b", backend=backend) as f:
        assert await f.write_at(100, PAYLOAD) == len(PAYLOAD)
        assert await f.write_many([(0, b"head"), (50, b"middle")]) == [4, 6]
    assert short.hits == 2
    expected = bytearray(100 + len(PAYLOAD))
    expected[100:] = PAYLOAD
    expected[0:4] = b"head"
    expected[50:56] = b"middle"
    assert path.read_bytes() == expected


async def test_a_write_that_reports_zero_bytes_raises_eio(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck = Fault("write", short=0)
    install_faults(monkeypatch, stuck)
    async with hybridio.async_open(tmp_path / "f", "wb", backend=backend) as f:
        with pytest.raises(OSError, match="0 bytes") as info:
            await f.write_at(0, b"data")
    assert info.value.errno == errno.EIO
    assert stuck.hits == 1  # raised at once, not retried forever


@pytest.mark.usefixtures("no_inline")
async def test_a_short_read_count_is_completed(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_bytes(PAYLOAD)
    short = Fault("read", short=7, times=3)
    install_faults(monkeypatch, short)
    async with hybridio.async_open(path, "rb", backend=backend) as f:
        assert await f.read_at(10, 1000) == PAYLOAD[10:1010]
        assert await f.read_many([(0, 100), (5000, 300)]) == [PAYLOAD[:100], PAYLOAD[5000:5300]]
    assert short.hits == 3


@pytest.mark.usefixtures("no_inline")
async def test_a_read_error_carries_the_errno_and_the_file_name(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_bytes(PAYLOAD)
    install_faults(monkeypatch, Fault("read", error=errno.EIO, offset=4096))
    async with hybridio.async_open(path, "rb", backend=backend) as f:
        assert await f.read_at(0, 16) == PAYLOAD[:16]
        with pytest.raises(OSError, match="Input/output error") as info:
            await f.read_at(4096, 16)
        assert await f.read_at(4112, 16) == PAYLOAD[4112:4128]  # still usable
    assert info.value.errno == errno.EIO
    assert info.value.filename == str(path)
