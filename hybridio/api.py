"""``async_open()``: parse the mode, pick the engine, assemble the layers.

Every argument is validated synchronously when ``async_open()`` is *called*,
before any fd, thread or ring exists (RELIABILITY B1-B3); the open itself runs
when the result is awaited or entered with ``async with``.
"""

from __future__ import annotations

import errno
import os
import stat
import types
import warnings
from collections.abc import Callable, Coroutine, Generator
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, Union, overload

from .compression import Compression
from .engines import kernel
from .layers.base import AsyncBinaryIO, AsyncFileBase
from .layers.buffered import DEFAULT_BUFFER_SIZE, KernelBinaryFile
from .layers.raw import RawKernelFile
from .layers.text import AsyncTextIO
from .modes import FileMode, check_open_args, parse_mode

if TYPE_CHECKING:
    from _typeshed import OpenBinaryMode, OpenTextMode, StrOrBytesPath

__all__ = ("AsyncOpen", "async_open")

_F = TypeVar("_F", bound=AsyncFileBase)
FileArg = Union["StrOrBytesPath", int]
Opener = Callable[[str, int], int]
BackendName = Literal["uring", "linux", "thread", "python"]


class AsyncOpen(Generic[_F]):
    """What ``async_open()`` returns: await it, or use it with ``async with``."""

    __slots__ = ("_factory", "_file")

    def __init__(self, factory: Callable[[], Coroutine[Any, Any, _F]]) -> None:
        self._factory = factory
        self._file: _F | None = None

    def __await__(self) -> Generator[Any, None, _F]:
        return self._factory().__await__()

    async def __aenter__(self) -> _F:
        self._file = await self._factory()
        return self._file

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if self._file is not None:
            await self._file.close()


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
) -> AsyncOpen[AsyncBinaryIO] | AsyncOpen[AsyncTextIO]:
    """Open *file* like the builtin ``open()``; returns an awaitable context manager.

    ``compression`` reads and writes gzip/bz2/lzma/zstd on the fly (``AUTO``
    detects by magic bytes or suffix); ``backend`` forces a kernel backend
    (``"uring"``, ``"linux"``, ``"thread"``, ``"python"``); ``executor`` runs the
    thread-engine work of this file.
    """
    fmode = parse_mode(mode)
    check_open_args(fmode, buffering, encoding, errors, newline)
    if fmode.binary and buffering == 1:
        warnings.warn(
            "line buffering (buffering=1) isn't supported in binary mode, "
            "the default buffer size will be used",
            RuntimeWarning,
            stacklevel=2,
        )
    if not isinstance(file, (str, bytes, int)) and not isinstance(file, os.PathLike):
        raise TypeError(f"expected str, bytes or os.PathLike object, not {type(file).__name__}")
    if isinstance(file, bool):
        raise TypeError("expected str, bytes or os.PathLike object, not bool")
    if not closefd and not isinstance(file, int):
        raise ValueError("Cannot use closefd=False with file name")
    if backend is not None and backend not in kernel.BACKEND_NAMES:
        raise ValueError(f"unknown backend {backend!r}; expected one of {kernel.BACKEND_NAMES}")
    comp = Compression.NONE if compression is None else Compression(compression)
    if compresslevel is not None and comp is Compression.NONE:
        raise ValueError("compresslevel is only valid with compression")

    async def open_file() -> Any:
        binary = await _open_binary(
            file, fmode, buffering, closefd, opener, comp, compresslevel, backend, executor
        )
        if fmode.binary:
            return binary
        try:
            return AsyncTextIO(
                binary,
                encoding=encoding,
                errors=errors,
                newline=newline,
                line_buffering=buffering == 1,
            )
        except BaseException:
            await binary.close()
            raise

    return AsyncOpen(open_file)


def _buffer_size(buffering: int) -> int:
    if buffering < 0 or buffering == 1:
        return DEFAULT_BUFFER_SIZE
    return buffering


def _needs_stream(file: FileArg) -> bool:
    """True for FIFOs, devices and other files kernel AIO must never see (aiofile#14)."""
    try:
        st = os.stat(file) if not isinstance(file, int) else os.fstat(file)
    except (OSError, ValueError):
        return False  # let open() report it, with open()'s exact error
    return not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode))


async def _open_binary(
    file: FileArg,
    fmode: FileMode,
    buffering: int,
    closefd: bool,
    opener: Opener | None,
    compression: Compression,
    compresslevel: int | None,
    backend: str | None,
    executor: Executor | None,
) -> AsyncBinaryIO:
    if compression is Compression.AUTO:
        from .compression import resolve
        from .engines.threads import run_in_thread

        compression = await run_in_thread(resolve, compression, file, fmode, executor=executor)
    if compression is not Compression.NONE or _needs_stream(file):
        if backend is not None:
            raise ValueError(
                f"backend={backend!r} needs a regular, uncompressed file; "
                "this one is served by the thread engine"
            )
        from .layers.stream import open_stream

        return await open_stream(
            file,
            fmode,
            buffering=buffering,
            closefd=closefd,
            opener=opener,
            compression=compression,
            compresslevel=compresslevel,
            executor=executor,
        )
    engine = kernel.get_engine(backend)
    if isinstance(file, int):
        fd = file
    elif opener is not None:
        fd = opener(os.fsdecode(os.fspath(file)), fmode.os_flags)
        if not isinstance(fd, int) or fd < 0:
            raise ValueError(f"opener returned {fd}")
    else:
        # A local open with cached metadata costs a few microseconds: cheaper
        # inline than the ~95 us of a thread hop.
        fd = os.open(file, fmode.os_flags, 0o666)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            filename = file if isinstance(file, int) else os.fspath(file)
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), filename)
        raw = RawKernelFile(fd, engine, file, executor)
        return KernelBinaryFile(
            raw, fmode, name=file, buffer_size=_buffer_size(buffering), closefd=closefd
        )
    except BaseException:
        if closefd:
            os.close(fd)
        raise
