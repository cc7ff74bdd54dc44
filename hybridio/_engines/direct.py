"""O_DIRECT files: the alignment rules, checked before anything is submitted (RELIABILITY F6).

A file opened with ``O_DIRECT`` (users reach it through ``opener=`` or by
passing an fd) bypasses the page cache, and the kernel then insists that the
file offset, the length *and the memory address* of every transfer are
multiples of the device's alignment; anything else fails with EINVAL -- or,
on some filesystems and old kernels, falls back to buffered I/O or corrupts
the tail (linux-test-project/ltp#639, ClickHouse PR #24139).

hybridio's own buffers (caio's read buffers, the ``bytes`` a write is copied
into, the inline reader's) have no such alignment, so an O_DIRECT file served
like any other fails at random.  Instead, every raw read and write of such a
file goes through here:

* the alignment comes from ``statx(STATX_DIOALIGN)`` (Linux 6.1+), else the
  device's ``queue/logical_block_size`` in sysfs, else ``st_blksize`` -- never
  a hard-coded 4096 (``statvfs().f_bsize`` is the filesystem block, not the
  device's rule);
* a write whose offset or length is not a multiple of it is refused with
  ``OSError(EINVAL)`` naming the rule, before any byte moves -- the same
  exception type ``os.pwrite``/``FileIO`` raise for it, with a message that
  says why (a read-modify-write behind the caller's back would race with
  other writers, so hybridio never pads a write);
* a read at a misaligned offset is refused the same way; a read's *length* is
  rounded up to the alignment internally (the kernel stops at EOF) and only
  the bytes asked for are returned, so ``read()`` to EOF works;
* the transfer itself uses page-aligned anonymous memory (``mmap``), in a
  worker thread, so the caller's buffer address never matters and the event
  loop never waits for the device.

The check happens when the file is opened (``fcntl(F_GETFL)``): an fd switched
to O_DIRECT later with ``fcntl(F_SETFL)`` is not noticed.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import fcntl
import mmap
import os
import struct
import sys
from typing import Any, Final

from .threads import run_in_thread

__all__ = ("Alignment", "DirectFile", "alignment_of", "attach", "open_error")

#: O_DIRECT where the platform has it (Linux, FreeBSD); 0 elsewhere.
O_DIRECT: Final = getattr(os, "O_DIRECT", 0)
#: One preadv/pwritev moves at most this much (bounded bounce buffers).
MAX_DIRECT_CHUNK: Final = 16 << 20

_AT_EMPTY_PATH = 0x1000
_STATX_DIOALIGN = 0x2000
# struct statx: stx_mask at 0; stx_dio_mem_align, stx_dio_offset_align at 152.
_STATX_SIZE = 256
_STATX_DIO_OFFSET = 152


@dataclasses.dataclass(frozen=True)
class Alignment:
    """What an O_DIRECT transfer on one file must be a multiple of."""

    offset: int  # file offset and length
    memory: int  # buffer address
    source: str  # where the numbers came from, for messages


def _statx_dio(fd: int) -> tuple[int, int] | None:
    """(memory, offset) alignment from statx, (0, 0) if O_DIRECT is unsupported, None if unknown."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        statx = libc.statx
    except (OSError, AttributeError):
        return None  # glibc < 2.28 or another libc without the wrapper
    buf = ctypes.create_string_buffer(_STATX_SIZE)
    if statx(fd, b"", _AT_EMPTY_PATH, _STATX_DIOALIGN, buf) != 0:
        return None  # ENOSYS on old kernels: fall back
    (mask,) = struct.unpack_from("=I", buf, 0)
    if not mask & _STATX_DIOALIGN:
        return None  # this filesystem does not report it
    mem, off = struct.unpack_from("=II", buf, _STATX_DIO_OFFSET)
    return mem, off


def _sysfs_block_size(st: os.stat_result) -> int | None:
    base = f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    # A partition's queue/ lives in its parent disk's directory.
    for path in (f"{base}/queue/logical_block_size", f"{base}/../queue/logical_block_size"):
        try:
            with open(path) as f:
                size = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if size > 0:
            return size
    return None


def alignment_of(fd: int) -> Alignment | None:
    """The O_DIRECT alignment of *fd*, or None when *fd* is not opened with O_DIRECT.

    Raises ``OSError(EINVAL)`` when the filesystem says it cannot do O_DIRECT
    on this file at all.
    """
    if not O_DIRECT or not fcntl.fcntl(fd, fcntl.F_GETFL) & O_DIRECT:
        return None
    dio = _statx_dio(fd)
    if dio is not None:
        mem, off = dio
        if not off:
            raise OSError(
                errno.EINVAL,
                "O_DIRECT is not supported for this file: statx reports no direct-I/O alignment",
            )
        return Alignment(off, max(mem, 1), "statx STATX_DIOALIGN")
    st = os.fstat(fd)
    block = _sysfs_block_size(st)
    if block is not None:
        return Alignment(block, block, "the device's logical block size")
    return Alignment(max(st.st_blksize, 1), max(st.st_blksize, 1), "st_blksize")


def _aligned_buffer(size: int) -> mmap.mmap:
    # Anonymous mmap memory is page-aligned, which satisfies every device's
    # memory alignment (at most the page size).
    return mmap.mmap(-1, max(size, 1))


def _address(buf: mmap.mmap) -> int:
    view = (ctypes.c_char * 1).from_buffer(buf)
    try:
        return ctypes.addressof(view)
    finally:
        del view


def _pread_direct(fd: int, size: int, offset: int, align: Alignment) -> bytes:
    parts = []
    got = 0
    while got < size:
        want = min(size - got, MAX_DIRECT_CHUNK)
        length = -(-want // align.offset) * align.offset
        with _aligned_buffer(length) as buf:
            assert _address(buf) % align.memory == 0
            n = os.preadv(fd, [buf], offset + got)
            parts.append(buf[: min(n, want)])
        got += min(n, want)
        if n < length:
            break  # EOF: O_DIRECT reads are short only there
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _pwrite_direct(
    fd: int, data: memoryview, offset: int, align: Alignment, landed: list[int]
) -> int:
    """Write *data* in aligned chunks; ``landed[0]`` tracks what reached the file,
    also when a later chunk raises."""
    done = 0
    total = len(data)
    while done < total:
        step = min(total - done, MAX_DIRECT_CHUNK)
        with _aligned_buffer(step) as buf:
            assert _address(buf) % align.memory == 0
            buf[:step] = data[done : done + step]
            n = os.pwritev(fd, [memoryview(buf)[:step]], offset + done)
        if n <= 0:
            raise OSError(errno.EIO, f"pwritev returned {n}")
        if n % align.offset:
            # A device that wrote part of a block leaves the next offset
            # misaligned: stop rather than write garbage-aligned data.
            landed[0] = done + n
            return done + n
        done += n
        landed[0] = done
    return done


class DirectFile:
    """Aligned, checked I/O for one O_DIRECT fd (what ``RawKernelFile`` delegates to)."""

    def __init__(self, fd: int, align: Alignment, name: Any, executor: Any = None) -> None:
        self.fd = fd
        self.align = align
        self.name = name
        self.executor = executor

    def _refuse(self, what: str, value: int) -> OSError:
        message = (
            f"O_DIRECT needs file offsets and write lengths that are multiples of "
            f"{self.align.offset} bytes ({self.align.source}); {what} {value} is not"
        )
        if isinstance(self.name, (str, bytes, os.PathLike)):
            return OSError(errno.EINVAL, message, os.fspath(self.name))
        return OSError(errno.EINVAL, message)

    def check_read(self, offset: int) -> None:
        """Refuse a read at a misaligned offset."""
        if offset % self.align.offset:
            raise self._refuse("offset", offset)

    def check_write(self, offset: int, length: int) -> None:
        """Refuse a write at a misaligned offset or of a misaligned length."""
        if offset % self.align.offset:
            raise self._refuse("offset", offset)
        if length % self.align.offset:
            raise self._refuse("length", length)

    async def pread(self, size: int, offset: int) -> bytes:
        """Up to *size* bytes at *offset*; short only at EOF."""
        self.check_read(offset)
        if size <= 0:
            return b""
        return await run_in_thread(
            _pread_direct, self.fd, size, offset, self.align, executor=self.executor
        )

    async def preadinto(self, view: memoryview, offset: int) -> int:
        """Fill *view* from *offset*; short only at EOF."""
        data = await self.pread(len(view), offset)
        view[: len(data)] = data
        return len(data)

    async def pwrite_all(self, data: Any, offset: int, progress: Any = None) -> int:
        """Write all of *data* at *offset* (both aligned, else EINVAL before any I/O).

        *progress* (a ``WriteProgress``) is told how many bytes landed, also
        when the write raises or is cancelled (the thread's write runs to its
        end first).
        """
        view = memoryview(data).cast("B")
        landed = [0]
        try:
            self.check_write(offset, len(view))
            written = await run_in_thread(
                _pwrite_direct, self.fd, view, offset, self.align, landed, executor=self.executor
            )
            if written < len(view):
                raise OSError(
                    errno.EIO, f"O_DIRECT write stopped after {written} of {len(view)} bytes"
                )
            return written
        finally:
            view.release()
            if progress is not None:
                progress.written = landed[0]


def attach(file: object) -> None:
    """Route *file*'s raw I/O through :class:`DirectFile` when its fd is O_DIRECT.

    *file* is what ``async_open()`` built; only kernel-served files (which
    have a ``RawKernelFile``) need this: the thread engine's FileIO leaves the
    rules to the caller, as the stdlib does.
    """
    raw = getattr(file, "_raw", None)
    if raw is None or not hasattr(raw, "inline"):
        return
    align = alignment_of(raw.fd)
    if align is None:
        return
    raw._direct = DirectFile(raw.fd, align, raw.name, raw.executor)
    # The inline reader's buffers are unaligned: every attempt would EINVAL.
    raw.inline.enabled = False


def open_error(exc: OSError, file: Any) -> OSError | None:
    """A clear error for an opener's EINVAL when O_DIRECT is what *file*'s filesystem refuses.

    tmpfs before Linux 6.6, /proc, /sys and some FUSE filesystems fail an
    O_DIRECT open with a bare EINVAL.  hybridio cannot see the opener's flags,
    so it checks: if *file* opens without O_DIRECT but not with it, that was
    the cause.  None when it was not (the original error stands).
    """
    if not O_DIRECT or isinstance(file, int):
        return None
    try:
        probe = os.open(file, os.O_RDONLY | O_DIRECT)
    except OSError as again:
        if again.errno != errno.EINVAL:
            return None
    else:
        os.close(probe)
        return None
    from .._selector import filesystem_type  # the selector imports the engines

    filesystem = filesystem_type(file)
    where = f"the {filesystem} filesystem" if filesystem else "this file's filesystem"
    return OSError(
        errno.EINVAL,
        f"Invalid argument: {where} does not support O_DIRECT (the opener asked for it); "
        "open without O_DIRECT, or use a filesystem that supports it",
        os.fspath(file),
    )
