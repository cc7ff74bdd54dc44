"""Exceptions of hybridio's own (everything else is the stdlib's)."""

from __future__ import annotations

import os
from typing import Any

__all__ = ("BatchError", "finish_batch", "named")


class BatchError(OSError):
    """Some operations of a batch (``read_many``, ``write_many``, ...) failed.

    Raised only after every operation of the batch completed, so nothing is
    left in flight.  ``errors`` maps request indices to their exceptions;
    ``results`` holds every result in request order, exceptions included.
    """

    def __init__(self, errors: dict[int, BaseException], results: list[Any]) -> None:
        first_index = min(errors)
        first = errors[first_index]
        code = first.errno if isinstance(first, OSError) else None
        indices = sorted(errors)
        shown = ", ".join(map(str, indices[:10])) + (", ..." if len(indices) > 10 else "")
        message = (
            f"{len(errors)} of {len(results)} operations failed (indices {shown}); first: {first!r}"
        )
        if code is None:
            super().__init__(message)
        else:
            super().__init__(code, message)
        self.errors = errors
        self.results = results


def finish_batch(results: list[Any], return_exceptions: bool) -> list[Any]:
    """Return *results*, or raise :class:`BatchError` if any is an exception."""
    if not return_exceptions:
        errors = {i: r for i, r in enumerate(results) if isinstance(r, BaseException)}
        if errors:
            raise BatchError(errors, results)
    return results


def named(exc: OSError, name: Any) -> OSError:
    """*exc* with the file's name attached, as open() reports it (when it has
    none and the file was opened by name, not by fd)."""
    if exc.filename is None and isinstance(name, (str, bytes, os.PathLike)):
        return OSError(exc.errno, exc.strerror, os.fspath(name))
    return exc
