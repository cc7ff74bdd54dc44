"""``async_open()``: parse the mode, pick the engine, assemble the layers.

Every argument is validated synchronously when ``async_open()`` is *called*,
before any fd, thread or ring exists (RELIABILITY B1-B3); the open itself runs
when the result is awaited or entered with ``async with``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import operator
import os
import stat
import sys
import types
import warnings
from collections.abc import Callable, Coroutine, Generator
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, NamedTuple, TypeVar, Union, overload

from ._assemble import build, engines_for, open_now
from ._compression import Compression
from ._engines import direct, fdlimit, kernel
from ._engines.threads import run_in_thread
from ._layers.base import AsyncBinaryIO

# Imported here, not at the first thread-served open: importing it (gzip, bz2,
# lzma) took ~60 ms in the loop thread.
from ._layers.stream import open_stream
from ._layers.text import AsyncTextIO
from ._modes import FileMode, check_open_args, parse_mode
from ._profile import TuningProfile, resolve_profile
from ._selector import (
    ACCESS_VALUES,
    Access,
    Decision,
    Plan,
    Strategy,
    choose,
    gather_facts,
    plan,
)

if TYPE_CHECKING:
    from _typeshed import OpenBinaryMode, OpenTextMode, StrOrBytesPath

__all__ = ("AsyncOpen", "async_open")

_F = TypeVar("_F")
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

    __slots__ = ("_error", "_exit", "_factory", "_result", "_state", "_waiters")

    def __init__(
        self,
        factory: Callable[[], Coroutine[Any, Any, _F]],
        exit: Callable[[_F], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self._factory = factory
        #: How ``async with`` ends: *exit*(obj), else the object's own __aexit__.
        self._exit = exit
        # No future unless a second awaiter comes: one open is one awaiter,
        # and a future per open was a measurable share of a small-file open.
        self._state = _NEW
        self._result: Any = None
        self._error: BaseException | None = None
        self._waiters: list[asyncio.Future[None]] | None = None

    async def _open(self) -> _F:
        if self._state is not _NEW:
            return await self._join()
        self._state = _RUNNING
        try:
            result = await self._factory()
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            self._state = _DONE
            if self._waiters is not None:
                for waiter in self._waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        self._result = result
        return result

    async def _join(self) -> _F:
        """A later awaiter: wait for the first one's open, then share its outcome."""
        if self._state is _RUNNING:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await asyncio.shield(waiter)
        if self._error is not None:
            if isinstance(self._error, asyncio.CancelledError):
                raise asyncio.CancelledError
            raise self._error
        return self._result  # type: ignore[no-any-return]

    def __await__(self) -> Generator[Any, None, _F]:
        return self._open().__await__()

    async def __aenter__(self) -> _F:
        return await self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if self._state is _DONE and self._error is None:
            obj: Any = self._result
            if self._exit is not None:
                await self._exit(obj)
            else:
                # The file's own __aexit__: an atomic file discards on an exception.
                await obj.__aexit__(exc_type, exc, tb)


_NEW: Any = object()
_RUNNING: Any = object()
_DONE: Any = object()


class _BinaryOpen(AsyncOpen[AsyncBinaryIO]):
    """A binary open whose await needs no coroutine when the open needs no
    suspension (see :func:`_open_binary_now`): most small-file opens."""

    __slots__ = ("_req",)

    def __init__(self, req: _Request) -> None:
        super().__init__(req.open_binary)
        self._req = req

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


def _ready(value: _F) -> Generator[Any, None, _F]:
    """An awaitable's iterator that is done at once with *value*."""
    return value
    yield  # pragma: no cover - unreachable: it makes this function a generator


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
    fmode = request.fmode

    if fmode.binary and not atomic:
        return _BinaryOpen(request)

    def make_text(binary: AsyncBinaryIO, cls: type[AsyncTextIO] = AsyncTextIO) -> AsyncTextIO:
        text = cls(
            binary,
            encoding=encoding,
            errors=errors,
            newline=newline,
            line_buffering=request.buffering == 1,
            mode=mode,
        )
        text.plan = binary.plan
        return text

    async def open_file() -> Any:
        if atomic:
            from ._atomic import open_atomic

            return await open_atomic(request, _open_binary, None if fmode.binary else make_text)
        binary = await _open_binary(request)
        if fmode.binary:
            return binary
        try:
            return make_text(binary)
        except BaseException:
            await binary.close()
            raise

    return AsyncOpen(open_file)


def _request(
    file: Any,
    mode: str,
    buffering: int,
    encoding: str | None,
    errors: str | None,
    newline: str | None,
    closefd: bool,
    opener: Opener | None,
    compression: Compression | str | None,
    compresslevel: int | None,
    backend: str | None,
    executor: Executor | None,
    strategy: Strategy | str,
    access: str,
    profile: TuningProfile | str | os.PathLike[str] | None,
    atomic: bool,
) -> _Request:
    """Every argument checked the way ``open()`` checks it, before any fd exists."""
    if (
        type(file) is str
        and buffering == -1
        and profile is None
        and strategy is Strategy.AUTO
        and access == "auto"
        and closefd is True
        and opener is None
        and compression is None
        and compresslevel is None
        and backend is None
        and executor is None
        and encoding is None
        and errors is None
        and newline is None
        and not atomic
        and "\0" not in file
    ):
        # A path and a binary mode with every other argument at its default:
        # nothing to check beyond the mode (most opens; this saves ~1 us each).
        known = _BINARY_DEFAULTS.get(mode)
        if known is not None:
            # tuple.__new__: a NamedTuple's own __new__ is Python code.
            return tuple.__new__(_Request, (
                file, known, -1, True, None, Compression.NONE, None, None, None,
                Strategy.AUTO, "auto", resolve_profile(None),
            ))  # fmt: skip
    fmode = parse_mode(mode, stacklevel=4)
    buffering = check_open_args(fmode, buffering, encoding, errors, newline)
    if fmode.binary and buffering == 1:
        warnings.warn(
            "line buffering (buffering=1) isn't supported in binary mode, "
            "the default buffer size will be used",
            RuntimeWarning,
            stacklevel=3,
        )
    file = _check_file(file)
    if not closefd and not isinstance(file, int):
        raise ValueError("Cannot use closefd=False with file name")
    if backend is not None and backend not in kernel.BACKEND_NAMES:
        raise ValueError(f"unknown backend {backend!r}; expected one of {kernel.BACKEND_NAMES}")
    comp = Compression.coerce(compression) if compression is not None else Compression.NONE
    if compresslevel is not None and comp is Compression.NONE:
        raise ValueError("compresslevel is only valid with compression")
    strat = strategy if type(strategy) is Strategy else Strategy(strategy)
    if access not in ACCESS_VALUES:
        raise ValueError(f"access must be one of {ACCESS_VALUES}, not {access!r}")
    if strat is Strategy.THREAD and backend is not None:
        raise ValueError("backend= selects a kernel backend; it cannot go with strategy=THREAD")
    if atomic:
        from ._atomic import check_atomic_args

        check_atomic_args(file, fmode, opener)
    return _Request(
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
        resolve_profile(profile),
    )


#: The binary modes the argument fast path of :func:`_request` knows.
_BINARY_DEFAULTS: Final = {m: parse_mode(m) for m in ("rb", "wb", "ab", "xb", "r+b", "w+b", "a+b")}


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


def _check_file(file: Any) -> Any:
    """*file* as ``io.open`` takes it: a path via ``os.fspath`` (so ``name`` is
    a str or bytes, never a Path), or an fd from anything with ``__index__``."""
    if isinstance(file, os.PathLike):
        file = os.fspath(file)
    if isinstance(file, (str, bytes)):
        if (isinstance(file, str) and "\0" in file) or (isinstance(file, bytes) and b"\0" in file):
            raise ValueError("embedded null byte")  # FileIO's wording, not os.open's
        return file
    if isinstance(file, float) or not hasattr(file, "__index__"):
        raise TypeError(f"expected str, bytes or os.PathLike object, not {type(file).__name__}")
    if isinstance(file, bool) and sys.version_info >= (3, 12):
        warnings.warn("bool is used as a file descriptor", RuntimeWarning, stacklevel=3)
    return operator.index(file)


class _Request(NamedTuple):
    """One call's arguments, validated (a tuple: built on every open)."""

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

    def open_binary(self) -> Coroutine[Any, Any, AsyncBinaryIO]:
        """The open of this request (a bound method: no partial per open)."""
        return _open_binary(self)


def _deferred_truncate(file: Any, fmode: FileMode, opener: Opener | None) -> bool:
    """Whether the inline open leaves O_TRUNC out, to truncate after fstat."""
    return bool(fmode.os_flags & os.O_TRUNC) and opener is None and not isinstance(file, int)


def _open_fd(
    file: Any, fmode: FileMode, opener: Opener | None, *, defer_truncate: bool = False
) -> int:
    if isinstance(file, int):
        return file
    if opener is not None:
        fd = opener(os.fsdecode(os.fspath(file)), fmode.os_flags)
        if not isinstance(fd, int) or fd < 0:
            raise ValueError(f"opener returned {fd}")
        return fd
    flags = fmode.os_flags
    if defer_truncate:
        flags &= ~os.O_TRUNC
    return os.open(file, flags, 0o666)


def _plan_for(req: _Request, compression: Compression) -> tuple[Plan, os.stat_result | None]:
    """Gather the facts (one stat) and get the cached plan for *req*."""
    facts, st = gather_facts(req.file)
    return (
        plan(
            facts,
            compression=compression,
            strategy=req.strategy,
            access=req.access,
            backend=req.backend,
            profile=req.profile,
        ),
        st,
    )


async def _open_binary(req: _Request) -> AsyncBinaryIO:
    # An fd hybridio opens takes a slot of the per-process fd limit first (a
    # gather of 10,000 opens waits instead of hitting EMFILE); its close or
    # __del__ gives the slot back.  An fd the caller passed in is theirs.
    binary = _open_binary_now(req)
    if binary is not None:
        return binary
    limiter = fdlimit.LIMITER
    slot = None
    if not isinstance(req.file, int):
        slot = limiter.try_acquire() or await limiter.acquire(req.file)
    try:
        binary = await _open_binary_unlimited(req)
    except BaseException as exc:
        if slot is not None:
            slot.release()
        clearer = _clearer_error(exc, req)
        if clearer is None:
            raise
        raise clearer from exc
    fdlimit.attach(binary, slot)
    if isinstance(req.file, int) or req.opener is not None:
        # Only an fd passed in or one from an opener can carry O_DIRECT (the
        # modes hybridio opens with never do): no fcntl on a plain open.
        try:
            direct.attach(binary)
        except BaseException:
            await binary.close()
            raise
    return binary


def _open_binary_now(req: _Request) -> AsyncBinaryIO | None:
    """:func:`_open_binary` without suspending when the open allows it
    (:func:`hybridio._assemble.open_now`); None when it does not."""
    if type(req.file) is not str or req.opener is not None:
        return None
    slot = fdlimit.LIMITER.try_acquire()
    if slot is None:
        return None
    try:
        binary = open_now(req)
    except BaseException as exc:
        slot.release()
        clearer = _clearer_error(exc, req)
        if clearer is None:
            raise
        raise clearer from exc
    if binary is None:
        slot.release()
        return None
    fdlimit.attach(binary, slot)
    return binary


def _clearer_error(exc: BaseException, req: _Request) -> OSError | None:
    """A clearer error that a failed open's *exc* stands for, or None."""
    if not isinstance(exc, OSError):
        return None
    if exc.errno == errno.EMFILE:
        # Other code holds the fds, or the limit is below what we keep free.
        return fdlimit.emfile_error(req.file, held=fdlimit.LIMITER.held)
    if exc.errno == errno.EINVAL and req.opener is not None:
        return direct.open_error(exc, req.file)  # O_DIRECT where it is unsupported?
    return None


async def _open_binary_unlimited(req: _Request) -> AsyncBinaryIO:
    compression = req.compression
    if compression is Compression.AUTO:
        from ._compression import resolve

        compression = await run_in_thread(
            resolve, compression, req.file, req.fmode, executor=req.executor
        )
    forced = req.backend or kernel.requested_backend()
    if req.strategy is not Strategy.THREAD and kernel.needs_probe(forced):
        # Once per process: the kernel probe must not stall the loop.
        p, st = await run_in_thread(_plan_for, req, compression, executor=req.executor)
    else:
        p, st = _plan_for(req, compression)
    if p.strategy is Strategy.THREAD:
        stream = await open_stream(
            req.file,
            req.fmode,
            # -1 and 1 (line buffering is the text layer's) mean "the default":
            # the profile's stream_chunk, one thread hop per that many bytes.
            buffering=p.stream_chunk if req.buffering in (-1, 1) else req.buffering,
            closefd=req.closefd,
            opener=req.opener,
            compression=compression,
            compresslevel=req.compresslevel,
            executor=req.executor,
        )
        stream.plan = p
        return stream
    if st is not None and stat.S_ISDIR(st.st_mode) and not req.fmode.writable:
        # What open() raises for a directory, before any fd exists.
        filename = req.file if isinstance(req.file, int) else os.fspath(req.file)
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), filename)
    if kernel.needs_prepare(p.backend):
        await kernel.prepare_engine(p.backend, max_requests=p.max_requests)
    p, engine, write_engine = engines_for(p, req.fmode.writable)
    # O_TRUNC on a large cached file drops its pages inside open(): that is
    # done in a thread instead (ftruncate after the open).
    defer_truncate = (
        st is not None
        and st.st_size >= p.truncate_in_thread_min
        and _deferred_truncate(req.file, req.fmode, req.opener)
    )
    if p.open_in_thread:

        def release(fd: int) -> None:
            if not isinstance(req.file, int):
                os.close(fd)

        # A cancelled open still completes in the thread; `release` closes the
        # fd it produced instead of leaking it (RELIABILITY X2).
        fd = await run_in_thread(
            _open_fd, req.file, req.fmode, req.opener, executor=req.executor, cleanup=release
        )
        defer_truncate = False
    else:
        # A local open with cached metadata costs a few microseconds: cheaper
        # inline than the ~95 us of a thread hop.  Opens that never suspend
        # still pay the loop's fairness budget (1,000 opens in a row held the
        # loop for ~100 ms).
        if engine.budget.spent():
            await engine.budget.give_turn()
        fd = _open_fd(req.file, req.fmode, req.opener, defer_truncate=defer_truncate)
    if defer_truncate:
        try:
            await run_in_thread(os.ftruncate, fd, 0, executor=req.executor)
        except BaseException:
            if req.closefd:
                os.close(fd)
            raise
    return build(req, p, fd, st, engine, write_engine)
