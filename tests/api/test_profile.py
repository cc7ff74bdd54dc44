"""TuningProfile: save/load round trip, lookup order, validation, corrupt files."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import hybridio
import hybridio._profile as profile_module
from hybridio._profile import (
    PROFILE_VERSION,
    TuningProfile,
    default_profile,
    load_profile,
    profile_path,
    resolve_profile,
)

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="XDG_CONFIG_HOME is the Linux lookup"
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No test may see the developer's own profile or environment.
    monkeypatch.delenv("HYBRIDIO_PROFILE", raising=False)
    hybridio.reload_settings()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def _write(path: Path, profile: TuningProfile) -> Path:
    profile.save(path)
    return path


def test_round_trip(tmp_path: Path) -> None:
    original = TuningProfile(
        inline_max=64 * 1024,
        max_chunk=512 * 1024,
        sqpoll=True,
        origin="python -m hybridio calibrate on a test",
        measurements={"cells": [{"engine": "inline", "mb_s": 1.5}], "budget_ms": 1.0},
    )
    path = tmp_path / "sub" / "p.json"
    original.save(path)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    loaded = load_profile(path)
    assert loaded.thresholds() == original.thresholds()
    assert loaded.origin == original.origin
    assert dict(loaded.measurements) == dict(original.measurements)
    assert loaded.source == str(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == PROFILE_VERSION
    assert "source" not in data  # where it was read from is not part of the file


def test_save_replaces_an_existing_profile(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    TuningProfile(inline_max=1).save(path)
    TuningProfile(inline_max=2).save(path)
    assert load_profile(path).inline_max == 2


def test_thresholds_exclude_provenance() -> None:
    keys = set(TuningProfile().thresholds())
    assert not keys & {"source", "origin", "measurements"}
    assert {"inline_max", "max_chunk", "thread_read_min", "read_ahead", "sqpoll"} <= keys


@linux_only
def test_profile_path_follows_xdg(tmp_path: Path) -> None:
    assert profile_path() == tmp_path / "xdg" / "hybridio" / "profile.json"


@linux_only
def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Files are re-checked at most once per RECHECK_SECONDS; here, every time.
    monkeypatch.setattr(profile_module, "RECHECK_SECONDS", 0.0)
    user = _write(profile_path(), TuningProfile(inline_max=111))
    env = _write(tmp_path / "env.json", TuningProfile(inline_max=222))
    arg = _write(tmp_path / "arg.json", TuningProfile(inline_max=333))
    monkeypatch.setenv("HYBRIDIO_PROFILE", str(env))
    hybridio.reload_settings()

    # argument > environment > user config > shipped default
    assert resolve_profile(arg).inline_max == 333
    assert resolve_profile(arg).source == str(arg)
    given = TuningProfile(inline_max=444)
    assert resolve_profile(given) is given
    assert resolve_profile().inline_max == 222
    assert resolve_profile().source == str(env)
    monkeypatch.delenv("HYBRIDIO_PROFILE")
    hybridio.reload_settings()
    assert resolve_profile().inline_max == 111
    assert resolve_profile().source == str(user)
    user.unlink()
    assert resolve_profile() == default_profile()


def test_a_changed_file_is_reread(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.json", TuningProfile(inline_max=1))
    assert resolve_profile(path).inline_max == 1
    TuningProfile(inline_max=2).save(path)
    # mtime granularity: make sure the second write is seen as newer
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    assert resolve_profile(path).inline_max == 2


def test_shipped_default_profile_loads() -> None:
    shipped = Path(hybridio.__file__).with_name("default_profile.json")
    if not shipped.exists():
        pytest.skip("no default_profile.json in this checkout")
    profile = default_profile()
    assert profile.source == str(shipped)
    assert "calibrate" in profile.origin
    # it passes the same validation as any user profile
    assert load_profile(shipped).thresholds() == profile.thresholds()


def _valid() -> dict[str, Any]:
    return json.loads(TuningProfile().to_json())  # type: ignore[no-any-return]


BAD: list[tuple[str, str, str]] = [
    ("bad-json", "{not json", "not valid JSON"),
    ("not-object", "[1, 2]", "not a JSON object"),
    ("wrong-version", json.dumps({**_valid(), "version": 99}), "unsupported profile version"),
    ("no-version", json.dumps({"inline_max": 1}), "unsupported profile version"),
    ("unknown-key", json.dumps({**_valid(), "turbo": 1}), "unknown key 'turbo'"),
    ("source-key", json.dumps({**_valid(), "source": "x"}), "unknown key 'source'"),
    ("negative", json.dumps({**_valid(), "max_chunk": -1}), "non-negative integer"),
    ("float", json.dumps({**_valid(), "inline_max": 1.5}), "non-negative integer"),
    ("bool-as-int", json.dumps({**_valid(), "inline_max": True}), "non-negative integer"),
    ("int-as-bool", json.dumps({**_valid(), "sqpoll": 1}), "true or false"),
    ("zero-chunk", json.dumps({**_valid(), "max_chunk": 0}), "must be positive"),
    ("bad-origin", json.dumps({**_valid(), "origin": 5}), "must be a string"),
    ("bad-measurements", json.dumps({**_valid(), "measurements": []}), "must be an object"),
]


@pytest.mark.parametrize(("text", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_validation_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_profile(path)


def test_from_mapping_accepts_a_partial_profile() -> None:
    profile = TuningProfile.from_mapping({"version": PROFILE_VERSION, "max_chunk": 4096}, "x")
    assert profile.max_chunk == 4096
    assert profile.inline_max == TuningProfile().inline_max
    assert profile.source == "x"


@pytest.mark.parametrize(("text", "message"), [b[1:] for b in BAD[:7]], ids=[b[0] for b in BAD[:7]])
def test_corrupt_profile_warns_once_and_uses_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    path = tmp_path / "corrupt.json"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("HYBRIDIO_PROFILE", str(path))
    hybridio.reload_settings()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = resolve_profile()
        second = resolve_profile()
    assert len(caught) == 1, [str(w.message) for w in caught]
    warning = caught[0]
    assert warning.category is RuntimeWarning
    assert str(path) in str(warning.message)
    assert "defaults" in str(warning.message)
    assert first == second == default_profile()


def test_missing_named_profile_warns(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.warns(RuntimeWarning, match="no such file") as record:
        assert resolve_profile(missing) == default_profile()
    assert str(missing) in str(record[0].message)


def test_missing_user_profile_is_silent() -> None:
    assert not profile_path().exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_profile() == default_profile()


async def test_open_works_with_a_corrupt_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "corrupt-open.json"
    bad.write_text(json.dumps({**_valid(), "max_chunk": -5}), encoding="utf-8")
    monkeypatch.setenv("HYBRIDIO_PROFILE", str(bad))
    hybridio.reload_settings()
    data_file = tmp_path / "data.bin"
    data_file.write_bytes(b"hello world" * 100)
    with pytest.warns(RuntimeWarning, match="corrupt-open.json") as record:
        async with hybridio.async_open(data_file, "rb") as f:
            assert await f.read() == b"hello world" * 100
    assert len(record) == 1


def test_replace_keeps_validation_semantics() -> None:
    # dataclasses.replace is how calibrate builds profiles: the result must
    # serialise to something load_profile accepts.
    profile = dataclasses.replace(TuningProfile(), inline_max=0, thread_pool_size=4)
    again = TuningProfile.from_mapping(json.loads(profile.to_json()), "round")
    assert again.thresholds() == profile.thresholds()


def test_a_rewritten_hybridio_profile_file_is_picked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9 item 10: the resolved-profile cache followed the user file's
    mtime but not the HYBRIDIO_PROFILE file's, so a recalibrated profile
    named there was ignored until the process restarted.  (Files are
    re-checked at most once per RECHECK_SECONDS; here, every time.)"""
    monkeypatch.setattr(profile_module, "RECHECK_SECONDS", 0.0)
    path = tmp_path / "env.json"
    monkeypatch.setenv("HYBRIDIO_PROFILE", str(path))
    hybridio.reload_settings()
    path.write_text(TuningProfile(inline_max=1111).to_json(), encoding="utf-8")
    assert resolve_profile().inline_max == 1111
    # Rewritten in place (same inode); the mtime is moved on explicitly so
    # that coarse timestamps cannot hide the change.
    before = path.stat()
    path.write_text(TuningProfile(inline_max=2222).to_json(), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    assert resolve_profile().inline_max == 2222
    # Replaced by a new file (what save() does), same size and mtime as before.
    stamp = path.stat()
    replacement = tmp_path / "new.json"
    replacement.write_text(TuningProfile(inline_max=3333).to_json(), encoding="utf-8")
    os.utime(replacement, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    os.replace(replacement, path)
    assert resolve_profile().inline_max == 3333
