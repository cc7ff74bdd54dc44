"""Environment overrides, read once: ``HYBRIDIO_BACKEND``, ``HYBRIDIO_SQPOLL``,
``HYBRIDIO_INLINE`` and ``HYBRIDIO_PROFILE``.

Every open used to scan ``os.environ`` about seven times; now the variables are
read on first use and kept.  A program that changes them at run time calls
:func:`reload_settings` (which also forgets the resolved tuning profile and the
cached plans, so the next open sees the change).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable

__all__ = ("Settings", "current", "on_reload", "reload_settings")


def _flag(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


@dataclasses.dataclass(frozen=True)
class Settings:
    """A snapshot of the environment overrides."""

    #: HYBRIDIO_BACKEND as given (lower-cased, stripped); "" when unset.
    backend: str
    #: HYBRIDIO_SQPOLL=1: io_uring contexts poll with a kernel thread.
    sqpoll: bool
    #: HYBRIDIO_INLINE=0: no inline page-cache reads.
    inline_disabled: bool
    #: HYBRIDIO_PROFILE: the tuning profile file to use, or "".
    profile: str
    #: Bumped by every reload: caches keyed by it are invalidated.
    generation: int

    @classmethod
    def read(cls, generation: int) -> Settings:
        """Read the variables now."""
        inline = os.environ.get("HYBRIDIO_INLINE", "1").strip().lower()
        return cls(
            backend=os.environ.get("HYBRIDIO_BACKEND", "").strip().lower(),
            sqpoll=_flag("HYBRIDIO_SQPOLL", ""),
            inline_disabled=inline in ("0", "false", "no", "off"),
            profile=os.environ.get("HYBRIDIO_PROFILE", ""),
            generation=generation,
        )


_lock = threading.Lock()
_current: Settings | None = None
_listeners: list[Callable[[], None]] = []


def current() -> Settings:
    """The settings in force (read from the environment on first use)."""
    settings = _current
    if settings is None:
        settings = reload_settings()
    return settings


def reload_settings() -> Settings:
    """Read the ``HYBRIDIO_*`` variables again and drop what was derived from them."""
    global _current
    with _lock:
        generation = 0 if _current is None else _current.generation + 1
        _current = Settings.read(generation)
        settings = _current
    for listener in list(_listeners):
        listener()
    return settings


def on_reload(listener: Callable[[], None]) -> None:
    """Call *listener* after every :func:`reload_settings` (caches register here)."""
    _listeners.append(listener)
