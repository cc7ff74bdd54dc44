"""O_DIRECT (RELIABILITY F6): the device's alignment, refused misalignment, no silent corruption.

The working directory's filesystem (ext4 here) supports O_DIRECT; each test
skips with the reason when the one it needs does not.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio._engines import direct
from tests.conftest import stall_watch

pytestmark = pytest.mark.skipif(not direct.O_DIRECT, reason="no O_DIRECT on this platform")


def _with_direct(path: str, flags: int) -> int:
    return os.open(path, flags | direct.O_DIRECT, 0o666)


def _direct_supported(where: Path) -> str | None:
    probe = where / ".o_direct_probe"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_RDWR | direct.O_DIRECT, 0o600)
    except OSError as exc:
        return f"O_DIRECT unsupported on {where}: {exc}"
    os.close(fd)
    probe.unlink()
    return None


@pytest.fixture
def dpath(tmp_path: Path) -> Path:
    """A file on a filesystem that supports O_DIRECT."""
    reason = _direct_supported(tmp_path)
    if reason:
        pytest.skip(reason)
    return tmp_path / "direct.bin"


def _sysfs_logical_block_size(path: Path) -> int | None:
    st = os.stat(path)
    base = f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    for name in (f"{base}/queue/logical_block_size", f"{base}/../queue/logical_block_size"):
        try:
            return int(Path(name).read_text())
        except (OSError, ValueError):
            continue
    return None


def _run(loop_factory: Any, main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    loop = loop_factory()
    try:
        with stall_watch(loop, what="O_DIRECT I/O"):
            return loop.run_until_complete(asyncio.wait_for(main(), 60))
    finally:
        loop.close()


def test_alignment_comes_from_the_device_never_a_constant(
    dpath: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dpath.write_bytes(b"")
    block = _sysfs_logical_block_size(dpath)
    if block is None:
        pytest.skip("no sysfs block device behind the working directory")
    fd = os.open(dpath, os.O_RDONLY | direct.O_DIRECT)
    try:
        align = direct.alignment_of(fd)
        assert align is not None
        # statx's dio_offset_align is the device's logical block size on a
        # plain block device (512 here: a hard-coded 4096 would be wrong).
        assert align.offset == block, align
        monkeypatch.setattr(direct, "_statx_dio", lambda fd: None)  # kernel < 6.1
        assert direct.alignment_of(fd) == direct.Alignment(
            block, block, "the device's logical block size"
        )
        monkeypatch.setattr(direct, "_sysfs_block_size", lambda st: None)  # no sysfs
        blk = os.fstat(fd).st_blksize
        assert direct.alignment_of(fd) == direct.Alignment(blk, blk, "st_blksize")
    finally:
        os.close(fd)
    plain = os.open(dpath, os.O_RDONLY)
    try:
        assert direct.alignment_of(plain) is None  # not O_DIRECT: no rules
    finally:
        os.close(plain)


def test_a_filesystem_reporting_no_dio_alignment_is_refused_clearly(
    dpath: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dpath.write_bytes(b"")
    monkeypatch.setattr(direct, "_statx_dio", lambda fd: (0, 0))  # statx: "no O_DIRECT"
    fd = os.open(dpath, os.O_RDONLY | direct.O_DIRECT)
    try:
        with pytest.raises(OSError, match="O_DIRECT is not supported") as info:
            direct.alignment_of(fd)
        assert info.value.errno == errno.EINVAL
    finally:
        os.close(fd)


def test_aligned_io_is_byte_exact_and_misaligned_io_is_refused_before_submission(
    dpath: Path, backend: str, loop_factory: Any
) -> None:
    original = os.urandom(64 << 10) + b"tail-not-aligned"
    dpath.write_bytes(original)

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with hybridio.async_open(dpath, "r+b", opener=_with_direct, backend=backend) as f:
            raw = f._raw  # type: ignore[attr-defined]
            align = raw._direct.align.offset
            out["align"] = align
            block = os.urandom(2 * align)
            # The caller's buffer need not be aligned: a view at an odd address.
            odd = bytearray(1 + len(block))
            odd[1:] = block
            assert await f.write_at(align, memoryview(odd)[1:]) == len(block)
            out["written"] = (align, block)
            out["read_at"] = await f.read_at(align, len(block))
            out["short_len"] = await f.read_at(0, 100)  # length rounded internally
            tail_at = len(original) // align * align  # the last, partial block
            out["tail"] = (tail_at, await f.read_at(tail_at, 4 * align))
            ops_before = (raw.kernel_ops, raw.thread_ops)
            errors = []
            for call in (
                lambda: f.read_at(align + 1, align),
                lambda: f.write_at(align + 1, b"x" * align),
                lambda: f.write_at(0, b"x" * (align + 1)),
            ):
                try:
                    await call()
                except OSError as exc:
                    errors.append((exc.errno, str(exc)))
            out["errors"] = errors
            out["no_io"] = ops_before == (raw.kernel_ops, raw.thread_ops)
            await f.seek(0)
            out["stream"] = await f.read()  # to EOF, the unaligned tail included
        return out

    out = _run(loop_factory, main)
    align = out["align"]
    off, block = out["written"]
    expected = bytearray(original)
    expected[off : off + len(block)] = block
    assert out["read_at"] == block
    assert out["short_len"] == bytes(expected[:100])
    tail_at, tail = out["tail"]
    assert tail_at % align == 0 and tail == bytes(expected[tail_at:]) and len(tail) == 16
    assert out["stream"] == bytes(expected)
    assert len(out["errors"]) == 3
    for code, message in out["errors"]:
        assert code == errno.EINVAL
        assert "O_DIRECT" in message and f"multiples of {align} bytes" in message
        assert str(dpath) in message
    assert out["no_io"]
    # Never a silent change: the refused writes left no trace.
    assert hashlib.sha256(dpath.read_bytes()).digest() == hashlib.sha256(expected).digest()


def test_stream_writes_land_when_aligned_and_fail_loudly_when_not(
    dpath: Path, backend: str, loop_factory: Any
) -> None:
    async def main() -> tuple[int, Any]:
        async with hybridio.async_open(dpath, "wb", opener=_with_direct, backend=backend) as f:
            align = f._raw._direct.align.offset  # type: ignore[attr-defined]
            for i in range(8):
                await f.write(bytes([i]) * align)  # buffered, flushed whole on close
        g = await hybridio.async_open(dpath, "ab", opener=_with_direct, backend=backend)
        await g.write(b"odd")
        try:
            await g.close()
        except OSError as exc:
            return align, (exc.errno, "O_DIRECT" in str(exc), g.closed)
        return align, None

    align, error = _run(loop_factory, main)
    assert error == (errno.EINVAL, True, True)  # raised on close, fd released
    assert dpath.read_bytes() == b"".join(bytes([i]) * align for i in range(8))


def test_a_passed_o_direct_fd_gets_the_same_rules(dpath: Path, backend: str) -> None:
    dpath.write_bytes(bytes(range(256)) * 64)

    async def main() -> tuple[bytes, int | None]:
        fd = os.open(dpath, os.O_RDONLY | direct.O_DIRECT)
        async with hybridio.async_open(fd, "rb", backend=backend) as f:
            data = await f.read_at(0, 300)
            try:
                await f.read_at(3, 10)
            except OSError as exc:
                return data, exc.errno
        return data, None

    data, code = _run(asyncio.new_event_loop, main)
    assert data == (bytes(range(256)) * 64)[:300]
    assert code == errno.EINVAL


def test_o_direct_on_tmpfs_works_or_fails_clearly(loop_factory: Any) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no /dev/shm tmpfs here")
    path = shm / f"hybridio-direct-{os.getpid()}"
    payload = os.urandom(3 * 4096)
    path.write_bytes(payload)

    async def main() -> Any:
        try:
            async with hybridio.async_open(path, "r+b", opener=_with_direct) as f:
                align = f._raw._direct.align  # type: ignore[attr-defined]
                await f.write_at(0, b"z" * align.offset)
                return align, await f.read()
        except OSError as exc:
            return exc

    try:
        result = _run(loop_factory, main)
    finally:
        path.unlink()
    if isinstance(result, OSError):  # tmpfs before Linux 6.6
        assert result.errno == errno.EINVAL
        assert "O_DIRECT" in str(result) and "tmpfs" in str(result)
    else:
        align, data = result
        # tmpfs reports no statx DIO alignment and has no block device.
        assert align.source == "st_blksize" and align.offset == os.stat(shm).st_blksize
        assert data == b"z" * align.offset + payload[align.offset :]


def test_einval_of_an_o_direct_open_names_o_direct_and_the_filesystem() -> None:
    target = "/proc/self/status"  # procfs refuses O_DIRECT opens
    try:
        os.close(os.open(target, os.O_RDONLY | direct.O_DIRECT))
    except OSError:
        pass
    else:
        pytest.skip("this kernel's procfs accepts O_DIRECT")

    async def main() -> OSError:
        with pytest.raises(OSError, match="Invalid argument") as info:
            await hybridio.async_open(target, "rb", opener=_with_direct)
        return info.value

    exc = asyncio.run(main())
    assert exc.errno == errno.EINVAL
    assert "O_DIRECT" in str(exc) and "proc" in str(exc)
    assert exc.filename == target


async def test_an_opener_einval_unrelated_to_o_direct_is_left_alone(tmp_path: Path) -> None:
    def opener(path: str, flags: int) -> int:
        raise OSError(errno.EINVAL, "Invalid argument", path)

    with pytest.raises(OSError, match="Invalid argument") as info:
        await hybridio.async_open(tmp_path / "f", "wb", opener=opener)
    assert info.value.errno == errno.EINVAL and "O_DIRECT" not in str(info.value)


async def test_files_without_o_direct_are_untouched(tmp_path: Path) -> None:
    async with hybridio.async_open(tmp_path / "plain", "w+b") as f:
        assert f._raw._direct is None  # type: ignore[attr-defined]
        assert f._raw.inline.enabled  # type: ignore[attr-defined]
        await f.write_at(1, b"x")


_LOOP_CHILD = """
import asyncio, errno, json, os, sys
import hybridio
from hybridio._engines import direct

path = os.path.join(sys.argv[1], "f")

def opener(p, flags):
    return os.open(p, flags | direct.O_DIRECT, 0o666)

async def main():
    out = {}
    async with hybridio.async_open(path, "w+b", opener=opener) as f:
        align = f._raw._direct.align
        out["align"] = [align.offset, align.source]
        try:
            await f.write_at(512, b"s" * 512)  # fine for a 512-byte device, not here
        except OSError as exc:
            out["small"] = [exc.errno, str(exc)]
        block = os.urandom(2 * align.offset)
        await f.write_at(align.offset, block)
        out["exact"] = await f.read_at(align.offset, len(block)) == block
    fd = os.open(path, os.O_RDONLY | direct.O_DIRECT)
    direct._statx_dio = lambda fd: None  # as on a kernel before 6.1: sysfs
    out["sysfs"] = direct.alignment_of(fd).offset
    os.close(fd)
    return out

print(json.dumps(asyncio.run(main())))
"""


def test_a_4096_byte_sector_device_gets_4096_byte_rules(tmp_path: Path) -> None:
    """A loop device with 4 KiB logical sectors: the rules follow the device.

    The working directory's device has 512-byte sectors, so this is what would
    catch a hard-coded 512; it runs in a private mount namespace.
    """
    for tool in ("mkfs.ext4", "losetup", "unshare", "mount"):
        if not any(
            os.access(os.path.join(d, tool), os.X_OK)
            for d in ("/sbin", "/usr/sbin", "/bin", "/usr/bin")
        ):
            pytest.skip(f"{tool} is not available")
    img, mnt = tmp_path / "img", tmp_path / "mnt"
    mnt.mkdir()
    with open(img, "wb") as f:
        f.truncate(32 << 20)
    mkfs = subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-b", "4096", str(img)], capture_output=True, timeout=60
    )
    if mkfs.returncode:
        pytest.skip(f"mkfs.ext4 failed: {mkfs.stderr[-200:]!r}")
    child = tmp_path / "child.py"
    child.write_text(_LOOP_CHILD)
    shell = (
        f"dev=$(losetup --sector-size 4096 -f --show {img}) || exit 77; "
        f"trap 'umount {mnt} 2>/dev/null; losetup -d $dev' EXIT; "
        f"mount $dev {mnt} || exit 77; "
        f"{sys.executable} {child} {mnt}"
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", shell],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    if done.returncode == 77:
        pytest.skip(f"cannot set up a 4 KiB-sector loop device: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert out["align"] == [4096, "statx STATX_DIOALIGN"]
    assert out["small"][0] == errno.EINVAL and "multiples of 4096 bytes" in out["small"][1]
    assert out["exact"] is True
    assert out["sysfs"] == 4096


def test_batches_on_an_o_direct_file_follow_the_same_rules(
    dpath: Path, backend: str, loop_factory: Any
) -> None:
    original = os.urandom(64 << 10)
    dpath.write_bytes(original)

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with hybridio.async_open(dpath, "r+b", opener=_with_direct, backend=backend) as f:
            align = f._raw._direct.align.offset  # type: ignore[attr-defined]
            block = os.urandom(align)
            out["align"], out["block"] = align, block
            out["write_many"] = await f.write_many(
                [(2 * align, block), (3 * align + 1, block)], return_exceptions=True
            )
            out["read_many"] = await f.read_many([(0, align), (2 * align, align)])
            into = bytearray(align)
            out["readinto_many"] = await f.readinto_many([(2 * align, into)])
            out["into"] = bytes(into)
        return out

    out = _run(loop_factory, main)
    align, block = out["align"], out["block"]
    ok, refused = out["write_many"]
    assert ok == align
    assert isinstance(refused, OSError) and refused.errno == errno.EINVAL
    assert "O_DIRECT" in str(refused)
    assert out["read_many"] == [original[:align], block]
    assert out["readinto_many"] == [align] and out["into"] == block
    expected = bytearray(original)
    expected[2 * align : 3 * align] = block
    assert dpath.read_bytes() == bytes(expected)  # the refused write left no trace
