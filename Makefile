# The two commands are `make run` and `make test` (README.md). Both install what they need first:
# a virtualenv in .venv from Python 3.11, the pinned uv inside it, then exactly uv.lock.
# Needs only Python 3.11, make and access to PyPI.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
UV_VERSION := 0.13.10
# Remade whenever the dependency files change.
STAMP := $(VENV)/.installed

# Type-checked code, the tests and benchmarks included; a directory counts once it holds Python files.
MYPY_PATHS = $(strip $(foreach d,stack workflows activities clients components local_discord bot adoption tests bench,$(if $(wildcard $(d)/*.py),$(d))) \
	$(wildcard worker.py))

.PHONY: help install run test lint fmt bench clean

help:
	@echo "make run    dev Temporal server + Web UI (http://127.0.0.1:8233), worker, bot (if DISCORD_TOKEN is set)"
	@echo "make test   the test suite (installs first)"
	@echo "make lint   ruff format --check, ruff check, mypy --strict"
	@echo "make fmt    ruff format + ruff check --fix"
	@echo "make bench  benchmarks (bench/)"
	@echo "make install | clean"

install: $(STAMP)

$(STAMP): pyproject.toml uv.lock
	@test -n "$(PYTHON)" || { echo "error: python3.11 not found (set PYTHON=/path/to/python3.11)"; exit 1; }
	@if [ ! -x $(VENV)/bin/python ]; then \
		echo "creating $(VENV) with $(PYTHON)"; \
		$(PYTHON) -m venv $(VENV) || { echo "error: '$(PYTHON) -m venv' failed (on Debian: apt-get install python3-venv)"; exit 1; }; \
	fi
	@$(VENV)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
		echo "error: $(VENV) runs Python $$($(VENV)/bin/python -V 2>&1); this project needs 3.11 (rm -rf $(VENV); make PYTHON=python3.11)"; exit 1; }
	@if ! $(VENV)/bin/uv --version 2>/dev/null | grep -q "^uv $(UV_VERSION) "; then \
		$(VENV)/bin/python -m pip --version >/dev/null 2>&1 || $(VENV)/bin/python -m ensurepip --upgrade >/dev/null; \
		echo "installing uv $(UV_VERSION) into $(VENV)"; \
		$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; \
	fi
	UV_PROJECT_ENVIRONMENT="$(CURDIR)/$(VENV)" UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv sync --frozen
	@touch $@

run: $(STAMP)
	$(VENV)/bin/python -m stack $(ARGS)

test: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Runs every check and fails if any failed, so one run shows all problems.
lint: $(STAMP)
	@status=0; \
	echo "ruff format --check"; $(VENV)/bin/ruff format --check || status=1; \
	echo "ruff check"; $(VENV)/bin/ruff check || status=1; \
	echo "mypy --strict $(MYPY_PATHS)"; $(VENV)/bin/mypy --strict $(MYPY_PATHS) || status=1; \
	exit $$status

fmt: $(STAMP)
	$(VENV)/bin/ruff format
	$(VENV)/bin/ruff check --fix

bench: $(STAMP)
	$(VENV)/bin/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
