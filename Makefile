# 政务公开年度考核分析平台 — quick start: `make run`, `make test`
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test lint demo bench clean-db

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt $(VENV)/.run-installed
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

## Serve the dashboard on the embedded database (demonstration county loaded when empty)
run: $(VENV)/.run-installed
	$(PY) -m data demo --if-empty
	$(PY) -m streamlit run dashboard/app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

## Run the linter, then the whole test suite
test: lint
	$(PY) -m pytest -q

## Check the code with ruff (configured in pyproject.toml)
lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .

## (Re)build the demonstration database from scratch
demo: $(VENV)/.run-installed
	$(PY) -m data demo --reset

## Benchmarks (not part of `make test`)
bench: $(VENV)/.dev-installed
	$(PY) -m bench.bench_ingest
	$(PY) -m bench.bench_scoring
	$(PY) -m bench.bench_pages
