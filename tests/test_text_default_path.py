"""The default text path against the stdlib: ``async_open(path, "r"/"w"/"r+"/"a+")`` with
no strategy gives an AsyncTextIO over the kernel-served binary file; random sequences of
read(n), readline(size), tell(), seek(an earlier cookie), write() and flush() return
what the builtin ``open()`` returns (text, cookies, exception types) and leave the same
bytes, on every kernel backend and event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import hybridio
from hybridio._layers.buffered import KernelBinaryFile

ENCODINGS = ["utf-8", "utf-16", "utf-8-sig", "shift_jis", "latin-1"]
NEWLINES = [None, "", "\n", "\r", "\r\n"]
MODES = ["r", "w", "r+", "a+"]  # a+: the BOM rule at a non-zero start

pieces = st.sampled_from(["a", "bc", "\n", "\r", "\r\n", "é", "日本", " "])
text = st.lists(pieces, max_size=12).map("".join)

ops = st.one_of(
    st.tuples(st.just("read"), st.integers(min_value=-1, max_value=9)),
    st.tuples(st.just("readline"), st.sampled_from([-1, -1, 0, 1, 4])),
    st.tuples(st.just("tell")),
    st.tuples(st.just("seek_told"), st.integers(min_value=0, max_value=5)),
    st.tuples(st.just("write"), text),
    st.tuples(st.just("flush")),
)


def _sync_op(f: Any, op: tuple[Any, ...], told: list[int]) -> Any:
    name = op[0]
    if name == "tell":
        told.append(f.tell())
        return told[-1]
    if name == "seek_told":
        return f.seek(told[op[1] % len(told)]) if told else None
    if name == "flush":
        return f.flush()
    return getattr(f, name)(op[1])


async def _async_op(f: Any, op: tuple[Any, ...], told: list[int]) -> Any:
    name = op[0]
    if name == "tell":
        told.append(await f.tell())
        return told[-1]
    if name == "seek_told":
        return await f.seek(told[op[1] % len(told)]) if told else None
    if name == "flush":
        return await f.flush()
    return await getattr(f, name)(op[1])


def _outcome(fn: Any) -> Any:
    try:
        return fn()
    except Exception as exc:  # the type is what must match
        return type(exc)


async def _outcome_async(aw: Any) -> Any:
    try:
        return await aw
    except Exception as exc:
        return type(exc)


async def _compare(
    tmp: Path,
    initial: str,
    mode: str,
    encoding: str,
    newline: str | None,
    backend: str,
    seq: list[tuple[Any, ...]],
) -> None:
    ours, theirs = tmp / "ours.txt", tmp / "theirs.txt"
    for p in (ours, theirs):
        p.write_bytes(initial.encode(encoding, "replace"))
    kwargs: dict[str, Any] = {"encoding": encoding, "newline": newline}
    oracle = open(theirs, mode, **kwargs)  # noqa: SIM115 - closed below
    f = await hybridio.async_open(ours, mode, backend=backend, **kwargs)  # type: ignore[call-overload]
    try:
        # The path under test: text over the kernel-served binary file.
        assert type(f.buffer) is KernelBinaryFile
        told_a: list[int] = []
        told_b: list[int] = []
        for i, op in enumerate(seq):
            want = _outcome(lambda op=op: _sync_op(oracle, op, told_b))
            got = await _outcome_async(_async_op(f, op, told_a))
            assert got == want, f"op #{i} {op!r}: {got!r} != {want!r} after {seq[:i]!r}"
    finally:
        oracle.close()
        await f.close()
    assert ours.read_bytes() == theirs.read_bytes()


# Every mode and newline for certain (a derandomized search covers few combinations),
# times every backend and loop: a few examples each, a few milliseconds per example.
@pytest.mark.parametrize("newline", NEWLINES)
@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=8)
@given(
    initial=text,
    encoding=st.sampled_from(ENCODINGS),
    seq=st.lists(ops, min_size=3, max_size=20),
)
# ASCII writes take a fast path: newline translation must still apply.
@example(initial="", encoding="utf-8", seq=[("write", "a\nb\r"), ("tell",), ("write", "\n")])
# A cookie carrying decoder flags (utf-16 before its BOM), told again after the seek.
@example(
    initial="ab", encoding="utf-16", seq=[("readline", 0), ("tell",), ("seek_told", 0), ("tell",)]
)
# Appending after a utf-16 BOM, then seeking back before any read (#16: the
# decoder, made only at the first read, expected a BOM there and raised).
@example(
    initial="",
    encoding="utf-16",
    seq=[("tell",), ("write", "a"), ("seek_told", 0), ("read", 1)],
)
# A write after a partial read must drop the text decoded ahead (the fast path too).
@example(
    initial="abc\nde", encoding="utf-8", seq=[("read", 1), ("write", "x"), ("read", -1), ("tell",)]
)
def test_default_text_path_matches_builtin_open(
    backend: str,
    loop_factory: Any,
    tmp_path: Path,
    initial: str,
    mode: str,
    encoding: str,
    newline: str | None,
    seq: list[tuple[Any, ...]],
) -> None:
    # Not under the stall watchdog: the oracle's blocking calls run on the loop's
    # thread, and on a loaded machine even their tiny writes can take 200 ms.
    loop = loop_factory()
    try:
        loop.run_until_complete(
            asyncio.wait_for(_compare(tmp_path, initial, mode, encoding, newline, backend, seq), 60)
        )
    finally:
        loop.close()


def test_tell_refuses_decoder_flags_wider_than_a_c_int_as_open_does(tmp_path: Path) -> None:
    """iso-2022-jp, after a bad escape, reports decoder flags past a C int; the
    builtin's tell() raises OverflowError, and so does ours (it used to pack a
    truncated cookie, which would seek to another decoder state)."""
    path = tmp_path / "jp.txt"
    path.write_bytes(b"\x1b\x00$BF|K\\\x1b(B")

    async def main() -> tuple[str, Any]:
        async with hybridio.async_open(path, encoding="iso-2022-jp") as f:
            first = await f.read(1)
            return first, await _outcome_async(f.tell())

    with open(path, encoding="iso-2022-jp") as theirs:
        expected = theirs.read(1), _outcome(theirs.tell)
    assert expected[1] is OverflowError
    assert asyncio.run(asyncio.wait_for(main(), 60)) == expected
