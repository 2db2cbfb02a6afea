# Bulletin's commands. Every target creates .venv and installs the pinned requirements first.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The test PostgreSQL's address has one default, in tests/pg_address.py (127.0.0.1:5432);
# `make test PG_HOST=… PG_PORT=…` passes either on to it as TEST_PG_HOST / TEST_PG_PORT.
PG_HOST ?=
PG_PORT ?=
# `make cluster`: how many shard processes.
SHARDS ?= 2

.PHONY: help install sandbox cluster test lint format run migrate sync bench reliability clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Bulletin needs Python 3.11 or newer; found " + sys.version.split()[0])'
	@echo "Setting up $(VENV): installing the pinned requirements (about a minute the first time)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@echo "$(VENV) is ready."
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the pinned dependencies

sandbox: $(STAMP) ## try the bot in a terminal chat against a local Discord (no token needed)
	$(BIN)/python -m bot sandbox $(SANDBOX_ARGS)

cluster: $(STAMP) ## the bot as SHARDS processes (default 2) on one PostgreSQL, against a local Discord
	$(if $(PG_HOST),TEST_PG_HOST=$(PG_HOST) )$(if $(PG_PORT),TEST_PG_PORT=$(PG_PORT) )$(BIN)/python -m tools.cluster --shards $(SHARDS) $(CLUSTER_ARGS)

test: $(STAMP) ## run the whole test suite (SQLite, and PostgreSQL when a server answers)
	$(if $(PG_HOST),TEST_PG_HOST=$(PG_HOST) )$(if $(PG_PORT),TEST_PG_PORT=$(PG_PORT) )$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff (lint and format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

run: $(STAMP) ## run the bot (DISCORD_TOKEN from .env)
	$(BIN)/python -m bot run

migrate: $(STAMP) ## upgrade the database at DATABASE_URL to the newest schema
	$(BIN)/python -m bot migrate

sync: $(STAMP) ## show how the commands differ from Discord's and upload them
	$(BIN)/python -m bot sync

bench: $(STAMP) ## full-stack latency and throughput, as ratios to a no-database baseline
	$(BIN)/python -m bench $(BENCH_ARGS)

reliability: $(STAMP) ## hostile input, database faults, kill -9 and 150 members at once: one table
	$(BIN)/python -m reliability $(RELIABILITY_ARGS)

clean: ## remove .venv and caches (not data/)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
