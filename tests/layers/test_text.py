"""AsyncTextIO unit behaviour: TextIOWrapper's errors and attributes, line buffering,
iteration rules, the aiomisc examples, and the same through hybridio.async_open."""

from __future__ import annotations

import io
import locale
import os
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio._compression import Compression
from hybridio._layers.stream import open_stream
from hybridio._layers.text import AsyncTextIO
from hybridio._modes import parse_mode


async def text(path: Path, mode: str, **kw: Any) -> AsyncTextIO:
    binary = await open_stream(os.fspath(path), parse_mode(mode))
    return AsyncTextIO(binary, **kw)


async def test_aiomisc_example_w_plus_seek_read(tmp_path: Path) -> None:
    """aiomisc example (a), on the thread engine and through async_open."""
    async with await text(tmp_path / "a.txt", "w+", encoding="utf-8") as f:
        for chunk in ("Hello", " ", "world"):
            await f.write(chunk)
        await f.seek(0)
        assert await f.read() == "Hello world"
    async with hybridio.async_open(tmp_path / "b.txt", "w+") as g:
        for chunk in ("Hello", " ", "world"):
            await g.write(chunk)
        await g.seek(0)
        assert await g.read() == "Hello world"


async def test_aiomisc_gzip_example_through_async_open(tmp_path: Path) -> None:
    """aiomisc example (b) with the aiomisc spelling: mode "w+", Compression.GZIP."""
    path = tmp_path / "test.txt.gz"
    async with hybridio.async_open(path, "w+", compression=Compression.GZIP) as f:
        for _ in range(10_000):
            await f.write("Hello World\n")
    assert path.stat().st_size < 10_000
    async with hybridio.async_open(path, "r", compression=Compression.GZIP) as f:
        assert [line async for line in f] == ["Hello World\n"] * 10_000


async def test_wrong_types_raise_like_textiowrapper(tmp_path: Path) -> None:
    """B5: bytes to a text file is a TypeError; a later valid write lands."""
    f = await text(tmp_path / "t", "w+", encoding="utf-8")
    with pytest.raises(TypeError, match=r"write\(\) argument must be str, not bytes"):
        await f.write(b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await f.read(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await f.readline("3")  # type: ignore[arg-type]
    assert await f.write("ok") == 2
    await f.close()
    assert (tmp_path / "t").read_text() == "ok"


async def test_wrong_direction_and_closed(tmp_path: Path) -> None:
    """B7, B8."""
    path = tmp_path / "t"
    path.write_text("abc\n")
    f = await text(path, "r", encoding="utf-8")
    with pytest.raises(io.UnsupportedOperation, match="not writable"):
        await f.write("x")
    await f.close()
    await f.close()
    for call in (f.read(), f.readline(), f.write("x"), f.tell(), f.seek(0), f.flush()):
        with pytest.raises(ValueError, match="closed file"):
            await call
    with pytest.raises(ValueError, match="closed file"):
        f.__aiter__()
    g = await text(path, "w", encoding="utf-8")
    with pytest.raises(io.UnsupportedOperation, match="not readable"):
        await g.read()
    await g.close()


def test_constructor_arguments_are_checked_like_textiowrapper() -> None:
    buffer: Any = type(
        "B",
        (),
        {"readable": lambda s: True, "writable": lambda s: True, "seekable": lambda s: True},
    )()
    with pytest.raises(ValueError, match="illegal newline"):
        AsyncTextIO(buffer, encoding="utf-8", newline="\n\n")
    with pytest.raises(TypeError):
        AsyncTextIO(buffer, encoding=3)  # type: ignore[arg-type]
    with pytest.raises(LookupError, match="not a text encoding"):
        AsyncTextIO(buffer, encoding="zlib_codec")
    with pytest.raises(LookupError):
        AsyncTextIO(buffer, encoding="no-such-codec")


async def test_default_encoding_is_open_s(tmp_path: Path) -> None:
    f = await text(tmp_path / "t", "w", encoding="locale")
    with open(tmp_path / "u", "w", encoding="locale") as sync:
        assert f.encoding == sync.encoding
    assert f.encoding == locale.getencoding() or f.encoding == "utf-8"
    assert f.errors == "strict"
    await f.close()


async def test_line_buffering_flushes_each_line(tmp_path: Path) -> None:
    path = tmp_path / "lb"
    f = await text(path, "w", encoding="utf-8", line_buffering=True)
    assert f.line_buffering
    await f.write("partial")
    assert path.read_bytes() == b""
    await f.write(" line\nnext")
    assert path.read_bytes() == b"partial line\nnext"
    await f.close()


async def test_tell_is_disabled_during_iteration_as_in_textiowrapper(tmp_path: Path) -> None:
    path = tmp_path / "it"
    path.write_text("a\nb\nc\n")
    f = await text(path, "r", encoding="utf-8")
    async for line in f:
        assert line == "a\n"
        with pytest.raises(OSError, match="telling position disabled"):
            await f.tell()
        break
    assert await f.readline() == "b\n"
    rest = [line async for line in f]
    assert rest == ["c\n"]
    assert await f.tell() == 6
    await f.close()


async def test_tell_seek_round_trip_with_a_stateful_codec(tmp_path: Path) -> None:
    """Cookies from tell() bring seek() back to the same character."""
    path = tmp_path / "u16"
    content = "日本語 text\r\nwith ünïcode\n" * 500
    path.write_text(content, encoding="utf-16", newline="")
    f = await text(path, "r", encoding="utf-16")
    cookies = []
    for _ in range(300):
        cookies.append((await f.tell(), await f.read(7)))
    for cookie, expected in reversed(cookies):
        await f.seek(cookie)
        assert await f.read(7) == expected
    await f.close()
    with open(path, encoding="utf-16") as sync:
        sync_cookies = []
        for _ in range(300):
            sync_cookies.append(sync.tell())
            sync.read(7)
    assert [c for c, _ in cookies] == sync_cookies


async def test_fifo_text_through_async_open_uses_threads(tmp_path: Path) -> None:
    """F7 through the public API: a FIFO is served by the thread engine."""
    import asyncio

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    async def produce() -> None:
        async with hybridio.async_open(fifo, "w", encoding="utf-8") as w:
            assert w.buffer.backend == "threads"  # type: ignore[attr-defined]
            for i in range(2000):
                await w.write(f"line {i}\n")

    async def consume() -> list[str]:
        async with hybridio.async_open(fifo, "r", encoding="utf-8") as r:
            return [line async for line in r]

    _, lines = await asyncio.wait_for(asyncio.gather(produce(), consume()), 30)
    assert lines == [f"line {i}\n" for i in range(2000)]


async def test_writelines_and_readlines(tmp_path: Path) -> None:
    path = tmp_path / "wl"
    f = await text(path, "w+", encoding="utf-8", newline="\r\n")
    await f.writelines(["a\n", "b\n", "c"])
    await f.seek(0)
    assert await f.readlines() == ["a\r\n", "b\r\n", "c"]
    await f.seek(0)
    assert await f.readlines(3) == ["a\r\n"]
    await f.close()
    assert path.read_bytes() == b"a\r\nb\r\nc"
