"""The one close contract every layer follows (RELIABILITY F3, X3).

``close()`` on any hybridio file -- kernel-served, thread-served, compressed or
text -- behaves the same way:

* it is idempotent: once a close has started, later calls wait for it (if it
  still runs) and return without raising;
* it runs to completion even when the caller is cancelled, any number of
  times: buffered bytes are landed and the fd is released whatever happens
  (trio's ``aclose`` rule);
* a flush error surfaces from the first call, and the fd is released anyway;
  when releasing the fd fails too, that error is raised with the flush error
  as ``__context__`` (``try``/``finally`` chaining, as ``_pyio`` does);
* when the close was also cancelled, ``asyncio.CancelledError`` is delivered
  after the file is closed, with the flush or close error as its
  ``__cause__``: ``except CancelledError`` code (task groups, timeouts) keeps
  working, and the error is still in the traceback, not lost.

Garbage collection of an unclosed file is the other way a file ends: it emits
a ``ResourceWarning`` and lands the buffered bytes with blocking calls.  If
that fails the bytes are lost, and :func:`report_lost_write` makes the loss
loud: the error (with its errno) escapes ``__del__``, so Python reports it
through ``sys.unraisablehook`` ("Exception ignored in ...").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

__all__ = ("Closable", "close_once", "report_lost_write")


class Closable(Protocol):
    """What :func:`close_once` needs of a file: where it keeps its close task."""

    _close_task: asyncio.Task[None] | None

    @property
    def closed(self) -> bool:
        """True once the file is closed."""
        ...


async def close_once(file: Closable, do_close: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Close *file* (once) and deliver the outcome as the module docstring says.

    *do_close* flushes and releases the fd (the release in a ``finally``) and
    may raise; it runs in a task of its own, stored in ``file._close_task``,
    so no cancellation of a caller reaches it.
    """
    task = file._close_task
    if task is None and file.closed:
        return  # closed without a close task (GC, a cancelled open, a plain close)
    first = task is None
    if task is None:
        task = file._close_task = asyncio.ensure_future(do_close())
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            # wait(), not shield(): a shield re-raises the task's error the
            # moment it ends, before we could deliver a cancellation taken
            # meanwhile (how kernel files used to drop it).
            await asyncio.wait((task,))
        except asyncio.CancelledError as exc:
            cancelled = exc  # delivered below, its message kept
    error: BaseException | None = None
    if task.cancelled():
        # Only the loop shutting down cancels the close task itself.
        cancelled = cancelled or asyncio.CancelledError()
    else:
        error = task.exception()  # also marks it retrieved
    if not first:
        error = None  # the first caller is the one told
    if cancelled is not None:
        if error is not None:
            raise cancelled from error
        raise cancelled
    if error is not None:
        raise error


def report_lost_write(exc: BaseException, owner: object, nbytes: int) -> BaseException:
    """*exc* annotated for ``__del__`` to re-raise: *nbytes* buffered bytes of
    the unclosed file *owner* could not be written when it was reclaimed."""
    note = (
        f"hybridio: {nbytes} buffered bytes of the unclosed file {owner!r} were lost "
        "when it was garbage-collected"
    )
    add_note: Any = getattr(exc, "add_note", None)
    if add_note is not None:  # Python >= 3.11
        add_note(note)
    return exc
