"""The text oracle (E1, T1, T2; issue 16): the same random sequences of text operations
on an ``async_open`` text file and on the builtin ``open()`` of a twin file, with the
same mode, encoding, errors and newline, give the same results, ``tell()`` cookies,
exception types and final bytes.

One harness, run over both binary files a text file can sit on -- the kernel-served
one (the default path, on every kernel backend) and the thread-served one
(``strategy="thread"``) -- each under asyncio and uvloop.  Hypothesis draws the
same sequences for every cell of that matrix (the "ci" profile is derandomized).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import hybridio
from hybridio._layers.buffered import KernelBinaryFile
from hybridio._layers.stream import StreamFile, open_stream
from hybridio._layers.text import AsyncTextIO
from hybridio._modes import parse_mode
from tests.oracle import harness
from tests.oracle.harness import Served

# utf-16/utf-32/utf-8-sig keep a BOM state, utf-8 and shift_jis have multibyte
# characters, latin-1 and ascii are one byte per character (ascii refuses most).
ENCODINGS = ["utf-8", "utf-16", "utf-8-sig", "shift_jis", "latin-1", "ascii", "utf-32"]
ERRORS = ["strict", "ignore", "replace", "surrogateescape", "backslashreplace"]
NEWLINES = [None, "", "\n", "\r", "\r\n"]
# Write-only, read-write and appending: "a"/"a+" start past a BOM at a non-zero offset.
MODES = ["r", "w", "a", "r+", "w+", "a+"]

# Text that exercises newline translation, multibyte characters, the characters
# str.splitlines breaks at but TextIOWrapper does not, and (for the error handlers)
# characters some codecs cannot encode.
pieces = st.sampled_from(
    ["a", "bc", "\n", "\r", "\r\n", "é", "日本", "😀", "\x85", "\u2028", "\x0c", " "]
)
text = st.lists(pieces, max_size=20).map("".join)
# The twin files start with undecodable bytes, or with text in the file's encoding.
initial = st.one_of(st.binary(max_size=40), text)

ops = st.one_of(
    st.tuples(st.just("write"), text),
    st.tuples(st.just("read"), st.integers(min_value=-1, max_value=12)),
    st.tuples(st.just("readline"), st.sampled_from([-1, -1, 0, 1, 3, 7])),
    st.tuples(st.just("next")),
    st.tuples(st.just("tell")),
    st.tuples(st.just("seek_told"), st.integers(min_value=0, max_value=5)),
    st.sampled_from([(0, 0), (0, 2), (0, 1), (3, 1)]).map(lambda a: ("seek", *a)),
    st.tuples(st.just("flush")),
    st.tuples(st.just("truncate")),
    st.tuples(st.just("readlines")),
)


async def _compare(
    tmp: Path,
    served: Served,
    start: str | bytes,
    mode: str,
    encoding: str,
    errors: str,
    newline: str | None,
    seq: list[tuple[Any, ...]],
) -> None:
    data = start if isinstance(start, bytes) else start.encode(encoding, "replace")
    text: dict[str, Any] = {"encoding": encoding, "errors": errors, "newline": newline}
    twins = await harness.open_twins(served, tmp, mode, data, **text)
    assert twins is not None  # the twin files exist: every mode opens
    f, oracle, ours, theirs = twins
    try:
        # The binary file under test is the one this cell of the matrix names.
        assert type(f.buffer) is (KernelBinaryFile if served.strategy == "kernel" else StreamFile)
        await harness.compare(f, oracle, seq, cookies=harness.Cookies())
    finally:
        closed_a, closed_b = await harness.close_both(f, oracle)
    assert closed_a == closed_b
    assert ours.read_bytes() == theirs.read_bytes()


# A walk through every operation and fast path (cached lines, read(n) from decoded
# text, ASCII writes), pinned for every mode and newline: a derandomized search
# alone would leave some of the 30 combinations out.
_WALK: list[tuple[Any, ...]] = [
    ("read", 1),
    ("read", 3),
    ("readline", -1),
    ("readline", -1),
    ("next",),
    ("next",),
    ("read", 2),
    ("readline", -1),
    ("tell",),
    ("write", "x\r\ny\n"),
    ("seek_told", 0),
    ("readline", 2),
    ("readline", -1),
    ("next",),
    ("flush",),
    ("tell",),
    ("seek", 0, 2),
    ("write", "é\n"),
    ("truncate",),
    ("seek", 0, 0),
    ("readlines",),
]
_PINNED: list[dict[str, Any]] = [
    *(
        {"mode": mode, "newline": newline, "start": "ab\ncd\r\nef\rgh\nij\nkl\r\n", "seq": _WALK}
        for mode in MODES
        for newline in NEWLINES
    ),
    # ASCII writes take a fast path: newline translation must still apply.
    {"newline": "\r\n", "seq": [("write", "a\nb\r"), ("tell",), ("write", "\n")]},
    # A cookie carrying decoder flags (utf-16 before its BOM), told again after the
    # seek.
    {
        "start": "ab",
        "encoding": "utf-16",
        "seq": [("readline", 0), ("tell",), ("seek_told", 0), ("tell",)],
    },
    # Appending after a utf-16 BOM, then seeking back before any read (#16: the
    # decoder, made only at the first read, expected a BOM there and raised).
    {
        "mode": "a+",
        "encoding": "utf-16",
        "seq": [("tell",), ("write", "a"), ("seek_told", 0), ("read", 1)],
    },
    # A write after a partial read must drop the text decoded ahead (the fast path
    # too).
    {"start": "abc\nde", "seq": [("read", 1), ("write", "x"), ("read", -1), ("tell",)]},
    # readline(limit) with newline="\r\n" held back a last character that was not a
    # "\r", read on, and hit the decode error open() does not reach.
    {
        "newline": "\r\n",
        "start": b"abc\xc2",
        "seq": [("readline", 3), ("tell",), ("read", -1)],
    },
    # A write after next() keeps the text read ahead (no snapshot places it).
    {"start": "\r\na\n", "seq": [("next",), ("write", ""), ("next",), ("flush",)]},
    # tell() from a snapshot older than the chunk next() read: OSError, not an
    # AssertionError (see _Cookies).
    {
        "mode": "r",
        "newline": "",
        "start": "\n",
        "seq": [("seek", 0, 0), ("next",), ("flush",), ("tell",)],
    },
]

#: Drawn examples per cell of the matrix (the pinned ones come on top).
EXAMPLES = 40


def oracle_cases(test: Any) -> Any:
    """The drawn and the pinned cases: the same for every cell of the matrix."""
    defaults = {"mode": "r+", "newline": None, "start": "", "encoding": "utf-8"}
    for case in reversed(_PINNED):
        test = example(**{**defaults, "errors": "strict", **case})(test)
    cases = given(
        mode=st.sampled_from(MODES),
        newline=st.sampled_from(NEWLINES),
        start=initial,
        encoding=st.sampled_from(ENCODINGS),
        errors=st.sampled_from(ERRORS),
        seq=st.lists(ops, min_size=3, max_size=16),
    )
    return settings(max_examples=EXAMPLES)(cases(test))


@pytest.fixture(params=harness.cells(kernel=True, thread=True))
def served(request: pytest.FixtureRequest) -> Served:
    """How the binary file under the text layer is served: by each kernel backend
    (the default path; skipped with its reason where unavailable), or by threads."""
    return request.param  # type: ignore[no-any-return]


@oracle_cases
def test_text_ops_match_builtin_open(
    served: Served,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    mode: str,
    newline: str | None,
    start: str | bytes,
    encoding: str,
    errors: str,
    seq: list[tuple[Any, ...]],
) -> None:
    """One text file over each kind of binary file, against ``open()``."""
    main = _compare(tmp_path, served, start, mode, encoding, errors, newline, seq)
    loop.run_until_complete(asyncio.wait_for(main, 60))


# -- targeted cases (thread-served, where chunk boundaries are set by hand) ------------


@given(
    encoding=st.sampled_from(["utf-8", "utf-16", "shift_jis"]),
    newline=st.sampled_from(NEWLINES),
    body=st.lists(pieces, min_size=1, max_size=12).map("".join),
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


def test_tell_refuses_decoder_flags_wider_than_a_c_int_as_open_does(tmp_path: Path) -> None:
    """iso-2022-jp, after a bad escape, reports decoder flags past a C int; the
    builtin's tell() raises OverflowError, and so does ours (it used to pack a
    truncated cookie, which would seek to another decoder state)."""
    path = tmp_path / "jp.txt"
    path.write_bytes(b"\x1b\x00$BF|K\\\x1b(B")

    async def main() -> tuple[str, Any]:
        async with hybridio.async_open(path, encoding="iso-2022-jp") as f:
            first = await f.read(1)
            return first, await harness.outcome_async(f.tell())

    with open(path, encoding="iso-2022-jp") as theirs:
        expected = theirs.read(1), harness.outcome(theirs.tell)
    assert expected[1] == ("error", OverflowError)
    assert asyncio.run(asyncio.wait_for(main(), 60)) == expected
