"""The open read handles of ``hybridio.zarr.Store``: a bounded LRU cache.

Repeated range reads of one file (the inner chunks of a shard) reuse one
open hybridio file.  A handle is reopened when its file was replaced (a new
inode, size or mtime) or is used from another event loop; a handle dropped
while a read uses it closes when the last such read ends.
"""

from __future__ import annotations

import asyncio
import collections
import os
import stat
from collections.abc import Coroutine, Sequence
from typing import Any

from zarr.abc.store import ByteRequest

import hybridio

from ._zarr_files import MISSING, span

__all__ = ("MERGE_GAP", "MERGE_MAX", "Handle", "HandleCache", "merge")

# Ranges of one file this close are read together, up to this many bytes
# (zarr's own coalescing defaults, Store.get_ranges).
MERGE_GAP = 1 << 20
MERGE_MAX = 16 << 20


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


class Handle:
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
        self.users = 1
        self.dropped = False


def merge(
    spans: list[tuple[int, int]], gap: int = MERGE_GAP, most: int = MERGE_MAX
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


class HandleCache(collections.OrderedDict[str, Handle]):
    """Path -> open read handle, least recently used first; *limit* 0: no cache.

    A dict itself, so that ``path in cache`` costs what it did in the store.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def drop(self, handle: Handle) -> None:
        """Close *handle* now, or when its last read ends."""
        handle.dropped = True
        if handle.users == 0:
            _close_now(handle.file)

    def discard(self, path: str) -> None:
        """Forget the handle of *path*, if any (its file is being replaced)."""
        handle = self.pop(path, None)
        if handle is not None:
            self.drop(handle)

    def forget(self, prefix: str | None) -> None:
        """Forget the handles of *prefix*'s paths (all with None)."""
        if prefix is None:
            victims = list(self)
        else:
            victims = [p for p in self if p == prefix or p.startswith(prefix + "/")]
        for path in victims:
            self.drop(self.pop(path))

    async def acquire(self, path: str) -> Handle | None:
        """A read handle on *path* (cached), or None when there is no file."""
        loop = asyncio.get_running_loop()
        handle = self.get(path)
        if handle is not None:
            try:
                st = os.stat(path)
            except MISSING:
                self.drop(self.pop(path))
                return None
            # Replaced by another writer (rename: a new inode) or used from
            # another event loop: open afresh.
            ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if ident == handle.ident and handle.loop is loop:
                self.move_to_end(path)
                handle.users += 1
                return handle
            self.drop(self.pop(path))
        try:
            file = await hybridio.async_open(path, "rb", access="random")
        except MISSING:
            return None
        try:
            st = os.fstat(file.fileno())
        except BaseException:
            await file.close()
            raise
        if stat.S_ISDIR(st.st_mode):  # pragma: no cover - open() refuses directories
            await file.close()
            return None
        handle = Handle(file, st, loop)
        if self.limit:
            old = self.pop(path, None)
            if old is not None:
                self.drop(old)
            self[path] = handle
            while len(self) > self.limit:
                _, victim = self.popitem(last=False)
                self.drop(victim)
        else:
            handle.dropped = True
        return handle

    async def release(self, handle: Handle) -> None:
        """The end of one read that *handle* served."""
        handle.users -= 1
        if handle.dropped and handle.users == 0:
            await handle.file.close()

    async def read_ranges(
        self,
        path: str,
        requests: Sequence[ByteRequest | None],
        gap: int = MERGE_GAP,
        most: int = MERGE_MAX,
    ) -> list[bytes | memoryview] | None:
        """Every request's bytes of *path* with ONE ``read_many``; None if missing.

        Ranges at most *gap* bytes apart are read as one range (of at most
        *most* bytes) of that ``read_many`` and handed out as views of it: the
        inner chunks of a shard are usually adjacent, and one large read costs
        less than many small ones.
        """
        handle = await self.acquire(path)
        if handle is None:
            return None
        try:
            spans = [span(r, handle.size) for r in requests]
            groups = merge(spans, gap, most)
            ranges = [(start, end - start) for start, end, _ in groups]
            data = await handle.file.read_many(ranges) if ranges else []
        finally:
            await self.release(handle)
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
