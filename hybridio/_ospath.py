"""``os.path`` queries that touch the file system, as coroutines (one thread hop each).

Results and exceptions are those of the ``os.path`` function of the same name.
Imported as ``hybridio.os.path``.
"""

from __future__ import annotations

import os.path as _path

from ._hops import hop

__all__ = (
    "abspath",
    "exists",
    "getatime",
    "getctime",
    "getmtime",
    "getsize",
    "isdir",
    "isfile",
    "islink",
    "ismount",
    "lexists",
    "realpath",
    "samefile",
    "sameopenfile",
)

exists = hop("os.path", _path.exists)
lexists = hop("os.path", _path.lexists)
isfile = hop("os.path", _path.isfile)
isdir = hop("os.path", _path.isdir)
islink = hop("os.path", _path.islink)
ismount = hop("os.path", _path.ismount)
getsize = hop("os.path", _path.getsize)
getmtime = hop("os.path", _path.getmtime)
getatime = hop("os.path", _path.getatime)
getctime = hop("os.path", _path.getctime)
samefile = hop("os.path", _path.samefile)
sameopenfile = hop("os.path", _path.sameopenfile)
# abspath and realpath read the working directory / resolve links: blocking.
abspath = hop("os.path", _path.abspath)
realpath = hop("os.path", _path.realpath)
