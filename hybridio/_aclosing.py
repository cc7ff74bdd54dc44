"""``async with`` for the objects that end with ``aclose()``.

The wrapped blocking files, the threaded iterator and the batched iterator all
enter as themselves and leave by closing; :class:`AsyncClosing` is that pair
of methods written once (``contextlib.aclosing`` built into the class).
"""

from __future__ import annotations

import sys
from typing import Protocol

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ("AsyncClosing",)


class _Closes(Protocol):
    async def aclose(self) -> None: ...


class AsyncClosing:
    """Mixin: ``async with obj`` gives *obj*; leaving the block awaits ``obj.aclose()``."""

    __slots__ = ()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self: _Closes, *exc_info: object) -> None:
        # Closed however the block ends: the exception is not looked at.
        await self.aclose()
