"""What the selector's rules need to know about a file, gathered once per open.

One ``stat`` (or the caller's), the filesystem type from the mount table
(cached per device), and whether the path is under /proc or /sys.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
from typing import Any, Final

__all__ = (
    "NETWORK_FILESYSTEMS",
    "FileFacts",
    "filesystem_type",
    "gather_facts",
    "remote_filesystem",
)


#: Filesystems whose operations may block for a network round trip.
NETWORK_FILESYSTEMS: Final = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ceph",
        "glusterfs",
        "9p",
        "afs",
        "lustre",
        "gpfs",
        "beegfs",
        "ncpfs",
        "davfs",
    }
)


def _unescape_mount_field(field: bytes) -> str:
    r"""A mountinfo path field as a str path.

    The kernel escapes space, tab, newline and backslash as ``\ooo`` octal and
    writes every other byte as is -- a UTF-8 ``é`` is two raw bytes, not an
    escape -- so the field is decoded as bytes (``os.fsdecode``, the same
    decoding as ``os.path.realpath`` gives the path being looked up), never
    with ``unicode_escape``, which reads those bytes as latin-1.
    """
    if b"\\" in field:
        out = bytearray()
        i = 0
        while i < len(field):
            octal = field[i + 1 : i + 4]
            if field[i] == 0x5C and len(octal) == 3 and all(0x30 <= c <= 0x37 for c in octal):
                out.append(int(octal, 8))
                i += 4
            else:
                out.append(field[i])
                i += 1
        field = bytes(out)
    return os.fsdecode(field)


def _parse_mountinfo(data: bytes) -> list[tuple[str, str]]:
    """(mount point, fstype) pairs of a mountinfo text, longest first."""
    mounts = []
    for line in data.splitlines():
        left, sep, right = line.partition(b" - ")
        fields = left.split()
        rest = right.split()
        if not sep or len(fields) < 5 or not rest:
            continue
        mounts.append((_unescape_mount_field(fields[4]), _unescape_mount_field(rest[0])))
    mounts.sort(key=lambda m: len(m[0]), reverse=True)
    return mounts


def _mounts() -> list[tuple[str, str]]:
    """(mount point, fstype) pairs from /proc/self/mountinfo, longest first."""
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            data = f.read()
    except OSError:
        return []
    return _parse_mountinfo(data)


_fs_by_device: dict[int, str | None] = {}


def _stat(file: Any) -> os.stat_result | None:
    try:
        return os.fstat(file) if isinstance(file, int) else os.stat(file)
    except (OSError, ValueError, TypeError):
        return None


def _device_of(file: Any, st: os.stat_result | None) -> int | None:
    """The device of *file*, or of its nearest existing parent when it is missing."""
    if st is not None:
        return st.st_dev
    if isinstance(file, int):
        return None
    try:
        parent = os.path.dirname(os.path.abspath(os.fsdecode(os.fspath(file)))) or "/"
        return os.stat(parent).st_dev
    except (OSError, ValueError, TypeError):
        return None


def _lookup_filesystem(file: Any) -> str | None:
    if isinstance(file, int):
        try:
            target = os.readlink(f"/proc/self/fd/{file}")
        except OSError:
            return None
    else:
        target = os.fsdecode(os.fspath(file))
    target = os.path.realpath(target)
    while not os.path.exists(target) and os.path.dirname(target) != target:
        target = os.path.dirname(target)
    for point, fstype in _mounts():
        if target == point or target.startswith(point.rstrip("/") + "/"):
            return fstype
    return None


def filesystem_type(
    path: str | bytes | os.PathLike[Any] | int, st: os.stat_result | None = None
) -> str | None:
    """The filesystem type holding *path* (``ext4``, ``tmpfs``, ``nfs4``, ...), if known.

    Cached per device: reading and parsing the mount table costs more than
    opening a small file, and a device keeps its filesystem.
    """
    device = _device_of(path, st if st is not None else _stat(path))
    if device is not None and device in _fs_by_device:
        return _fs_by_device[device]
    fstype = _lookup_filesystem(path)
    if device is not None:
        _fs_by_device[device] = fstype
    return fstype


#: File kinds by the file-type bits of ``st_mode``.
_KINDS: Final = {
    stat.S_IFREG: "regular file",
    stat.S_IFDIR: "directory",
    stat.S_IFIFO: "FIFO",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFSOCK: "socket",
}


def _file_kind(st: os.stat_result | None) -> str:
    if st is None:
        return "missing"
    return _KINDS.get(stat.S_IFMT(st.st_mode), "special file")


def _is_proc(file: Any, filesystem: str | None) -> bool:
    return filesystem in ("proc", "sysfs") or (
        isinstance(file, (str, os.PathLike)) and os.fspath(file).startswith("/proc/")
    )


@dataclasses.dataclass(frozen=True)
class FileFacts:
    """What the rules need to know about a file, gathered once per open."""

    kind: str
    filesystem: str | None
    device: int | None
    proc: bool


# Facts by (device, file type) for paths outside /proc: the same object every
# time, so that a plan lookup hashes nothing new.
_facts: dict[tuple[int, int], FileFacts] = {}


_LINUX: Final = sys.platform.startswith("linux")


def gather_facts(
    file: Any, st: os.stat_result | None = None
) -> tuple[FileFacts, os.stat_result | None]:
    """The facts of *file* (one ``stat``, unless *st* is given) and the stat itself."""
    if st is None:
        st = _stat(file)
    if st is not None and type(file) is str and not file.startswith(("/proc/", "/sys/")):
        key = (st.st_dev, stat.S_IFMT(st.st_mode))
        known = _facts.get(key)
        if known is None:
            known = _make_facts(file, st)
            if not known.proc and len(_facts) < 1024:
                _facts[key] = known
        return known, st
    return _make_facts(file, st), st


def _make_facts(file: Any, st: os.stat_result | None) -> FileFacts:
    fs = filesystem_type(file, st) if _LINUX else None
    device = st.st_dev if st is not None else None
    return FileFacts(_file_kind(st), fs, device, _is_proc(file, fs))


def remote_filesystem(fs: str | None) -> bool:
    """Whether *fs* may block on a network or a userspace daemon (NFS, SMB, FUSE...)."""
    return fs in NETWORK_FILESYSTEMS or (fs or "").startswith("fuse")
