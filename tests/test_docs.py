"""Every ``python`` code block in README.md and docs/*.md runs (the docs cannot rot).

Blocks of one file share a namespace and run in order, in a fresh temporary
directory; top-level ``await`` is allowed (each such block runs in its own
event loop).  A block preceded by ``<!-- not-run -->`` is shown, not run.  A file that starts
with ``<!-- needs-python: 3.12 -->`` is skipped on an older interpreter.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NEEDS = re.compile(r"<!-- needs-python: (\d+)\.(\d+) -->")
BLOCK = re.compile(r"(<!-- not-run -->\s*)?```python\n(.*?)```", re.DOTALL)


def _blocks(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in BLOCK.finditer(text):
        if match.group(1):
            continue
        line = text.count("\n", 0, match.start(2)) + 1
        found.append((line, match.group(2)))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_documentation_examples_run(
    doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs = NEEDS.match(doc.read_text(encoding="utf-8"))
    if needs and sys.version_info < (int(needs[1]), int(needs[2])):
        pytest.skip(f"{doc.name} needs Python >= {needs[1]}.{needs[2]}")
    blocks = _blocks(doc)
    if not blocks:
        pytest.skip(f"{doc.name} has no python blocks")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"doc_{doc.stem}"}
    for line, source in blocks:
        code = compile(
            ast.parse("\n" * (line - 1) + source, filename=str(doc)),
            str(doc),
            "exec",
            flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
        )
        if code.co_flags & inspect.CO_COROUTINE:

            async def run(code: object = code) -> None:
                result = eval(code, namespace)
                await result

            asyncio.run(run())
        else:
            exec(code, namespace)
    assert os.getcwd() == str(tmp_path)


def test_readme_starts_with_the_two_setup_commands() -> None:
    head = (ROOT / "README.md").read_text(encoding="utf-8")[:1500]
    assert "make bench" in head
    assert "make test" in head
