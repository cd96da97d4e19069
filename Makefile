# The two everyday commands: `make run` (local mode) and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export NEWS_INGEST_INDEX_PREFIX ?= news

.PHONY: setup test lint typecheck unit integration es-start es-stop run demo lock clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check include dags plugins tests bench
	$(BIN)/ruff format --check include dags plugins tests bench

typecheck: setup
	$(BIN)/mypy

es-start: setup
	$(BIN)/news-ingest es start

es-stop: setup
	$(BIN)/news-ingest es stop

test: setup lint typecheck es-start
	$(BIN)/pytest

run: setup
	$(BIN)/news-ingest local

# Local mode plus a demo news site on 127.0.0.1 (no internet needed): the views show data.
demo: setup
	$(BIN)/news-ingest demo

lock:
	rm -rf .lockvenv && $(PY) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -e '.[dev]'
	( head -2 requirements.lock; .lockvenv/bin/pip freeze --exclude-editable ) > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lockvenv

clean:
	rm -rf $(VENV) .state .mypy_cache .ruff_cache .pytest_cache
