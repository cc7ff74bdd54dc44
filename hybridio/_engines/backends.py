"""One descriptor per caio backend: everything that differs between them, in one table.

The kernel engine, the probe and the selector read these properties instead of
comparing backend names, so adding or reordering a backend is one edit here.
"""

from __future__ import annotations

import dataclasses
from typing import Final

__all__ = ("BACKENDS", "BACKEND_NAMES", "Backend", "get")


@dataclasses.dataclass(frozen=True)
class Backend:
    """How one caio backend works, as the engine needs to know it."""

    #: The name users pass (``backend=``, ``HYBRIDIO_BACKEND``).
    name: str
    #: The caio module holding its ``Context`` and ``Operation``.
    module: str
    #: Submitted operations wait in a queue until ``ctx.flush()`` (io_uring).
    needs_flush: bool
    #: Completions are signalled on ``ctx.fileno`` (an eventfd the loop watches)
    #: and drained with ``process_events()``; otherwise callbacks arrive by
    #: themselves (from pool threads when ``threaded``).
    eventfd: bool
    #: Completion callbacks run in caio's worker threads, not the loop thread.
    threaded: bool
    #: The completion value of a failure is ``io_event.res`` passed unsigned
    #: (Linux AIO): a negative errno arrives as ``2**64 - errno``.
    unsigned_result: bool
    #: Buffered reads run synchronously inside the submit call, disk wait
    #: included (Linux AIO on a non-O_DIRECT fd): submissions must stay small.
    reads_in_submit: bool
    #: The context takes a ``pool_size`` (caio's own thread pools).
    pooled: bool
    #: Can use SQPOLL (a kernel thread polling the submission queue).
    sqpoll: bool
    #: An idle context may be kept for the next engine: destroying it is slow
    #: (an RCU grace period with the GIL held) and it holds no threads.
    recyclable: bool

    @classmethod
    def having(cls, name: str, module: str, properties: str) -> Backend:
        """A backend with the boolean *properties* named (space-separated); the others false."""
        flags = [f.name for f in dataclasses.fields(cls) if f.type in (bool, "bool")]
        named = properties.split()
        unknown = set(named) - set(flags)
        if unknown:
            raise ValueError(f"unknown backend properties: {sorted(unknown)}")
        return cls(name, module, **{flag: flag in named for flag in flags})


#: In the order they are preferred.
BACKENDS: Final = (
    Backend.having("uring", "caio.linux_uring", "needs_flush eventfd sqpoll recyclable"),
    Backend.having("linux", "caio.linux_aio", "eventfd unsigned_result reads_in_submit recyclable"),
    Backend.having("thread", "caio.thread_aio", "threaded pooled"),
    Backend.having("python", "caio.python_aio", "threaded pooled"),
)

BACKEND_NAMES: Final = tuple(b.name for b in BACKENDS)
_BY_NAME: Final = {b.name: b for b in BACKENDS}


def get(name: str) -> Backend:
    """The descriptor of *name*; ValueError for a name that is not a backend."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown kernel backend {name!r}; expected one of {BACKEND_NAMES}"
        ) from None
