"""``tempfile`` as async context managers that yield hybridio files.

``TemporaryFile`` and ``NamedTemporaryFile`` create the file in one thread hop
and open it with :func:`hybridio.async_open`; the rest of the life of the file
is a normal hybridio file.  ``SpooledTemporaryFile`` keeps the stdlib object
(it lives in memory until it rolls over) behind :func:`hybridio.wrap`.
"""

from __future__ import annotations

import os
import tempfile as _tempfile
from typing import TYPE_CHECKING, Any, AnyStr, Generic, TypeVar, overload

from ._api import AsyncOpen, async_open
from ._engines.threads import run_in_thread
from ._layers.base import AsyncBinaryIO
from ._layers.text import AsyncTextIO
from ._wrap import AsyncWrappedBinaryIO, AsyncWrappedTextIO, wrap

if TYPE_CHECKING:
    from _typeshed import OpenBinaryMode, OpenTextMode, StrPath

__all__ = (
    "NamedTemporaryFile",
    "SpooledTemporaryFile",
    "TemporaryDirectory",
    "TemporaryFile",
    "gettempdir",
    "mkdtemp",
    "mkstemp",
)

_F = TypeVar("_F")

gettempdir = _tempfile.gettempdir


# One open per awaitable, however many tasks await it (async_open's rule).
_Opening = AsyncOpen


def _check_mode(mode: str) -> None:
    if not isinstance(mode, str):
        raise TypeError(f"open() argument 'mode' must be str, not {type(mode).__name__}")


async def _open_fd(
    fd: int,
    name: Any,
    mode: str,
    buffering: int,
    encoding: str | None,
    errors: str | None,
    newline: str | None,
) -> Any:
    taken = False

    def opener(path: str, flags: int) -> int:
        # The descriptor exists already, O_RDWR as mkstemp makes it.
        nonlocal taken
        taken = True
        return fd

    # The file is new and empty.  "x" would fail on it.  "a" would make
    # hybridio append every write, but the stdlib's temporary files have no
    # O_APPEND (FileIO seeks to the end once, at open): on an empty file that
    # is "w".
    mode = mode.replace("x", "w").replace("a", "w")
    try:
        # Arguments are checked here, before the fd is handed over.
        if name is None:
            # Unnamed, as the stdlib's TemporaryFile: its name is the fd.
            opening: Any = async_open(fd, mode, buffering, encoding, errors, newline)
        else:
            opening = async_open(name, mode, buffering, encoding, errors, newline, opener=opener)
    except BaseException:
        os.close(fd)
        raise
    try:
        return await opening
    except BaseException:
        # Once async_open owns the fd (passed in, or returned by the opener)
        # it releases it on failure; before that it is still ours.
        if name is not None and not taken:
            os.close(fd)
        raise


def _close_made(made: tuple[int, str]) -> None:
    # A mkstemp whose caller was cancelled during the hop: nobody else has the fd.
    os.close(made[0])


async def _close(f: Any) -> None:
    await f.close()


@overload
def TemporaryFile(
    mode: OpenBinaryMode = "w+b",
    buffering: int = -1,
    encoding: None = None,
    newline: None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    *,
    errors: None = None,
) -> _Opening[AsyncBinaryIO]: ...
@overload
def TemporaryFile(
    mode: OpenTextMode,
    buffering: int = -1,
    encoding: str | None = None,
    newline: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    *,
    errors: str | None = None,
) -> _Opening[AsyncTextIO]: ...
@overload
def TemporaryFile(
    mode: str,
    buffering: int = -1,
    encoding: str | None = None,
    newline: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    *,
    errors: str | None = None,
) -> _Opening[AsyncBinaryIO] | _Opening[AsyncTextIO]: ...
def TemporaryFile(
    mode: str = "w+b",
    buffering: int = -1,
    encoding: str | None = None,
    newline: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    *,
    errors: str | None = None,
) -> _Opening[Any]:
    """``tempfile.TemporaryFile``: an unnamed file, gone when closed; yields a hybridio file."""
    _check_mode(mode)

    def make() -> tuple[int, str]:
        fd, name = _tempfile.mkstemp(suffix, prefix, dir)
        try:
            os.unlink(name)
        except BaseException:
            os.close(fd)
            raise
        return fd, name

    async def enter() -> Any:
        fd, _ = await run_in_thread(make, cleanup=_close_made)
        return await _open_fd(fd, None, mode, buffering, encoding, errors, newline)

    return _Opening(enter, _close)


class NamedTemporaryFileWrapper(Generic[_F]):
    """The file of :func:`NamedTemporaryFile`: a hybridio file plus ``name`` and ``delete``.

    Every attribute but ``name``, ``delete`` and ``close`` is the hybridio
    file's own.  The path is removed on ``close()`` (``delete_on_close``) or
    at the end of the ``async with`` block.
    """

    def __init__(self, file: _F, name: str, delete: bool, delete_on_close: bool) -> None:
        self.file = file
        self.name = name
        self.delete = delete
        self._delete_on_close = delete_on_close
        self._removed = False

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.file, attr)

    async def _remove(self) -> None:
        if not self._removed:
            self._removed = True
            try:
                await run_in_thread(os.unlink, self.name)
            except FileNotFoundError:
                pass

    async def close(self) -> None:
        """Close the file; remove it too if ``delete`` and ``delete_on_close``."""
        try:
            await self.file.close()  # type: ignore[attr-defined]
        finally:
            if self.delete and self._delete_on_close:
                await self._remove()

    def __aiter__(self) -> Any:
        return self.file.__aiter__()  # type: ignore[attr-defined]

    async def __aenter__(self) -> NamedTemporaryFileWrapper[_F]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.close()
        finally:
            if self.delete:
                await self._remove()


async def _close_named(f: NamedTemporaryFileWrapper[Any]) -> None:
    await f.__aexit__(None, None, None)


@overload
def NamedTemporaryFile(
    mode: OpenBinaryMode = "w+b",
    buffering: int = -1,
    encoding: None = None,
    newline: None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    delete: bool = True,
    *,
    errors: None = None,
    delete_on_close: bool = True,
) -> _Opening[NamedTemporaryFileWrapper[AsyncBinaryIO]]: ...
@overload
def NamedTemporaryFile(
    mode: OpenTextMode,
    buffering: int = -1,
    encoding: str | None = None,
    newline: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    delete: bool = True,
    *,
    errors: str | None = None,
    delete_on_close: bool = True,
) -> _Opening[NamedTemporaryFileWrapper[AsyncTextIO]]: ...
@overload
def NamedTemporaryFile(
    mode: str,
    buffering: int = -1,
    encoding: str | None = None,
    newline: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    delete: bool = True,
    *,
    errors: str | None = None,
    delete_on_close: bool = True,
) -> (
    _Opening[NamedTemporaryFileWrapper[AsyncBinaryIO]]
    | _Opening[NamedTemporaryFileWrapper[AsyncTextIO]]
): ...
def NamedTemporaryFile(
    mode: str = "w+b",
    buffering: int = -1,
    encoding: str | None = None,
    newline: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    delete: bool = True,
    *,
    errors: str | None = None,
    delete_on_close: bool = True,
) -> _Opening[NamedTemporaryFileWrapper[Any]]:
    """``tempfile.NamedTemporaryFile`` (3.12 semantics, ``delete_on_close`` included)."""
    _check_mode(mode)

    async def enter() -> NamedTemporaryFileWrapper[Any]:
        fd, name = await mkstemp(suffix, prefix, dir)
        try:
            f = await _open_fd(fd, name, mode, buffering, encoding, errors, newline)
        except BaseException:
            await run_in_thread(os.unlink, name)
            raise
        return NamedTemporaryFileWrapper(f, name, delete, delete_on_close)

    return _Opening(enter, _close_named)


@overload
def SpooledTemporaryFile(
    max_size: int = 0,
    mode: OpenBinaryMode = "w+b",
    buffering: int = -1,
    encoding: None = None,
    newline: None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    *,
    errors: None = None,
) -> _Opening[AsyncWrappedBinaryIO]: ...
@overload
def SpooledTemporaryFile(
    max_size: int,
    mode: OpenTextMode,
    buffering: int = -1,
    encoding: str | None = None,
    newline: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    *,
    errors: str | None = None,
) -> _Opening[AsyncWrappedTextIO]: ...
@overload
def SpooledTemporaryFile(
    max_size: int,
    mode: str,
    buffering: int = -1,
    encoding: str | None = None,
    newline: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    *,
    errors: str | None = None,
) -> _Opening[AsyncWrappedBinaryIO] | _Opening[AsyncWrappedTextIO]: ...
def SpooledTemporaryFile(
    max_size: int = 0,
    mode: str = "w+b",
    buffering: int = -1,
    encoding: str | None = None,
    newline: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    *,
    errors: str | None = None,
) -> _Opening[Any]:
    """``tempfile.SpooledTemporaryFile`` behind :func:`hybridio.wrap` (one hop per call)."""
    _check_mode(mode)

    async def enter() -> Any:
        spooled: Any = _tempfile.SpooledTemporaryFile
        f = await run_in_thread(
            lambda: spooled(
                max_size, mode, buffering, encoding, newline, suffix, prefix, dir, errors=errors
            ),
            cleanup=lambda f: f.close(),
        )
        return wrap(f)

    return _Opening(enter, _close)


def TemporaryDirectory(
    suffix: AnyStr | None = None,
    prefix: AnyStr | None = None,
    dir: AnyStr | os.PathLike[AnyStr] | None = None,
    ignore_cleanup_errors: bool = False,
    *,
    delete: bool = True,
) -> _Opening[AnyStr]:
    """``tempfile.TemporaryDirectory``: ``async with`` yields the path; removed at exit."""
    made: list[_tempfile.TemporaryDirectory[Any]] = []

    def make() -> Any:
        if not delete:
            # What TemporaryDirectory(delete=False) (3.12+) amounts to.
            return _tempfile.mkdtemp(suffix, prefix, dir)
        d = _tempfile.TemporaryDirectory(
            suffix, prefix, dir, ignore_cleanup_errors=ignore_cleanup_errors
        )
        made.append(d)
        return d.name

    async def enter() -> Any:
        return await run_in_thread(make)

    async def exit_(_name: Any) -> None:
        if made:
            await run_in_thread(made[0].cleanup)  # safe to call twice

    return _Opening(enter, exit_)


async def mkstemp(
    suffix: str | None = None,
    prefix: str | None = None,
    dir: StrPath | None = None,
    text: bool = False,
) -> tuple[int, str]:
    """``tempfile.mkstemp`` in a worker thread."""
    return await run_in_thread(_tempfile.mkstemp, suffix, prefix, dir, text, cleanup=_close_made)


async def mkdtemp(
    suffix: str | None = None, prefix: str | None = None, dir: StrPath | None = None
) -> str:
    """``tempfile.mkdtemp`` in a worker thread."""
    return await run_in_thread(_tempfile.mkdtemp, suffix, prefix, dir)
