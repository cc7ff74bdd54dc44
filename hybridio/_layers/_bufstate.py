"""The state and helpers of the kernel-served file that its mixins use.

:class:`~hybridio._layers.buffered.KernelBinaryFile` is assembled from the
stream reads (:mod:`.bufreads`), the positional calls (:mod:`.positional`) and
its own position, buffers and locking; :class:`BufferedState` is what the
mixins may touch, so that mypy checks them against one description.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ParamSpec, Protocol, TypeVar

from .._engines.inline import InlineReader
from .._modes import FileMode
from .raw import RawKernelFile

__all__ = ("BufferedState",)

_P = ParamSpec("_P")
_T = TypeVar("_T")


class BufferedState(Protocol):
    """The kernel-served file as its mixins see it."""

    _raw: RawKernelFile
    _inline: InlineReader
    _inline_batch_max: int
    _fmode: FileMode
    _readable: bool
    _closed: bool
    _buffer_size: int
    _share_offset: bool
    _pos: int
    _rbuf: bytes
    _rbuf_off: int
    _wbuf: bytearray
    _wbuf_off: int
    _lock: asyncio.Lock | None
    _busy: bool

    def _check_read(self) -> None: ...
    def _check_write(self) -> None: ...
    def _refuse_unreadable(self, op: str, size: object) -> None: ...
    def _publish_offset(self) -> None: ...
    def _drop_rbuf(self) -> None: ...
    async def _flush_wbuf(self) -> None: ...
    async def _serialised(
        self, call: Callable[_P, Awaitable[_T]], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T: ...
    # The stream reads (bufreads.py)
    def _buffered(self) -> memoryview | None: ...
    def _take(self, head: memoryview, n: int) -> bytes: ...
    async def _refill(self) -> bool: ...
    def _read_all_inline(self) -> bytes | None: ...
    async def _read(self, n: int) -> bytes: ...
    async def _read1(self, n: int) -> bytes: ...
    async def _peek(self) -> bytes: ...
    async def read(self, size: int | None = -1, /) -> bytes: ...
    def _line_from_buffer(self, limit: int) -> bytes | None: ...
    async def _readline(self, limit: int) -> bytes: ...
    # The positional calls (positional.py)
    async def _flush_if_overlapping(self, offset: int, size: int) -> None: ...
    async def _flush_if_visible(self, offset: int) -> None: ...
