"""Checked by mypy in ``make test``: hybridio.os / tempfile / Path / wrap types (issue 10)."""

from __future__ import annotations

import io
import os
import sys

import hybridio

if sys.version_info >= (3, 11):
    from typing import assert_type
else:  # pragma: no cover
    from typing_extensions import assert_type


async def os_functions_keep_the_stdlib_signatures() -> None:
    assert_type(await hybridio.os.stat("f"), os.stat_result)
    assert_type(await hybridio.os.listdir("d"), list[str])
    assert_type(await hybridio.os.listdir(b"d"), list[bytes])
    assert_type(await hybridio.os.readlink("l"), str)
    assert_type(await hybridio.os.readlink(b"l"), bytes)
    assert_type(await hybridio.os.path.exists("f"), bool)
    assert_type(await hybridio.os.path.getsize("f"), int)
    assert_type(await hybridio.os.getcwd(), str)
    assert_type(await hybridio.os.sendfile(1, 2, 0, 10), int)
    async with hybridio.os.scandir("d") as it:
        async for entry in it:
            assert_type(entry, os.DirEntry[str])
    async for bentry in hybridio.os.scandir(b"d"):
        assert_type(bentry, os.DirEntry[bytes])
    async for top, dirs, files in hybridio.os.walk("d"):
        assert_type(top, str)
        assert_type(dirs, list[str])
        assert_type(files, list[str])


async def path_methods_are_typed() -> None:
    p = hybridio.Path("d") / "f"
    assert_type(p, hybridio.Path)
    assert_type(p.name, str)
    assert_type(await p.read_bytes(), bytes)
    assert_type(await p.read_text(), str)
    assert_type(await p.exists(), bool)
    assert_type(await p.stat(), os.stat_result)
    async with p.open("rb") as b:
        assert_type(b, hybridio.AsyncBinaryIO)
    async with p.open() as t:
        assert_type(t, hybridio.AsyncTextIO)
    async for child in p.iterdir():
        assert_type(child, hybridio.Path)
    async for found in p.rglob("*.py"):
        assert_type(found, hybridio.Path)
    async for where, dirnames, _ in p.walk():
        assert_type(where, hybridio.Path)
        assert_type(dirnames, list[str])


async def tempfiles_and_wrappers_are_typed() -> None:
    async with hybridio.tempfile.TemporaryFile() as tb:
        assert_type(tb, hybridio.AsyncBinaryIO)
    async with hybridio.tempfile.TemporaryFile("w+") as tt:
        assert_type(tt, hybridio.AsyncTextIO)
    async with hybridio.tempfile.TemporaryDirectory() as d:
        assert_type(d, str)
    assert_type(await hybridio.tempfile.mkstemp(), tuple[int, str])
    w = hybridio.wrap(io.BytesIO())
    assert_type(w, hybridio.AsyncWrappedBinaryIO)
    assert_type(await w.read(), bytes)
    assert_type(hybridio.wrap(io.StringIO()), hybridio.AsyncWrappedTextIO)
    assert_type(await hybridio.stdout.write("x"), int)
    assert_type(await hybridio.stdin_bytes.read(), bytes)
    async with hybridio.async_open("f", "rb") as f:
        async for chunk in hybridio.iter_chunked(f, 4096):
            assert_type(chunk, bytes)
