"""The stdlib is the oracle (E1): one harness for every equivalence suite.

- The operation model: an operation is a tuple ``(name, *args)``; :func:`ops`
  builds the hypothesis strategy of a suite from the operations it draws, and
  :func:`run_sync` / :func:`run_async` apply one to a stdlib file or to ours.
- The matrix: :class:`Served` is one cell of strategy x backend x compression
  (a kernel-served file on each kernel backend, a thread-served one, a
  compressed one per format); :func:`cells` gives the pytest params of a
  slice of it, each kernel backend skipped with its reason where unavailable.
- The runner against the stdlib twin: :func:`open_twins` opens our file and
  the twin the stdlib would open for the same call (``open()``, ``FileIO``,
  ``gzip.open``, ...), :func:`compare` applies the same sequence to both and
  compares every outcome -- the value, or the exception type.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example
from hypothesis import strategies as st

import hybridio
from tests.conftest import ALL_BACKENDS

Op = tuple[Any, ...]
Outcome = tuple[str, Any]

# -- the operation model -----------------------------------------------------------


def ops(**arguments: tuple[st.SearchStrategy[Any], ...]) -> st.SearchStrategy[Op]:
    """One operation drawn from *arguments*: name -> the strategies of its arguments,
    in the order given (the order is what a derandomized search walks)."""
    return st.one_of(*(st.tuples(st.just(name), *args) for name, args in arguments.items()))


def pinned(cases: list[dict[str, Any]]) -> Callable[[Any], Any]:
    """Add *cases* as explicit examples: a walk through every operation on a file
    with content, for every mode, which 40 derandomized draws alone may miss."""

    def decorate(test: Any) -> Any:
        for case in reversed(cases):
            test = example(**case)(test)
        return test

    return decorate


def run_sync(f: Any, op: Op, told: list[int]) -> Any:
    """Apply *op* to the stdlib file *f*; ``tell`` appends its cookie to *told*."""
    name = op[0]
    if name == "readinto":
        buf = bytearray(op[1])
        n = f.readinto(buf)
        return n, bytes(buf[: n or 0])
    if name == "next":
        return next(f, "<eof>")
    if name == "tell":
        told.append(f.tell())
        return told[-1]
    if name == "seek_told":
        return f.seek(told[op[1] % len(told)]) if told else None
    if name == "read_at":
        # The stdlib twin has no positional methods: pread/pwrite on its fd, after
        # the direction check FileIO would make.
        if not f.readable():
            raise io.UnsupportedOperation("read")
        return os.pread(f.fileno(), op[2], op[1])
    if name == "write_at":
        if not f.writable():
            raise io.UnsupportedOperation("write")
        return os.pwrite(f.fileno(), op[2], op[1])
    return getattr(f, name)(*op[1:])


async def run_async(f: Any, op: Op, told: list[int]) -> Any:
    """Apply *op* to our file *f* (the same names, awaited)."""
    name = op[0]
    if name == "readinto":
        buf = bytearray(op[1])
        n = await f.readinto(buf)
        return n, bytes(buf[:n])
    if name == "next":
        try:
            return await f.__anext__()
        except StopAsyncIteration:
            return "<eof>"
    if name == "tell":
        told.append(await f.tell())
        return told[-1]
    if name == "seek_told":
        return await f.seek(told[op[1] % len(told)]) if told else None
    return await getattr(f, name)(*op[1:])


def outcome(fn: Callable[[], Any]) -> Outcome:
    """``("ok", value)`` or ``("error", exception type)``: the type is what must match."""
    try:
        return ("ok", fn())
    except Exception as exc:
        return ("error", type(exc))


async def outcome_async(aw: Any) -> Outcome:
    """:func:`outcome` of an awaitable."""
    try:
        return ("ok", await aw)
    except Exception as exc:
        return ("error", type(exc))


# -- how errors must match -----------------------------------------------------------

ErrorRule = Callable[[type[BaseException], type[BaseException]], bool]


def exact(got: type[BaseException], expected: type[BaseException]) -> bool:
    """The same exception type."""
    return got is expected


def exact_but_gzip311(got: type[BaseException], expected: type[BaseException]) -> bool:
    """The same type, except where GzipFile itself is broken.

    GzipFile (3.11) in write mode has no _buffer: readline() and friends fail
    with AttributeError there; hybridio raises the EBADF OSError.
    """
    if expected is AttributeError:
        return issubclass(got, OSError)
    return got is expected


def subclass(got: type[BaseException], expected: type[BaseException]) -> bool:
    """Ours may be narrower: io.UnsupportedOperation is an OSError, and the builtin
    raises plain OSError(EBADF) for os.pread on a write-only fd, where hybridio
    refuses before the syscall."""
    return issubclass(got, expected)


# -- the matrix: strategy x backend x compression --------------------------------------

OPENERS: dict[str, Any] = {"gzip": gzip.open, "bz2": bz2.open, "lzma": lzma.open}


@dataclass(frozen=True)
class Served:
    """One cell of the matrix: how the file under test is served."""

    strategy: str  # "kernel" or "thread"
    backend: str | None = None
    compression: str | None = None

    @property
    def id(self) -> str:
        """The test id of the cell."""
        if self.strategy == "kernel":
            return f"kernel-{self.backend}"
        return f"thread-{self.compression}" if self.compression else "thread-served"

    def open_kwargs(self) -> dict[str, Any]:
        """The ``async_open`` arguments that choose this cell."""
        if self.strategy == "kernel":
            return {"backend": self.backend}
        kwargs: dict[str, Any] = {"strategy": "thread"}
        if self.compression:
            kwargs["compression"] = self.compression
        return kwargs

    @property
    def errors(self) -> ErrorRule:
        """How an exception of ours must match the stdlib's in this cell."""
        return subclass if self.strategy == "kernel" else exact_but_gzip311


def cells(
    *, kernel: bool = False, thread: bool = False, compressions: tuple[str, ...] = ()
) -> list[Any]:
    """pytest params for a slice of the matrix: every kernel backend (skipped with
    its reason where unavailable), the thread-served file, each compression format."""
    params: list[Any] = []
    if kernel:
        for p in ALL_BACKENDS:
            served = Served("kernel", backend=p.values[0])  # type: ignore[attr-defined]
            params.append(pytest.param(served, marks=p.marks, id=served.id))  # type: ignore[attr-defined]
    if thread:
        params.append(pytest.param(Served("thread"), id=Served("thread").id))
    for fmt in compressions:
        served = Served("thread", compression=fmt)
        params.append(pytest.param(served, id=served.id))
    return params


# -- the runner against the stdlib twin -----------------------------------------------------


class FixedBufferedRandom(io.BufferedRandom):
    """CPython 3.11's BufferedRandom.read1 does not flush its write buffer first
    (data written before it lands after the read-ahead); later CPythons and _pyio
    flush, and so does hybridio.  The oracle gets the fixed behaviour."""

    def read1(self, size: int = -1, /) -> bytes:
        self.flush()
        return super().read1(size)


def open_stdlib(served: Served, path: Path, mode: str, buffering: int, **text: Any) -> Any:
    """The twin the stdlib opens for the same call.

    A kernel-served binary file is compared with ``FileIO`` whatever its
    buffering: it asks the OS at every call, as FileIO does, where C's
    BufferedRandom would answer from a stale buffer (O_APPEND moves the OS
    position behind its back).  A text file sits on a buffered binary twin.
    """
    if served.compression:
        return OPENERS[served.compression](path, mode, **text)
    if "b" not in mode:
        if "+" not in mode:
            return open(path, mode, **text)
        return io.TextIOWrapper(FixedBufferedRandom(io.FileIO(path, mode)), **text)
    if served.strategy == "kernel" or buffering == 0:
        return io.FileIO(path, mode)
    if "+" in mode:
        return FixedBufferedRandom(io.FileIO(path, mode))
    return open(path, mode)


async def open_twins(
    served: Served,
    tmp: Path,
    mode: str,
    content: bytes | None,
    buffering: int = -1,
    **text: Any,
) -> tuple[Any, Any, Path, Path] | None:
    """Twin files holding *content* (None: no file), opened by us and by the stdlib.

    The two opens must fail alike (the same exception type); None then.
    """
    ours_path, theirs_path = tmp / "ours", tmp / "theirs"
    for p in (ours_path, theirs_path):
        p.unlink(missing_ok=True)
        if content is not None:
            p.write_bytes(content)
    theirs = outcome(lambda: open_stdlib(served, theirs_path, mode, buffering, **text))
    ours = await outcome_async(
        hybridio.async_open(  # type: ignore[call-overload]
            ours_path, mode, buffering=buffering, **served.open_kwargs(), **text
        )
    )
    assert (ours[0], ours[0] == "error" and ours[1]) == (
        theirs[0],
        theirs[0] == "error" and theirs[1],
    ), (ours, theirs)
    if ours[0] == "error":
        return None
    return ours[1], theirs[1], ours_path, theirs_path


class Cookies:
    """The ``tell()`` cookies each side of a text comparison told, and whether the
    C TextIOWrapper's next tell() would be computed from a stale snapshot.

    Iteration keeps no snapshot: after next() read a chunk, flush() re-enables
    tell(), and C then walks the snapshot of an older chunk -- reading past the
    end of its bytes when the walk is longer than they are (the cookie comes from
    whatever lies there).  We raise OSError ("can't reconstruct logical file
    position") instead; such a cookie is not compared, nor sought to later.
    """

    def __init__(self) -> None:
        self.ours: list[int] = []
        self.theirs: list[int] = []
        self.stale = False

    def note(self, op: Op, want: Outcome) -> None:
        """Track staleness after the oracle ran *op* with outcome *want*."""
        name = op[0]
        if name == "next":
            self.stale = want != ("ok", "<eof>")
        elif name in ("seek", "seek_told", "write", "readlines") or op == ("read", -1):
            self.stale = self.stale and want[0] == "error"

    def excused(self, got: Outcome, want: Outcome) -> bool:
        """Whether *got* differs from *want* only by the stale-snapshot rule."""
        if self.stale and got == ("error", OSError) and want[0] == "ok":
            self.theirs.pop()
            return True
        return False


async def compare(
    ours: Any,
    theirs: Any,
    seq: list[Op],
    *,
    errors: ErrorRule = exact,
    cookies: Cookies | None = None,
    refuses_readline0: bool = False,
) -> None:
    """Apply *seq* to both files and compare every outcome.

    *refuses_readline0*: ours refuses ``readline(0)`` on a write-only file, where
    IOBase.readline(0) returns b"" before checking the direction (the
    kernel-served file refuses a read whatever its size); not compared then.
    """
    told = cookies or Cookies()
    for i, op in enumerate(seq):
        where = f"op #{i} {op!r} after {seq[:i]!r}"
        if op[0] == "read1":
            await _compare_read1(ours, theirs, op, errors, where)
            continue
        if refuses_readline0 and op[:2] == ("readline", 0) and not theirs.readable():
            continue
        want = outcome(lambda op=op: run_sync(theirs, op, told.theirs))
        got = await outcome_async(run_async(ours, op, told.ours))
        if op[0] == "seek" and want[0] == "ok" and _stale_gzip_seek(theirs):
            # CPython 3.12+ GzipFile.seek() in write mode returns the offset
            # from before the zeros it wrote (they sit in its BufferedWriter);
            # its own tell() is right, and that is what hybridio returns.
            want = ("ok", theirs.tell())
        if got[0] == want[0] == "error":
            assert errors(got[1], want[1]), f"{where}: {got} != {want}"
        elif got != want and not (cookies and cookies.excused(got, want)):
            raise AssertionError(f"{where}: {got!r} != {want!r}")
        told.note(op, want)


async def _compare_read1(ours: Any, theirs: Any, op: Op, errors: ErrorRule, where: str) -> None:
    # read1 may return fewer bytes than asked (it depends on buffer sizes): the
    # oracle reads as many as we got, so the positions stay aligned; nothing
    # only at the oracle's EOF.
    got = await outcome_async(ours.read1(op[1]))
    if got[0] == "ok":
        expected = outcome(functools.partial(theirs.read, len(got[1])))
        assert got == expected, f"{where}: {got!r} != {expected!r}"
        if not got[1] and op[1]:
            assert outcome(functools.partial(theirs.read, 1)) == ("ok", b""), where
        return
    reader = getattr(theirs, "read1", theirs.read)
    expected = outcome(lambda: reader(op[1]))
    assert expected[0] == "error", f"{where}: {got} != {expected}"
    assert errors(got[1], expected[1]), f"{where}: {got} != {expected}"


def _stale_gzip_seek(theirs: Any) -> bool:
    return (
        sys.version_info >= (3, 12)
        and isinstance(theirs, gzip.GzipFile)
        and theirs.mode == gzip.WRITE  # type: ignore[attr-defined]
    )


_POSITION_DEPENDENT = {"read", "read1", "readinto", "readline", "readlines", "tell", "truncate"}


def append_mode_filter(mode: str, seq: list[Op]) -> list[Op]:
    """Drop, in append modes, position-dependent ops between a write and the next seek.

    O_APPEND moves the OS position to the end behind the buffer's back; C's
    BufferedRandom then serves reads from its stale shared buffer and reports a
    stale tell() (an artefact, not a contract).  hybridio asks the OS instead.
    """
    if "a" not in mode:
        return seq
    kept = []
    dirty = False
    for op in seq:
        if op[0] == "write":
            dirty = True
        elif op[0] == "seek":
            dirty = False
        elif dirty and op[0] in _POSITION_DEPENDENT:
            continue
        kept.append(op)
    return kept


async def close_both(ours: Any, theirs: Any) -> tuple[Outcome, Outcome]:
    """Close both files; their outcomes (a close may fail, as the stdlib's does)."""
    closed_ours = await outcome_async(ours.close())
    closed_theirs = outcome(theirs.close)
    return closed_ours, closed_theirs
