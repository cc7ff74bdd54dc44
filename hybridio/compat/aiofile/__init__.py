"""Drop-in for ``aiofile``: ``import hybridio.compat.aiofile as aiofile``.

Same names and semantics as aiofile 3.12: ``AIOFile`` with explicit offsets,
``async_open`` returning wrappers with synchronous ``seek()``/``tell()``,
``Reader``/``Writer``/``LineReader``, ``clone``; ``context=`` selects the
hybridio kernel backend of the same kind.
"""

from __future__ import annotations

from .aio import AIOFile
from .utils import (
    BinaryFileWrapper,
    FileIOCloner,
    FileIOWrapperBase,
    LineReader,
    Reader,
    TextFileWrapper,
    Writer,
    async_open,
    clone,
)

__all__ = (
    "AIOFile",
    "BinaryFileWrapper",
    "FileIOCloner",
    "FileIOWrapperBase",
    "LineReader",
    "Reader",
    "TextFileWrapper",
    "Writer",
    "async_open",
    "clone",
)
