"""Small fakes for fault injection (STYLE: aiofile's ``Mock(caio.AbstractContext)``,
CPython's ``MisbehavedRawIO``).

- :class:`FaultyEngine` wraps the loop's real kernel engine: every operation is
  submitted to real caio on a real file, and the value it reports back is then
  replaced as a failing disk or a short-transferring filesystem would replace it
  (an errno, or fewer bytes than asked).  :func:`install_faults` makes every
  kernel engine created from then on such a wrapper.
- :func:`fail_backend_start` makes creating a backend's caio context raise, the
  way seccomp (ENOSYS/EPERM), an old kernel or an exhausted ``aio-max-nr``
  (EAGAIN) make it fail.

The hooks are the library's own: ``contexts._create_context`` ("tests replace
this to inject start failures") and ``kernel._make_engine``, the one place a
loop's engine is built; they are named here only, not in the tests.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from hybridio._engines import contexts, kernel

__all__ = ("Fault", "FaultyEngine", "fail_backend_start", "install_faults")

KINDS = ("read", "write", "fsync", "fdatasync")


@dataclass
class Fault:
    """What to do to the completed operations of one *kind* ("read", "write",
    "fsync", "fdatasync").

    *error*: fail with this errno.  *short*: report at most this many bytes (a
    read's data is cut, a write's count lowered although all of it landed: the
    caller must write the rest again, which lands on the same bytes).  *offset*:
    only operations at this file offset.  *times*: only the first so many
    matches (None: every one).  *hits* counts the operations changed.
    """

    kind: str
    error: int | None = None
    short: int | None = None
    offset: int | None = None
    times: int | None = None
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown operation kind {self.kind!r}")
        if (self.error is None) == (self.short is None):
            raise ValueError("a fault is either an error or a short count")

    def matches(self, kind: str, offset: int | None) -> bool:
        """Whether this fault applies to the next operation of *kind* at *offset*."""
        if kind != self.kind or (self.times is not None and self.hits >= self.times):
            return False
        return self.offset is None or self.offset == offset

    def apply(self, value: Any) -> Any:
        """The value the operation reports instead of *value*."""
        if isinstance(value, OSError):
            return value  # it failed for real: nothing to inject
        self.hits += 1
        if self.error is not None:
            return OSError(self.error, os.strerror(self.error))
        assert self.short is not None
        if isinstance(value, int):
            return min(value, self.short)
        return bytes(value)[: self.short]


class FaultyEngine:
    """A real kernel engine whose operations' outcomes are rewritten by *faults*.

    Everything but the results is the real engine's (its budget, its limits,
    cancellation): attribute access is forwarded.
    """

    def __init__(self, real: kernel.KernelEngine, faults: Sequence[Fault]) -> None:
        self._real = real
        self._faults = faults
        # id(op) -> (op, kind, offset); the op is kept so its id is not reused.
        self._ops: dict[int, tuple[Any, str, int | None]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _note(self, op: Any, kind: str, offset: int | None) -> Any:
        self._ops[id(op)] = (op, kind, offset)
        return op

    def op_read(self, fd: int, size: int, offset: int) -> Any:
        """A real read operation, remembered for the faults."""
        return self._note(self._real.op_read(fd, size, offset), "read", offset)

    def op_write(self, fd: int, data: bytes, offset: int) -> Any:
        """A real write operation, remembered for the faults."""
        return self._note(self._real.op_write(fd, data, offset), "write", offset)

    def op_fsync(self, fd: int) -> Any:
        """A real fsync operation, remembered for the faults."""
        return self._note(self._real.op_fsync(fd), "fsync", None)

    def op_fdatasync(self, fd: int) -> Any:
        """A real fdatasync operation, remembered for the faults."""
        return self._note(self._real.op_fdatasync(fd), "fdatasync", None)

    def _outcome(self, op: Any, value: Any) -> Any:
        _, kind, offset = self._ops.pop(id(op), (None, "", None))
        for fault in self._faults:
            if fault.matches(kind, offset):
                return fault.apply(value)
        return value

    async def run_one(self, op: Any, landed: list[Any] | None = None, miss: bool = False) -> Any:
        """The real engine's ``run_one``, then the faults."""
        return self._outcome(op, await self._real.run_one(op, landed, miss))

    async def run(
        self, ops: Sequence[Any], results: list[Any] | None = None, miss: bool = False
    ) -> list[Any]:
        """The real engine's ``run``, then the faults (in request order)."""
        values = await self._real.run(ops, results, miss)
        for index, op in enumerate(ops):
            values[index] = self._outcome(op, values[index])
        return values


def install_faults(monkeypatch: pytest.MonkeyPatch, *faults: Fault) -> list[FaultyEngine]:
    """From now on, every kernel engine a loop creates is a :class:`FaultyEngine`.

    Call it before the loop's first kernel-served open (an engine the loop
    already has is not replaced; that raises here rather than inject nothing).
    Returns the list the engines created are appended to.
    """
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None and kernel._engines.get(loop):
        raise AssertionError("install_faults() after this loop's first kernel-served open")
    real_make = kernel._make_engine
    made: list[FaultyEngine] = []

    def make(*args: Any, **kwargs: Any) -> Any:
        engine = FaultyEngine(real_make(*args, **kwargs), faults)
        made.append(engine)
        return engine

    monkeypatch.setattr(kernel, "_make_engine", make)
    return made


def fail_backend_start(
    monkeypatch: pytest.MonkeyPatch,
    failures: dict[str, BaseException],
    *,
    spares: bool = True,
) -> None:
    """Creating a caio context for a backend named in *failures* raises its exception.

    The other backends start for real.  ``spares=False`` also keeps the idle
    contexts the probes left (``_spares``) from being reused, so every engine
    starts a new context.
    """
    real = contexts._create_context

    def create(name: str, max_requests: int, sqpoll: bool = False) -> Any:
        if name in failures:
            raise failures[name]
        return real(name, max_requests, sqpoll)

    monkeypatch.setattr(contexts, "_create_context", create)
    if not spares:
        monkeypatch.setattr(contexts, "_take_spare", lambda key: None)
