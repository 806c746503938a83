# TestOps: `make run` starts it, `make test` tests it. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, else the one pip installs (`python3 -m uv` works wherever pip put it).
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
export UV_PYTHON_DOWNLOADS ?= never
PYTEST_ARGS ?=

.PHONY: help uv install allure run run-prod test test-sqlite test-postgres lint fmt migrate bench bench-ingest clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

uv: ## Install uv when it is missing (from PyPI)
	@$(UV) --version >/dev/null 2>&1 || { \
		echo "uv not found: installing it from PyPI"; \
		python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user uv \
		|| python3 -m pip install --quiet --user --break-system-packages uv; }
	@$(UV) --version

install: uv ## Install the locked dependencies into .venv
	$(UV) sync --locked

allure: ## Install the Allure 3 CLI (pinned) into .tools/allure, for report builds (needs npm)
	npm install --prefix .tools/allure allure@3.18.0

run: install ## Start TestOps: the gateway on :8000 in front of catalog, results, executor (Ctrl-C stops all)
	$(UV) run --no-sync python scripts/run.py

EXECUTORS ?= 3
run-prod: install ## Run as docker-compose.yml deploys, natively: PostgreSQL, S3 (moto), migrations first, EXECUTORS=3 executors
	$(UV) run --no-sync python scripts/run.py --prod --executors $(EXECUTORS) $(RUN_PROD_ARGS)

test: install ## Run the test suite on SQLite, and at the same time on PostgreSQL when TESTOPS_TEST_POSTGRES_URL is set
	@if [ -n "$$TESTOPS_TEST_POSTGRES_URL" ]; then \
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres; \
	else echo "TESTOPS_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"; \
	$(MAKE) --no-print-directory test-sqlite; fi

test-sqlite: ## Run the suite on SQLite only
	env -u TESTOPS_TEST_POSTGRES_URL $(UV) run pytest $(PYTEST_ARGS)

test-postgres: ## Run the suite on PostgreSQL only (needs TESTOPS_TEST_POSTGRES_URL)
	@test -n "$$TESTOPS_TEST_POSTGRES_URL" || { echo "set TESTOPS_TEST_POSTGRES_URL"; exit 2; }
	$(UV) run pytest $(PYTEST_ARGS)

lint: install ## ruff check, ruff format --check, mypy --strict
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

fmt: install ## Format and fix what ruff can
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

migrate: install ## Apply migrations to the configured databases
	$(UV) run testops-catalog migrate
	$(UV) run testops-results migrate
	$(UV) run testops-executor migrate
	$(UV) run testops-gateway migrate

bench: install ## Run the benchmarks on PostgreSQL (TESTOPS_BENCH_POSTGRES_URL, default: local server)
	$(UV) run python bench/catalog_list.py
	$(UV) run python bench/ingest.py

bench-ingest: install ## Only the ingest benchmark (BENCH_ARGS=... for its options)
	$(UV) run python bench/ingest.py $(BENCH_ARGS)

clean: ## Remove the embedded data folder and caches
	rm -rf .testops .pytest_cache .mypy_cache .ruff_cache
