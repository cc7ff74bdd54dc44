"""``copy()``: ``shutil.copy`` in ONE thread call, the bytes moved in the kernel.

copy_file_range first (in-kernel, reflinks where the filesystem can), then
sendfile, then a pread/pwrite loop; the holes of a sparse file stay holes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from typing import Any

from ._engines.threads import run_in_thread
from ._wholefile import CHUNK_SIZE, PathArg

__all__ = ("copy",)


#: Largest count handed to one copy_file_range/sendfile call (the kernel caps
#: a single transfer at a little under 2 GiB anyway).
_COPY_STEP = 1 << 30

#: Errors after which copy_file_range (or sendfile) is given up for this copy:
#: not implemented, not supported between these filesystems or file kinds.
_FALLBACK_ERRNOS = frozenset(
    e
    for e in (
        getattr(errno, name, None)
        for name in ("ENOSYS", "EXDEV", "EINVAL", "EOPNOTSUPP", "ENOTSUP", "EPERM", "EBADF")
    )
    if e is not None
)


class _Copier:
    """Copies byte ranges between two fds with the best call that works.

    copy_file_range first (in-kernel, reflinks where the filesystem can),
    then sendfile, then a pread/pwrite loop; a call that fails with a
    "not supported here" errno before copying anything is dropped for the
    rest of this copy.
    """

    def __init__(self, src: int, dst: int) -> None:
        self.src, self.dst = src, dst
        self.use_cfr = hasattr(os, "copy_file_range")
        self.use_sendfile = hasattr(os, "sendfile") and sys.platform.startswith("linux")
        self.buf: bytearray | None = None

    def copy(self, offset: int, count: int | None) -> int:
        """Copy *count* bytes (None: up to EOF) at *offset*; return bytes copied."""
        done = 0
        while count is None or done < count:
            step = _COPY_STEP if count is None else min(_COPY_STEP, count - done)
            n = self._step(offset + done, step)
            if n == 0:
                break
            done += n
        return done

    def _step(self, offset: int, count: int) -> int:
        if self.use_cfr:
            try:
                return os.copy_file_range(self.src, self.dst, count, offset, offset)
            except OSError as exc:
                if exc.errno not in _FALLBACK_ERRNOS:
                    raise
                self.use_cfr = False
        if self.use_sendfile:
            try:
                os.lseek(self.dst, offset, os.SEEK_SET)
                return os.sendfile(self.dst, self.src, offset, count)
            except OSError as exc:
                if exc.errno not in _FALLBACK_ERRNOS:
                    raise
                self.use_sendfile = False
        if self.buf is None:
            self.buf = bytearray(CHUNK_SIZE)
        view = memoryview(self.buf)[: min(count, CHUNK_SIZE)]
        n = os.preadv(self.src, [view], offset)
        written = 0
        while written < n:
            w = os.pwrite(self.dst, view[written:n], offset + written)
            if w <= 0:
                raise OSError(errno.EIO, f"pwrite returned {w}")
            written += w
        return n


def _data_extents(fd: int, size: int) -> Iterator[tuple[int, int]] | None:
    """(offset, length) of each data extent of a sparse file, or None when
    the filesystem cannot tell holes from data (then copy everything)."""
    seek_data = getattr(os, "SEEK_DATA", None)
    seek_hole = getattr(os, "SEEK_HOLE", None)
    if seek_data is None or seek_hole is None:
        return None
    try:
        first = os.lseek(fd, 0, seek_data)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # no data at all: one big hole
            return iter(())
        return None
    # A filesystem without hole tracking reports one extent covering the file.
    hole = os.lseek(fd, first, seek_hole)
    if first == 0 and hole >= size:
        return None

    def extents() -> Iterator[tuple[int, int]]:
        start, end = first, hole
        while True:
            yield start, end - start
            if end >= size:
                return
            try:
                start = os.lseek(fd, end, seek_data)
            except OSError as exc:
                if exc.errno == errno.ENXIO:
                    return
                raise
            end = os.lseek(fd, start, seek_hole)

    return extents()


def _copy_fd(src: int, dst: int, st: os.stat_result) -> None:
    copier = _Copier(src, dst)
    size = st.st_size
    # Only a file with fewer blocks than its size can have holes: skip the
    # SEEK_DATA walk (and its syscalls) for the common dense file.
    sparse = stat.S_ISREG(st.st_mode) and size > 0 and st.st_blocks * 512 < size
    extents = _data_extents(src, size) if sparse else None
    if extents is None:
        if size > 0:
            copied = copier.copy(0, size)
            if copied == size:
                copier.copy(size, None)  # the file grew meanwhile: copy to EOF
        else:
            copier.copy(0, None)  # /proc-like files report size 0
        return
    end = 0
    for offset, length in extents:
        end = offset + copier.copy(offset, length)
    if end < size:
        # A trailing hole: give the copy its size without writing zeros.
        os.ftruncate(dst, size)


def _is_fifo_or_special(path: Any) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISFIFO(st.st_mode):
        return "named pipe"
    if stat.S_ISSOCK(st.st_mode):
        return "socket"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "device"
    return None


def _same_file(src: Any, dst: Any) -> bool:
    try:
        return os.path.samefile(src, dst)
    except (OSError, ValueError):
        return False


def _copy_sync(src: Any, dst: Any, follow_symlinks: bool) -> Any:
    if os.path.isdir(dst):
        dst = os.path.join(dst, os.path.basename(os.fspath(src)))
    if _same_file(src, dst):
        raise shutil.SameFileError(f"{src!r} and {dst!r} are the same file")
    for p in (src, dst):
        kind = _is_fifo_or_special(p)
        if kind == "named pipe":
            raise shutil.SpecialFileError(f"`{os.fspath(p)}` is a named pipe")
        if kind is not None and p is dst:
            raise shutil.SpecialFileError(f"`{os.fspath(p)}` is a {kind}")
    if not follow_symlinks and os.path.islink(src):
        os.symlink(os.readlink(src), dst)
        return dst
    sfd = os.open(src, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(sfd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(src))
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        dfd = os.open(dst, flags, 0o666)
        try:
            if hasattr(os, "posix_fadvise"):
                with contextlib.suppress(OSError):
                    os.posix_fadvise(sfd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            _copy_fd(sfd, dfd, st)
            # Permission bits as shutil.copy/copymode set them.
            os.fchmod(dfd, stat.S_IMODE(st.st_mode))
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
    return dst


async def copy(src: PathArg, dst: PathArg, *, follow_symlinks: bool = True) -> Any:
    """Copy *src*'s content and permission bits to *dst*; return the new file's path.

    ``shutil.copy`` semantics, in ONE thread call: *dst* may be a directory;
    ``shutil.SameFileError`` when both name the same file;
    ``shutil.SpecialFileError`` for a named pipe; ``follow_symlinks=False``
    copies a symlink as a symlink.  The bytes move in the kernel
    (``os.copy_file_range``, then ``os.sendfile``, then a read/write loop), and
    the holes of a sparse file stay holes where the filesystem reports them
    (``SEEK_DATA``/``SEEK_HOLE``).
    """
    return await run_in_thread(_copy_sync, src, dst, follow_symlinks)
