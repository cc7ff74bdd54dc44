"""A Zarr v3 store for a local directory, on hybridio (``pip install hybridio[zarr]``).

``hybridio.zarr.Store(root)`` is a complete :class:`zarr.abc.store.Store`:

- a whole-key ``get`` of a page-cached chunk is read in the loop thread
  (``preadv2(RWF_NOWAIT)``), without the thread hop zarr's ``LocalStore`` pays
  per call; a chunk that is not cached goes to the kernel engine (io_uring);
- byte ranges (``get`` with a range, ``get_partial_values``, ``get_ranges``)
  go through ONE ``read_many`` per file, results in request order, on an open
  handle kept in a bounded LRU cache, so repeated range reads of a shard do
  not reopen it;
- ``set`` writes a temporary file next to the key and renames it over the key
  (readers see the old or the new value, never a mix); ``durable=True`` also
  fsyncs the file and the directory (``hybridio.write_bytes(atomic=True)``).

Keys never reach outside *root*: a key with a ``..`` segment, an absolute key
or a NUL byte raises ValueError (the key itself is malformed, as ``open()``
raises ValueError for a NUL); a key whose path goes through a symlink that
resolves outside the root raises PermissionError (the key is well formed, the
filesystem leads elsewhere).  Symlinks are checked when a path is used; a
directory already checked is remembered until a delete, so a directory that is
swapped for a symlink by another process meanwhile is not seen (the check is
against bad keys, not against a hostile writer inside the root).
"""

from __future__ import annotations

import asyncio
import collections
import errno
import os
import shutil
import stat
import sys
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
)
from zarr.abc.store import (
    Store as _ZarrStore,
)
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype

import hybridio

if TYPE_CHECKING:
    # typing.Self is 3.11+; mypy checks the package as 3.10.
    from typing_extensions import Self  # noqa: UP035

__all__ = ("Store",)

# Errors that mean "no value at this key" for a read.
_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)
_TEMP_SUFFIX = ".hybridio-partial"


def _close_now(file: hybridio.AsyncBinaryIO) -> None:
    """Close an idle read-only *file* without an event loop.

    Such a file has nothing to flush, so its ``close()`` completes without
    suspending; the coroutine is driven by hand (``Store.close()`` and the
    store's finalizer are synchronous).
    """
    coro: Coroutine[Any, Any, None] = file.close()
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()  # pragma: no cover - only a file with pending work suspends


class _Handle:
    """One cached read handle: the file, what it was opened on, its users."""

    __slots__ = ("dropped", "file", "ident", "loop", "size", "users")

    def __init__(
        self,
        file: hybridio.AsyncBinaryIO,
        st: os.stat_result,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.file = file
        self.ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        self.size = st.st_size
        self.loop = loop
        self.users = 0
        self.dropped = False


def _span(request: ByteRequest | None, size: int) -> tuple[int, int]:
    """``(offset, length)`` of *request* in a value of *size* bytes."""
    if request is None:
        return 0, size
    if isinstance(request, RangeByteRequest):
        start = request.start
        return start, max(0, min(request.end, size) - start)
    if isinstance(request, OffsetByteRequest):
        return request.offset, max(0, size - request.offset)
    if isinstance(request, SuffixByteRequest):
        start = max(0, size - request.suffix)
        return start, size - start
    raise TypeError(f"Unexpected byte_range, got {request!r}.")


# Ranges of one file this close are read together, up to this many bytes
# (zarr's own coalescing defaults, Store.get_ranges).
_MERGE_GAP = 1 << 20
_MERGE_MAX = 16 << 20


def _merge(
    spans: list[tuple[int, int]], gap: int = _MERGE_GAP, most: int = _MERGE_MAX
) -> list[tuple[int, int, list[int]]]:
    """Group the non-empty *spans* by offset: ``(start, end, span indexes)``."""
    order = sorted((i for i, (_, n) in enumerate(spans) if n > 0), key=lambda i: spans[i][0])
    groups: list[tuple[int, int, list[int]]] = []
    for i in order:
        offset, length = spans[i]
        end = offset + length
        if groups:
            start, last, members = groups[-1]
            if offset - last <= gap and max(last, end) - start <= most:
                members.append(i)
                groups[-1] = (start, max(last, end), members)
                continue
        groups.append((offset, end, [i]))
    return groups


def _check_key(key: str) -> None:
    """Refuse a key that names something outside the root by its spelling."""
    if not isinstance(key, str):
        raise TypeError(f"key must be str, not {type(key).__name__}")
    if "\0" in key:
        raise ValueError(f"invalid key {key!r}: embedded null byte")
    if key.startswith("/"):
        raise ValueError(f"invalid key {key!r}: keys are relative to the store root")
    if ".." in key.split("/"):
        raise ValueError(f"invalid key {key!r}: '..' segments are not allowed")


def _put(path: str, view: memoryview, exclusive: bool) -> None:
    """Temporary file + rename (``exclusive``: a link, which fails if *path* exists)."""
    head, name = os.path.split(path)
    temp = os.path.join(head, f".{name}.{uuid.uuid4().hex}{_TEMP_SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        fd = os.open(temp, flags, 0o666)
    except FileNotFoundError:
        os.makedirs(head, exist_ok=True)
        fd = os.open(temp, flags, 0o666)
    try:
        try:
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        if exclusive:
            os.link(temp, path)
            os.unlink(temp)
        else:
            os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def _delete(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        shutil.rmtree(path)
    except PermissionError:
        # unlink() of a directory is EPERM on Linux, not EISDIR.
        if not os.path.isdir(path) or os.path.islink(path):
            raise
        shutil.rmtree(path)


def _delete_dir(path: str, prefix: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        raise ValueError(f"delete_dir was passed prefix={prefix!r}, which is a file")


def _list_files(root: str, base: str) -> list[str]:
    """Keys of every file under *base* (relative to *root*), in one thread hop."""
    keys: list[str] = []
    strip = len(root) + 1
    for dirpath, _dirs, files in os.walk(base):
        for name in files:
            if not name.endswith(_TEMP_SUFFIX):
                keys.append(os.path.join(dirpath, name)[strip:])
    return keys


def _list_dir(path: str) -> list[str]:
    try:
        return [n for n in os.listdir(path) if not n.endswith(_TEMP_SUFFIX)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _read_sync(path: str, request: ByteRequest | None) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        offset, length = _span(request, st.st_size)
        parts: list[bytes] = []
        while length > 0:
            chunk = os.pread(fd, length, offset)
            if not chunk:
                break
            parts.append(chunk)
            offset += len(chunk)
            length -= len(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


async def _read_whole(path: str) -> bytes | None:
    """All of *path*, or None if there is no file.

    Through a hybridio file rather than ``read_bytes``: a page-cached chunk is
    read inline either way, but a chunk that is not cached goes to the kernel
    engine (io_uring) instead of a thread hop -- measured faster for cold
    chunks at zarr's 10 reads in flight (benchmarks/chunkstores.py).
    """
    try:
        file = await hybridio.async_open(path, "rb", access="random")
    except _MISSING:
        return None
    try:
        size = os.fstat(file.fileno()).st_size
        return await file.read_at(0, size) if size else b""
    finally:
        await file.close()


async def _run_all(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run *coros* concurrently; one that never suspends (a page-cached read)
    finishes on the spot, without the loop turn a scheduled task costs."""
    if len(coros) == 1:
        await coros[0]
        return
    if sys.version_info >= (3, 12):  # noqa: UP036 - always true; mypy checks as 3.10
        loop = asyncio.get_running_loop()
        tasks = [asyncio.eager_task_factory(loop, c) for c in coros]
        if all(t.done() for t in tasks):
            for t in tasks:
                t.result()
            return
        await asyncio.gather(*tasks)
        return
    await asyncio.gather(*coros)


_put_in_thread = hybridio.threaded(_put)
_delete_in_thread = hybridio.threaded(_delete)
_delete_dir_in_thread = hybridio.threaded(_delete_dir)
_list_files_in_thread = hybridio.threaded(_list_files)
_list_dir_in_thread = hybridio.threaded(_list_dir)


class Store(_ZarrStore):
    """A Zarr v3 store for the directory *root*, on hybridio.

    ``read_only`` refuses writes.  ``max_open_files`` bounds the cache of open
    read handles (least recently used first out; 0 disables it).
    ``durable=True`` makes every ``set`` durable (temporary file, fsync,
    rename, fsync of the directory) at the cost of two fsyncs per key; the
    default writes a temporary file and renames it, atomic for readers as
    zarr's ``LocalStore`` is.  See docs/chunk-stores.md.
    """

    supports_writes: bool = True
    supports_deletes: bool = True
    supports_listing: bool = True

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        read_only: bool = False,
        max_open_files: int = 128,
        durable: bool = False,
    ) -> None:
        super().__init__(read_only=read_only)
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be str or os.PathLike, not {type(root).__name__}")
        if max_open_files < 0:
            raise ValueError("max_open_files must be >= 0")
        self.root = os.path.abspath(os.fspath(root))
        if "\0" in self.root:
            raise ValueError("embedded null byte")
        self.max_open_files = max_open_files
        self.durable = durable
        self._real_root = os.path.realpath(self.root)
        self._handles: collections.OrderedDict[str, _Handle] = collections.OrderedDict()
        self._dirs_ok: set[str] = set()

    # ------------------------------------------------------------------ identity

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self)) and self.root == other.root

    __hash__ = None  # type: ignore[assignment]  # mutable (read-only state), like LocalStore

    def __str__(self) -> str:
        return f"file://{self.root}"

    def __repr__(self) -> str:
        return f"hybridio.zarr.Store({self.root!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Open handles and the symlink checks belong to this process.
        return {
            "root": self.root,
            "read_only": self._read_only,
            "max_open_files": self.max_open_files,
            "durable": self.durable,
            "is_open": self._is_open,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["root"],
            read_only=state["read_only"],
            max_open_files=state["max_open_files"],
            durable=state["durable"],
        )
        self._is_open = state["is_open"]

    def with_read_only(self, read_only: bool = False) -> Self:
        """A new (not yet open) store on the same root with *read_only*."""
        return type(self)(
            self.root,
            read_only=read_only,
            max_open_files=self.max_open_files,
            durable=self.durable,
        )

    @classmethod
    async def open(cls, *args: Any, mode: str | None = None, **kwargs: Any) -> Self:
        """Create and open the store (the root is created unless read-only).

        ``mode`` (``"r"``, ``"r+"``, ``"a"``, ``"w"``, ``"w-"``) as zarr's
        ``LocalStore.open`` takes it: ``"r"``/``"r+"`` require the root to
        exist; the store's read-only state comes from ``read_only``.
        """
        store = cls(*args, **kwargs)
        if mode is not None and mode in ("r", "r+"):
            await store._check_root(create=False)
            store._is_open = True
        else:
            await store._open()
        return store

    async def _check_root(self, *, create: bool) -> None:
        if create:
            await hybridio.os.makedirs(self.root, exist_ok=True)
        if not await hybridio.os.path.isdir(self.root):
            raise FileNotFoundError(f"{self.root} does not exist")
        self._real_root = os.path.realpath(self.root)

    async def _open(self) -> None:
        await self._check_root(create=not self.read_only)
        await super()._open()

    async def _ensure_open(self) -> None:
        # Concurrent lazy opens (every set of a _set_many) all check the root;
        # that is idempotent, unlike Store._open, which refuses a second call.
        if not self._is_open:
            await self._check_root(create=not self.read_only)
            self._is_open = True

    def _ensure_open_sync(self) -> None:
        if not self._is_open:
            if not self.read_only:
                os.makedirs(self.root, exist_ok=True)
            if not os.path.isdir(self.root):
                raise FileNotFoundError(f"{self.root} does not exist")
            self._real_root = os.path.realpath(self.root)
            self._is_open = True

    def close(self) -> None:
        """Close the cached read handles (those in use close when their read ends)."""
        self._drop_handles(None)
        super().close()

    def __del__(self) -> None:
        # The handles are the store's: an unclosed store must not leak them.
        handles = getattr(self, "_handles", None)
        if handles:
            self._drop_handles(None)

    # ------------------------------------------------------------------ paths

    def _inside(self, path: str) -> bool:
        real = os.path.realpath(path)
        root = self._real_root
        return real == root or real.startswith(root + "/") or root == "/"

    def _dir_inside(self, head: str) -> bool:
        """Whether the directory *head* (relative) stays inside the root.

        Walks down from the root with one ``lstat`` per directory not yet
        checked: a missing directory ends the walk (what the store creates
        below it is a real directory), a symlink is resolved in full.
        """
        path = self.root
        for part in head.split("/"):
            if not part or part == ".":
                continue
            path = f"{path}/{part}"
            if path in self._dirs_ok:
                continue
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                return True
            if stat.S_ISLNK(st.st_mode):
                return self._inside(f"{self.root}/{head}")
            if not stat.S_ISDIR(st.st_mode):
                return True  # opening below a file fails with NotADirectoryError
            if len(self._dirs_ok) >= 4096:
                self._dirs_ok.clear()
            self._dirs_ok.add(path)
        return True

    def _path(self, key: str) -> str:
        """The path of *key*, refused if it would leave the root."""
        _check_key(key)
        key = key.strip("/")
        if not key:
            return self.root
        path = f"{self.root}/{key}"
        head = key.rpartition("/")[0]
        if head and not self._dir_inside(head):
            raise PermissionError(errno.EACCES, f"key {key!r} leads outside the store root", path)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return path
        if stat.S_ISLNK(st.st_mode) and not self._inside(path):
            raise PermissionError(errno.EACCES, f"key {key!r} leads outside the store root", path)
        return path

    # ------------------------------------------------------------------ handle cache

    def _drop(self, handle: _Handle) -> None:
        handle.dropped = True
        if handle.users == 0:
            _close_now(handle.file)

    def _drop_handles(self, prefix: str | None) -> None:
        """Forget the handles of *prefix*'s paths (all with None)."""
        if prefix is None:
            victims = list(self._handles)
        else:
            victims = [p for p in self._handles if p == prefix or p.startswith(prefix + "/")]
        for path in victims:
            self._drop(self._handles.pop(path))

    async def _acquire(self, path: str) -> _Handle | None:
        """A read handle on *path* (cached), or None when there is no file."""
        loop = asyncio.get_running_loop()
        handle = self._handles.get(path)
        if handle is not None:
            try:
                st = os.stat(path)
            except _MISSING:
                self._drop(self._handles.pop(path))
                return None
            # Replaced by another writer (rename: a new inode) or used from
            # another event loop: open afresh.
            ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if ident == handle.ident and handle.loop is loop:
                self._handles.move_to_end(path)
                handle.users += 1
                return handle
            self._drop(self._handles.pop(path))
        try:
            file = await hybridio.async_open(path, "rb", access="random")
        except _MISSING:
            return None
        try:
            st = os.fstat(file.fileno())
        except BaseException:
            await file.close()
            raise
        if stat.S_ISDIR(st.st_mode):  # pragma: no cover - open() refuses directories
            await file.close()
            return None
        handle = _Handle(file, st, loop)
        handle.users = 1
        if self.max_open_files:
            old = self._handles.pop(path, None)
            if old is not None:
                self._drop(old)
            self._handles[path] = handle
            while len(self._handles) > self.max_open_files:
                _, victim = self._handles.popitem(last=False)
                self._drop(victim)
        else:
            handle.dropped = True
        return handle

    async def _release(self, handle: _Handle) -> None:
        handle.users -= 1
        if handle.dropped and handle.users == 0:
            await handle.file.close()

    async def _read_ranges(
        self,
        path: str,
        requests: Sequence[ByteRequest | None],
        gap: int = _MERGE_GAP,
        most: int = _MERGE_MAX,
    ) -> list[bytes | memoryview] | None:
        """Every request's bytes of *path* with ONE ``read_many``; None if missing.

        Ranges at most *gap* bytes apart are read as one range (of at most
        *most* bytes) of that ``read_many`` and handed out as views of it: the inner chunks
        of a shard are usually adjacent, and one large read costs less than
        many small ones.
        """
        handle = await self._acquire(path)
        if handle is None:
            return None
        try:
            spans = [_span(r, handle.size) for r in requests]
            groups = _merge(spans, gap, most)
            ranges = [(start, end - start) for start, end, _ in groups]
            data = await handle.file.read_many(ranges) if ranges else []
        finally:
            await self._release(handle)
        out: list[bytes | memoryview] = [b""] * len(spans)
        for (start, _, members), blob in zip(groups, data, strict=True):
            if len(members) == 1 and spans[members[0]][0] == start:
                out[members[0]] = blob
                continue
            view = memoryview(blob)
            for i in members:
                offset, length = spans[i]
                out[i] = view[offset - start : offset - start + length]
        return out

    # ------------------------------------------------------------------ reads

    async def get(
        self,
        key: str,
        prototype: BufferPrototype | None = None,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        """The value of *key* (or the part *byte_range* names); None if missing."""
        if prototype is None:
            prototype = default_buffer_prototype()
        await self._ensure_open()
        path = self._path(key)
        if byte_range is None and path not in self._handles:
            data = await _read_whole(path)
            return None if data is None else prototype.buffer.from_bytes(data)
        if byte_range is not None:
            _span(byte_range, 0)  # a bad type raises before any I/O
        values = await self._read_ranges(path, [byte_range])
        return None if values is None else prototype.buffer.from_bytes(values[0])

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        """Each ``(key, range)``'s bytes, in request order: one ``read_many`` per file."""
        await self._ensure_open()
        by_key: dict[str, list[int]] = {}
        requests: list[ByteRequest | None] = []
        for i, (key, byte_range) in enumerate(key_ranges):
            if byte_range is not None:
                _span(byte_range, 0)
            by_key.setdefault(key, []).append(i)
            requests.append(byte_range)
        results: list[Buffer | None] = [None] * len(requests)
        if not requests:
            return results
        paths = {key: self._path(key) for key in by_key}

        async def one(key: str, indexes: list[int]) -> None:
            path = paths[key]
            if len(indexes) == 1 and requests[indexes[0]] is None and path not in self._handles:
                # A whole value, read as get() reads it.
                data = await _read_whole(path)
                if data is not None:
                    results[indexes[0]] = prototype.buffer.from_bytes(data)
                return
            values = await self._read_ranges(path, [requests[i] for i in indexes])
            if values is not None:
                for i, value in zip(indexes, values, strict=True):
                    results[i] = prototype.buffer.from_bytes(value)

        await _run_all([one(k, ix) for k, ix in by_key.items()])
        return results

    async def get_ranges(
        self,
        key: str,
        byte_ranges: Sequence[ByteRequest | None],
        *,
        prototype: BufferPrototype,
        max_concurrency: int = 10,
        max_gap_bytes: int = 1 << 20,
        max_coalesced_bytes: int = 16 << 20,
    ) -> AsyncIterator[Sequence[tuple[int, Buffer | None]]]:
        """All of *byte_ranges* of *key* in ONE ``read_many``, yielded as one batch.

        Ranges at most *max_gap_bytes* apart are merged into one range of that
        ``read_many`` (up to *max_coalesced_bytes*); ``max_concurrency`` is
        accepted for the ABC's signature: the batch is one submission.  A missing key raises a
        ``BaseExceptionGroup`` holding FileNotFoundError, as ``Store.get_ranges``.
        """
        await self._ensure_open()
        for r in byte_ranges:
            if r is not None:
                _span(r, 0)
        values = await self._read_ranges(
            self._path(key), byte_ranges, max_gap_bytes, max_coalesced_bytes
        )
        if values is None:
            missing = FileNotFoundError(key)
            if sys.version_info >= (3, 11):  # noqa: UP036 - always true; mypy checks as 3.10
                raise BaseExceptionGroup("chunk read failed", [missing])
            raise missing
        yield [(i, prototype.buffer.from_bytes(v)) for i, v in enumerate(values)]

    async def exists(self, key: str) -> bool:
        """Whether *key* holds a value (a file)."""
        await self._ensure_open()
        return await hybridio.os.path.isfile(self._path(key))

    async def getsize(self, key: str) -> int:
        """The size of *key*'s value in bytes; FileNotFoundError if missing."""
        await self._ensure_open()
        st = await hybridio.os.stat(self._path(key))
        if stat.S_ISDIR(st.st_mode):
            raise FileNotFoundError(errno.ENOENT, "not a key", key)
        return st.st_size

    # ------------------------------------------------------------------ writes

    async def set(self, key: str, value: Buffer) -> None:
        """Store *value* at *key*: temporary file + rename (+ fsyncs if durable)."""
        await self._set(key, value, exclusive=False)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        """Store *value* at *key* unless a value is there (atomically: no race)."""
        try:
            await self._set(key, value, exclusive=True)
        except FileExistsError:
            pass

    async def _set(self, key: str, value: Buffer, *, exclusive: bool) -> None:
        await self._ensure_open()
        self._check_writable()
        if not isinstance(value, Buffer):
            raise TypeError(f"value must be a zarr Buffer, not {type(value).__name__}")
        path = self._path(key)
        view = memoryview(value.as_buffer_like()).cast("B")
        handle = self._handles.pop(path, None)
        if handle is not None:
            self._drop(handle)
        if not self.durable:
            await _put_in_thread(path, view, exclusive)
            return
        try:
            await hybridio.write_bytes(path, view, atomic=True, exclusive=exclusive)
        except FileNotFoundError:
            await hybridio.os.makedirs(os.path.dirname(path), exist_ok=True)
            await hybridio.write_bytes(path, view, atomic=True, exclusive=exclusive)

    async def delete(self, key: str) -> None:
        """Remove *key* (a directory: all of it); a missing key is no error."""
        await self._ensure_open()
        self._check_writable()
        path = self._path(key)
        self._drop_handles(path)
        self._dirs_ok.clear()
        await _delete_in_thread(path)

    async def delete_dir(self, prefix: str) -> None:
        """Remove every key under *prefix*."""
        await self._ensure_open()
        self._check_writable()
        path = self._path(prefix)
        self._drop_handles(path)
        self._dirs_ok.clear()
        if path == self.root:
            await self.clear()
            return
        await _delete_dir_in_thread(path, prefix)

    async def clear(self) -> None:
        """Remove every key (the root directory stays)."""
        await self._ensure_open()
        self._check_writable()
        self._drop_handles(None)
        self._dirs_ok.clear()
        for name in await _list_dir_in_thread(self.root):
            await _delete_in_thread(os.path.join(self.root, name))

    # ------------------------------------------------------------------ listing

    async def list(self) -> AsyncIterator[str]:
        """Every key in the store (one thread hop for the whole walk)."""
        await self._ensure_open()
        for key in await _list_files_in_thread(self.root, self.root):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """Every key that starts with *prefix* (a string prefix)."""
        await self._ensure_open()
        head = prefix.rpartition("/")[0]
        base = self._path(head)
        for key in await _list_files_in_thread(self.root, base):
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        """The names directly under *prefix* (keys and sub-prefixes)."""
        await self._ensure_open()
        for name in await _list_dir_in_thread(self._path(prefix)):
            yield name

    # ------------------------------------------------------------------ sync surface

    def get_sync(
        self,
        key: str,
        *,
        prototype: BufferPrototype | None = None,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        """Blocking ``get`` (zarr's synchronous codec pipeline calls it in threads)."""
        if prototype is None:
            prototype = default_buffer_prototype()
        self._ensure_open_sync()
        if byte_range is not None:
            _span(byte_range, 0)
        try:
            data = _read_sync(self._path(key), byte_range)
        except _MISSING:
            return None
        buf: Buffer = prototype.buffer.from_bytes(data)
        return buf

    def set_sync(self, key: str, value: Buffer) -> None:
        """Blocking ``set`` (temporary file + rename)."""
        self._ensure_open_sync()
        self._check_writable()
        if not isinstance(value, Buffer):
            raise TypeError(f"value must be a zarr Buffer, not {type(value).__name__}")
        path = self._path(key)
        handle = self._handles.pop(path, None)
        if handle is not None:
            self._drop(handle)
        _put(path, memoryview(value.as_buffer_like()).cast("B"), False)

    def delete_sync(self, key: str) -> None:
        """Blocking ``delete``."""
        self._ensure_open_sync()
        self._check_writable()
        path = self._path(key)
        self._drop_handles(path)
        self._dirs_ok.clear()
        _delete(path)
