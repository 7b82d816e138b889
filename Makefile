# Fleet Cockpit — the two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
FLEET_PORT ?= 8081
PYTEST_ARGS ?=

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run the cockpit: migrate, seed the demo once, then web server + Celery worker + beat.
run: install
	DEBUG=1 $(PY) manage.py migrate --no-input
	DEBUG=1 DEMO_FLEET_URL=http://127.0.0.1:$(FLEET_PORT) $(PY) manage.py seed_demo
	@echo ""
	@echo "  Fleet Cockpit: http://127.0.0.1:$(PORT)/   (API docs: http://127.0.0.1:$(PORT)/api/docs/)"
	@echo "  Fleet simulator: http://127.0.0.1:$(FLEET_PORT)/ (token demo-fleet-token)"
	@echo ""
	DEBUG=1 VENV=$(VENV) PORT=$(PORT) FLEET_PORT=$(FLEET_PORT) $(VENV)/bin/honcho start

## Run the test suite (SQLite and an in-process broker unless DATABASE_URL / REDIS_URL are set).
## Locally the test database is kept between runs (pytest-django's --reuse-db; new migrations still apply,
## --create-db rebuilds it); with CI=true every run creates it afresh.
## The tests run in parallel, one worker per core (pytest-xdist; TEST_WORKERS=0 runs them in one process).
REUSE_DB ?= $(if $(filter true 1,$(CI)),,--reuse-db)
TEST_WORKERS ?= auto
test: install
	$(PY) -m pytest $(REUSE_DB) -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

## Benchmarks against PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/cockpit_bench;
## the other benchmarks use the same server, databases cockpit_sync_bench, cockpit_csv_bench, cockpit_suggestion_bench).
bench: install
	$(PY) benchmarks/bench_device_list.py
	$(PY) benchmarks/bench_sync.py
	$(PY) benchmarks/bench_csv.py
	$(PY) benchmarks/bench_suggestion.py

clean:
	rm -rf var staticfiles .pytest_cache
