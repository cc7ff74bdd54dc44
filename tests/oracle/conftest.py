"""Fixtures of the oracle suites."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def loop(loop_factory: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """One loop of the kind under test for all the examples of a test (a loop per
    example would cost a kernel context each).

    Not under the stall watchdog: the oracle's blocking calls run on the loop's
    thread, and on a loaded machine even their tiny writes can take 200 ms.
    """
    loop = loop_factory()
    yield loop
    loop.close()
