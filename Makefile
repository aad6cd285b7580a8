# The two commands: `make run` starts the hotline, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test chaos scale-test bench lint audit audit-deps install dev clean

run: $(VENV)/.installed
	$(BIN)/hotline serve

# The suite starts a few hundred Python processes (serve, workers, the stand-in, commands):
# compiled once here, the hotline's modules are not compiled again by each of them where
# PYTHONDONTWRITEBYTECODE keeps processes from writing their bytecode.
PACKAGES := hotline ivr ops queues routing telephony carrier voicemail tools

# pytest's assertion-rewritten test modules are cached the same way: one process collects the
# suite with bytecode writing on (about 12 s of CPU on a fresh clone) and each of the
# workers reads them (4 s of CPU each instead of 13). A collection error is left to the run.
# The run ends with its slowest tests, its CPU by test file and the time in all.
test: $(VENV)/.dev-installed
	@date +%s > $(VENV)/.test-started
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m compileall -q -j 0 $(PACKAGES) > /dev/null
	-env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n 0 -p no:cacheprovider \
		--collect-only -qq > /dev/null
	$(BIN)/python -m pytest
	@echo "make test: passed in $$(( $$(date +%s) - $$(cat $(VENV)/.test-started) )) s in all"

# The chaos matrix: real processes, every fault at every step of a call, then a table of
# faults x invariants (exit 1 when a cell fails). `make test` runs its short form.
chaos: $(VENV)/.dev-installed
	$(BIN)/python -m tests.chaos

# Two web hosts, two worker hosts, Redis with Sentinel and HAProxy in network namespaces; the
# Redis primary killed and a web host stopped mid-calls (docs/deploying.md#two-hosts). Needs
# root; installs Debian's haproxy when missing. SCALE_ARGS=--short is CI's form.
scale-test: $(VENV)/.dev-installed
	@command -v haproxy >/dev/null || { apt-get update -qq && apt-get install -y -qq haproxy; }
	$(BIN)/python -m tests.scale $(SCALE_ARGS)

# One benchmark from tools/, printing its figures (docs/benchmarks.md):
# make bench PART=routing|voicemail|crisis|classifier|webhooks|assist. Routing fills an empty Redis database
# (BENCH_REDIS_URL, default redis://127.0.0.1:6379/15).
PART ?= voicemail
bench: $(VENV)/.installed
	$(BIN)/hotline bench $(PART)

# Static security checks of the runtime packages (CI runs this).
# docs/security-checks.md explains each accepted finding.
audit: $(VENV)/.dev-installed
	$(BIN)/bandit -q -r hotline ivr routing queues voicemail ops telephony carrier --severity-level medium

# Known vulnerabilities in the installed dependencies. It needs a vulnerability service (PyPI's
# JSON API or OSV); where none can be reached it fails, it never skips. Not in CI: the CI
# network reaches package downloads only (docs/security-checks.md).
audit-deps: $(VENV)/.dev-installed
	$(BIN)/pip-audit --strict --vulnerability-service pypi --progress-spinner off --skip-editable

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
