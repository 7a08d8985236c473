# tradeplane: the two commands are `make demo` and `make test`; everything else supports them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt Makefile 2>/dev/null | sha256sum | cut -c1-16)
TRADEPLANE := $(BIN)/tradeplane
PYTEST_ARGS ?=

.PHONY: help setup venv binaries demo down status test test-unit test-integration lint bench lock clean

help:
	@echo "make demo   start the whole system in the background (control plane, PostgreSQL) and show it ready"
	@echo "make down   stop everything make demo started"
	@echo "make test   the whole test suite with the coverage gate (what CI runs)"
	@echo "make setup  virtualenv, pinned dependencies and the cached Kubernetes binaries"
	@echo "make lint   ruff and mypy"
	@echo "make bench  benchmarks (never part of the test suite)"

$(STAMP): pyproject.toml constraints.txt Makefile
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "Python 3.11 is required; $(PYTHON) is $$($(PYTHON) --version)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set, nothing else ever caches bytecode,
	# and every process (the operator, each CLI call) would compile its imports from source again.
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python --constraint constraints.txt -e '.[dev,learning]'
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib/python3.11/site-packages > /dev/null
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

binaries: venv
	$(TRADEPLANE) cluster build

setup: venv binaries

demo: setup
	$(TRADEPLANE) up --workloads

down:
	@if [ -x $(TRADEPLANE) ]; then $(TRADEPLANE) down; else echo "nothing to stop: no virtualenv"; fi

status: venv
	$(TRADEPLANE) status

test: setup
	$(BIN)/python -m pytest --cov --cov-report=term --cov-report=json:.tradeplane/coverage.json $(PYTEST_ARGS)
	$(BIN)/python tests/coverage_gate.py .tradeplane/coverage.json

test-unit: venv
	$(BIN)/python -m pytest -m unit $(PYTEST_ARGS)

test-integration: setup
	$(BIN)/python -m pytest -m "integration or workloads" $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m benchmarks

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra learning --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --no-header -o constraints.txt

clean: down
	rm -rf $(VENV) .tradeplane .pytest_cache .mypy_cache .ruff_cache .hypothesis
