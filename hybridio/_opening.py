"""What ``async_open()`` returns: one open, shared by every awaiter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

__all__ = ("AsyncOpen",)

_F = TypeVar("_F")


_NEW: Any = object()


_RUNNING: Any = object()


_DONE: Any = object()


class AsyncOpen(Generic[_F]):
    """What ``async_open()`` returns: await it, or use it with ``async with``.

    It stands for ONE open: awaiting it from several tasks at once yields the
    same file object, never one fd per awaiter (aiofile#68).  The first awaiter
    runs the open itself (no extra task, no extra loop turn); the others wait
    for its outcome.  If the first awaiter is cancelled, the open is cancelled
    for everyone and an fd it already produced is closed, so nothing leaks.
    """

    # The state before any await as class defaults, and no future unless a
    # second awaiter comes: one of these is built per open, and each store
    # (or a future per open) was a measurable share of a small-file open.
    _state: Any = _NEW
    _result: Any = None
    _error: BaseException | None = None
    _waiters: list[asyncio.Future[None]] | None = None
    #: How ``async with`` ends: *exit*(obj), else the object's own __aexit__.
    _exit: Callable[[_F], Coroutine[Any, Any, None]] | None = None

    def __init__(
        self,
        factory: Callable[[], Coroutine[Any, Any, _F]],
        exit: Callable[[_F], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self._factory = factory
        if exit is not None:
            self._exit = exit

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

    async def __aexit__(self, *exc_info: object) -> None:
        if self._state is _DONE and self._error is None:
            obj: Any = self._result
            if self._exit is not None:
                await self._exit(obj)
            else:
                # The file's own __aexit__: an atomic file discards on an exception.
                await obj.__aexit__(*exc_info)


def _ready(value: _F) -> Generator[Any, None, _F]:
    """An awaitable's iterator that is done at once with *value*."""
    return value
    yield  # pragma: no cover - unreachable: it makes this function a generator
