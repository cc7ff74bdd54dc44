"""Mode parsing accepts exactly what the builtin open() accepts, with its errors (B1, B2)."""

from __future__ import annotations

import itertools
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio._modes import parse_mode
from tests.conftest import fd_count

ALPHABET = "rwaxbt+U"
ALL_MODES = ["".join(t) for n in range(5) for t in itertools.product(ALPHABET, repeat=n)]


Verdict = tuple[Any, ...]


def _builtin_verdict(path: Path, mode: str) -> Verdict:
    path.write_bytes(b"")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            f = open(path, mode)  # noqa: SIM115 - the oracle
        except (ValueError, TypeError) as exc:
            return type(exc), str(exc)
        except OSError:
            return (None, [str(w.message) for w in caught])
    f.close()
    return (None, [str(w.message) for w in caught])


def _our_verdict(mode: str) -> Verdict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parse_mode(mode)
        except (ValueError, TypeError) as exc:
            return type(exc), str(exc)
    return (None, [str(w.message) for w in caught])


def test_every_mode_string_up_to_length_4_matches_builtin_open(tmp_path: Path) -> None:
    """Errors and warnings (3.10 still takes "U", with a DeprecationWarning)."""
    path = tmp_path / "f"
    mismatches = []
    for mode in ALL_MODES:
        expected = _builtin_verdict(path, mode)
        got = _our_verdict(mode)
        if got != expected:
            mismatches.append((mode, expected, got))
    assert mismatches == []
    assert len(ALL_MODES) == sum(8**n for n in range(5))


@pytest.mark.parametrize("mode", [1, None, b"r", 2.5, ["r"]])
def test_non_string_mode_raises_typeerror_like_open(tmp_path: Path, mode: object) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"")
    with pytest.raises(TypeError) as builtin:
        open(path, mode)  # type: ignore[call-overload]  # noqa: SIM115
    with pytest.raises(TypeError) as ours:
        hybridio.async_open(path, mode)  # type: ignore[call-overload]
    assert str(ours.value) == str(builtin.value)


#: "U" and "rU" are bad modes from 3.11 on; 3.10 still opens them for reading.
_U_IS_BAD = ["U", "rU"] if sys.version_info >= (3, 11) else ["wU", "Ua"]


@pytest.mark.parametrize("mode", ["", "rw", "rr", "tb", "xa", "r+w", *_U_IS_BAD])
async def test_bad_mode_fails_before_any_fd_or_thread_exists(tmp_path: Path, mode: str) -> None:
    fds, threads = fd_count(), threading.active_count()
    with pytest.raises(ValueError, match=r"mode|binary"):
        hybridio.async_open(tmp_path / "f", mode)
    assert fd_count() == fds
    assert threading.active_count() == threads
    assert not (tmp_path / "f").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"encoding": "utf-8"}, "binary mode doesn't take an encoding argument"),
        ({"errors": "strict"}, "binary mode doesn't take an errors argument"),
        ({"newline": "\n"}, "binary mode doesn't take a newline argument"),
    ],
)
def test_binary_mode_rejects_text_arguments(
    tmp_path: Path, kwargs: dict[str, str], message: str
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=message):
        open(path, "rb", **kwargs)  # type: ignore[call-overload]  # noqa: SIM115
    with pytest.raises(ValueError, match=message):
        hybridio.async_open(path, "rb", **kwargs)  # type: ignore[call-overload]


def test_unbuffered_text_and_bad_newline_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="can't have unbuffered text I/O"):
        hybridio.async_open(tmp_path / "f", "w", buffering=0)
    with pytest.raises(ValueError, match="illegal newline value"):
        hybridio.async_open(tmp_path / "f", "w", newline="x")


def test_line_buffering_in_binary_mode_warns_like_open(tmp_path: Path) -> None:
    with pytest.warns(RuntimeWarning, match="line buffering") as caught:
        hybridio.async_open(tmp_path / "f", "wb", buffering=1)
    # The warning names the caller's line, as open()'s does.
    assert caught[0].filename == __file__


def test_os_flags_match_fileio() -> None:
    assert parse_mode("r").os_flags & os.O_ACCMODE == os.O_RDONLY
    assert parse_mode("w").os_flags & (os.O_CREAT | os.O_TRUNC) == os.O_CREAT | os.O_TRUNC
    assert parse_mode("a+b").os_flags & os.O_APPEND
    assert parse_mode("x").os_flags & os.O_EXCL
    assert parse_mode("r+b").os_flags & os.O_ACCMODE == os.O_RDWR
    assert parse_mode("w+b").raw_mode == "rb+"
