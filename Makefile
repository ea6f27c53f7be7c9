# Galaxy Workbench. Every target bootstraps .venv on first use (Python 3.11 + pip only).
#   make demo   build the demo world and run the scheduled notebooks into reports/
#   make test   run the whole test suite (import layers, ruff, unit tests, nbval over every notebook, browser test)
#   make lab    open JupyterLab;  make serve   open the Voila dashboards
#   make bench  run the benchmarks under bench/

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WORLD  ?= demo
PORT   ?= 8866

.PHONY: demo test lint lab serve bench world reports clean-data help browser

help:
	@sed -n '1,7p' Makefile

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (looked for $(PYTHON))."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first: torch==2.13.0 is a CPU wheel on this machine's disk; any other spec
# would download a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

world: $(STAMP)
	$(BIN)/galaxy world build --size $(WORLD)

demo: $(STAMP)
	$(BIN)/galaxy world build --size $(WORLD) --if-missing
	$(BIN)/galaxy schedule --all
	@echo ""
	@echo "Reports:     reports/index.html"
	@echo "JupyterLab:  make lab      (notebooks/ paired with .py files)"
	@echo "Dashboards:  make serve    (Voila on http://localhost:$(PORT), behind a token it prints)"

reports: $(STAMP)
	$(BIN)/galaxy reports

# Browser tests drive Debian's chromium (never a browser downloaded by a tool).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found: install it (sudo apt-get install chromium) or browser tests will be skipped"; fi; }

# Architecture and style first (seconds): a wrong import or an unformatted file fails CI.
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) browser lint
	$(BIN)/python -m pytest -n 2 --dist loadfile --timeout 1200 tests notebooks --nbval-lax -p no:cacheprovider

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks

# Dashboards behind a token (GALAXY_VOILA_TOKEN, or one made and printed per server); page views
# publish into a temporary folder, never into reports/ (galaxy_lib/apps/serve.py).
serve: $(STAMP)
	$(BIN)/python -m galaxy_lib.apps.serve notebooks --port=$(PORT)

# Benchmarks print ratios against a peer or a limit measured in the same run.
# The MMM bench builds bench/.venv-peers for Google Meridian (it cannot share .venv).
bench: $(STAMP)
	$(BIN)/python bench/simulate.py
	$(BIN)/python bench/mta_vs_channelattribution.py
	$(BIN)/python bench/mta_journeys_memory.py
	$(BIN)/python bench/mmm_vs_meridian.py
	$(BIN)/python bench/uplift.py
	$(BIN)/python bench/creative.py

clean-data:
	rm -rf data/ci data/demo data/bench
