"""Mode strings -> :class:`FileMode`, with the builtin ``open()``'s errors.

The checks and messages follow ``_pyio.open`` (the reference the C ``io.open``
mirrors), so a bad mode is refused before any fd, thread or ring exists.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings

from ._layers.base import as_c_int

__all__ = ("FileMode", "check_open_args", "parse_mode")


@dataclasses.dataclass(frozen=True)
class FileMode:
    """A parsed mode string: which direction, creation flags and text/binary.

    The derived answers (``readable``, ``os_flags``, ...) are worked out once,
    when the mode is parsed: every open asks several of them.
    """

    mode: str
    reading: bool
    writing: bool
    appending: bool
    creating: bool
    updating: bool
    text: bool
    #: True for ``"b"`` modes.
    binary: bool = dataclasses.field(init=False, compare=False, repr=False)
    #: The file can be read from (``r`` or any ``+`` mode).
    readable: bool = dataclasses.field(init=False, compare=False, repr=False)
    #: The file can be written to (``w``, ``a``, ``x`` or ``+``).
    writable: bool = dataclasses.field(init=False, compare=False, repr=False)
    #: The mode the stdlib reports for the raw/binary file (``FileIO.mode``).
    raw_mode: str = dataclasses.field(init=False, compare=False, repr=False)
    #: Flags for ``os.open`` as ``FileIO`` computes them.
    os_flags: int = dataclasses.field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        derived = {
            "binary": not self.text,
            "readable": self.reading or self.updating,
            "writable": self.writing or self.appending or self.creating or self.updating,
            "raw_mode": self._raw_mode(),
            "os_flags": self._os_flags(),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def _raw_mode(self) -> str:
        if self.creating:
            return "xb+" if self.updating else "xb"
        if self.appending:
            return "ab+" if self.updating else "ab"
        if self.reading:
            return "rb+" if self.updating else "rb"
        return "rb+" if self.updating else "wb"

    def _os_flags(self) -> int:
        if self.creating:
            flags = os.O_EXCL | os.O_CREAT
        elif self.writing:
            flags = os.O_CREAT | os.O_TRUNC
        elif self.appending:
            flags = os.O_APPEND | os.O_CREAT
        else:
            flags = 0
        if self.updating:
            flags |= os.O_RDWR
        elif self.reading:
            flags |= os.O_RDONLY
        else:
            flags |= os.O_WRONLY
        return flags | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def _typename(obj: object) -> str:
    return "None" if obj is None else type(obj).__name__


#: Python 3.10 still takes the deprecated "U" (universal newlines) mode.
_MODE_CHARS = "axrwb+t" + ("U" if sys.version_info < (3, 11) else "")


_parsed: dict[str, FileMode] = {}


def parse_mode(mode: object, *, stacklevel: int = 2) -> FileMode:
    """Parse *mode* exactly as the builtin ``open()`` does, or raise its error.

    *stacklevel* points the 3.10 "'U' mode is deprecated" warning at the caller.
    Valid modes are remembered: every open parses one, and the parse cost as
    much as the rest of the call.
    """
    if type(mode) is str:
        known = _parsed.get(mode)
        if known is not None:
            return known
        parsed = _parse_mode(mode, stacklevel + 1)
        if "U" not in mode and len(_parsed) < 256:  # "U" warns on every use
            _parsed[mode] = parsed
        return parsed
    return _parse_mode(mode, stacklevel + 1)


def _parse_mode(mode: object, stacklevel: int) -> FileMode:
    if not isinstance(mode, str):
        raise TypeError(f"open() argument 'mode' must be str, not {_typename(mode)}")
    modes = set(mode)
    if modes - set(_MODE_CHARS) or len(mode) > len(modes):
        raise ValueError(f"invalid mode: {mode!r}")
    creating = "x" in modes
    reading = "r" in modes
    writing = "w" in modes
    appending = "a" in modes
    updating = "+" in modes
    text = "t" in modes
    binary = "b" in modes
    if "U" in modes:  # Python 3.10 only (see _MODE_CHARS)
        if creating or writing or appending or updating:
            raise ValueError("mode U cannot be combined with 'x', 'w', 'a', or '+'")
        warnings.warn("'U' mode is deprecated", DeprecationWarning, stacklevel=stacklevel)
        reading = True
    if text and binary:
        raise ValueError("can't have text and binary mode at once")
    if creating + reading + writing + appending > 1:
        raise ValueError("must have exactly one of create/read/write/append mode")
    if not (creating or reading or writing or appending):
        raise ValueError(
            "Must have exactly one of create/read/write/append mode and at most one plus"
        )
    return FileMode(
        mode=mode,
        reading=reading,
        writing=writing,
        appending=appending,
        creating=creating,
        updating=updating,
        text=not binary,
    )


def check_open_args(
    fmode: FileMode,
    buffering: object,
    encoding: object,
    errors: object,
    newline: object,
    *,
    stacklevel: int = 2,
) -> int:
    """Validate the other ``open()`` arguments against the mode, as ``io.open``.

    Returns *buffering* as an int: like ``open()``, anything with
    ``__index__`` (a numpy integer) is accepted.  The warning for line
    buffering in binary mode names the frame *stacklevel* levels up.
    """
    buffering = as_c_int(buffering)
    if encoding is not None and not isinstance(encoding, str):
        raise TypeError(
            f"open() argument 'encoding' must be str or None, not {_typename(encoding)}"
        )
    if errors is not None and not isinstance(errors, str):
        raise TypeError(f"open() argument 'errors' must be str or None, not {_typename(errors)}")
    if newline is not None and not isinstance(newline, str):
        raise TypeError(f"open() argument 'newline' must be str or None, not {_typename(newline)}")
    if fmode.binary:
        if encoding is not None:
            raise ValueError("binary mode doesn't take an encoding argument")
        if errors is not None:
            raise ValueError("binary mode doesn't take an errors argument")
        if newline is not None:
            raise ValueError("binary mode doesn't take a newline argument")
    elif buffering == 0:
        raise ValueError("can't have unbuffered text I/O")
    if newline is not None and newline not in ("", "\n", "\r", "\r\n"):
        raise ValueError(f"illegal newline value: {newline}")
    if fmode.binary and buffering == 1:
        warnings.warn(
            "line buffering (buffering=1) isn't supported in binary mode, "
            "the default buffer size will be used",
            RuntimeWarning,
            stacklevel=stacklevel + 1,
        )
    return buffering
