# make run: start the app (production mode, embedded SQLite). make test: the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
BUN_VERSION := 1.4.4
BUN := $(TOOLS)/node_modules/.bin/bun
STAMP := $(VENV)/.requirements.stamp
TEST_DEBS := chromium openssh-server prometheus prometheus-alertmanager

# Reflex: use our bun, never download anything, no telemetry, granian as the server.
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_CHECK_LATEST_VERSION := 0
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_USE_GRANIAN := 1
export NPM_CONFIG_REGISTRY := https://registry.npmjs.org
export PATH := $(CURDIR)/$(TOOLS)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)

.PHONY: install run migrate test test-deps lint format bench clean

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "python3 -m venv failed: on Debian/Ubuntu install python3-venv"; exit 1; }
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(BUN):
	@command -v npm >/dev/null || { echo "npm is needed to install bun (Debian: apt-get install npm)"; exit 1; }
	npm install --prefix $(TOOLS) --no-save --no-audit --no-fund --loglevel=error bun@$(BUN_VERSION)

install: $(STAMP) $(BUN)

migrate: install
	$(BIN)/python -m remediation_app db upgrade

# `reflex run --env prod --loglevel warning`, with failed granian workers respawned (remediation_app/serve.py).
run: migrate
	exec $(BIN)/python -m remediation_app serve

# Debian packages the tests drive for real; installed when apt is usable and something is missing.
test-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	test -x /usr/sbin/sshd || missing="$$missing openssh-server"; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null || missing="$$missing prometheus-alertmanager"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "not installed:$$missing (their tests fail under CI=true, skip otherwise)"; fi; \
	fi

test: install test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf .web .states $(TOOLS) $(VENV)
