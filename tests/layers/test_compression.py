"""Compressed streams: truncation, corruption, multi-member, bombs, seeking, flushing,
interop with the command-line tools, AUTO detection, bad arguments (RELIABILITY B3, C1-C6,
E2)."""

from __future__ import annotations

import asyncio
import bz2
import concurrent.futures
import functools
import gc
import gzip
import io
import lzma
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
import zstandard

import hybridio
from hybridio._compression import Compression, detect, resolve
from hybridio._engines.threads import run_in_thread
from hybridio._layers.stream import StreamFile, open_stream
from hybridio._layers.text import AsyncTextIO
from hybridio._modes import parse_mode

FORMATS = ["gzip", "bz2", "lzma", "zstd"]
COMPRESS: dict[str, Any] = {
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "bz2": bz2.compress,
    "lzma": lzma.compress,
    "zstd": lambda b: zstandard.ZstdCompressor(write_checksum=True).compress(b),
}
DECOMPRESS: dict[str, Any] = {
    "gzip": gzip.decompress,
    "bz2": bz2.decompress,
    "lzma": lzma.decompress,
    "zstd": lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b),
}
SUFFIX = {"gzip": ".gz", "bz2": ".bz2", "lzma": ".xz", "zstd": ".zst"}
PAYLOAD = b"".join(b"line %d of the payload\n" % i for i in range(3000))


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


async def read_all(path: Path, fmt: str, **kw: Any) -> bytes:
    f = await open_stream(os.fspath(path), parse_mode("rb"), compression=fmt, **kw)
    try:
        return await f.read()
    finally:
        await f.close()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_round_trip_and_stdlib_interop(tmp_path: Path, fmt: str) -> None:
    """E2: what we write the stdlib (or zstandard) reads, and the other way round."""
    path = tmp_path / ("ours" + SUFFIX[fmt])
    f = await open_stream(os.fspath(path), parse_mode("wb"), compression=fmt)
    for i in range(0, len(PAYLOAD), 1000):
        await f.write(PAYLOAD[i : i + 1000])
    await f.close()
    assert DECOMPRESS[fmt](path.read_bytes()) == PAYLOAD
    theirs = tmp_path / ("theirs" + SUFFIX[fmt])
    theirs.write_bytes(COMPRESS[fmt](PAYLOAD))
    assert await read_all(theirs, fmt) == PAYLOAD


@pytest.mark.parametrize("fmt", FORMATS)
async def test_truncated_input_raises_eoferror_at_every_length(tmp_path: Path, fmt: str) -> None:
    """C1: truncation is never silent; read(len(payload)) still returns the payload
    when only the trailer is missing, and the next read raises EOFError."""
    payload = b"truncation test " * 64
    blob = COMPRESS[fmt](payload)
    path = tmp_path / "t"
    # (gzip: one byte is not even a magic number, BadGzipFile as in the stdlib.)
    for cut in range(2 if fmt == "gzip" else 1, len(blob)):
        # In a thread: an O_TRUNC rewrite can wait for the journal, and the
        # loop-stall watchdog is there for hybridio's blocking, not the test's.
        await asyncio.to_thread(path.write_bytes, blob[:cut])
        f = await open_stream(os.fspath(path), parse_mode("rb"), compression=fmt)
        try:
            with pytest.raises(EOFError):
                await f.read()
        finally:
            await f.close()
    # Trailer (and, for zstd, the frame end) dropped: the data is all there.
    trailer = {"gzip": 8, "bz2": 10, "lzma": 12, "zstd": 3}[fmt]
    path.write_bytes(blob[:-trailer])
    f = await open_stream(os.fspath(path), parse_mode("rb"), compression=fmt)
    try:
        if fmt == "gzip":  # the deflate stream is complete, only CRC+size are missing
            assert await f.read(len(payload)) == payload
            with pytest.raises(EOFError):
                await f.read(1)
        else:
            with pytest.raises(EOFError):
                await f.read(len(payload) + 1)
    finally:
        await f.close()


@pytest.mark.parametrize(
    ("fmt", "exc"),
    [
        ("gzip", gzip.BadGzipFile),
        ("bz2", OSError),
        ("lzma", lzma.LZMAError),
        ("zstd", zstandard.ZstdError),
    ],
)
async def test_corrupt_input_raises_the_stdlib_exception(
    tmp_path: Path, fmt: str, exc: type[Exception]
) -> None:
    """C2: a flipped byte in the body or a wrong CRC raises on read."""
    blob = bytearray(COMPRESS[fmt](PAYLOAD))
    if fmt == "gzip":
        blob[-8] ^= 0xFF  # CRC32
    else:
        blob[len(blob) // 2] ^= 0xFF
    path = tmp_path / "c"
    path.write_bytes(bytes(blob))
    with pytest.raises(exc):
        await read_all(path, fmt)
    path.write_bytes(b"this is not compressed at all" * 10)
    with pytest.raises(exc):
        await read_all(path, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_200_appends_read_back_as_one_stream(tmp_path: Path, fmt: str) -> None:
    """C3 (test_many_append): each "ab" open adds a member; all are read."""
    path = tmp_path / "m"
    expected = b""
    for i in range(200):
        f = await open_stream(os.fspath(path), parse_mode("ab"), compression=fmt)
        chunk = b"member %d\n" % i
        await f.write(chunk)
        await f.close()
        expected += chunk
    assert await read_all(path, fmt) == expected
    # And in small pieces, through the line iterator.
    f = await open_stream(os.fspath(path), parse_mode("rb"), compression=fmt, buffering=7)
    assert [line async for line in f] == expected.splitlines(keepends=True)
    await f.close()


@pytest.mark.parametrize("fmt", ["gzip", "bz2", "lzma"])
async def test_trailing_junk_and_zero_padding_as_stdlib(tmp_path: Path, fmt: str) -> None:
    """C2: trailing zero padding / garbage behave as in the stdlib."""
    opener = {"gzip": gzip.open, "bz2": bz2.open, "lzma": lzma.open}[fmt]
    for tail in (b"\0" * 100, b"garbage!" * 3, b""):
        path = tmp_path / "j"
        path.write_bytes(COMPRESS[fmt](PAYLOAD) + tail)
        try:
            with opener(path, "rb") as sync:
                expected: Any = sync.read()
        except Exception as exc:
            expected = type(exc)
        try:
            got: Any = await read_all(path, fmt)
        except Exception as exc:
            got = type(exc)
        assert got == expected


@pytest.mark.parametrize("fmt", ["gzip", "bz2", "lzma"])
async def test_zero_bomb_read_1_decompresses_a_bounded_amount(tmp_path: Path, fmt: str) -> None:
    """C5: read(1) of a 2 MB bomb decompresses at most about one buffer."""
    path = tmp_path / "bomb"
    path.write_bytes(COMPRESS[fmt](b"\0" * 2_000_000))
    buffer_size = 16 * 1024
    f = await open_stream(os.fspath(path), parse_mode("rb"), compression=fmt, buffering=buffer_size)
    try:
        assert await f.read(1) == b"\0"
        # Everything decompressed so far is either buffered by us or by the
        # stdlib reader: bounded by our buffer plus one of theirs.
        assert await f.tell() == 1
        assert f.raw.tell() <= 2 * buffer_size + io.DEFAULT_BUFFER_SIZE
    finally:
        await f.close()


async def test_readline_without_newline_stays_bounded(tmp_path: Path) -> None:
    """C5: readline(limit) on input with no newline returns limit bytes."""
    path = tmp_path / "nl"
    path.write_bytes(gzip.compress(b"x" * 1_000_000))
    f = await open_stream(os.fspath(path), parse_mode("rb"), compression="gzip", buffering=4096)
    assert await f.readline(10) == b"x" * 10
    assert f.raw.tell() <= 3 * 4096 + io.DEFAULT_BUFFER_SIZE
    await f.close()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_seeking_in_read_and_write_mode(tmp_path: Path, fmt: str) -> None:
    """C4: forward, backward (rewind), SEEK_CUR negative, SEEK_END, past the end,
    before the start; in write mode forward fills zeros, backward raises OSError."""
    path = tmp_path / "s"
    path.write_bytes(COMPRESS[fmt](PAYLOAD))
    f = await open_stream(os.fspath(path), parse_mode("rb"), compression=fmt, buffering=64)
    assert await f.seek(1000) == 1000
    assert await f.read(10) == PAYLOAD[1000:1010]
    assert await f.seek(5) == 5
    assert await f.read(5) == PAYLOAD[5:10]
    assert await f.seek(-3, 1) == 7
    assert await f.read(3) == PAYLOAD[7:10]
    assert await f.seek(-10, 2) == len(PAYLOAD) - 10
    assert await f.read() == PAYLOAD[-10:]
    assert await f.seek(len(PAYLOAD) + 100) == len(PAYLOAD)
    assert await f.tell() == len(PAYLOAD)
    assert await f.read() == b""
    assert await f.seek(-50) == 0
    assert await f.read(4) == PAYLOAD[:4]
    await f.close()

    f = await open_stream(os.fspath(path), parse_mode("wb"), compression=fmt)
    await f.write(b"abc")
    if fmt in ("bz2", "lzma"):  # BZ2File/LZMAFile only seek when reading
        assert not f.seekable()
        with pytest.raises(io.UnsupportedOperation):
            await f.seek(10)
        await f.close()
        return
    assert await f.seek(10) == 10
    await f.write(b"z")
    with pytest.raises(OSError, match="Negative seek"):
        await f.seek(2)
    await f.close()
    assert DECOMPRESS[fmt](path.read_bytes()) == b"abc" + bytes(7) + b"z"


@pytest.mark.parametrize("fmt", ["gzip", "zstd"])
async def test_flush_makes_the_data_so_far_decodable(tmp_path: Path, fmt: str) -> None:
    """C6 (gh-105808): after flush() the bytes on disk decode without the trailer."""
    path = tmp_path / "f"
    f = await open_stream(os.fspath(path), parse_mode("wb"), compression=fmt)
    await f.write(b"first part\n")
    await f.flush()
    blob = path.read_bytes()
    if fmt == "gzip":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        assert d.decompress(blob) == b"first part\n"
    else:
        assert zstandard.ZstdDecompressor().decompressobj().decompress(blob) == b"first part\n"
    await f.write(b"second part\n")
    await f.close()
    assert DECOMPRESS[fmt](path.read_bytes()) == b"first part\nsecond part\n"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_exception_inside_async_with_still_finalises(tmp_path: Path, fmt: str) -> None:
    """C6: the trailer is written and the original exception propagates."""
    path = tmp_path / "e"
    with pytest.raises(KeyError):  # noqa: PT012 - the raise inside `async with` is the point
        async with await open_stream(os.fspath(path), parse_mode("wb"), compression=fmt) as f:
            await f.write(b"kept")
            raise KeyError("boom")
    assert DECOMPRESS[fmt](path.read_bytes()) == b"kept"


async def test_unclosed_compressed_writer_warns(tmp_path: Path) -> None:
    """C6 (cpython#130806): an unclosed writer emits ResourceWarning (and is finished)."""
    path = tmp_path / "u.gz"
    # Deterministic (issue 9 item 11): a worker thread keeps the open's
    # future, whose result is the file, until its next job -- join the pool;
    # the loop keeps the handle that resumed this task -- suspend once.
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    f: StreamFile | None = await open_stream(
        os.fspath(path), parse_mode("wb"), compression="gzip", executor=executor
    )
    assert f is not None
    await f.write(b"data")
    executor.shutdown(wait=True)
    await asyncio.sleep(0)
    with pytest.warns(ResourceWarning):  # noqa: PT031 - the drop and the collection together
        f = None
        gc.collect()
    assert gzip.decompress(path.read_bytes()) == b"data"


@pytest.mark.parametrize(
    ("fmt", "level", "exc"),
    [
        ("gzip", 10, ValueError),
        ("gzip", "x", TypeError),
        ("bz2", 0, ValueError),
        ("bz2", 10, ValueError),
        ("lzma", 10, lzma.LZMAError),
        ("lzma", -1, OverflowError),
        ("zstd", 23, ValueError),
    ],
)
async def test_bad_compresslevel_raises_stdlib_type_without_fd_or_truncation(
    tmp_path: Path, fmt: str, level: object, exc: type[Exception]
) -> None:
    """B3 (cpython#131492): same exception type as the stdlib, no fd leaked, the
    existing file is left alone."""
    path = tmp_path / "lvl"
    path.write_bytes(b"precious")
    baseline = fd_count()
    with pytest.raises(exc):
        await open_stream(os.fspath(path), parse_mode("wb"), compression=fmt, compresslevel=level)
    assert fd_count() == baseline
    assert path.read_bytes() == b"precious"


@pytest.mark.parametrize("fmt", ["bz2", "lzma", "zstd"])
@pytest.mark.parametrize("mode", ["r+b", "w+", "a+b", "x+"])
async def test_update_modes_are_refused_like_the_stdlib(
    tmp_path: Path, fmt: str, mode: str
) -> None:
    """B1: bz2.open/lzma.open reject '+' with ValueError, before any fd exists."""
    path = tmp_path / "p"
    baseline = fd_count()
    with pytest.raises(ValueError, match="Invalid mode"):
        await open_stream(os.fspath(path), parse_mode(mode), compression=fmt)
    assert fd_count() == baseline
    assert not path.exists()
    if fmt != "zstd":
        opener = bz2.open if fmt == "bz2" else lzma.open
        with pytest.raises(ValueError, match="Invalid mode"):
            opener(path, mode)


async def test_gzip_update_modes_follow_gzip_open(tmp_path: Path) -> None:
    """gzip.open accepts '+': 'r+' reads, 'w+'/'a+'/'x+' write."""
    path = tmp_path / "g.gz"
    f = await open_stream(os.fspath(path), parse_mode("w+b"), compression="gzip")
    assert f.writable() and not f.readable()
    with pytest.raises(OSError, match="write-only"):
        await f.read()
    await f.write(b"gz")
    await f.close()
    f = await open_stream(os.fspath(path), parse_mode("r+b"), compression="gzip")
    assert f.readable() and not f.writable()
    with pytest.raises(OSError, match="read-only"):
        await f.write(b"x")
    assert await f.read() == b"gz"
    await f.close()


async def test_missing_zstandard_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the package: a clear ModuleNotFoundError naming hybridio[zstd]."""
    monkeypatch.setitem(sys.modules, "zstandard", None)
    baseline = fd_count()
    with pytest.raises(ModuleNotFoundError, match=r"hybridio\[zstd\]"):
        await open_stream(os.fspath(tmp_path / "z.zst"), parse_mode("wb"), compression="zstd")
    assert fd_count() == baseline


@pytest.mark.parametrize("fmt", FORMATS)
async def test_auto_detects_by_magic_when_reading_and_suffix_when_writing(
    tmp_path: Path, fmt: str
) -> None:
    misnamed = tmp_path / "data.bin"
    misnamed.write_bytes(COMPRESS[fmt](PAYLOAD))
    assert resolve("auto", misnamed, parse_mode("rb")) is Compression(fmt)
    async with hybridio.async_open(misnamed, "rb", compression="auto") as g:
        assert await g.read() == PAYLOAD
    named = tmp_path / ("new" + SUFFIX[fmt])
    assert resolve(Compression.AUTO, named, parse_mode("wb")) is Compression(fmt)
    f = await hybridio.async_open(named, "wb", compression="auto")
    await f.write(b"auto")
    await f.close()
    assert DECOMPRESS[fmt](named.read_bytes()) == b"auto"
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"hello")
    assert resolve("auto", plain, parse_mode("rb")) is Compression.NONE
    assert resolve("auto", tmp_path / "missing.gz", parse_mode("rb")) is Compression.GZIP


def test_compression_enum_accepts_names_values_and_aliases() -> None:
    assert Compression("gzip") is Compression.GZIP
    assert Compression("GZIP") is Compression.GZIP
    assert Compression("xz") is Compression.LZMA
    assert Compression.coerce(None) is Compression.NONE
    assert detect(b"\x28\xb5\x2f\xfd....") is Compression.ZSTD
    with pytest.raises(ValueError, match="invalid compression"):
        Compression.coerce("rar")


CLI = {"gzip": ["gzip"], "bz2": ["bzip2"], "lzma": ["xz"], "zstd": ["zstd", "-q"]}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_interop_with_command_line_tools(tmp_path: Path, fmt: str) -> None:
    """E2: archives we write decode with gzip -d / bzip2 -d / xz -d / zstd -d, and
    what the tools write (including multi-member files) we read."""
    tool = CLI[fmt]
    if shutil.which(tool[0]) is None:
        pytest.skip(f"{tool[0]} command not installed")
    path = tmp_path / ("x" + SUFFIX[fmt])
    for part in (PAYLOAD[:1000], PAYLOAD[1000:]):  # two members
        f = await open_stream(os.fspath(path), parse_mode("ab"), compression=fmt)
        await f.write(part)
        await f.close()
    out = await run_in_thread(
        functools.partial(subprocess.run, capture_output=True, timeout=60),
        [*tool, "-d", "-c", os.fspath(path)],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == PAYLOAD
    src = tmp_path / "src.txt"
    src.write_bytes(PAYLOAD)
    made = await run_in_thread(
        functools.partial(subprocess.run, capture_output=True, timeout=60),
        [*tool, "-c", os.fspath(src)],
    )
    blob = made.stdout
    theirs = tmp_path / ("theirs" + SUFFIX[fmt])
    theirs.write_bytes(blob + blob)
    assert await read_all(theirs, fmt) == PAYLOAD + PAYLOAD


async def test_gzip_metadata_headers_are_skipped(tmp_path: Path) -> None:
    """E2 (test_metadata, test_read_with_extra): FNAME and FEXTRA headers."""
    path = tmp_path / "meta.gz"
    with open(path, "wb") as raw, gzip.GzipFile("original-name.txt", "wb", fileobj=raw) as g:
        g.write(PAYLOAD)
    assert await read_all(path, "gzip") == PAYLOAD
    body = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = body.compress(PAYLOAD) + body.flush()
    extra = b"AB\x03\x00xyz"  # one subfield
    header = b"\x1f\x8b\x08\x04" + bytes(4) + b"\x00\xff" + len(extra).to_bytes(2, "little")
    trailer = zlib.crc32(PAYLOAD).to_bytes(4, "little") + len(PAYLOAD).to_bytes(4, "little")
    path.write_bytes(header + extra + deflated + trailer)
    with gzip.open(path) as g:
        expected = g.read()
    assert await read_all(path, "gzip") == expected


async def test_aiomisc_gzip_example_text_w_plus(tmp_path: Path) -> None:
    """aiomisc example (b): 10,000 lines through gzip in "w+" are small and read back."""
    path = tmp_path / "test.txt.gz"
    binary = await open_stream(os.fspath(path), parse_mode("w+"), compression=Compression.GZIP)
    async with AsyncTextIO(binary, encoding="utf-8") as f:
        for _ in range(10_000):
            await f.write("Hello World\n")
    assert path.stat().st_size < 10_000
    binary = await open_stream(os.fspath(path), parse_mode("r"), compression=Compression.GZIP)
    async with AsyncTextIO(binary, encoding="utf-8") as f:
        assert [line async for line in f] == ["Hello World\n"] * 10_000
