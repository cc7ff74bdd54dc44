"""``aiofiles.os``: ``os`` functions as coroutines (``loop=``/``executor=`` accepted).

``scandir`` differs from aiofiles in one way users only gain from: the
directory is read in the thread hop (aiofiles hands back ``os.scandir``'s
iterator, whose every ``next()`` then blocks the event loop).  What it
returns iterates and works in ``with`` the same way.
"""

from __future__ import annotations

import os as _os
import types
from collections.abc import Iterator
from typing import Any

from . import ospath as path
from ._files import in_thread as wrap

__all__ = (
    "access",
    "getcwd",
    "link",
    "listdir",
    "makedirs",
    "mkdir",
    "path",
    "readlink",
    "remove",
    "removedirs",
    "rename",
    "renames",
    "replace",
    "rmdir",
    "scandir",
    "sendfile",
    "stat",
    "statvfs",
    "symlink",
    "unlink",
    "wrap",
)

access = wrap(_os.access)
getcwd = wrap(_os.getcwd)
listdir = wrap(_os.listdir)
makedirs = wrap(_os.makedirs)
mkdir = wrap(_os.mkdir)
readlink = wrap(_os.readlink)
remove = wrap(_os.remove)
removedirs = wrap(_os.removedirs)
rename = wrap(_os.rename)
renames = wrap(_os.renames)
replace = wrap(_os.replace)
rmdir = wrap(_os.rmdir)
stat = wrap(_os.stat)
symlink = wrap(_os.symlink)
unlink = wrap(_os.unlink)
link = wrap(_os.link)
sendfile = wrap(_os.sendfile)
statvfs = wrap(_os.statvfs)


class ScandirResult:
    """The entries of one directory, read in one hop; iterates like ``os.scandir``."""

    def __init__(self, entries: list[_os.DirEntry[Any]]) -> None:
        self._entries: Iterator[_os.DirEntry[Any]] = iter(entries)

    def __iter__(self) -> ScandirResult:
        return self

    def __next__(self) -> _os.DirEntry[Any]:
        return next(self._entries)

    def close(self) -> None:
        """Drop the remaining entries."""
        self._entries = iter(())

    def __enter__(self) -> ScandirResult:  # noqa: PYI034 - final class
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()


def _scandir_all(path: Any = None) -> ScandirResult:
    """``await scandir(path)``: the directory's entries, read in one thread hop.

    Use it as aiofiles' ``scandir``: ``with await scandir(d) as it: for entry in it``.
    """
    with _os.scandir(path) if path is not None else _os.scandir() as it:
        return ScandirResult(list(it))


scandir = wrap(_scandir_all)
