"""Exceptions of hybridio's own (everything else is the stdlib's)."""

from __future__ import annotations

from typing import Any

__all__ = ("BatchError", "finish_batch")


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
