"""``async_open()`` and ``explain()``: check the arguments, then open or explain.

Every argument is validated synchronously when ``async_open()`` is *called*
(:mod:`._requests`), before any fd, thread or ring exists (RELIABILITY B1-B3);
the open itself (:mod:`._assemble`) runs when the result is awaited or
entered with ``async with``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Generator
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, overload

from ._assemble import _open_binary, _open_binary_later, _open_binary_now
from ._compression import Compression
from ._layers.base import AsyncBinaryIO
from ._layers.text import AsyncTextIO
from ._opening import _DONE, _NEW, _ready
from ._opening import AsyncOpen as AsyncOpen
from ._profile import TuningProfile
from ._requests import BackendName as BackendName
from ._requests import FileArg as FileArg
from ._requests import Opener as Opener
from ._requests import _Request as _Request
from ._requests import _request as _request
from ._selector import Access, Decision, Strategy, choose

if TYPE_CHECKING:
    from _typeshed import OpenBinaryMode, OpenTextMode

__all__ = ("AsyncOpen", "async_open")


class _BinaryOpen(AsyncOpen[AsyncBinaryIO]):
    """A binary open whose await needs no coroutine when the open needs no
    suspension (see :func:`_open_binary_now`): most small-file opens."""

    def __init__(self, req: _Request) -> None:
        # No AsyncOpen.__init__: its factory is the method below.
        self._req = req

    def _factory(self) -> Any:
        # Only after __await__'s attempt to open without suspending declined.
        return _open_binary_later(self._req)

    def __await__(self) -> Generator[Any, None, AsyncBinaryIO]:
        if self._state is _NEW:
            try:
                binary = _open_binary_now(self._req)
            except BaseException as exc:
                self._state = _DONE
                self._error = exc
                raise
            if binary is not None:
                self._state = _DONE
                self._result = binary
                return _ready(binary)
        return self._open().__await__()


@overload
def async_open(
    file: FileArg,
    mode: OpenTextMode = "r",
    buffering: int = -1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    closefd: bool = True,
    opener: Opener | None = None,
    *,
    compression: Compression | str | None = None,
    compresslevel: int | None = None,
    backend: BackendName | None = None,
    executor: Executor | None = None,
    strategy: Strategy | str = Strategy.AUTO,
    access: Access = "auto",
    profile: TuningProfile | str | os.PathLike[str] | None = None,
    atomic: bool = False,
) -> AsyncOpen[AsyncTextIO]: ...
@overload
def async_open(
    file: FileArg,
    mode: OpenBinaryMode,
    buffering: int = -1,
    encoding: None = None,
    errors: None = None,
    newline: None = None,
    closefd: bool = True,
    opener: Opener | None = None,
    *,
    compression: Compression | str | None = None,
    compresslevel: int | None = None,
    backend: BackendName | None = None,
    executor: Executor | None = None,
    strategy: Strategy | str = Strategy.AUTO,
    access: Access = "auto",
    profile: TuningProfile | str | os.PathLike[str] | None = None,
    atomic: bool = False,
) -> AsyncOpen[AsyncBinaryIO]: ...
@overload
def async_open(
    file: FileArg,
    mode: str,
    buffering: int = -1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    closefd: bool = True,
    opener: Opener | None = None,
    *,
    compression: Compression | str | None = None,
    compresslevel: int | None = None,
    backend: BackendName | None = None,
    executor: Executor | None = None,
    strategy: Strategy | str = Strategy.AUTO,
    access: Access = "auto",
    profile: TuningProfile | str | os.PathLike[str] | None = None,
    atomic: bool = False,
) -> AsyncOpen[AsyncBinaryIO] | AsyncOpen[AsyncTextIO]: ...


def async_open(
    file: FileArg,
    mode: str = "r",
    buffering: int = -1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    closefd: bool = True,
    opener: Opener | None = None,
    *,
    compression: Compression | str | None = None,
    compresslevel: int | None = None,
    backend: BackendName | None = None,
    executor: Executor | None = None,
    strategy: Strategy | str = Strategy.AUTO,
    access: Access = "auto",
    profile: TuningProfile | str | os.PathLike[str] | None = None,
    atomic: bool = False,
) -> AsyncOpen[AsyncBinaryIO] | AsyncOpen[AsyncTextIO]:
    """Open *file* like the builtin ``open()``; returns an awaitable context manager.

    ``compression`` reads and writes gzip/bz2/lzma/zstd on the fly (``AUTO``
    detects by magic bytes or suffix).  ``strategy`` forces the kernel or the
    thread engine, ``backend`` a kernel backend (``"uring"``, ``"linux"``,
    ``"thread"``, ``"python"``); ``access`` (``"random"``/``"sequential"``)
    sizes the read-ahead; ``profile`` overrides the tuning profile; ``executor``
    runs this file's thread-engine work.  ``hybridio.explain()`` shows what
    would be chosen and why.  ``atomic=True`` (``"w"``/``"x"`` modes) writes
    a temporary file that closing renames over *file*, durably; ``async with``
    left with an exception discards it (docs/bulk-and-durability.md).

    Binary modes give an [`AsyncBinaryIO`][hybridio.AsyncBinaryIO], text modes
    an [`AsyncTextIO`][hybridio.AsyncTextIO]; the mode default is ``"r"``, as
    for ``open()``.

    ```python
    import hybridio

    async with hybridio.async_open("example.txt", "w", encoding="utf-8") as f:
        await f.write("first line")
    f = await hybridio.async_open("example.txt", encoding="utf-8")  # awaiting works too
    try:
        assert await f.read() == "first line"
    finally:
        await f.close()
    ```
    """
    request = _request(
        file, mode, buffering, encoding, errors, newline, closefd, opener,
        compression, compresslevel, backend, executor, strategy, access, profile, atomic,
    )  # fmt: skip
    if request.fmode.binary:
        if not atomic:
            return _BinaryOpen(request)
        return AsyncOpen(functools.partial(_open_other, request, atomic, None))
    text = functools.partial(
        _make_text,
        encoding=encoding,
        errors=errors,
        newline=newline,
        line_buffering=request.buffering == 1,
        mode=mode,
    )
    return AsyncOpen(functools.partial(_open_other, request, atomic, text))


def _make_text(
    binary: AsyncBinaryIO,
    cls: type[AsyncTextIO] = AsyncTextIO,
    *,
    encoding: str | None,
    errors: str | None,
    newline: str | None,
    line_buffering: bool,
    mode: str,
) -> AsyncTextIO:
    text = cls(
        binary,
        encoding=encoding,
        errors=errors,
        newline=newline,
        line_buffering=line_buffering,
        mode=mode,
    )
    text.plan = binary.plan
    return text


async def _open_other(
    request: _Request,
    atomic: bool,
    make_text: Callable[[AsyncBinaryIO, type[AsyncTextIO]], AsyncTextIO] | None,
) -> Any:
    """A text or atomic open (binary opens are :class:`_BinaryOpen`)."""
    if atomic:
        from ._atomic import open_atomic

        return await open_atomic(request, _open_binary, make_text)
    binary = await _open_binary(request)
    if make_text is None:
        return binary
    try:
        return make_text(binary, AsyncTextIO)
    except BaseException:
        await binary.close()
        raise


def explain(
    file: FileArg,
    mode: str = "r",
    buffering: int = -1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    closefd: bool = True,
    opener: Opener | None = None,
    *,
    compression: Compression | str | None = None,
    compresslevel: int | None = None,
    backend: BackendName | None = None,
    executor: Executor | None = None,
    strategy: Strategy | str = Strategy.AUTO,
    access: Access = "auto",
    profile: TuningProfile | str | os.PathLike[str] | None = None,
    atomic: bool = False,
) -> Decision:
    """What ``async_open()`` with the same arguments would use, with the reasons.

    Takes ``async_open``'s arguments and defaults and refuses what it refuses,
    with the same exceptions; nothing is opened.  ``compression="auto"`` is
    resolved as the open resolves it (magic bytes of an existing file that is
    read, else the suffix), so this may read 6 bytes.
    """
    req = _request(
        file, mode, buffering, encoding, errors, newline, closefd, opener,
        compression, compresslevel, backend, executor, strategy, access, profile, atomic,
    )  # fmt: skip
    comp = req.compression
    if comp is Compression.AUTO:
        from ._compression import resolve

        comp = resolve(comp, req.file, req.fmode)
    decision = choose(
        req.file,
        req.fmode,
        compression=comp,
        strategy=req.strategy,
        access=req.access,
        backend=req.backend,
        profile=req.profile,
    )
    name = req.file if isinstance(req.file, (int, str)) else os.fsdecode(req.file)
    return dataclasses.replace(decision, path=name, mode=mode)
