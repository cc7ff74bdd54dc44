"""hybridio: async file I/O that routes each operation to the engine that serves it best.

``async_open()`` is the one entry point; see the README and docs/ for the guide.
"""

from __future__ import annotations

from ._api import AsyncOpen, async_open, explain
from ._bulk import (
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
from ._compression import Compression
from ._engines.kernel import BackendInfo, BackendUnavailableError, backends
from ._engines.threads import set_default_executor_size
from ._errors import BatchError
from ._layers.base import AsyncBinaryIO, AsyncFileBase
from ._layers.text import AsyncTextIO
from ._profile import TuningProfile
from ._selector import Decision, Strategy
from ._settings import reload_settings
from ._stats import IOStats

try:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    __version__: str = _version("hybridio")
except PackageNotFoundError:  # pragma: no cover - run from a source tree
    __version__ = "0.0.0+unknown"

# isort: split
# Async os / tempfile / pathlib, wrapped file objects, stdio (after the core:
# they are built on it).
from . import os, tempfile
from ._wrap import (
    AsyncWrappedBinaryIO,
    AsyncWrappedTextIO,
    iter_chunked,
    stderr,
    stderr_bytes,
    stdin,
    stdin_bytes,
    stdout,
    stdout_bytes,
    wrap,
)
from .path import Path

__all__ = (
    "async_open",
    "AsyncBinaryIO",
    "AsyncFileBase",
    "AsyncOpen",
    "AsyncTextIO",
    "AsyncWrappedBinaryIO",
    "AsyncWrappedTextIO",
    "BackendInfo",
    "backends",
    "BackendUnavailableError",
    "BatchError",
    "Compression",
    "copy",
    "Decision",
    "explain",
    "hash_file",
    "IOStats",
    "iter_chunked",
    "os",
    "Path",
    "process",
    "read_bytes",
    "read_text",
    "reload_settings",
    "set_default_executor_size",
    "stderr",
    "stderr_bytes",
    "stdin",
    "stdin_bytes",
    "stdout",
    "stdout_bytes",
    "Strategy",
    "tempfile",
    "threaded",
    "threaded_iterable",
    "ThreadedIterator",
    "TuningProfile",
    "__version__",
    "wrap",
    "write_bytes",
    "write_text",
)
