"""Drop-in for ``aiofiles``: ``import hybridio.compat.aiofiles as aiofiles``.

Same names and coroutine-ness as aiofiles 25.1 (``open``, ``os``, ``ospath``,
``tempfile``, ``stdin``/``stdout``/``stderr`` and their ``_bytes`` forms,
``threadpool.wrap``); the I/O is done by hybridio files.  ``loop=`` is
accepted and ignored, ``executor=`` runs the file's thread work.
"""

from __future__ import annotations

from . import os, ospath, tempfile, threadpool
from .threadpool import (
    open,
    stderr,
    stderr_bytes,
    stdin,
    stdin_bytes,
    stdout,
    stdout_bytes,
    wrap,
)

__all__ = (
    "open",
    "os",
    "ospath",
    "stderr",
    "stderr_bytes",
    "stdin",
    "stdin_bytes",
    "stdout",
    "stdout_bytes",
    "tempfile",
    "threadpool",
    "wrap",
)
