"""``TuningProfile``: the thresholds the router uses, measured by ``calibrate``.

Lookup order (first found wins): the ``profile=`` argument, the
``HYBRIDIO_PROFILE`` environment variable, the user's config directory
(``$XDG_CONFIG_HOME/hybridio/_profile.json`` on Linux, the platform's
equivalent elsewhere), then the defaults shipped in the package
(``hybridio/default_profile.json``, measured on a 2-vCPU Linux VM with
``python -m hybridio calibrate``).  A corrupt or foreign profile never breaks an
open: one warning names the file and the problem, and the defaults are used.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from . import _settings as settings
from ._engines.backends import BACKEND_NAMES

__all__ = (
    "PROFILE_VERSION",
    "TuningProfile",
    "default_profile",
    "load_profile",
    "profile_path",
    "resolve_profile",
)

PROFILE_VERSION: Final = 1
_DEFAULT_FILE: Final = Path(__file__).with_name("default_profile.json")
_WRITE_BACKENDS: Final = ("auto", "same", *BACKEND_NAMES)
SUBMIT_MODES: Final = ("immediate", "tick", "adaptive")


@dataclasses.dataclass(frozen=True)
class TuningProfile:
    """Routing thresholds (bytes unless named otherwise) and where they came from.

    The profile in force is the first of: ``async_open(..., profile=...)``,
    ``HYBRIDIO_PROFILE``, the user profile ``calibrate`` writes
    ([`user_path()`][hybridio.TuningProfile.user_path]), the profile shipped
    with the package; [`current()`][hybridio.TuningProfile.current] resolves it.

    Attributes:
        inline_max: Largest positional read tried inline in the loop thread (RWF_NOWAIT).
        inline_batch_max: Bytes one batch may serve inline before the rest goes
            to the kernel.
        max_chunk: Largest single kernel request (bounds the loop stall of one submission).
        thread_read_min: Reads at least this large are one pread in a worker thread.
        sync_submit_max: With a read backend that serves buffered reads inside
            the submit call (Linux AIO), the most bytes in one submission;
            larger reads are one pread in a thread.
        read_ahead: Read-ahead / write-behind buffer of kernel-served files
            (``access="auto"``).
        sequential_read_ahead: Read-ahead for ``access="sequential"``.
        random_read_ahead: Read-ahead for ``access="random"`` (small: a seek discards it).
        prefetch_min: A read-only file read front to back in pieces at least
            this large (two in a row) reads the next pieces early in threads.
        prefetch_depth: How many pieces such a file reads early (0: none).
        stream_chunk: Buffer of thread-served streams (one thread hop per buffer).
        max_requests: Requests one kernel context keeps in flight (ring size).
        thread_pool_size: Threads of the library's pool (0: Python's default);
            read when the pool is first created.
        write_backend: Kernel backend for writes and syncs: ``"auto"`` (Linux
            AIO when reads use io_uring and Linux AIO works), ``"same"``, or a
            backend name.
        sqpoll: Use io_uring SQPOLL (a kernel thread polling the ring).
        submit_mode: How single io_uring operations reach the kernel
            (``"immediate"``, ``"tick"``, ``"adaptive"``).
        sqpoll_depth: Past this many io_uring operations in flight, single
            ones go to a second ring with SQPOLL (0: never).
        miss_sqpoll: Reads that missed the page cache go to a second ring
            with SQPOLL while another read is in flight (a batch always).
        sqpoll_read_min: Cached positional reads of at least this many bytes
            go to that SQPOLL ring instead of inline while other tasks read
            too (0: never); needs ``miss_sqpoll``.
        open_inline: Open files in the loop thread on local filesystems instead
            of a thread hop.
        truncate_in_thread_min: Opening an existing file at least this large
            with ``"w"`` truncates it in a worker thread.
        source: Where the numbers come from: ``"builtin"``, a file path, or ``"argument"``.
        origin: What produced it (command, machine), as recorded by calibrate.
        measurements: The calibration measurements behind the thresholds, if any.

    ```python
    import json
    import hybridio

    custom = hybridio.TuningProfile(inline_max=64 * 1024, origin="hand-tuned")
    text = custom.to_json()                     # what `calibrate` writes
    again = hybridio.TuningProfile.from_mapping(json.loads(text), source="example")
    assert again.inline_max == 64 * 1024 and again.source == "example"
    print(hybridio.explain("any.bin", "wb", profile=custom).thresholds["inline_max"])
    ```
    """

    #: Largest positional read tried inline in the loop thread (RWF_NOWAIT): a
    #: 256 KiB memcpy is ~25 us, a bound on the stall.
    inline_max: int = 256 * 1024
    #: Bytes one batch may serve inline before the rest goes to the kernel.
    inline_batch_max: int = 4 << 20
    #: Largest single kernel request (bounds the loop stall of one submission).
    max_chunk: int = 1 << 20
    #: Reads at least this large are one pread in a worker thread: the syscall
    #: runs without the GIL, so the loop keeps running while the kernel copies
    #: into (and page-faults in) the result; in the loop thread, even in 1 MiB
    #: chunks, allocating and joining 256 MiB held the loop for ~130 ms.
    thread_read_min: int = 8 << 20
    #: With a read backend that serves buffered reads inside the submit call
    #: (Linux AIO), at most this many bytes go into one submission and larger
    #: reads are one pread in a thread: a cold read there waits for the disk
    #: with the loop held.
    sync_submit_max: int = 64 << 10
    #: Read-ahead / write-behind buffer of kernel-served files (access="auto").
    read_ahead: int = 128 * 1024
    #: Read-ahead for access="sequential".
    sequential_read_ahead: int = 1 << 20
    #: Read-ahead for access="random" (small: a seek discards it).
    random_read_ahead: int = 16 * 1024
    #: A read-only kernel-served file read front to back in pieces of at least
    #: this many bytes (two in a row) reads the next pieces early in worker
    #: threads: one copy each, on the other cores, where the loop thread made
    #: two.  1 MiB pieces, 4 early: 1.6x inline here; 256 KiB lost (0.65x).
    prefetch_min: int = 1 << 20
    #: How many pieces such a file reads early (0: none).
    prefetch_depth: int = 4
    #: Buffer of thread-served streams (one thread hop per buffer).
    stream_chunk: int = 256 * 1024
    #: Requests one kernel context keeps in flight (ring size).
    max_requests: int = 256
    #: Threads of the library's pool (0: Python's default for the CPU count);
    #: read when the pool is first created.
    thread_pool_size: int = 0
    #: Kernel backend for writes and syncs: "auto" (Linux AIO when reads use
    #: io_uring and Linux AIO works: it copies a buffered write inside
    #: io_submit, where io_uring hands it to a worker thread; measured 1.5-2x
    #: here), "same" (the read backend), or a backend name.
    write_backend: str = "auto"
    #: Use io_uring SQPOLL (a kernel thread polling the ring).
    sqpoll: bool = False
    #: How single io_uring operations reach the kernel: "immediate" (one
    #: io_uring_enter per operation), "tick" (the operations of one loop turn
    #: share one), "adaptive" (a lone operation at once, the rest per turn).
    submit_mode: str = "adaptive"
    #: Past this many io_uring operations in flight, single ones go to a second
    #: ring with SQPOLL (0: never).  ``calibrate`` measures whether that pays.
    sqpoll_depth: int = 0
    #: Reads that missed the page cache (of files read inline, so the ring
    #: serves little else) go to a second ring with SQPOLL: a single one
    #: whenever another read is in flight, a batch (``read_many``) always; a
    #: lone read keeps the plain ring.  ``calibrate`` measures whether that
    #: pays (with single reads).
    miss_sqpoll: bool = False
    #: Cached positional reads of at least this many bytes go to that SQPOLL
    #: ring instead of being served inline while other tasks read as well (a
    #: read by another task came just before, or one is on that ring): its
    #: kernel thread copies the pages on another core while the loop runs
    #: Python.  Warm 64 KiB reads, 16 in flight: 1.3-1.5x inline here; alone,
    #: a third of inline's rate, which is why one task's reads stay inline;
    #: with the other CPU busy, 0.7x (zarr's reads, decoding on that CPU, ran
    #: 2.9x slower), which is why the shipped profile leaves it off.
    #: 0: never.  Needs ``miss_sqpoll`` (the ring); ``calibrate`` measures it.
    sqpoll_read_min: int = 0
    #: Open files in the loop thread on local filesystems (a few us) instead of
    #: a thread hop (~95 us here).
    open_inline: bool = True
    #: Opening an existing file of at least this many bytes with "w" truncates
    #: it in a worker thread: dropping 256 MiB of cached pages inside the
    #: open() held the loop for ~80 ms here.
    truncate_in_thread_min: int = 4 << 20
    #: Where the numbers come from: "builtin", a file path, or "argument".
    source: str = "builtin"
    #: What produced it (command, machine), as recorded by calibrate.
    origin: str = ""
    #: The calibration measurements behind the thresholds, if any.
    measurements: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def thresholds(self) -> dict[str, Any]:
        """The routing numbers alone, for ``explain`` and ``info``."""
        skip = {"source", "origin", "measurements"}
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip
        }

    def to_json(self) -> str:
        """The profile as versioned JSON (what ``calibrate`` writes)."""
        data = {"version": PROFILE_VERSION, **self.thresholds()}
        data["origin"] = self.origin
        data["measurements"] = dict(self.measurements)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the profile atomically (temporary file, then rename)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        os.replace(tmp, target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TuningProfile:
        """Read a profile file; raises OSError or ValueError when it is unusable."""
        return load_profile(path)

    @staticmethod
    def current(profile: TuningProfile | str | os.PathLike[str] | None = None) -> TuningProfile:
        """The profile in force: argument, ``HYBRIDIO_PROFILE``, user config, shipped default."""
        return resolve_profile(profile)

    @staticmethod
    def user_path() -> Path:
        """Where ``calibrate`` saves by default and where the user profile is looked up."""
        return profile_path()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str) -> TuningProfile:
        """Build a profile from parsed JSON; ValueError says what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError("the top level is not a JSON object")
        version = data.get("version")
        if version != PROFILE_VERSION:
            raise ValueError(
                f"unsupported profile version {version!r} (expected {PROFILE_VERSION})"
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key == "version":
                continue
            if key not in fields or key == "source":
                raise ValueError(f"unknown key {key!r}")
            default = getattr(cls(), key)
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false, not {value!r}")
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{key} must be a non-negative integer, not {value!r}")
            elif isinstance(default, str):
                if not isinstance(value, str):
                    raise ValueError(f"{key} must be a string")
                if key == "write_backend" and value not in _WRITE_BACKENDS:
                    raise ValueError(f"write_backend must be one of {_WRITE_BACKENDS}")
                if key == "submit_mode" and value not in SUBMIT_MODES:
                    raise ValueError(f"submit_mode must be one of {SUBMIT_MODES}")
            elif not isinstance(value, Mapping):
                raise ValueError(f"{key} must be an object")
            values[key] = value
        for key in ("max_chunk", "max_requests", "read_ahead", "stream_chunk"):
            if key in values and values[key] == 0:
                raise ValueError(f"{key} must be positive")
        return cls(source=source, **values)


def _config_dir() -> Path:
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / "hybridio"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "hybridio"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hybridio"


#: The built-in numbers (the dataclass defaults): what a layer uses when it is
#: built without a plan, e.g. in a test.  The one home of every threshold.
BUILTIN: Final = TuningProfile()


def profile_path() -> Path:
    """Where ``calibrate`` saves by default and where the user profile is looked up."""
    return _config_dir() / "profile.json"


def load_profile(path: str | os.PathLike[str]) -> TuningProfile:
    """Read a profile file; raises OSError or ValueError when it is unusable."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    return TuningProfile.from_mapping(data, source=os.fspath(path))


_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int, int], TuningProfile]] = {}
_warned: set[tuple[str, str]] = set()


def _signature(st: os.stat_result) -> tuple[int, int, int]:
    """What tells a rewritten profile file from the one cached: the mtime in
    nanoseconds, the size, and the inode (``save`` renames a new file in)."""
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _load_cached(path: Path, *, required: bool = False) -> TuningProfile | None:
    """The profile at *path*, cached by its stat signature; None (with one warning) if unusable.

    A missing file is only worth a warning when the user named it (*required*).
    """
    key = os.fspath(path)
    try:
        signature = _signature(path.stat())
    except FileNotFoundError:
        if required:
            _warn_once(key, "no such file")
        return None
    except OSError as exc:
        _warn_once(key, str(exc))
        return None
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == signature:
            return hit[1]
    try:
        profile = load_profile(path)
    except (OSError, ValueError, TypeError) as exc:
        _warn_once(key, str(exc))
        return None
    with _cache_lock:
        _cache[key] = (signature, profile)
    return profile


def _warn_once(path: str, problem: str) -> None:
    if (path, problem) in _warned:
        return
    _warned.add((path, problem))
    warnings.warn(
        f"hybridio: ignoring tuning profile {path}: {problem}; using the defaults",
        RuntimeWarning,
        stacklevel=4,
    )


def default_profile() -> TuningProfile:
    """The profile shipped in the package, or the built-in numbers."""
    shipped = _load_cached(_DEFAULT_FILE)
    return shipped if shipped is not None else TuningProfile()


# The resolved default.  Every open asks, and a full lookup (pathlib, several
# stat calls, the environment) cost more than opening a small file, so it is
# kept for the settings generation (``hybridio.reload_settings()`` starts a new
# one) and the profile files' stat signatures are re-checked at most once per
# :data:`RECHECK_SECONDS`: a rewritten or recalibrated profile is picked up
# within that, and at once after ``reload_settings()``.
RECHECK_SECONDS: Final = 1.0
_Signature = tuple[int, int, int] | None
_resolved: tuple[tuple[str, _Signature, _Signature], TuningProfile, float, int] | None = None
_user_paths: dict[str, Path] = {}


def _forget_resolved() -> None:
    global _resolved
    _resolved = None


settings.on_reload(_forget_resolved)


def resolve_profile(profile: TuningProfile | str | os.PathLike[str] | None = None) -> TuningProfile:
    """The profile in force: argument, ``HYBRIDIO_PROFILE``, user config, shipped default."""
    global _resolved
    if isinstance(profile, TuningProfile):
        return profile
    if profile is not None:
        return _resolve_uncached(profile)
    now = time.monotonic()
    hit = _resolved
    if hit is not None and now - hit[2] < RECHECK_SECONDS:
        return hit[1]  # a reload_settings() drops it (_forget_resolved)
    generation = settings.current().generation
    env_profile = settings.current().profile
    env = "\0".join(
        (env_profile, os.environ.get("XDG_CONFIG_HOME", ""), os.environ.get("HOME", ""))
    )
    user = _user_paths.get(env)
    if user is None:
        user = _user_paths[env] = profile_path()
    key = (env, _stat_signature(env_profile), _stat_signature(user))
    if hit is not None and hit[0] == key and hit[3] == generation:
        _resolved = (key, hit[1], now, generation)
        return hit[1]
    found = _resolve_uncached(None)
    _resolved = (key, found, now, generation)
    return found


def _stat_signature(path: str | Path | None) -> _Signature:
    if not path:
        return None
    try:
        return _signature(os.stat(path))
    except (OSError, ValueError):
        return None


def _resolve_uncached(profile: str | os.PathLike[str] | None) -> TuningProfile:
    if profile is not None:
        found = _load_cached(Path(profile), required=True)
        if found is not None:
            return found
        return default_profile()
    env = settings.current().profile
    if env:
        found = _load_cached(Path(env), required=True)
        if found is not None:
            return found
        return default_profile()
    user = _load_cached(profile_path())
    if user is not None:
        return user
    return default_profile()
