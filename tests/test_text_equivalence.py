"""The stdlib is the oracle (E1, T1, T2): random op sequences on an AsyncTextIO over a
thread-served StreamFile and on the builtin ``open()`` of a twin file, with the same
encoding, errors and newline, give the same results, positions (tell cookies), exception
types and final bytes."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hybridio._layers.stream import open_stream
from hybridio._layers.text import AsyncTextIO
from hybridio._modes import parse_mode

ENCODINGS = ["utf-8", "utf-16", "shift_jis", "latin-1", "ascii", "utf-8-sig", "utf-32"]
ERRORS = ["strict", "ignore", "replace", "surrogateescape", "backslashreplace"]
NEWLINES = [None, "", "\n", "\r", "\r\n"]
MODES = ["r", "r+", "w+", "a+"]

# Text that exercises newline translation, multibyte characters and (for the
# error handlers) characters some codecs cannot encode.
alphabet = st.sampled_from(
    ["a", "b", "\n", "\r", "\r\n", "é", "日本", "😀", "\x85", "\u2028", "\x0c", " "]
)
text = st.lists(alphabet, max_size=30).map("".join)
raw_bytes = st.binary(max_size=40)

ops = st.one_of(
    st.tuples(st.just("write"), text),
    st.tuples(st.just("read"), st.integers(min_value=-1, max_value=12)),
    st.tuples(st.just("readline"), st.sampled_from([-1, -1, 0, 1, 3, 7])),
    st.tuples(st.just("next")),
    st.tuples(st.just("tell")),
    st.tuples(st.just("seek_told"), st.integers(min_value=0, max_value=5)),
    st.tuples(st.just("seek"), st.sampled_from([(0, 0), (0, 2), (0, 1), (3, 1)])),
    st.tuples(st.just("flush")),
    st.tuples(st.just("truncate")),
    st.tuples(st.just("readlines")),
)


class _BufferedRandom(io.BufferedRandom):
    """The oracle's buffer for "+" modes.  CPython 3.11's BufferedRandom.read1 does
    not flush its write buffer first (fixed later; _pyio always did), so written
    text lands after the read-ahead; hybridio flushes, as later CPythons do."""

    def read1(self, size: int = -1, /) -> bytes:
        self.flush()
        return super().read1(size)


def _open_oracle(path: Path, mode: str, encoding: str, errors: str, newline: str | None) -> Any:
    if "+" not in mode:
        return open(path, mode, encoding=encoding, errors=errors, newline=newline)
    buffer = _BufferedRandom(io.FileIO(path, mode))
    return io.TextIOWrapper(buffer, encoding=encoding, errors=errors, newline=newline)


def _run_sync(f: Any, op: tuple[Any, ...], told: list[int]) -> Any:
    name = op[0]
    if name == "write":
        return f.write(op[1])
    if name == "read":
        return f.read(op[1])
    if name == "readline":
        return f.readline(op[1])
    if name == "next":
        return next(f, "<eof>")
    if name == "tell":
        told.append(f.tell())
        return told[-1]
    if name == "seek_told":
        return f.seek(told[op[1] % len(told)]) if told else None
    if name == "seek":
        return f.seek(*op[1])
    if name == "flush":
        return f.flush()
    if name == "truncate":
        return f.truncate()
    if name == "readlines":
        return f.readlines()
    raise AssertionError(name)


async def _run_async(f: AsyncTextIO, op: tuple[Any, ...], told: list[int]) -> Any:
    name = op[0]
    if name == "write":
        return await f.write(op[1])
    if name == "read":
        return await f.read(op[1])
    if name == "readline":
        return await f.readline(op[1])
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
    if name == "seek":
        return await f.seek(*op[1])
    if name == "flush":
        return await f.flush()
    if name == "truncate":
        return await f.truncate()
    if name == "readlines":
        return await f.readlines()
    raise AssertionError(name)


def _outcome(fn: Any) -> Any:
    try:
        return ("ok", fn())
    except Exception as exc:  # the type is what must match
        return ("error", type(exc))


async def _outcome_async(aw: Any) -> Any:
    try:
        return ("ok", await aw)
    except Exception as exc:
        return ("error", type(exc))


async def check_equivalent(
    tmp: Path,
    initial: bytes,
    mode: str,
    encoding: str,
    errors: str,
    newline: str | None,
    seq: list[tuple[Any, ...]],
    buffering: int = -1,
) -> None:
    ours, theirs = tmp / "ours.txt", tmp / "theirs.txt"
    for p in (ours, theirs):
        p.write_bytes(initial)
    oracle = _open_oracle(theirs, mode, encoding, errors, newline)
    binary = await open_stream(os.fspath(ours), parse_mode(mode), buffering=buffering)
    f = AsyncTextIO(binary, encoding=encoding, errors=errors, newline=newline)
    told_a: list[int] = []
    told_b: list[int] = []
    try:
        for i, op in enumerate(seq):
            expected = _outcome(lambda op=op: _run_sync(oracle, op, told_b))
            got = await _outcome_async(_run_async(f, op, told_a))
            assert got == expected, f"op #{i} {op!r}: {got!r} != {expected!r} after {seq[:i]!r}"
    finally:
        closed_a = await _outcome_async(f.close())
        closed_b = _outcome(oracle.close)
    assert closed_a == closed_b
    assert ours.read_bytes() == theirs.read_bytes()


@given(
    initial=raw_bytes | text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    mode=st.sampled_from(MODES),
    encoding=st.sampled_from(ENCODINGS),
    errors=st.sampled_from(ERRORS),
    newline=st.sampled_from(NEWLINES),
    seq=st.lists(ops, max_size=14),
)
async def test_text_ops_match_builtin_open(
    tmp_path: Path,
    initial: bytes,
    mode: str,
    encoding: str,
    errors: str,
    newline: str | None,
    seq: list[tuple[Any, ...]],
) -> None:
    await check_equivalent(tmp_path, initial, mode, encoding, errors, newline, seq)


@given(
    encoding=st.sampled_from(["utf-8", "utf-16", "shift_jis"]),
    newline=st.sampled_from(NEWLINES),
    body=st.lists(alphabet, min_size=1, max_size=12).map("".join),
    sizes=st.lists(st.integers(min_value=1, max_value=16), min_size=1, max_size=8),
)
async def test_read_n_never_exceeds_n_across_chunk_boundaries(
    tmp_path: Path, encoding: str, newline: str | None, body: str, sizes: list[int]
) -> None:
    """T1 (aiofile#91): multibyte characters and \\r\\n pairs split across the chunk
    boundary; read(n) never returns more than n characters and the reads add up."""
    payload = (body * 2000).encode(encoding, "replace")
    path = tmp_path / "t.txt"
    path.write_bytes(payload)
    with open(path, encoding=encoding, errors="replace", newline=newline) as f:
        expected = f.read()
    binary = await open_stream(os.fspath(path), parse_mode("r"))
    async with AsyncTextIO(binary, encoding=encoding, errors="replace", newline=newline) as t:
        t.chunk_size = 7  # odd size: splits characters and \r\n pairs everywhere
        parts = []
        i = 0
        while True:
            n = sizes[i % len(sizes)]
            i += 1
            part = await t.read(n)
            assert len(part) <= n
            if not part:
                break
            parts.append(part)
    assert "".join(parts) == expected


@pytest.mark.parametrize("newline", NEWLINES)
@pytest.mark.parametrize("chunk", [1, 2, 3, 8192])
async def test_crlf_split_across_chunks_iterates_like_textiowrapper(
    tmp_path: Path, newline: str | None, chunk: int
) -> None:
    """T2: '\\r\\n' straddling every possible chunk boundary; lines as TextIOWrapper."""
    payload = b"a\r\nbb\rccc\n\r\n\rdd\r\n" * 50
    path = tmp_path / "t.txt"
    path.write_bytes(payload)
    with open(path, encoding="ascii", newline=newline) as f:
        expected = list(f)
        newlines = f.newlines
    binary = await open_stream(os.fspath(path), parse_mode("r"))
    async with AsyncTextIO(binary, encoding="ascii", newline=newline) as t:
        t.chunk_size = chunk
        got = [line async for line in t]
        assert t.newlines == newlines
    assert got == expected


@pytest.mark.parametrize("errors", ERRORS)
async def test_decode_errors_match_textiowrapper(tmp_path: Path, errors: str) -> None:
    """T2: each error handler on invalid utf-8, read whole and by lines."""
    payload = b"ok\n\xff\xfebad\nline \xc3\n\xe6\x97\xa5\n" * 3000
    path = tmp_path / "t.txt"
    path.write_bytes(payload)
    for reader in ("read", "lines"):
        with open(path, encoding="utf-8", errors=errors) as f:
            try:
                expected: Any = f.read() if reader == "read" else list(f)
            except UnicodeDecodeError as exc:
                expected = type(exc)
        binary = await open_stream(os.fspath(path), parse_mode("r"))
        async with AsyncTextIO(binary, encoding="utf-8", errors=errors) as t:
            try:
                got: Any = await t.read() if reader == "read" else [x async for x in t]
            except UnicodeDecodeError as exc:
                got = type(exc)
        assert got == expected
