"""What ``hybridio.zarr.Store`` and ``hybridio.fsspec.FileSystem`` share.

- :class:`Root`: names (zarr keys, fsspec paths) that must stay inside a
  root directory.  A name is refused by its spelling first (ValueError: a
  NUL byte, a ``..`` segment, for a key a leading ``/``), then by where the
  filesystem leads it (PermissionError: a symlink that resolves outside).
- :func:`run_all`: the reads of several files at once, one coroutine each.

No zarr or fsspec import here: each extra is installed on its own.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import sys
from collections.abc import Coroutine
from typing import Any

__all__ = ("Root", "run_all")

# The symlink checks a Root remembers at most (then it starts afresh).
_MAX_CHECKED = 4096


class Root:
    """The directory *path* that every name of a store stays inside.

    *what* is what the store calls a name (``"key"``, ``"path"``) and *where*
    what it calls the root (``"the store root"``) in its error messages;
    ``relative=True`` refuses a name with a leading ``/`` (a zarr key) where
    otherwise it is the root itself (an fsspec path).
    """

    __slots__ = ("checked", "path", "real", "relative", "what", "where")

    def __init__(self, path: str, what: str, where: str, *, relative: bool) -> None:
        self.path = path
        self.real = os.path.realpath(path)
        self.what = what
        self.where = where
        self.relative = relative
        # Directories below the root already found not to be symlinks.
        self.checked: set[str] = set()

    def check(self, name: str) -> str:
        """*name* without its outer slashes; ValueError if its spelling leaves the root."""
        what = self.what
        if not isinstance(name, str):
            raise TypeError(f"{what} must be str, not {type(name).__name__}")
        if "\0" in name:
            raise ValueError(f"invalid {what} {name!r}: embedded null byte")
        if self.relative and name.startswith("/"):
            raise ValueError(f"invalid {what} {name!r}: {what}s are relative to {self.where}")
        rel = name.strip("/")
        if ".." in rel.split("/"):
            raise ValueError(f"invalid {what} {name!r}: '..' segments are not allowed")
        return rel

    def outside(self, name: str, path: str) -> PermissionError:
        """The error for *name* (at *path*), which the filesystem leads outside."""
        return PermissionError(
            errno.EACCES, f"{self.what} {name!r} leads outside {self.where}", path
        )

    def contains(self, path: str) -> bool:
        """Whether *path*, every symlink resolved, is the root or below it."""
        real = os.path.realpath(path)
        root = self.real
        return real == root or real.startswith(root.rstrip("/") + "/")

    def resolve(self, name: str) -> str:
        """The path of *name*, resolved in full (one ``realpath`` per call)."""
        rel = self.check(name)
        path = os.path.join(self.path, rel) if rel else self.path
        if not self.contains(path):
            raise self.outside(name, path)
        return path

    def key_path(self, key: str) -> str:
        """The path of *key*, its directories checked once (see ``hybridio.zarr``).

        Cheaper than :meth:`resolve` for many keys in few directories: a
        directory found not to be a symlink is remembered until :meth:`forget`.
        """
        key = self.check(key)
        if not key:
            return self.path
        path = f"{self.path}/{key}"
        head = key.rpartition("/")[0]
        if head and not self._dir_inside(head):
            raise self.outside(key, path)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return path
        if stat.S_ISLNK(st.st_mode) and not self.contains(path):
            raise self.outside(key, path)
        return path

    def forget(self) -> None:
        """Check every directory afresh (after a delete)."""
        self.checked.clear()

    def _dir_inside(self, head: str) -> bool:
        """Whether the directory *head* (relative) stays inside the root.

        Walks down from the root with one ``lstat`` per directory not yet
        checked: a missing directory ends the walk (what the store creates
        below it is a real directory), a symlink is resolved in full.
        """
        path = self.path
        checked = self.checked
        for part in head.split("/"):
            if not part or part == ".":
                continue
            path = f"{path}/{part}"
            if path in checked:
                continue
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                return True
            if stat.S_ISLNK(st.st_mode):
                return self.contains(f"{self.path}/{head}")
            if not stat.S_ISDIR(st.st_mode):
                return True  # opening below a file fails with NotADirectoryError
            if len(checked) >= _MAX_CHECKED:
                checked.clear()
            checked.add(path)
        return True


async def run_all(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run *coros* concurrently; one that never suspends (a page-cached read)
    finishes on the spot, without the loop turn a scheduled task costs."""
    if len(coros) == 1:
        await coros[0]
        return
    if sys.version_info >= (3, 12):  # eager tasks are 3.12+; mypy checks as 3.10
        loop = asyncio.get_running_loop()
        tasks = [asyncio.eager_task_factory(loop, c) for c in coros]
        if all(t.done() for t in tasks):
            for t in tasks:
                t.result()
            return
        await asyncio.gather(*tasks)
        return
    await asyncio.gather(*coros)
