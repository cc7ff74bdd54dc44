"""``aiofiles.threadpool``: ``open``, ``wrap`` and the stdio objects."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

from ... import _wrap
from ..._api import async_open
from ._files import (
    AiofilesContextManager,
    AsyncBufferedIOBase,
    AsyncBufferedReader,
    AsyncFileIO,
    AsyncTextIOWrapper,
    wrap_core,
)

__all__ = (
    "AsyncBufferedIOBase",
    "AsyncBufferedReader",
    "AsyncFileIO",
    "AsyncTextIOWrapper",
    "open",
    "stderr",
    "stderr_bytes",
    "stdin",
    "stdin_bytes",
    "stdout",
    "stdout_bytes",
    "wrap",
)


def open(
    file: Any,
    mode: str = "r",
    buffering: int = -1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    closefd: bool = True,
    opener: Any = None,
    *,
    loop: Any = None,
    executor: Executor | None = None,
) -> AiofilesContextManager:
    """``aiofiles.open``: a hybridio file in aiofiles' shape; await it or ``async with`` it."""

    async def _open() -> Any:
        f = await async_open(
            file,
            mode,
            buffering,
            encoding,
            errors,
            newline,
            closefd,
            opener,
            executor=executor,
        )
        return wrap_core(f, buffering)

    return AiofilesContextManager(_open())


def wrap(file: Any, *, loop: Any = None, executor: Any = None) -> Any:
    """``aiofiles.threadpool.wrap``: an open blocking file object, aiofiles-shaped.

    Raises ``TypeError`` for anything that is not a file object, as aiofiles does.
    """
    import io

    if isinstance(file, io.RawIOBase) and not isinstance(file, io.FileIO):
        raise TypeError(f"Unsupported io type: {file}.")
    core = _wrap.wrap(file)
    buffering = 0 if isinstance(file, io.FileIO) else -1
    return wrap_core(core, buffering, exposed=file)


stdin = AsyncTextIOWrapper(_wrap.stdin)
stdout = AsyncTextIOWrapper(_wrap.stdout)
stderr = AsyncTextIOWrapper(_wrap.stderr)
stdin_bytes = AsyncBufferedIOBase(_wrap.stdin_bytes)
stdout_bytes = AsyncBufferedIOBase(_wrap.stdout_bytes)
stderr_bytes = AsyncBufferedIOBase(_wrap.stderr_bytes)
