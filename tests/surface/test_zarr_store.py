"""hybridio.zarr.Store: zarr's own store conformance suite, array round trips,
the one-read_many-per-file batching, the handle cache and the root-escape rules."""

from __future__ import annotations

import gc
import os
import pickle
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

if sys.version_info < (3, 12):  # noqa: UP036 - zarr 3 needs CPython >= 3.12
    pytest.skip("zarr 3 needs Python >= 3.12", allow_module_level=True)

import numpy as np
import zarr
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import cpu, default_buffer_prototype
from zarr.testing.store import StoreTests

import hybridio
from hybridio.zarr import Store

PROTO = default_buffer_prototype()


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class TestHybridioStore(StoreTests[Store, cpu.Buffer]):
    """zarr.testing.store.StoreTests, unchanged: nothing is skipped."""

    store_cls = Store
    buffer_cls = cpu.Buffer

    async def get(self, store: Store, key: str) -> cpu.Buffer:
        return self.buffer_cls.from_bytes((Path(store.root) / key).read_bytes())

    async def set(self, store: Store, key: str, value: Any) -> None:
        path = Path(store.root) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(value.to_bytes())

    @pytest.fixture
    def store_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        return {"root": str(tmp_path)}

    def test_store_repr(self, store: Store) -> None:
        assert repr(store) == f"hybridio.zarr.Store({store.root!r})"
        assert str(store) == f"file://{store.root}"

    def test_store_supports_writes(self, store: Store) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: Store) -> None:
        assert store.supports_listing


class TestDurableStore(TestHybridioStore):
    """The same suite with ``durable=True`` (write_bytes(atomic=True) per set)."""

    @pytest.fixture
    def store_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        return {"root": str(tmp_path), "durable": True}


# ---------------------------------------------------------------- array round trips


def test_unsharded_array_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path / "a")
    data = np.arange(64 * 48, dtype="int32").reshape(64, 48)
    arr = zarr.create_array(store, shape=data.shape, chunks=(16, 16), dtype="int32")
    arr[:] = data
    back = zarr.open_array(Store(tmp_path / "a", read_only=True), mode="r")
    np.testing.assert_array_equal(back[:], data)
    np.testing.assert_array_equal(back[5:37, 3:40], data[5:37, 3:40])
    assert sorted(os.listdir(tmp_path / "a" / "c")) == ["0", "1", "2", "3"]
    store.close()


def test_sharded_array_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    data = np.random.default_rng(1).integers(0, 1000, size=(64, 64), dtype="int64")
    arr = zarr.create_array(
        store, shape=data.shape, shards=(32, 32), chunks=(8, 8), dtype="int64", compressors=None
    )
    arr[:] = data
    reader = Store(tmp_path / "s", read_only=True)
    back = zarr.open_array(reader, mode="r")
    np.testing.assert_array_equal(back[:], data)
    # A partial read of one shard: the index (suffix range) and a few inner chunks.
    np.testing.assert_array_equal(back[3:11, 40:60], data[3:11, 40:60])
    assert len(os.listdir(tmp_path / "s" / "c" / "0")) == 2  # 2 x 2 shards
    reader.close()
    store.close()


# ---------------------------------------------------------------- batching and handles


class _CountingFile:
    """Counts read_many calls of the file it wraps."""

    calls: ClassVar[list[list[tuple[int, int]]]] = []

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def read_many(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        _CountingFile.calls.append(list(ranges))
        result: list[bytes] = await self._inner.read_many(ranges)
        return result


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[int, int]]]:
    real = hybridio.async_open
    _CountingFile.calls = []

    async def opened(*args: Any, **kwargs: Any) -> Any:
        return _CountingFile(await real(*args, **kwargs))

    monkeypatch.setattr(hybridio, "async_open", opened)
    return _CountingFile.calls


async def test_get_partial_values_is_one_read_many_per_file_in_order(
    tmp_path: Path, counting: list[list[tuple[int, int]]]
) -> None:
    store = await Store.open(tmp_path)
    a, b = bytes(range(256)) * 4, bytes(reversed(range(256))) * 4
    await store.set("a", cpu.Buffer.from_bytes(a))
    await store.set("x/b", cpu.Buffer.from_bytes(b))
    requests = [
        ("a", RangeByteRequest(10, 20)),
        ("x/b", SuffixByteRequest(5)),
        ("a", OffsetByteRequest(1000)),
        ("missing", RangeByteRequest(0, 1)),
        ("x/b", None),
        ("a", RangeByteRequest(0, 3)),
    ]
    got = await store.get_partial_values(PROTO, requests)
    assert [g.to_bytes() if g is not None else None for g in got] == [
        a[10:20],
        b[-5:],
        a[1000:],
        None,
        b,
        a[0:3],
    ]
    # One read_many per file; ranges this close are read as one.
    assert counting == [[(0, 1024)], [(0, 1024)]]
    store.close()


async def test_far_apart_ranges_stay_separate_reads_of_one_read_many(
    tmp_path: Path, counting: list[list[tuple[int, int]]]
) -> None:
    store = await Store.open(tmp_path)
    data = os.urandom(4 << 20)
    await store.set("shard", cpu.Buffer.from_bytes(data))
    requests = [
        ("shard", RangeByteRequest(3_000_000, 3_000_100)),
        ("shard", RangeByteRequest(0, 100)),
        ("shard", RangeByteRequest(150, 250)),
        ("shard", SuffixByteRequest(10)),
    ]
    got = await store.get_partial_values(PROTO, requests)
    assert [g.to_bytes() for g in got if g is not None] == [
        data[3_000_000:3_000_100],
        data[:100],
        data[150:250],
        data[-10:],
    ]
    # More than 1 MiB apart (zarr's coalescing gap): separate ranges, one call.
    assert counting == [[(0, 250), (3_000_000, 100), ((4 << 20) - 10, 10)]]
    store.close()


async def test_get_ranges_yields_one_batch_from_one_read_many(
    tmp_path: Path, counting: list[list[tuple[int, int]]]
) -> None:
    store = await Store.open(tmp_path)
    data = os.urandom(4096)
    await store.set("shard", cpu.Buffer.from_bytes(data))
    ranges = [RangeByteRequest(i * 100, i * 100 + 50) for i in range(30, 0, -1)]
    batches = [b async for b in store.get_ranges("shard", [*ranges, None], prototype=PROTO)]
    assert len(batches) == 1 and len(counting) == 1
    assert [(i, buf.to_bytes() if buf is not None else None) for i, buf in batches[0]] == [
        *((i, data[r.start : r.end]) for i, r in enumerate(ranges)),
        (30, data),
    ]
    with pytest.raises(BaseExceptionGroup) as info:
        [b async for b in store.get_ranges("nope", ranges, prototype=PROTO)]
    assert info.group_contains(FileNotFoundError)
    store.close()


async def test_repeated_range_reads_reuse_one_handle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await Store.open(tmp_path, max_open_files=2)
    await store.set("s", cpu.Buffer.from_bytes(b"0123456789"))
    opens = 0
    real = hybridio.async_open

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal opens
        opens += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(hybridio, "async_open", counted)
    for i in range(5):
        got = await store.get("s", PROTO, RangeByteRequest(i, i + 2))
        assert got is not None and got.to_bytes() == b"0123456789"[i : i + 2]
    assert opens == 1
    # A set replaces the file: the cached handle is dropped, the new value read.
    await store.set("s", cpu.Buffer.from_bytes(b"abcdefghij"))
    got = await store.get("s", PROTO, RangeByteRequest(0, 3))
    assert got is not None and got.to_bytes() == b"abc"
    assert opens == 2
    # Replaced behind the store's back (another process's set): seen too.
    (tmp_path / "t").write_bytes(b"new")
    os.replace(tmp_path / "t", tmp_path / "s")
    got = await store.get("s", PROTO, RangeByteRequest(0, 3))
    assert got is not None and got.to_bytes() == b"new"
    await store.delete("s")
    assert await store.get("s", PROTO, RangeByteRequest(0, 3)) is None
    store.close()


async def test_handle_cache_is_bounded_and_close_releases_every_fd(tmp_path: Path) -> None:
    store = await Store.open(tmp_path, max_open_files=3)
    for i in range(10):
        await store.set(f"k{i}", cpu.Buffer.from_bytes(b"xyz"))
    before = _fds()
    for i in range(10):
        assert await store.get(f"k{i}", PROTO, RangeByteRequest(0, 1)) is not None
    assert _fds() == before + 3
    store.close()
    assert _fds() == before


def test_unclosed_store_releases_its_handles_when_collected(tmp_path: Path) -> None:
    # -W error::ResourceWarning: an unclosed cached file would fail here.
    store = Store(tmp_path)
    zarr.core.sync.sync(store.set("k", cpu.Buffer.from_bytes(b"abc")))
    before = _fds()
    assert zarr.core.sync.sync(store.get("k", PROTO, RangeByteRequest(0, 1))) is not None
    assert _fds() == before + 1
    del store
    gc.collect()
    assert _fds() == before


def test_a_pickled_store_keeps_its_root_and_options(tmp_path: Path) -> None:
    store = Store(tmp_path, read_only=True, max_open_files=7, durable=True)
    copy = pickle.loads(pickle.dumps(store))
    assert copy == store and copy.read_only and copy.max_open_files == 7 and copy.durable


# ---------------------------------------------------------------- keys never leave the root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "secret").write_bytes(b"top secret")
    return secret


@pytest.fixture
async def rooted(tmp_path: Path) -> Store:
    return await Store.open(tmp_path / "root")


@pytest.mark.parametrize("key", ["../outside/secret", "a/../../outside/secret", "..", "a/.."])
async def test_dotdot_keys_are_refused(rooted: Store, outside: Path, key: str) -> None:
    with pytest.raises(ValueError, match=r"'\.\.' segments"):
        await rooted.get(key, PROTO)
    with pytest.raises(ValueError, match=r"'\.\.' segments"):
        await rooted.set(key, cpu.Buffer.from_bytes(b"x"))
    with pytest.raises(ValueError, match=r"'\.\.' segments"):
        rooted.get_sync(key)
    assert (outside / "secret").read_bytes() == b"top secret"


async def test_absolute_keys_are_refused(rooted: Store, outside: Path) -> None:
    key = str(outside / "secret")
    for call in (
        rooted.get(key, PROTO),
        rooted.exists(key),
        rooted.delete(key),
        rooted.set(key, cpu.Buffer.from_bytes(b"x")),
        rooted.get_partial_values(PROTO, [(key, None)]),
    ):
        with pytest.raises(ValueError, match="relative to the store root"):
            await call
    assert (outside / "secret").read_bytes() == b"top secret"


async def test_nul_bytes_in_keys_are_refused(rooted: Store) -> None:
    with pytest.raises(ValueError, match="embedded null byte"):
        await rooted.get("a\0b", PROTO)
    with pytest.raises(ValueError, match="embedded null byte"):
        await rooted.set("c/\0", cpu.Buffer.from_bytes(b"x"))


async def test_symlinks_leading_outside_the_root_are_refused(rooted: Store, outside: Path) -> None:
    root = Path(rooted.root)
    (root / "dirlink").symlink_to(outside, target_is_directory=True)
    (root / "filelink").symlink_to(outside / "secret")
    (root / "inner").write_bytes(b"inside")
    (root / "ok").symlink_to(root / "inner")  # a symlink that stays inside is fine
    for key in ("dirlink/secret", "filelink"):
        with pytest.raises(PermissionError, match="outside the store root"):
            await rooted.get(key, PROTO)
        with pytest.raises(PermissionError, match="outside the store root"):
            await rooted.get(key, PROTO, RangeByteRequest(0, 3))
        with pytest.raises(PermissionError, match="outside the store root"):
            await rooted.set(key, cpu.Buffer.from_bytes(b"x"))
        with pytest.raises(PermissionError, match="outside the store root"):
            rooted.get_sync(key)
    with pytest.raises(PermissionError, match="outside the store root"):
        await rooted.set("dirlink/new/chunk", cpu.Buffer.from_bytes(b"x"))
    with pytest.raises(PermissionError, match="outside the store root"):
        await rooted.delete_dir("dirlink")
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (outside / "secret").read_bytes() == b"top secret"
    got = await rooted.get("ok", PROTO)
    assert got is not None and got.to_bytes() == b"inside"
