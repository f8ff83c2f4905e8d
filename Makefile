# Flint: `make run` starts the product, `make test` runs the suite.
# Both bootstrap the same locked environment: a private uv in .tools/, then .venv from uv.lock.

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Installed packages are compiled once, at install: with PYTHONDONTWRITEBYTECODE set (as on
# some machines) Python would otherwise compile every library afresh at each start (10 s to
# answer /healthz on a 2-core machine instead of 4).
export UV_COMPILE_BYTECODE := 1
# Flint's own modules and the tests are compiled once too, into __pycache__ beside them (ignored
# by git): with PYTHONDONTWRITEBYTECODE set, each of the suite's xdist workers rewrote and
# compiled every test module again (collection: 10 s of CPU a worker instead of 5.5), and every
# process the tests or `make run` start compiled Flint's 250 modules again (0.3 s each).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test lint format bench fuzz bootstrap clean

bootstrap: $(STAMP)

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit("Flint needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): $(UV) uv.lock pyproject.toml
	UV_PYTHON=$$($(PYTHON) -c 'import sys; print(sys.executable)') $(UV) sync --frozen --quiet
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/flint run

# Two test processes more than there are cores: a third of the suite's time goes to waiting on
# the processes, servers and clocks it starts, and the spare processes keep the cores busy then
# (2 cores, one host: 532 s with two processes, 456 s with three; another: 306 s with three,
# 95 core-seconds idle, and 284-305 s with four, 36 idle, nearly all of it while collecting).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 2 )))

test: $(STAMP)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

format: $(STAMP)
	$(VENV)/bin/ruff format src tests
	$(VENV)/bin/ruff check --fix src tests

bench: $(STAMP)
	$(VENV)/bin/python -m bench

# The parser fuzz tests (tests/fuzz) and the schemathesis runs over the API (tests/contract) run
# long: FLINT_FUZZ_EXAMPLES random examples per property, and per operation and phase (CI runs a
# fixed, derandomized few), without the per-test timeout. Each run draws a new schemathesis seed
# and names it in its report; FLINT_FUZZ_SEED=<seed> runs those cases again.
FLINT_FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	FLINT_FUZZ_EXAMPLES=$(FLINT_FUZZ_EXAMPLES) $(VENV)/bin/pytest -p no:cacheprovider -q \
		--timeout=0 -n 2 --dist loadgroup tests/fuzz tests/contract $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
