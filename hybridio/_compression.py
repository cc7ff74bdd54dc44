"""On-the-fly compression: the :class:`Compression` enum, openers and detection.

Each format follows its stdlib module's rules (``gzip.open``, ``bz2.open``,
``lzma.open``): the same accepted modes, the same exceptions for bad modes and
levels, multi-member/multi-stream reads, ``EOFError`` on truncated input.
Zstandard comes from the optional ``zstandard`` package (``hybridio[zstd]``)
and is adapted to the same behaviour (see :class:`ZstdReader`/:class:`ZstdWriter`).

Everything here is blocking; the stream layer runs it in the thread engine.
"""

from __future__ import annotations

import bz2
import enum
import gzip
import io
import lzma
import os
import stat
import zlib
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, TypeVar, cast

try:  # Python <= 3.13
    from _compression import DecompressReader
except ImportError:  # pragma: no cover - Python 3.14 moved it
    from compression._common._streams import DecompressReader  # type: ignore[import-not-found,no-redef]

from ._modes import FileMode

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = (
    "Compression",
    "Opened",
    "ZstdReader",
    "ZstdWriter",
    "check_level",
    "check_mode",
    "detect",
    "open_blocking",
    "open_compressed",
    "open_fileobj",
    "resolve",
)

#: Defaults of the stdlib openers (and zstd's own default level).
DEFAULT_LEVELS = {"gzip": 9, "bz2": 9, "lzma": None, "zstd": 3}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "lzma"),
    (b"\x5d\x00\x00", "lzma"),  # legacy .lzma ("alone") format; lzma.open reads it
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_SUFFIXES = {
    ".gz": "gzip",
    ".tgz": "gzip",
    ".bz2": "bz2",
    ".tbz2": "bz2",
    ".xz": "lzma",
    ".txz": "lzma",
    ".lzma": "lzma",
    ".zst": "zstd",
    ".zstd": "zstd",
}
_ALIASES = {"gz": "gzip", "bzip2": "bz2", "xz": "lzma", "zst": "zstd", "zstandard": "zstd"}


_E = TypeVar("_E", bound=enum.Enum)


def member_named(cls: type[_E], key: str) -> _E | None:
    """The member of the str-valued enum *cls* whose value or lower-case name is *key*."""
    for member in cls:
        if member.value == key or member.name.lower() == key:
            return member
    return None


class Compression(enum.Enum):
    """Compression of a file opened with ``async_open(..., compression=...)``.

    Members compare by identity; ``Compression("gzip")``, ``Compression("GZIP")``
    and the aliases ``"gz"``, ``"xz"``, ``"zst"`` ... also work.

    Attributes:
        NONE: Plain bytes (the default).
        GZIP: ``gzip.open``'s format.
        BZ2: ``bz2.open``'s format.
        LZMA: ``lzma.open``'s format (xz).
        ZSTD: Zstandard; needs the optional ``zstandard`` package (``hybridio[zstd]``).
        AUTO: Reading: by the magic bytes, else the suffix; writing: by the suffix.
    """

    NONE = "none"
    GZIP = "gzip"
    BZ2 = "bz2"
    LZMA = "lzma"
    ZSTD = "zstd"
    AUTO = "auto"

    @classmethod
    def _missing_(cls, value: object) -> Compression | None:
        if isinstance(value, str):
            key = value.strip().lower()
            found = member_named(cls, _ALIASES.get(key, key))
            if found is not None:
                return found
        if value is None:
            return cls.NONE
        return None

    @classmethod
    def coerce(cls, value: Compression | str | None) -> Compression:
        """The member for *value*; ValueError names the accepted values."""
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            accepted = ", ".join(repr(m.value) for m in cls)
            raise ValueError(
                f"invalid compression: {value!r} (expected a Compression or one of {accepted})"
            ) from None


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError as exc:
        raise ModuleNotFoundError(
            "Compression.ZSTD needs the 'zstandard' package: pip install 'hybridio[zstd]'",
            name="zstandard",
        ) from exc
    return zstandard


def _stripped(fmode: FileMode) -> str:
    return fmode.mode.replace("t", "")


def _letter(fmode: FileMode) -> str:
    """``"r"``, ``"w"``, ``"a"`` or ``"x"``: the direction the format opens in."""
    for letter in "rwax":
        if letter in fmode.mode:
            return letter
    raise AssertionError(fmode.mode)  # pragma: no cover - parse_mode guarantees one


def check_mode(compression: Compression, fmode: FileMode) -> None:
    """Refuse modes the format's stdlib opener refuses (before any fd exists).

    ``gzip.open`` accepts ``+`` (``"r+"`` reads, ``"w+"``/``"a+"``/``"x+"``
    write); ``bz2.open``, ``lzma.open`` and ``zstandard.open`` do not.
    """
    if compression in (Compression.BZ2, Compression.LZMA, Compression.ZSTD) and fmode.updating:
        raise ValueError(f"Invalid mode: {_stripped(fmode)!r}")
    if "U" in fmode.mode and compression is not Compression.NONE:  # Python 3.10's "U"
        raise ValueError(f"Invalid mode: {_stripped(fmode)!r}")


def _is_reading(fmode: FileMode) -> bool:
    # Every format reads in "r" (gzip also in "r+") and writes otherwise.
    return fmode.reading


def check_level(compression: Compression, fmode: FileMode, level: object) -> object:
    """Validate *level* as the stdlib opener would; return the effective level.

    Raised before the file is opened, so a bad level neither leaks an fd nor
    truncates an existing file.  The exception types are the stdlib's.
    """
    reading = _is_reading(fmode)
    if compression is Compression.GZIP:
        if level is None:
            level = DEFAULT_LEVELS["gzip"]
        if not reading:
            # What GzipFile does with it; raises ValueError/TypeError like it.
            zlib.compressobj(
                cast(int, level), zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0
            )
        return level
    if compression is Compression.BZ2:
        if level is None:
            level = DEFAULT_LEVELS["bz2"]
        if not (1 <= level <= 9):  # type: ignore[operator]
            raise ValueError("compresslevel must be between 1 and 9")
        return level
    if compression is Compression.LZMA:
        if level is None:
            return None
        if reading:
            raise ValueError(
                "Cannot specify a preset compression level when opening a file for reading"
            )
        if isinstance(level, bool) or not isinstance(level, int):
            raise TypeError("an integer is required")
        if level < 0 or level > 0xFFFFFFFF:
            raise OverflowError("can't convert negative int to unsigned")
        if level & ~lzma.PRESET_EXTREME > 9:
            raise lzma.LZMAError("Invalid or unsupported options")
        return level
    if compression is Compression.ZSTD:
        zstandard = _zstandard()
        if level is None:
            level = DEFAULT_LEVELS["zstd"]
        if not reading:
            zstandard.ZstdCompressor(level=level)  # ValueError/TypeError for a bad level
        return level
    return level


def detect(header: bytes) -> Compression:
    """The format whose magic bytes start *header* (NONE if none matches)."""
    for magic, name in _MAGIC:
        if header.startswith(magic):
            return Compression(name)
    return Compression.NONE


def from_suffix(path: object) -> Compression:
    """The format named by the file suffix of *path* (NONE if none)."""
    if isinstance(path, (str, bytes, os.PathLike)):
        name = os.fsdecode(os.fspath(path)).lower()
        for suffix, fmt in _SUFFIXES.items():
            if name.endswith(suffix):
                return Compression(fmt)
    return Compression.NONE


def resolve(compression: Compression | str | None, path: object, fmode: FileMode) -> Compression:
    """Resolve AUTO to a concrete format (blocking: may read 6 bytes).

    Reading (``"r"``, ``"r+"``) sniffs the magic bytes of a regular file, so a
    mis-named file is still read right; writing, appending, creating, and
    anything that is not a regular file (a FIFO must not lose bytes to a
    sniff) go by the suffix.  Errors opening the file are ignored here: the
    real open reports them exactly as ``open()`` would.
    """
    comp = Compression.coerce(compression)
    if comp is not Compression.AUTO:
        return comp
    if fmode.reading and isinstance(path, (str, bytes, os.PathLike)):
        try:
            if stat.S_ISREG(os.stat(path).st_mode):
                with open(path, "rb") as f:
                    return detect(f.read(6))
        except (OSError, ValueError):
            pass
    return from_suffix(path)


def _gzip_filename(name: object) -> str | bytes:
    # What gzip.open would record in the FNAME header field.
    if isinstance(name, (str, bytes, os.PathLike)):
        return os.fspath(name)
    return ""


def open_compressed(
    fileobj: BinaryIO,
    compression: Compression,
    fmode: FileMode,
    level: object,
    name: object,
) -> BinaryIO:
    """Wrap the open binary *fileobj* in the format's file object.

    The caller owns *fileobj* and closes it after the returned object (which
    never closes it itself).  *level* was checked by :func:`check_level`.
    """
    reading = _is_reading(fmode)
    if compression is Compression.GZIP:
        gz_mode = _letter(fmode) + "b"
        return cast(
            BinaryIO,
            gzip.GzipFile(
                filename=_gzip_filename(name),
                mode=gz_mode,
                compresslevel=cast(int, level),
                fileobj=fileobj,
            ),
        )
    if compression is Compression.BZ2:
        bz_mode = _letter(fmode) + "b"
        bz_file: Any = bz2.BZ2File
        return cast(BinaryIO, bz_file(fileobj, bz_mode, compresslevel=level))
    if compression is Compression.LZMA:
        lz_mode = _letter(fmode) + "b"
        return cast(BinaryIO, lzma.LZMAFile(fileobj, lz_mode, preset=cast("int | None", level)))
    if compression is Compression.ZSTD:
        zstandard = _zstandard()
        if reading:
            return cast(BinaryIO, ZstdReader(fileobj))
        # With a content checksum, as the zstd CLI writes: corruption is detected.
        cctx = zstandard.ZstdCompressor(level=level, write_checksum=True)
        return cast(BinaryIO, ZstdWriter(fileobj, cctx))
    raise ValueError(f"not a compression format: {compression!r}")


class _ZstdDecompressor:
    """zstandard's decompressobj with the ``decompress(data, max_length)``
    interface ``_compression.DecompressReader`` drives (as for zlib/bz2/lzma),
    so zstd gets the stdlib's multi-frame, seek, EOFError-on-truncation logic."""

    def __init__(self) -> None:
        self._dobj = _zstandard().ZstdDecompressor().decompressobj()
        self._out = b""

    @property
    def eof(self) -> bool:
        return bool(self._dobj.eof) and not self._out

    @property
    def unused_data(self) -> bytes:
        return bytes(self._dobj.unused_data)

    @property
    def needs_input(self) -> bool:
        return not self._out and not self._dobj.eof

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        out = self._out
        if data:
            out += self._dobj.decompress(data)
        if max_length < 0:
            self._out = b""
            return out
        self._out = out[max_length:]
        return out[:max_length]


class ZstdReader(io.BufferedReader):
    """A read-mode zstd file behaving like ``GzipFile``/``BZ2File`` in read mode:
    multi-frame, seekable (backward by rewinding), ``EOFError`` when truncated."""

    def __init__(self, fileobj: BinaryIO) -> None:
        zstandard = _zstandard()
        factory: Any = _ZstdDecompressor
        raw = DecompressReader(fileobj, factory, trailing_error=zstandard.ZstdError)
        super().__init__(raw)
        self._fileobj = fileobj

    def fileno(self) -> int:
        """The fd of the underlying file."""
        return self._fileobj.fileno()


class ZstdWriter(io.BufferedIOBase):
    """A write-mode zstd file behaving like ``GzipFile`` in write mode:
    ``flush()`` ends a block so the data so far decodes, ``tell()`` counts
    uncompressed bytes, forward ``seek`` writes zeros, ``close()`` ends the frame."""

    def __init__(self, fileobj: BinaryIO, cctx: Any) -> None:
        self._fp = fileobj
        self._cobj = cctx.compressobj()
        self._flush_block = _zstandard().COMPRESSOBJ_FLUSH_BLOCK
        self._offset = 0
        self._finished = False

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fp.fileno()

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to closed file")
        with memoryview(data) as view:
            length = view.nbytes
            out = self._cobj.compress(view)
        if out:
            self._fp.write(out)
        self._offset += length
        return length

    def flush(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if self._finished:  # IOBase.close() flushes after our close() ended the frame
            return
        self._fp.write(self._cobj.flush(self._flush_block))
        self._fp.flush()

    def tell(self) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        return self._offset

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # GzipFile.seek in write mode, message for message.
        if whence != io.SEEK_SET:
            if whence == io.SEEK_CUR:
                offset = self._offset + offset
            else:
                raise ValueError("Seek from end not supported")
        if offset < self._offset:
            raise OSError("Negative seek in write mode")
        count = offset - self._offset
        chunk = b"\0" * 1024
        for _ in range(count // 1024):
            self.write(chunk)
        self.write(b"\0" * (count % 1024))
        return self._offset

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._finished = True
            self._fp.write(self._cobj.flush())
        finally:
            super().close()


def open_fileobj(
    file: Any,
    compression: Compression,
    fmode: FileMode,
    *,
    closefd: bool,
    opener: Callable[[str, int], int] | None,
) -> BinaryIO:
    """Open the buffered binary file a compressor sits on, as the stdlib openers do."""
    if compression is Compression.GZIP:
        mode = _stripped(fmode)
        mode = mode if "b" in mode else mode + "b"
    else:
        mode = _letter(fmode) + "b"
    return cast(BinaryIO, open(file, mode, closefd=closefd, opener=opener))


class Opened(NamedTuple):
    """The blocking file objects of one :func:`open_blocking`."""

    #: What reads and writes go to: an ``io.FileIO``, or the format's object.
    file: BinaryIO
    #: Under a compressor, the buffered file it sits on (closed after *file*).
    fileobj: BinaryIO | None
    #: The file's ``name`` and ``mode`` as the stdlib object would report them.
    name: Any
    mode: str

    def close(self) -> None:
        """Close *file*, then *fileobj* (also when the first close raised)."""
        try:
            self.file.close()
        finally:
            if self.fileobj is not None:
                self.fileobj.close()


def open_blocking(
    file: Any,
    compression: Compression,
    fmode: FileMode,
    level: object,
    *,
    closefd: bool,
    opener: Callable[[str, int], int] | None,
) -> Opened:
    """Open *file* as the thread-served stream drives it: an unbuffered
    ``io.FileIO`` for plain files (the stream keeps its own buffers), the
    format's object over a buffered file otherwise.

    *level* was checked by :func:`check_level`.  When wrapping fails after the
    open, the file is closed again.
    """
    if compression is Compression.NONE:
        # Python 3.10's "U" (universal newlines) only ever reads.
        mode = "rb" if "U" in fmode.mode else _stripped(fmode)
        raw = io.FileIO(file, mode if "b" in mode else mode + "b", closefd=closefd, opener=opener)
        return Opened(cast(BinaryIO, raw), None, raw.name, raw.mode)
    fileobj = open_fileobj(file, compression, fmode, closefd=closefd, opener=opener)
    try:
        comp = open_compressed(fileobj, compression, fmode, level, file)
    except BaseException:
        fileobj.close()
        raise
    return Opened(comp, fileobj, getattr(fileobj, "name", file), _letter(fmode) + "b")
