# Two commands: `make run` serves the product with demo data, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test chromium lint format migrate clean screenshots bench bench-peer wandb-conformance

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-test.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

migrate: install
	$(BIN)/python manage.py migrate --noinput -v 0

# HOST, PORT, WORKERS, DEMO and the rest come from the environment (README, Configuration). Any number of
# servers may start at once: prepare_server migrates and sets up under a lock.
run: install
	$(BIN)/python manage.py prepare_server
	$(BIN)/gunicorn -c registry_site/gunicorn_conf.py registry_site.wsgi

# Debian's Chromium drives the browser tests; installed when root and missing.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)) >/dev/null; \
	  else echo "Browser tests need Debian's chromium: run 'sudo apt-get install chromium'." >&2; exit 1; fi; \
	fi

test: install-test chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	@# Includes tests/security/test_headers.py: `manage.py check --deploy` must be clean under a production environment.
	$(BIN)/pytest
	@# The domain and its race tests again on a throwaway PostgreSQL, when its server binaries are installed.
	@scripts/with-postgres $(BIN)/pytest -q -m "not browser and not huge" tests/artifacts tests/registry tests/wandb_api tests/hardening tests/test_admin.py tests/test_demo.py tests/test_faults.py tests/test_page_scaling.py; rc=$$?; \
	  if [ $$rc = 77 ]; then echo "Skipped the PostgreSQL run: no PostgreSQL server binaries."; \
	  elif [ $$rc != 0 ]; then exit $$rc; fi

# Issue 11's benchmark (not part of `make test`): our servers on private ports, data made in bulk, a table printed
# and written to bench/results/. BENCH_SCALE=small runs in minutes; bench-peer adds MLflow's figures.
MLFLOW_VENV := bench/.venv-mlflow

$(MLFLOW_VENV)/.installed:
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/pip install -q --upgrade pip
	$(MLFLOW_VENV)/bin/pip install -q mlflow==3.17.2
	touch $@

bench: install-test
	$(BIN)/python -m bench

bench-peer: install-test $(MLFLOW_VENV)/.installed
	$(BIN)/python -m bench --peer

# Issue 16's conformance check (not part of `make test`): W&B's own SDK system tests (artifacts, registries, public
# API), unmodified, from the tag of WANDB_VERSION (default: the SDK in .venv) of a wandb/wandb checkout or mirror,
# against this server; a table per module, written to docs/conformance/<date>.md.
wandb-conformance: install-test
	@test -n "$(WANDB_REPO)" || { echo "Usage: make wandb-conformance WANDB_REPO=<path to a wandb/wandb checkout or mirror> [WANDB_VERSION=x.y.z]" >&2; exit 2; }
	WANDB_REPO="$(WANDB_REPO)" $(BIN)/python scripts/wandb_conformance.py

# README's screenshots, from a throwaway copy of the demo data.
screenshots: install-test chromium
	$(BIN)/python scripts/screenshots.py

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .venv-wandb-* data
