"""caio's kernel backends: probing, contexts, spare contexts, results.

Candidates are tried in order -- io_uring, Linux AIO, caio's C thread pool,
caio's pure-Python pool -- and the first one whose context opens *and completes a
probe operation* is used.  Why each earlier candidate was skipped is kept
(:func:`backends`), because "io_uring is blocked by the container's seccomp
profile" is something a user needs to be told, not to guess (moby/moby#47532).
"""

from __future__ import annotations

import dataclasses
import errno as errno_mod
import importlib
import logging
import os
import re
import tempfile
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any, Final

from .. import _settings as settings
from .._profile import BUILTIN
from . import backends as backends_table
from .backends import BACKEND_NAMES

log = logging.getLogger("hybridio.kernel")


#: Threads of caio's own pools (thread/python backends).
POOL_SIZE: Final = 8
#: How long a probe operation may take before the backend is declared broken.
PROBE_TIMEOUT: Final = 5.0


class BackendUnavailableError(RuntimeError):
    """A kernel backend was forced but cannot run here; the message says why."""


@dataclasses.dataclass(frozen=True)
class BackendInfo:
    """Whether one kernel backend works in this process, and why not.

    Attributes:
        name: ``"uring"`` (io_uring), ``"linux"`` (Linux AIO), ``"thread"``
            (caio's C thread pool) or ``"python"`` (caio's Python thread pool).
        available: Whether the backend started here.
        reason: Why not, when it did not (seccomp, ``io_uring_disabled``,
            ``aio-max-nr``, not built for this platform, ...); None otherwise.
        selected: Whether files opened now would use it (the first available,
            or the one ``HYBRIDIO_BACKEND`` forces).
    """

    name: str
    available: bool
    reason: str | None
    selected: bool = False


# name -> None (usable) or the reason it is not.  Probed once per process.
_probe_results: dict[str, str | None] = {}
_probe_lock = threading.Lock()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno_mod.errorcode.get(exc.errno, str(exc.errno))
        return f"{name}: {exc.strerror or os.strerror(exc.errno)}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _load(name: str) -> types.ModuleType:
    return importlib.import_module(backends_table.get(name).module)


def _preload() -> None:
    # caio's io_uring extension probes the kernel in its module init (it sets
    # up and tears down rings, SQPOLL included): ~50-80 ms with the GIL held.
    # Paid here, at import time, it never stalls a running event loop.
    for name in BACKEND_NAMES:
        try:
            _load(name)
        except ImportError:
            pass  # the probe records why


_preload()


#: What a backend that cannot start raises: the kernel's refusal (OSError,
#: caio's SystemError/RuntimeError), a missing extension (ImportError).  Anything
#: else -- a TypeError from a wrong argument -- is a bug and is not hidden as
#: "backend unavailable".
_START_ERRORS: Final = (OSError, SystemError, RuntimeError, ImportError, MemoryError)


def _create_context(name: str, max_requests: int, sqpoll: bool = False) -> Any:
    """Create a raw caio context; tests replace this to inject start failures."""
    module = _load(name)
    desc = backends_table.get(name)
    if desc.sqpoll:
        # caio turns SQPOLL on whenever the kernel allows it; on a 2-vCPU VM
        # that doubled single-read latency and kept the second core busy, so
        # hybridio decides: off unless the profile or HYBRIDIO_SQPOLL=1 asks.
        return module.Context(max_requests=max_requests, sqpoll=sqpoll or sqpoll_requested())
    if desc.pooled:
        return module.Context(max_requests=max_requests, pool_size=POOL_SIZE)
    return module.Context(max_requests=max_requests)


# One idle context per (backend, ring size, SQPOLL), kept for the next engine:
# destroying a Linux AIO context waits for an RCU grace period inside
# io_destroy() with the GIL held (~30 ms here), which stalled the first open of
# a process (the probe's context) and every asyncio.run() exit.  Only the
# ring-based backends: a spare caio thread pool would keep its threads.
_spares: dict[tuple[str, int, bool], Any] = {}
_spares_lock = threading.Lock()


def _spare_key(name: str, max_requests: int, sqpoll: bool) -> tuple[str, int, bool]:
    return (name, max_requests, _wants_sqpoll(name, sqpoll))


def _wants_sqpoll(name: str, sqpoll: bool) -> bool:
    """Whether a ring for *name* is asked for with SQPOLL (argument or HYBRIDIO_SQPOLL)."""
    return backends_table.get(name).sqpoll and (sqpoll or sqpoll_requested())


def _take_spare(key: tuple[str, int, bool]) -> Any:
    with _spares_lock:
        return _spares.pop(key, None)


def _recycle_or_destroy(key: tuple[str, int, bool], ctx: Any) -> None:
    """Keep *ctx* as the spare for *key* (only idle ring contexts), else destroy it."""
    if backends_table.get(key[0]).recyclable:
        with _spares_lock:
            if key not in _spares:
                _spares[key] = ctx
                return
    _destroy_context(key[0], ctx)


def _forget_spares_in_child() -> None:
    # A forked child must not touch the parent's rings (an io_uring ring is
    # shared across fork; an AIO context is not valid in the child) nor
    # destroy them: drop the references without deallocating.
    global _spares, _spares_lock
    _orphans.extend(_spares.values())
    _spares = {}
    _spares_lock = threading.Lock()


_orphans: list[Any] = []
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_spares_in_child)


def _destroy_context(name: str, ctx: Any) -> None:
    close = getattr(ctx, "close", None)
    if close is not None:
        close()
    pool = getattr(ctx, "pool", None)
    if pool is not None:
        # python_aio's ThreadPool.close() only asks its workers to stop; join
        # so the thread count is back at its baseline when the loop closes.
        pool.join()


def _errno_of(name: str, op: Any, arg: Any) -> int:
    err = getattr(op, "error", 0) or 0
    if not err and isinstance(arg, int):
        if backends_table.get(name).unsigned_result and arg >= 1 << 63:
            # linux_aio passes io_event.res to the callback as unsigned.
            arg -= 1 << 64
        if arg < 0:
            err = -arg
    return err or errno_mod.EIO


def _submit_error(exc: BaseException) -> OSError:
    if isinstance(exc, OSError) and exc.errno:
        return OSError(exc.errno, exc.strerror)
    match = re.search(r"\[(E[A-Z0-9]+)\]", str(exc))
    code = getattr(errno_mod, match.group(1), errno_mod.EIO) if match else errno_mod.EIO
    return OSError(code, os.strerror(code))


def _result(name: str, op: Any, arg: Any) -> Any:
    """The value of a completed operation, or the ``OSError`` it failed with."""
    if isinstance(arg, OSError):
        return arg
    try:
        return op.get_value()
    except OSError as exc:  # python_aio re-raises the worker's own exception
        return exc
    except SystemError:
        # caio reports I/O errors as SystemError(strerror); the errno is kept
        # on the operation or in the completion value (caio PR #7).
        code = _errno_of(name, op, arg)
        return OSError(code, os.strerror(code))


def _probe(name: str) -> str | None:
    """Open a context and complete one write and one read; None when it works.

    The context is created as the first engine will want it, and a working
    one is kept as that engine's context (see ``_spares``).
    """
    key = _spare_key(name, BUILTIN.max_requests, False)
    try:
        ctx = _create_context(name, BUILTIN.max_requests)
    except _START_ERRORS as exc:
        return _describe(exc)
    ok = False
    try:
        with tempfile.TemporaryFile() as tmp:
            fd = tmp.fileno()
            module = _load(name)
            desc = backends_table.get(name)
            for op in (module.Operation.write(b"hybridio", fd, 0), module.Operation.read(8, fd, 0)):
                done = threading.Event()
                got: list[Any] = []

                def callback(arg: Any, got: list[Any] = got, done: threading.Event = done) -> None:
                    got.append(arg)
                    done.set()

                op.set_callback(callback)
                if ctx.submit(op) != 1:
                    return "the probe operation was not accepted"
                if desc.needs_flush:
                    ctx.flush()
                if desc.eventfd and not done.is_set():
                    ctx.process_events(8, 1, int(PROBE_TIMEOUT))
                if not done.wait(PROBE_TIMEOUT):
                    return f"the probe operation did not complete within {PROBE_TIMEOUT} s"
                value = _result(name, op, got[0])
                if isinstance(value, OSError):
                    return f"the probe operation failed: {_describe(value)}"
            if value != b"hybridio":
                return f"the probe read returned {value!r}"
        ok = True
        return None
    except (*_START_ERRORS, ValueError) as exc:
        # linux_aio reports a refused submission as ValueError("... [EBADF]").
        return _describe(exc)
    finally:
        try:
            if ok:
                _recycle_or_destroy(key, ctx)
            else:
                _destroy_context(name, ctx)
        except Exception:  # pragma: no cover - best effort after a failed probe
            log.debug("closing the %s probe context failed", name, exc_info=True)


_probe_gen = 0


def probe_generation() -> int:
    """A number that changes whenever what :func:`probe` says may have changed."""
    return _probe_gen


#: Called (no arguments) whenever :func:`probe_generation` changes: caches of
#: what the probes said (the open memo) drop themselves here.
probe_listeners: list[Callable[[], None]] = []


def _probes_changed() -> None:
    global _probe_gen
    _probe_gen += 1
    for listener in list(probe_listeners):
        listener()


def probe(name: str) -> str | None:
    """Probe *name* once per process; None if usable, else the reason it is not."""
    found = _probe_results.get(name, _UNPROBED)
    if found is not _UNPROBED:
        return found  # type: ignore[return-value]
    backends_table.get(name)  # ValueError for a name that is not a backend
    with _probe_lock:
        if name not in _probe_results:
            reason = _probe(name)
            _probe_results[name] = reason
            _probes_changed()
            if reason is not None:
                log.info("hybridio: kernel backend %s unavailable: %s", name, reason)
        return _probe_results[name]


def mark_unavailable(name: str, reason: str) -> None:
    """Record that *name* failed to start (e.g. io_setup's EAGAIN once aio-max-nr is
    used up): later plans skip it, and ``backends()`` shows why."""
    with _probe_lock:
        _probe_results[name] = reason
        _probes_changed()
    log.info("hybridio: kernel backend %s unavailable: %s", name, reason)


_UNPROBED: Final = object()


def needs_probe(name: str | None = None) -> bool:
    """Whether choosing *name* (None: the best backend) would still run a probe.

    The first probe imports caio's extension, whose init creates and tears
    down io_uring rings (~50-80 ms here): callers run it in a thread instead
    of stalling the loop.
    """
    if name is None and _probe_results.get(BACKEND_NAMES[0], _UNPROBED) is None:
        return False  # the common answer, without the lock
    with _probe_lock:
        if name is not None:
            return name not in _probe_results
        for candidate in BACKEND_NAMES:
            if candidate not in _probe_results:
                return True
            if _probe_results[candidate] is None:
                return False
        return False


def _reset_probes() -> None:
    """Forget probe results and spare contexts (for tests that inject faults)."""
    with _probe_lock:
        _probe_results.clear()
        _probes_changed()
    with _spares_lock:
        spares = list(_spares.items())
        _spares.clear()
    for (name, _, _), ctx in spares:
        _destroy_context(name, ctx)


def sqpoll_requested() -> bool:
    """Whether io_uring contexts are created with SQPOLL (``HYBRIDIO_SQPOLL=1``)."""
    return settings.current().sqpoll


_warned_env: set[str] = set()
# reload_settings() reads HYBRIDIO_BACKEND anew: an unknown value then warns again.
settings.on_reload(_warned_env.clear)


def requested_backend() -> str | None:
    """The backend named by ``HYBRIDIO_BACKEND``, or None (unknown values warn)."""
    value = settings.current().backend
    if not value or value == "auto":
        return None
    if value not in BACKEND_NAMES:
        if value in _warned_env:
            return None
        _warned_env.add(value)
        warnings.warn(
            f"HYBRIDIO_BACKEND={value!r} is not one of {BACKEND_NAMES}; ignoring it",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return value


def backends() -> tuple[BackendInfo, ...]:
    """Every kernel backend with whether it works here and why not.

    ``selected`` marks the one an unforced open on this process would use.
    """
    forced = requested_backend()
    chosen = (forced if probe(forced) is None else None) if forced else pick_backend()[0]
    return tuple(
        BackendInfo(name, probe(name) is None, probe(name), selected=name == chosen)
        for name in BACKEND_NAMES
    )


def pick_backend(exclude: frozenset[str] = frozenset()) -> tuple[str | None, dict[str, str]]:
    """The backend an unforced open uses -- the first candidate that works -- and
    why each earlier one was skipped.  The one walk of the candidate list."""
    skipped: dict[str, str] = {}
    for name in BACKEND_NAMES:
        if name in exclude:
            continue
        why = probe(name)
        if why is None:
            return name, skipped
        # Later candidates (thread pools) cost threads to probe: stop at the first.
        skipped[name] = why
    return None, skipped
