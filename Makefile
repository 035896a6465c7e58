# 政务公开年度考核分析平台 — quick start: `make run`, `make test`
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
# the demonstration county's own database; `make run` serves it unless GONGKAI_DB names a real one
DEMO_DB := var/demo.duckdb

.PHONY: run run-cluster test lint demo bench clean-db

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt $(VENV)/.run-installed
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

STREAMLIT := $(PY) -m streamlit run dashboard/app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

## Serve the dashboard: on $$GONGKAI_DB when set (never writing demo data into it), else on the
## demonstration database var/demo.duckdb (built on first use)
run: $(VENV)/.run-installed
ifeq ($(strip $(GONGKAI_DB)),)
	$(PY) -m demo --if-missing --db $(DEMO_DB)
	GONGKAI_DB=$(DEMO_DB) $(STREAMLIT)
else
	GONGKAI_DB="$(GONGKAI_DB)" $(STREAMLIT)
endif

## The province setup on this machine (docs/deployment.md): a private PostgreSQL under var/cluster, the
## demonstration county in it, two dashboard replicas and HAProxy on port $(CLUSTER_PORT); Ctrl-C stops all
CLUSTER_PORT ?= 8080
run-cluster: $(VENV)/.run-installed
	$(PY) -m deploy.run_cluster --port $(CLUSTER_PORT)

## Run the linter, then the whole test suite
test: lint
	$(PY) -m pytest -q

## Check the code with ruff (configured in pyproject.toml)
lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .

## (Re)build the demonstration database var/demo.duckdb from scratch (a real database is never touched)
demo: $(VENV)/.run-installed
	$(PY) -m demo --reset --db $(DEMO_DB)

## Benchmarks (not part of `make test`)
bench: $(VENV)/.dev-installed
	$(PY) -m bench.bench_ingest
	$(PY) -m bench.bench_scoring
	$(PY) -m bench.bench_pages
	$(PY) -m bench.bench_demo
	$(PY) -m bench.bench_closing
