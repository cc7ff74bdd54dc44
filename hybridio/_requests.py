"""An ``async_open()`` call's arguments, checked the way ``open()`` checks them.

Every argument is validated synchronously when ``async_open()`` is *called*,
before any fd, thread or ring exists (RELIABILITY B1-B3).
"""

from __future__ import annotations

import operator
import os
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, Union

from ._compression import Compression
from ._engines import kernel
from ._modes import FileMode, check_open_args, parse_mode
from ._profile import TuningProfile, resolve_profile
from ._selector import ACCESS_VALUES, Strategy

if TYPE_CHECKING:
    from _typeshed import StrOrBytesPath

__all__ = ("BackendName", "FileArg", "Opener")


FileArg = Union["StrOrBytesPath", int]


Opener = Callable[[str, int], int]


BackendName = Literal["uring", "linux", "thread", "python"]


def _request(
    file: Any,
    mode: str,
    buffering: int,
    encoding: str | None,
    errors: str | None,
    newline: str | None,
    closefd: bool,
    opener: Opener | None,
    compression: Compression | str | None,
    compresslevel: int | None,
    backend: str | None,
    executor: Executor | None,
    strategy: Strategy | str,
    access: str,
    profile: TuningProfile | str | os.PathLike[str] | None,
    atomic: bool,
) -> _Request:
    """Every argument checked the way ``open()`` checks it, before any fd exists."""
    if (
        type(file) is str
        and buffering == -1
        and profile is None
        and strategy is Strategy.AUTO
        and access == "auto"
        and closefd is True
        and opener is None
        and compression is None
        and compresslevel is None
        and backend is None
        and executor is None
        and encoding is None
        and errors is None
        and newline is None
        and not atomic
        and "\0" not in file
    ):
        # A path and a binary mode with every other argument at its default:
        # nothing to check beyond the mode (most opens; this saves ~1 us each).
        known = _BINARY_DEFAULTS.get(mode)
        if known is not None:
            # tuple.__new__: a NamedTuple's own __new__ is Python code.
            return tuple.__new__(_Request, (
                file, known, -1, True, None, Compression.NONE, None, None, None,
                Strategy.AUTO, "auto", resolve_profile(None),
            ))  # fmt: skip
    fmode = parse_mode(mode, stacklevel=4)
    buffering = check_open_args(fmode, buffering, encoding, errors, newline, stacklevel=3)
    file = _check_file(file)
    if not closefd and not isinstance(file, int):
        raise ValueError("Cannot use closefd=False with file name")
    comp, strat = _check_engine_args(
        file, fmode, opener, compression, compresslevel, backend, strategy, access, atomic
    )
    return _Request(
        file, fmode, buffering, closefd, opener, comp, compresslevel, backend, executor,
        strat, access, resolve_profile(profile),
    )  # fmt: skip


def _check_engine_args(
    file: Any,
    fmode: FileMode,
    opener: Opener | None,
    compression: Compression | str | None,
    compresslevel: int | None,
    backend: str | None,
    strategy: Strategy | str,
    access: str,
    atomic: bool,
) -> tuple[Compression, Strategy]:
    """Check hybridio's own arguments; the compression and strategy they name."""
    if backend is not None and backend not in kernel.BACKEND_NAMES:
        raise ValueError(f"unknown backend {backend!r}; expected one of {kernel.BACKEND_NAMES}")
    comp = Compression.coerce(compression) if compression is not None else Compression.NONE
    if compresslevel is not None and comp is Compression.NONE:
        raise ValueError("compresslevel is only valid with compression")
    strat = strategy if type(strategy) is Strategy else Strategy(strategy)
    if access not in ACCESS_VALUES:
        raise ValueError(f"access must be one of {ACCESS_VALUES}, not {access!r}")
    if strat is Strategy.THREAD and backend is not None:
        raise ValueError("backend= selects a kernel backend; it cannot go with strategy=THREAD")
    if atomic:
        from ._atomic import check_atomic_args

        check_atomic_args(file, fmode, opener)
    return comp, strat


#: The binary modes the argument fast path of :func:`_request` knows.
_BINARY_DEFAULTS: Final = {m: parse_mode(m) for m in ("rb", "wb", "ab", "xb", "r+b", "w+b", "a+b")}


def _check_file(file: Any) -> Any:
    """*file* as ``io.open`` takes it: a path via ``os.fspath`` (so ``name`` is
    a str or bytes, never a Path), or an fd from anything with ``__index__``."""
    if isinstance(file, os.PathLike):
        file = os.fspath(file)
    if isinstance(file, (str, bytes)):
        if (isinstance(file, str) and "\0" in file) or (isinstance(file, bytes) and b"\0" in file):
            raise ValueError("embedded null byte")  # FileIO's wording, not os.open's
        return file
    if isinstance(file, float) or not hasattr(file, "__index__"):
        raise TypeError(f"expected str, bytes or os.PathLike object, not {type(file).__name__}")
    if isinstance(file, bool) and sys.version_info >= (3, 12):
        warnings.warn("bool is used as a file descriptor", RuntimeWarning, stacklevel=3)
    return operator.index(file)


class _Request(NamedTuple):
    """One call's arguments, validated (a tuple: built on every open)."""

    file: Any
    fmode: FileMode
    buffering: int
    closefd: bool
    opener: Opener | None
    compression: Compression
    compresslevel: int | None
    backend: str | None
    executor: Executor | None
    strategy: Strategy
    access: str
    profile: TuningProfile
