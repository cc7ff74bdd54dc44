"""Per-file counters of which engine served how many operations and bytes."""

from __future__ import annotations

import dataclasses

__all__ = ("IOStats",)


@dataclasses.dataclass(frozen=True)
class IOStats:
    """A snapshot of ``f.stats``: what actually served this file's I/O.

    ``inline_*`` are page-cache hits served in the event-loop thread without
    suspending; ``inline_misses`` are inline attempts that had to go to the
    kernel, ``inline_skipped`` reads sent straight there while the inline
    path backed off after a streak of misses (cold data); ``kernel_*`` went
    through the kernel engine (``backend`` names it; ``write_backend`` the one
    writes and syncs used, when it differs);
    ``thread_*`` through the thread engine.
    """

    backend: str
    write_backend: str | None = None
    inline_ops: int = 0
    inline_bytes: int = 0
    inline_misses: int = 0
    inline_skipped: int = 0
    kernel_ops: int = 0
    kernel_bytes: int = 0
    thread_ops: int = 0
    thread_bytes: int = 0
    inline_disabled_reason: str | None = None

    @property
    def ops(self) -> int:
        """All operations, whichever engine served them."""
        return self.inline_ops + self.kernel_ops + self.thread_ops
