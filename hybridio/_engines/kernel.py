"""Kernel async I/O through ``caio``: the engine, one context per event loop.

Probing the backends and creating their contexts is :mod:`.contexts` (its
public names are re-exported here).  One context exists per (event loop,
backend); it is created on first use and closed together with its loop, so
200 ``asyncio.run()`` cycles leave ``/proc/sys/fs/aio-nr``, fds and threads
where they were (langflow PR #12525 is what happens otherwise).

Completions are delivered through ONE asyncio future per batch of operations,
not one per operation: waking a suspended future costs ~10 us here, as much as
the I/O itself.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, Final, Protocol

from .._profile import BUILTIN
from . import backends as backends_table
from . import contexts
from .backends import BACKEND_NAMES
from .contexts import (
    _START_ERRORS,
    BackendInfo,
    BackendUnavailableError,
    _describe,
    _destroy_context,
    _spare_key,
    _spares,
    _spares_lock,
    _wants_sqpoll,
    backends,
    log,
    mark_unavailable,
    needs_probe,
    pick_backend,
    probe,
    probe_generation,
    requested_backend,
    sqpoll_requested,
)
from .engine import KernelEngine

# The rest of hybridio reaches the engine, the probe and the backend table
# through this module (kernel.get_engine, kernel.probe, ...).
__all__ = (
    "BACKEND_NAMES",
    "BackendInfo",
    "BackendUnavailableError",
    "KernelEngine",
    "backends",
    "get_engine",
    "get_engine_like",
    "mark_unavailable",
    "needs_prepare",
    "needs_probe",
    "pick_backend",
    "prepare_engine",
    "probe",
    "probe_generation",
    "requested_backend",
    "sqpoll_requested",
)


# loop -> {backend name -> engine}
# An engine per (backend, SQPOLL, submit mode): a profile asking for another
# configuration gets its own ring instead of silently sharing the first one.
_EngineKey = tuple[str, bool, str, int, bool]
_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_EngineKey, KernelEngine]] = (
    weakref.WeakKeyDictionary()
)


_last: tuple[asyncio.AbstractEventLoop, dict[_EngineKey, KernelEngine]] | None = None


#: Called with each loop that had engines, as it closes: what other modules
#: keep per loop (the open memo) is forgotten with the engines.
loop_close_hooks: list[Callable[[asyncio.AbstractEventLoop], None]] = []


def _close_loop_engines(loop: asyncio.AbstractEventLoop) -> None:
    global _last
    if _last is not None and _last[0] is loop:
        _last = None
    for hook in loop_close_hooks:
        hook(loop)
    for engine in (_engines.pop(loop, None) or {}).values():
        try:
            engine.close()
        except Exception:  # pragma: no cover - never let cleanup break loop.close()
            log.warning("closing the %s engine failed", engine.name, exc_info=True)


def _hook_loop_close(loop: asyncio.AbstractEventLoop) -> None:
    original: Callable[[], None] = loop.close

    def close() -> None:
        _close_loop_engines(loop)
        original()

    # An instance attribute shadows the method, so asyncio.run(), Runner and
    # uvloop all release the context exactly when they close the loop.
    loop.close = close  # type: ignore[method-assign]


def _make_engine(
    loop: asyncio.AbstractEventLoop,
    name: str,
    max_requests: int,
    sqpoll: bool,
    mode: str,
    sqpoll_depth: int = 0,
    miss_sqpoll: bool = False,
) -> KernelEngine:
    reason = probe(name)
    if reason is not None:
        raise BackendUnavailableError(f"kernel backend {name!r} is unavailable: {reason}")
    key = _spare_key(name, max_requests, sqpoll)
    ctx = contexts._take_spare(key)
    if ctx is not None:
        return KernelEngine(loop, name, ctx, key, mode, sqpoll_depth, miss_sqpoll)
    try:
        ctx = contexts._create_context(name, max_requests, sqpoll)
    except _START_ERRORS as exc:
        # e.g. io_setup's EAGAIN once aio-max-nr is used up (caio#19).
        raise BackendUnavailableError(
            f"kernel backend {name!r} failed to start: {_describe(exc)}"
        ) from exc
    return KernelEngine(loop, name, ctx, key, mode, sqpoll_depth, miss_sqpoll)


def needs_prepare(name: str) -> bool:
    """Whether :func:`prepare_engine` has work for *name* (a pooled backend)."""
    return backends_table.get(name).pooled


async def prepare_engine(name: str, *, max_requests: int = BUILTIN.max_requests) -> None:
    """Make sure :func:`get_engine` will not build a thread-pool context in the loop.

    A no-op unless *name* is a pooled backend the running loop has no engine
    for yet; then the context is created in a worker thread and handed over.
    """
    # A pooled context starts its threads: 50-80 ms with the GIL mostly
    # held, so it is built in a worker thread.
    if not backends_table.get(name).pooled:
        return
    engines = _engines.get(asyncio.get_running_loop())
    if engines is not None and any(k[0] == name and not e.closed for k, e in engines.items()):
        return
    if probe(name) is not None:
        return  # get_engine raises with the reason
    key = _spare_key(name, max_requests, False)
    with _spares_lock:
        if key in _spares:
            return
    from .threads import run_in_thread

    try:
        ctx = await run_in_thread(
            contexts._create_context,
            name,
            max_requests,
            cleanup=lambda c: _destroy_context(name, c),
        )
    except _START_ERRORS:
        return  # get_engine tries again in the loop and reports the failure
    with _spares_lock:
        if key not in _spares:
            _spares[key] = ctx
            return
    _destroy_context(name, ctx)


class RingSettings(Protocol):
    """What a ring is asked for: a plan's ring fields, or a running engine's."""

    @property
    def sqpoll(self) -> bool: ...
    @property
    def submit_mode(self) -> str: ...
    @property
    def sqpoll_depth(self) -> int: ...
    @property
    def miss_sqpoll(self) -> bool: ...


#: The :class:`RingSettings` names, which are also :func:`get_engine`'s keywords.
_RING_FIELDS: Final = tuple(
    name for name, value in vars(RingSettings).items() if isinstance(value, property)
)


def get_engine_like(backend: str | None, max_requests: int, ring: RingSettings) -> KernelEngine:
    """:func:`get_engine` for *backend* with *ring*'s SQPOLL and submission settings."""
    settings: dict[str, Any] = {name: getattr(ring, name) for name in _RING_FIELDS}
    return get_engine(backend, max_requests=max_requests, **settings)


def get_engine(
    backend: str | None = None,
    *,
    max_requests: int = BUILTIN.max_requests,
    sqpoll: bool = False,
    submit_mode: str = "adaptive",
    sqpoll_depth: int = 0,
    miss_sqpoll: bool = False,
) -> KernelEngine:
    """The engine of the running loop for *backend* (None: ``HYBRIDIO_BACKEND``,
    else :func:`pick_backend`'s choice).

    A backend that cannot run raises :class:`BackendUnavailableError`; the
    caller's plan decides what to fall back to.  *max_requests*, *sqpoll* and
    *submit_mode* apply when the loop's engine is created.
    """
    global _last
    loop = asyncio.get_running_loop()
    last = _last
    if last is not None and last[0] is loop:
        engines = last[1]
    else:
        found = _engines.get(loop)
        if found is None:
            found = _engines[loop] = {}
            _hook_loop_close(loop)
        engines = found
        # The last loop's engines, without a weak-dict lookup on every open;
        # forgotten when that loop closes.
        _last = (loop, engines)
    name = backend or requested_backend() or pick_backend()[0]
    if name is None:  # pragma: no cover - python_aio always works
        raise BackendUnavailableError("no kernel backend works here")
    key = (
        name,
        _wants_sqpoll(name, sqpoll),
        submit_mode,
        sqpoll_depth,
        miss_sqpoll,
    )
    engine = engines.get(key)
    if engine is None or engine.closed:
        engine = engines[key] = _make_engine(
            loop, name, max_requests, sqpoll, submit_mode, sqpoll_depth, miss_sqpoll
        )
    return engine
