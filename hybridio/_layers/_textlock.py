"""The bracket around every slow operation of an AsyncTextIO.

:class:`~hybridio._layers.exclusive.Exclusive` (the lock held, the file
flagged busy, so the fast paths, which take no lock, know they may not touch
the shared state), plus what the text layer adds: the cached lines are counted
as used first, the write fast path is off for the duration, and the first slow
operation runs the file's start-up (TextIOWrapper's BOM rule).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exclusive import Exclusive as _Exclusive
from .exclusive import Guarded

if TYPE_CHECKING:
    from .text import AsyncTextIO

__all__ = ("Exclusive",)


class Exclusive(_Exclusive):
    """``async with Exclusive(text_file)``: the text layer's slow-path bracket."""

    __slots__ = ()
    # Narrowed for mypy only (no typing.cast: a call at run time, three per
    # refill of `async for line`).
    _owner: AsyncTextIO

    def entered(self, owner: Guarded) -> None:
        """Stop the write fast path and drop the cached lines (counted as used)."""
        file = self._owner
        file._wfast_now = False
        reader = file._reader
        if reader.lines:
            reader.drop_lines()

    def leaving(self, owner: Guarded) -> None:
        """Let the write fast path run again if it may."""
        file = self._owner
        file._wfast_now = file._wfast

    async def __aenter__(self) -> None:
        await super().__aenter__()
        file = self._owner
        if not file._started:
            try:
                await file._start()
            except BaseException:
                await self.__aexit__()  # undone as the way out would be
                raise
