"""hybridio.compat.<peer> behaves as the peer where the peer differs from the core (issue 10).

Each test runs the same code on the real peer (installed with the bench extra)
and on the compat module and compares what comes out.
"""

from __future__ import annotations

import asyncio
import io
import os
import pathlib
import warnings
from typing import Any

import pytest

from hybridio.compat import aiofile as compat_aiofile
from hybridio.compat import aiofiles as compat_aiofiles
from hybridio.compat import aiomisc as compat_aiomisc


async def _aiofiles_surface(aiofiles: Any, path: pathlib.Path, out: list[Any]) -> None:
    async with aiofiles.open(path, "rb+") as f:
        out.append(f.readable())  # sync in aiofiles
        out.append(await f.seekable())  # coroutines in aiofiles
        out.append(await f.writable())
        out.append(await f.isatty())
        out.append(isinstance(f.fileno(), int))
        peeked = await f.peek(1)
        out.append(peeked[:1])
        out.append(await f.read(3))
        out.append(await f.tell())
        raw = f.detach()
        out.append(type(raw).__name__)
        out.append(raw.read(2))
        with pytest.raises(ValueError, match="detached"):
            await f.read()
        raw.close()


async def test_aiofiles_surface_matches_aiofiles(tmp_path: pathlib.Path) -> None:
    aiofiles = pytest.importorskip("aiofiles")
    p = tmp_path / "f"
    p.write_bytes(b"0123456789")
    theirs: list[Any] = []
    ours: list[Any] = []
    for module, out in ((aiofiles, theirs), (compat_aiofiles, ours)):
        # `async with` on a detached file raises at exit, on both.
        with pytest.raises(ValueError, match="detached"):
            await _aiofiles_surface(module, p, out)
        out.extend(await _aiofiles_surface_without_exit(module, p))
    assert ours == theirs


async def _aiofiles_surface_without_exit(aiofiles: Any, path: pathlib.Path) -> list[Any]:
    f = await aiofiles.open(path, "rb+")
    out = [f.readable(), await f.seekable(), await f.read(3), await f.tell()]
    raw = f.detach()
    out += [type(raw).__name__, raw.read(2)]
    raw.close()
    return out


async def test_aiofiles_os_and_tempfile_match_aiofiles(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("aiofiles")
    import aiofiles.os
    import aiofiles.tempfile

    for i in range(5):
        (tmp_path / f"e{i}").touch()
    results = []
    for os_mod, temp_mod in (
        (aiofiles.os, aiofiles.tempfile),
        (compat_aiofiles.os, compat_aiofiles.tempfile),
    ):
        with await os_mod.scandir(tmp_path) as it:
            names = sorted(e.name for e in it)
        exists = await os_mod.path.exists(tmp_path / "e1")
        with pytest.raises(FileNotFoundError):
            await os_mod.stat(tmp_path / "missing")
        async with temp_mod.TemporaryFile("w+") as t:
            await t.write("abc")
            await t.seek(0)
            text = await t.read()
        async with temp_mod.TemporaryDirectory(dir=tmp_path) as d:
            isdir = os.path.isdir(d)
        results.append((names, exists, text, isdir, os.path.exists(d)))
    assert results[0] == results[1]


async def _aiofile_session(aiofile: Any, path: pathlib.Path) -> list[Any]:
    out: list[Any] = []
    afp = aiofile.async_open(path, "w+")
    out.append(afp.closed)  # True before it is awaited
    await afp
    await afp.write("héllo\nwörld\n")
    out.append(afp.tell())  # synchronous
    afp.seek(0)  # synchronous: nothing to await
    out.append([line async for line in afp])
    afp.seek(1)
    out.append(await afp.read(3))
    out.append(afp.tell())
    out.append(await afp.readline())
    await afp.flush()
    await afp.close()
    out.append(afp.closed)
    a = aiofile.AIOFile(path, "rb")
    out.append(a.closed)
    out.append(isinstance(await a.open(), int))
    out.append(await a.open())
    out.append(await a.read(4, offset=2))
    out.append(await a.read())
    await a.close()
    with pytest.raises(asyncio.InvalidStateError):
        await a.open()
    async with aiofile.AIOFile(path, "r+b") as w:
        out.append(await w.write(b"XY", offset=3))
    out.append(path.read_bytes())
    return out


async def test_aiofile_semantics_match_aiofile(tmp_path: pathlib.Path) -> None:
    aiofile = pytest.importorskip("aiofile")
    theirs = await _aiofile_session(aiofile, tmp_path / "theirs")
    ours = await _aiofile_session(compat_aiofile, tmp_path / "ours")
    assert ours == theirs


async def test_aiofile_async_open_of_a_file_object_leaves_it_open(tmp_path: pathlib.Path) -> None:
    with open(tmp_path / "f", "w+") as fp:
        async with compat_aiofile.async_open(fp) as afp:
            await afp.write("data")
            afp.seek(0)
            assert await afp.read() == "data"
            assert not afp.file.mode.binary
        assert not fp.closed


async def test_aiofile_context_selects_the_backend_of_its_kind(tmp_path: pathlib.Path) -> None:
    from caio import python_aio_asyncio

    async with (
        python_aio_asyncio.AsyncioContext() as ctx,
        compat_aiofile.AIOFile(tmp_path / "f", "wb+", context=ctx) as afp,
    ):
        await afp.write(b"abc")
        assert afp._file is not None
        assert afp._file.backend == "python"
        assert await afp.read() == b"abc"


async def _aiomisc_session(aiomisc_io: Any, path: pathlib.Path) -> list[Any]:
    out: list[Any] = []
    f = aiomisc_io.async_open(path, "w+", compression=aiomisc_io.Compression.GZIP)
    async with f:
        out.append(f.closed())
        out.append(await f.readable())
        out.append(await f.writable())
        out.append(await f.write("line 1\nline 2\n"))
    out.append(f.closed())
    async with aiomisc_io.async_open(path, "r", compression=aiomisc_io.Compression.GZIP) as r:
        out.append([line async for line in r])
        out.append(await r.tell())
    b = await aiomisc_io.async_open(path, "rb")
    out.append((await b.read(2)).hex())
    await b.close()
    return out


async def test_aiomisc_semantics_match_aiomisc(tmp_path: pathlib.Path) -> None:
    aiomisc_io = pytest.importorskip("aiomisc.io")
    theirs = await _aiomisc_session(aiomisc_io, tmp_path / "theirs.gz")
    ours = await _aiomisc_session(compat_aiomisc, tmp_path / "ours.gz")
    assert ours == theirs


async def test_aiomisc_loop_argument_is_ignored_with_a_deprecation_warning(
    tmp_path: pathlib.Path,
) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.warns(DeprecationWarning, match="loop= is ignored"):
        f = compat_aiomisc.async_open(tmp_path / "f", "r", loop=asyncio.get_running_loop())
    async with f:
        assert await f.read() == "x"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with compat_aiomisc.async_open(tmp_path / "f", "r") as g:
            assert await g.read() == "x"


async def test_aiomisc_text_fsync_flushes_text_then_bytes(tmp_path: pathlib.Path) -> None:
    async with compat_aiomisc.async_open(tmp_path / "f", "w") as f:
        await f.write("durable")
        await f.fsync()
        assert (tmp_path / "f").read_text() == "durable"
        await f.write("!")
        await f.fdatasync()
        assert (tmp_path / "f").read_text() == "durable!"


def test_aiofiles_wrap_rejects_what_aiofiles_rejects() -> None:
    for entity in (int, [1, 2, 3], lambda x: x, io.FileIO):
        with pytest.raises(TypeError):
            compat_aiofiles.threadpool.wrap(entity)
