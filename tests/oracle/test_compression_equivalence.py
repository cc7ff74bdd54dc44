"""The stdlib is the oracle (E1, C3, C4): random op sequences on a compressed StreamFile
and on ``gzip.open``/``bz2.open``/``lzma.open`` of a twin file give the same results,
positions, exception types and decompressed content (and, for bz2 and lzma, whose
output does not depend on how the input was chunked, the same compressed bytes)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hybridio._compression import Compression
from hybridio._layers.stream import open_stream
from hybridio._modes import parse_mode
from tests.oracle.test_stream_equivalence import outcome, outcome_async, run_both

OPENERS: dict[str, Any] = {"gzip": gzip.open, "bz2": bz2.open, "lzma": lzma.open}
DECOMPRESS: dict[str, Any] = {
    "gzip": gzip.decompress,
    "bz2": bz2.decompress,
    "lzma": lzma.decompress,
}

data = st.binary(max_size=60) | st.just(b"line\nline\n" * 5) | st.binary(min_size=200, max_size=400)
ops = st.one_of(
    st.tuples(st.just("write"), data),
    st.tuples(st.just("read"), st.integers(min_value=-1, max_value=300)),
    st.tuples(st.just("read1"), st.integers(min_value=0, max_value=300)),
    st.tuples(st.just("readline"), st.sampled_from([-1, -1, 0, 3])),
    st.tuples(st.just("readinto"), st.integers(min_value=0, max_value=100)),
    st.tuples(
        st.just("seek"),
        st.integers(min_value=-300, max_value=1500),
        st.sampled_from([0, 0, 1, 2]),
    ),
    st.tuples(st.just("tell")),
    st.tuples(st.just("flush")),
)


@given(
    fmt=st.sampled_from(sorted(OPENERS)),
    mode=st.sampled_from(["rb", "wb", "ab", "xb", "r+b", "w+b"]),
    members=st.lists(st.binary(max_size=500) | st.just(b"abc\n" * 300), max_size=3),
    buffering=st.sampled_from([-1, 16, 1000]),
    seq=st.lists(ops, max_size=15),
)
async def test_compressed_ops_match_stdlib(
    tmp_path: Path,
    fmt: str,
    mode: str,
    members: list[bytes],
    buffering: int,
    seq: list[tuple[Any, ...]],
) -> None:
    opener = OPENERS[fmt]
    ours_path, theirs_path = tmp_path / "ours", tmp_path / "theirs"
    for p in (ours_path, theirs_path):
        p.unlink(missing_ok=True)
        if members:
            with open(p, "wb") as f:
                for m in members:
                    f.write(_compress(fmt, m))
    theirs_open = outcome(lambda: opener(theirs_path, mode))
    ours_open = await outcome_async(
        open_stream(os.fspath(ours_path), parse_mode(mode), buffering=buffering, compression=fmt)
    )
    assert ours_open[0] == theirs_open[0], (ours_open, theirs_open)
    if ours_open[0] == "error":
        assert ours_open[1] is theirs_open[1]
        return
    ours, theirs = ours_open[1], theirs_open[1]
    assert ours.compression is Compression(fmt)
    try:
        await run_both(ours, theirs, seq)
    finally:
        closed_ours = await outcome_async(ours.close())
        closed_theirs = outcome(theirs.close)
    assert closed_ours[0] == closed_theirs[0]
    ours_bytes, theirs_bytes = ours_path.read_bytes(), theirs_path.read_bytes()
    assert _decompressed(fmt, ours_bytes) == _decompressed(fmt, theirs_bytes)
    if fmt != "gzip":  # gzip headers carry the mtime
        assert ours_bytes == theirs_bytes


def _compress(fmt: str, payload: bytes) -> bytes:
    if fmt == "gzip":
        return gzip.compress(payload, mtime=0)
    if fmt == "bz2":
        return bz2.compress(payload)
    return lzma.compress(payload)


def _decompressed(fmt: str, blob: bytes) -> Any:
    try:
        return DECOMPRESS[fmt](blob)
    except Exception as exc:
        return type(exc)
