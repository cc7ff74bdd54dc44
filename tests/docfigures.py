"""Figures quoted in README.md and docs/, generated from where they were measured.

Benchmark figures come from docs/benchmarks.md (``make bench``); the shipped
profile's thresholds and reasons from hybridio/default_profile.json
(``python -m hybridio calibrate``).

A quoted figure lives between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``
and is rendered here from the latest report, so it cannot disagree with it:
``tests/test_docs.py`` fails when a block is stale, and ``make docs-figures``
(``python -m tests.docfigures``) rewrites the blocks after ``make bench``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks.md"
PROFILE = ROOT / "hybridio" / "default_profile.json"
PAGES = [ROOT / "README.md", ROOT / "docs" / "strategies.md", ROOT / "docs" / "tuning.md"]
BLOCK = re.compile(r"(<!-- bench:([\w-]+) -->\n)(.*?)(<!-- /bench:\2 -->)", re.DOTALL)

Table = list[dict[str, str]]


def tables(report: str) -> dict[str, Table]:
    """Every Markdown table of *report*, keyed by the heading above it (first one wins)."""
    found: dict[str, Table] = {}
    heading = ""
    lines = report.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("Batched `read_many`"):
            heading = "Batched read_many"
        if line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            head = [c.strip() for c in line.strip("|").split("|")]
            rows: Table = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip("|").split("|")]
                rows.append(dict(zip(head, cells, strict=False)))
                i += 1
            found.setdefault(heading, rows)
            continue
        i += 1
    return found


def _md(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _headline(t: dict[str, Table]) -> str:
    rows = t["Headline: hybridio (AUTO) against the baseline and each peer"]
    body = [
        [r["workload"], f"{r['hybridio']} {r['unit']}", r["x best peer"], r["stall ms"]]
        for r in rows
        if r["x best peer"] != "-"
    ]
    return _md(
        ["workload", "hybridio", "x best peer (> 1: hybridio faster)", "worst stall ms"], body
    )


def _stalls(t: dict[str, Table]) -> str:
    rows = t["Worst loop stall of single calls"]
    return _md(
        ["call", "median ms", "worst ms"],
        [[r["call"], r["median ms"], r["worst ms"]] for r in rows],
    )


def _strategies(t: dict[str, Table]) -> str:
    head = t["Headline: hybridio (AUTO) against the baseline and each peer"]
    forced = {r["workload"]: r for r in t["AUTO against forced strategies"]}
    body = []
    for r in head:
        f = forced.get(r["workload"], {})
        body.append(
            [
                r["workload"],
                r["x baseline"],
                r["x best peer"],
                f.get("AUTO / strategy=kernel", "-"),
                f.get("AUTO / strategy=thread", "-"),
            ]
        )
    return _md(
        ["workload", "x blocking call", "x best peer", "AUTO / kernel", "AUTO / thread"], body
    )


def _batched(t: dict[str, Table]) -> str:
    rows = t["Batched read_many"]
    return _md(
        ["workload", "read_many x blocking call", "read_many x best peer"],
        [[r["workload"], r["x baseline"], r.get("x best peer") or _best_batched(r)] for r in rows],
    )


def _best_batched(row: dict[str, str]) -> str:
    # The column is named for what it compares against (batched peers too).
    return next((v for k, v in row.items() if k.startswith("x best peer")), "-")


def _size(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
        return str(value).lower() if isinstance(value, bool) else str(value)
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if value >= 1 << shift and value % (1 << shift) == 0:
            return f"{value >> shift} {unit}"
    return str(value)


def _profile(_: dict[str, Table]) -> str:
    import json

    data = json.loads(PROFILE.read_text(encoding="utf-8"))
    reasons = data.get("measurements", {}).get("reasons", {})
    rows = [[f"`{k}`", _size(data[k]), reasons[k]] for k in sorted(reasons) if k in data]
    return _md(["threshold", "value", "what calibrate measured"], rows)


RENDER: dict[str, Callable[[dict[str, Table]], str]] = {
    "profile": _profile,
    "headline": _headline,
    "stalls": _stalls,
    "strategies": _strategies,
    "batched": _batched,
}


def render(page: str, report: str) -> str:
    """*page* with every bench block regenerated from *report*."""
    t = tables(report)

    def one(m: re.Match[str]) -> str:
        return m.group(1) + RENDER[m.group(2)](t) + m.group(4)

    return BLOCK.sub(one, page)


def main() -> int:
    """Rewrite the blocks of every page in place."""
    report = REPORT.read_text(encoding="utf-8")
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        new = render(text, report)
        if new != text:
            page.write_text(new, encoding="utf-8")
            print(f"updated {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
