# The two quick-start commands (README): `make demo` and `make test`.
# Both set up .venv first (Python 3.11: spyne 2.14 does not import on 3.12+).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

.PHONY: setup demo lint test
setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hub demo

# Seconds, so `make test` runs it first: lint and format (ruff), types (mypy; its cache in
# .mypy_cache), and the layers of docs/architecture.md (lint-imports, .importlinter).
lint: $(STAMP)
	$(VENV)/bin/ruff check hub tests bench
	$(VENV)/bin/ruff format --check hub tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Every database test runs on SQLite and on PostgreSQL (127.0.0.1:5432, or
# $$HUB_TEST_PG_URL). With CI=true an unreachable PostgreSQL fails the run.
test: lint
	$(PY) -m pytest -n 2 -q --durations=8 $(PYTEST_ARGS)
