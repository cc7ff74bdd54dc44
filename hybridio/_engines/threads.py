"""The thread engine: one library-owned thread pool and run-in-thread helpers.

Blocking work that the kernel engine cannot take (compressed streams, pipes,
FIFOs, ``/proc`` files, whole-file bulk jobs) runs here.  The pool is created
lazily on first use, is shared by every event loop (threads are not bound to a
loop, so nothing piles up when loops come and go), is shut down at interpreter
exit, and is replaced in a forked child (the parent's worker threads do not
exist there).

Cancellation policy
-------------------
A call that has not started yet when the awaiting task is cancelled is withdrawn
from the queue and never runs.  A call that is already running cannot be
interrupted (a thread blocked in ``read(2)`` or inside zlib has no cancellation
point), so it is **awaited to completion, shielded**, and the
``CancelledError`` is re-raised afterwards.  The caller therefore never sees
a file whose state is changing behind its back: when the cancellation arrives,
the blocking call has finished, its effects (bytes read or written, position)
are recorded, and the next operation starts from a well-defined position
(RELIABILITY X4).  The result of such a call is dropped, except that
:func:`run_in_thread` hands it to ``cleanup`` so an object opened by a
cancelled ``open`` is released instead of leaked (X2).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import functools
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, ParamSpec, TypeVar

__all__ = (
    "default_executor",
    "default_executor_size",
    "in_thread",
    "run_in_thread",
    "run_to_completion",
    "set_default_executor_size",
    "shutdown_default_executor",
)

_T = TypeVar("_T")
_P = ParamSpec("_P")

_lock = threading.Lock()
_executor: concurrent.futures.ThreadPoolExecutor | None = None
_size: int | None = None


# Asked once: os.cpu_count() costs ~10 us here, and the read-ahead asks for
# the pool size per early read.
_CPUS: Final = os.cpu_count() or 1


def default_executor_size() -> int:
    """Number of worker threads the library pool has (or will have)."""
    if _size is not None:
        return _size
    from .._profile import resolve_profile

    configured = resolve_profile().thread_pool_size
    if configured > 0:
        return configured
    # Same formula as ThreadPoolExecutor's default: I/O-bound work benefits
    # from more threads than cores, but not unboundedly many.
    return min(32, _CPUS + 4)


def default_executor() -> concurrent.futures.ThreadPoolExecutor:
    """The library's thread pool, created on first use."""
    global _executor
    executor = _executor
    if executor is not None:
        return executor
    with _lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=default_executor_size(), thread_name_prefix="hybridio"
            )
        return _executor


def set_default_executor_size(size: int | None) -> None:
    """Resize the library pool (None: back to the default size).

    Calls already queued finish on the old pool; new calls use a new one.
    """
    global _executor, _size
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"size must be int or None, not {type(size).__name__}")
        if size < 1:
            raise ValueError("size must be at least 1")
    with _lock:
        old, _executor, _size = _executor, None, size
    if old is not None:
        old.shutdown(wait=False)


def shutdown_default_executor(wait: bool = True) -> None:
    """Shut the library pool down; a later call creates a fresh one."""
    global _executor
    with _lock:
        old, _executor = _executor, None
    if old is not None:
        old.shutdown(wait=wait)


def _after_fork_in_child() -> None:
    # The parent's worker threads do not exist in the child; forget the pool
    # without touching its (inherited, possibly held) locks.
    global _executor, _lock
    _executor = None
    _lock = threading.Lock()


atexit.register(shutdown_default_executor)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


async def _wait_uncancellable(fut: asyncio.Future[Any]) -> None:
    """Wait for *fut* however many times the caller is cancelled meanwhile."""
    while not fut.done():
        try:
            await asyncio.wait((fut,))
        except asyncio.CancelledError:
            continue


async def run_in_thread(
    fn: Callable[..., _T],
    *args: Any,
    executor: concurrent.futures.Executor | None = None,
    cleanup: Callable[[_T], object] | None = None,
) -> _T:
    """Run ``fn(*args)`` in a worker thread and return its result.

    The context (``contextvars``) of the caller is copied into the thread.  If
    the caller is cancelled while *fn* runs, *fn* is awaited to completion and
    the cancellation is re-raised afterwards (see the module docstring); if
    *fn* succeeded, ``cleanup(result)`` is called first.
    """
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    cfut = (executor or default_executor()).submit(ctx.run, fn, *args)
    fut = asyncio.wrap_future(cfut, loop=loop)
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        if not fut.done() and cfut.cancel():
            # Never started: withdrawn from the queue, nothing happened.
            raise
        await _wait_uncancellable(fut)
        if not fut.cancelled():
            exc = fut.exception()  # also marks it retrieved
            if exc is None and cleanup is not None:
                cleanup(fut.result())
        raise


async def run_to_completion(aw: Awaitable[_T]) -> _T:
    """Await *aw* to the end even if the caller is cancelled; then re-raise.

    Used for ``close()``: the file is closed whatever happens, and the
    cancellation is delivered afterwards (trio's ``aclose`` rule, X3).
    """
    task = asyncio.ensure_future(aw)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if task.done() and task.cancelled():
            raise
        await _wait_uncancellable(task)
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation wins, no "never retrieved" log
        raise


def in_thread(
    fn: Callable[_P, _T],
    *,
    executor: concurrent.futures.Executor | None = None,
    doc: str | None = None,
) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """*fn* as a coroutine function that runs it in a worker thread: one hop per call."""

    @functools.wraps(fn)
    async def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return await run_in_thread(functools.partial(fn, *args, **kwargs), executor=executor)

    if doc is not None:
        call.__doc__ = doc
    return call


def bind(fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Callable[[], _T]:
    """``functools.partial`` typed for :func:`run_in_thread`."""
    return functools.partial(fn, *args, **kwargs)
