"""The bulk path: whole jobs done in ONE thread call.

A thread hop costs ~100 µs; a loop that awaits a read per chunk pays it per
chunk.  Hashing, copying or slurping a file is faster as one blocking function
run in the library's thread pool: :func:`threaded` turns any such function
into a coroutine function, :func:`threaded_iterable` turns a blocking
generator into an async iterator, and the helpers below are ready-made jobs.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import errno
import functools
import hashlib
import os
import shutil
import stat
import sys
import threading
import types
from collections.abc import Callable, Coroutine, Iterable, Iterator
from concurrent.futures import Executor
from typing import IO, Any, Generic, ParamSpec, TypeVar, cast, overload

from ._compression import Compression, check_level, check_mode, open_compressed, open_fileobj
from ._compression import resolve as resolve_compression
from ._engines import fairness
from ._engines.inline import InlineReader, unsupported_reason
from ._engines.threads import in_thread, run_in_thread, run_to_completion
from ._layers.base import bytes_view
from ._modes import parse_mode
from ._profile import resolve_profile

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = (
    "ThreadedIterator",
    "copy",
    "hash_file",
    "process",
    "read_bytes",
    "read_text",
    "threaded",
    "threaded_iterable",
    "write_bytes",
    "write_text",
)

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")
_C = TypeVar("_C")

#: Default chunk of the hash/process loops: large enough that the per-call
#: overhead of readinto and the hash update vanish, small enough for the L2.
CHUNK_SIZE = 1 << 20

PathArg = str | bytes | os.PathLike[str] | os.PathLike[bytes]

# --------------------------------------------------------------------------- threaded


def _make_threaded(
    fn: Callable[_P, _R], executor: Executor | None
) -> Callable[_P, Coroutine[Any, Any, _R]]:
    return in_thread(fn, executor=executor)


def _decorate(fn: Any, executor: Executor | None) -> Any:
    # `@threaded` above `@staticmethod`/`@classmethod`: wrap the function
    # inside and put the same descriptor back around the coroutine function.
    if isinstance(fn, staticmethod):
        return staticmethod(_make_threaded(fn.__func__, executor))
    if isinstance(fn, classmethod):
        return classmethod(_make_threaded(fn.__func__, executor))
    if not callable(fn):
        raise TypeError(f"threaded() needs a callable, not {type(fn).__name__}")
    return _make_threaded(fn, executor)


@overload
def threaded(fn: staticmethod[_P, _R], /) -> staticmethod[_P, Coroutine[Any, Any, _R]]: ...
@overload
def threaded(fn: classmethod[_C, _P, _R], /) -> classmethod[_C, _P, Coroutine[Any, Any, _R]]: ...
@overload
def threaded(fn: Callable[_P, _R], /) -> Callable[_P, Coroutine[Any, Any, _R]]: ...
@overload
def threaded(
    *, executor: Executor | None = None
) -> Callable[[Callable[_P, _R]], Callable[_P, Coroutine[Any, Any, _R]]]: ...
def threaded(fn: Any = None, /, *, executor: Executor | None = None) -> Any:
    """Decorate a blocking function so that calling it returns a coroutine
    which runs the function in a thread (one thread hop per call).

    ``@threaded`` uses the library pool; ``@threaded(executor=pool)`` runs in
    *pool*.  Works on functions, methods, static and class methods.  If the
    awaiting task is cancelled before the function starts, it never runs; if
    it is already running, it runs to the end (threads cannot be interrupted)
    and the cancellation is raised afterwards.

    ```python
    import zlib
    import hybridio

    @hybridio.threaded
    def checksum(path: str) -> int:
        with open(path, "rb") as f:          # plain blocking code, in ONE thread call
            return zlib.crc32(f.read())

    with open("blob.bin", "wb") as f:
        f.write(b"abc")
    assert await checksum("blob.bin") == zlib.crc32(b"abc")
    ```
    """
    if fn is None:
        return functools.partial(_decorate, executor=executor)
    return _decorate(fn, executor)


# --------------------------------------------------------------------------- threaded_iterable


class _Channel(Generic[_T]):
    """A bounded hand-off from one producer thread to the event loop.

    The producer blocks on a condition when *max_size* items wait; the
    consumer is woken through ``call_soon_threadsafe`` only when it is
    actually waiting, so a fast producer costs no wake-up per item.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_size: int) -> None:
        self.loop = loop
        self.max_size = max_size
        self.cond = threading.Condition()
        self.items: collections.deque[_T] = collections.deque()
        self.closed = False  # the consumer wants no more items
        self.finished = False  # the producer is done (end of data or error)
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self.loop.call_soon_threadsafe(_resolve, waiter)

    def put(self, item: _T) -> bool:
        """Hand *item* over; False once the consumer has closed the channel."""
        with self.cond:
            while len(self.items) >= self.max_size and not self.closed:
                self.cond.wait()
            if self.closed:
                return False
            self.items.append(item)
            self._wake()
            return True

    def finish(self, error: BaseException | None) -> None:
        with self.cond:
            self.finished = True
            self.error = error
            self._wake()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.items.clear()
            self.cond.notify_all()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class ThreadedIterator(Generic[_T]):
    """An async iterator over a blocking iterable that runs in its own thread.

    The iterable is consumed in a dedicated thread (or in *executor*), at most
    *max_size* items ahead of the consumer.  ``aclose()``, leaving
    ``async with``, or cancelling the task waiting in ``__anext__`` stops the
    producer: a generator is closed in its thread (its ``finally`` blocks run)
    and ``aclose()`` returns once the thread has finished.  A producer stuck in
    a blocking call is awaited until that call returns.
    """

    def __init__(
        self,
        factory: Callable[[], Iterable[_T]],
        max_size: int,
        executor: Executor | None,
        name: str,
    ) -> None:
        self._factory = factory
        self._max_size = max_size
        self._executor = executor
        self._name = name
        self._channel: _Channel[_T] | None = None
        self._done: asyncio.Future[None] | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def _start(self) -> _Channel[_T]:
        loop = asyncio.get_running_loop()
        channel = self._channel = _Channel(loop, self._max_size)
        done = self._done = loop.create_future()
        ctx = contextvars.copy_context()

        def finished() -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, done)

        def produce() -> None:
            try:
                error: BaseException | None = None
                try:
                    iterator = iter(self._factory())
                    try:
                        for item in iterator:
                            if not channel.put(item):
                                break
                    finally:
                        # Closing the generator here, in its own thread, runs
                        # its `finally` blocks before the consumer is told.
                        close = getattr(iterator, "close", None)
                        if close is not None:
                            close()
                except BaseException as exc:
                    error = exc
                channel.finish(error)
            finally:
                finished()

        if self._executor is not None:
            self._executor.submit(ctx.run, produce)
        else:
            thread = self._thread = threading.Thread(
                target=ctx.run, args=(produce,), name=f"hybridio-iter-{self._name}", daemon=True
            )
            thread.start()
        return channel

    def _reap(self) -> None:
        # The producer has reported that it finished: its thread only has to
        # return, so this join is immediate; after it no thread is left behind.
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> _T:
        if self._closed:
            raise StopAsyncIteration
        channel = self._channel if self._channel is not None else self._start()
        while True:
            with channel.cond:
                if channel.items:
                    item = channel.items.popleft()
                    channel.cond.notify()
                    return item
                finished = channel.finished
                if not finished:
                    waiter = channel.waiter = channel.loop.create_future()
            if finished:
                break
            try:
                await waiter
            except asyncio.CancelledError:
                await self._stop()
                raise
        # The end, or the generator's error: reap the thread, then report it.
        error, channel.error = channel.error, None
        await self._stop()
        if error is not None:
            raise error
        raise StopAsyncIteration

    async def _stop(self) -> None:
        self._closed = True
        if self._channel is None:
            return
        self._channel.close()
        try:
            if self._done is not None:
                # Uncancellable: aclose() promises the producer has finished; a
                # cancellation meanwhile is delivered afterwards.
                await run_to_completion(self._done)
        finally:
            self._reap()

    async def aclose(self) -> None:
        """Stop the producer and wait until its thread has finished."""
        await self._stop()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self._stop()

    def __del__(self) -> None:
        # Never iterated to the end nor closed: let the producer stop at its
        # next item instead of blocking on a full channel forever.
        channel = self._channel
        if channel is not None and not channel.finished:
            channel.close()


@overload
def threaded_iterable(fn: Callable[_P, Iterable[_T]], /) -> Callable[_P, ThreadedIterator[_T]]: ...
@overload
def threaded_iterable(
    *, max_size: int = 64, executor: Executor | None = None
) -> Callable[[Callable[_P, Iterable[_T]]], Callable[_P, ThreadedIterator[_T]]]: ...
def threaded_iterable(
    fn: Any = None, /, *, max_size: int = 64, executor: Executor | None = None
) -> Any:
    """Decorate a blocking generator (any function returning an iterable) so
    that calling it returns a :class:`ThreadedIterator` (``async for``).

    The generator runs in its own thread (or in *executor*), at most
    *max_size* items ahead of the consumer.
    """
    if isinstance(max_size, bool) or not isinstance(max_size, int):
        raise TypeError(f"max_size must be int, not {type(max_size).__name__}")
    if max_size < 1:
        raise ValueError("max_size must be at least 1")

    def decorate(func: Callable[_P, Iterable[_T]]) -> Callable[_P, ThreadedIterator[_T]]:
        if not callable(func):
            raise TypeError(f"threaded_iterable() needs a callable, not {type(func).__name__}")

        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> ThreadedIterator[_T]:
            return ThreadedIterator(
                functools.partial(func, *args, **kwargs),
                max_size,
                executor,
                getattr(func, "__name__", "iterable"),
            )

        return wrapper

    if fn is None:
        return decorate
    return decorate(fn)


# --------------------------------------------------------------------------- whole files


def _resolve_read(path: Any, compression: Compression | str | None) -> Compression:
    if compression is None:
        return Compression.NONE
    return resolve_compression(Compression.coerce(compression), path, parse_mode("rb"))


@contextlib.contextmanager
def _open_for(
    path: Any,
    mode: str,
    compression: Compression,
    level: int | None,
    opener: Callable[[str, int], int] | None = None,
) -> Iterator[IO[bytes]]:
    """A blocking binary file, plain or (de)compressing, as the stdlib opens it."""
    if compression is Compression.NONE:
        with open(path, mode, buffering=0, opener=opener) as raw:
            yield raw
        return
    fmode = parse_mode(mode)
    with open_fileobj(path, compression, fmode, closefd=True, opener=opener) as fileobj:
        eff = check_level(compression, fmode, level)
        with open_compressed(fileobj, compression, fmode, eff, path) as comp:
            yield comp


def _check_write_compression(
    path: Any, compression: Compression | str | None, level: int | None
) -> Compression:
    fmode = parse_mode("wb")
    comp = Compression.coerce(compression) if compression is not None else Compression.NONE
    if comp is Compression.AUTO:
        comp = resolve_compression(comp, path, fmode)
    if level is not None and comp is Compression.NONE:
        raise ValueError("compresslevel is only valid with compression")
    if comp is not Compression.NONE:
        check_mode(comp, fmode)
        check_level(comp, fmode, level)
    return comp


def _read_bytes(path: Any, compression: Compression | str | None) -> bytes:
    comp = _resolve_read(path, compression)
    with _open_for(path, "rb", comp, None) as f:
        # FileIO.readall sizes its one read from fstat: one syscall plus EOF.
        return f.read()


def _write_data(f: IO[bytes], data: memoryview) -> int:
    done = 0
    total = len(data)
    while done < total:
        n = f.write(data[done:])
        if n is None:  # pragma: no cover - only non-blocking raw files return None
            raise BlockingIOError(errno.EAGAIN, "write would block")
        if n <= 0:
            raise OSError(errno.EIO, f"write returned {n}")
        done += n
    return total


def _write_bytes(
    path: Any,
    data: Any,
    compression: Compression,
    level: int | None,
    atomic: bool,
    exclusive: bool,
) -> int:
    view = data  # a flat byte view, made by bytes_view() before the thread hop
    mode = "xb" if exclusive else "wb"
    if not atomic:
        with _open_for(path, mode, compression, level) as f:
            return _write_data(f, view)
    from ._atomic import AtomicTarget

    target = AtomicTarget(path, exclusive=exclusive, readable=False)
    try:
        with _open_for(path, mode, compression, level, opener=target.opener) as f:
            n = _write_data(f, view)
    except BaseException:
        target.discard()
        raise
    target.commit()
    return n


def _check_text(data: object) -> None:
    if not isinstance(data, str):
        raise TypeError(f"write() argument must be str, not {type(data).__name__}")


def _inline_max() -> int:
    """The largest file read inline (0: none), from the profile in force."""
    prof = resolve_profile()
    return prof.inline_max if prof.open_inline and unsupported_reason(None) is None else 0


def _inline_read(path: Any) -> bytes | None:
    """The whole of a small, page-cached local file, read in the loop thread
    (open + fstat + one ``preadv2(RWF_NOWAIT)`` + close: a few microseconds,
    against ~100 µs for a thread hop); None when that is not possible."""
    from ._selector import filesystem_type, remote_filesystem

    limit = _inline_max()
    if not limit:
        return None
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None  # the thread path reports it exactly as open() does
    if not stat.S_ISREG(st.st_mode) or not 0 < st.st_size <= limit:
        return None
    fs = filesystem_type(path, st)
    if fs is None or remote_filesystem(fs) or fs in ("proc", "sysfs"):
        return None  # an open or a read there may block on the network
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        size = st.st_size
        if not stat.S_ISREG(st.st_mode) or not 0 < size <= limit:
            return None
        try:
            # Not cached (or partly) -> None: the thread reads it.
            return InlineReader(fd, limit, known_reason=None).read(size, 0)
        except OSError:
            return None  # the thread path reports it exactly as open() does
    finally:
        os.close(fd)


async def read_bytes(path: PathArg, *, compression: Compression | str | None = None) -> bytes:
    """The whole content of *path* (at most one thread call).

    A small local file already in the page cache is read right in the loop
    thread, without a thread hop (``preadv2(RWF_NOWAIT)``, bounded by the
    profile's ``inline_max``); anything else is read in one thread call.
    ``compression="auto"`` (or a :class:`Compression`) decompresses: AUTO
    detects the format by its magic bytes, then by the suffix.
    """
    if compression is None and isinstance(path, (str, bytes, os.PathLike)):
        data = _inline_read(path)
        if data is not None:
            turns = fairness.for_loop(asyncio.get_running_loop())
            if turns.spent():
                await turns.give_turn()
            return data
    return await run_in_thread(_read_bytes, path, compression)


async def write_bytes(
    path: PathArg,
    data: Any,
    *,
    atomic: bool = False,
    exclusive: bool = False,
    compression: Compression | str | None = None,
    compresslevel: int | None = None,
) -> int:
    """Replace the content of *path* with *data*; return the bytes taken.

    ``atomic=True`` writes a temporary file next to *path*, fsyncs it and
    renames it over *path* (readers see the old or the new content, never a
    mix; see docs/bulk-and-durability.md).  ``exclusive=True`` fails with
    FileExistsError if *path* exists (``"x"`` mode).  ``compression``
    compresses (``"auto"``: by the suffix).
    """
    # Checked before the file is opened (and truncated): a str, a list or a
    # non-contiguous buffer raises with the target untouched.
    view = bytes_view(data)
    comp = _check_write_compression(path, compression, compresslevel)
    return await run_in_thread(_write_bytes, path, view, comp, compresslevel, atomic, exclusive)


def _text_codec(encoding: str | None) -> str:
    # What open() uses by default, without an EncodingWarning raised from here.
    return "locale" if encoding is None else encoding


def _read_text(
    path: Any,
    encoding: str,
    errors: str | None,
    newline: str | None,
    compression: Compression | str | None,
) -> str:
    import io

    comp = _resolve_read(path, compression)
    with _open_for(path, "rb", comp, None) as f:
        raw = f.read()
    # TextIOWrapper over the bytes: exactly open()'s decoding and newline rules.
    with io.TextIOWrapper(io.BytesIO(raw), encoding=encoding, errors=errors, newline=newline) as t:
        return t.read()


def _write_text(
    path: Any,
    data: str,
    encoding: str,
    errors: str | None,
    newline: str | None,
    compression: Compression,
    level: int | None,
    atomic: bool,
    exclusive: bool,
) -> int:
    import io

    buf = io.BytesIO()
    text = io.TextIOWrapper(buf, encoding=encoding, errors=errors, newline=newline)
    n = text.write(data)
    text.flush()
    _write_bytes(path, buf.getbuffer(), compression, level, atomic, exclusive)
    return n


async def read_text(
    path: PathArg,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    *,
    compression: Compression | str | None = None,
) -> str:
    """The whole text of *path*, decoded as ``open(path).read()`` would."""
    import codecs

    enc = _text_codec(encoding)
    if enc != "locale":
        codecs.lookup(enc)  # LookupError before any thread hop, as open() raises it
    return await run_in_thread(_read_text, path, enc, errors, newline, compression)


async def write_text(
    path: PathArg,
    data: str,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    *,
    atomic: bool = False,
    exclusive: bool = False,
    compression: Compression | str | None = None,
    compresslevel: int | None = None,
) -> int:
    """Replace the content of *path* with the text *data*; return its length.

    Encoding and newline translation are ``open(path, "w")``'s; ``atomic``,
    ``exclusive`` and ``compression`` are :func:`write_bytes`'.
    """
    import codecs

    _check_text(data)
    enc = _text_codec(encoding)
    if enc != "locale":
        codecs.lookup(enc)
    comp = _check_write_compression(path, compression, compresslevel)
    return await run_in_thread(
        _write_text, path, data, enc, errors, newline, comp, compresslevel, atomic, exclusive
    )


# --------------------------------------------------------------------------- copy


#: Largest count handed to one copy_file_range/sendfile call (the kernel caps
#: a single transfer at a little under 2 GiB anyway).
_COPY_STEP = 1 << 30

#: Errors after which copy_file_range (or sendfile) is given up for this copy:
#: not implemented, not supported between these filesystems or file kinds.
_FALLBACK_ERRNOS = frozenset(
    e
    for e in (
        getattr(errno, name, None)
        for name in ("ENOSYS", "EXDEV", "EINVAL", "EOPNOTSUPP", "ENOTSUP", "EPERM", "EBADF")
    )
    if e is not None
)


class _Copier:
    """Copies byte ranges between two fds with the best call that works.

    copy_file_range first (in-kernel, reflinks where the filesystem can),
    then sendfile, then a pread/pwrite loop; a call that fails with a
    "not supported here" errno before copying anything is dropped for the
    rest of this copy.
    """

    def __init__(self, src: int, dst: int) -> None:
        self.src, self.dst = src, dst
        self.use_cfr = hasattr(os, "copy_file_range")
        self.use_sendfile = hasattr(os, "sendfile") and sys.platform.startswith("linux")
        self.buf: bytearray | None = None

    def copy(self, offset: int, count: int | None) -> int:
        """Copy *count* bytes (None: up to EOF) at *offset*; return bytes copied."""
        done = 0
        while count is None or done < count:
            step = _COPY_STEP if count is None else min(_COPY_STEP, count - done)
            n = self._step(offset + done, step)
            if n == 0:
                break
            done += n
        return done

    def _step(self, offset: int, count: int) -> int:
        if self.use_cfr:
            try:
                return os.copy_file_range(self.src, self.dst, count, offset, offset)
            except OSError as exc:
                if exc.errno not in _FALLBACK_ERRNOS:
                    raise
                self.use_cfr = False
        if self.use_sendfile:
            try:
                os.lseek(self.dst, offset, os.SEEK_SET)
                return os.sendfile(self.dst, self.src, offset, count)
            except OSError as exc:
                if exc.errno not in _FALLBACK_ERRNOS:
                    raise
                self.use_sendfile = False
        if self.buf is None:
            self.buf = bytearray(CHUNK_SIZE)
        view = memoryview(self.buf)[: min(count, CHUNK_SIZE)]
        n = os.preadv(self.src, [view], offset)
        written = 0
        while written < n:
            w = os.pwrite(self.dst, view[written:n], offset + written)
            if w <= 0:
                raise OSError(errno.EIO, f"pwrite returned {w}")
            written += w
        return n


def _data_extents(fd: int, size: int) -> Iterator[tuple[int, int]] | None:
    """(offset, length) of each data extent of a sparse file, or None when
    the filesystem cannot tell holes from data (then copy everything)."""
    seek_data = getattr(os, "SEEK_DATA", None)
    seek_hole = getattr(os, "SEEK_HOLE", None)
    if seek_data is None or seek_hole is None:
        return None
    try:
        first = os.lseek(fd, 0, seek_data)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # no data at all: one big hole
            return iter(())
        return None
    # A filesystem without hole tracking reports one extent covering the file.
    hole = os.lseek(fd, first, seek_hole)
    if first == 0 and hole >= size:
        return None

    def extents() -> Iterator[tuple[int, int]]:
        start, end = first, hole
        while True:
            yield start, end - start
            if end >= size:
                return
            try:
                start = os.lseek(fd, end, seek_data)
            except OSError as exc:
                if exc.errno == errno.ENXIO:
                    return
                raise
            end = os.lseek(fd, start, seek_hole)

    return extents()


def _copy_fd(src: int, dst: int, st: os.stat_result) -> None:
    copier = _Copier(src, dst)
    size = st.st_size
    # Only a file with fewer blocks than its size can have holes: skip the
    # SEEK_DATA walk (and its syscalls) for the common dense file.
    sparse = stat.S_ISREG(st.st_mode) and size > 0 and st.st_blocks * 512 < size
    extents = _data_extents(src, size) if sparse else None
    if extents is None:
        if size > 0:
            copied = copier.copy(0, size)
            if copied == size:
                copier.copy(size, None)  # the file grew meanwhile: copy to EOF
        else:
            copier.copy(0, None)  # /proc-like files report size 0
        return
    end = 0
    for offset, length in extents:
        end = offset + copier.copy(offset, length)
    if end < size:
        # A trailing hole: give the copy its size without writing zeros.
        os.ftruncate(dst, size)


def _is_fifo_or_special(path: Any) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISFIFO(st.st_mode):
        return "named pipe"
    if stat.S_ISSOCK(st.st_mode):
        return "socket"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "device"
    return None


def _same_file(src: Any, dst: Any) -> bool:
    try:
        return os.path.samefile(src, dst)
    except (OSError, ValueError):
        return False


def _copy_sync(src: Any, dst: Any, follow_symlinks: bool) -> Any:
    if os.path.isdir(dst):
        dst = os.path.join(dst, os.path.basename(os.fspath(src)))
    if _same_file(src, dst):
        raise shutil.SameFileError(f"{src!r} and {dst!r} are the same file")
    for p in (src, dst):
        kind = _is_fifo_or_special(p)
        if kind == "named pipe":
            raise shutil.SpecialFileError(f"`{os.fspath(p)}` is a named pipe")
        if kind is not None and p is dst:
            raise shutil.SpecialFileError(f"`{os.fspath(p)}` is a {kind}")
    if not follow_symlinks and os.path.islink(src):
        os.symlink(os.readlink(src), dst)
        return dst
    sfd = os.open(src, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(sfd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(src))
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        dfd = os.open(dst, flags, 0o666)
        try:
            if hasattr(os, "posix_fadvise"):
                with contextlib.suppress(OSError):
                    os.posix_fadvise(sfd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            _copy_fd(sfd, dfd, st)
            # Permission bits as shutil.copy/copymode set them.
            os.fchmod(dfd, stat.S_IMODE(st.st_mode))
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
    return dst


async def copy(src: PathArg, dst: PathArg, *, follow_symlinks: bool = True) -> Any:
    """Copy *src*'s content and permission bits to *dst*; return the new file's path.

    ``shutil.copy`` semantics, in ONE thread call: *dst* may be a directory;
    ``shutil.SameFileError`` when both name the same file;
    ``shutil.SpecialFileError`` for a named pipe; ``follow_symlinks=False``
    copies a symlink as a symlink.  The bytes move in the kernel
    (``os.copy_file_range``, then ``os.sendfile``, then a read/write loop), and
    the holes of a sparse file stay holes where the filesystem reports them
    (``SEEK_DATA``/``SEEK_HOLE``).
    """
    return await run_in_thread(_copy_sync, src, dst, follow_symlinks)


# --------------------------------------------------------------------------- hash, process


def _check_chunk(chunk_size: object) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f"chunk_size must be int, not {type(chunk_size).__name__}")
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    return chunk_size


def _hash_file(path: Any, algorithm: str, chunk_size: int, compression: Any) -> str:
    digest = hashlib.new(algorithm)
    comp = _resolve_read(path, compression)
    with _open_for(path, "rb", comp, None) as f:
        if comp is Compression.NONE and hasattr(os, "posix_fadvise"):
            with contextlib.suppress(OSError):
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        buf = bytearray(chunk_size)
        view = memoryview(buf)
        readinto = cast(Any, f).readinto
        while n := readinto(buf):
            digest.update(view[:n])
    if digest.name.startswith("shake_"):
        return cast(Any, digest).hexdigest(32)  # type: ignore[no-any-return]
    return digest.hexdigest()


async def hash_file(
    path: PathArg,
    algorithm: str = "blake2b",
    *,
    chunk_size: int = CHUNK_SIZE,
    compression: Compression | str | None = None,
) -> str:
    """The hex digest of *path*'s content with a ``hashlib`` algorithm (one thread call).

    An unknown algorithm raises ValueError before any I/O (``hashlib.new``'s).
    """
    hashlib.new(algorithm)
    size = _check_chunk(chunk_size)
    return await run_in_thread(_hash_file, path, algorithm, size, compression)


def _chunks(f: IO[bytes], size: int) -> Iterator[bytes]:
    while data := f.read(size):
        yield data


def _process(
    path: Any, fn: Callable[[Iterator[bytes]], _R], chunk_size: int, compression: Any
) -> _R:
    comp = _resolve_read(path, compression)
    with _open_for(path, "rb", comp, None) as f:
        return fn(_chunks(f, chunk_size))


async def process(
    path: PathArg,
    fn: Callable[[Iterator[bytes]], _R],
    chunk_size: int = CHUNK_SIZE,
    *,
    compression: Compression | str | None = None,
) -> _R:
    """Run the blocking ``fn(chunks)`` in ONE thread call and return its result.

    *chunks* iterates over *path*'s content in pieces of *chunk_size* bytes
    (the last one shorter); with ``compression`` the pieces are decompressed.
    Example: ``await process(p, lambda chunks: sum(c.count(b"\\n") for c in chunks))``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, not {type(fn).__name__}")
    size = _check_chunk(chunk_size)
    return await run_in_thread(_process, path, fn, size, compression)
