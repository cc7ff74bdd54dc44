"""hybridio: async file I/O that routes each operation to the engine that serves it best."""

from __future__ import annotations

__all__ = ()
