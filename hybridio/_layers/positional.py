"""The positional half of the kernel-served file: ``read_at``, ``read_many``,
``write_at``, ``write_many`` and their ``readinto`` forms, and ``stats``.

Positional calls never move the stream position and stay concurrent; they
take the handle's lock only to flush write-behind bytes they overlap (see
:mod:`hybridio._layers.buffered`, whose :class:`KernelBinaryFile` mixes
this in and holds the state used here).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any, Final

from .._errors import finish_batch
from .._stats import IOStats
from ._bufstate import BufferedState
from .base import bytes_view, check_count, check_offset, check_span, writable_view
from .raw import SPENT

__all__ = ("PositionalIO",)


#: Offsets below this take read_at's fast path: no offset + size can pass 2**63 - 1.
_FAST_OFFSET_LIMIT: Final = 1 << 62


def _non_overlapping_groups(items: list[tuple[int, bytes]]) -> list[list[int]]:
    """Split writes, in order, into consecutive groups without overlaps."""
    groups: list[list[int]] = []
    current: list[int] = []
    spans: list[tuple[int, int]] = []
    for i, (off, data) in enumerate(items):
        end = off + len(data)
        if any(off < e and s < end for s, e in spans):
            groups.append(current)
            current, spans = [], []
        current.append(i)
        spans.append((off, end))
    groups.append(current)
    return groups


class PositionalIO:
    """Positional reads and writes of a kernel-served file (a mixin of
    :class:`~hybridio._layers.buffered.KernelBinaryFile`)."""

    async def _flush_if_overlapping(self: BufferedState, offset: int, size: int) -> None:
        if (
            self._wbuf
            and offset < self._wbuf_off + len(self._wbuf)
            and self._wbuf_off < offset + size
        ):
            await self._serialised(self._flush_wbuf)

    async def _flush_if_visible(self: BufferedState, offset: int) -> None:
        # Buffered bytes at or after `offset` may also extend the file, which
        # turns a read past the old EOF into a read of a hole (zeros).
        if self._wbuf and offset < self._wbuf_off + len(self._wbuf):
            await self._serialised(self._flush_wbuf)

    async def read_at(self: BufferedState, offset: int, size: int, /) -> bytes:
        """Read up to *size* bytes at *offset*; the position does not move.

        A range the page cache holds is returned without suspending.
        """
        # Fast path first: the common call is a small read of cached data, and
        # every attribute lookup here is a measurable share of its ~1 us.
        if (
            type(offset) is int
            and type(size) is int
            and 0 <= offset < _FAST_OFFSET_LIMIT
            and 0 < size <= self._inline.max
            and not self._closed
            and self._readable
            and not self._wbuf
        ):
            raw = self._raw
            data = raw.read_cached(size, offset)
            if type(data) is bytes:
                return data
            # A miss goes to the kernel; a spent budget yields, then tries again.
            return await raw.pread(size, offset, inline=data is SPENT)
        off = check_offset(offset)
        n = check_count(size)
        self._check_read()
        if n == 0:
            return b""
        check_span(off, n)
        await self._flush_if_visible(off)
        return await self._raw.pread(n, off)

    async def readinto_at(self: BufferedState, offset: int, buffer: Any, /) -> int:
        """Read into *buffer* at *offset* (zero copy when cached); the position does not move."""
        off = check_offset(offset)
        with writable_view(buffer, "readinto_at") as flat:
            self._check_read()
            if not len(flat):
                return 0
            check_span(off, len(flat))
            await self._flush_if_visible(off)
            return await self._raw.preadinto(flat, off)

    async def read_many(
        self: BufferedState,
        ranges: Iterable[tuple[int, int]],
        /,
        *,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Read every ``(offset, size)`` range; results in request order.

        Cached ranges are served inline; the others go to the kernel in as few
        submissions as the ring and the per-submission byte bound allow, each
        awaited through one future.  A failure is raised as
        :class:`~hybridio._errors.BatchError` after every read completed, or
        returned in place with ``return_exceptions=True``.
        """
        reqs = ranges if type(ranges) is list else list(ranges)
        lowest = -1
        for i, (off, size) in enumerate(reqs):
            if (
                type(off) is not int
                or type(size) is not int
                or not 0 <= off < _FAST_OFFSET_LIMIT
                or not 0 <= size < _FAST_OFFSET_LIMIT
            ):
                if reqs is ranges:
                    reqs = list(reqs)  # the caller's list stays as it was
                reqs[i] = off, size = check_offset(off), check_count(size)
                check_span(off, size)
            if lowest < 0 or off < lowest:
                lowest = off
        self._check_read()
        if not reqs:
            return []
        if self._wbuf:
            await self._flush_if_visible(lowest)
        results = await self._raw.read_many(reqs, self._inline_batch_max)
        return finish_batch(results, return_exceptions)

    async def readinto_many(
        self: BufferedState,
        requests: Iterable[tuple[int, Any]],
        /,
        *,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Fill each ``(offset, buffer)``; return the byte counts in request order.

        Any writable buffer-protocol object works (bytearray, memoryview slices,
        array, numpy arrays); cached ranges are read straight into it.
        """
        items = [(check_offset(off), buf) for off, buf in requests]
        with contextlib.ExitStack() as stack:
            views = [stack.enter_context(writable_view(buf, "readinto_many")) for _, buf in items]
            for (off, _), view in zip(items, views, strict=True):
                check_span(off, len(view))
            self._check_read()
            if not items:
                return []
            await self._flush_if_visible(min(off for off, _ in items))
            pairs = [(off, view) for (off, _), view in zip(items, views, strict=True)]
            results = await self._raw.readinto_many(pairs, self._inline_batch_max)
            return finish_batch(results, return_exceptions)

    async def write_many(
        self: BufferedState,
        writes: Iterable[tuple[int, Any]],
        /,
        *,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Write each ``(offset, data)``; return the byte counts in request order.

        Non-overlapping writes go to the kernel together; a write that
        overlaps an earlier one of the same batch waits for it, so the file ends
        up exactly as if the writes were done one by one in order.
        """
        items = [(check_offset(off), bytes(bytes_view(data))) for off, data in writes]
        for off, data in items:
            check_span(off, len(data))
        self._check_write()
        if not items:
            return []
        if self._wbuf:
            await self._serialised(self._flush_wbuf)
        if self._rbuf:
            self._drop_rbuf()
        results: list[Any] = [0] * len(items)
        if self._fmode.appending:
            # Every write appends: order is the only thing that matters.
            groups = [[i] for i in range(len(items))]
        else:
            groups = _non_overlapping_groups(items)
        for group in groups:
            values = await self._raw.write_batch([items[i] for i in group])
            for i, value in zip(group, values, strict=True):
                results[i] = value  # OSErrors come named from the raw layer
        return finish_batch(results, return_exceptions)

    @property
    def stats(self: BufferedState) -> IOStats:
        """Which engine served how many operations and bytes of this file."""
        raw = self._raw
        inline = raw.inline
        write_backend = raw.write_backend
        return IOStats(
            backend=raw.backend,
            write_backend=write_backend if write_backend != raw.backend else None,
            inline_ops=inline.ops,
            inline_bytes=inline.bytes,
            inline_misses=inline.misses,
            inline_skipped=inline.skipped,
            kernel_ops=raw.kernel_ops,
            kernel_bytes=raw.kernel_bytes,
            thread_ops=raw.thread_ops,
            thread_bytes=raw.thread_bytes,
            inline_disabled_reason=inline.reason,
        )

    async def write_at(self: BufferedState, offset: int, data: Any, /) -> int:
        """Write all of *data* at *offset*; the position does not move.

        On a file opened in append mode the kernel appends instead, exactly as
        ``os.pwrite`` does on Linux.
        """
        off = check_offset(offset)
        view = bytes_view(data)
        self._check_write()
        n = view.nbytes
        if n == 0:
            return 0
        check_span(off, n)
        if self._fmode.appending:
            # The kernel appends this write; earlier buffered writes go first.
            if self._wbuf:
                await self._serialised(self._flush_wbuf)
        else:
            await self._flush_if_overlapping(off, n)
        if self._rbuf and off < self._rbuf_off + len(self._rbuf) and self._rbuf_off < off + n:
            self._drop_rbuf()
        return await self._raw.pwrite_all(view, off)
