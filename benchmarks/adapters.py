"""One small adapter per library, all with the same interface.

An :class:`Adapter` opens files; the :class:`BenchFile` it returns offers

- ``read_at(offset, size)`` -- a positional read (stream-API peers: seek + read,
  so the workloads give them one handle per concurrent worker);
- ``read(n)``, ``write(data)``, ``iter_lines()``, ``fsync()``, ``close()``;
- ``backend`` -- the engine that actually served the file, as the library says
  (for hybridio: the file object's ``backend`` attribute, never what was asked).

An adapter that cannot run at all raises :class:`Unavailable` from ``check()``;
one that does not support a workload raises :class:`Unsupported` from ``open()``
or from the method.  Both become a "skipped" row with the reason in the report.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import hashlib
import importlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

__all__ = (
    "Adapter",
    "BenchFile",
    "Unavailable",
    "Unsupported",
    "all_adapters",
)


class Unavailable(Exception):
    """The adapter cannot run here (import failed, backend missing, ...)."""


class Unsupported(Exception):
    """The adapter has no way to do what a workload asks."""


def _binary(mode: str) -> bool:
    return "b" in mode


class BenchFile:
    """The common file interface the workloads use."""

    backend: str = "unknown"

    async def read_at(self, offset: int, size: int) -> bytes:
        raise Unsupported("no positional or seekable read")

    async def read_many(self, requests: list[tuple[int, int]]) -> list[bytes]:
        raise Unsupported("no batched read")

    async def read(self, n: int = -1) -> Any:
        raise Unsupported("no read")

    async def write(self, data: Any) -> int:
        raise Unsupported("no write")

    def iter_lines(self) -> AsyncIterator[Any]:
        raise Unsupported("no line iteration")

    async def fsync(self) -> None:
        raise Unsupported("no fsync")

    async def close(self) -> None:
        raise NotImplementedError


class Adapter:
    """Opens :class:`BenchFile` objects for one library (and one backend)."""

    #: Row name in the report.
    name: str = "?"
    #: Library the row belongs to ("blocking" for the baseline).
    library: str = "?"
    #: "baseline", "hybridio" or "peer".
    role: str = "peer"
    #: ``read_at`` is a true positional read: concurrent workers share one handle.
    positional: bool = False
    #: ``read_many`` is served by one batched call (the "hybridio read_many" row).
    batched: bool = False
    #: Only run in the chunk-I/O workloads (forced backends, alternative contexts).
    chunk_only: bool = False
    #: File operations the library has no way to do, with the reason (the
    #: workloads that need one are "n/a" rows without being run).
    lacks: ClassVar[dict[str, str]] = {}

    def check(self) -> None:
        """Raise :class:`Unavailable` if the adapter cannot run here."""

    async def setup(self) -> None:
        """Create per-event-loop resources (caio contexts)."""

    async def teardown(self) -> None:
        """Release what :meth:`setup` created."""

    async def open(self, path: str, mode: str, *, gzip_: bool = False) -> BenchFile:
        raise NotImplementedError

    def take_stats(self) -> dict[str, int] | None:
        """Engine counters of the files opened since the last call (hybridio only)."""
        return None

    # Whole-file jobs (the bulk workloads).  ``bulk`` names the ones this
    # library has an equivalent for; the others are "n/a" rows.
    bulk: frozenset[str] = frozenset()

    async def hash_file(self, path: str) -> str:
        """blake2b hex digest of *path*."""
        raise Unsupported("no whole-file hash")

    async def copy(self, src: str, dst: str) -> None:
        """Copy *src*'s content to *dst*."""
        raise Unsupported("no file copy")

    async def read_bytes(self, path: str) -> bytes:
        """The whole content of *path*."""
        raise Unsupported("no whole-file read")


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # ImportError, or anything a broken package raises
        raise Unavailable(f"import {name} failed: {type(exc).__name__}: {exc}") from exc


# --------------------------------------------------------------------------- baseline


class _BlockingFile(BenchFile):
    backend = "blocking"

    def __init__(self, f: Any) -> None:
        self.f = f
        self.fd: int | None = None
        try:
            self.fd = f.fileno()
        except (AttributeError, OSError):
            self.fd = None

    async def read_at(self, offset: int, size: int) -> bytes:
        if self.fd is None:
            raise Unsupported("not a plain file")
        return os.pread(self.fd, size, offset)

    async def read(self, n: int = -1) -> Any:
        return self.f.read(n)

    async def write(self, data: Any) -> int:
        return int(self.f.write(data))

    async def iter_lines(self) -> AsyncIterator[Any]:  # type: ignore[override]
        for line in self.f:
            yield line

    async def fsync(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())

    async def close(self) -> None:
        self.f.close()


class BlockingAdapter(Adapter):
    """The floor: the plain blocking call run directly in the coroutine."""

    name = "blocking (baseline)"
    library = "blocking"
    role = "baseline"
    positional = True

    async def open(self, path: str, mode: str, *, gzip_: bool = False) -> BenchFile:
        if gzip_:
            return _BlockingFile(gzip.open(path, mode, encoding=_enc(mode)))
        return _BlockingFile(open(path, mode, encoding=_enc(mode)))

    bulk = frozenset({"hash_file", "copy", "read_bytes"})

    async def hash_file(self, path: str) -> str:
        # The synchronous hashlib loop a user would write (1 MiB readinto).
        digest = hashlib.blake2b()
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                digest.update(view[:n])
        return digest.hexdigest()

    async def copy(self, src: str, dst: str) -> None:
        shutil.copyfile(src, dst)

    async def read_bytes(self, path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()


def _enc(mode: str) -> str | None:
    return None if _binary(mode) else "utf-8"


# --------------------------------------------------------------------------- hybridio


class _AwaitedFile(BenchFile):
    """A file whose read/write/fsync/close are coroutines and which has a
    positional ``read_at`` (hybridio, turbofile); *label* names it in errors."""

    label = "this library's"

    def __init__(self, f: Any) -> None:
        self.f = f

    async def read_at(self, offset: int, size: int) -> bytes:
        method = getattr(self.f, "read_at", None)
        if method is None:
            raise Unsupported(f"{self.label} file has no read_at")
        return await method(offset, size)  # type: ignore[no-any-return]

    async def read(self, n: int = -1) -> Any:
        return await self.f.read(n)

    async def write(self, data: Any) -> int:
        return int(await self.f.write(data))

    def iter_lines(self) -> AsyncIterator[Any]:
        return self.f.__aiter__()  # type: ignore[no-any-return]

    async def fsync(self) -> None:
        method = getattr(self.f, "fsync", None)
        if method is None:
            raise Unsupported(f"{self.label} file has no fsync")
        await method()

    async def close(self) -> None:
        await self.f.close()


class _HybridioFile(_AwaitedFile):
    label = "hybridio"

    def __init__(self, f: Any) -> None:
        super().__init__(f)
        backend = getattr(f, "backend", None)
        if backend is None:
            backend = getattr(getattr(f, "buffer", None), "backend", None)
        self.backend = str(backend) if backend is not None else "unknown"

    async def read_many(self, requests: list[tuple[int, int]]) -> list[bytes]:
        method = getattr(self.f, "read_many", None)
        if method is None:
            raise Unsupported("hybridio file has no read_many (not landed yet)")
        return await method(requests)  # type: ignore[no-any-return]

    def stats(self) -> dict[str, int] | None:
        """hybridio's per-file counters (``f.stats``): what really served the I/O."""
        for obj in (self.f, getattr(self.f, "buffer", None)):
            st = getattr(obj, "stats", None) if obj is not None else None
            if st is None:
                continue
            try:
                st = st() if callable(st) else st
            except Exception:
                return None
            return {k: int(getattr(st, k, 0) or 0) for k in _STAT_FIELDS}
        return None


_STAT_FIELDS = (
    "inline_ops",
    "inline_bytes",
    "inline_misses",
    "kernel_ops",
    "kernel_bytes",
    "thread_ops",
    "thread_bytes",
)


#: The files of one cell whose engine counters are all kept ("served by");
#: past that, every STATS_EVERY-th file's.
STATS_ALL = 256
STATS_EVERY = 64


class HybridioAdapter(Adapter):
    """``hybridio.async_open`` with AUTO routing or a forced backend.

    Its "served by" counters come from every file of a cell up to
    :data:`STATS_ALL` files, and from a sample of the files past that.
    """

    library = "hybridio"
    role = "hybridio"
    positional = True

    def __init__(
        self,
        backend: str | None = None,
        *,
        batched: bool = False,
        strategy: str | None = None,
        submit: str | None = None,
    ) -> None:
        self.forced = backend
        self.strategy = strategy
        self.batched = batched
        #: A way of submitting io_uring reads other than the profile's (the
        #: depth sweep compares them): "immediate", "tick", "adaptive", "sqpoll",
        #: "deep16" (adaptive, and a second SQPOLL ring past 16 in flight),
        #: "misses" (adaptive, and that second ring for page-cache misses
        #: while another read is in flight).
        self.submit = submit
        # Forced strategies run every workload: AUTO is judged against them.
        self.chunk_only = backend is not None or submit is not None
        if submit is not None:
            self.name = f"hybridio submit={submit}"
        elif batched:
            self.name = "hybridio read_many"
        elif strategy is not None:
            self.name = f"hybridio strategy={strategy}"
        elif backend is None:
            self.name = "hybridio"
        else:
            self.name = f"hybridio backend={backend}"
        self._mod: Any = None
        self._profile: Any = None
        self._opened: list[_HybridioFile] = []
        self._seen = 0

    def take_stats(self) -> dict[str, int] | None:
        total: dict[str, int] | None = None
        self._seen = 0
        for f in self._opened:
            st = f.stats()
            if st is None:
                continue
            total = total or dict.fromkeys(_STAT_FIELDS, 0)
            for k, v in st.items():
                total[k] += v
        self._opened = []
        return total

    def check(self) -> None:
        mod = _import("hybridio")
        if not callable(getattr(mod, "async_open", None)):
            raise Unavailable("hybridio.async_open does not exist yet")
        self._mod = mod
        if self.forced is None and self.strategy is None and not self.batched:
            # The bulk path takes no strategy: only the plain row runs it.
            self.bulk = frozenset(
                op for op in ("hash_file", "copy", "read_bytes") if hasattr(mod, op)
            )

    async def hash_file(self, path: str) -> str:
        return await self._mod.hash_file(path)  # type: ignore[no-any-return]

    async def copy(self, src: str, dst: str) -> None:
        await self._mod.copy(src, dst)

    async def read_bytes(self, path: str) -> bytes:
        return await self._mod.read_bytes(path)  # type: ignore[no-any-return]

    async def open(self, path: str, mode: str, *, gzip_: bool = False) -> BenchFile:
        kwargs: dict[str, Any] = {}
        if not _binary(mode):
            kwargs["encoding"] = "utf-8"
        if gzip_:
            compression = getattr(self._mod, "Compression", None)
            if compression is None or not hasattr(compression, "GZIP"):
                raise Unsupported("hybridio.Compression.GZIP does not exist yet")
            kwargs["compression"] = compression.GZIP
        if self.forced is not None:
            kwargs["backend"] = self.forced
        if self.strategy is not None:
            kwargs["strategy"] = self.strategy
        if self.submit is not None:
            if self._profile is None:  # one object: plans are cached by profile identity
                current = self._mod.TuningProfile.current()
                submit_mode = {
                    "sqpoll": "immediate",
                    "deep16": "adaptive",
                    "misses": "adaptive",
                }.get(self.submit, self.submit)
                self._profile = dataclasses.replace(
                    current,
                    submit_mode=submit_mode,
                    sqpoll=self.submit == "sqpoll",
                    sqpoll_depth=16 if self.submit == "deep16" else 0,
                    miss_sqpoll=self.submit == "misses",
                    source=f"{current.source} + submit={self.submit}",
                )
            kwargs["profile"] = self._profile
        try:
            f = await self._mod.async_open(path, mode, **kwargs)
        except TypeError as exc:
            raise Unsupported(f"async_open(**{sorted(kwargs)}) refused: {exc}") from exc
        except (ValueError, NotImplementedError) as exc:
            raise Unsupported(f"async_open refused: {type(exc).__name__}: {exc}") from exc
        except OSError as exc:
            if self.forced is None:
                raise
            raise Unavailable(f"backend={self.forced!r} failed: {exc}") from exc
        bf = _HybridioFile(f)
        self._seen += 1
        if self._seen <= STATS_ALL or not self._seen % STATS_EVERY:
            # Files are kept (for their counters) until the cell ends: every
            # one of 2,000 small files kept alive filled the collector's young
            # generations, whose collections then held the loop for 2-6 ms
            # in hybridio's rows only.  Past STATS_ALL files, a sample.
            self._opened.append(bf)
        if self.batched and not hasattr(f, "read_many"):
            await bf.close()
            raise Unavailable("hybridio files have no read_many yet")
        return bf


# --------------------------------------------------------------------------- aiofiles


async def _fsync_in_thread(fd: int) -> None:
    await asyncio.get_running_loop().run_in_executor(None, os.fsync, fd)


class _StreamFile(BenchFile):
    """A file object whose methods are coroutines (aiofiles, aiomisc, anyio)."""

    backend = "thread"

    def __init__(self, f: Any, fileno: Callable[[], int], closer: str = "close") -> None:
        self.f = f
        self._fileno = fileno
        self._closer = closer

    async def read_at(self, offset: int, size: int) -> bytes:
        await self.f.seek(offset)
        return await self.f.read(size)  # type: ignore[no-any-return]

    async def read(self, n: int = -1) -> Any:
        return await self.f.read(n)

    async def write(self, data: Any) -> int:
        return int(await self.f.write(data))

    def iter_lines(self) -> AsyncIterator[Any]:
        return self.f.__aiter__()  # type: ignore[no-any-return]

    async def fsync(self) -> None:
        await self.f.flush()
        await _fsync_in_thread(self._fileno())

    async def close(self) -> None:
        await getattr(self.f, self._closer)()


class AiofilesAdapter(Adapter):
    name = "aiofiles"
    library = "aiofiles"

    def check(self) -> None:
        self._mod = _import("aiofiles")

    async def open(self, path: str, mode: str, *, gzip_: bool = False) -> BenchFile:
        if gzip_:
            raise Unsupported("aiofiles has no compression support")
        f = await self._mod.open(path, mode, encoding=_enc(mode))
        return _StreamFile(f, f.fileno)

    bulk = frozenset({"read_bytes"})

    async def read_bytes(self, path: str) -> bytes:
        # aiofiles has no whole-file helper: its idiom is open + read + close.
        async with self._mod.open(path, "rb") as f:
            return await f.read()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- aiomisc


class AiomiscAdapter(Adapter):
    name = "aiomisc.io"
    library = "aiomisc"

    def check(self) -> None:
        self._mod = _import("aiomisc.io")

    async def open(self, path: str, mode: str, *, gzip_: bool = False) -> BenchFile:
        compression = self._mod.Compression.GZIP if gzip_ else self._mod.Compression.NONE
        if _binary(mode):
            f = self._mod.async_open(path, mode, compression=compression)
        else:
            f = self._mod.async_open(path, mode, compression=compression, encoding="utf-8")
        await f.open()
        return _StreamFile(f, f.fileno)


# --------------------------------------------------------------------------- anyio


class AnyioAdapter(Adapter):
    name = "anyio"
    library = "anyio"

    def check(self) -> None:
        self._mod = _import("anyio")

    async def open(self, path: str, mode: str, *, gzip_: bool = False) -> BenchFile:
        if gzip_:
            # anyio's documented way: wrap any blocking file object.
            raw = await self._mod.to_thread.run_sync(
                lambda: gzip.open(path, mode, encoding=_enc(mode))  # noqa: SIM115
            )
            f = self._mod.wrap_file(raw)
        else:
            f = await self._mod.open_file(path, mode, encoding=_enc(mode))
        return _StreamFile(f, f.wrapped.fileno, closer="aclose")

    bulk = frozenset({"read_bytes"})

    async def read_bytes(self, path: str) -> bytes:
        # anyio.Path.read_bytes: one worker-thread call, like hybridio's.
        return await self._mod.Path(path).read_bytes()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- aiofile


_CAIO_MODULES = {
    "uring": "caio.linux_uring_asyncio",
    "linux": "caio.linux_aio_asyncio",
    "thread": "caio.thread_aio_asyncio",
}


def _caio_context_class(backend: str) -> Any:
    return _import(_CAIO_MODULES[backend]).AsyncioContext


class _AiofileFile(BenchFile):
    def __init__(self, wrapper: Any, backend: str) -> None:
        self.w = wrapper
        self.backend = backend

    async def read_at(self, offset: int, size: int) -> bytes:
        return await self.w.file.read_bytes(size, offset)  # type: ignore[no-any-return]

    async def read(self, n: int = -1) -> Any:
        return await self.w.read(n)

    async def write(self, data: Any) -> int:
        return int(await self.w.write(data))

    def iter_lines(self) -> AsyncIterator[Any]:
        return self.w.__aiter__()  # type: ignore[no-any-return]

    async def fsync(self) -> None:
        await self.w.file.fsync()

    async def close(self) -> None:
        await self.w.close()


class AiofileAdapter(Adapter):
    """aiofile's ``async_open`` over an explicit caio context."""

    library = "aiofile"
    positional = True

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = f"aiofile {backend}"
        self.chunk_only = backend != "uring"
        self._ctx: Any = None

    def check(self) -> None:
        self._mod = _import("aiofile")
        self._ctx_class = _caio_context_class(self.backend)

    async def setup(self) -> None:
        try:
            self._ctx = self._ctx_class()
        except Exception as exc:
            raise Unavailable(f"caio {self.backend} context: {type(exc).__name__}: {exc}") from exc

    async def teardown(self) -> None:
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None

    async def open(self, path: str, mode: str, *, gzip_: bool = False) -> BenchFile:
        if gzip_:
            raise Unsupported("aiofile has no compression support")
        kwargs: dict[str, Any] = {"context": self._ctx}
        if not _binary(mode):
            kwargs["encoding"] = "utf-8"
        w = self._mod.async_open(path, mode, **kwargs)
        await w.file.open()
        return _AiofileFile(w, self.backend)


# --------------------------------------------------------------------------- raw caio


class _CaioFile(BenchFile):
    backend = "uring"

    def __init__(self, ctx: Any, fd: int, offset: int) -> None:
        self.ctx = ctx
        self.fd = fd
        self.offset = offset

    async def read_at(self, offset: int, size: int) -> bytes:
        return await self.ctx.read(size, self.fd, offset)  # type: ignore[no-any-return]

    async def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = os.fstat(self.fd).st_size - self.offset
        data: bytes = await self.ctx.read(n, self.fd, self.offset)
        self.offset += len(data)
        return data

    async def write(self, data: Any) -> int:
        view = memoryview(data)
        done = 0
        while done < len(view):
            n = await self.ctx.write(bytes(view[done:]) if done else data, self.fd, self.offset)
            if n <= 0:
                raise OSError("short write")
            done += n
            self.offset += n
        return done

    async def fsync(self) -> None:
        await self.ctx.fsync(self.fd)

    async def close(self) -> None:
        os.close(self.fd)


class CaioAdapter(Adapter):
    """caio's io_uring context used directly on an fd (binary, positional only).

    The default row takes caio's default context (SQPOLL whenever the kernel
    allows it); the variants ask for a plain ring (``sqpoll=False``), flushed
    after every submission or once per loop turn (``deferred=True``): the
    submission mechanisms the kernel engine chooses between.
    """

    library = "caio"
    positional = True

    def __init__(self, *, sqpoll: bool | None = None, deferred: bool = False) -> None:
        self._ctx: Any = None
        self._kwargs: dict[str, Any] = {}
        if sqpoll is not None:
            self._kwargs["sqpoll"] = sqpoll
        if deferred:
            self._kwargs["deferred"] = True
        variant = []
        if sqpoll is False:
            variant.append("no SQPOLL")
        elif sqpoll:
            variant.append("SQPOLL")
        if deferred:
            variant.append("per-tick flush")
        self.name = f"caio uring (raw{', ' if variant else ''}{', '.join(variant)})"
        # The variants are a kernel-path comparison: chunk-I/O workloads only.
        self.chunk_only = bool(variant)

    def check(self) -> None:
        self._ctx_class = _caio_context_class("uring")

    async def setup(self) -> None:
        try:
            self._ctx = self._ctx_class(**self._kwargs)
        except Exception as exc:
            raise Unavailable(
                f"caio uring context({self._kwargs}): {type(exc).__name__}: {exc}"
            ) from exc
        if "sqpoll" in self._kwargs and bool(self._ctx.context.sqpoll) != self._kwargs["sqpoll"]:
            self._ctx.close()
            self._ctx = None
            raise Unavailable(f"caio could not set up a ring with sqpoll={self._kwargs['sqpoll']}")

    async def teardown(self) -> None:
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None

    async def open(self, path: str, mode: str, *, gzip_: bool = False) -> BenchFile:
        if gzip_ or not _binary(mode):
            raise Unsupported("raw caio is binary and positional only (no text, no gzip)")
        flags = {
            "rb": os.O_RDONLY,
            "wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
            "ab": os.O_WRONLY | os.O_CREAT,
        }.get(mode)
        if flags is None:
            raise Unsupported(f"mode {mode!r}")
        fd = os.open(path, flags | os.O_CLOEXEC, 0o644)
        offset = os.fstat(fd).st_size if mode == "ab" else 0
        return _CaioFile(self._ctx, fd, offset)


# --------------------------------------------------------------------------- urio


class _UrioFile(_StreamFile):
    """urio's aiofiles-style file: seek + read, and its own (io_uring) fsync."""

    def __init__(self, f: Any, backend: str) -> None:
        super().__init__(f, f.fileno)
        self.backend = backend

    async def fsync(self) -> None:
        await self.f.fsync()


class UrioAdapter(Adapter):
    """urio: an aiofiles-compatible API over one io_uring ring per event loop.

    Its files have no positional read: ``read_at`` is ``seek`` + ``read`` on one
    handle per concurrent worker, like the other stream-API libraries.
    """

    name = "urio"
    library = "urio"

    def check(self) -> None:
        self._mod = _import("urio")
        # urio silently falls back to a thread pool without io_uring: say which.
        kind = type(self._mod.get_backend()).__name__
        self._backend = {"UringBackend": "io_uring", "ThreadBackend": "thread"}.get(kind, kind)

    async def teardown(self) -> None:
        # The ring and its eventfd belong to this loop: release them with it.
        await self._mod.aclose()

    async def open(self, path: str, mode: str, *, gzip_: bool = False) -> BenchFile:
        if gzip_:
            raise Unsupported("urio has no compression support")
        f = await self._mod.open(path, mode, encoding=_enc(mode))
        return _UrioFile(f, self._backend)

    bulk = frozenset({"read_bytes"})

    async def read_bytes(self, path: str) -> bytes:
        return await self._mod.Path(path).read_bytes()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- turbofile


class _TurbofileFile(_AwaitedFile):
    # read_at is BinaryFile.read_at: positional, one handle shared by every worker.
    label = "turbofile"

    def __init__(self, f: Any, backend: str) -> None:
        super().__init__(f)
        self.backend = backend


class TurbofileAdapter(Adapter):
    """turbofile: Rust completion queues (io_uring on Linux), an aiofiles-like API,
    positional ``read_at`` and an inline path for pages already in the cache."""

    name = "turbofile"
    library = "turbofile"
    positional = True
    lacks: ClassVar[dict[str, str]] = {"fsync": "turbofile files have no fsync"}

    def check(self) -> None:
        self._mod = _import("turbofile")
        native = getattr(self._mod, "_turbofile", None)
        name = getattr(native, "backend_name", None)
        self._backend = str(name()) if callable(name) else "unknown"

    async def open(self, path: str, mode: str, *, gzip_: bool = False) -> BenchFile:
        if gzip_:
            raise Unsupported("turbofile has no compression support")
        f = await self._mod.open(path, mode, encoding=_enc(mode))
        return _TurbofileFile(f, self._backend)

    bulk = frozenset({"read_bytes"})

    async def read_bytes(self, path: str) -> bytes:
        return await self._mod.read_bytes(path)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- obstore


class _ObstoreReader(BenchFile):
    """An object of a ``LocalStore``: range reads, whole-object reads."""

    backend = "LocalStore"

    def __init__(self, mod: Any, store: Any, key: str) -> None:
        self.mod = mod
        self.store = store
        self.key = key
        self.offset = 0
        self.size: int | None = None

    async def read_at(self, offset: int, size: int) -> Any:
        # obstore.Bytes: a zero-copy buffer (len, ==, bytes() all work).
        return await self.mod.get_range_async(self.store, self.key, start=offset, length=size)

    async def read_many(self, requests: list[tuple[int, int]]) -> list[Any]:
        # Default coalescing (ranges < 1 MiB apart are merged), as users get it.
        return await self.mod.get_ranges_async(  # type: ignore[no-any-return]
            self.store,
            self.key,
            starts=[off for off, _ in requests],
            lengths=[n for _, n in requests],
        )

    async def read(self, n: int = -1) -> Any:
        if n < 0:
            result = await self.mod.get_async(self.store, self.key)
            data = await result.bytes_async()
            self.offset += len(data)
            return data
        if self.size is None:
            # A range past the end is an error in obstore: learn the size once.
            self.size = int((await self.mod.head_async(self.store, self.key))["size"])
        if self.offset >= self.size or n == 0:
            return b""
        data = await self.mod.get_range_async(
            self.store, self.key, start=self.offset, length=min(n, self.size - self.offset)
        )
        self.offset += len(data)
        return data

    async def close(self) -> None:
        pass


class _ObstoreWriter(BenchFile):
    """obstore writes whole objects: the bytes go out in one ``put_async`` at close."""

    backend = "LocalStore"

    def __init__(self, mod: Any, store: Any, key: str) -> None:
        self.mod = mod
        self.store = store
        self.key = key
        self.parts: list[bytes] = []

    async def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    async def close(self) -> None:
        await self.mod.put_async(self.store, self.key, b"".join(self.parts))


class ObstoreAdapter(Adapter):
    """obstore's ``LocalStore``: ``get_range_async`` per read (or, batched,
    ``get_ranges_async`` for all reads in flight), ``get_async`` / ``put_async``
    for whole objects.  Binary only; no append, no fsync, no text."""

    library = "obstore"
    positional = True
    lacks: ClassVar[dict[str, str]] = {
        "fsync": "obstore writes whole objects (put): no fsync",
        "append": "obstore has no append",
    }

    def __init__(self, *, batched: bool = False) -> None:
        self.batched = batched
        self.name = "obstore get_ranges_async" if batched else "obstore"
        if not batched:
            self.bulk = frozenset({"read_bytes"})

    def check(self) -> None:
        self._mod = _import("obstore")
        self._store = _import("obstore.store").LocalStore()

    def _key(self, path: str) -> str:
        # A LocalStore without a prefix names files by their absolute path.
        return os.path.abspath(path).lstrip(os.sep)

    async def open(self, path: str, mode: str, *, gzip_: bool = False) -> BenchFile:
        if gzip_ or not _binary(mode):
            raise Unsupported("obstore stores bytes: no text mode, no compression")
        if mode == "rb":
            return _ObstoreReader(self._mod, self._store, self._key(path))
        if mode == "wb":
            return _ObstoreWriter(self._mod, self._store, self._key(path))
        raise Unsupported(f"obstore has no mode {mode!r} (objects are written whole)")

    async def read_bytes(self, path: str) -> bytes:
        result = await self._mod.get_async(self._store, self._key(path))
        return await result.bytes_async()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- registry


def all_adapters() -> list[Adapter]:
    """Every adapter, in report order."""
    return [
        BlockingAdapter(),
        HybridioAdapter(),
        HybridioAdapter(batched=True),
        HybridioAdapter(strategy="kernel"),
        HybridioAdapter(strategy="thread"),
        HybridioAdapter("uring"),
        HybridioAdapter("linux"),
        HybridioAdapter("thread"),
        HybridioAdapter("python"),
        HybridioAdapter(submit="immediate"),
        HybridioAdapter(submit="tick"),
        HybridioAdapter(submit="adaptive"),
        HybridioAdapter(submit="sqpoll"),
        HybridioAdapter(submit="deep16"),
        HybridioAdapter(submit="misses"),
        AiofilesAdapter(),
        AiofileAdapter("uring"),
        AiofileAdapter("linux"),
        AiofileAdapter("thread"),
        AiomiscAdapter(),
        AnyioAdapter(),
        CaioAdapter(),
        CaioAdapter(sqpoll=False),
        CaioAdapter(sqpoll=False, deferred=True),
        UrioAdapter(),
        TurbofileAdapter(),
        ObstoreAdapter(),
        ObstoreAdapter(batched=True),
    ]
