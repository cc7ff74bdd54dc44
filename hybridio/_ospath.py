"""``os.path`` queries that touch the file system, as coroutines (one thread hop each).

Results and exceptions are those of the ``os.path`` function of the same name.
Imported as ``hybridio.os.path``.
"""

from __future__ import annotations

import os.path as _path
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from ._engines.threads import in_thread

__all__ = (
    "abspath",
    "exists",
    "getatime",
    "getctime",
    "getmtime",
    "getsize",
    "isdir",
    "isfile",
    "islink",
    "ismount",
    "lexists",
    "realpath",
    "samefile",
    "sameopenfile",
)

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _in_thread(fn: Callable[_P, _T]) -> Callable[_P, Coroutine[Any, Any, _T]]:
    return in_thread(fn, doc=f"``os.path.{fn.__name__}`` in a worker thread (one hop).")


exists = _in_thread(_path.exists)
lexists = _in_thread(_path.lexists)
isfile = _in_thread(_path.isfile)
isdir = _in_thread(_path.isdir)
islink = _in_thread(_path.islink)
ismount = _in_thread(_path.ismount)
getsize = _in_thread(_path.getsize)
getmtime = _in_thread(_path.getmtime)
getatime = _in_thread(_path.getatime)
getctime = _in_thread(_path.getctime)
samefile = _in_thread(_path.samefile)
sameopenfile = _in_thread(_path.sameopenfile)
# abspath and realpath read the working directory / resolve links: blocking.
abspath = _in_thread(_path.abspath)
realpath = _in_thread(_path.realpath)
