"""``python -m hybridio``: info, explain, bench hand-off, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import hybridio
from hybridio import _cli_commands, cli
from hybridio._engines import kernel
from hybridio._profile import TuningProfile

ROOT = Path(__file__).resolve().parents[2]

needs_explain = pytest.mark.skipif(
    not hasattr(hybridio, "explain"), reason="hybridio.explain is not in this version yet"
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The developer's own profile and backend choice must not leak in.
    for name in ("HYBRIDIO_PROFILE", "HYBRIDIO_BACKEND", "HYBRIDIO_SQPOLL", "HYBRIDIO_INLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``python -m hybridio`` child: isolated config."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HYBRIDIO_") and k not in ("PYTHONWARNINGS",)
    }
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_cli(
    tmp_path: Path, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m hybridio ARGS`` in *tmp_path*."""
    return subprocess.run(
        [sys.executable, "-m", "hybridio", *args],
        cwd=tmp_path,
        env=child_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``cli.main(args)`` in-process; (status, stdout, stderr)."""
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


# -- info -----------------------------------------------------------------------------------


def test_info_json_lists_every_backend(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(capsys, "info", "--json")
    assert status == 0
    info = json.loads(out)
    names = [b["name"] for b in info["backends"]]
    assert names == list(kernel.BACKEND_NAMES) == ["uring", "linux", "thread", "python"]
    for b in info["backends"]:
        assert isinstance(b["available"], bool)
        # an unavailable backend always says why
        assert b["available"] or b["reason"]
    assert sum(b["selected"] for b in info["backends"]) == 1
    assert info["caio"] != "not installed"
    assert info["python"].split()[1] == ".".join(map(str, sys.version_info[:3]))
    assert isinstance(info["filesystem"], str) and info["filesystem"]
    assert info["inline"]["works"] in (True, False, None)
    assert info["inline"]["detail"]
    assert set(info["sqpoll"]) >= {"allowed", "used"}
    assert info["profile"]["thresholds"] == json.loads(
        json.dumps(hybridio._profile.resolve_profile().thresholds())
    )
    # the temporary inline-check file is gone
    assert list(Path.cwd().iterdir()) == []


def test_info_text_shows_backends_and_profile(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(capsys, "info")
    assert status == 0
    for name in kernel.BACKEND_NAMES:
        assert f"\n  {name} " in out
    assert "selected" in out
    assert "inline reads (RWF_NOWAIT):" in out
    assert "SQPOLL" in out
    assert "profile:" in out
    assert "inline_max" in out


def test_info_reports_a_forced_backend(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYBRIDIO_BACKEND", "python")
    hybridio.reload_settings()
    status, out, _ = run_main(capsys, "info", "--json")
    assert status == 0
    info = json.loads(out)
    assert info["forced_backend"] == "python"
    assert [b["name"] for b in info["backends"] if b["selected"]] == ["python"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RWF_NOWAIT is Linux-only")
def test_info_inline_disabled_by_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYBRIDIO_INLINE", "0")
    hybridio.reload_settings()
    status, out, _ = run_main(capsys, "info", "--json")
    assert status == 0
    inline = json.loads(out)["inline"]
    assert inline["works"] is False
    assert "HYBRIDIO_INLINE" in inline["detail"]


def test_info_in_a_read_only_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        monkeypatch.chdir(locked)
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        status, out, _ = run_main(capsys, "info", "--json")
    finally:
        locked.chmod(0o700)
    assert status == 0
    inline = json.loads(out)["inline"]
    assert inline["works"] is None
    assert "cannot create a test file" in inline["detail"]


def test_info_subprocess_and_console_entry(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "info")
    assert proc.returncode == 0, proc.stderr
    assert "kernel backends" in proc.stdout
    assert proc.stderr == ""


def test_info_with_a_profile_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "env-profile.json"
    TuningProfile(inline_max=12345, origin="made by test_cli").save(path)
    proc = run_cli(tmp_path, "info", "--json", HYBRIDIO_PROFILE=str(path))
    assert proc.returncode == 0, proc.stderr
    prof = json.loads(proc.stdout)["profile"]
    assert prof["source"] == str(path)
    assert prof["origin"] == "made by test_cli"
    assert prof["thresholds"]["inline_max"] == 12345


def test_info_with_a_corrupt_profile_warns_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{", encoding="utf-8")
    proc = run_cli(tmp_path, "info", "--json", HYBRIDIO_PROFILE=str(path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("hybridio: warning:")
    assert str(path) in lines[0]
    assert json.loads(proc.stdout)["profile"]["source"] != str(path)


# -- explain --------------------------------------------------------------------------------


@needs_explain
def test_explain_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(b"x" * 100)
    status, out, _ = run_main(capsys, "explain", "data.bin", "rb", "--access", "random")
    assert status == 0
    assert out.startswith("data.bin (rb):")
    assert "strategy:" in out
    assert "random" in out


@needs_explain
def test_explain_json_matches_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(
        capsys, "explain", "log.txt.gz", "w", "--compression", "auto", "--json"
    )
    assert status == 0
    data = json.loads(out)
    expected = hybridio.explain("log.txt.gz", "w", compression="auto").to_dict()
    assert data["path"] == "log.txt.gz"
    assert data["mode"] == "w"
    assert {k: data[k] for k in expected} == json.loads(json.dumps(expected))
    assert data["strategy"] == "thread"
    assert data["compression"] == "gzip"


@needs_explain
def test_explain_forced_strategy(capsys: pytest.CaptureFixture[str], strategy: str) -> None:
    Path("plain.bin").write_bytes(b"")
    status, out, _ = run_main(capsys, "explain", "plain.bin", "--strategy", strategy, "--json")
    assert status == 0
    assert json.loads(out)["strategy"] == strategy


@needs_explain
def test_explain_bad_mode_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["explain", "x.bin", "rwz"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err
    assert "mode" in err


# -- argument errors ------------------------------------------------------------------------

BAD_ARGS = [
    [],
    ["nonsense"],
    ["info", "--frobnicate"],
    ["explain"],
    ["explain", "x", "rb", "--access", "sideways"],
    ["explain", "x", "--strategy", "warp"],
    ["explain", "x", "--backend", "floppy"],
    ["explain", "x", "--compression", "rar"],
    ["calibrate", "--budget-ms", "-1"],
    ["calibrate", "--budget-ms", "soon"],
    ["calibrate", "--quick", "extra"],
]


@pytest.mark.parametrize("argv", BAD_ARGS, ids=lambda a: " ".join(a) or "nothing")
def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err
    assert "error:" in err


def test_bad_arguments_exit_2_from_the_command(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "explain", "--access", "sideways", "x")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_runtime_failure_is_one_line_exit_1(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "calibrate", "--quick", "--dir", str(tmp_path / "missing"))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("hybridio: error:")
    assert "missing" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unexpected_exceptions_become_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(directory: str = ".") -> dict[str, Any]:
        raise RuntimeError("probe exploded\nsecond line")

    monkeypatch.setattr(_cli_commands, "gather_info", boom)
    status, out, err = run_main(capsys, "info")
    assert status == 1
    assert out == ""
    assert err == "hybridio: error: RuntimeError: probe exploded\n"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("hybridio ")


# -- bench ----------------------------------------------------------------------------------


def test_bench_outside_a_checkout(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cli_commands, "_benchmarks_root", lambda: None)
    status, out, err = run_main(capsys, "bench", "--quick")
    assert status == 1
    assert out == ""
    assert "source checkout" in err
    assert "make bench" in err
    assert err.count("\n") == 1


@pytest.mark.skipif(
    not (ROOT / "benchmarks" / "__main__.py").exists(), reason="no benchmarks/ in this tree"
)
def test_bench_hands_arguments_to_the_suite(tmp_path: Path) -> None:
    # --help is the one suite invocation that is instant; the suite's own
    # argparse answers, so the arguments reached it untouched.
    proc = run_cli(tmp_path, "bench", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "python -m benchmarks" in proc.stdout
    bad = run_cli(tmp_path, "bench", "--no-such-option")
    assert bad.returncode == 2
    assert "--no-such-option" in bad.stderr


# -- issue 11: explain tells what open() would do -------------------------------------------


def test_explain_a_missing_file_fails_like_open(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FileNotFoundError) as expected:
        open("missing.bin")  # noqa: SIM115 - the message to match
    status, out, err = run_main(capsys, "explain", "missing.bin")
    assert status == 1
    assert out == ""
    assert err == f"hybridio: error: {expected.value}\n"


def test_explain_a_directory_fails_like_open(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "adir").mkdir()
    with pytest.raises(IsADirectoryError) as expected:
        open("adir", "rb")  # noqa: SIM115
    status, out, err = run_main(capsys, "explain", "adir", "rb")
    assert status == 1
    assert out == ""
    assert err == f"hybridio: error: {expected.value}\n"


def test_explain_x_mode_on_an_existing_file_fails_like_open(
    capsys: pytest.CaptureFixture[str],
) -> None:
    Path("here.bin").write_bytes(b"")
    status, _, err = run_main(capsys, "explain", "here.bin", "xb")
    assert status == 1
    assert "File exists" in err


def test_explain_a_file_a_write_mode_would_create(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(capsys, "explain", "new.bin", "wb", "--json")
    assert status == 0
    data = json.loads(out)
    assert any("does not exist yet" in note and "creates it" in note for note in data["notes"])
    assert not Path("new.bin").exists()  # explained, not created
    status, _, err = run_main(capsys, "explain", "no-such-dir/new.bin", "wb")
    assert status == 1
    assert "No such file or directory" in err


def test_explain_default_mode_is_async_opens(capsys: pytest.CaptureFixture[str]) -> None:
    Path("t.txt").write_text("x", encoding="utf-8")
    status, out, _ = run_main(capsys, "explain", "t.txt", "--json")
    assert status == 0
    assert json.loads(out)["mode"] == "r"
    mode_default = next(a.default for a in _subparser("explain")._actions if a.dest == "mode")
    assert mode_default == "r"


def test_explain_hints_a_gzip_file(capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    with gzip.open("log.gz", "wb") as f:
        f.write(b"line\n")
    status, out, _ = run_main(capsys, "explain", "log.gz")
    assert status == 0
    assert "gzip" in out
    assert "--compression auto" in out
    status, out, _ = run_main(capsys, "explain", "log.gz", "--json")
    assert json.loads(out)["detected_compression"] == "gzip"
    # asked for explicitly: no hint needed
    status, out, _ = run_main(capsys, "explain", "log.gz", "--compression", "auto", "--json")
    data = json.loads(out)
    assert data["compression"] == "gzip"
    assert data["detected_compression"] is None


def test_explain_impossible_combination_prints_the_subcommand_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["explain", "x.gz", "w", "--compression", "gzip", "--strategy", "kernel"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: hybridio explain" in err
    assert "hybridio explain: error:" in err


def _subparser(name: str) -> Any:
    import argparse

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


@pytest.mark.parametrize("command", ["info", "explain", "calibrate", "bench"])
def test_every_option_has_help_text(command: str) -> None:
    parser = _subparser(command)
    for action in parser._actions:
        assert action.help, f"{command} {action.dest} has no help text"


# -- issue 11: info --------------------------------------------------------------------------


def test_info_says_whether_zstd_is_available(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    expected = importlib.util.find_spec("zstandard") is not None
    status, out, _ = run_main(capsys, "info", "--json")
    assert status == 0
    assert json.loads(out)["zstd"]["available"] is expected
    status, out, _ = run_main(capsys, "info")
    assert ("zstd:        available" in out) is expected


def _tmpfs_dir() -> Path | None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        return None
    from hybridio._selector import filesystem_type

    return shm if filesystem_type(str(shm)) == "tmpfs" else None


def _nowait_refused(directory: Path) -> bool:
    import tempfile

    with tempfile.TemporaryFile(dir=directory) as f:
        os.write(f.fileno(), b"x")
        try:
            os.preadv(f.fileno(), [bytearray(1)], 0, os.RWF_NOWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
    return False


@pytest.mark.skipif(not hasattr(os, "RWF_NOWAIT"), reason="RWF_NOWAIT is Linux-only")
def test_info_probes_the_filesystem_of_the_directory_asked_about(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shm = _tmpfs_dir()
    if shm is None or not _nowait_refused(shm):
        pytest.skip("no tmpfs here that refuses RWF_NOWAIT")
    before = set(shm.iterdir())
    status, out, _ = run_main(capsys, "info", str(shm), "--json")
    assert status == 0
    info = json.loads(out)
    assert info["directory"] == str(shm)
    assert info["filesystem"] == "tmpfs"
    assert info["inline"]["works"] is False
    assert set(shm.iterdir()) == before  # the probe file is gone
    # the same probe through explain, for a file there
    status, out, _ = run_main(capsys, "explain", str(shm / "x.bin"), "wb", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["inline_probe"]["works"] is False
    assert any("refuses" in note for note in data["notes"])


def test_info_on_a_missing_directory_fails(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(capsys, "info", "nowhere")
    assert status == 1
    assert out == ""
    assert "No such file or directory" in err


def test_warnings_do_not_repeat_the_program_name(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{", encoding="utf-8")
    proc = run_cli(tmp_path, "info", "--json", HYBRIDIO_PROFILE=str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("hybridio: warning: ")
    assert "hybridio: warning: hybridio:" not in proc.stderr


# -- issue 11: bench runs hybridio's own suite only ------------------------------------------


def test_bench_outside_a_checkout_says_how_to_get_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cli_commands, "_benchmarks_root", lambda: None)
    status, out, err = run_main(capsys, "bench")
    assert status == 1
    assert out == ""
    assert "git clone https://github.com/hybridio/hybridio" in err


def test_bench_ignores_an_unrelated_benchmarks_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another project's checkout as the current directory: its suite must not run.
    other = tmp_path / "other"
    (other / "benchmarks").mkdir(parents=True)
    marker = tmp_path / "ran"
    (other / "benchmarks" / "__init__.py").write_text("", encoding="utf-8")
    (other / "benchmarks" / "__main__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8"
    )
    (other / "pyproject.toml").write_text('[project]\nname = "other"\n', encoding="utf-8")
    monkeypatch.chdir(other)
    assert not _cli_commands._is_hybridio_checkout(other)
    # The package itself may come from a checkout (editable install): that one is fine.
    root = _cli_commands._benchmarks_root()
    assert root != other
    assert root is None or _cli_commands._is_hybridio_checkout(root)
    assert not marker.exists()
