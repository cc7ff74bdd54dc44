"""The stdlib is the oracle (E1): random op sequences on a hybridio binary file and on
the builtin ``open(..., buffering=0)`` of a twin file give the same results, the same
exception types and the same final bytes, on every kernel backend."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import hybridio

MODES = ["rb", "r+b", "wb", "w+b", "ab", "a+b", "xb", "x+b"]

small = st.integers(min_value=-1, max_value=300)
data = st.binary(min_size=0, max_size=300)
offsets = st.integers(min_value=0, max_value=2000)

ops = st.one_of(
    st.tuples(st.just("write"), data),
    st.tuples(st.just("read"), small),
    st.tuples(st.just("read1"), st.integers(min_value=1, max_value=300)),
    st.tuples(st.just("readinto"), st.integers(min_value=0, max_value=300)),
    st.tuples(st.just("readline"), small),
    st.tuples(
        st.just("seek"), st.integers(min_value=-500, max_value=2000), st.sampled_from([0, 1, 2])
    ),
    st.tuples(st.just("tell")),
    st.tuples(st.just("truncate"), st.one_of(st.none(), offsets)),
    st.tuples(st.just("flush")),
    st.tuples(st.just("read_at"), offsets, st.integers(min_value=0, max_value=300)),
    st.tuples(st.just("write_at"), offsets, data),
)


def _oracle(f: Any, op: tuple[Any, ...]) -> Any:
    name = op[0]
    if name == "write":
        return f.write(op[1])
    if name == "read":
        return f.read(op[1])
    if name == "readinto":
        buf = bytearray(op[1])
        n = f.readinto(buf)
        return n, bytes(buf[: n or 0])
    if name == "readline":
        return f.readline(op[1])
    if name == "seek":
        return f.seek(op[1], op[2])
    if name == "tell":
        return f.tell()
    if name == "truncate":
        return f.truncate(op[1])
    if name == "flush":
        return f.flush()
    if name == "read_at":
        if not f.readable():
            raise io.UnsupportedOperation("read")
        return os.pread(f.fileno(), op[2], op[1])
    if name == "write_at":
        if not f.writable():
            raise io.UnsupportedOperation("write")
        return os.pwrite(f.fileno(), op[2], op[1])
    raise AssertionError(name)


async def _ours(f: hybridio.AsyncBinaryIO, op: tuple[Any, ...]) -> Any:
    name = op[0]
    if name == "write":
        return await f.write(op[1])
    if name == "read":
        return await f.read(op[1])
    if name == "readinto":
        buf = bytearray(op[1])
        n = await f.readinto(buf)
        return n, bytes(buf[:n])
    if name == "readline":
        return await f.readline(op[1])
    if name == "seek":
        return await f.seek(op[1], op[2])
    if name == "tell":
        return await f.tell()
    if name == "truncate":
        return await f.truncate(op[1])
    if name == "flush":
        return await f.flush()
    if name == "read_at":
        return await f.read_at(op[1], op[2])
    if name == "write_at":
        return await f.write_at(op[1], op[2])
    raise AssertionError(name)


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except Exception as exc:
        return "error", exc


def _same_error(ours: BaseException, theirs: BaseException) -> bool:
    # io.UnsupportedOperation is an OSError; the builtin raises plain OSError(EBADF)
    # for os.pread on a write-only fd, where hybridio refuses before the syscall.
    return isinstance(ours, type(theirs))


async def _run(
    tmp: Path, mode: str, initial: bytes, buffering: int, backend: str, seq: list[Any]
) -> None:
    ours_path, oracle_path = tmp / "ours.bin", tmp / "oracle.bin"
    for p in (ours_path, oracle_path):
        if p.exists():
            p.unlink()
        if not mode.startswith("x"):
            p.write_bytes(initial)
    f = await hybridio.async_open(ours_path, mode, buffering=buffering, backend=backend)  # type: ignore[call-overload]
    oracle = open(oracle_path, mode, buffering=0)  # noqa: SIM115
    try:
        for i, op in enumerate(seq):
            if op[0] == "read1":
                # read1 may legitimately return fewer bytes than read(); it must be
                # a non-empty prefix of what read() would give, unless at EOF.
                got = await _outcome_async(f.read1(op[1]))
                want = _outcome(
                    lambda op=op: oracle.read(op[1]) if oracle.readable() else oracle.read(0)
                )
                if want[0] == "error":
                    assert got[0] == "error", (i, op, got, want)
                    assert _same_error(got[1], want[1]), (i, op, got, want)
                    continue
                assert got[0] == "ok", (i, op, got, want)
                assert want[1].startswith(got[1]), (i, op, got, want)
                assert bool(got[1]) == bool(want[1]), (i, op, got, want)
                oracle.seek(len(got[1]) - len(want[1]), 1)
                continue
            if op[0] == "readline" and op[1] == 0 and not oracle.readable():
                # IOBase.readline(0) returns b"" before checking the direction;
                # hybridio refuses a read on a write-only file whatever the size.
                continue
            want = _outcome(lambda op=op: _oracle(oracle, op))
            got = await _outcome_async(_ours(f, op))
            if want[0] == "error":
                assert got[0] == "error", (i, op, got, want)
                assert _same_error(got[1], want[1]), (i, op, got, want)
            else:
                assert got == want, (i, op, got, want)
    finally:
        oracle.close()
        await f.close()
    assert ours_path.read_bytes() == oracle_path.read_bytes()


async def _outcome_async(coro: Any) -> tuple[str, Any]:
    try:
        return "ok", await coro
    except Exception as exc:
        return "error", exc


@given(
    mode=st.sampled_from(MODES),
    initial=st.binary(max_size=600),
    buffering=st.sampled_from([-1, 0, 5, 64, 4096]),
    seq=st.lists(ops, max_size=30),
)
def test_binary_ops_match_builtin_open(
    backend: str, tmp_path: Path, mode: str, initial: bytes, buffering: int, seq: list[Any]
) -> None:
    asyncio.run(_run(tmp_path, mode, initial, buffering, backend, seq))
