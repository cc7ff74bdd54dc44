"""The blocking fsync/fdatasync every layer uses, platform rules included (RELIABILITY D1).

* macOS: ``fsync`` only hands the data to the drive, whose cache may still
  lose it on power failure; ``fcntl(fd, F_FULLFSYNC)`` asks the drive to
  flush too, and is what durability needs there (SQLite, LMDB and Go's
  ``os.File.Sync`` do the same).  Some filesystems (network shares, FAT)
  refuse it with ENOTSUP/EINVAL/ENOTTY: then plain ``fsync`` is the best the
  system offers.  Any other error is raised: it may be the one report of a
  failed writeback, so it must never be swallowed by the fallback.
* Where ``os.fdatasync`` is missing, ``fdatasync`` is ``fsync`` (more work,
  same promise).
"""

from __future__ import annotations

import errno
import os
import sys
from concurrent.futures import Executor
from typing import Any

from .._engines.threads import run_in_thread
from .._errors import named

__all__ = ("needs_full_fsync", "sync_fd", "sync_in_thread")

#: F_FULLFSYNC errors that mean "not supported here", not "the data is lost".
_UNSUPPORTED = frozenset(
    {errno.ENOTSUP, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOTTY, errno.ENOSYS}
)


def needs_full_fsync() -> bool:
    """True where only ``F_FULLFSYNC`` makes data durable (macOS)."""
    return sys.platform == "darwin"


def sync_fd(fd: int, data_only: bool = False) -> None:
    """Make *fd*'s data (and, unless *data_only*, its metadata) durable; blocking."""
    if needs_full_fsync():
        import fcntl

        full = getattr(fcntl, "F_FULLFSYNC", None)
        if full is not None:
            try:
                fcntl.fcntl(fd, full)
            except OSError as exc:
                if exc.errno not in _UNSUPPORTED:
                    raise
            else:
                return
        os.fsync(fd)
        return
    fdatasync = getattr(os, "fdatasync", None)
    if data_only and fdatasync is not None:
        fdatasync(fd)
    else:
        os.fsync(fd)


async def sync_in_thread(
    fd: int, data_only: bool, *, executor: Executor | None = None, name: Any = None
) -> None:
    """:func:`sync_fd` in a worker thread; an error names the file as open() would."""
    try:
        await run_in_thread(sync_fd, fd, data_only, executor=executor)
    except OSError as exc:
        raise named(exc, name) from None
