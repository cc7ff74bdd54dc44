"""hybridio: async file I/O that routes each operation to the engine that serves it best.

``async_open()`` is the one entry point; see the README and docs/ for the guide.
"""

from __future__ import annotations

from .api import AsyncOpen, async_open
from .bulk import (
    ThreadedIterator,
    copy,
    hash_file,
    process,
    read_bytes,
    read_text,
    threaded,
    threaded_iterable,
    write_bytes,
    write_text,
)
from .compression import Compression
from .engines.kernel import BackendInfo, BackendUnavailableError, backends
from .errors import BatchError
from .layers.base import AsyncBinaryIO, AsyncFileBase
from .layers.text import AsyncTextIO
from .profile import TuningProfile
from .selector import Decision, Strategy, explain
from .settings import reload_settings
from .stats import IOStats

__all__ = (
    "AsyncBinaryIO",
    "AsyncFileBase",
    "AsyncOpen",
    "AsyncTextIO",
    "BackendInfo",
    "BackendUnavailableError",
    "BatchError",
    "Compression",
    "Decision",
    "IOStats",
    "Strategy",
    "ThreadedIterator",
    "TuningProfile",
    "async_open",
    "backends",
    "copy",
    "explain",
    "hash_file",
    "process",
    "read_bytes",
    "read_text",
    "reload_settings",
    "threaded",
    "threaded_iterable",
    "write_bytes",
    "write_text",
)
