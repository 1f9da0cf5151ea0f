# One entry point: `make report` builds the report of the latest data cut from data/raw/,
# `make test` runs the tests. Both create .venv from the pinned lock when it is missing or stale.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-from-lock
UV_VERSION := 0.13.9
CUT ?=
CUT_ARG := $(if $(CUT),--cut $(CUT),)
export GX_ANALYTICS_ENABLED := False
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: report test lint venv warm system-deps bench fuzz fuzz-raw simulate clean-outputs

venv: $(STAMP)

# Stale = the lock (or pyproject) changed since the venv was filled.
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 is required, found {sys.version.split()[0]}: set PYTHON=/path/to/python3.11"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	@echo "Installing pinned environment from requirements.lock ..."
	@$(PY) -m uv pip install -q -p $(PY) --compile-bytecode --require-hashes -r requirements.lock
	@$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@$(MAKE) --no-print-directory warm
	@touch $(STAMP)

# Issue 15: what a first report would otherwise do in every process it starts. The repo's own
# modules are byte-compiled (uv compiles site-packages only, and PYTHONDONTWRITEBYTECODE=1 keeps
# Python from writing them: each process re-compiled the package, about 0.45 s of CPU); the
# matplotlib font cache is built once here instead of by the report's processes and kernels at
# the same time. A module edited later is compiled in memory as before (its .pyc is stale, never
# wrong); `make warm` refreshes them.
warm:
	@$(PY) -m compileall -q -j 0 analysis validation benchmarks >/dev/null
	@$(PY) -c "import matplotlib.font_manager" >/dev/null

report: venv
	$(PY) -m analysis report $(CUT_ARG)

# R (reference statistics) and Chromium (report check) come from Debian where we are root;
# elsewhere the tests that need them skip with the reason shown.
system-deps:
	@bash tools/system-deps.sh

# The lint gate first (ruff: pyflakes, bugbear, complexity; pyproject.toml [tool.ruff]): any
# finding fails the target before a test runs.
lint: venv
	$(PY) -m ruff check .

test: venv system-deps lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Issue 14: >= 1,000 mutated raw exports through validate + derive in-process; prints counts by
# outcome and exits 1 on any traceback or silent change (FUZZ_RAW_EXAMPLES to change the number).
FUZZ_RAW_EXAMPLES ?= 1000
fuzz-raw: venv
	$(PY) -m tests.fuzz_raw --examples $(FUZZ_RAW_EXAMPLES)

bench: venv system-deps
	$(PY) -m benchmarks.run_all

# Differential fuzz of the statistics layer against R: 1,000 hypothesis data sets (FUZZ_PROFILE=ci
# gives the 30 of `make test`), one Rscript batch; prints "N agreed, M disagreed" per method.
FUZZ_PROFILE ?= fuzz
fuzz: venv system-deps
	HYPOTHESIS_PROFILE=$(FUZZ_PROFILE) $(PY) -m tests.fuzz.run --keep fuzz-disagreements.csv

simulate: venv
	$(PY) -m analysis simulate
