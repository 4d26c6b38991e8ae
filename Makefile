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
# Teams' light host config for the card check comes from Microsoft's npm adaptivecards-designer (its peer
# dependencies clash with adaptivecards 3, so it is unpacked, not installed).
HOSTCONFIG_PACKAGE := adaptivecards-designer@2.4.4
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error \
	  && mkdir -p node_modules/.curfew \
	  && npm pack --silent --pack-destination node_modules/.curfew $(HOSTCONFIG_PACKAGE) >/dev/null \
	  && tar -xzf node_modules/.curfew/adaptivecards-designer-*.tgz -C node_modules/.curfew --strip-components=3 \
	       package/lib/hostConfigs/microsoft-teams-light.json \
	  && touch $@; \
	else echo "npm not found: the Playground, manifest and card-renderer tests will skip"; fi

clean:
	rm -rf $(VENV) node_modules build .pytest_cache .mypy_cache .ruff_cache
