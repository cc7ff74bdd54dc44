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

    Attributes:
        backend: The kernel backend of the file (``"uring"``, ``"linux"``,
            ``"thread"``, ``"python"``), or ``"threads"`` for a thread-served file.
        write_backend: The backend writes and syncs used, when it differs.
        inline_ops: Reads served inline from the page cache (no suspension).
        inline_bytes: Bytes those reads returned.
        inline_misses: Inline attempts that found the data uncached (EAGAIN).
        inline_skipped: Reads sent straight to the kernel while the inline
            path backed off after a streak of misses.
        kernel_ops: Requests completed by the kernel engine.
        kernel_bytes: Bytes those requests moved.
        thread_ops: Calls run in a worker thread.
        thread_bytes: Bytes those calls moved.
        inline_disabled_reason: Why inline reads are off for this file, if
            they are (``HYBRIDIO_INLINE=0``, a filesystem refusing RWF_NOWAIT, ...).

    ```python
    import hybridio

    async with hybridio.async_open("stats.bin", "w+b") as f:
        await f.write(bytes(4096))
        await f.flush()
        await f.read_at(0, 4096)
        stats = f.stats
        assert stats.ops >= 1 and stats.backend == f.backend
    ```
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
