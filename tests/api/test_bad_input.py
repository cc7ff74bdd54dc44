"""Bad input, table-driven, against the stdlib as the oracle (RELIABILITY B5-B8, issue 9).

Every row of the table is one call with a bad (or borderline) argument: None, bool,
float, str, bytes, negative numbers, 2**63, 2**64, numpy ints, non-contiguous numpy
arrays, plus calls in the wrong direction and on a closed file.  Each row runs on a
hybridio file and on its stdlib twin -- builtin ``open()`` (a BufferedReader, Writer
or Random), ``FileIO`` (``buffering=0``), ``TextIOWrapper`` and ``gzip.open`` -- on
every strategy and kernel backend.  The exception TYPE must always be the same, and
``str()`` too, except for the documented allow-list below.  When both succeed, the
results must be equal.

Positional calls have no stdlib method; their oracle is ``os.pread``/``os.pwrite``/
``os.preadv`` on the twin's fd (argument errors first, as those functions do), with
the file's own ``read``/``write`` error for a closed file or the wrong direction.

One file per (group, route), not one per row: the whole module runs in seconds.
"""

from __future__ import annotations

import errno
import gzip
import inspect
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hybridio
from hybridio import Strategy
from hybridio._errors import BatchError

CONTENT = b"0123456789abcdef\n" * 40

_BIG = 1 << 20  # a strided array this large skips the write buffer


def _strided(n: int) -> Any:
    return np.arange(2 * n, dtype=np.uint8)[::2]


SIZES: list[Any] = [
    None,
    True,
    False,
    1.5,
    "1",
    b"1",
    -1,
    -2,
    3,
    2**63,
    2**64,
    -(2**63) - 1,
    np.int64(2),
    np.int32(1),
]
OFFSETS: list[Any] = [
    None,
    True,
    1.5,
    "1",
    -1,
    2**63,
    2**64,
    -(2**63) - 1,
    np.int64(2),
    np.uint8(1),
]
WHENCES: list[Any] = [True, 1.5, None, "0", 3, 4, 5, -1, 2**64, np.int64(1)]
DATA: list[Any] = [
    None,
    "x",
    1,
    [1],
    b"ab",
    bytearray(b"cd"),
    memoryview(b"abcdef")[::2],
    _strided(4),
    _strided(_BIG),
    np.zeros((2, 3), dtype=np.int16),
    np.zeros((2, 3), dtype=np.int16, order="F"),
]
BUFFERS: list[Any] = [None, b"xx", bytearray(3), memoryview(bytearray(4))[::2], _strided(3)]
TRUNCATE_SIZES: list[Any] = [None, True, 1.5, "1", -1, 2**63, 2**64, np.int64(3)]

Row = tuple[str, tuple[Any, ...]]


def _binary_rows(*, positional: bool, big_seeks: bool) -> list[Row]:
    rows: list[Row] = []
    for size in SIZES:
        rows += [("read", (size,)), ("read1", (size,)), ("readline", (size,))]
        rows += [("readlines", (size,))]
    rows += [("readinto", (buf,)) for buf in BUFFERS]
    rows += [("write", (data,)) for data in DATA]
    rows += [("writelines", ([data],)) for data in DATA[:5]] + [("writelines", (None,))]
    offsets = OFFSETS if big_seeks else [o for o in OFFSETS if not _huge(o)]
    rows += [("seek", (off,)) for off in offsets]
    rows += [("seek", (0, whence)) for whence in WHENCES]
    rows += [("seek", (5, 3)), ("seek", (5, 4)), ("seek", (-3, 1)), ("seek", (-3, 2))]
    if big_seeks:
        # Past the largest offset, and before 0: EINVAL from lseek.
        rows += [("seek", (2**63 - 1, 2)), ("seek", (-(2**63), 1))]
        # Past the filesystem's largest file (ext4: 16 TiB): lseek says EINVAL.
        rows += [("seek", (2**63 - 1,)), ("seek", (2**62,)), ("seek", (2**45,))]
    rows += [("truncate", (size,)) for size in TRUNCATE_SIZES]
    rows += [("tell", ()), ("flush", ()), ("fileno", ())]
    rows += [("readable", ()), ("writable", ()), ("seekable", ()), ("isatty", ())]
    if positional:
        rows += [("read_at", (off, 2)) for off in OFFSETS]
        rows += [("read_at", (0, size)) for size in SIZES if size is not None]
        rows += [("read_at", (2**63 - 2, 4)), ("read_at", (2**63 - 1, 1))]
        rows += [("readinto_at", (off, bytearray(2))) for off in OFFSETS]
        rows += [("readinto_at", (0, buf)) for buf in BUFFERS]
        rows += [("write_at", (off, b"zz")) for off in OFFSETS if not _valid_offset(off)]
        rows += [("write_at", (0, data)) for data in DATA]
        rows += [("write_at", (2**63 - 1, b"zz"))]
        rows += [("read_many", ([(off, 2)],)) for off in OFFSETS if not _valid_offset(off)]
        rows += [("read_many", ([(0, size)],)) for size in (None, 1.5, -1, 2**63, 2**64)]
        rows += [("write_many", ([(off, b"y")],)) for off in OFFSETS if not _valid_offset(off)]
        rows += [("write_many", ([(0, data)],)) for data in DATA[:4]]
    return rows


def _huge(value: Any) -> bool:
    return isinstance(value, int) and abs(value) >= 2**62


def _valid_offset(value: Any) -> bool:
    return not isinstance(value, (float, str, bytes, type(None))) and 0 <= int(value) < 2**62


COOKIES: list[Any] = [
    None,
    True,
    1.5,
    "1",
    -1,
    2**63,
    2**64,
    2**160,
    2**168,
    (5 << 128) | 3,  # chars_to_skip with nothing to feed
    (7 << 96) | 4,  # bytes_to_feed without chars to skip
    np.int64(3),
]


def _text_rows() -> list[Row]:
    rows: list[Row] = []
    for size in SIZES:
        rows += [("read", (size,)), ("readline", (size,)), ("readlines", (size,))]
    rows += [("write", (s,)) for s in (None, b"x", 1, "ok", ["x"])]
    rows += [("writelines", (["a", b"b"],)), ("writelines", (None,))]
    rows += [("seek", (cookie,)) for cookie in COOKIES]
    # Where a bogus cookie is accepted, tell() must then agree too.
    rows += [("seek_then_tell", (cookie,)) for cookie in COOKIES]
    rows += [("seek", (0, whence)) for whence in WHENCES]
    rows += [("seek", (1, 1)), ("seek", (1, 2)), ("seek", (0, 1)), ("seek", (0, 2))]
    rows += [("tell", ()), ("flush", ()), ("fileno", ())]
    rows += [("truncate", (size,)) for size in TRUNCATE_SIZES]
    rows += [("readable", ()), ("writable", ()), ("seekable", ()), ("isatty", ())]
    return rows


# -- the oracle for positional calls -----------------------------------------


def _fd_or_bad(f: Any) -> int:
    return -1 if f.closed else int(f.fileno())


def _as_file_error(f: Any, exc: OSError, direction: str) -> BaseException:
    """EBADF from the syscall: closed, or the file's own wrong-direction error."""
    if exc.errno != errno.EBADF:
        return exc
    if f.closed:
        return ValueError("I/O operation on closed file.")
    try:
        if direction == "read":
            f.read(1)
        else:
            f.write(b"")
    except (ValueError, OSError) as file_exc:
        return file_exc
    return exc  # pragma: no cover - the syscall said EBADF on an open fd


def _pread(f: Any, offset: Any, size: Any) -> bytes:
    try:
        return os.pread(_fd_or_bad(f), size, offset)
    except OSError as exc:
        raise _as_file_error(f, exc, "read") from None


def _preadinto(f: Any, offset: Any, buffer: Any) -> int:
    try:
        return os.preadv(_fd_or_bad(f), [buffer], offset)
    except OSError as exc:
        raise _as_file_error(f, exc, "read") from None


def _pwrite(f: Any, offset: Any, data: Any) -> int:
    try:
        return os.pwrite(_fd_or_bad(f), data, offset)
    except OSError as exc:
        raise _as_file_error(f, exc, "write") from None


def _pread_many(f: Any, ranges: list[tuple[Any, Any]]) -> list[bytes]:
    return [_pread(f, off, size) for off, size in ranges]


def _pwrite_many(f: Any, writes: list[tuple[Any, Any]]) -> list[int]:
    return [_pwrite(f, off, data) for off, data in writes]


POSITIONAL: dict[str, Callable[..., Any]] = {
    "read_at": _pread,
    "readinto_at": _preadinto,
    "write_at": _pwrite,
    "read_many": _pread_many,
    "write_many": _pwrite_many,
}


# -- the allow-list: where hybridio has no stdlib counterpart ----------------


def _expected_override(group: str, name: str, args: tuple[Any, ...]) -> type[BaseException] | None:
    """The exception type hybridio documents where the oracle has none or differs.

    * Compressed files have no positional I/O: ``io.UnsupportedOperation``
      (a BatchError of those for ``read_many``/``write_many``).
    * RELIABILITY B6: a negative offset or size to a positional call is a
      ValueError (``os.pread`` says OSError EINVAL, after a syscall).
    * ``readinto_at`` refuses a read-only or non-contiguous buffer with
      ``readinto()``'s TypeError (``os.preadv`` lets the exporter choose:
      BufferError, or numpy's ValueError).
    """
    if name not in POSITIONAL:
        return None
    if group.startswith("gzip"):
        # Batches report per item: each failed with UnsupportedOperation.
        return BatchError if name.endswith("_many") else io.UnsupportedOperation
    offset, second = (args[0][0] if name in ("read_many", "write_many") else args)[:2]
    for value in (offset, second if name in ("read_at", "read_many") else 0):
        if isinstance(value, int) and -(2**63) <= value < 0:
            return ValueError
    if name == "readinto_at" and offset == 0 and not _plain_writable(second):
        return TypeError
    return None


def _plain_writable(buffer: Any) -> bool:
    try:
        with memoryview(buffer) as view:
            return not view.readonly and view.c_contiguous
    except TypeError:
        return True  # not a buffer at all: os.preadv's TypeError is the oracle


def _message_exempt(ours: BaseException, theirs: BaseException) -> bool:
    """Rows whose str() is not compared (the type still is).

    The closed-file wording varies by class and by method in the stdlib ("read
    of closed file", "seek of closed file", "I/O operation on closed file" with
    and without a period, "write to closed file"); hybridio says
    "I/O operation on closed file." everywhere.
    """
    return "closed file" in str(theirs) and "closed file" in str(ours)


# -- running both ---------------------------------------------------------------


def _call_theirs(f: Any, name: str, args: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        if name == "seek_then_tell":
            f.seek(*args)
            return "ok", f.tell()
        if name in POSITIONAL:
            return "ok", POSITIONAL[name](f, *args)
        return "ok", getattr(f, name)(*args)
    except Exception as exc:
        return "error", exc


async def _call_ours(f: Any, name: str, args: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        if name == "seek_then_tell":
            await f.seek(*args)
            return "ok", await f.tell()
        result = getattr(f, name)(*args)
        if inspect.isawaitable(result):
            result = await result
        return "ok", result
    except Exception as exc:
        return "error", exc


def _describe(name: str, args: tuple[Any, ...]) -> str:
    def short(a: Any) -> str:
        if isinstance(a, np.ndarray):
            return f"ndarray{a.shape}{'' if a.flags.c_contiguous else ' strided'}"
        if isinstance(a, list) and a and isinstance(a[0], tuple):
            return "[" + ", ".join("(" + ", ".join(map(short, t)) + ")" for t in a) + "]"
        if isinstance(a, list):
            return "[" + ", ".join(map(short, a)) + "]"
        return f"{type(a).__name__}({a!r})" if isinstance(a, np.generic) else repr(a)

    return f"{name}({', '.join(map(short, args))})"


def _same(name: str, ours: Any, theirs: Any) -> bool:
    if name == "fileno":  # two files, two fds
        return isinstance(ours, int)
    return bool(ours == theirs)


def _r(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 90 else text[:80] + "..."


async def _compare(group: str, ours: Any, theirs: Any, rows: list[Row]) -> list[str]:
    problems: list[str] = []
    for name, args in rows:
        label = _describe(name, args)
        t_kind, t_value = _call_theirs(theirs, name, args)
        o_kind, o_value = await _call_ours(ours, name, args)
        override = _expected_override(group, name, args)
        if t_kind == "error" and type(t_value) is AttributeError:
            pass  # the stdlib class lacks the method (FileIO.read1); hybridio has them all
        elif override is not None:
            if not (o_kind == "error" and type(o_value) is override):
                problems.append(
                    f"{label}: expected {override.__name__}, got {o_kind} {_r(o_value)}"
                )
        elif t_kind != o_kind:
            problems.append(
                f"{label}: stdlib {t_kind} {_r(t_value)}, hybridio {o_kind} {_r(o_value)}"
            )
        elif t_kind == "error":
            if type(o_value) is not type(t_value) or (
                str(o_value) != str(t_value) and not _message_exempt(o_value, t_value)
            ):
                problems.append(f"{label}: stdlib {_r(t_value)}, hybridio {_r(o_value)}")
        elif name == "seek":
            # Compare where both files are: after some failed calls, the C
            # BufferedRandom.seek returns a stale number while tell() is right.
            t_pos, o_pos = theirs.tell(), await ours.tell()
            if o_pos != t_pos or o_value not in (t_value, o_pos):
                problems.append(f"{label}: stdlib at {t_pos}, hybridio {o_value} at {o_pos}")
        elif not _same(name, o_value, t_value):
            problems.append(f"{label}: stdlib {_r(t_value)}, hybridio {_r(o_value)}")
        # Resynchronise the positions (both fail alike where seeking is refused).
        for call in (theirs.seek, ours.seek):
            try:
                result = call(0)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                pass
    return problems


# (group id, how the stdlib twin opens, the async_open arguments, closed, rows)
def _groups(*, compressed: bool) -> list[Any]:
    bin_rows = _binary_rows(positional=True, big_seeks=True)
    text_rows = _text_rows()
    groups: list[Any] = []
    for mode in ("rb", "wb", "ab", "r+b"):
        kind = "random" if "+" in mode else "buffered"
        groups.append((f"{kind}-{mode}", mode, {}, False, bin_rows))
    for mode in ("rb", "wb", "r+b"):
        groups.append((f"fileio-{mode}", mode, {"buffering": 0}, False, bin_rows))
    for mode in ("rb", "wb", "r+b"):
        kind = "random" if "+" in mode else "buffered"
        groups.append((f"{kind}-{mode}-closed", mode, {}, True, bin_rows))
        groups.append((f"fileio-{mode}-closed", mode, {"buffering": 0}, True, bin_rows))
    for mode in ("r", "w", "r+"):
        groups.append((f"text-{mode}", mode, {"encoding": "utf-8"}, False, text_rows))
    for mode in ("r", "w", "r+"):
        groups.append((f"text-{mode}-closed", mode, {"encoding": "utf-8"}, True, text_rows))
    if compressed:
        gz_read = _binary_rows(positional=True, big_seeks=True)
        # A forward seek in write mode writes zeros: no huge offsets there.
        gz_write = _binary_rows(positional=True, big_seeks=False)
        groups.append(("gzip-rb", "rb", {"compression": "gzip"}, False, gz_read))
        groups.append(("gzip-wb", "wb", {"compression": "gzip"}, False, gz_write))
        groups.append(("gzip-rb-closed", "rb", {"compression": "gzip"}, True, gz_read))
        groups.append(("gzip-wb-closed", "wb", {"compression": "gzip"}, True, gz_write))
    return groups


def _open_theirs(path: Path, mode: str, kwargs: dict[str, Any]) -> Any:
    if "compression" in kwargs:
        return gzip.open(path, mode)
    return open(path, mode, **kwargs)


def _prepare(path: Path, compressed: bool) -> None:
    if compressed:
        path.write_bytes(gzip.compress(CONTENT))
    else:
        path.write_bytes(CONTENT)


async def _run_group(tmp_path: Path, group: Any, route: dict[str, Any]) -> None:
    gid, mode, kwargs, closed, rows = group
    compressed = "compression" in kwargs
    theirs_path, ours_path = tmp_path / f"{gid}-theirs", tmp_path / f"{gid}-ours"
    _prepare(theirs_path, compressed)
    _prepare(ours_path, compressed)
    theirs = _open_theirs(theirs_path, mode, kwargs)
    ours: Any = await hybridio.async_open(ours_path, mode, **kwargs, **route)
    try:
        if closed:
            theirs.close()
            await ours.close()
        problems = await _compare(gid, ours, theirs, rows)
    finally:
        theirs.close()
        await ours.close()
    if not compressed and "w" not in mode and "a" not in mode:
        # Same file contents afterwards (for readable twins; writes were alike).
        assert ours_path.read_bytes() == theirs_path.read_bytes(), gid
    assert not problems, f"{gid} ({len(problems)} of {len(rows)} rows differ):\n" + "\n".join(
        problems
    )


GROUP_IDS = [g[0] for g in _groups(compressed=True)]


@pytest.mark.parametrize("gid", [g for g in GROUP_IDS if not g.startswith("gzip")])
async def test_bad_input_matches_stdlib_on_kernel(tmp_path: Path, backend: str, gid: str) -> None:
    group = next(g for g in _groups(compressed=False) if g[0] == gid)
    await _run_group(tmp_path, group, {"strategy": Strategy.KERNEL, "backend": backend})


@pytest.mark.parametrize("gid", GROUP_IDS)
async def test_bad_input_matches_stdlib_on_threads(tmp_path: Path, gid: str) -> None:
    group = next(g for g in _groups(compressed=True) if g[0] == gid)
    await _run_group(tmp_path, group, {"strategy": Strategy.THREAD})


# -- regressions the table does not show by itself ---------------------------


async def test_offsets_past_2_63_never_wrap_and_never_stick(tmp_path: Path, backend: str) -> None:
    """Issue 9 item 5: io_uring read 2**64 + 2 as 2 and wrote 2**64 over offset 0."""
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    async with hybridio.async_open(path, "r+b", backend=backend, strategy=Strategy.KERNEL) as f:
        with pytest.raises(OverflowError):
            await f.read_at(2**64 + 2, 2)
        with pytest.raises(OverflowError):
            await f.write_at(2**64, b"ZZ")
        with pytest.raises(OSError, match="Invalid argument"):
            await f.write_at(2**63 - 1, b"ZZ")
        with pytest.raises(ValueError, match="offset-sized"):
            await f.seek(2**63)
        await f.write(b"ab")  # nothing stuck: the buffered write lands at 0
        await f.flush()
    assert path.read_bytes() == b"ab23456789"


@pytest.mark.parametrize("route", ["kernel", "thread"])
async def test_seek_data_and_hole_match_fileio(tmp_path: Path, route: str) -> None:
    path = tmp_path / "sparse"
    with open(path, "wb") as f:
        f.seek(1 << 20)
        f.write(b"x")
    with open(path, "rb") as theirs:
        expected = [theirs.seek(0, os.SEEK_DATA), theirs.seek(0, os.SEEK_HOLE)]
        with pytest.raises(OSError, match="No such device") as their_exc:
            theirs.seek(2 << 20, os.SEEK_DATA)
    async with hybridio.async_open(path, "rb", strategy=Strategy(route)) as ours:
        assert [await ours.seek(0, os.SEEK_DATA), await ours.seek(0, os.SEEK_HOLE)] == expected
        assert await ours.tell() == expected[1]
        with pytest.raises(OSError, match="No such device") as our_exc:
            await ours.seek(2 << 20, os.SEEK_DATA)
    assert our_exc.value.errno == their_exc.value.errno == errno.ENXIO


async def test_open_takes_numpy_ints_and_names_paths_like_open(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    fd = os.open(path, os.O_RDONLY)
    try:
        async with hybridio.async_open(np.int64(fd), "rb", closefd=False) as f:
            assert f.name == fd and await f.read() == b"abc"
    finally:
        os.close(fd)
    async with hybridio.async_open(path, "rb", buffering=np.int64(16)) as f:
        with open(path, "rb", buffering=16) as theirs:
            assert f.name == str(path) == theirs.name
        assert await f.read() == b"abc"
    with pytest.raises(ValueError, match=r"^embedded null byte$"):
        hybridio.async_open(str(path) + "\0", "rb")


async def test_closed_gzip_file_answers_readable_like_gzipfile(tmp_path: Path) -> None:
    path = tmp_path / "f.gz"
    with gzip.open(path, "wb") as theirs:
        pass
    f = await hybridio.async_open(path, "wb", compression="gzip")
    await f.close()
    assert [f.readable(), f.writable(), f.seekable()] == [
        theirs.readable(),
        theirs.writable(),
        theirs.seekable(),
    ]
