# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONSOLE_PORT ?= 8000
SANDBOX_PORT ?= 8001
# Where `make run`'s sandbox keeps the highest incident and update ids it issued.
SANDBOX_STATE ?= phare-sandbox-state.json
# The PostgreSQL + Redis leg of `make test`; it skips (saying why) when no server answers there,
# and fails instead when REQUIRE_POSTGRES / REQUIRE_REDIS are set (as .ci/run does).
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/phare_console
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-sqlite test-postgres lint format sandbox screenshots clean bench bench-load bench-audit bench-create-cost bench-incidents bench-watchers bench-declare bench-page-weight bench-create-overhead

$(VENV)/.installed-runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Starts the console on http://127.0.0.1:$(CONSOLE_PORT). Without a PHARE_API_URL (in the
# environment or .env) it also starts the local Phare sandbox and wires a demo project to it;
# the sandbox keeps the ids it issued in $(SANDBOX_STATE), so its numbering (DEMO-1, DEMO-2…)
# goes on after a restart. The terminal ends with one block (address, demo login, where
# incidents go), printed once the console listens; runserver's own banner is left out.
run: $(VENV)/.installed-runtime
	@set -euo pipefail; \
	export DEBUG="$${DEBUG:-true}"; \
	trap 'exit 0' INT; \
	demo_args=(--console-url "http://127.0.0.1:$(CONSOLE_PORT)"); \
	if [ -z "$${PHARE_API_URL:-}" ] && ! grep -qs '^PHARE_API_URL=' .env; then \
		export PHARE_API_URL="http://127.0.0.1:$(SANDBOX_PORT)"; \
		export PHARE_SANDBOX_TOKEN="$${PHARE_SANDBOX_TOKEN:-sandbox-$$(date +%s)}"; \
		$(PY) -m phare_sandbox --port $(SANDBOX_PORT) --state-file "$(SANDBOX_STATE)" & sandbox_pid=$$!; \
		trap 'kill $$sandbox_pid 2>/dev/null || true' EXIT; \
		demo_args+=(--sandbox-token-env PHARE_SANDBOX_TOKEN); \
	fi; \
	$(PY) manage.py migrate --noinput --verbosity 0; \
	block="$$($(PY) manage.py setup_demo "$${demo_args[@]}")"; \
	PYTHONUNBUFFERED=1 $(PY) manage.py runserver --noreload --skip-checks 127.0.0.1:$(CONSOLE_PORT) \
		| { trap '' INT; while IFS= read -r line; do \
			if [[ "$$line" == "Starting development server"* ]]; then printf '%s\n' "$$block"; fi; \
		done; }

sandbox: $(VENV)/.installed-runtime
	$(PY) -m phare_sandbox --port $(SANDBOX_PORT)

# The whole suite, once on SQLite (embedded, no Redis) and once on PostgreSQL with Redis.
test: $(VENV)/.installed-dev
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: $(VENV)/.installed-dev
	DATABASE_URL=sqlite:///db-test.sqlite3 REDIS_URL= REQUIRE_REDIS= $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed-dev
	@set -eu; \
	if ! $(PY) tests/service_available.py postgres "$(TEST_POSTGRES_URL)"; then \
		if [ -n "$${REQUIRE_POSTGRES:-}" ]; then echo "FAIL: PostgreSQL leg required but no server at $(TEST_POSTGRES_URL)"; exit 1; fi; \
		echo "SKIPPED: PostgreSQL leg, no server answers at $(TEST_POSTGRES_URL)"; exit 0; \
	fi; \
	redis_url="$(TEST_REDIS_URL)"; \
	if ! $(PY) tests/service_available.py redis "$$redis_url"; then \
		if [ -n "$${REQUIRE_REDIS:-}" ]; then echo "FAIL: Redis leg required but no server at $$redis_url"; exit 1; fi; \
		echo "Redis not available at $$redis_url: the PostgreSQL leg runs without it"; redis_url=""; \
	fi; \
	DATABASE_URL="$(TEST_POSTGRES_URL)" REDIS_URL="$$redis_url" $(PY) -m pytest $(PYTEST_ARGS)

# The README's screenshots (docs/screenshots/): the browser tests' live console and sandbox,
# on a desktop (1280x800) and a phone (390x844).
screenshots: $(VENV)/.installed-dev
	SCREENSHOTS=1 REQUIRE_BROWSER=1 DATABASE_URL=sqlite:///db-test.sqlite3 REDIS_URL= REQUIRE_REDIS= \
		$(PY) -m pytest -q tests/browser/test_screenshots.py

# Style (ruff) and types (mypy with django-stubs, over incidents/; see pyproject.toml).
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) db-test.sqlite3 staticfiles

# Picker benchmark: 10,000 monitors; writes its table into BENCHMARKS.md.
bench: $(VENV)/.installed-dev
	$(PY) bench/picker.py

# Create path under load: gunicorn (4 workers), PostgreSQL, Redis, sandbox with 50 ms latency,
# 50 users for 60 s; writes its table into BENCHMARKS.md.
bench-load: $(VENV)/.installed-dev
	$(PY) bench/load.py

# The console's own time per create, step by step, in one process, SQLite and PostgreSQL + Redis
# (what bench-create-overhead's difference is made of), with its SQL statements.
bench-create-cost: $(VENV)/.installed-dev
	$(PY) bench/create_cost.py

# One person creating through the console beside the same call straight to the sandbox (50 ms),
# under gunicorn, on SQLite and on PostgreSQL + Redis: what the console adds, goal 5 ms.
bench-create-overhead: $(VENV)/.installed-dev
	$(PY) bench/create_overhead.py

# Audit log with 1,000,000 entries on SQLite and PostgreSQL: pages beside Django's admin
# changelist, filters, export, verify (BENCH_AUDIT_ARGS="--reuse --quick": seeded once, pages only).
bench-audit: $(VENV)/.installed-dev
	$(PY) bench/audit.py $(BENCH_AUDIT_ARGS)

# The incident list and one incident's page with 2,000 incidents in the copy, SQLite and
# PostgreSQL.
bench-incidents: $(VENV)/.installed-dev
	$(PY) bench/incident_list.py

# 50 people with one incident's page open for 60 s, two posting updates: calls to Phare and
# latencies (gunicorn, PostgreSQL, Redis, the sandbox with Phare's rate limit).
bench-watchers: $(VENV)/.installed-dev
	$(PY) bench/watchers.py

# A scripted person in Chromium declares an incident five ways (mouse, keyboard, template,
# prefill link): actions counted, seconds timed.
bench-declare: $(VENV)/.installed-dev
	$(PY) bench/declare.py

# The project page's first load in Chromium (36 and 10,000 monitors): bytes per file, goal 40 KB.
bench-page-weight: $(VENV)/.installed-dev
	$(PY) bench/page_weight.py
