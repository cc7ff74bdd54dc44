"""The documentation cannot rot: every example runs, every name has a reference entry.

- Every ``python`` block of docs/**/*.md runs. Blocks of one page share a
  namespace and run in order, in a fresh temporary directory; top-level
  ``await`` is allowed (each such block runs in its own event loop).
- Every ``python`` block of README.md runs as a script of its own
  (``python block.py``, no top-level ``await``): what a reader pastes into a
  file must work.
- Every ``python`` block in a docstring of a public name runs (the API
  reference shows them).
- A block preceded by ``<!-- not-run -->`` is shown, not run; a page that starts
  with ``<!-- needs-python: 3.12 -->`` is skipped on an older interpreter.
- Benchmark figures in README.md and docs/ are generated from
  docs/benchmarks.md (tests/docfigures.py) and must match it.
- ``mkdocs build --strict`` passes: no dead link, no broken reference entry.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hybridio
from tests import docfigures

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md"))
NEEDS = re.compile(r"<!-- needs-python: (\d+)\.(\d+) -->")
BLOCK = re.compile(r"(<!-- not-run -->\s*)?```python\n(.*?)```", re.DOTALL)
PROJECT_URL = "https://github.com/hybridio/hybridio"

# Modules documented on pages of their own besides ``hybridio`` itself.
REFERENCE_MODULES = (
    "hybridio.os",
    "hybridio.tempfile",
    "hybridio.Path",
    "hybridio.compat.aiofiles",
    "hybridio.compat.aiofiles.os",
    "hybridio.compat.aiofiles.ospath",
    "hybridio.compat.aiofiles.tempfile",
    "hybridio.compat.aiofile",
    "hybridio.compat.aiomisc",
    "hybridio.zarr",
    "hybridio.fsspec",
)


def _blocks(text: str) -> list[tuple[int, str]]:
    found = []
    for match in BLOCK.finditer(text):
        if match.group(1):
            continue
        line = text.count("\n", 0, match.start(2)) + 1
        found.append((line, match.group(2)))
    return found


def _run_blocks(blocks: list[tuple[int, str]], filename: str, name: str) -> None:
    namespace: dict[str, object] = {"__name__": name}
    for line, source in blocks:
        code = compile(
            ast.parse("\n" * (line - 1) + source, filename=filename),
            filename,
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


# Pages without examples (the generated report, the reference pages) have nothing to run.
DOCS_WITH_EXAMPLES = [d for d in DOCS if _blocks(d.read_text(encoding="utf-8"))]


def test_the_guides_have_examples() -> None:
    names = {d.name for d in DOCS_WITH_EXAMPLES}
    for page in ("index.md", "strategies.md", "guide.md", "random-access.md", "cancellation.md"):
        assert page in names


@pytest.mark.parametrize("doc", DOCS_WITH_EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_documentation_examples_run(
    doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = doc.read_text(encoding="utf-8")
    needs = NEEDS.match(text)
    if needs and sys.version_info < (int(needs[1]), int(needs[2])):
        pytest.skip(f"{doc.name} needs Python >= {needs[1]}.{needs[2]}")
    blocks = _blocks(text)
    monkeypatch.chdir(tmp_path)
    _run_blocks(blocks, str(doc), f"doc_{doc.stem}")
    assert os.getcwd() == str(tmp_path)


README_BLOCKS = _blocks(README.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("line", "source"), README_BLOCKS, ids=[f"line{n}" for n, _ in README_BLOCKS]
)
def test_readme_example_runs_as_a_script(tmp_path: Path, line: int, source: str) -> None:
    script = tmp_path / "example.py"
    script.write_text(source, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"README.md line {line}:\n{proc.stderr}"


def test_readme_starts_with_pip_install_and_keeps_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = text.index("```")
    assert text[first_block:].startswith("```sh\npip install hybridio")
    assert "make bench" in text
    assert "make test" in text


def test_readme_links_work_on_the_package_index_page() -> None:
    # PyPI renders README.md without the repository: a relative link is dead there.
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    for link in links:
        assert link.startswith(("https://", "http://")), f"relative link in README: {link}"
        prefix = f"{PROJECT_URL}/blob/main/"
        if link.startswith(prefix):
            target = ROOT / link[len(prefix) :].split("#")[0]
            assert target.is_file(), f"README links to a missing file: {link}"


def test_project_urls_match_the_readme() -> None:
    meta = importlib.metadata.metadata("hybridio")
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert urls["Source"] == PROJECT_URL
    assert all(u.startswith(PROJECT_URL) for u in urls.values())
    classifiers = meta.get_all("Classifier") or []
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_version_matches_the_package_metadata() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    declared = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE)
    assert declared is not None
    assert hybridio.__version__ == importlib.metadata.version("hybridio") == declared.group(1)


def test_benchmark_figures_match_the_report() -> None:
    report = docfigures.REPORT.read_text(encoding="utf-8")
    for page in docfigures.PAGES:
        text = page.read_text(encoding="utf-8")
        assert docfigures.BLOCK.search(text), f"{page.name} quotes no generated figures"
        assert docfigures.render(text, report) == text, (
            f"{page.name}: benchmark figures differ from docs/benchmarks.md; "
            "run `make docs-figures`"
        )


# -- the API reference ------------------------------------------------------------------------


def _reference_entries() -> set[str]:
    entries: set[str] = set()
    for page in (ROOT / "docs" / "reference").glob("*.md"):
        entries |= set(re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), re.M))
    return entries


def test_every_public_name_has_a_reference_entry() -> None:
    entries = _reference_entries()
    # __version__ is a string, described in prose on the reference's first page.
    missing = [n for n in hybridio.__all__ if n != "__version__" and f"hybridio.{n}" not in entries]
    assert missing == []
    assert set(REFERENCE_MODULES) <= entries
    index = (ROOT / "docs" / "reference" / "index.md").read_text(encoding="utf-8")
    assert "__version__" in index


def test_every_reference_entry_exists() -> None:
    for entry in _reference_entries():
        module, _, attr = entry.rpartition(".")
        if importlib.util.find_spec(entry) is not None:
            continue
        assert hasattr(importlib.import_module(module), attr), entry


def _public_objects() -> list[tuple[str, object]]:
    objects: list[tuple[str, object]] = []
    seen: set[int] = set()

    def add(name: str, obj: object) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        objects.append((name, obj))
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                if not attr.startswith("_"):
                    add(f"{name}.{attr}", value)

    for name in hybridio.__all__:
        if name != "__version__":
            add(f"hybridio.{name}", getattr(hybridio, name))
    return objects


def _doc_of(obj: object) -> str:
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        return obj.__doc__ or ""
    return (getattr(obj, "__doc__", None) or "") if not isinstance(obj, (str, int)) else ""


DOCSTRING_EXAMPLES = [
    (name, block)
    for name, obj in _public_objects()
    for _, block in _blocks(inspect.cleandoc(_doc_of(obj)))
]


@pytest.mark.parametrize(
    ("name", "source"), DOCSTRING_EXAMPLES, ids=[n for n, _ in DOCSTRING_EXAMPLES]
)
def test_docstring_examples_run(
    name: str, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _run_blocks([(1, textwrap.dedent(source))], f"<docstring of {name}>", f"doc_{name}")


def test_the_reference_has_examples() -> None:
    assert len(DOCSTRING_EXAMPLES) >= 3


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None, reason="the docs extra is not installed"
)
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    # ~3 s: cheap enough to keep the docs' links and reference entries honest.
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr
    assert (tmp_path / "site" / "reference" / "index.html").is_file()
