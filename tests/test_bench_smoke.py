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
    assert (out / "report.md").exists()
    # --quick never touches the committed report.
    assert _docs_state() == before
