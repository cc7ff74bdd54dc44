"""The stdlib is the oracle (E1): random op sequences on a thread-served binary file and
on the builtin buffered ``open()`` of a twin file give the same results, positions,
exception types and final bytes, for every binary mode and buffer size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hybridio._layers.stream import StreamFile
from tests.oracle import harness
from tests.oracle.harness import Served

MODES = ["rb", "r+b", "wb", "w+b", "ab", "a+b", "xb", "x+b"]

sizes = st.integers(min_value=-1, max_value=40)
data = st.binary(max_size=40) | st.just(b"line\nline\n") | st.binary(min_size=60, max_size=120)

ops = harness.ops(
    write=(data,),
    read=(sizes,),
    read1=(st.integers(min_value=0, max_value=40),),
    readinto=(st.integers(min_value=0, max_value=40),),
    readline=(st.sampled_from([-1, -1, 0, 1, 5]),),
    readlines=(),
    seek=(st.integers(min_value=-30, max_value=200), st.sampled_from([0, 1, 2])),
    tell=(),
    truncate=(st.one_of(st.none(), st.integers(min_value=0, max_value=200)),),
    flush=(),
)


@pytest.fixture(params=harness.cells(thread=True))
def served(request: pytest.FixtureRequest) -> Served:
    """The thread-served binary file."""
    return request.param  # type: ignore[no-any-return]


# Every operation on a file with content, in every mode, buffered and not.
_WALK: list[tuple[Any, ...]] = [
    ("read", 3),
    ("read1", 5),
    ("readinto", 4),
    ("readline", -1),
    ("tell",),
    ("seek", 2, 0),
    ("write", b"XYZ"),
    ("seek", -4, 2),
    ("read", -1),
    ("truncate", 20),
    ("flush",),
    ("seek", 0, 0),
    ("readline", 5),
    ("readlines",),
]
_PINNED = [
    {"mode": mode, "initial": b"line one\nline two\n" * 5, "buffering": buffering, "seq": _WALK}
    for mode in MODES
    for buffering in (0, 7)
]


@harness.pinned(_PINNED)
@given(
    mode=st.sampled_from(MODES),
    initial=st.none() | st.binary(max_size=150),
    buffering=st.sampled_from([-1, 0, 2, 7, 64]),
    seq=st.lists(ops, max_size=20),
)
async def test_binary_ops_match_builtin_open(
    served: Served,
    tmp_path: Path,
    mode: str,
    initial: bytes | None,
    buffering: int,
    seq: list[tuple[Any, ...]],
) -> None:
    # Unbuffered: the oracle is FileIO itself.
    twins = await harness.open_twins(served, tmp_path, mode, initial, buffering)
    if twins is None:
        return  # both opens failed alike
    ours, theirs, ours_path, theirs_path = twins
    try:
        assert isinstance(ours, StreamFile) and ours.backend == "threads"
        await harness.compare(ours, theirs, harness.append_mode_filter(mode, seq))
    finally:
        closed = await harness.close_both(ours, theirs)
    assert closed == (("ok", None), ("ok", None))
    assert ours_path.read_bytes() == theirs_path.read_bytes()
