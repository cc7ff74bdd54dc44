"""``os`` functions as coroutines, each one thread hop on the library's pool.

Arguments, results and exceptions are exactly those of the ``os`` function of
the same name (the function itself runs in the worker thread).  Directory
listings stream: :func:`scandir` reads entries in batches, :func:`walk` reads
each directory in one hop, never one hop per entry.
"""

from __future__ import annotations

import functools
import os as _os
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, AnyStr, overload

from ._batched import DEFAULT_BATCH, BatchedIterator
from ._engines.threads import run_in_thread
from ._hops import hop

if TYPE_CHECKING:
    from _typeshed import BytesPath, GenericPath, StrPath

from . import _ospath as path

__all__ = (
    "access",
    "getcwd",
    "link",
    "listdir",
    "lstat",
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
    "walk",
)

stat = hop("os", _os.stat)
lstat = hop("os", _os.lstat)
rename = hop("os", _os.rename)
renames = hop("os", _os.renames)
replace = hop("os", _os.replace)
remove = hop("os", _os.remove)
unlink = hop("os", _os.unlink)
mkdir = hop("os", _os.mkdir)
makedirs = hop("os", _os.makedirs)
rmdir = hop("os", _os.rmdir)
removedirs = hop("os", _os.removedirs)
link = hop("os", _os.link)
symlink = hop("os", _os.symlink)
access = hop("os", _os.access)
statvfs = hop("os", _os.statvfs)
sendfile = hop("os", _os.sendfile)
getcwd = hop("os", _os.getcwd)


@overload
async def listdir(path: StrPath | None = None) -> list[str]: ...
@overload
async def listdir(path: BytesPath) -> list[bytes]: ...
@overload
async def listdir(path: int) -> list[str]: ...
async def listdir(path: Any = None) -> list[Any]:
    """``os.listdir`` in a worker thread (one hop for the whole directory)."""
    return await run_in_thread(_os.listdir, path)


async def readlink(path: GenericPath[AnyStr], *, dir_fd: int | None = None) -> AnyStr:
    """``os.readlink`` in a worker thread (one hop)."""
    return await run_in_thread(functools.partial(_os.readlink, path, dir_fd=dir_fd))


@overload
def scandir(path: None = None, *, batch: int = ...) -> BatchedIterator[_os.DirEntry[str]]: ...
@overload
def scandir(path: int, *, batch: int = ...) -> BatchedIterator[_os.DirEntry[str]]: ...
@overload
def scandir(
    path: GenericPath[AnyStr], *, batch: int = ...
) -> BatchedIterator[_os.DirEntry[AnyStr]]: ...
def scandir(path: Any = None, *, batch: int = DEFAULT_BATCH) -> BatchedIterator[Any]:
    """``os.scandir`` as an async iterator: ``async with scandir(p) as it: async for e in it``.

    Entries are ``os.DirEntry`` objects read ``batch`` at a time in one thread
    hop.  ``async with`` raises on a missing directory at entry (as ``with
    os.scandir(p)`` does) and closes the directory at exit; plain ``async
    for`` raises at the first step and closes when exhausted.
    """
    if isinstance(batch, bool) or not isinstance(batch, int):
        raise TypeError(f"batch must be int, not {type(batch).__name__}")
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if path is None:
        return BatchedIterator(_os.scandir, batch)
    return BatchedIterator(functools.partial(_os.scandir, path), batch)


def _list_one(
    top: Any, followlinks: bool, topdown: bool, skip_links: bool, pathlib_style: bool
) -> tuple[list[Any], list[Any], list[Any]] | OSError | None:
    """One directory of ``os.walk``, read in the worker thread.

    Returns (dirs, nondirs, dirs to descend into when bottom-up), the
    exception ``os.walk`` would hand to ``onerror``, or None when *top* is a
    symlink ``os.walk`` would not follow (checked here, saving a hop).
    """
    if skip_links and _os.path.islink(top):
        return None
    dirs: list[Any] = []
    nondirs: list[Any] = []
    walk_dirs: list[Any] = []
    try:
        scandir_it = _os.scandir(top)
    except OSError as error:
        return error
    with scandir_it:
        while True:
            try:
                try:
                    entry = next(scandir_it)
                except StopIteration:
                    break
            except OSError as error:
                return error
            try:
                # pathlib's walk lists an unfollowed link to a directory
                # among the files; os.walk among the directories.
                is_dir = entry.is_dir(follow_symlinks=followlinks or not pathlib_style)
            except OSError:
                is_dir = False
            if is_dir:
                dirs.append(entry.name)
            else:
                nondirs.append(entry.name)
            if not topdown and is_dir:
                if followlinks:
                    walk_into = True
                else:
                    try:
                        is_symlink = entry.is_symlink()
                    except OSError:
                        is_symlink = False
                    walk_into = not is_symlink
                if walk_into:
                    walk_dirs.append(entry.path)
    return dirs, nondirs, walk_dirs


async def walk(
    top: GenericPath[AnyStr],
    topdown: bool = True,
    onerror: Callable[[OSError], object] | None = None,
    followlinks: bool = False,
) -> AsyncIterator[tuple[AnyStr, list[AnyStr], list[AnyStr]]]:
    """``os.walk`` as an async iterator; one thread hop per directory.

    Same triples in the same order as ``os.walk``; with ``topdown=True``
    editing the yielded ``dirnames`` in place prunes the walk, as there.
    """
    async for triple in _walk(top, topdown, onerror, followlinks, pathlib_style=False):
        yield triple


async def _walk(
    top: GenericPath[AnyStr],
    topdown: bool,
    onerror: Callable[[OSError], object] | None,
    followlinks: bool,
    *,
    pathlib_style: bool,
) -> AsyncIterator[tuple[AnyStr, list[AnyStr], list[AnyStr]]]:
    # An explicit stack, as os.walk has since 3.12: deep trees don't recurse.
    stack: list[Any] = [(_os.fspath(top), False)]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple) and len(item) == 3 and item[0] is _YIELD:
            yield item[1]
            continue
        where, skip_links = item
        listed = await run_in_thread(
            _list_one, where, followlinks, topdown, skip_links, pathlib_style
        )
        if listed is None:
            continue
        if isinstance(listed, OSError):
            if onerror is not None:
                onerror(listed)
            continue
        dirs, nondirs, walk_dirs = listed
        if topdown:
            yield where, dirs, nondirs
            # Children are pushed in reverse so they pop in listing order.
            for dirname in reversed(dirs):
                stack.append((_os.path.join(where, dirname), not followlinks and not pathlib_style))
        else:
            stack.append((_YIELD, (where, dirs, nondirs), None))
            for new_path in reversed(walk_dirs):
                stack.append((new_path, False))


_YIELD = object()
