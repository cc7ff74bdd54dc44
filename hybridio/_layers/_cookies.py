"""``tell()`` cookies: their layout, and the walk that reconstructs one.

Pure functions over a decoder and the bytes it was fed: the C TextIOWrapper's
cookie (an off_t, three C ints, a char, little endian) and its ``tell()``
reconstruction, so cookies are interchangeable with ``io.TextIOWrapper``'s.
Re-exported by :mod:`hybridio._layers.textcore`.
"""

from __future__ import annotations

from typing import Any

__all__ = ("c_flags", "pack_cookie", "reconstruct_cookie", "unpack_cookie")


def pack_cookie(
    position: int,
    dec_flags: int = 0,
    bytes_to_feed: int = 0,
    need_eof: bool = False,
    chars_to_skip: int = 0,
) -> int:
    """The cookie meaning: seek to *position*, set the decoder flags, feed
    *bytes_to_feed* bytes (with *need_eof* as the EOF flag), skip
    *chars_to_skip* characters.

    The C TextIOWrapper's layout (an off_t, three C ints, a char, little
    endian), so cookies are interchangeable with ``io.TextIOWrapper``'s.
    """
    return (
        position
        | ((dec_flags & 0xFFFFFFFF) << 64)
        | (bytes_to_feed << 96)
        | (chars_to_skip << 128)
        | (int(bool(need_eof)) << 160)
    )


def unpack_cookie(cookie: int) -> tuple[int, int, int, bool, int]:
    """``(position, dec_flags, bytes_to_feed, need_eof, chars_to_skip)``,
    the fields read as C reads them (OverflowError past the C struct)."""
    if cookie >> 168:
        raise OverflowError("int too big to convert")
    position = cookie & 0xFFFFFFFFFFFFFFFF
    if position >> 63:
        position -= 1 << 64  # an off_t: the binary seek refuses it (EINVAL)
    dec_flags = (cookie >> 64) & 0xFFFFFFFF
    if dec_flags & 0x80000000:
        dec_flags -= 1 << 32
    bytes_to_feed = (cookie >> 96) & 0xFFFFFFFF
    chars_to_skip = (cookie >> 128) & 0xFFFFFFFF
    need_eof = bool((cookie >> 160) & 0xFF)
    return position, dec_flags, bytes_to_feed, need_eof, chars_to_skip


def c_flags(flags: int) -> int:
    """Decoder flags as C's tell() parses them: a C ``int``.  Some decoders
    (iso-2022-jp after an error) report more; C refuses them rather than
    pack a cookie that would seek to another state."""
    if flags > 0x7FFFFFFF:
        raise OverflowError("signed integer is greater than maximum")
    if flags < -0x80000000:
        raise OverflowError("signed integer is less than minimum")
    return flags


def reconstruct_cookie(
    decoder: Any,
    position: int,
    dec_flags: int,
    next_input: bytes,
    chars_to_skip: int,
    b2cratio: float,
) -> int:
    """The cookie of the point *chars_to_skip* characters into the decoding
    of *next_input* (which starts at byte *position* with the decoder in
    state ``(b"", dec_flags)``).

    The decoder is walked forward from that snapshot and left as it was.
    """
    saved_state = decoder.getstate()
    try:
        skip_bytes, dec_flags, chars_to_skip = _skip_safely(
            decoder, dec_flags, next_input, chars_to_skip, b2cratio
        )
        start_pos = position + skip_bytes
        if chars_to_skip == 0:
            return pack_cookie(start_pos, dec_flags)
        return _feed_bytewise(decoder, start_pos, dec_flags, next_input[skip_bytes:], chars_to_skip)
    finally:
        decoder.setstate(saved_state)


def _skip_safely(
    decoder: Any, dec_flags: int, next_input: bytes, chars_to_skip: int, b2cratio: float
) -> tuple[int, int, int]:
    """Fast search for a start point (nothing buffered in the decoder) close
    before the target, O(1) decode calls for common codecs: ``(bytes
    skipped, decoder flags there, characters still to skip)``."""
    skip_bytes = int(b2cratio * chars_to_skip)
    skip_back = 1
    if skip_bytes > len(next_input):
        # The snapshot is older than the decoded characters: iteration (which
        # keeps no snapshot) read a chunk, then flush() re-enabled tell().  C
        # decodes past the end of its snapshot bytes here; there is no position
        # to give.
        raise OSError("can't reconstruct logical file position")
    while skip_bytes > 0:
        decoder.setstate((b"", dec_flags))
        n = len(decoder.decode(next_input[:skip_bytes]))
        if n <= chars_to_skip:
            b, d = decoder.getstate()
            d = c_flags(d)
            if not b:
                # Before the target and no bytes buffered in the decoder: OK.
                return skip_bytes, d, chars_to_skip - n
            # Skip back by the buffered amount and reset the heuristic.
            skip_bytes -= len(b)
            skip_back = 1
        else:
            # Too far ahead: skip back a bit.
            skip_bytes -= skip_back
            skip_back = skip_back * 2
    decoder.setstate((b"", dec_flags))
    return 0, dec_flags, chars_to_skip


def _feed_bytewise(
    decoder: Any, start_pos: int, start_flags: int, rest: bytes, chars_to_skip: int
) -> int:
    """Feed the decoder one byte at a time, noting the nearest safe start
    point (nothing buffered in the decoder) before the target."""
    bytes_fed = 0
    need_eof = False
    chars_decoded = 0
    for i in range(len(rest)):
        bytes_fed += 1
        chars_decoded += len(decoder.decode(rest[i : i + 1]))
        dec_buffer, dec_flags = decoder.getstate()
        dec_flags = c_flags(dec_flags)
        if not dec_buffer and chars_decoded <= chars_to_skip:
            start_pos += bytes_fed
            chars_to_skip -= chars_decoded
            start_flags, bytes_fed, chars_decoded = dec_flags, 0, 0
        if chars_decoded >= chars_to_skip:
            break
    else:
        # Not enough decoded data; signal EOF to get more.
        chars_decoded += len(decoder.decode(b"", final=True))
        need_eof = True
        if chars_decoded < chars_to_skip:
            raise OSError("can't reconstruct logical file position")
    return pack_cookie(start_pos, start_flags, bytes_fed, need_eof, chars_to_skip)
