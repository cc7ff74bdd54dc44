"""Machine facts, page-cache eviction and page-cache residency (mincore)."""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.metadata
import mmap
import os
import platform
import sys
from typing import Any

__all__ = ("evict", "filesystem_of", "machine_facts", "residency")

LIBRARIES = (
    "hybridio",
    "aiofiles",
    "aiofile",
    "aiomisc",
    "anyio",
    "caio",
    "uvloop",
    "urio",
    "turbofile",
    "obstore",
)


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    )
    libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    return libc


_LIBC = _libc()
_MAP_FAILED = ctypes.c_void_p(-1).value


def residency(path: str) -> float | None:
    """Fraction (0..1) of *path*'s pages in the page cache, or None if unknown.

    Maps the file (without faulting anything in) and asks ``mincore``.
    """
    if _LIBC is None or not hasattr(os, "sysconf"):
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return 1.0
        page = mmap.PAGESIZE
        addr = _LIBC.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr is None or addr == _MAP_FAILED:
            return None
        try:
            pages = (size + page - 1) // page
            vec = (ctypes.c_ubyte * pages)()
            if _LIBC.mincore(addr, size, vec) != 0:
                return None
            return (pages - bytes(vec).count(0)) / pages
        finally:
            _LIBC.munmap(addr, size)
    finally:
        os.close(fd)


def evict(path: str) -> float | None:
    """Drop *path* from the page cache; return the residency afterwards."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)  # dirty pages cannot be dropped; a no-op once written back
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return residency(path)


def warm(path: str, chunk: int = 1 << 20) -> float | None:
    """Read *path* once so it is in the page cache; return its residency."""
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(chunk)
        while f.readinto(buf):
            pass
    return residency(path)


def filesystem_of(path: str) -> dict[str, str]:
    """Type, device and mount point of the filesystem holding *path*."""
    path = os.path.realpath(path)
    best: dict[str, str] = {"type": "unknown", "device": "unknown", "mount": "unknown"}
    best_len = -1
    try:
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) < 3:
                    continue
                device, mount, fstype = parts[0], parts[1].replace("\\040", " "), parts[2]
                inside = path == mount or path.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) > best_len:
                    best = {"type": fstype, "device": device, "mount": mount}
                    best_len = len(mount)
    except OSError:
        pass
    return best


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _meminfo_total_mib() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return None


def _io_uring_disabled() -> str | None:
    try:
        with open("/proc/sys/kernel/io_uring_disabled", encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def _hybridio_backends() -> list[dict[str, Any]] | str:
    try:
        import hybridio

        return [
            {
                "name": b.name,
                "available": b.available,
                "reason": b.reason,
                "selected": getattr(b, "selected", None),
            }
            for b in hybridio.backends()
        ]
    except Exception as exc:
        return f"unknown ({type(exc).__name__}: {exc})"


def _hybridio_profile() -> dict[str, Any] | str:
    """The tuning profile hybridio's AUTO routing used (thresholds and where they came from)."""
    try:
        from hybridio import _profile as profile

        prof = profile.resolve_profile()
        return {
            "source": str(getattr(prof, "source", None)),
            "origin": str(getattr(prof, "origin", None)),
            "thresholds": prof.thresholds(),
        }
    except Exception as exc:
        return f"unknown ({type(exc).__name__}: {exc})"


def _caio_sqpoll() -> bool | None:
    """Whether caio's default io_uring context (aiofile, raw caio rows) uses SQPOLL here."""
    try:
        from caio.linux_uring import SQPOLL_ALLOWED

        return bool(SQPOLL_ALLOWED)
    except Exception:
        return None


def machine_facts(data_dir: str, loop_name: str) -> dict[str, Any]:
    """Everything needed to judge where a result came from."""
    uname = platform.uname()
    return {
        "kernel": f"{uname.system} {uname.release}",
        "machine": uname.machine,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "memory_mib": _meminfo_total_mib(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "event_loop": loop_name,
        "io_uring_disabled_sysctl": _io_uring_disabled(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "data_dir": os.path.realpath(data_dir),
        "filesystem": filesystem_of(data_dir),
        "hybridio_backends": _hybridio_backends(),
        "hybridio_profile": _hybridio_profile(),
        "caio_uring_sqpoll_default": _caio_sqpoll(),
    }
