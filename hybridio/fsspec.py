"""An fsspec filesystem for local paths, on hybridio (``pip install hybridio[fsspec]``).

``hybridio.fsspec.FileSystem`` is an :class:`fsspec.asyn.AsyncFileSystem`
registered under the protocol ``"hybridio"`` (``fsspec.filesystem("hybridio")``,
``fsspec.open("hybridio:///data/x.bin")``):

- ``cat_ranges`` reads every range of one file with ONE ``read_many`` (inline
  from the page cache, else one kernel submission), results in request order;
- ``cat_file`` of a small cached file is read in the loop thread;
- ``pipe_file`` is an atomic write (temporary file, fsync, rename);
- ``put_file``/``get_file``/``cp_file`` copy in the kernel in one thread call;
- ``open`` returns a regular (blocking) binary file, as fsspec's local
  filesystem does; ``open_async`` returns a hybridio async file.

With ``root=`` every path is inside that directory (``"/"`` and ``""`` name
the root itself): a ``..`` segment or a NUL byte raises ValueError, a path that
goes through a symlink leading outside the root raises PermissionError, as in
:class:`hybridio.zarr.Store`.  Without a root, paths are the machine's paths.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Iterable
from typing import IO, Any

import fsspec
from fsspec.asyn import AsyncFileSystem

import hybridio

from ._chunkstore import Root, run_all

__all__ = ("FileSystem",)

PROTOCOL = "hybridio"


def _info_of(path: str, name: str) -> dict[str, Any]:
    """fsspec's info dict for *path* (lstat, then stat through a symlink)."""
    st = os.lstat(path)
    link = stat.S_ISLNK(st.st_mode)
    if link:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            pass  # a dangling link is reported as the link
    if stat.S_ISDIR(st.st_mode):
        kind = "directory"
    elif stat.S_ISREG(st.st_mode):
        kind = "file"
    else:
        kind = "other"
    return {
        "name": name,
        "size": st.st_size,
        "type": kind,
        "created": st.st_ctime,
        "mtime": st.st_mtime,
        "islink": link,
        "mode": st.st_mode,
        "uid": st.st_uid,
        "gid": st.st_gid,
        "ino": st.st_ino,
        "nlink": st.st_nlink,
    }


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        os.rmdir(path)
    else:
        os.unlink(path)


def _rmtree(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


_info_in_thread = hybridio.threaded(_info_of)
_remove_in_thread = hybridio.threaded(_remove)
_rmtree_in_thread = hybridio.threaded(_rmtree)


def _listing(path: str) -> list[tuple[str, dict[str, Any] | None]]:
    """(entry path, info or None if it vanished) of a directory, in one thread hop."""
    out: list[tuple[str, dict[str, Any] | None]] = []
    with os.scandir(path) as it:
        for entry in it:
            try:
                info = _info_of(entry.path, "")
            except FileNotFoundError:
                info = None
            out.append((entry.path, info))
    return out


_listing_in_thread = hybridio.threaded(_listing)


class FileSystem(AsyncFileSystem):
    """fsspec's async filesystem interface over local files, served by hybridio.

    ``root``: keep every path inside this directory (see the module docs).
    ``auto_mkdir``: writes create missing parent directories (default True).
    Other keyword arguments go to :class:`fsspec.asyn.AsyncFileSystem`
    (``asynchronous=True`` inside a running event loop, ``loop=``, ...).
    """

    protocol = (PROTOCOL,)
    root_marker = "/"

    def __init__(
        self, root: str | os.PathLike[str] | None = None, *, auto_mkdir: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.root = None if root is None else os.path.abspath(os.fspath(root))
        self._root = (
            None if self.root is None else Root(self.root, "path", "the root", relative=False)
        )
        self.real_root = None if self._root is None else self._root.real
        self.auto_mkdir = auto_mkdir

    # ------------------------------------------------------------------ paths

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = fsspec.utils.stringify_path(path)
        if path.startswith(f"{PROTOCOL}://"):
            path = path[len(PROTOCOL) + 3 :]
        elif path.startswith(f"{PROTOCOL}:"):
            path = path[len(PROTOCOL) + 1 :]
        if path.startswith("file://"):
            path = path[7:]
        stripped = path.rstrip("/")
        return stripped or cls.root_marker if path.startswith("/") else stripped

    def unstrip_protocol(self, name: str) -> str:
        """*name* as a URL of this filesystem."""
        return f"{PROTOCOL}://{self._strip_protocol(name)}"

    def _real(self, path: Any) -> str:
        """The machine path of *path*; under a root, refused if it would leave it."""
        p: str = self._strip_protocol(path)
        if self._root is not None:
            return self._root.resolve(p)
        if "\0" in p:
            raise ValueError(f"invalid path {p!r}: embedded null byte")
        return os.path.abspath(p)

    def _name(self, real: str) -> str:
        """What this filesystem calls the machine path *real*."""
        if self.root is None:
            return real
        rel = os.path.relpath(real, self.root).replace(os.sep, "/")
        return "" if rel == "." else rel

    async def _parent_dirs(self, real: str) -> None:
        if self.auto_mkdir:
            await hybridio.os.makedirs(os.path.dirname(real), exist_ok=True)

    # ------------------------------------------------------------------ metadata

    async def _info(self, path: Any, **kwargs: Any) -> dict[str, Any]:
        real = self._real(path)
        return await _info_in_thread(real, self._name(real))

    async def _ls(self, path: Any, detail: bool = True, **kwargs: Any) -> list[Any]:
        real = self._real(path)
        try:
            entries = await _listing_in_thread(real)
        except NotADirectoryError:
            one = await _info_in_thread(real, self._name(real))
            return [one] if detail else [one["name"]]
        out: list[Any] = []
        for entry, info in entries:
            if info is None:
                continue
            info["name"] = self._name(entry)
            out.append(info if detail else info["name"])
        return out

    async def _exists(self, path: Any, **kwargs: Any) -> bool:
        try:
            return await hybridio.os.path.lexists(self._real(path))
        except (ValueError, PermissionError):
            raise
        except OSError:
            return False

    async def _mkdir(self, path: Any, create_parents: bool = True, **kwargs: Any) -> None:
        real = self._real(path)
        if create_parents:
            await hybridio.os.makedirs(real, exist_ok=True)
        else:
            await hybridio.os.mkdir(real)

    async def _makedirs(self, path: Any, exist_ok: bool = False) -> None:
        await hybridio.os.makedirs(self._real(path), exist_ok=exist_ok)

    async def _rm_file(self, path: Any, **kwargs: Any) -> None:
        await _remove_in_thread(self._real(path))

    async def _rm(
        self,
        path: Any,
        recursive: bool = False,
        batch_size: int | None = None,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        if recursive and maxdepth is None:
            # A whole tree in one thread call, not one hop per entry.
            paths = await self._expand_path(path, recursive=False)
            for p in paths:
                await _rmtree_in_thread(self._real(p))
            return
        await super()._rm(path, recursive=recursive, batch_size=batch_size, maxdepth=maxdepth)

    # ------------------------------------------------------------------ reads

    async def _cat_file(
        self, path: Any, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        real = self._real(path)
        if start is None and end is None:
            return await hybridio.read_bytes(real)
        async with hybridio.async_open(real, "rb", access="random") as f:
            size = os.fstat(f.fileno()).st_size
            offset, length = _span(start, end, size)
            return await f.read_at(offset, length) if length else b""

    async def _cat_ranges(
        self,
        paths: list[Any],
        starts: Any,
        ends: Any,
        max_gap: int | None = None,
        batch_size: int | None = None,
        on_error: str = "return",
        **kwargs: Any,
    ) -> list[Any]:
        """Byte ranges of one or more files, ONE ``read_many`` per file, in order."""
        if not isinstance(paths, list):
            raise TypeError("paths must be a list")
        if not isinstance(starts, Iterable):
            starts = [starts] * len(paths)
        if not isinstance(ends, Iterable):
            ends = [ends] * len(paths)
        starts, ends = list(starts), list(ends)
        if len(starts) != len(paths) or len(ends) != len(paths):
            raise ValueError("paths, starts and ends must have the same length")
        by_path: dict[str, list[int]] = {}
        for i, p in enumerate(paths):
            by_path.setdefault(self._real(p), []).append(i)
        out: list[Any] = [None] * len(paths)

        async def one(real: str, indexes: list[int]) -> None:
            try:
                async with hybridio.async_open(real, "rb", access="random") as f:
                    size = os.fstat(f.fileno()).st_size
                    spans = [_span(starts[i], ends[i], size) for i in indexes]
                    wanted = [s for s in spans if s[1] > 0]
                    data = await f.read_many(wanted, return_exceptions=True) if wanted else []
            except Exception as exc:
                for i in indexes:
                    out[i] = exc
                return
            it = iter(data)
            for i, (_, n) in zip(indexes, spans, strict=True):
                out[i] = next(it) if n > 0 else b""

        await run_all([one(real, ix) for real, ix in by_path.items()])
        if on_error != "return":
            for value in out:
                if isinstance(value, BaseException):
                    raise value
        return out

    # ------------------------------------------------------------------ writes

    async def _pipe_file(
        self, path: Any, value: Any, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        real = self._real(path)
        await self._parent_dirs(real)
        await hybridio.write_bytes(real, value, atomic=True, exclusive=mode == "create")

    async def _put_file(
        self, lpath: Any, rpath: Any, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        real = self._real(rpath)
        local = os.fspath(lpath)
        if await hybridio.os.path.isdir(local):
            await hybridio.os.makedirs(real, exist_ok=True)
            return
        if mode == "create" and await hybridio.os.path.lexists(real):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), real)
        await self._parent_dirs(real)
        await hybridio.copy(local, real)

    async def _get_file(self, rpath: Any, lpath: Any, **kwargs: Any) -> None:
        real = self._real(rpath)
        if await hybridio.os.path.isdir(real):
            if isinstance(lpath, (str, os.PathLike)):
                await hybridio.os.makedirs(lpath, exist_ok=True)
            return
        if not isinstance(lpath, (str, os.PathLike)):  # a file object
            lpath.write(await hybridio.read_bytes(real))
            return
        local = os.fspath(lpath)
        parent = os.path.dirname(local)
        if parent:
            await hybridio.os.makedirs(parent, exist_ok=True)
        await hybridio.copy(real, local)

    async def _cp_file(self, path1: Any, path2: Any, **kwargs: Any) -> None:
        src, dst = self._real(path1), self._real(path2)
        if await hybridio.os.path.isdir(src):
            await hybridio.os.makedirs(dst, exist_ok=True)
            return
        await self._parent_dirs(dst)
        await hybridio.copy(src, dst)

    # ------------------------------------------------------------------ files

    def _open(
        self,
        path: Any,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> IO[bytes]:
        """A regular binary file (fsspec's ``open`` wraps text modes itself)."""
        real = self._real(path)
        if self.auto_mkdir and any(c in mode for c in "wax"):
            os.makedirs(os.path.dirname(real), exist_ok=True)
        return open(real, mode)

    async def open_async(self, path: Any, mode: str = "rb", **kwargs: Any) -> Any:
        """A hybridio async file (``await f.read()``, ``read_many``, ...)."""
        real = self._real(path)
        if self.auto_mkdir and any(c in mode for c in "wax"):
            await hybridio.os.makedirs(os.path.dirname(real), exist_ok=True)
        return await hybridio.async_open(real, mode, **kwargs)


def _span(start: int | None, end: int | None, size: int) -> tuple[int, int]:
    """``(offset, length)`` of fsspec's ``start``/``end`` (negative: from the end)."""
    lo = 0 if start is None else (max(0, size + start) if start < 0 else start)
    hi = size if end is None else (max(0, size + end) if end < 0 else min(end, size))
    return lo, max(0, hi - lo)


fsspec.register_implementation(PROTOCOL, FileSystem, clobber=True)
