# Parcours — two commands: `make run` (demo on http://127.0.0.1:8000) and `make test` (the whole suite).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
HOST ?= 127.0.0.1
PORT ?= 8000
# The end-to-end tests (tests/e2e) drive this Chromium headless; `make browsers` installs Debian's package.
CHROMIUM ?= /usr/bin/chromium
# DEBUG is off unless turned on: the demo and the developer commands turn it on (development secret key, journal key
# generated in var/, no HTTPS redirect). Production sets its environment instead (docs/security.md).
DEV := env DEBUG=1

.PHONY: install lock serve soak browsers run migrate seed test test-sqlite test-postgres lint diagrams clean bench bench-smoke

# Three locks from pyproject.toml (`make lock`): requirements.lock is what production installs (the server, no
# tools); requirements-demo.lock adds what the demo seed needs; requirements-dev.lock adds the test and lint tools.
$(VENV)/.installed: requirements-dev.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv
	$(VENV)/bin/uv pip sync -q --python $(PY) requirements-dev.lock
	touch $@

install: $(VENV)/.installed

LOCK := $(VENV)/bin/uv pip compile -q pyproject.toml --python-version 3.11 --generate-hashes
lock: install
	$(LOCK) -o requirements.lock
	$(LOCK) --extra demo -o requirements-demo.lock
	$(LOCK) --extra demo --extra test -o requirements-dev.lock

browsers:
	@test -x $(CHROMIUM) || { \
	  echo "Chromium not found ($(CHROMIUM)): installing Debian's chromium"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	}

migrate: install
	$(DEV) $(PY) manage.py migrate --noinput
	$(DEV) $(PY) manage.py createcachetable

seed: migrate
	$(DEV) $(PY) manage.py seed_demo

run: seed
	@echo "Parcours: http://$(HOST):$(PORT)/ (logins: conseillere, conseiller.b, facilitateur, employeur, employeur.b, auditeur, admin — password: demo)"
	@echo "  also auditeur.b: the auditor of a second buyer (Lyon Métropole Habitat), its own contract only"
	@echo "  and dpo: the data-protection officer of Mission Locale A, who consulted which file (access log)"
	@# The timer worker (reminders, expiries, follow-ups) runs next to the server and stops with it.
	$(DEV) $(PY) manage.py run_timers --loop --interval 30 & TIMERS=$$!; \
	trap 'kill $$TIMERS 2>/dev/null; wait $$TIMERS 2>/dev/null' EXIT INT TERM; \
	$(DEV) $(PY) manage.py runserver $(HOST):$(PORT)

# Production-like, on one machine: throwaway PostgreSQL and Redis, migrations, demo seed, WORKERS ASGI workers behind
# Debian's nginx on http://$(HOST):$(PORT) (websockets proxied), the timer worker, DEBUG=0 (scripts/serve.sh,
# deploy/). Ctrl-C stops everything.
WORKERS ?= 2
serve: install
	SERVE_HOST=$(HOST) SERVE_PORT=$(PORT) WORKERS=$(WORKERS) PARCOURS_VENV=$(abspath $(VENV)) scripts/with-redis.sh scripts/with-postgres.sh scripts/serve.sh

# Endurance (scripts/soak.py): the `make serve` stack (two workers), SOAK_CLIENTS clients firing transitions on the same
# objects for SOAK_SECONDS, one worker and the timer worker killed -9 halfway; prints the figures, fails on anything lost,
# doubled, 5xx or fired twice. Loopback only; everything stops at the end.
SOAK_SECONDS ?= 60
SOAK_CLIENTS ?= 32
soak: install
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_CLIENTS=$(SOAK_CLIENTS) SERVE_HOST=127.0.0.1 WORKERS=2 \
		SERVE_PORT=$$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') \
		PARCOURS_VENV=$(abspath $(VENV)) SERVE_ACCESS_LOG=/dev/null LOG_LEVEL=WARNING PARCOURS_TIMER_INTERVAL=1 \
		EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend API_RATE_USER=1000000/hour API_RATE_TOKEN=1000/minute \
		scripts/with-redis.sh scripts/with-postgres.sh scripts/serve.sh $(PY) scripts/soak.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(DEV) $(PY) manage.py makemigrations --check --dry-run
	$(DEV) $(PY) manage.py workflow_diagrams --check

# Two workers (one per core), whole modules per worker (module-scoped worlds and demos are built once);
# the browser tests run after, in one process, against their own live server.
XDIST := -n 2 --dist loadscope

test-sqlite: install browsers
	PARCOURS_VAR_DIR=$$(mktemp -d) $(PYTEST) $(XDIST) -m "not postgres and not redis and not e2e" -q
	PARCOURS_VAR_DIR=$$(mktemp -d) PARCOURS_CHROMIUM=$(CHROMIUM) $(PYTEST) -m e2e -q

# The end-to-end tests run once, in the SQLite pass (they test the pages, not the database).
test-postgres: install
	scripts/with-redis.sh scripts/with-postgres.sh $(PYTEST) $(XDIST) -m "not e2e" -q

# Benchmarks (bench/run.py): a throwaway PostgreSQL with durable settings and a throwaway Redis, DEBUG off.
BENCH_ENV := env DEBUG=0 SECURE_SSL_REDIRECT=0 SECRET_KEY=benchmark-only-secret-key-not-for-production-0123456789 \
	PARCOURS_JOURNAL_KEYS=bench:benchmark-only-journal-key-0123456789-abcdefghij LOG_LEVEL=ERROR
BENCH_SIZES ?= 10000,100000,1000000

bench: install
	PG_DURABLE=1 scripts/with-redis.sh scripts/with-postgres.sh $(BENCH_ENV) PARCOURS_VAR_DIR=$$(mktemp -d) \
		$(PY) bench/run.py --sizes $(BENCH_SIZES)

# The same harness at tiny sizes (under two minutes): run by `make test` so that it never rots; it checks that the
# figures are produced, not their values, and writes them outside the repository.
bench-smoke: install
	OUT=$$(mktemp -d) && PG_DURABLE=1 scripts/with-redis.sh scripts/with-postgres.sh $(BENCH_ENV) \
		PARCOURS_VAR_DIR=$$OUT $(PY) bench/run.py --smoke --out $$OUT/results.json --md $$OUT/RESULTS.md && \
		$(PY) bench/check.py $$OUT/results.json

test: lint test-sqlite test-postgres bench-smoke

diagrams: install
	$(DEV) $(PY) manage.py workflow_diagrams

clean:
	rm -rf $(VENV) var .pytest_cache
