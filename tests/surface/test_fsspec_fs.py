"""hybridio.fsspec.FileSystem: fsspec's abstract test suite (copy, get, put,
open, pipe), the batched cat_ranges, the async file, and the root rules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.tests.abstract import (
    AbstractCopyTests,
    AbstractFixtures,
    AbstractGetTests,
    AbstractOpenTests,
    AbstractPipeTests,
    AbstractPutTests,
)

import hybridio
from hybridio.fsspec import FileSystem


class HybridioFixtures(AbstractFixtures):  # type: ignore[misc]
    """The filesystem under test is hybridio's; the "local" side stays fsspec's own."""

    @pytest.fixture(scope="class")
    @classmethod
    def fs(cls) -> FileSystem:
        return FileSystem(auto_mkdir=True)

    @pytest.fixture
    def fs_path(self, tmpdir: Any) -> str:
        return str(tmpdir)


class TestHybridioCopy(AbstractCopyTests, HybridioFixtures):  # type: ignore[misc]
    pass


class TestHybridioGet(AbstractGetTests, HybridioFixtures):  # type: ignore[misc]
    pass


class TestHybridioPut(AbstractPutTests, HybridioFixtures):  # type: ignore[misc]
    pass


class TestHybridioOpen(AbstractOpenTests, HybridioFixtures):  # type: ignore[misc]
    pass


class TestHybridioPipe(AbstractPipeTests, HybridioFixtures):  # type: ignore[misc]
    pass


# ---------------------------------------------------------------- beyond the abstract suite


def test_registered_under_its_own_protocol(tmp_path: Path) -> None:
    assert fsspec.get_filesystem_class("hybridio") is FileSystem
    target = tmp_path / "x.bin"
    with fsspec.open(f"hybridio://{target}", "wb") as f:
        f.write(b"hello world")
    with fsspec.open(f"hybridio://{target}", "rb") as f:
        assert f.read() == b"hello world"
    fs = fsspec.filesystem("hybridio")
    assert fs.cat_file(str(target), start=-5) == b"world"
    assert fs.cat_file(str(target), start=1, end=4) == b"ell"
    with fs.open(str(target), "r") as text:
        assert text.read() == "hello world"


class _CountingFile:
    def __init__(self, inner: Any, calls: list[list[tuple[int, int]]]) -> None:
        self._inner, self._calls = inner, calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def read_many(self, ranges: list[tuple[int, int]], **kw: Any) -> list[Any]:
        self._calls.append(list(ranges))
        result: list[Any] = await self._inner.read_many(ranges, **kw)
        return result


def test_cat_ranges_is_one_read_many_per_file_in_request_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = os.urandom(5000), os.urandom(3000)
    (tmp_path / "a").write_bytes(a)
    (tmp_path / "b").write_bytes(b)
    calls: list[list[tuple[int, int]]] = []
    real = hybridio.async_open

    class Opening:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._ctx = real(*args, **kwargs)

        async def __aenter__(self) -> _CountingFile:
            self._file = await self._ctx
            return _CountingFile(self._file, calls)

        async def __aexit__(self, *exc: object) -> None:
            await self._file.close()

    monkeypatch.setattr(hybridio, "async_open", Opening)
    fs = FileSystem()
    pa, pb = str(tmp_path / "a"), str(tmp_path / "b")
    paths = [pa, pb, pa, str(tmp_path / "missing"), pb, pa]
    starts = [10, -100, 4000, 0, 0, 0]
    ends = [20, None, 9000, 5, 0, 3]
    out = fs.cat_ranges(paths, starts, ends)
    assert out[:3] == [a[10:20], b[-100:], a[4000:]]
    assert isinstance(out[3], FileNotFoundError)
    assert out[4:] == [b"", a[:3]]
    assert sorted(calls) == sorted([[(10, 10), (4000, 1000), (0, 3)], [(2900, 100)]])
    with pytest.raises(FileNotFoundError):
        fs.cat_ranges(paths, starts, ends, on_error="raise")


async def test_open_async_gives_a_hybridio_file(tmp_path: Path) -> None:
    fs = FileSystem(asynchronous=True)
    f = await fs.open_async(str(tmp_path / "sub" / "f"), "wb")
    await f.write(b"abcdef")
    await f.close()
    g = await fs.open_async(str(tmp_path / "sub" / "f"), "rb")
    assert await g.read_many([(4, 2), (0, 2)]) == [b"ef", b"ab"]
    await g.close()
    assert await fs._cat_file(str(tmp_path / "sub" / "f")) == b"abcdef"
    await fs._pipe_file(str(tmp_path / "p"), b"piped")
    assert (tmp_path / "p").read_bytes() == b"piped"


@pytest.fixture
def rooted(tmp_path: Path) -> tuple[FileSystem, Path]:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"top secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "dirlink").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "filelink").symlink_to(tmp_path / "outside" / "secret")
    return FileSystem(root=root), tmp_path


def test_a_root_keeps_every_path_inside(rooted: tuple[FileSystem, Path]) -> None:
    fs, tmp = rooted
    fs.pipe_file("/a/b", b"inside")  # "/" is the root itself
    fs.pipe_file(".hidden", b"dot")
    assert (tmp / "root" / "a" / "b").read_bytes() == b"inside"
    assert fs.cat_file("a/b") == b"inside"
    assert sorted(fs.ls("", detail=False)) == [".hidden", "a", "dirlink", "filelink"]
    assert fs.info("/")["name"] == ""
    assert fs.ls("a", detail=False) == ["a/b"]
    assert fs.info("a/b")["name"] == "a/b"
    for bad in ("../outside/secret", "a/../../outside/secret"):
        with pytest.raises(ValueError, match="segments are not allowed"):
            fs.cat_file(bad)
        with pytest.raises(ValueError, match="segments are not allowed"):
            fs.pipe_file(bad, b"x")
    with pytest.raises(ValueError, match="embedded null byte"):
        fs.cat_file("a\0b")
    for link in ("dirlink/secret", "filelink"):
        with pytest.raises(PermissionError, match="leads outside the root"):
            fs.cat_file(link)
        with pytest.raises(PermissionError, match="leads outside the root"):
            fs.cat_ranges([link], [0], [3], on_error="raise")
        with pytest.raises(PermissionError, match="leads outside the root"):
            fs.pipe_file(link, b"x")
    with pytest.raises(PermissionError, match="leads outside the root"):
        fs.pipe_file("dirlink/new", b"x")
    with pytest.raises(PermissionError, match="leads outside the root"):
        fs.open("filelink", "rb")
    assert sorted(os.listdir(tmp / "outside")) == ["secret"]
    assert (tmp / "outside" / "secret").read_bytes() == b"top secret"
