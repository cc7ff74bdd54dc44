"""Checked by mypy in ``make test``: async_open's overloads infer the file type."""

from __future__ import annotations

import sys

import hybridio

if sys.version_info >= (3, 11):
    from typing import assert_type
else:  # pragma: no cover
    from typing_extensions import assert_type


async def binary_and_text_are_inferred_from_the_mode_literal(mode: str) -> None:
    async with hybridio.async_open("f", "rb") as b:
        assert_type(b, hybridio.AsyncBinaryIO)
        assert_type(await b.read(), bytes)
        assert_type(await b.read_at(0, 4096), bytes)
        assert_type(await b.write_at(0, b"x"), int)
    async with hybridio.async_open("f", "w+b") as wb:
        assert_type(wb, hybridio.AsyncBinaryIO)
    async with hybridio.async_open("f") as t:
        assert_type(t, hybridio.AsyncTextIO)
        assert_type(await t.read(), str)
    async with hybridio.async_open("f", "a", encoding="utf-8") as ta:
        assert_type(ta, hybridio.AsyncTextIO)
    f = await hybridio.async_open(b"f", "xb")
    assert_type(f, hybridio.AsyncBinaryIO)
    await f.close()
    either = await hybridio.async_open("f", mode)
    assert_type(either, hybridio.AsyncBinaryIO | hybridio.AsyncTextIO)
    await either.close()
