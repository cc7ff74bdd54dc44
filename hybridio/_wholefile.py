"""Whole-file jobs in ONE thread call: read, write, hash or process a file.

Each helper opens the file, does the whole job and closes it inside a single
thread call (plain or through a (de)compressor, as the stdlib opens it); a
small page-cached file is even read without leaving the loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from typing import IO, Any, TypeVar, cast

from ._compression import Compression, check_level, check_mode, open_compressed, open_fileobj
from ._compression import resolve as resolve_compression
from ._engines import fairness
from ._engines.inline import InlineReader, unsupported_reason
from ._engines.threads import run_in_thread
from ._layers.base import bytes_view
from ._modes import parse_mode
from ._profile import resolve_profile

__all__ = (
    "hash_file",
    "process",
    "read_bytes",
    "read_text",
    "write_bytes",
    "write_text",
)

_R = TypeVar("_R")

#: Default chunk of the hash/process loops: large enough that the per-call
#: overhead of readinto and the hash update vanish, small enough for the L2.
CHUNK_SIZE = 1 << 20

PathArg = str | bytes | os.PathLike[str] | os.PathLike[bytes]


def _resolve_read(path: Any, compression: Compression | str | None) -> Compression:
    if compression is None:
        return Compression.NONE
    return resolve_compression(Compression.coerce(compression), path, parse_mode("rb"))


@contextlib.contextmanager
def _open_for(
    path: Any,
    mode: str,
    compression: Compression,
    level: int | None,
    opener: Callable[[str, int], int] | None = None,
) -> Iterator[IO[bytes]]:
    """A blocking binary file, plain or (de)compressing, as the stdlib opens it."""
    if compression is Compression.NONE:
        with open(path, mode, buffering=0, opener=opener) as raw:
            yield raw
        return
    fmode = parse_mode(mode)
    with open_fileobj(path, compression, fmode, closefd=True, opener=opener) as fileobj:
        eff = check_level(compression, fmode, level)
        with open_compressed(fileobj, compression, fmode, eff, path) as comp:
            yield comp


def _check_write_compression(
    path: Any, compression: Compression | str | None, level: int | None
) -> Compression:
    fmode = parse_mode("wb")
    comp = Compression.coerce(compression) if compression is not None else Compression.NONE
    if comp is Compression.AUTO:
        comp = resolve_compression(comp, path, fmode)
    if level is not None and comp is Compression.NONE:
        raise ValueError("compresslevel is only valid with compression")
    if comp is not Compression.NONE:
        check_mode(comp, fmode)
        check_level(comp, fmode, level)
    return comp


def _read_bytes(path: Any, compression: Compression | str | None) -> bytes:
    comp = _resolve_read(path, compression)
    with _open_for(path, "rb", comp, None) as f:
        # FileIO.readall sizes its one read from fstat: one syscall plus EOF.
        return f.read()


def _write_data(f: IO[bytes], data: memoryview) -> int:
    done = 0
    total = len(data)
    while done < total:
        n = f.write(data[done:])
        if n is None:  # pragma: no cover - only non-blocking raw files return None
            raise BlockingIOError(errno.EAGAIN, "write would block")
        if n <= 0:
            raise OSError(errno.EIO, f"write returned {n}")
        done += n
    return total


def _write_bytes(
    path: Any,
    data: Any,
    compression: Compression,
    level: int | None,
    atomic: bool,
    exclusive: bool,
) -> int:
    view = data  # a flat byte view, made by bytes_view() before the thread hop
    mode = "xb" if exclusive else "wb"
    if not atomic:
        with _open_for(path, mode, compression, level) as f:
            return _write_data(f, view)
    from ._atomic_target import AtomicTarget

    target = AtomicTarget(path, exclusive=exclusive, readable=False)
    try:
        with _open_for(path, mode, compression, level, opener=target.opener) as f:
            n = _write_data(f, view)
    except BaseException:
        target.discard()
        raise
    target.commit()
    return n


def _check_text(data: object) -> None:
    if not isinstance(data, str):
        raise TypeError(f"write() argument must be str, not {type(data).__name__}")


def _inline_max() -> int:
    """The largest file read inline (0: none), from the profile in force."""
    prof = resolve_profile()
    return prof.inline_max if prof.open_inline and unsupported_reason(None) is None else 0


def _inline_read(path: Any) -> bytes | None:
    """The whole of a small, page-cached local file, read in the loop thread
    (open + fstat + one ``preadv2(RWF_NOWAIT)`` + close: a few microseconds,
    against ~100 µs for a thread hop); None when that is not possible."""
    from ._selector import filesystem_type, remote_filesystem

    limit = _inline_max()
    if not limit:
        return None
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None  # the thread path reports it exactly as open() does
    if not stat.S_ISREG(st.st_mode) or not 0 < st.st_size <= limit:
        return None
    fs = filesystem_type(path, st)
    if fs is None or remote_filesystem(fs) or fs in ("proc", "sysfs"):
        return None  # an open or a read there may block on the network
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        size = st.st_size
        if not stat.S_ISREG(st.st_mode) or not 0 < size <= limit:
            return None
        try:
            # Not cached (or partly) -> None: the thread reads it.
            return InlineReader(fd, limit, known_reason=None).read(size, 0)
        except OSError:
            return None  # the thread path reports it exactly as open() does
    finally:
        os.close(fd)


async def read_bytes(path: PathArg, *, compression: Compression | str | None = None) -> bytes:
    """The whole content of *path* (at most one thread call).

    A small local file already in the page cache is read right in the loop
    thread, without a thread hop (``preadv2(RWF_NOWAIT)``, bounded by the
    profile's ``inline_max``); anything else is read in one thread call.
    ``compression="auto"`` (or a :class:`Compression`) decompresses: AUTO
    detects the format by its magic bytes, then by the suffix.
    """
    if compression is None and isinstance(path, (str, bytes, os.PathLike)):
        data = _inline_read(path)
        if data is not None:
            turns = fairness.for_loop(asyncio.get_running_loop())
            if turns.spent():
                await turns.give_turn()
            return data
    return await run_in_thread(_read_bytes, path, compression)


async def write_bytes(
    path: PathArg,
    data: Any,
    *,
    atomic: bool = False,
    exclusive: bool = False,
    compression: Compression | str | None = None,
    compresslevel: int | None = None,
) -> int:
    """Replace the content of *path* with *data*; return the bytes taken.

    ``atomic=True`` writes a temporary file next to *path*, fsyncs it and
    renames it over *path* (readers see the old or the new content, never a
    mix; see docs/bulk-and-durability.md).  ``exclusive=True`` fails with
    FileExistsError if *path* exists (``"x"`` mode).  ``compression``
    compresses (``"auto"``: by the suffix).
    """
    # Checked before the file is opened (and truncated): a str, a list or a
    # non-contiguous buffer raises with the target untouched.
    view = bytes_view(data)
    comp = _check_write_compression(path, compression, compresslevel)
    return await run_in_thread(_write_bytes, path, view, comp, compresslevel, atomic, exclusive)


def _text_codec(encoding: str | None) -> str:
    # What open() uses by default, without an EncodingWarning raised from here.
    return "locale" if encoding is None else encoding


def _read_text(
    path: Any,
    encoding: str,
    errors: str | None,
    newline: str | None,
    compression: Compression | str | None,
) -> str:
    import io

    comp = _resolve_read(path, compression)
    with _open_for(path, "rb", comp, None) as f:
        raw = f.read()
    # TextIOWrapper over the bytes: exactly open()'s decoding and newline rules.
    with io.TextIOWrapper(io.BytesIO(raw), encoding=encoding, errors=errors, newline=newline) as t:
        return t.read()


def _write_text(
    path: Any,
    data: str,
    encoding: str,
    errors: str | None,
    newline: str | None,
    compression: Compression,
    level: int | None,
    atomic: bool,
    exclusive: bool,
) -> int:
    import io

    buf = io.BytesIO()
    text = io.TextIOWrapper(buf, encoding=encoding, errors=errors, newline=newline)
    n = text.write(data)
    text.flush()
    _write_bytes(path, buf.getbuffer(), compression, level, atomic, exclusive)
    return n


async def read_text(
    path: PathArg,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    *,
    compression: Compression | str | None = None,
) -> str:
    """The whole text of *path*, decoded as ``open(path).read()`` would."""
    import codecs

    enc = _text_codec(encoding)
    if enc != "locale":
        codecs.lookup(enc)  # LookupError before any thread hop, as open() raises it
    return await run_in_thread(_read_text, path, enc, errors, newline, compression)


async def write_text(
    path: PathArg,
    data: str,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    *,
    atomic: bool = False,
    exclusive: bool = False,
    compression: Compression | str | None = None,
    compresslevel: int | None = None,
) -> int:
    """Replace the content of *path* with the text *data*; return its length.

    Encoding and newline translation are ``open(path, "w")``'s; ``atomic``,
    ``exclusive`` and ``compression`` are :func:`write_bytes`'.
    """
    import codecs

    _check_text(data)
    enc = _text_codec(encoding)
    if enc != "locale":
        codecs.lookup(enc)
    comp = _check_write_compression(path, compression, compresslevel)
    return await run_in_thread(
        _write_text, path, data, enc, errors, newline, comp, compresslevel, atomic, exclusive
    )


# --------------------------------------------------------------------------- hash, process


def _check_chunk(chunk_size: object) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f"chunk_size must be int, not {type(chunk_size).__name__}")
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    return chunk_size


def _hash_file(path: Any, algorithm: str, chunk_size: int, compression: Any) -> str:
    digest = hashlib.new(algorithm)
    comp = _resolve_read(path, compression)
    with _open_for(path, "rb", comp, None) as f:
        if comp is Compression.NONE and hasattr(os, "posix_fadvise"):
            with contextlib.suppress(OSError):
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        buf = bytearray(chunk_size)
        view = memoryview(buf)
        readinto = cast(Any, f).readinto
        while n := readinto(buf):
            digest.update(view[:n])
    if digest.name.startswith("shake_"):
        return cast(Any, digest).hexdigest(32)  # type: ignore[no-any-return]
    return digest.hexdigest()


async def hash_file(
    path: PathArg,
    algorithm: str = "blake2b",
    *,
    chunk_size: int = CHUNK_SIZE,
    compression: Compression | str | None = None,
) -> str:
    """The hex digest of *path*'s content with a ``hashlib`` algorithm (one thread call).

    An unknown algorithm raises ValueError before any I/O (``hashlib.new``'s).
    """
    hashlib.new(algorithm)
    size = _check_chunk(chunk_size)
    return await run_in_thread(_hash_file, path, algorithm, size, compression)


def _chunks(f: IO[bytes], size: int) -> Iterator[bytes]:
    while data := f.read(size):
        yield data


def _process(
    path: Any, fn: Callable[[Iterator[bytes]], _R], chunk_size: int, compression: Any
) -> _R:
    comp = _resolve_read(path, compression)
    with _open_for(path, "rb", comp, None) as f:
        return fn(_chunks(f, chunk_size))


async def process(
    path: PathArg,
    fn: Callable[[Iterator[bytes]], _R],
    chunk_size: int = CHUNK_SIZE,
    *,
    compression: Compression | str | None = None,
) -> _R:
    """Run the blocking ``fn(chunks)`` in ONE thread call and return its result.

    *chunks* iterates over *path*'s content in pieces of *chunk_size* bytes
    (the last one shorter); with ``compression`` the pieces are decompressed.
    Example: ``await process(p, lambda chunks: sum(c.count(b"\\n") for c in chunks))``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, not {type(fn).__name__}")
    size = _check_chunk(chunk_size)
    return await run_in_thread(_process, path, fn, size, compression)
