# Parcours — two commands: `make run` (demo on http://127.0.0.1:8000) and `make test` (the whole suite).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run migrate seed test test-sqlite test-postgres lint diagrams clean

$(VENV)/.installed: requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv
	$(VENV)/bin/uv pip sync -q --python $(PY) requirements.lock
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	@echo "Parcours: http://$(HOST):$(PORT)/ (logins: conseillere, conseiller.b, facilitateur, employeur, employeur.b, auditeur, admin — password: demo)"
	@# The timer worker (reminders, expiries, follow-ups) runs next to the server and stops with it.
	$(PY) manage.py run_timers --loop --interval 30 & TIMERS=$$!; \
	trap 'kill $$TIMERS 2>/dev/null; wait $$TIMERS 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py workflow_diagrams --check

test-sqlite: install
	PARCOURS_VAR_DIR=$$(mktemp -d) $(PYTEST) -m "not postgres and not redis" -q

test-postgres: install
	scripts/with-redis.sh scripts/with-postgres.sh $(PYTEST) -q

test: lint test-sqlite test-postgres

diagrams: install
	$(PY) manage.py workflow_diagrams

clean:
	rm -rf $(VENV) var .pytest_cache
