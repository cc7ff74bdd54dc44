"""The argument checks: C's argument parsing for sizes, offsets and C ints, and
TextIOWrapper's for encoding, errors and newline.

Re-exported by :mod:`hybridio._layers.base` and :mod:`hybridio._layers.textcore`,
where the layers import them from.
"""

from __future__ import annotations

import codecs
import errno
import io
import operator
import os
import sys
from typing import Any, Final

#: The largest file offset (``off_t``) and ``Py_ssize_t``: 2**63 - 1 on 64-bit.
OFF_MAX: Final = 2**63 - 1
_SSIZE_MAX: Final = sys.maxsize


# -- argument validation: ONE set of checks for every layer and engine ---------
#
# Each converter raises what the C implementation's argument parsing raises for
# the same parameter, so a bad value fails up front, before any I/O, on every
# engine (an io_uring offset >= 2**64 would otherwise wrap around).  bool is an
# int there, and so is anything with __index__ (numpy integers).


def check_size(size: object) -> int:
    """A read size as ``read``/``readline``/``readlines`` take it: None/negative mean 'all'."""
    if size is None:
        return -1
    if not hasattr(size, "__index__"):
        raise TypeError(f"argument should be integer or None, not '{type(size).__name__}'")
    n = operator.index(size)
    if not -_SSIZE_MAX - 1 <= n <= _SSIZE_MAX:
        raise OverflowError("cannot fit 'int' into an index-sized integer")
    return n


def as_ssize(value: object) -> int:
    """A ``Py_ssize_t`` argument (``read1``, ``os.pread``'s length)."""
    n = operator.index(value)  # type: ignore[arg-type]
    if not -_SSIZE_MAX - 1 <= n <= _SSIZE_MAX:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return n


def as_off_t(value: object) -> int:
    """An ``off_t`` argument (``FileIO.seek``/``truncate``, ``os.pread``'s offset)."""
    n = operator.index(value)  # type: ignore[arg-type]
    if not -OFF_MAX - 1 <= n <= OFF_MAX:
        raise OverflowError("Python int too large to convert to C long")
    return n


def as_index(value: object) -> int:
    """An int from any ``__index__`` object, with the stdlib's TypeError otherwise."""
    return operator.index(value)  # type: ignore[arg-type]


def seek_offset(offset: object, *, raw: bool) -> int:
    """A ``seek()`` offset: ``FileIO`` raises OverflowError past ``off_t``, the
    buffered classes ValueError."""
    if raw:
        return as_off_t(offset)
    n = operator.index(offset)  # type: ignore[arg-type]
    if not -OFF_MAX - 1 <= n <= OFF_MAX:
        raise ValueError("cannot fit 'int' into an offset-sized integer")
    return n


def seek_target(target: int) -> int:
    """The absolute position a seek arrives at; EINVAL as ``lseek`` outside ``off_t``."""
    if not 0 <= target <= OFF_MAX:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    return target


def as_c_int(value: object) -> int:
    """A C ``int`` argument (``whence``; ``BufferedIOBase.read``'s size)."""
    n = operator.index(value)  # type: ignore[arg-type]
    if not -(2**31) <= n < 2**31:
        raise OverflowError("Python int too large to convert to C int")
    return n


def check_offset(offset: object) -> int:
    """A positional call's offset: ``os.pread``'s conversion, and ValueError when negative."""
    value = as_off_t(offset)
    if value < 0:
        raise ValueError(f"negative offset: {value}")
    return value


def check_count(size: object) -> int:
    """A positional call's size: ``os.pread``'s conversion, and ValueError when negative."""
    n = as_ssize(size)
    if n < 0:
        raise ValueError(f"negative size: {n}")
    return n


def check_span(offset: int, size: int) -> None:
    """EINVAL, as the kernel gives it, for a range that ends past the largest offset."""
    if size and offset + size > OFF_MAX:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))


def check_truncate_size(size: object) -> int | None:
    """``truncate()``'s size: None (the position) or an ``off_t``; negative is EINVAL."""
    if size is None:
        return None
    n = as_off_t(size)
    if n < 0:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    return n


# -- TextIOWrapper(encoding, errors, newline) ----------------------------------

_text_encoding: Any = getattr(io, "text_encoding")  # noqa: B009 - missing from some typesheds


def _locale_encoding() -> str:
    import locale

    getencoding = getattr(locale, "getencoding", None)  # Python >= 3.11
    if getencoding is not None:
        return str(getencoding())
    return locale.getpreferredencoding(False)  # pragma: no cover - Python 3.10


def check_text_args(
    encoding: object, errors: object, newline: object, *, stacklevel: int = 2
) -> tuple[str, str, codecs.CodecInfo]:
    """TextIOWrapper's argument checks, in its order and with its messages:
    ``(encoding, errors, codec)``, the encoding resolved (``None`` and
    ``"locale"``) and the error handler defaulted to ``"strict"``.

    *stacklevel* is the caller's level for the ``EncodingWarning`` of a
    missing encoding (2: whoever called the function that calls this).
    """
    if newline is not None and not isinstance(newline, str):
        raise TypeError(
            f"TextIOWrapper() argument 'newline' must be str or None, not {type(newline).__name__}"
        )
    if newline not in (None, "", "\n", "\r", "\r\n"):
        raise ValueError(f"illegal newline value: {newline}")
    if encoding is not None and not isinstance(encoding, str):
        raise TypeError(
            f"TextIOWrapper() argument 'encoding' must be str or None, "
            f"not {type(encoding).__name__}"
        )
    if errors is not None and not isinstance(errors, str):
        raise TypeError(
            f"TextIOWrapper() argument 'errors' must be str or None, not {type(errors).__name__}"
        )
    name: str = _text_encoding(encoding, stacklevel + 1)
    if name == "locale":
        name = _locale_encoding()
    codec = codecs.lookup(name)
    if not codec._is_text_encoding:
        raise LookupError(
            f"{name!r} is not a text encoding; use codecs.open() to handle arbitrary codecs"
        )
    return name, "strict" if errors is None else errors, codec
