"""Checked by mypy in ``make test``: the bulk decorators keep parameters and item types."""

from __future__ import annotations

import sys
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import hybridio

if sys.version_info >= (3, 11):
    from typing import assert_type
else:  # pragma: no cover
    from typing_extensions import assert_type

pool = ThreadPoolExecutor(1)


@hybridio.threaded
def checksum(path: str, *, chunk: int = 4096) -> bytes:
    return b""


@hybridio.threaded(executor=pool)
def count(path: str, limit: int | None = None) -> int:
    return 0


@hybridio.threaded_iterable
def lines(path: str) -> Iterator[str]:
    yield path


@hybridio.threaded_iterable(max_size=4, executor=pool)
def blocks(path: str, size: int) -> Iterator[bytes]:
    yield b""


class Store:
    @hybridio.threaded
    def get(self, key: str) -> bytes:
        return b""

    @hybridio.threaded
    @staticmethod
    def version() -> int:
        return 1

    @hybridio.threaded
    @classmethod
    def create(cls, name: str) -> Store:
        return cls()


async def parameters_and_results_are_kept(store: Store) -> None:
    coro = checksum("p", chunk=1)
    _ = assert_type(coro, Coroutine[Any, Any, bytes])
    coro.close()
    assert_type(await checksum("p"), bytes)
    assert_type(await count("p", 3), int)
    assert_type(lines("p"), hybridio.ThreadedIterator[str])
    async for line in lines("p"):
        assert_type(line, str)
    async with blocks("p", 4096) as it:
        async for block in it:
            assert_type(block, bytes)
    assert_type(await store.get("k"), bytes)
    assert_type(await Store.version(), int)
    assert_type(await Store.create("n"), Store)
    await checksum("p", chunk="x")  # type: ignore[arg-type]
    await count()  # type: ignore[call-arg]
    lines(1)  # type: ignore[arg-type]
    blocks("p")  # type: ignore[call-arg]


async def helpers_are_typed(path: str) -> None:
    assert_type(await hybridio.read_bytes(path, compression="auto"), bytes)
    assert_type(await hybridio.read_text(path), str)
    assert_type(await hybridio.write_bytes(path, b"x", atomic=True), int)
    assert_type(await hybridio.write_text(path, "x", atomic=True), int)
    assert_type(await hybridio.hash_file(path, "sha256", chunk_size=1 << 16), str)
    assert_type(await hybridio.process(path, lambda chunks: sum(map(len, chunks))), int)
    async with hybridio.async_open(path, "wb", atomic=True) as f:
        assert_type(f, hybridio.AsyncBinaryIO)
    async with hybridio.async_open(path, "w", atomic=True) as t:
        assert_type(t, hybridio.AsyncTextIO)
