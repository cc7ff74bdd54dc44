"""The I/O-free text core (``hybridio._layers.textcore``) against the stdlib, without
an event loop: CPython's ``_pyio.TextIOWrapper`` and ``io.TextIOWrapper`` read the same
bytes, served with the same random chunk boundaries, and must return the same text, the
same ``tell()`` cookies and the same exception types; every cookie seeks back to the
same place.  Writes (newline translation, encoding, the BOM rule) give the same bytes."""

from __future__ import annotations

import bisect
import importlib
import io
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hybridio._layers.textcore import (
    LineScan,
    Newlines,
    TextReader,
    TextWriter,
    check_text_args,
    join_pending,
    pack_cookie,
    unpack_cookie,
)

_pyio: Any = importlib.import_module("_pyio")  # CPython's pure-Python io (no stubs)

# Each example is a few milliseconds of plain calls: more of them than the profile's
# default finds the rare cookies (characters to skip, EOF to signal).
MANY = settings(max_examples=300)

# utf-16 and utf-8-sig keep a BOM state, iso-2022-jp shift states (dec_flags != 0),
# utf-8 and shift_jis multibyte characters; latin-1 is one byte per character.
ENCODINGS = ["utf-8", "utf-16", "utf-8-sig", "iso-2022-jp", "shift_jis", "latin-1"]
NEWLINES = [None, "", "\n", "\r", "\r\n"]
ERRORS = ["strict", "replace", "surrogateescape"]
PIECES = ["a", "bc", "\n", "\r", "\r\n", "é", "日本", "ア", "😀", "\x85", "\u2028", " "]


def _encodable(encoding: str) -> list[str]:
    out = []
    for piece in PIECES:
        try:
            piece.encode(encoding)
        except UnicodeEncodeError:
            continue
        out.append(piece)
    return out


class Segmented(io.BufferedIOBase):
    """Read-only bytes whose ``read1`` never crosses one of *cuts*: the chunk
    boundaries every reader of a copy sees the same."""

    def __init__(self, data: bytes, cuts: list[int]) -> None:
        super().__init__()
        self._data = data
        self._cuts = sorted({c for c in cuts if 0 < c < len(data)} | {len(data)})
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read1(self, size: int = -1, /) -> bytes:
        pos = self._pos
        end = self._cuts[bisect.bisect_right(self._cuts, pos)] if pos < len(self._data) else pos
        if size >= 0:
            end = min(end, pos + size)
        self._pos = end
        return self._data[pos:end]

    def read(self, size: int | None = -1, /) -> bytes:
        pos = self._pos
        end = len(self._data) if size is None or size < 0 else min(len(self._data), pos + size)
        self._pos = end
        return self._data[pos:end]

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0, /) -> int:
        self._pos = pos if whence == 0 else (self._pos + pos if whence == 1 else len(self._data))
        return self._pos


class CoreText:
    """A blocking, read-only TextIOWrapper built from the core alone, taking the
    steps ``AsyncTextIO`` takes (line cache included) with plain calls."""

    def __init__(
        self, buffer: Segmented, encoding: str, errors: str, newline: str | None, chunk: int
    ) -> None:
        name, errs, _codec = check_text_args(encoding, errors, newline)
        self.buffer = buffer
        self.chunk = chunk
        self.reader = TextReader(name, errs, Newlines(newline))

    def _slow(self) -> TextReader:
        reader = self.reader
        if reader.lines:
            reader.drop_lines()
        reader.ensure_decoder()
        return reader

    def _read_chunk(self, hint: int = 0) -> bool:
        reader = self.reader
        return reader.feed(self.buffer.read1(reader.chunk_request(self.chunk, hint)), True)

    def read(self, n: int) -> str:
        reader = self._slow()
        if n < 0:
            return reader.take_all(self.buffer.read())
        parts = [reader.take(n)]
        got = len(parts[0])
        eof = False
        while got < n and not eof:
            eof = not self._read_chunk(n - got)
            parts.append(reader.take(n - got))
            got += len(parts[-1])
        return "".join(parts)

    def readline(self, limit: int) -> str:
        if limit == -1:
            line = next(self.reader.line_iter, None)
            if line is not None:
                return line
        reader = self._slow()
        scan = LineScan(reader, limit)
        while True:
            while not reader.decoded_chars:
                if not self._read_chunk():
                    return scan.at_eof()
            result = scan.step()
            if result is not None:
                break
        if reader.decoded_chars_used < len(reader.decoded_chars):
            reader.split_lines()
        return result

    def tell(self) -> int:
        self._slow()
        return self.reader.tell(self.buffer.tell())

    def seek(self, cookie: int) -> int:
        reader = self._slow()
        start_pos, dec_flags, to_feed, need_eof, chars_to_skip = unpack_cookie(cookie)
        self.buffer.seek(start_pos)
        reader.restart(start_pos, dec_flags, True)
        if chars_to_skip:
            reader.replay(dec_flags, self.buffer.read(to_feed), need_eof, chars_to_skip)
        else:
            reader.snapshot = (dec_flags, b"")
        return cookie


def _stdlib(
    module: Any, data: bytes, cuts: list[int], enc: str, errors: str, nl: Any, chunk: int
) -> Any:
    f = module.TextIOWrapper(Segmented(data, cuts), encoding=enc, errors=errors, newline=nl)
    f._CHUNK_SIZE = chunk
    return f


def _do(f: Any, op: tuple[Any, ...], told: list[int]) -> Any:
    try:
        name = op[0]
        if name == "read":
            return f.read(op[1])
        if name == "readline":
            return f.readline(op[1])
        if name == "tell":
            told.append(f.tell())
            return told[-1]
        if name == "seek_told":
            return f.seek(told[op[1] % len(told)]) if told else None
        assert name == "seek0"
        return f.seek(0)
    except (UnicodeError, OSError, OverflowError) as exc:  # the type must match
        return type(exc)


ops = st.one_of(
    st.tuples(st.just("read"), st.integers(min_value=-1, max_value=9)),
    st.tuples(st.just("readline"), st.sampled_from([-1, -1, -1, 0, 1, 2, 5])),
    st.tuples(st.just("tell")),
    st.tuples(st.just("seek_told"), st.integers(min_value=0, max_value=7)),
    st.tuples(st.just("seek0")),
)


@st.composite
def documents(draw: st.DrawFn, errors: bool = False) -> tuple[bytes, str, str]:
    """(bytes, encoding, errors): valid text of one encoding, or (with *errors*)
    that text with random bytes spliced in."""
    encoding = draw(st.sampled_from(ENCODINGS))
    pieces = draw(st.lists(st.sampled_from(_encodable(encoding)), max_size=40))
    data = "".join(pieces).encode(encoding)
    handler = "strict"
    if errors:
        handler = draw(st.sampled_from(ERRORS))
        at = draw(st.integers(min_value=0, max_value=len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data, encoding, handler


def _check_against_stdlib(
    data: bytes,
    encoding: str,
    errors: str,
    newline: str | None,
    chunk: int,
    cuts: list[int],
    seq: list[tuple[Any, ...]],
) -> None:
    ours = CoreText(Segmented(data, cuts), encoding, errors, newline, chunk)
    oracles = {
        m.__name__: _stdlib(m, data, cuts, encoding, errors, newline, chunk) for m in (io, _pyio)
    }
    told: dict[str, list[int]] = {"ours": [], "io": [], "_pyio": []}
    for i, op in enumerate(seq):
        if op == ("readline", 0):
            # C decodes a chunk for readline(0) when nothing is decoded yet (a
            # decode error surfaces there); _pyio reads nothing.  Ours is C's.
            oracles.pop("_pyio", None)
        got = _do(ours, op, told["ours"])
        for name, oracle in list(oracles.items()):
            want = _do(oracle, op, told[name])
            if name == "_pyio" and op[0] in ("tell", "seek_told") and isinstance(want, int):
                # _pyio packs its cookies in other fields than C's struct: the
                # cookies are C's; _pyio's must lead to the same text.  Its
                # 64-bit fields also take decoder flags C refuses (OverflowError).
                assert isinstance(got, int) or got is OverflowError, f"op #{i} {op!r}: {got!r}"
                continue
            assert got == want, f"op #{i} {op!r} vs {name}: {got!r} != {want!r} after {seq[:i]!r}"
            if isinstance(want, type):
                # After a decode error, _pyio keeps the chunk that failed while C
                # drops it; hybridio follows C from there on.
                oracles.pop("_pyio", None)


@MANY
@given(
    doc=documents(),
    newline=st.sampled_from(NEWLINES),
    chunk=st.sampled_from([1, 2, 3, 5, 16, 64, 8192]),
    cut_fractions=st.lists(st.floats(min_value=0, max_value=1), max_size=12),
    seq=st.lists(ops, max_size=16),
)
# newline="\r": a "\n" inside a line is text, also for the line cache.
@example((b"x\ry\nz\rw", "utf-8", "strict"), "\r", 64, [], [("readline", -1)] * 4)
def test_core_reads_like_textiowrapper_across_random_chunk_boundaries(
    doc: tuple[bytes, str, str],
    newline: str | None,
    chunk: int,
    cut_fractions: list[float],
    seq: list[tuple[Any, ...]],
) -> None:
    """read(n), readline(size), tell() and seek(cookie) give _pyio's and C's text and
    cookies, whatever the chunk boundaries of the bytes underneath."""
    data, encoding, errors = doc
    cuts = _cuts(len(data), chunk, cut_fractions)
    _check_against_stdlib(data, encoding, errors, newline, chunk, cuts, seq)


@MANY
@given(
    doc=documents(errors=True),
    newline=st.sampled_from(NEWLINES),
    chunk=st.sampled_from([1, 3, 64]),
    seq=st.lists(ops, max_size=10),
)
# iso-2022-jp after a bad escape reports decoder flags wider than a C int: C's
# tell() refuses them (OverflowError) rather than pack a cookie for another state.
@example((b"\x1b\x00$BF|K\\\x1b(B", "iso-2022-jp", "strict"), None, 1, [("read", 1), ("tell",)])
def test_core_decode_errors_like_textiowrapper(
    doc: tuple[bytes, str, str], newline: str | None, chunk: int, seq: list[tuple[Any, ...]]
) -> None:
    """Invalid bytes: the same replacement text, or the same exception at the same op."""
    # Chunk-sized cuts: C's read(n) asks for more than a chunk, so without them it
    # would decode (and fail) further ahead than _pyio.
    data, encoding, errors = doc
    cuts = _cuts(len(data), chunk, [])
    _check_against_stdlib(data, encoding, errors, newline, chunk, cuts, seq)


def _cuts(size: int, chunk: int, fractions: list[float]) -> list[int]:
    # Random boundaries, plus one every `chunk` bytes: no read1 may exceed the
    # chunk size, or C (which asks for more in read(n)) and _pyio would differ.
    return sorted({int(f * size) for f in fractions} | set(range(chunk, size, chunk)))


@MANY
@given(
    doc=documents(),
    newline=st.sampled_from(NEWLINES),
    chunk=st.sampled_from([1, 2, 7, 64]),
    step=st.sampled_from(["char", "line"]),
)
# newline="\r\n": a "\r\n" split between two chunks still ends the line.
@example((b"ab\r\ncd\r\n", "utf-8", "strict"), "\r\n", 1, "line")
def test_every_position_tells_a_cookie_that_seeks_back_to_it(
    doc: tuple[bytes, str, str], newline: str | None, chunk: int, step: str
) -> None:
    """At every character (or line) position: tell() equals C's cookie, and seeking to
    it later (from anywhere) reads the rest of the text from there."""
    data, encoding, errors = doc
    cuts = _cuts(len(data), chunk, [])
    ours = CoreText(Segmented(data, cuts), encoding, errors, newline, chunk)
    theirs = _stdlib(io, data, cuts, encoding, errors, newline, chunk)
    marks: list[tuple[int, int]] = []  # (cookie, characters read before it)
    text = ""
    while True:
        cookie = ours.tell()
        assert cookie == theirs.tell(), f"at character {len(text)}"
        marks.append((cookie, len(text)))
        part = ours.read(1) if step == "char" else ours.readline(-1)
        assert part == (theirs.read(1) if step == "char" else theirs.readline())
        if not part:
            break
        text += part
    for cookie, at in reversed(marks):
        assert ours.seek(cookie) == cookie
        assert ours.read(-1) == text[at:]
        theirs.seek(cookie)
        assert theirs.read() == text[at:]


@given(
    fields=st.tuples(
        st.integers(min_value=0, max_value=2**63 - 1),
        st.integers(min_value=-(2**31), max_value=2**31 - 1),
        st.integers(min_value=0, max_value=2**32 - 1),
        st.booleans(),
        st.integers(min_value=0, max_value=2**32 - 1),
    )
)
def test_cookie_fields_round_trip(fields: tuple[int, int, int, bool, int]) -> None:
    """pack_cookie and unpack_cookie are inverse over the C struct's field ranges."""
    assert unpack_cookie(pack_cookie(*fields)) == fields


def test_cookie_layout_is_the_c_struct() -> None:
    """The position is an off_t (a negative one round-trips), and a cookie past the
    struct's 21 bytes is refused as C refuses it."""
    assert unpack_cookie((1 << 64) - 1) == (-1, 0, 0, False, 0)
    assert pack_cookie(5, 1, 2, True, 3) == 5 | 1 << 64 | 2 << 96 | 3 << 128 | 1 << 160
    with pytest.raises(OverflowError):
        unpack_cookie(1 << 168)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"newline": 5},
        {"newline": "x"},
        {"newline": "\n\n"},
        {"encoding": b"utf-8"},
        {"errors": 1},
        {"encoding": "no-such-codec"},
        {"encoding": "hex"},
        {"encoding": "rot13"},
    ],
)
def test_bad_arguments_raise_what_textiowrapper_raises(kwargs: dict[str, Any]) -> None:
    """The same exception type and message as io.TextIOWrapper, before any I/O."""
    with pytest.raises((TypeError, ValueError, LookupError)) as theirs:
        io.TextIOWrapper(io.BytesIO(), **kwargs)
    args = {"encoding": "utf-8", "errors": None, "newline": None, **kwargs}
    with pytest.raises(type(theirs.value)) as ours:
        check_text_args(args["encoding"], args["errors"], args["newline"])
    assert str(ours.value) == str(theirs.value)


def test_no_encoding_means_the_locale_encoding() -> None:
    """encoding=None and "locale" resolve as TextIOWrapper resolves them."""
    expected = io.TextIOWrapper(io.BytesIO(), encoding="locale").encoding
    assert check_text_args("locale", None, None)[:2] == (expected, "strict")
    assert check_text_args(None, "replace", "")[:2] == (expected, "replace")


@given(
    encoding=st.sampled_from([*ENCODINGS, "utf-32", "ascii"]),
    errors=st.sampled_from(["strict", "replace", "backslashreplace"]),
    newline=st.sampled_from(NEWLINES),
    line_buffering=st.booleans(),
    parts=st.lists(st.lists(st.sampled_from(PIECES), max_size=6).map("".join), max_size=8),
    at_start=st.booleans(),
)
def test_writes_encode_like_textiowrapper(
    encoding: str,
    errors: str,
    newline: str | None,
    line_buffering: bool,
    parts: list[str],
    at_start: bool,
) -> None:
    """Newline translation, encoding errors at write(), the BOM only at the start of
    the file: the same bytes (and the same exception) as io.TextIOWrapper."""
    name, errs, codec = check_text_args(encoding, errors, newline)
    newlines = Newlines(newline)
    writer = TextWriter(name, errs, codec)
    writer.start()
    prefix = b"" if at_start else b"x"
    if not at_start:
        writer.reset_encoder(False)
    raw = io.BytesIO(prefix)
    raw.seek(len(prefix))
    theirs = io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline=newline)
    pending: list[str | bytes] = []
    for part in parts:
        try:
            want: Any = theirs.write(part)
        except UnicodeEncodeError:
            want = UnicodeEncodeError
        text, flushes = newlines.for_write(part, line_buffering)
        try:
            pending.append(writer.encode(text))
            got: Any = len(part)
        except UnicodeEncodeError:
            got = UnicodeEncodeError
        assert got == want
        assert flushes == (line_buffering and ("\n" in part or "\r" in part))
    theirs.flush()
    has_bytes = any(isinstance(p, bytes) for p in pending)
    assert prefix + join_pending(pending, has_bytes) == raw.getvalue()


_WARN_SCRIPT = """
import warnings
from hybridio._layers.text import AsyncTextIO

class Buffer:
    mode = "rb"
    closed = True  # nothing to close at exit
    def readable(self): return True
    def writable(self): return False
    def seekable(self): return True

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    AsyncTextIO(Buffer())  # line 14
print(*[(w.category.__name__, w.filename, w.lineno) for w in caught])
"""


def test_missing_encoding_warning_blames_the_caller_of_asynctextio() -> None:
    """With -X warn_default_encoding, AsyncTextIO(buffer) without an encoding warns at
    the line that made it, as TextIOWrapper does (not inside hybridio)."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-X", "warn_default_encoding", "-c", _WARN_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "('EncodingWarning', '<string>', 14)", out.stdout + out.stderr


def test_seek_before_any_read_sets_the_decoder_state_as_c_does() -> None:
    """A seek on a file whose decoder was never made sets a new decoder to the
    cookie's state: past a utf-16 BOM, the text after it decodes as in C (a fresh
    decoder would demand a BOM there)."""
    data = b"\xff\xfea\x00b\x00"
    theirs = io.TextIOWrapper(io.BytesIO(data), encoding="utf-16")
    theirs.seek(2)
    reader = TextReader("utf-16", "strict", Newlines(None))
    assert reader.restart(2, 0, True) is reader.decoder is not None
    reader.feed(data[2:], True)
    assert reader.take() == theirs.read() == "ab"
    assert TextReader("utf-16", "strict", Newlines(None)).restart(2, 0, False) is None
