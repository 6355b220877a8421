# The targets CI uses (.ci/run) and people use. Everything runs from the project's .venv.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install demo lint format typecheck test test-fast faults bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'

demo: install  ## install, then serve the bundled example organisation with live traffic on SQLite
	$(BIN)/ninefold demo

lint: install
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests $(wildcard bench)
	$(BIN)/ruff format src tests $(wildcard bench)

test: install  ## the whole suite, SQLite and PostgreSQL (NINEFOLD_TEST_POSTGRES_URL)
	NINEFOLD_TEST_POSTGRES_URL=$${NINEFOLD_TEST_POSTGRES_URL:-$(PG_URL)} NINEFOLD_REQUIRE_POSTGRES=1 \
		$(BIN)/pytest -q

faults: install  ## the fault suite alone (tests/faults): real processes, injected faults, ~4 min
	NINEFOLD_TEST_POSTGRES_URL=$${NINEFOLD_TEST_POSTGRES_URL:-$(PG_URL)} $(BIN)/pytest -q tests/faults

test-fast: install  ## SQLite only
	$(BIN)/pytest -q -x

bench: install
	$(BIN)/python bench/slo_eval.py

clean:
	rm -rf build dist .mypy_cache .pytest_cache .ruff_cache
