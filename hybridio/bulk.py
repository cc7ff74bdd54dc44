"""The bulk path: whole jobs done in ONE thread call.

A thread hop costs ~100 µs; a loop that awaits a read per chunk pays it per
chunk.  Hashing, copying or slurping a file is faster as one blocking function
run in the library's thread pool: :func:`threaded` turns any such function
into a coroutine function, and the helpers below are ready-made ones.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from .engines.threads import run_in_thread

__all__ = (
    "copy",
    "hash_file",
    "read_bytes",
    "read_text",
    "threaded",
    "write_bytes",
    "write_text",
)

_P = ParamSpec("_P")
_R = TypeVar("_R")

_CHUNK = 1 << 20


def threaded(fn: Callable[_P, _R]) -> Callable[_P, Coroutine[Any, Any, _R]]:
    """Decorate a blocking function so that calling it returns a coroutine
    which runs the function in the library thread pool (one thread hop).

    If the awaiting task is cancelled while the function runs, the function
    still runs to the end (threads cannot be interrupted) and the
    cancellation is raised afterwards.
    """

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return await run_in_thread(functools.partial(fn, *args, **kwargs))

    return wrapper


def _read_bytes(path: Any) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _write_bytes(path: Any, data: Any) -> int:
    with open(path, "wb") as f:
        return f.write(data)


def _read_text(path: Any, encoding: str | None, errors: str | None) -> str:
    with open(path, encoding=encoding, errors=errors) as f:
        return f.read()


def _write_text(
    path: Any, data: str, encoding: str | None, errors: str | None, newline: str | None
) -> int:
    with open(path, "w", encoding=encoding, errors=errors, newline=newline) as f:
        return f.write(data)


def _hash_file(path: Any, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        while n := f.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()


async def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The whole content of *path* (one thread call)."""
    return await run_in_thread(_read_bytes, path)


async def write_bytes(path: str | os.PathLike[str], data: Any) -> int:
    """Replace the content of *path* with *data*; return the bytes written."""
    return await run_in_thread(_write_bytes, path, data)


async def read_text(
    path: str | os.PathLike[str], encoding: str | None = None, errors: str | None = None
) -> str:
    """The whole text of *path*, decoded as ``open(path).read()`` would."""
    if encoding is None:
        encoding = "locale"  # what open() uses, without an EncodingWarning from here
    return await run_in_thread(_read_text, path, encoding, errors)


async def write_text(
    path: str | os.PathLike[str],
    data: str,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
) -> int:
    """Replace the content of *path* with the text *data*; return its length."""
    if encoding is None:
        encoding = "locale"
    return await run_in_thread(_write_text, path, data, encoding, errors, newline)


async def copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Copy the content of *src* to *dst* (``shutil.copyfile``: in-kernel where
    the platform allows, one thread call)."""
    await run_in_thread(shutil.copyfile, src, dst)


async def hash_file(path: str | os.PathLike[str], algorithm: str = "blake2b") -> str:
    """The hex digest of *path*'s content with a ``hashlib`` algorithm."""
    hashlib.new(algorithm)  # unknown algorithm: ValueError before any thread hop
    return await run_in_thread(_hash_file, path, algorithm)
