"""The stdlib is the oracle (E1): random op sequences on a kernel-served binary file and
on the builtin ``open(..., buffering=0)`` of a twin file give the same results, the same
exception types and the same final bytes, on every kernel backend."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hybridio._layers.buffered import KernelBinaryFile
from tests.oracle import harness
from tests.oracle.harness import Served

MODES = ["rb", "r+b", "wb", "w+b", "ab", "a+b", "xb", "x+b"]

small = st.integers(min_value=-1, max_value=300)
data = st.binary(min_size=0, max_size=300)
offsets = st.integers(min_value=0, max_value=2000)

ops = harness.ops(
    write=(data,),
    read=(small,),
    read1=(st.integers(min_value=1, max_value=300),),
    readinto=(st.integers(min_value=0, max_value=300),),
    readline=(small,),
    seek=(st.integers(min_value=-500, max_value=2000), st.sampled_from([0, 1, 2])),
    tell=(),
    truncate=(st.one_of(st.none(), offsets),),
    flush=(),
    read_at=(offsets, st.integers(min_value=0, max_value=300)),
    write_at=(offsets, data),
)


async def _run(
    served: Served, tmp: Path, mode: str, initial: bytes, buffering: int, seq: list[Any]
) -> None:
    content = None if mode.startswith("x") else initial
    twins = await harness.open_twins(served, tmp, mode, content, buffering)
    assert twins is not None  # every mode opens: "x" modes on a new file
    ours, theirs, ours_path, theirs_path = twins
    try:
        assert type(ours) is KernelBinaryFile
        await harness.compare(ours, theirs, seq, errors=served.errors, refuses_readline0=True)
    finally:
        closed = await harness.close_both(ours, theirs)
    assert closed == (("ok", None), ("ok", None))
    assert ours_path.read_bytes() == theirs_path.read_bytes()


@pytest.fixture(params=harness.cells(kernel=True))
def served(request: pytest.FixtureRequest) -> Served:
    """Each kernel backend, skipped with its reason where unavailable."""
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
    ("read_at", 0, 10),
    ("write_at", 50, b"pos"),
    ("seek", -4, 2),
    ("read", -1),
    ("truncate", 20),
    ("flush",),
    ("seek", 0, 0),
    ("read", -1),
    ("readline", 5),
]
_PINNED = [
    {"mode": mode, "initial": b"line one\nline two\n" * 20, "buffering": buffering, "seq": _WALK}
    for mode in MODES
    for buffering in (0, 5)
]


@harness.pinned(_PINNED)
@given(
    mode=st.sampled_from(MODES),
    initial=st.binary(max_size=600),
    buffering=st.sampled_from([-1, 0, 5, 64, 4096]),
    seq=st.lists(ops, max_size=30),
)
def test_binary_ops_match_builtin_open(
    served: Served,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    mode: str,
    initial: bytes,
    buffering: int,
    seq: list[Any],
) -> None:
    """One kernel-served file on each backend, under asyncio and uvloop, against FileIO."""
    main = _run(served, tmp_path, mode, initial, buffering, seq)
    loop.run_until_complete(asyncio.wait_for(main, 60))
