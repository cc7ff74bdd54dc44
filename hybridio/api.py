"""``async_open()``: parse the mode, pick the engine, assemble the layers.

Every argument is validated synchronously when ``async_open()`` is *called*,
before any fd, thread or ring exists (RELIABILITY B1-B3); the open itself runs
when the result is awaited or entered with ``async with``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import functools
import os
import stat
import types
import warnings
from collections.abc import Callable, Coroutine, Generator
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, Union, overload

from .compression import Compression
from .engines import direct, fdlimit, kernel
from .engines.threads import run_in_thread
from .layers.base import AsyncBinaryIO, AsyncFileBase
from .layers.buffered import KernelBinaryFile
from .layers.raw import RawKernelFile
from .layers.text import AsyncTextIO
from .modes import FileMode, check_open_args, parse_mode
from .profile import TuningProfile, resolve_profile
from .selector import ACCESS_VALUES, Access, Strategy, choose

if TYPE_CHECKING:
    from _typeshed import OpenBinaryMode, OpenTextMode, StrOrBytesPath

__all__ = ("AsyncOpen", "async_open")

_F = TypeVar("_F", bound=AsyncFileBase)
FileArg = Union["StrOrBytesPath", int]
Opener = Callable[[str, int], int]
BackendName = Literal["uring", "linux", "thread", "python"]


class AsyncOpen(Generic[_F]):
    """What ``async_open()`` returns: await it, or use it with ``async with``.

    It stands for ONE open: awaiting it from several tasks at once yields the
    same file object, never one fd per awaiter (aiofile#68).  The first awaiter
    runs the open itself (no extra task, no extra loop turn); the others wait
    for its outcome.  If the first awaiter is cancelled, the open is cancelled
    for everyone and an fd it already produced is closed, so nothing leaks.
    """

    __slots__ = ("_factory", "_outcome")

    def __init__(self, factory: Callable[[], Coroutine[Any, Any, _F]]) -> None:
        self._factory = factory
        self._outcome: asyncio.Future[_F] | None = None

    async def _open(self) -> _F:
        if self._outcome is not None:
            return await asyncio.shield(self._outcome)
        outcome = self._outcome = asyncio.get_running_loop().create_future()
        try:
            result = await self._factory()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                outcome.cancel()
            else:
                outcome.set_exception(exc)
                outcome.exception()  # retrieved: raised right here
            raise
        outcome.set_result(result)
        return result

    def __await__(self) -> Generator[Any, None, _F]:
        return self._open().__await__()

    async def __aenter__(self) -> _F:
        return await self._open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        outcome = self._outcome
        if (
            outcome is not None
            and outcome.done()
            and not outcome.cancelled()
            and outcome.exception() is None
        ):
            await outcome.result().close()


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
) -> AsyncOpen[AsyncBinaryIO] | AsyncOpen[AsyncTextIO]:
    """Open *file* like the builtin ``open()``; returns an awaitable context manager.

    ``compression`` reads and writes gzip/bz2/lzma/zstd on the fly (``AUTO``
    detects by magic bytes or suffix).  ``strategy`` forces the kernel or the
    thread engine, ``backend`` a kernel backend (``"uring"``, ``"linux"``,
    ``"thread"``, ``"python"``); ``access`` (``"random"``/``"sequential"``)
    sizes the read-ahead; ``profile`` overrides the tuning profile; ``executor``
    runs this file's thread-engine work.  ``hybridio.explain()`` shows what
    would be chosen and why.
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
    comp = Compression.coerce(compression) if compression is not None else Compression.NONE
    if compresslevel is not None and comp is Compression.NONE:
        raise ValueError("compresslevel is only valid with compression")
    strat = Strategy(strategy)
    if access not in ACCESS_VALUES:
        raise ValueError(f"access must be one of {ACCESS_VALUES}, not {access!r}")
    if strat is Strategy.THREAD and backend is not None:
        raise ValueError("backend= selects a kernel backend; it cannot go with strategy=THREAD")
    prof = resolve_profile(profile)
    request = _Request(
        file,
        fmode,
        buffering,
        closefd,
        opener,
        comp,
        compresslevel,
        backend,
        executor,
        strat,
        access,
        prof,
    )

    async def open_file() -> Any:
        binary = await _open_binary(request)
        if fmode.binary:
            return binary
        try:
            text = AsyncTextIO(
                binary,
                encoding=encoding,
                errors=errors,
                newline=newline,
                line_buffering=buffering == 1,
                mode=mode,
            )
        except BaseException:
            await binary.close()
            raise
        text.decision = binary.decision
        return text

    return AsyncOpen(open_file)


@dataclasses.dataclass(frozen=True)
class _Request:
    file: Any
    fmode: FileMode
    buffering: int
    closefd: bool
    opener: Opener | None
    compression: Compression
    compresslevel: int | None
    backend: str | None
    executor: Executor | None
    strategy: Strategy
    access: str
    profile: TuningProfile


def _open_fd(file: Any, fmode: FileMode, opener: Opener | None) -> int:
    if isinstance(file, int):
        return file
    if opener is not None:
        fd = opener(os.fsdecode(os.fspath(file)), fmode.os_flags)
        if not isinstance(fd, int) or fd < 0:
            raise ValueError(f"opener returned {fd}")
        return fd
    return os.open(file, fmode.os_flags, 0o666)


async def _open_binary(req: _Request) -> AsyncBinaryIO:
    # An fd hybridio opens takes a slot of the per-process fd limit first (a
    # gather of 10,000 opens waits instead of hitting EMFILE); its close or
    # __del__ gives the slot back.  An fd the caller passed in is theirs.
    limiter = fdlimit.LIMITER
    slot = None if isinstance(req.file, int) else await limiter.acquire(req.file)
    try:
        binary = await _open_binary_unlimited(req)
    except BaseException as exc:
        if slot is not None:
            slot.release()
        if isinstance(exc, OSError) and exc.errno == errno.EMFILE:
            # Other code holds the fds, or the limit is below what we keep free.
            raise fdlimit.emfile_error(req.file, held=limiter.held) from exc
        if isinstance(exc, OSError) and exc.errno == errno.EINVAL and req.opener is not None:
            clear = direct.open_error(exc, req.file)  # O_DIRECT where it is unsupported?
            if clear is not None:
                raise clear from exc
        raise
    fdlimit.attach(binary, slot)
    try:
        # An O_DIRECT fd (opener= or a passed fd) gets aligned, checked I/O.
        direct.attach(binary)
    except BaseException:
        await binary.close()
        raise
    return binary


async def _open_binary_unlimited(req: _Request) -> AsyncBinaryIO:
    compression = req.compression
    if compression is Compression.AUTO:
        from .compression import resolve

        compression = await run_in_thread(
            resolve, compression, req.file, req.fmode, executor=req.executor
        )
    choice = functools.partial(
        choose,
        req.file,
        req.fmode,
        compression=compression,
        strategy=req.strategy,
        access=req.access,
        backend=req.backend,
        profile=req.profile,
    )
    forced = req.backend or kernel.requested_backend()
    if req.strategy is not Strategy.THREAD and kernel.needs_probe(forced):
        # Once per process: the kernel probe must not stall the loop.
        decision = await run_in_thread(choice, executor=req.executor)
    else:
        decision = choice()
    if decision.strategy is Strategy.THREAD:
        from .layers.stream import open_stream

        stream = await open_stream(
            req.file,
            req.fmode,
            # -1 and 1 (line buffering is the text layer's) mean "the default":
            # the profile's stream_chunk, one thread hop per that many bytes.
            buffering=req.profile.stream_chunk if req.buffering in (-1, 1) else req.buffering,
            closefd=req.closefd,
            opener=req.opener,
            compression=compression,
            compresslevel=req.compresslevel,
            executor=req.executor,
        )
        stream.decision = decision
        return stream
    prof = req.profile
    engine = kernel.get_engine(forced, max_requests=prof.max_requests, sqpoll=prof.sqpoll)
    write_engine = engine
    if decision.write_backend and decision.write_backend != engine.name:
        try:
            write_engine = kernel.get_engine(decision.write_backend, max_requests=prof.max_requests)
        except kernel.BackendUnavailableError:
            write_engine = engine  # e.g. aio-max-nr used up: reads' engine does it
    if decision.open_in_thread:

        def release(fd: int) -> None:
            if not isinstance(req.file, int):
                os.close(fd)

        # A cancelled open still completes in the thread; `release` closes the
        # fd it produced instead of leaking it (RELIABILITY X2).
        fd = await run_in_thread(
            _open_fd, req.file, req.fmode, req.opener, executor=req.executor, cleanup=release
        )
    else:
        # A local open with cached metadata costs a few microseconds: cheaper
        # inline than the ~95 us of a thread hop.
        fd = _open_fd(req.file, req.fmode, req.opener)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            filename = req.file if isinstance(req.file, int) else os.fspath(req.file)
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), filename)
        raw = RawKernelFile(
            fd,
            engine,
            req.file,
            req.executor,
            max_chunk=prof.max_chunk,
            # strategy=KERNEL is taken literally: no read leaves the kernel
            # engine for a thread, however large (AUTO sends those to one).
            thread_read_min=_NEVER if req.strategy is Strategy.KERNEL else prof.thread_read_min,
            inline_max=prof.inline_max if decision.inline else 0,
            write_engine=write_engine,
        )
        binary = KernelBinaryFile(
            raw,
            req.fmode,
            name=req.file,
            buffer_size=_buffer_size(req.buffering, decision.read_ahead),
            closefd=req.closefd,
            inline_batch_max=prof.inline_batch_max,
        )
    except BaseException:
        if req.closefd:
            os.close(fd)
        raise
    binary.decision = decision
    return binary


_NEVER = 1 << 62


def _buffer_size(buffering: int, default: int) -> int:
    if buffering < 0 or buffering == 1:
        return default
    return buffering
