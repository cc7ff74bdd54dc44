"""The stdlib is the oracle (E1, C3, C4): random op sequences on a compressed file and on
``gzip.open``/``bz2.open``/``lzma.open`` of a twin file give the same results,
positions, exception types and decompressed content (and, for bz2 and lzma, whose
output does not depend on how the input was chunked, the same compressed bytes)."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hybridio._compression import Compression
from tests.oracle import harness
from tests.oracle.harness import Served

DECOMPRESS: dict[str, Any] = {
    "gzip": gzip.decompress,
    "bz2": bz2.decompress,
    "lzma": lzma.decompress,
}

data = st.binary(max_size=60) | st.just(b"line\nline\n" * 5) | st.binary(min_size=200, max_size=400)
ops = harness.ops(
    write=(data,),
    read=(st.integers(min_value=-1, max_value=300),),
    read1=(st.integers(min_value=0, max_value=300),),
    readline=(st.sampled_from([-1, -1, 0, 3]),),
    readinto=(st.integers(min_value=0, max_value=100),),
    seek=(st.integers(min_value=-300, max_value=1500), st.sampled_from([0, 0, 1, 2])),
    tell=(),
    flush=(),
)


@pytest.fixture(params=harness.cells(compressions=tuple(sorted(harness.OPENERS))))
def served(request: pytest.FixtureRequest) -> Served:
    """A thread-served file in each compression format."""
    return request.param  # type: ignore[no-any-return]


# Every operation on a stream with content, in every mode.
_WALK: list[tuple[Any, ...]] = [
    ("read", 3),
    ("read1", 5),
    ("readinto", 4),
    ("readline", -1),
    ("tell",),
    ("write", b"more\n" * 3),
    ("seek", 2, 0),
    ("seek", 40, 1),
    ("read", 10),
    ("flush",),
    ("tell",),
    ("seek", 0, 0),
    ("readline", 3),
    ("read", -1),
]
_PINNED = [
    {"mode": mode, "members": [b"abc\n" * 300, b"x"], "buffering": 16, "seq": _WALK}
    for mode in ["rb", "wb", "ab", "xb", "r+b", "w+b"]
]


@harness.pinned(_PINNED)
@given(
    mode=st.sampled_from(["rb", "wb", "ab", "xb", "r+b", "w+b"]),
    members=st.lists(st.binary(max_size=500) | st.just(b"abc\n" * 300), max_size=3),
    buffering=st.sampled_from([-1, 16, 1000]),
    seq=st.lists(ops, max_size=15),
)
async def test_compressed_ops_match_stdlib(
    served: Served,
    tmp_path: Path,
    mode: str,
    members: list[bytes],
    buffering: int,
    seq: list[tuple[Any, ...]],
) -> None:
    fmt = served.compression
    assert fmt is not None
    content = b"".join(_compress(fmt, m) for m in members) if members else None
    twins = await harness.open_twins(served, tmp_path, mode, content, buffering)
    if twins is None:
        return  # both opens failed alike
    ours, theirs, ours_path, theirs_path = twins
    try:
        assert ours.compression is Compression(fmt)
        await harness.compare(ours, theirs, seq, errors=served.errors)
    finally:
        closed_ours, closed_theirs = await harness.close_both(ours, theirs)
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
