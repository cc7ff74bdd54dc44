"""peek(), readall() and readinto_many() on every binary file (issues 10 and 15)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

import hybridio

DATA = os.urandom(300_000)


def _kinds(backend: str) -> dict[str, dict[str, Any]]:
    return {
        "kernel": {"strategy": "kernel", "backend": backend},
        "kernel-unbuffered": {"strategy": "kernel", "backend": backend, "buffering": 0},
        "thread": {"strategy": "thread"},
        "gzip": {"compression": "gzip"},
    }


@pytest.mark.parametrize("kind", ["kernel", "kernel-unbuffered", "thread", "gzip"])
async def test_peek_shows_what_is_ahead_without_moving(
    tmp_path: Path, backend: str, kind: str
) -> None:
    path = tmp_path / "f"
    if kind == "gzip":
        import gzip

        path.write_bytes(gzip.compress(DATA))
    else:
        path.write_bytes(DATA)
    async with hybridio.async_open(path, "rb", **_kinds(backend)[kind]) as f:
        for pos in (0, 5, 131_072, len(DATA) - 3, len(DATA)):
            await f.seek(pos)
            seen = await f.peek(1)
            assert await f.tell() == pos
            assert DATA[pos:].startswith(seen)
            assert seen or pos == len(DATA)  # at least one byte unless at EOF
            assert await f.read(len(seen)) == seen
    # One class serves every mode: a write-only file refuses peek() the way it
    # refuses read() (the stdlib's BufferedWriter has no peek at all).
    async with hybridio.async_open(path, "wb", **_kinds(backend)[kind]) as g:
        with pytest.raises((io.UnsupportedOperation, OSError)):
            await g.peek()


@pytest.mark.parametrize("kind", ["kernel", "thread"])
async def test_readall_is_read_to_eof_and_readinto_many_exists_everywhere(
    tmp_path: Path, backend: str, kind: str
) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    async with hybridio.async_open(path, "rb", **_kinds(backend)[kind]) as f:
        await f.seek(10)
        assert await f.readall() == DATA[10:]
        bufs = [bytearray(100), bytearray(5000)]
        counts = await f.readinto_many([(7, bufs[0]), (len(DATA) - 10, bufs[1])])
        assert counts == [100, 10]
        assert bytes(bufs[0]) == DATA[7:107]
        assert bytes(bufs[1][:10]) == DATA[-10:]


def test_the_public_surface_is_all_and_every_public_name_has_a_docstring() -> None:
    import inspect

    tomllib = pytest.importorskip("tomllib")  # 3.11+

    assert isinstance(hybridio.__all__, tuple)
    assert len(set(hybridio.__all__)) == len(hybridio.__all__)
    for name in hybridio.__all__:
        obj = getattr(hybridio, name)  # every listed name exists
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj):
            assert inspect.getdoc(obj), f"hybridio.{name} has no docstring"
    for helper in ("read_bytes", "write_bytes", "hash_file", "copy", "set_default_executor_size"):
        assert helper in hybridio.__all__
    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert hybridio.__version__ == project["project"]["version"]


# The modules a user may import by name; everything else is implementation.
PUBLIC_MODULES = {
    "__init__",
    "__main__",
    "cli",
    "compat",
    "fsspec",
    "os",
    "path",
    "tempfile",
    "zarr",
}


def test_implementation_modules_are_private() -> None:
    import pkgutil

    names = {m.name for m in pkgutil.iter_modules(hybridio.__path__)}
    public = {n for n in names if not n.startswith("_")}
    assert public <= PUBLIC_MODULES, f"not declared public: {sorted(public - PUBLIC_MODULES)}"
    # The public names are reachable from the top level, not only from a private module.
    for name in ("read_bytes", "TuningProfile", "set_default_executor_size", "BatchError"):
        assert getattr(hybridio, name).__module__.startswith("hybridio._")


async def test_peek_on_a_fifo_gives_the_bytes_back(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as w:
            w.write(b"hello")

    import asyncio

    writer = asyncio.get_running_loop().run_in_executor(None, feed)
    async with hybridio.async_open(fifo, "rb") as f:
        assert (await f.peek(1)).startswith(b"h")
        assert await f.read() == b"hello"  # nothing consumed by the peek
    await asyncio.wait_for(writer, 10)


@pytest.mark.parametrize("kind", ["kernel", "thread"])
async def test_readinto1_refuses_a_read_only_buffer_before_reading(
    tmp_path: Path, backend: str, kind: str
) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    async with hybridio.async_open(path, "rb", **_kinds(backend)[kind]) as f:
        with pytest.raises(TypeError, match="read-write bytes-like object"):
            await f.readinto1(b"xx")
        assert await f.tell() == 0


def test_explain_takes_async_opens_arguments_and_defaults() -> None:
    import inspect

    opened = inspect.signature(hybridio.async_open).parameters
    explained = inspect.signature(hybridio.explain).parameters
    assert list(explained) == list(opened)
    for name, param in opened.items():
        assert explained[name].default == param.default, name
        assert explained[name].kind == param.kind, name


BAD_OPENS: list[dict[str, Any]] = [
    {"mode": "rw"},
    {"mode": "r", "buffering": 0},
    {"mode": "rb", "encoding": "utf-8"},
    {"mode": "rb", "backend": "nope"},
    {"mode": "rb", "compresslevel": 3},
    {"mode": "rb", "access": "sideways"},
    {"mode": "rb", "strategy": "thread", "backend": "uring"},
    {"mode": "rb", "strategy": "nonsense"},
    {"mode": "r", "closefd": False},
    {"mode": "r", "compression": "rar"},
    {"mode": "r", "atomic": True},
]


@pytest.mark.parametrize(
    "kwargs", BAD_OPENS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items())
)
async def test_explain_refuses_what_async_open_refuses(
    tmp_path: Path, kwargs: dict[str, Any]
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    with pytest.raises((ValueError, TypeError)) as opened:
        await hybridio.async_open(path, **kwargs)
    with pytest.raises(type(opened.value)) as explained:
        hybridio.explain(path, **kwargs)
    assert str(explained.value) == str(opened.value)


def test_explain_defaults_to_text_mode_like_async_open(tmp_path: Path) -> None:
    path = tmp_path / "log.gz"
    import gzip

    path.write_bytes(gzip.compress(b"hello\n"))
    decision = hybridio.explain(path)
    assert decision.mode == "r"
    assert hybridio.explain(path, compression="auto").compression == hybridio.Compression.GZIP


def test_backend_names_are_spelled_once() -> None:
    import typing

    from hybridio._api import BackendName
    from hybridio._engines import backends, kernel

    # The Literal type users see must list exactly the table's backends.
    assert typing.get_args(BackendName) == backends.BACKEND_NAMES == kernel.BACKEND_NAMES
    assert [b.name for b in backends.BACKENDS] == list(backends.BACKEND_NAMES)
    with pytest.raises(ValueError, match="unknown kernel backend"):
        backends.get("iocp")


@pytest.mark.parametrize("mode", ["rb", "wb", "ab", "xb", "r+b", "w+b", "a+b"])
def test_the_default_arguments_shortcut_builds_the_request_the_full_checks_build(
    mode: str,
) -> None:
    from hybridio import _api

    args = ("f", mode, -1, None, None, None, True, None, None, None, None, None)
    fast = _api._request(*args, hybridio.Strategy.AUTO, "auto", None, False)
    # strategy given as a string takes the full path of checks
    slow = _api._request(*args, "auto", "auto", None, False)
    assert fast == slow
