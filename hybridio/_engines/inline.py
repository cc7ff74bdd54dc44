"""Non-blocking page-cache reads in the event-loop thread (``preadv2(RWF_NOWAIT)``).

A 4 KiB read that the page cache can serve costs ~1 us as a blocking syscall,
while any suspended asyncio future costs ~10 us to wake up.  So positional reads
first try ``os.preadv(fd, [buf], offset, os.RWF_NOWAIT)`` right in the loop
thread: the kernel copies cached pages and returns, or fails at once with
EAGAIN when a page would need disk I/O -- then, and only then, the read goes to
the kernel engine.  Reads larger than the profile's ``inline_max`` never take this path,
so no inline read holds the loop for more than a few tens of microseconds.

Disabled, with the reason recorded, where it cannot work: not Linux, no
``RWF_NOWAIT`` in this Python, O_DIRECT fds (alignment rules), and filesystems
that answer EOPNOTSUPP/EINVAL (checked on first use per file; an EINVAL is
only blamed on the filesystem when a known-good read is refused as well, since
a bad offset gets EINVAL too).
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, Final

from .. import _settings as settings
from .._profile import BUILTIN

__all__ = ("InlineReader", "unsupported_reason")


class _Scratch(threading.local):
    """The reading thread's buffer that large inline reads land in before the copy out.

    A fresh ``bytearray(size)`` per read is zero-filled, and past glibc's mmap
    threshold (128 KiB) it is new pages every time: 1 MiB inline reads ran at
    a quarter of a plain ``pread`` loop here (page faults), against par with a
    reused buffer.  Inline reads are synchronous, so one buffer per thread
    serves every file: it is copied out before the read returns.
    """

    def __init__(self) -> None:
        buf = bytearray(0)
        #: The buffer and a view of it, in one attribute: every attribute of a
        #: ``threading.local`` costs a per-thread dict lookup.
        self.pair = (buf, memoryview(buf))

    def get(self, size: int) -> tuple[bytearray, memoryview]:
        pair = self.pair
        if len(pair[0]) < size:
            pair[1].release()
            buf = bytearray(size)
            pair = self.pair = (buf, memoryview(buf))
        return pair


_scratch = _Scratch()
#: Reads up to this size land in a buffer of the reader's own, of exactly the
#: size last read (as a file's reads mostly are): no slice, and no thread-local
#: lookup, which cost a cached 4 KiB read 4% of its instructions.  At most this
#: much per open file; larger reads use the thread's scratch.
_OWN_MAX: Final = 64 * 1024

_RWF_NOWAIT: Final = getattr(os, "RWF_NOWAIT", 0)
#: How a filesystem (or kernel) refuses RWF_NOWAIT, or a read's bad argument.
_REFUSALS: Final = frozenset({errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})
_preadv = getattr(os, "preadv", None)


def unsupported_reason(fd: int | None) -> str | None:
    """Why inline reads cannot be used on *fd* (None: on this platform), or None."""
    if settings.current().inline_disabled:
        return "disabled by HYBRIDIO_INLINE"
    if not sys.platform.startswith("linux"):
        return f"preadv2(RWF_NOWAIT) is Linux-only (platform {sys.platform})"
    if _preadv is None or not _RWF_NOWAIT:
        return "this Python has no os.preadv/os.RWF_NOWAIT"
    if fd is None:
        return None
    try:
        import fcntl

        if fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0):
            return "O_DIRECT fds must not be read through the page cache"
    except OSError as exc:
        return f"fcntl(F_GETFL) failed: {exc}"
    return None


class InlineReader:
    """Inline reads of one fd, with counters of what they served.

    One thread at a time (its file's event-loop thread): small reads land in
    the reader's own buffer.
    """

    # Slots: the attributes of the hot path (every inline read), and its
    # counters, are read and stored on each read.
    __slots__ = (
        "_own",
        "_skip",
        "_streak",
        "bytes",
        "enabled",
        "fd",
        "max",
        "misses",
        "ops",
        "reason",
        "skipped",
    )

    def __init__(
        self, fd: int, max_size: int = BUILTIN.inline_max, *, known_reason: str | bool | None = True
    ) -> None:
        self.fd = fd
        #: Reads larger than this are not tried inline (the profile's inline_max).
        self.max = max_size
        # known_reason: the caller already knows (e.g. it opened the fd without
        # O_DIRECT itself), which saves an fcntl per open; True asks the fd.
        self.reason = unsupported_reason(fd) if known_reason is True else known_reason or None
        self.enabled = self.reason is None
        self._zero()

    def _zero(self) -> None:
        # What a new reader starts with: no counts, no buffer of its own yet.
        self._own = bytearray(0)
        self.ops = 0
        self.bytes = 0
        self.misses = 0
        #: Reads sent straight to the kernel engine while backing off.
        self.skipped = 0
        self._streak = 0
        self._skip = 0

    def tries(self, size: int) -> bool:
        """Whether a read of *size* bytes is tried inline first: a kernel read
        of such a size is then one the page cache missed."""
        return self.enabled and size <= self.max

    def for_fd(self, fd: int) -> InlineReader:
        """A reader of *fd* with this one's limit and verdict, its counters at
        zero: what ``InlineReader(fd, max, known_reason=self.reason)`` builds,
        for the open memo (``hybridio._assemble``), without the call."""
        new = object.__new__(InlineReader)
        new.fd = fd
        new.max = self.max
        new.reason = self.reason
        new.enabled = self.enabled
        new._zero()
        return new

    def _missed(self) -> None:
        # A miss is not free: preadv2(RWF_NOWAIT) on an uncached page starts
        # readahead and costs ~15 us of loop time here, which on cold data with
        # 64 reads in flight made the loop the bottleneck (45k vs 74k reads/s).
        # After a streak of misses the next reads skip the attempt, the gap
        # doubling up to 64 reads; one hit ends the back-off.
        self.misses += 1
        self._streak += 1
        if self._streak >= 4:
            self._skip = min(64, 1 << (self._streak - 4))

    def skipping(self) -> bool:
        """True (and counted) while backing off after a streak of misses."""
        if self._skip:
            self._skip -= 1
            self.skipped += 1
            return True
        return False

    def _refused(self, exc: OSError) -> bool:
        """Decide what a non-EAGAIN error of an inline read means.

        EOPNOTSUPP and ENOSYS can only be the filesystem or the kernel saying
        no: inline reads stop for this file.  EINVAL is ambiguous -- it is
        also what a bad argument gets (an offset whose end passes the largest
        file offset) -- so one known-good read (1 byte at offset 0) decides:
        if that is refused too, the filesystem is to blame; otherwise this
        one read goes to the kernel engine, which reports the error, and the
        file keeps its inline path.  Returns True if the caller may go on.
        """
        if exc.errno == errno.EINVAL:
            try:
                _preadv(self.fd, (bytearray(1),), 0, _RWF_NOWAIT)  # type: ignore[misc]
            except BlockingIOError:
                return True  # the flag works; page 0 is just not cached
            except OSError as probe:
                if probe.errno not in _REFUSALS:
                    return True  # not a refusal of RWF_NOWAIT either
            else:
                return True
        self.enabled = False
        self.reason = f"the filesystem refused RWF_NOWAIT: {exc.strerror or exc}"
        return False

    def _at_eof(self, end: int) -> bool:
        return end >= os.fstat(self.fd).st_size

    def _try(self, buf: Any, offset: int) -> int | None:
        """One RWF_NOWAIT preadv into *buf*: the count, or None on a cache miss."""
        if self._skip and self.skipping():
            return None
        try:
            n: int = _preadv(self.fd, (buf,), offset, _RWF_NOWAIT)  # type: ignore[misc]
        except BlockingIOError:
            self._missed()
            return None
        except OSError as exc:
            if exc.errno in _REFUSALS:
                self._refused(exc)
                return None  # the kernel engine reads it (and reports any error)
            raise
        if n == len(buf) or self._at_eof(offset + n):
            self.ops += 1
            self.bytes += n
            self._streak = 0
            return n
        # Partly cached: the kernel engine reads the whole range.
        self._missed()
        return None

    def read(self, size: int, offset: int) -> bytes | None:
        """The bytes at *offset* if the page cache holds them all, else None.

        A read that stops at EOF is complete; a partially cached range returns
        None and is read whole by the kernel engine.
        """
        buf = self._own
        if len(buf) != size:
            if size > _OWN_MAX:
                return self._read_scratch(size, offset)
            buf = self._own = bytearray(size)
        n = self._try(buf, offset)
        if n is None:
            return None
        return bytes(buf) if n == size else bytes(memoryview(buf)[:n])

    def _read_scratch(self, size: int, offset: int) -> bytes | None:
        buf, view = _scratch.get(size)
        n = self._try(view[:size] if len(buf) != size else buf, offset)
        if n is None:
            return None
        return bytes(view[:n])

    def read_batch(
        self,
        reqs: list[tuple[int, int]],
        results: list[Any],
        budget: int,
        overdue: Callable[[], bool] | None = None,
    ) -> list[int]:
        """Serve every cached ``(offset, size)`` of *reqs* into *results*.

        Returns the indices left for the kernel engine.  One tight loop, since
        per-item Python overhead is what separates this from a bare ``pread``.
        Past *budget* bytes, or once ``overdue()`` says the loop has been held
        long enough, the rest is left to the kernel engine (which yields).
        """
        if not self.enabled:
            return [i for i, (_, size) in enumerate(reqs) if size]
        fd = self.fd
        preadv = _preadv
        flags = _RWF_NOWAIT
        misses = []
        served = 0
        nbytes = 0
        # The thread's scratch view once per batch, not a method call per range.
        view = _scratch.pair[1]
        for i, (offset, size) in enumerate(reqs):
            if not size:
                continue
            if (
                size > self.max
                or nbytes >= budget
                or (self._skip and self.skipping())
                or (overdue is not None and served and overdue())
            ):
                misses.append(i)
                continue
            if len(view) < size:
                _, view = _scratch.get(size)
            buf = view[:size]
            try:
                n = preadv(fd, (buf,), offset, flags)  # type: ignore[misc]
            except BlockingIOError:
                misses.append(i)
                self._missed()
                continue
            except OSError as exc:
                if self._refusal_ends_batch(exc, i, reqs, misses):
                    break
                continue
            if n != size and not self._at_eof(offset + n):
                misses.append(i)
                self._missed()
                continue
            results[i] = bytes(buf) if n == size else bytes(buf[:n])
            served += 1
            nbytes += n
            self._streak = 0
        self.ops += served
        self.bytes += nbytes
        return misses

    def _refusal_ends_batch(
        self, exc: OSError, i: int, reqs: list[tuple[int, int]], misses: list[int]
    ) -> bool:
        """A batch read's OSError: raised again unless the filesystem refused
        RWF_NOWAIT.  Then range *i* goes to the kernel engine (a bad argument:
        it says so), or, once inline reads are off, every range from *i* on
        does, and the batch ends (True)."""
        if exc.errno not in _REFUSALS:
            raise exc
        if self._refused(exc):
            misses.append(i)
            return False
        misses.extend(j for j in range(i, len(reqs)) if reqs[j][1])
        return True

    def readinto(self, view: memoryview, offset: int) -> int | None:
        """Fill *view* (a writable byte view) from the page cache; None on a miss."""
        return self._try(view, offset)
