# One entry point for everything: `make test` and `make bench` work on a fresh clone.
# The newest CPython >= 3.12 here (zarr and the io_uring peers need it), else python3.
PYTHON ?= $(shell tools/find-python)
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV := .venv
PY := $(VENV)/bin/python
# The stamp names the interpreter: switching Python rebuilds the venv.
STAMP := $(VENV)/.installed-$(PYVER)
QUICK ?=

.PHONY: venv test pytest lint typecheck bench bench-quick bench-kernel docs docs-figures clean

$(STAMP): pyproject.toml
	@if [ -x $(PY) ] && [ "$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$(PYVER)" ]; then \
		echo "rebuilding $(VENV) for Python $(PYVER)"; rm -rf $(VENV); fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,bench,docs]'
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check hybridio tests benchmarks
	$(VENV)/bin/ruff format --check hybridio tests benchmarks

typecheck: venv
	$(VENV)/bin/mypy

pytest: venv
	$(PY) -m pytest -W error::ResourceWarning

test: lint typecheck pytest

# The documentation site, into site/; strict: a warning (a dead link, a missing
# reference entry) fails the build. Offline once the venv is installed.
docs: venv
	$(VENV)/bin/mkdocs build --strict --site-dir site

# After `make bench`: the benchmark figures quoted in README.md and docs/ are
# regenerated from docs/benchmarks.md (tests/test_docs.py fails while they differ).
docs-figures: venv
	$(PY) -m tests.docfigures

bench: venv
	$(PY) -m benchmarks $(if $(QUICK),--quick,)
	$(PY) -m tests.docfigures

bench-quick: venv
	$(PY) -m benchmarks --quick

# The kernel-path depth sweep (cold/cached 4 KiB at depths 1-64, 64 KiB at 64,
# sequential 1 MiB) against every kernel-AIO peer: docs/benchmarks-kernel.md.
bench-kernel: venv
	$(PY) -m benchmarks --workloads kernel --no-plots $(if $(QUICK),--quick,--md docs/benchmarks-kernel.md)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache site
