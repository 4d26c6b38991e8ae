# Curfew: two commands.
#   make run    set up a virtual environment and run Curfew (simulated fleet when no Azure is configured)
#   make test   set up the dev tools and run every test, ruff and mypy
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: run test lint typecheck pytest playground clean

run: $(VENV)/.runtime
	$(PY) app.py

test: $(VENV)/.dev node_modules/.installed lint typecheck pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.dev
	$(VENV)/bin/mypy

pytest: $(VENV)/.dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

playground: node_modules/.installed
	scripts/playground

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

# Node packages for the Agents Playground UI tests and the manifest validator (skipped without npm).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the Playground and manifest tests will skip"; fi

clean:
	rm -rf $(VENV) node_modules build .pytest_cache .mypy_cache .ruff_cache
