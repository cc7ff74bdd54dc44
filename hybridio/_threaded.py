"""Blocking code as coroutines and async iterators: ``threaded``, ``threaded_iterable``.

A thread hop costs ~100 µs; a loop that awaits a read per chunk pays it per
chunk.  :func:`threaded` turns a blocking function into a coroutine function
that runs it in ONE thread call; :func:`threaded_iterable` turns a blocking
generator into an async iterator fed by its own thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Executor
from typing import Any, Generic, ParamSpec, TypeVar, overload

from ._aclosing import AsyncClosing
from ._engines.threads import in_thread, run_to_completion

__all__ = ("ThreadedIterator", "threaded", "threaded_iterable")

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")
_C = TypeVar("_C")

# --------------------------------------------------------------------------- threaded


def _make_threaded(
    fn: Callable[_P, _R], executor: Executor | None
) -> Callable[_P, Coroutine[Any, Any, _R]]:
    return in_thread(fn, executor=executor)


def _decorate(fn: Any, executor: Executor | None) -> Any:
    # `@threaded` above `@staticmethod`/`@classmethod`: wrap the function
    # inside and put the same descriptor back around the coroutine function.
    if isinstance(fn, staticmethod):
        return staticmethod(_make_threaded(fn.__func__, executor))
    if isinstance(fn, classmethod):
        return classmethod(_make_threaded(fn.__func__, executor))
    if not callable(fn):
        raise TypeError(f"threaded() needs a callable, not {type(fn).__name__}")
    return _make_threaded(fn, executor)


@overload
def threaded(fn: staticmethod[_P, _R], /) -> staticmethod[_P, Coroutine[Any, Any, _R]]: ...
@overload
def threaded(fn: classmethod[_C, _P, _R], /) -> classmethod[_C, _P, Coroutine[Any, Any, _R]]: ...
@overload
def threaded(fn: Callable[_P, _R], /) -> Callable[_P, Coroutine[Any, Any, _R]]: ...
@overload
def threaded(
    *, executor: Executor | None = None
) -> Callable[[Callable[_P, _R]], Callable[_P, Coroutine[Any, Any, _R]]]: ...
def threaded(fn: Any = None, /, *, executor: Executor | None = None) -> Any:
    """Decorate a blocking function so that calling it returns a coroutine
    which runs the function in a thread (one thread hop per call).

    ``@threaded`` uses the library pool; ``@threaded(executor=pool)`` runs in
    *pool*.  Works on functions, methods, static and class methods.  If the
    awaiting task is cancelled before the function starts, it never runs; if
    it is already running, it runs to the end (threads cannot be interrupted)
    and the cancellation is raised afterwards.

    ```python
    import zlib
    import hybridio

    @hybridio.threaded
    def checksum(path: str) -> int:
        with open(path, "rb") as f:          # plain blocking code, in ONE thread call
            return zlib.crc32(f.read())

    with open("blob.bin", "wb") as f:
        f.write(b"abc")
    assert await checksum("blob.bin") == zlib.crc32(b"abc")
    ```
    """
    if fn is None:
        return functools.partial(_decorate, executor=executor)
    return _decorate(fn, executor)


# --------------------------------------------------------------------------- threaded_iterable


class _Channel(Generic[_T]):
    """A bounded hand-off from one producer thread to the event loop.

    The producer blocks on a condition when *max_size* items wait; the
    consumer is woken through ``call_soon_threadsafe`` only when it is
    actually waiting, so a fast producer costs no wake-up per item.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_size: int) -> None:
        self.loop = loop
        self.max_size = max_size
        self.cond = threading.Condition()
        self.items: collections.deque[_T] = collections.deque()
        self.closed = False  # the consumer wants no more items
        self.finished = False  # the producer is done (end of data or error)
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self.loop.call_soon_threadsafe(_resolve, waiter)

    def put(self, item: _T) -> bool:
        """Hand *item* over; False once the consumer has closed the channel."""
        with self.cond:
            while len(self.items) >= self.max_size and not self.closed:
                self.cond.wait()
            if self.closed:
                return False
            self.items.append(item)
            self._wake()
            return True

    def finish(self, error: BaseException | None) -> None:
        with self.cond:
            self.finished = True
            self.error = error
            self._wake()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.items.clear()
            self.cond.notify_all()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class ThreadedIterator(AsyncClosing, Generic[_T]):
    """An async iterator over a blocking iterable that runs in its own thread.

    The iterable is consumed in a dedicated thread (or in *executor*), at most
    *max_size* items ahead of the consumer.  ``aclose()``, leaving
    ``async with``, or cancelling the task waiting in ``__anext__`` stops the
    producer: a generator is closed in its thread (its ``finally`` blocks run)
    and ``aclose()`` returns once the thread has finished.  A producer stuck in
    a blocking call is awaited until that call returns.
    """

    def __init__(
        self,
        factory: Callable[[], Iterable[_T]],
        max_size: int,
        executor: Executor | None,
        name: str,
    ) -> None:
        self._factory = factory
        self._max_size = max_size
        self._executor = executor
        self._name = name
        self._channel: _Channel[_T] | None = None
        self._done: asyncio.Future[None] | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def _start(self) -> _Channel[_T]:
        loop = asyncio.get_running_loop()
        channel = self._channel = _Channel(loop, self._max_size)
        done = self._done = loop.create_future()
        ctx = contextvars.copy_context()

        def finished() -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, done)

        def produce() -> None:
            try:
                error: BaseException | None = None
                try:
                    iterator = iter(self._factory())
                    try:
                        for item in iterator:
                            if not channel.put(item):
                                break
                    finally:
                        # Closing the generator here, in its own thread, runs
                        # its `finally` blocks before the consumer is told.
                        close = getattr(iterator, "close", None)
                        if close is not None:
                            close()
                except BaseException as exc:
                    error = exc
                channel.finish(error)
            finally:
                finished()

        if self._executor is not None:
            self._executor.submit(ctx.run, produce)
        else:
            thread = self._thread = threading.Thread(
                target=ctx.run, args=(produce,), name=f"hybridio-iter-{self._name}", daemon=True
            )
            thread.start()
        return channel

    def _reap(self) -> None:
        # The producer has reported that it finished: its thread only has to
        # return, so this join is immediate; after it no thread is left behind.
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def __aiter__(self) -> ThreadedIterator[_T]:
        return self

    async def __anext__(self) -> _T:
        if self._closed:
            raise StopAsyncIteration
        channel = self._channel if self._channel is not None else self._start()
        while True:
            with channel.cond:
                if channel.items:
                    item = channel.items.popleft()
                    channel.cond.notify()
                    return item
                finished = channel.finished
                if not finished:
                    waiter = channel.waiter = channel.loop.create_future()
            if finished:
                break
            try:
                await waiter
            except asyncio.CancelledError:
                await self._stop()
                raise
        # The end, or the generator's error: reap the thread, then report it.
        error, channel.error = channel.error, None
        await self._stop()
        if error is not None:
            raise error
        raise StopAsyncIteration

    async def _stop(self) -> None:
        self._closed = True
        if self._channel is None:
            return
        self._channel.close()
        try:
            if self._done is not None:
                # Uncancellable: aclose() promises the producer has finished; a
                # cancellation meanwhile is delivered afterwards.
                await run_to_completion(self._done)
        finally:
            self._reap()

    async def aclose(self) -> None:
        """Stop the producer and wait until its thread has finished."""
        await self._stop()

    def __del__(self) -> None:
        # Never iterated to the end nor closed: let the producer stop at its
        # next item instead of blocking on a full channel forever.
        channel = self._channel
        if channel is not None and not channel.finished:
            channel.close()


@overload
def threaded_iterable(fn: Callable[_P, Iterable[_T]], /) -> Callable[_P, ThreadedIterator[_T]]: ...
@overload
def threaded_iterable(
    *, max_size: int = 64, executor: Executor | None = None
) -> Callable[[Callable[_P, Iterable[_T]]], Callable[_P, ThreadedIterator[_T]]]: ...
def threaded_iterable(
    fn: Any = None, /, *, max_size: int = 64, executor: Executor | None = None
) -> Any:
    """Decorate a blocking generator (any function returning an iterable) so
    that calling it returns a :class:`ThreadedIterator` (``async for``).

    The generator runs in its own thread (or in *executor*), at most
    *max_size* items ahead of the consumer.
    """
    if isinstance(max_size, bool) or not isinstance(max_size, int):
        raise TypeError(f"max_size must be int, not {type(max_size).__name__}")
    if max_size < 1:
        raise ValueError("max_size must be at least 1")

    def decorate(func: Callable[_P, Iterable[_T]]) -> Callable[_P, ThreadedIterator[_T]]:
        if not callable(func):
            raise TypeError(f"threaded_iterable() needs a callable, not {type(func).__name__}")

        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> ThreadedIterator[_T]:
            return ThreadedIterator(
                functools.partial(func, *args, **kwargs),
                max_size,
                executor,
                getattr(func, "__name__", "iterable"),
            )

        return wrapper

    if fn is None:
        return decorate
    return decorate(fn)
