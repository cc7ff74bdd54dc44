"""``hybridio.Path``: an async ``pathlib.Path`` (in the style of ``anyio.Path``).

Pure path operations (``/``, ``name``, ``with_suffix``, ...) are synchronous
and return ``hybridio.Path``; every method that touches the file system is a
coroutine doing one thread hop, whose results and exceptions are those of the
``pathlib.Path`` method of the same name.  ``iterdir``/``glob``/``rglob``
stream in batches (one hop per batch of entries); ``walk`` reads one
directory per hop; ``open`` is :func:`hybridio.async_open`.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._api import AsyncOpen, async_open
from ._batched import BatchedIterator
from ._engines.threads import bind, run_in_thread
from ._layers.base import AsyncBinaryIO
from ._layers.text import AsyncTextIO

if TYPE_CHECKING:
    from _typeshed import OpenBinaryMode, OpenTextMode, StrPath

__all__ = ("Path",)

_T = TypeVar("_T")


class Path(os.PathLike[str]):
    """An async ``pathlib.Path``: pure operations sync, I/O as coroutines."""

    __slots__ = ("_path",)

    def __init__(self, *args: StrPath) -> None:
        self._path = pathlib.Path(*args)

    @classmethod
    def _wrap(cls, p: pathlib.Path) -> Path:
        new = cls.__new__(cls)
        new._path = p
        return new

    async def _run(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        return await run_in_thread(bind(fn, self._path, *args, **kwargs))

    # -- pure: no I/O
    def __fspath__(self) -> str:
        return str(self._path)

    def __str__(self) -> str:
        return str(self._path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._path)!r})"

    def __bytes__(self) -> bytes:
        return bytes(self._path)

    def __hash__(self) -> int:
        return hash(self._path)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Path):
            return self._path == other._path
        return NotImplemented

    def __lt__(self, other: Path) -> bool:
        return self._path < other._path

    def __le__(self, other: Path) -> bool:
        return self._path <= other._path

    def __gt__(self, other: Path) -> bool:
        return self._path > other._path

    def __ge__(self, other: Path) -> bool:
        return self._path >= other._path

    def __truediv__(self, other: StrPath) -> Path:
        return self._wrap(self._path / other)

    def __rtruediv__(self, other: StrPath) -> Path:
        return self._wrap(other / self._path)

    @property
    def parts(self) -> tuple[str, ...]:
        """``pathlib.PurePath.parts``."""
        return self._path.parts

    @property
    def drive(self) -> str:
        """``pathlib.PurePath.drive``."""
        return self._path.drive

    @property
    def root(self) -> str:
        """``pathlib.PurePath.root``."""
        return self._path.root

    @property
    def anchor(self) -> str:
        """``pathlib.PurePath.anchor``."""
        return self._path.anchor

    @property
    def parents(self) -> Sequence[Path]:
        """``pathlib.PurePath.parents``, as ``hybridio.Path`` objects."""
        return tuple(self._wrap(p) for p in self._path.parents)

    @property
    def parent(self) -> Path:
        """``pathlib.PurePath.parent``."""
        return self._wrap(self._path.parent)

    @property
    def name(self) -> str:
        """``pathlib.PurePath.name``."""
        return self._path.name

    @property
    def suffix(self) -> str:
        """``pathlib.PurePath.suffix``."""
        return self._path.suffix

    @property
    def suffixes(self) -> list[str]:
        """``pathlib.PurePath.suffixes``."""
        return self._path.suffixes

    @property
    def stem(self) -> str:
        """``pathlib.PurePath.stem``."""
        return self._path.stem

    def as_posix(self) -> str:
        """``pathlib.PurePath.as_posix``."""
        return self._path.as_posix()

    def as_uri(self) -> str:
        """``pathlib.PurePath.as_uri``."""
        return self._path.as_uri()

    def is_absolute(self) -> bool:
        """``pathlib.PurePath.is_absolute``."""
        return self._path.is_absolute()

    def is_relative_to(self, other: StrPath) -> bool:
        """``pathlib.PurePath.is_relative_to``."""
        return self._path.is_relative_to(other)

    def is_reserved(self) -> bool:
        """``pathlib.PurePath.is_reserved`` (False on POSIX)."""
        return False

    def joinpath(self, *other: StrPath) -> Path:
        """``pathlib.PurePath.joinpath``."""
        return self._wrap(self._path.joinpath(*other))

    def match(self, pattern: str) -> bool:
        """``pathlib.PurePath.match``."""
        return self._path.match(pattern)

    def relative_to(self, *other: StrPath) -> Path:
        """``pathlib.PurePath.relative_to``."""
        return self._wrap(self._path.relative_to(*other))

    def with_name(self, name: str) -> Path:
        """``pathlib.PurePath.with_name``."""
        return self._wrap(self._path.with_name(name))

    def with_stem(self, stem: str) -> Path:
        """``pathlib.PurePath.with_stem``."""
        return self._wrap(self._path.with_stem(stem))

    def with_suffix(self, suffix: str) -> Path:
        """``pathlib.PurePath.with_suffix``."""
        return self._wrap(self._path.with_suffix(suffix))

    def as_pathlib(self) -> pathlib.Path:
        """The synchronous ``pathlib.Path`` of the same path."""
        return self._path

    # -- one thread hop each
    @classmethod
    async def cwd(cls) -> Path:
        """``pathlib.Path.cwd``."""
        return cls._wrap(await run_in_thread(pathlib.Path.cwd))

    @classmethod
    async def home(cls) -> Path:
        """``pathlib.Path.home``."""
        return cls._wrap(await run_in_thread(pathlib.Path.home))

    async def absolute(self) -> Path:
        """``pathlib.Path.absolute`` (reads the working directory)."""
        return self._wrap(await self._run(pathlib.Path.absolute))

    async def resolve(self, strict: bool = False) -> Path:
        """``pathlib.Path.resolve``."""
        return self._wrap(await self._run(pathlib.Path.resolve, strict))

    async def expanduser(self) -> Path:
        """``pathlib.Path.expanduser`` (may read the password database)."""
        return self._wrap(await self._run(pathlib.Path.expanduser))

    async def readlink(self) -> Path:
        """``pathlib.Path.readlink``."""
        return self._wrap(await self._run(pathlib.Path.readlink))

    async def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        """``pathlib.Path.stat``."""
        if follow_symlinks:
            return await self._run(pathlib.Path.stat)
        return await self._run(pathlib.Path.lstat)

    async def lstat(self) -> os.stat_result:
        """``pathlib.Path.lstat``."""
        return await self._run(pathlib.Path.lstat)

    async def chmod(self, mode: int, *, follow_symlinks: bool = True) -> None:
        """``pathlib.Path.chmod``."""
        await run_in_thread(bind(os.chmod, self._path, mode, follow_symlinks=follow_symlinks))

    async def lchmod(self, mode: int) -> None:
        """``pathlib.Path.lchmod``."""
        await self._run(pathlib.Path.lchmod, mode)

    async def exists(self, *, follow_symlinks: bool = True) -> bool:
        """``pathlib.Path.exists``."""
        fn = os.path.exists if follow_symlinks else os.path.lexists
        return await run_in_thread(fn, self._path)

    async def is_dir(self) -> bool:
        """``pathlib.Path.is_dir``."""
        return await self._run(pathlib.Path.is_dir)

    async def is_file(self) -> bool:
        """``pathlib.Path.is_file``."""
        return await self._run(pathlib.Path.is_file)

    async def is_symlink(self) -> bool:
        """``pathlib.Path.is_symlink``."""
        return await self._run(pathlib.Path.is_symlink)

    async def is_mount(self) -> bool:
        """``pathlib.Path.is_mount``."""
        return await run_in_thread(os.path.ismount, self._path)

    async def is_socket(self) -> bool:
        """``pathlib.Path.is_socket``."""
        return await self._run(pathlib.Path.is_socket)

    async def is_fifo(self) -> bool:
        """``pathlib.Path.is_fifo``."""
        return await self._run(pathlib.Path.is_fifo)

    async def is_block_device(self) -> bool:
        """``pathlib.Path.is_block_device``."""
        return await self._run(pathlib.Path.is_block_device)

    async def is_char_device(self) -> bool:
        """``pathlib.Path.is_char_device``."""
        return await self._run(pathlib.Path.is_char_device)

    async def samefile(self, other_path: StrPath) -> bool:
        """``pathlib.Path.samefile``."""
        return await self._run(pathlib.Path.samefile, other_path)

    async def owner(self) -> str:
        """``pathlib.Path.owner``."""
        return await self._run(pathlib.Path.owner)

    async def group(self) -> str:
        """``pathlib.Path.group``."""
        return await self._run(pathlib.Path.group)

    async def mkdir(self, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        """``pathlib.Path.mkdir``."""
        await self._run(pathlib.Path.mkdir, mode, parents, exist_ok)

    async def rmdir(self) -> None:
        """``pathlib.Path.rmdir``."""
        await self._run(pathlib.Path.rmdir)

    async def touch(self, mode: int = 0o666, exist_ok: bool = True) -> None:
        """``pathlib.Path.touch``."""
        await self._run(pathlib.Path.touch, mode, exist_ok)

    async def unlink(self, missing_ok: bool = False) -> None:
        """``pathlib.Path.unlink``."""
        await self._run(pathlib.Path.unlink, missing_ok)

    async def rename(self, target: StrPath) -> Path:
        """``pathlib.Path.rename``."""
        return self._wrap(await self._run(pathlib.Path.rename, os.fspath(target)))

    async def replace(self, target: StrPath) -> Path:
        """``pathlib.Path.replace``."""
        return self._wrap(await self._run(pathlib.Path.replace, os.fspath(target)))

    async def symlink_to(self, target: StrPath, target_is_directory: bool = False) -> None:
        """``pathlib.Path.symlink_to``."""
        await self._run(pathlib.Path.symlink_to, os.fspath(target), target_is_directory)

    async def hardlink_to(self, target: StrPath) -> None:
        """``pathlib.Path.hardlink_to``."""
        await self._run(pathlib.Path.hardlink_to, os.fspath(target))

    async def read_bytes(self) -> bytes:
        """``pathlib.Path.read_bytes`` (one hop for the whole file)."""
        return await self._run(pathlib.Path.read_bytes)

    async def read_text(self, encoding: str | None = None, errors: str | None = None) -> str:
        """``pathlib.Path.read_text`` (one hop for the whole file)."""
        return await self._run(pathlib.Path.read_text, encoding, errors)

    async def write_bytes(self, data: bytes | bytearray | memoryview) -> int:
        """``pathlib.Path.write_bytes`` (one hop)."""
        return await self._run(pathlib.Path.write_bytes, data)

    async def write_text(
        self,
        data: str,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> int:
        """``pathlib.Path.write_text`` (one hop)."""
        return await self._run(pathlib.Path.write_text, data, encoding, errors, newline)

    @overload
    def open(
        self,
        mode: OpenTextMode = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> AsyncOpen[AsyncTextIO]: ...
    @overload
    def open(
        self,
        mode: OpenBinaryMode,
        buffering: int = -1,
        encoding: None = None,
        errors: None = None,
        newline: None = None,
    ) -> AsyncOpen[AsyncBinaryIO]: ...
    @overload
    def open(
        self,
        mode: str,
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> AsyncOpen[AsyncBinaryIO] | AsyncOpen[AsyncTextIO]: ...
    def open(
        self,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> AsyncOpen[AsyncBinaryIO] | AsyncOpen[AsyncTextIO]:
        """:func:`hybridio.async_open` on this path."""
        return async_open(self._path, mode, buffering, encoding, errors, newline)

    # -- streaming: batches of entries per hop
    def iterdir(self) -> BatchedIterator[Path]:
        """``pathlib.Path.iterdir`` as an async iterator (batched)."""
        return BatchedIterator(bind(self._wrapping, pathlib.Path.iterdir))

    def glob(self, pattern: str) -> BatchedIterator[Path]:
        """``pathlib.Path.glob`` as an async iterator (batched)."""
        return BatchedIterator(bind(self._wrapping, pathlib.Path.glob, pattern))

    def rglob(self, pattern: str) -> BatchedIterator[Path]:
        """``pathlib.Path.rglob`` as an async iterator (batched)."""
        return BatchedIterator(bind(self._wrapping, pathlib.Path.rglob, pattern))

    def _wrapping(self, fn: Callable[..., Iterator[pathlib.Path]], *args: Any) -> Iterator[Path]:
        # BatchedIterator builds this and takes its first batch in one hop, so
        # a missing directory raises there, on every Python.
        return (self._wrap(p) for p in fn(self._path, *args))

    async def walk(
        self,
        top_down: bool = True,
        on_error: Callable[[OSError], object] | None = None,
        follow_symlinks: bool = False,
    ) -> AsyncIterator[tuple[Path, list[str], list[str]]]:
        """``pathlib.Path.walk`` (3.12) as an async iterator; one hop per directory."""
        from .os import _walk

        async for dirpath, dirnames, filenames in _walk(
            str(self._path), top_down, on_error, follow_symlinks, pathlib_style=True
        ):
            yield Path(dirpath) if dirpath != str(self._path) else self, dirnames, filenames
