"""The ``os`` and ``os.path`` functions of :mod:`hybridio.os` as coroutines: one thread hop each."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from ._engines.threads import in_thread

_P = ParamSpec("_P")
_T = TypeVar("_T")


def hop(where: str, fn: Callable[_P, _T]) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """*fn*, a function of the module *where*, as a coroutine function (one hop per call)."""
    return in_thread(fn, doc=f"``{where}.{fn.__name__}`` in a worker thread (one hop).")
