# packwatch — the two commands: `make run` and `make test`.
# Everything is installed on first use: a virtual environment in .venv/, pip
# wheels, Kafka's jars (Maven) and npm packages cached under .cache/.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP_CACHE := .cache/pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test lint stop status clean bench bench-decoder bench-simulator bench-ingest bench-validate bench-api bench-scoring bench-alerts

$(STAMP): pyproject.toml infra/bootstrap.sh schemas/_json_floats.c models/_thermal.c
	@PYTHON=$(PYTHON) ./infra/bootstrap.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "install: Python packages into $(VENV) (cache: $(PIP_CACHE))"
	@$(BIN)/python -m pip install -q --cache-dir $(PIP_CACHE) --upgrade pip
	@$(BIN)/python -m pip install -q --cache-dir $(PIP_CACHE) -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## The main job on the embedded defaults: Kafka, PostgreSQL and every service, until Ctrl-C.
run: install
	$(BIN)/packwatch run

## The whole test suite against a real broker and database that it starts and stops itself.
test: install lint
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

status: install
	-$(BIN)/packwatch infra status

## Stop everything the run and the tests may have left running.
stop: install
	$(BIN)/packwatch infra down
	PACKWATCH_STATE_DIR=.packwatch/test PACKWATCH_KAFKA_PORT=29092 PACKWATCH_PG_PORT=25432 \
		$(BIN)/packwatch infra down

clean: stop
	rm -rf .packwatch

## Benchmarks (load_tests/): each prints figures and one JSON line last; none fails on time.
bench-decoder: install
	$(BIN)/python -m load_tests.bench_decoder

bench-simulator: install
	$(BIN)/python -m load_tests.bench_simulator

bench-ingest: install
	$(BIN)/python -m load_tests.bench_ingest

bench-validate: install
	$(BIN)/python -m load_tests.bench_validate

bench-api: install
	$(BIN)/python -m load_tests.bench_api

bench-scoring: install
	$(BIN)/python -m load_tests.bench_scoring

bench-alerts: install
	$(BIN)/python -m load_tests.bench_alerts
