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

import errno
import os
import stat
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from zarr.abc.store import ByteRequest
from zarr.abc.store import Store as _ZarrStore
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype

import hybridio

from ._chunkstore import Root, run_all
from ._zarr_files import (
    MISSING,
    delete,
    delete_dir_in_thread,
    delete_in_thread,
    list_dir_in_thread,
    list_files_in_thread,
    put,
    put_in_thread,
    read_sync,
    read_whole,
    span,
)
from ._zarr_handles import HandleCache

if TYPE_CHECKING:
    # typing.Self is 3.11+; mypy checks the package as 3.10.
    from typing_extensions import Self  # noqa: UP035

__all__ = ("Store",)


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
        self.durable = durable
        self._keys = Root(self.root, "key", "the store root", relative=True)
        self._handles = HandleCache(max_open_files)

    @property
    def max_open_files(self) -> int:
        """How many read handles the store keeps open at most (0: none)."""
        return self._handles.limit

    @max_open_files.setter
    def max_open_files(self, value: int) -> None:
        self._handles.limit = value

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
        self._keys.real = os.path.realpath(self.root)

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
            self._keys.real = os.path.realpath(self.root)
            self._is_open = True

    def close(self) -> None:
        """Close the cached read handles (those in use close when their read ends)."""
        self._handles.forget(None)
        super().close()

    def __del__(self) -> None:
        # The handles are the store's: an unclosed store must not leak them.
        handles = getattr(self, "_handles", None)
        if handles:
            self._handles.forget(None)

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
        path = self._keys.key_path(key)
        if byte_range is None and path not in self._handles:
            data = await read_whole(path)
            return None if data is None else prototype.buffer.from_bytes(data)
        if byte_range is not None:
            span(byte_range, 0)  # a bad type raises before any I/O
        values = await self._handles.read_ranges(path, [byte_range])
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
                span(byte_range, 0)
            by_key.setdefault(key, []).append(i)
            requests.append(byte_range)
        results: list[Buffer | None] = [None] * len(requests)
        if not requests:
            return results
        paths = {key: self._keys.key_path(key) for key in by_key}

        async def one(key: str, indexes: list[int]) -> None:
            path = paths[key]
            if len(indexes) == 1 and requests[indexes[0]] is None and path not in self._handles:
                # A whole value, read as get() reads it.
                data = await read_whole(path)
                if data is not None:
                    results[indexes[0]] = prototype.buffer.from_bytes(data)
                return
            values = await self._handles.read_ranges(path, [requests[i] for i in indexes])
            if values is not None:
                for i, value in zip(indexes, values, strict=True):
                    results[i] = prototype.buffer.from_bytes(value)

        await run_all([one(k, ix) for k, ix in by_key.items()])
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
                span(r, 0)
        values = await self._handles.read_ranges(
            self._keys.key_path(key), byte_ranges, max_gap_bytes, max_coalesced_bytes
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
        return await hybridio.os.path.isfile(self._keys.key_path(key))

    async def getsize(self, key: str) -> int:
        """The size of *key*'s value in bytes; FileNotFoundError if missing."""
        await self._ensure_open()
        st = await hybridio.os.stat(self._keys.key_path(key))
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
        path = self._keys.key_path(key)
        view = memoryview(value.as_buffer_like()).cast("B")
        self._handles.discard(path)
        if not self.durable:
            await put_in_thread(path, view, exclusive)
            return
        try:
            await hybridio.write_bytes(path, view, atomic=True, exclusive=exclusive)
        except FileNotFoundError:
            await hybridio.os.makedirs(os.path.dirname(path), exist_ok=True)
            await hybridio.write_bytes(path, view, atomic=True, exclusive=exclusive)

    async def delete(self, key: str) -> None:
        """Remove *key* (a directory: all of it); a missing key is no error."""
        await self._ensure_open()
        await delete_in_thread(self._deleting(key))

    async def delete_dir(self, prefix: str) -> None:
        """Remove every key under *prefix*."""
        await self._ensure_open()
        path = self._deleting(prefix)
        if path == self.root:
            await self.clear()
            return
        await delete_dir_in_thread(path, prefix)

    async def clear(self) -> None:
        """Remove every key (the root directory stays)."""
        await self._ensure_open()
        self._check_writable()
        self._handles.forget(None)
        self._keys.forget()
        for name in await list_dir_in_thread(self.root):
            await delete_in_thread(os.path.join(self.root, name))

    def _deleting(self, key: str) -> str:
        """The path of *key*, about to be removed: its handles and checks forgotten."""
        self._check_writable()
        path = self._keys.key_path(key)
        self._handles.forget(path)
        self._keys.forget()
        return path

    # ------------------------------------------------------------------ listing

    async def list(self) -> AsyncIterator[str]:
        """Every key in the store (one thread hop for the whole walk)."""
        await self._ensure_open()
        for key in await list_files_in_thread(self.root, self.root):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """Every key that starts with *prefix* (a string prefix)."""
        await self._ensure_open()
        head = prefix.rpartition("/")[0]
        base = self._keys.key_path(head)
        for key in await list_files_in_thread(self.root, base):
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        """The names directly under *prefix* (keys and sub-prefixes)."""
        await self._ensure_open()
        for name in await list_dir_in_thread(self._keys.key_path(prefix)):
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
        self._ensure_open_sync()
        if byte_range is not None:
            span(byte_range, 0)
        try:
            data = read_sync(self._keys.key_path(key), byte_range)
        except MISSING:
            return None
        buffer = (default_buffer_prototype() if prototype is None else prototype).buffer
        value: Buffer = buffer.from_bytes(data)
        return value

    def set_sync(self, key: str, value: Buffer) -> None:
        """Blocking ``set`` (temporary file + rename)."""
        self._ensure_open_sync()
        self._check_writable()
        if not isinstance(value, Buffer):
            raise TypeError(f"value must be a zarr Buffer, not {type(value).__name__}")
        path = self._keys.key_path(key)
        self._handles.discard(path)
        put(path, memoryview(value.as_buffer_like()).cast("B"), False)

    def delete_sync(self, key: str) -> None:
        """Blocking ``delete``."""
        self._ensure_open_sync()
        delete(self._deleting(key))
