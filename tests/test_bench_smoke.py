"""Smoke test of the benchmark suite: it runs, exits 0 and writes valid JSON.

Speeds are never asserted (shared, noisy machines); only the shape of the output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

TINY = [
    "--quick",
    "--no-plots",
    "--reps=2",
    "--warmup=1",
    "--cell-time=0.01",
    "--cap=0.1",
    "--file-mib=4",
    "--text-mb=1",
    "--write-mib=2",
    "--hello-count=2000",
    "--gzip-lines=2000",
    "--small-files=20",
    "--mixed-reads=200",
    "--inflight=8",
]


@pytest.fixture
def bench_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "bench"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _docs_state() -> tuple[float, int] | None:
    md = REPO / "docs" / "benchmarks.md"
    if not md.exists():
        return None
    st = md.stat()
    return (st.st_mtime, st.st_size)


def test_quick_bench_runs_and_writes_json(bench_dir: Path) -> None:
    data, out = bench_dir / "data", bench_dir / "out"
    before = _docs_state()
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("HYBRIDIO_BACKEND", None)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", *TINY, f"--dir={data}", f"--out={out}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,  # inside pytest-timeout's 120 s
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]

    doc = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    assert {"schema", "command", "quick", "machine", "config", "adapters", "workloads"} <= set(doc)
    assert doc["quick"] is True
    assert {"kernel", "cpu_count", "python", "libraries", "filesystem"} <= set(doc["machine"])
    keys = {w["key"] for w in doc["workloads"]}
    assert {"rand4k-qd1", "cold4k-qd1", "seq1m", "lines", "write-fsync", "hello"} <= keys
    assert {"gzip-write", "gzip-read", "small-files", "mixed"} <= keys
    for w in doc["workloads"]:
        assert {"key", "title", "unit", "results", "comparisons", "best_peer"} <= set(w)
        statuses = {r["adapter"]: r["status"] for r in w["results"]}
        assert statuses["blocking (baseline)"] == "ok", w["key"]
        for r in w["results"]:
            assert r["status"] in {"ok", "skipped", "n/a", "error"}
            if r["status"] == "ok":
                assert {"median", "min", "max", "served_by", "stall_max_ms"} <= set(r)
            else:
                assert r["reason"]
    # The io_uring peers and the raw caio variants take part: measured, or a
    # "not available" row with the reason, never silently missing.
    adapters = {a["name"]: a for a in doc["adapters"]}
    peers = {
        "urio",
        "turbofile",
        "obstore",
        "obstore get_ranges_async",
        "caio uring (raw, no SQPOLL)",
        "caio uring (raw, no SQPOLL, per-tick flush)",
    }
    assert peers <= set(adapters)
    for name in peers:
        assert adapters[name]["available"] or adapters[name]["reason"], name
    assert (out / "report.md").exists()
    # --quick never touches the committed report.
    assert _docs_state() == before


def _bench(args: list[str], bench_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, PYTHONHASHSEED="0", **env)
    full_env.pop("HYBRIDIO_BACKEND", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            *TINY,
            f"--dir={bench_dir / 'data'}",
            f"--out={bench_dir / 'out'}",
            *args,
        ],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_kernel_group_selects_the_depth_sweep(bench_dir: Path) -> None:
    proc = _bench(["--list", "--workloads=kernel"], bench_dir)
    assert proc.returncode == 0, proc.stderr[-4000:]
    keys = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("workload ")]
    assert keys == [
        "cold4k-qd1",
        "cold4k-qd4",
        "cold4k-qd16",
        "cold4k-qd64",
        "rand4k-qd1",
        "rand4k-qd4",
        "rand4k-qd16",
        "rand4k-qd64",
        "rand64k-qd64",
        "seq1m",
    ]


def test_peer_that_cannot_import_is_a_not_available_row(bench_dir: Path) -> None:
    # A urio that fails to import (a stand-in module first on sys.path).
    shadow = bench_dir / "shadow"
    shadow.mkdir()
    (shadow / "urio.py").write_text('raise ImportError("urio wheel missing here")\n')
    path = os.pathsep.join(filter(None, [str(shadow), os.environ.get("PYTHONPATH")]))
    proc = _bench(["--adapters=urio", "--workloads=cold4k-qd64"], bench_dir, PYTHONPATH=path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads((bench_dir / "out" / "latest.json").read_text(encoding="utf-8"))
    assert "urio wheel missing here" in doc["unavailable"]["urio"]
    (w,) = doc["workloads"]
    (row,) = (r for r in w["results"] if r["adapter"] == "urio")
    assert row["status"] == "skipped"
    md = (bench_dir / "out" / "report.md").read_text(encoding="utf-8")
    assert "| urio | not available |" in md
    assert "urio: not available: import urio failed: ImportError: urio wheel missing here" in md
    assert "urio: not available" in proc.stdout


def test_the_floor_script_prints_every_way(bench_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.floor", f"--dir={bench_dir}", "--files=20", "--reps=1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = [line.split("  ")[1].strip() for line in proc.stdout.splitlines()[1:]]
    assert rows == ["syscalls", "thin file", "blocking open()", "hybridio"]
    assert all("us/file" in line for line in proc.stdout.splitlines()[1:])
