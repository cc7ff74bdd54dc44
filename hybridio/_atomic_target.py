"""Atomic replace: write a temporary file next to the target, then rename it over.

The recipe (python-atomicwrites, SQLite's atomic-commit notes, RELIABILITY D2):

1. open the target's directory once and work relative to that fd, so the
   temporary file and the rename stay in that directory whatever happens to
   the path meanwhile;
2. create ``.<name>.<slot>.hybridio-tmp`` there with ``O_CREAT|O_EXCL|
   O_NOFOLLOW`` and mode 0o600 (no other user can read it, a planted symlink
   is never followed), and hold an ``flock`` on it while it is in use;
3. the caller writes through that fd;
4. commit: give it the target's permission bits (or ``0o666 & ~umask`` for a
   new file), fsync it, ``os.replace`` it over the target (``"x"``: a rename
   that refuses to replace, so a file created meanwhile is never clobbered),
   fsync the directory;
5. on any error before the rename: remove the temporary file, leave the
   target untouched, re-raise.

A process killed mid-way leaves its temporary file behind; its lock died with
it, so the next successful atomic write to the same target recognises it
(same name pattern, unlocked, owned by us) and removes it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import stat
import sys
import threading
from collections.abc import Callable
from typing import Any

from ._layers.durability import sync_fd

__all__ = ("SUFFIX", "AtomicTarget", "temp_names")

#: Temporary-file slots per target: concurrent atomic writers to one target
#: take one each, and a successful commit sweeps the stale ones.
SLOTS = 16
SUFFIX = ".hybridio-tmp"
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_RENAME_NOREPLACE = 1


def _step(name: str) -> None:
    """Fault-injection point: called after each step of a commit
    (``"fsynced"``, ``"replaced"``).  Tests replace it to stop the process
    at a known step; it does nothing otherwise."""


def temp_names(name: str) -> list[str]:
    """The temporary-file names an atomic write to *name* may use, by slot."""
    raw = os.fsencode(name)
    # Leave room for the slot and the suffix within NAME_MAX (255 bytes).
    base = os.fsdecode(raw[:200])
    return [f".{base}.{slot}{SUFFIX}" for slot in range(SLOTS)]


_umask_lock = threading.Lock()


def _umask() -> int:
    # /proc/self/status tells the umask without changing it; os.umask() can
    # only read it by setting it, which races with other threads creating files.
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_lock:  # pragma: no cover - kernels before 4.7, non-Linux
        mask = os.umask(0o22)
        os.umask(mask)
        return mask


def _libc_renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # glibc < 2.28, other libcs
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    fn.restype = ctypes.c_int
    return fn


#: ``renameat2(..., RENAME_NOREPLACE)`` where libc has it (tests set None to
#: exercise the link + unlink fallback).
renameat2: Callable[..., int] | None = _libc_renameat2()


def _not_ours(fd: int) -> bool:
    st = os.fstat(fd)
    return not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid()


class AtomicTarget:
    """One atomic write in progress (blocking; run it in a thread).

    Creating it creates and locks the temporary file; :meth:`opener` hands a
    duplicate of its fd to ``open()``; :meth:`commit` or :meth:`discard`
    ends it.
    """

    def __init__(self, path: Any, *, exclusive: bool, readable: bool) -> None:
        self.fd = self.dir_fd = -1
        self.filename = os.fspath(path)
        target = os.fsdecode(self.filename)
        if os.path.islink(target):
            # Replace what the link points to, as open(path, "w") writes there;
            # the symlink itself stays.
            target = os.path.realpath(target)
        directory, name = os.path.split(target)
        if not name:
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), self.filename)
        self.name = name
        self.exclusive = exclusive
        self.dir_fd = self._open_dir(directory or ".")
        try:
            self._check_target()
            self.fd, self.temp = self._create(readable)
        except BaseException:
            self._close()
            raise

    def _error(self, exc: OSError) -> OSError:
        # Errors about the target's directory are reported against the path the
        # caller gave, as open() reports them.
        return type(exc)(exc.errno, exc.strerror, self.filename)

    def _open_dir(self, directory: str) -> int:
        try:
            return os.open(directory, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ENOTDIR:
                raise NotADirectoryError(
                    errno.ENOTDIR, os.strerror(errno.ENOTDIR), self.filename
                ) from None
            raise self._error(exc) from None

    def _check_target(self) -> None:
        try:
            st = os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if self.exclusive:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), self.filename)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), self.filename)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"atomic=True replaces regular files only: {self.filename!r}")

    def _create(self, readable: bool) -> tuple[int, str]:
        flags = os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
        flags |= os.O_RDWR if readable else os.O_WRONLY
        for temp in temp_names(self.name):
            for _ in range(2):  # second try: a stale leftover was just removed
                try:
                    fd = os.open(temp, flags, 0o600, dir_fd=self.dir_fd)
                except FileExistsError:
                    if self._reclaim(temp):
                        continue
                    break
                except OSError as exc:
                    raise self._error(exc) from None
                fcntl.flock(fd, fcntl.LOCK_EX)
                if self._is_at(fd, temp):
                    return fd, temp
                # A sweeper removed it before we held the lock: try again.
                os.close(fd)
        raise FileExistsError(
            errno.EEXIST, f"{SLOTS} atomic writes to this file are in progress", self.filename
        )

    def _is_at(self, fd: int, temp: str) -> bool:
        try:
            here = os.stat(temp, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        st = os.fstat(fd)
        return (here.st_dev, here.st_ino) == (st.st_dev, st.st_ino)

    def _reclaim(self, temp: str) -> bool:
        """Remove *temp* if it is a stale leftover (ours, and nobody holds its lock)."""
        try:
            fd = os.open(temp, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=self.dir_fd)
        except OSError:
            return False  # gone already, a symlink, not readable: not ours to touch
        try:
            if _not_ours(fd):
                return False
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a live writer holds it
            # Under its lock: whoever removed or reused the name did so while
            # holding the lock too, so this check cannot go stale before unlink.
            if not self._is_at(fd, temp):
                return False
            os.unlink(temp, dir_fd=self.dir_fd)
            return True
        finally:
            os.close(fd)

    def opener(self, path: str, flags: int) -> int:
        """``open(..., opener=)``: a duplicate of the temporary file's fd."""
        del path, flags
        return os.dup(self.fd)

    def _mode(self) -> None:
        try:
            st = os.stat(self.name, dir_fd=self.dir_fd)
        except FileNotFoundError:
            os.fchmod(self.fd, 0o666 & ~_umask())
            return
        os.fchmod(self.fd, stat.S_IMODE(st.st_mode))
        mine = os.fstat(self.fd)
        if (st.st_uid, st.st_gid) != (mine.st_uid, mine.st_gid):
            with contextlib.suppress(PermissionError):  # only root may give files away
                os.fchown(self.fd, st.st_uid, st.st_gid)

    def _rename(self) -> None:
        if not self.exclusive:
            os.replace(self.temp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
            return
        fn = renameat2
        if fn is not None:
            src, dst = os.fsencode(self.temp), os.fsencode(self.name)
            if fn(self.dir_fd, src, self.dir_fd, dst, _RENAME_NOREPLACE) == 0:
                return
            err = ctypes.get_errno()
            if err not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise OSError(err, os.strerror(err), self.filename)
        # No renameat2 (or not on this filesystem): a hard link fails with
        # EEXIST rather than replace; then the temporary name goes.
        try:
            os.link(self.temp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        except OSError as exc:
            raise type(exc)(exc.errno, exc.strerror, self.filename) from None
        os.unlink(self.temp, dir_fd=self.dir_fd)

    def commit(self) -> None:
        """Make the written content the target's, durably; discard on failure."""
        try:
            self._mode()
            sync_fd(self.fd)
            _step("fsynced")
            self._rename()
        except BaseException:
            self.discard()
            raise
        try:
            _step("replaced")
            try:
                sync_fd(self.dir_fd)
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # directories some filesystems cannot fsync
                    raise
            self._sweep()
        finally:
            self._close()

    def _sweep(self) -> None:
        for temp in temp_names(self.name):
            if temp == self.temp:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.stat(temp, dir_fd=self.dir_fd, follow_symlinks=False)
                self._reclaim(temp)

    def discard(self) -> None:
        """Remove the temporary file; the target is left as it was."""
        if self.fd < 0:
            return
        try:
            if self._is_at(self.fd, self.temp):
                os.unlink(self.temp, dir_fd=self.dir_fd)
        except OSError:
            pass  # cleanup: the original error matters, a leftover is swept later
        finally:
            self._close()

    def _close(self) -> None:
        fd, self.fd = self.fd, -1
        try:
            if fd >= 0:
                os.close(fd)
        finally:
            dir_fd, self.dir_fd = self.dir_fd, -1
            if dir_fd >= 0:
                os.close(dir_fd)

    def __del__(self) -> None:
        if self.fd >= 0:
            self.discard()
