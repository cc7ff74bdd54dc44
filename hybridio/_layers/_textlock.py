"""The bracket around every slow operation of an AsyncTextIO.

``async with Exclusive(file)``: the file's lock is held and the file flagged
busy, so the fast paths (which take no lock) know they may not touch the shared
state; the cached lines are counted as used first, and the first slow operation
runs the file's start-up (TextIOWrapper's BOM rule).
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .text import AsyncTextIO

__all__ = ("Exclusive",)


class Exclusive:
    """``async with`` that serialises slow paths and flags the file busy,
    so fast paths know they may not touch shared state."""

    __slots__ = ("_file",)

    def __init__(self, file: AsyncTextIO) -> None:
        self._file = file

    async def __aenter__(self) -> None:
        file = self._file
        await file._lock.acquire()
        file._busy = True
        file._wfast_now = False
        reader = file._reader
        if reader.lines:
            reader.drop_lines()
        if not file._started:
            try:
                await file._start()
            except BaseException:
                file._busy = False
                file._wfast_now = file._wfast
                file._lock.release()
                raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self._file._busy = False
        self._file._wfast_now = self._file._wfast
        self._file._lock.release()
