"""A kernel-served file assembled from a plan, and the open that needs no await.

:func:`engines_for` binds a plan to the running loop's engines, :func:`build`
puts the raw and buffered layers over an fd.  :func:`open_now` is the common
open -- an existing regular file by path, planned for the kernel engine --
done in the calling coroutine without suspending: the plan, its engines and
the layers' numbers are worked out once per (loop, device, request kind) and
kept in a :class:`_Recipe`, so such an open costs one ``stat``, one ``open``
and two objects.  Small-file workloads (a web server, a build tool) are
mostly this.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import stat
import sys
from asyncio import get_running_loop
from stat import S_ISREG
from typing import TYPE_CHECKING, Any, Final

from ._compression import Compression
from ._engines import contexts, direct, fairness, fdlimit, kernel
from ._engines.threads import run_in_thread
from ._layers.base import AsyncBinaryIO
from ._layers.buffered import KernelBinaryFile
from ._layers.raw import RawKernelFile

# Imported here, not at the first thread-served open: importing it (gzip, bz2,
# lzma) took ~60 ms in the loop thread.
from ._layers.stream import open_stream
from ._modes import FileMode, parse_mode
from ._selector import Plan, Strategy, gather_facts, plan
from ._settings import on_reload as on_settings_reload

if TYPE_CHECKING:
    from ._requests import Opener, _Request

__all__ = ("build", "engines_for", "open_now")


def engines_for(p: Plan, writes: bool) -> tuple[Plan, kernel.KernelEngine, kernel.KernelEngine]:
    """The running loop's engines for *p*; a planned backend that fails to start
    (io_setup's EAGAIN once aio-max-nr is used up) falls back, and the plan says so."""
    while True:
        try:
            engine = kernel.get_engine_like(p.backend, p.max_requests, p)
            break
        except kernel.BackendUnavailableError as exc:
            if p.forced:
                raise
            kernel.mark_unavailable(p.backend, str(exc))
            fallback = p.replanned()
            if fallback.strategy is not Strategy.KERNEL:
                raise
            p = fallback
    write_engine = engine
    if writes and p.write_backend is not None and p.write_backend != p.backend:
        try:
            write_engine = kernel.get_engine(p.write_backend, max_requests=p.max_requests)
        except kernel.BackendUnavailableError:
            # The read engine does the writes; the plan tells the truth.
            p = dataclasses.replace(p, write_backend=p.backend)
    return p, engine, write_engine


def build(
    req: _Request,
    p: Plan,
    fd: int,
    st: os.stat_result | None,
    engine: kernel.KernelEngine,
    write_engine: kernel.KernelEngine,
) -> KernelBinaryFile:
    """The kernel-served file over *fd* (closed here if building fails)."""
    try:
        if st is None or (req.opener is not None and not isinstance(req.file, int)):
            # Created by this open, or opened by the user's opener: the stat
            # taken before says nothing about this fd.
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                filename = req.file if isinstance(req.file, int) else os.fspath(req.file)
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), filename)
        # An fd from the caller or an opener may carry O_DIRECT: ask it.
        ask = isinstance(req.file, int) or req.opener is not None
        binary = _layers(
            fd, req, p, engine, write_engine, True if ask else p.inline_reason, req.buffering
        )
    except BaseException:
        if req.closefd:
            os.close(fd)
        raise
    binary.plan = p
    return binary


def _layers(
    fd: int,
    req: _Request,
    p: Plan,
    engine: kernel.KernelEngine,
    write_engine: kernel.KernelEngine,
    inline_reason: str | bool | None,
    buffering: int,
) -> KernelBinaryFile:
    raw = RawKernelFile(
        fd,
        engine,
        req.file,
        req.executor,
        max_chunk=p.max_chunk,
        thread_read_min=_no_limit(p.thread_read_min),
        sync_submit_max=_no_limit(p.sync_submit_max),
        inline_max=p.inline_max if p.inline else 0,
        write_engine=write_engine,
        max_requests=p.max_requests,
        inline_reason=inline_reason,
        sqpoll_read_min=p.sqpoll_read_min,
        # Writable files never read early: their own writes would race it.
        prefetch_min=p.prefetch_min,
        prefetch_depth=0 if req.fmode.writable else p.prefetch_depth,
    )
    return KernelBinaryFile(
        raw,
        req.fmode,
        name=req.file,
        # -1 and 1 (line buffering is the text layer's) mean "the default".
        buffer_size=p.read_ahead if buffering < 0 or buffering == 1 else buffering,
        closefd=req.closefd,
        inline_batch_max=p.inline_batch_max,
    )


def _no_limit(value: int | None) -> int:
    return sys.maxsize if value is None else value


class _Recipe:
    """What every inline open of one kind on one loop shares.

    :meth:`make` builds the file from prototype layers taken once from
    :func:`_layers`: an open then copies their state and sets what is its
    own (fd, name, mode, buffer size), which costs a third of the calls.
    """

    __slots__ = ("_binary", "_inline", "_raw", "engine", "plan", "write_engine")

    def __init__(
        self,
        plan: Plan,
        engine: kernel.KernelEngine,
        write_engine: kernel.KernelEngine,
        req: _Request,
    ) -> None:
        # The loop is the memo's (_recipes_loop), and these engines are its.
        self.plan = plan
        self.engine = engine
        self.write_engine = write_engine
        # Any mode that does not append: make() sets the open's own.
        like = req._replace(file=None, fmode=parse_mode("r+b" if req.fmode.writable else "rb"))
        proto = _layers(-1, like, plan, engine, write_engine, plan.inline_reason, -1)
        self._raw = dict(vars(proto._raw))
        self._inline = proto._inline
        self._binary = dict(vars(proto))
        self._binary["plan"] = plan
        proto._closed = True  # a prototype holds no fd: nothing to close at its end

    def make(self, req: _Request, fd: int) -> KernelBinaryFile:
        """The file :func:`build` would make over *fd* for *req* (not appending,
        a path, so its own position starts at 0)."""
        raw = object.__new__(RawKernelFile)
        state = raw.__dict__
        state.update(self._raw)
        inline = self._inline.for_fd(fd)
        state["fd"] = fd
        state["name"] = req.file
        state["executor"] = req.executor
        state["inline"] = inline
        binary = object.__new__(KernelBinaryFile)
        state = binary.__dict__
        state.update(self._binary)
        fmode = req.fmode
        buffering = req.buffering
        state["_raw"] = raw
        state["_inline"] = inline
        state["_fd"] = fd
        state["name"] = req.file
        state["_fmode"] = fmode
        state["_readable"] = fmode.readable
        state["mode"] = fmode.raw_mode
        state["_closefd"] = req.closefd
        if buffering >= 0 and buffering != 1:
            state["_buffer_size"] = buffering
        state["_wbuf"] = bytearray()  # last, as in __init__ (see its __del__)
        return binary


# Recipes by request kind, for the last loop that opened files (a new loop
# starts a new memo).  Bounded: a key holds a device number.
_RECIPES_MAX: Final = 256
_recipes: dict[tuple[Any, ...], _Recipe] = {}
_recipes_loop: list[asyncio.AbstractEventLoop | None] = [None]


def _forget(loop: asyncio.AbstractEventLoop) -> None:
    if _recipes_loop[0] is loop:
        _recipes.clear()
        _recipes_loop[0] = None


def _forget_all() -> None:
    # Plans depend on the settings and on what the probes said: a reload or a
    # backend marked unavailable drops every recipe (so no open reads either).
    _recipes.clear()


kernel.loop_close_hooks.append(_forget)
on_settings_reload(_forget_all)
contexts.probe_listeners.append(_forget_all)


def open_now(req: _Request) -> KernelBinaryFile | None:
    """The common open done without suspending; None for anything else (a
    creation, a FIFO, a directory, a spent fairness budget): the general path
    then does it.  The caller (:func:`_open_binary_now`) has already left out
    fds, openers, compression and strategy=THREAD."""
    file: str = req.file
    if file.startswith(("/proc/", "/sys/")):
        return None
    try:
        st = os.stat(file)
    except (OSError, ValueError):
        return None  # the general path raises what open() raises
    if not S_ISREG(st.st_mode):
        return None
    fmode = req.fmode
    loop = get_running_loop()
    # ids: Strategy's and the profile's hashes are Python code; the recipe
    # checks the profile's identity, so a reused id cannot match.
    key = (st.st_dev, fmode.writable, id(req.strategy), req.access, req.backend, id(req.profile))
    recipe = _recipes.get(key) if _recipes_loop[0] is loop else None
    if (
        recipe is None
        or recipe.plan.profile is not req.profile
        or recipe.engine.closed
        or recipe.write_engine.closed
    ):
        recipe = _new_recipe(req, st, loop, key)
        if recipe is None:
            return None
    if recipe.engine.budget.spent():
        return None  # the general path gives the loop a turn first
    if fmode.os_flags & os.O_TRUNC and st.st_size >= recipe.plan.truncate_in_thread_min:
        return None  # O_TRUNC of a large cached file: the general path truncates in a thread
    fd = os.open(file, fmode.os_flags, 0o666)
    if fmode.appending:
        return build(req, recipe.plan, fd, st, recipe.engine, recipe.write_engine)
    try:
        return recipe.make(req, fd)
    except BaseException:
        os.close(fd)
        raise


def _new_recipe(
    req: _Request, st: os.stat_result, loop: asyncio.AbstractEventLoop, key: tuple[Any, ...]
) -> _Recipe | None:
    if kernel.needs_probe(req.backend or kernel.requested_backend()):
        return None
    facts, _ = gather_facts(req.file, st)
    p = plan(
        facts,
        compression=Compression.NONE,
        strategy=req.strategy,
        access=req.access,
        backend=req.backend,
        profile=req.profile,
    )
    if p.strategy is not Strategy.KERNEL or p.open_in_thread or kernel.needs_prepare(p.backend):
        return None
    p, engine, write_engine = engines_for(p, req.fmode.writable)
    recipe = _Recipe(p, engine, write_engine, req)
    if _recipes_loop[0] is not loop or len(_recipes) >= _RECIPES_MAX:
        _recipes.clear()
        _recipes_loop[0] = loop
    _recipes[key] = recipe
    return recipe


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
    return _open_binary_now(req) or await _open_binary_later(req)


async def _open_binary_later(req: _Request) -> AsyncBinaryIO:
    """:func:`_open_binary` once :func:`_open_binary_now` declined."""
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
    (:func:`open_now`); None when it does not."""
    if (
        type(req.file) is not str
        or req.opener is not None
        or req.compression is not Compression.NONE
        or req.strategy is Strategy.THREAD
    ):
        return None  # before any stat or slot: the general path does these
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


async def _planned(req: _Request) -> tuple[Compression, Plan, os.stat_result | None]:
    """The request's compression (``AUTO`` resolved), plan and stat."""
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
    return compression, p, st


async def _open_thread_served(req: _Request, p: Plan, compression: Compression) -> AsyncBinaryIO:
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


async def _open_binary_unlimited(req: _Request) -> AsyncBinaryIO:
    """Any open :func:`open_now` declines: planned, opened where the plan says."""
    # The loop's turn budget first, the engines' own (planning stats the file
    # and an inline open does not suspend): 1,000 such opens started in one
    # turn held the loop 0.6-4.7 s when only the open itself asked it.
    budget = fairness.for_loop(get_running_loop())
    if budget.spent():
        await budget.give_turn()
    compression, p, st = await _planned(req)
    if p.strategy is Strategy.THREAD:
        return await _open_thread_served(req, p, compression)
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
        # inline than the ~95 us of a thread hop (the budget was asked above).
        fd = _open_fd(req.file, req.fmode, req.opener, defer_truncate=defer_truncate)
    if defer_truncate:
        try:
            await run_in_thread(os.ftruncate, fd, 0, executor=req.executor)
        except BaseException:
            if req.closefd:
                os.close(fd)
            raise
    return build(req, p, fd, st, engine, write_engine)
