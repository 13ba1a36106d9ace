# The one entry point for people and CI. `make run` and `make test` need only Python 3.11,
# Java 17 and Maven (the launcher resolves Kafka, Cassandra and S3Proxy with Maven, installs redis-server, and
# Java/Maven where apt can).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHIRP := $(BIN)/chirp

.PHONY: help install browser up down status migrate run api worker demo bench test test-unit fuzz chaos soak lint fmt docs \
	clean reset up-cluster down-cluster status-cluster migrate-cluster run-cluster test-cluster test-cluster-suite \
	bench-cluster

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# The cluster topology (infra/cluster.env): 3 Kafka brokers, 3 Cassandra nodes, a Redis Cluster of 6, on
# 127.0.0.1-3, with its own state folder; the same commands with other settings.
CLUSTER := env $$(grep -v '^\#' infra/cluster.env | xargs) CHIRP_STATE_DIR=$(CURDIR)/.state/cluster

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install chirp with its pinned dependencies

# The web app's browser test (tests/integration/test_webapp.py) drives Debian's chromium through its chromedriver;
# installed with apt (as root) when missing, never downloaded by a test tool.
browser: ## Install Debian's chromium and chromium-driver for the browser test, when missing
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		echo "installing chromium and chromium-driver with apt"; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver; }

up: install ## Start Kafka, Cassandra, Redis and S3Proxy (idempotent; reuses healthy ones)
	$(CHIRP) up

down: install ## Stop the services chirp started
	$(CHIRP) down

status: install ## Show the health of each service
	$(CHIRP) status

migrate: up ## Create topics and apply CQL migrations (idempotent)
	$(CHIRP) migrate

run: migrate ## Everything: services, migrations, the stream worker and the API (Ctrl-C stops both)
	$(CHIRP) run

up-cluster: install ## The cluster topology's services: 3 Kafka, 3 Cassandra, 6 Redis Cluster nodes
	$(CLUSTER) $(CHIRP) up

down-cluster: install ## Stop the cluster topology's services
	$(CLUSTER) $(CHIRP) down

status-cluster: install ## Health of every node of the cluster topology
	$(CLUSTER) $(CHIRP) status

migrate-cluster: up-cluster ## Topics (replication 3) and the keyspace (replication 3) on the cluster
	$(CLUSTER) $(CHIRP) migrate

run-cluster: migrate-cluster ## The cluster topology with 2 stream workers and 2 API processes behind nginx
	$(CLUSTER) $(CHIRP) run --workers 2 --apis 2

# The integration suite on the cluster, but for the modules about one node itself (its Redis's internals, its
# services' launcher and faults) and those that start clusters of their own (run by make test).
ONE_NODE_ONLY := test_chaos test_bench test_fanout test_home_page test_launcher test_credentials \
	test_redis_cluster test_redis_cluster_timelines test_redis_failover

test-cluster: up-cluster ## The cluster suite: each node killed under load (tests/cluster), printed as a table
	$(CLUSTER) $(BIN)/pytest tests/cluster -s

test-cluster-suite: up-cluster ## The integration suite run on the cluster topology (not in CI: see docs/reliability.md)
	$(CLUSTER) $(BIN)/pytest -q tests/integration $(foreach m,$(ONE_NODE_ONLY),--ignore=tests/integration/$(m).py)

bench-cluster: migrate-cluster ## Scaling on the cluster: 1 vs 2 workers, 1 vs 2 API processes, replication 3 vs 1 (BENCH_ARGS)
	$(CLUSTER) $(BIN)/python -m bench.cluster $(BENCH_ARGS)

api: install ## The API alone (services must be up)
	$(CHIRP) api

worker: migrate ## The stream worker alone, in the foreground
	$(CHIRP) worker

demo: install ## Load a small social graph through the running API (after `make run`) and show a timeline
	$(CHIRP) demo

bench: migrate ## Benchmark on the default profile (BENCH_ARGS=--quick, --tiny or --large; --trials N); writes bench/results/
	$(BIN)/python -m bench $(BENCH_ARGS)

test: up browser ## Start the services, then run the whole test suite against them (the web app in chromium too)
	$(BIN)/pytest

chaos: migrate ## Faults under load (kill -9 of each service, OOM, poison), judged against the log
	$(CHIRP) chaos $(CHAOS_ARGS)

soak: migrate ## A long steady load watched for leaks (DURATION=30m, SOAK_ARGS=--rate 300)
	$(CHIRP) soak --duration $(or $(DURATION),30m) $(SOAK_ARGS)

fuzz: up ## Schemathesis against the API's schema, deeper than make test (FUZZ_EXAMPLES=1000)
	$(BIN)/pytest tests/integration/test_fuzz.py --fuzz-examples $(or $(FUZZ_EXAMPLES),1000)

test-unit: install ## Only the tests that need no service
	$(BIN)/pytest tests/unit

lint: install ## ruff, mypy (code and tests) and the import-linter layer contract
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: install ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: install ## Regenerate docs/events.md from the .avsc files and the topic registry
	$(BIN)/python -m schemas.docs

clean: ## Remove the virtual environment and caches (keeps service data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

reset: down ## Stop services and delete their data
	rm -rf .state
