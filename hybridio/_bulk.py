"""The bulk path: whole jobs done in ONE thread call.

A thread hop costs ~100 µs; a loop that awaits a read per chunk pays it per
chunk.  Hashing, copying or slurping a file is faster as one blocking function
run in the library's thread pool: :func:`threaded` turns any such function
into a coroutine function, :func:`threaded_iterable` turns a blocking
generator into an async iterator, and the helpers are ready-made jobs.

This module is the bulk path's one front; the code lives by concern in
``_threaded`` (the decorators), ``_wholefile`` (read, write, hash, process)
and ``_copy``.
"""

from __future__ import annotations

from ._copy import copy
from ._threaded import ThreadedIterator, threaded, threaded_iterable
from ._wholefile import (
    CHUNK_SIZE,
    PathArg,
    hash_file,
    process,
    read_bytes,
    read_text,
    write_bytes,
    write_text,
)

__all__ = (
    "CHUNK_SIZE",
    "PathArg",
    "ThreadedIterator",
    "copy",
    "hash_file",
    "process",
    "read_bytes",
    "read_text",
    "threaded",
    "threaded_iterable",
    "write_bytes",
    "write_text",
)
