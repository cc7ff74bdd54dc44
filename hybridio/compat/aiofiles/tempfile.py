"""``aiofiles.tempfile``: temporary files and directories, aiofiles-shaped."""

from __future__ import annotations

from typing import Any

from ... import tempfile as _core
from ..._engines.threads import run_in_thread
from ._files import AiofilesContextManager, AsyncBase, wrap_core

__all__ = (
    "AsyncSpooledTemporaryFile",
    "AsyncTemporaryDirectory",
    "NamedTemporaryFile",
    "SpooledTemporaryFile",
    "TemporaryDirectory",
    "TemporaryFile",
)


def TemporaryFile(
    mode: str = "w+b",
    buffering: int = -1,
    encoding: str | None = None,
    newline: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: Any = None,
    loop: Any = None,
    executor: Any = None,
) -> AiofilesContextManager:
    """``aiofiles.tempfile.TemporaryFile``."""

    async def make() -> AsyncBase:
        f: Any = await _core.TemporaryFile(mode, buffering, encoding, newline, suffix, prefix, dir)
        return wrap_core(f, buffering)

    return AiofilesContextManager(make())


def NamedTemporaryFile(
    mode: str = "w+b",
    buffering: int = -1,
    encoding: str | None = None,
    newline: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: Any = None,
    delete: bool = True,
    delete_on_close: bool = True,
    loop: Any = None,
    executor: Any = None,
) -> AiofilesContextManager:
    """``aiofiles.tempfile.NamedTemporaryFile`` (3.12 semantics)."""

    async def make() -> AsyncBase:
        f: Any = await _core.NamedTemporaryFile(
            mode,
            buffering,
            encoding,
            newline,
            suffix,
            prefix,
            dir,
            delete,
            delete_on_close=delete_on_close,
        )
        wrapped = wrap_core(f, buffering)
        wrapped.delete = delete  # type: ignore[attr-defined]
        return wrapped

    return AiofilesContextManager(make())


class AsyncSpooledTemporaryFile(AsyncBase):
    """``SpooledTemporaryFile``: ``_file`` is the stdlib object, as in aiofiles."""

    async def rollover(self) -> None:
        """Move the data from memory to a real file."""
        await run_in_thread(self._file.rollover)

    @property
    def newlines(self) -> Any:
        """Newlines seen so far (text modes)."""
        return self._file.newlines

    @property
    def encoding(self) -> Any:
        """The encoding (text modes)."""
        return self._file.encoding


def SpooledTemporaryFile(
    max_size: int = 0,
    mode: str = "w+b",
    buffering: int = -1,
    encoding: str | None = None,
    newline: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: Any = None,
    loop: Any = None,
    executor: Any = None,
) -> AiofilesContextManager:
    """``aiofiles.tempfile.SpooledTemporaryFile``."""

    async def make() -> AsyncBase:
        w: Any = await _core.SpooledTemporaryFile(
            max_size, mode, buffering, encoding, newline, suffix, prefix, dir
        )
        return AsyncSpooledTemporaryFile(w, exposed=w.wrapped)

    return AiofilesContextManager(make())


class AsyncTemporaryDirectory:
    """What awaiting ``TemporaryDirectory()`` gives: ``name``, ``cleanup()``, ``close()``."""

    def __init__(self, name: str, cm: Any) -> None:
        self.name = name
        self._cm = cm

    async def cleanup(self) -> None:
        """Remove the directory and its contents."""
        await self._cm.__aexit__(None, None, None)

    async def close(self) -> None:
        """Same as :meth:`cleanup`."""
        await self.cleanup()


class _DirectoryContextManager:
    def __init__(self, cm: Any) -> None:
        self._cm = cm
        self._obj: AsyncTemporaryDirectory | None = None

    async def _open(self) -> AsyncTemporaryDirectory:
        if self._obj is None:
            self._obj = AsyncTemporaryDirectory(await self._cm.__aenter__(), self._cm)
        return self._obj

    def __await__(self) -> Any:
        return self._open().__await__()

    async def __aenter__(self) -> str:
        return (await self._open()).name

    async def __aexit__(self, *exc_info: object) -> None:
        if self._obj is not None:
            await self._obj.cleanup()
            self._obj = None


def TemporaryDirectory(
    suffix: str | None = None,
    prefix: str | None = None,
    dir: Any = None,
    loop: Any = None,
    executor: Any = None,
) -> _DirectoryContextManager:
    """``aiofiles.tempfile.TemporaryDirectory``: ``async with`` yields the path."""
    return _DirectoryContextManager(_core.TemporaryDirectory(suffix, prefix, dir))
