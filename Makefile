# Cartostup: `make run` installs everything and serves the demo; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export CARTOSTUP_DATA_DIR ?= $(CURDIR)/var
export PIP_DISABLE_PIP_VERSION_CHECK := 1
MANAGE := $(BIN)/python manage.py
# Départements loaded for the demo and the tests (the whole country: TERRITORIES=all).
TERRITORIES ?= all
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/cartostup
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run serve setup install install-dev browser test test-sqlite test-postgres lint audit format bench soak clean code messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## Database, reference territories and demo data (idempotent).
setup: install messages
	$(MANAGE) migrate --noinput
	$(MANAGE) load_territories --departements $(TERRITORIES)
	$(MANAGE) seed_demo

## Translations: compile cartostup/locale/*/LC_MESSAGES/django.po into .mo (pure Python, no
## system gettext; the .mo files are committed and a test checks they match their .po).
messages: install
	$(MANAGE) compile_translations

## Install, load and serve on 127.0.0.1:$(PORT).
run: setup serve

## Serve an installed project without reinstalling; beside it, the matching of accepted
## reports runs every minute (in production a scheduler runs `match_reports`: docs/deployment.md).
serve:
	@$(MANAGE) demo_accounts
	@$(MANAGE) match_reports --every 60 --verbosity 0 & matcher=$$!; \
	trap 'kill $$matcher 2>/dev/null' EXIT INT TERM; \
	$(MANAGE) runserver 127.0.0.1:$(PORT) --noreload

## Print the current second-factor code of a demo account: make code USER=cross13_analyst
code:
	@$(MANAGE) demo_accounts --code $(USER)

## Debian's Chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

## Does a PostgreSQL server answer at TEST_DATABASE_URL?
POSTGRES_UP = $(BIN)/python -c "import psycopg; psycopg.connect('$(TEST_DATABASE_URL)'.rsplit('/',1)[0]+'/postgres', connect_timeout=3).close()" 2>/dev/null

## Every test against SQLite, then against PostgreSQL. When PostgreSQL answers, the browser
## tests run there in full (production's database) and only those marked `smoke` against
## SQLite (`make run`'s): docs/decisions.md, « The suite's time ».
test: install-dev browser
	@if $(POSTGRES_UP); then \
		$(MAKE) --no-print-directory test-sqlite BROWSER_TESTS=smoke; \
	else \
		$(MAKE) --no-print-directory test-sqlite; \
	fi
	@$(MAKE) --no-print-directory test-postgres

## Every test against SQLite (BROWSER_TESTS=smoke: only the browser tests marked `smoke`).
test-sqlite:
	CARTOSTUP_BROWSER_TESTS=$(BROWSER_TESTS) $(BIN)/pytest -p no:cacheprovider -n 2 --dist loadgroup $(PYTEST_ARGS)

## PostgreSQL at TEST_DATABASE_URL; skipped with a message when no server answers, unless
## CARTOSTUP_REQUIRE_POSTGRES=1 (CI sets it).
test-postgres:
	@if $(POSTGRES_UP); then \
		DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -p no:cacheprovider -n 2 --dist loadgroup $(PYTEST_ARGS); \
	elif [ "$$CARTOSTUP_REQUIRE_POSTGRES" = 1 ]; then \
		echo "PostgreSQL ne répond pas sur $(TEST_DATABASE_URL)"; exit 1; \
	else \
		echo "PostgreSQL absent : tests PostgreSQL ignorés (CARTOSTUP_REQUIRE_POSTGRES=1 pour les exiger)"; \
	fi

## ruff, formatting, mypy, migrations, and pip-audit: known vulnerabilities of the installed
## packages fail it; a package it cannot look up is listed as not audited (`make audit` fails then).
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy cartostup config bench tests
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pip-audit --skip-editable --progress-spinner off

## The dependency audit that refuses to pass when it could not check every package.
audit: install-dev
	$(BIN)/pip-audit --skip-editable --strict --progress-spinner off

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Every benchmark, one table, bench/results/<date>.json (`make bench ONLY=map,soak`, `QUICK=1`).
## The soak test restarts the local PostgreSQL once.
bench: install-dev
	$(BIN)/python -m bench.run $(if $(ONLY),--only $(ONLY)) $(if $(QUICK),--quick)

## The soak and fault test alone (2 minutes; restarts the local PostgreSQL once).
soak: install-dev
	$(BIN)/python -m bench.soak --duration 120 --clients 8

clean:
	rm -rf $(VENV) var
