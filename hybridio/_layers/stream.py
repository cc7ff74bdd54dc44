"""Thread-served files: :func:`open_stream` and the classes it builds.

Pipes, FIFOs, character devices, ``/proc`` files and compressed streams are
served by a worker thread, in three kinds, one class each:

* :class:`StreamFile` (:mod:`.streamfile`) -- a plain file with buffers, as
  ``BufferedRandom``; the async facade over the blocking state machine
  :class:`~.streamcore.StreamCore`;
* :class:`CompressedStreamFile` (:mod:`.compressed`) -- gzip, bz2, lzma, zstd,
  with the format objects' rules;
* :class:`UnbufferedStreamFile` (:mod:`.unbuffered`) -- ``buffering=0``, as
  ``FileIO``.

The blocking file objects come from :func:`hybridio._compression.open_blocking`.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

from .._compression import Compression, check_level, check_mode, open_blocking
from .._engines.threads import run_in_thread
from .._modes import FileMode
from .._profile import BUILTIN
from .compressed import CompressedStreamFile
from .streamfile import StreamFile
from .unbuffered import UnbufferedStreamFile

__all__ = ("CompressedStreamFile", "StreamFile", "UnbufferedStreamFile", "open_stream")


def _open_sync(
    file: Any,
    fmode: FileMode,
    buffering: int,
    closefd: bool,
    opener: Callable[[str, int], int] | None,
    compression: Compression,
    level: object,
    executor: concurrent.futures.Executor | None,
) -> StreamFile:
    opened = open_blocking(file, compression, fmode, level, closefd=closefd, opener=opener)
    kind: type[StreamFile]
    if compression is not Compression.NONE:
        kind = CompressedStreamFile
    else:
        kind = UnbufferedStreamFile if buffering == 0 else StreamFile
    try:
        return kind(
            opened.file,
            fileobj=opened.fileobj,
            name=opened.name,
            mode=opened.mode,
            compression=compression,
            buffer_size=buffering if buffering > 1 else BUILTIN.stream_chunk,
            appending=fmode.appending,
            executor=executor,
        )
    except BaseException:
        opened.close()
        raise


def _discard(f: StreamFile) -> None:
    # Close an object whose opener was cancelled (nothing was written yet).
    f._closed = True
    f._close_sync()


async def open_stream(
    file: Any,
    fmode: FileMode,
    *,
    buffering: int = -1,
    closefd: bool = True,
    opener: Callable[[str, int], int] | None = None,
    compression: Compression | str | None = Compression.NONE,
    compresslevel: object = None,
    executor: concurrent.futures.Executor | None = None,
) -> StreamFile:
    """Open *file* in a worker thread and return a :class:`StreamFile`.

    The open itself runs in a thread, so opening a FIFO with no peer yet does
    not block the event loop.  Mode and level errors are raised before any fd
    exists; if building the file fails after the open, the fd is released.
    ``compression`` must be concrete here: the caller resolves AUTO first
    (:func:`hybridio._compression.resolve`, in a thread).
    """
    comp = Compression.coerce(compression)
    if comp is Compression.AUTO:
        raise ValueError("open_stream needs a concrete compression; resolve AUTO first")
    check_mode(comp, fmode)
    level = check_level(comp, fmode, compresslevel) if comp is not Compression.NONE else None
    return await run_in_thread(
        _open_sync,
        file,
        fmode,
        buffering,
        closefd,
        opener,
        comp,
        level,
        executor,
        executor=executor,
        cleanup=_discard,
    )
