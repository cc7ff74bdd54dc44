"""hybridio: async file I/O that routes each operation to the engine that serves it best.

``async_open()`` is the one entry point; see the README and docs/ for the guide.
"""

from __future__ import annotations

from .api import AsyncOpen, async_open
from .bulk import threaded
from .compression import Compression
from .engines.kernel import BackendInfo, BackendUnavailableError, backends
from .errors import BatchError
from .layers.base import AsyncBinaryIO, AsyncFileBase
from .layers.text import AsyncTextIO
from .profile import TuningProfile
from .selector import Decision, Strategy, explain
from .stats import IOStats

# isort: split
# -- issue 10: async os / tempfile / pathlib, wrapped file objects, stdio
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

# -- end of issue 10 imports

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
    "TuningProfile",
    "async_open",
    "backends",
    "explain",
    "threaded",
    # -- issue 10
    "AsyncWrappedBinaryIO",
    "AsyncWrappedTextIO",
    "Path",
    "iter_chunked",
    "os",
    "stderr",
    "stderr_bytes",
    "stdin",
    "stdin_bytes",
    "stdout",
    "stdout_bytes",
    "tempfile",
    "wrap",
    # -- end of issue 10
)
