"""Drop-in replacements for the async file libraries users migrate from.

``hybridio.compat.aiofiles``, ``hybridio.compat.aiofile`` and
``hybridio.compat.aiomisc`` follow each peer's semantics where they differ
from hybridio's stdlib-shaped core (coroutine ``seekable()``, synchronous
``seek()``, ``loop=`` arguments, ...).  Change the import, keep the code; see
docs/migrating.md.
"""

__all__ = ()
