"""``aiofiles.ospath``: ``os.path`` queries as coroutines (``loop=``/``executor=`` accepted)."""

from __future__ import annotations

from os import path as _path

from ._files import in_thread

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
    "samefile",
    "sameopenfile",
)

abspath = in_thread(_path.abspath)
getatime = in_thread(_path.getatime)
getctime = in_thread(_path.getctime)
getmtime = in_thread(_path.getmtime)
getsize = in_thread(_path.getsize)
exists = in_thread(_path.exists)
isdir = in_thread(_path.isdir)
isfile = in_thread(_path.isfile)
islink = in_thread(_path.islink)
ismount = in_thread(_path.ismount)
samefile = in_thread(_path.samefile)
sameopenfile = in_thread(_path.sameopenfile)
