# make run: start the app (production mode, embedded SQLite). make test: the whole suite.
# make image: the container image (docker or podman).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
BUN_VERSION := 1.4.4
# Node.js only runs npm, once, to install bun (the frontend is built by bun; nothing runs Node.js
# at run time). npm 9 and the bun package's install script work from Node.js 18 (Debian 12).
NODE_MIN_MAJOR := 18
BUN := $(TOOLS)/node_modules/.bin/bun
STAMP := $(VENV)/.requirements.stamp
DEV_STAMP := $(VENV)/.requirements-dev.stamp
PIP := $(BIN)/pip --disable-pip-version-check
IMAGE ?= remediation-engine:local
ENGINE ?= $(shell command -v docker 2>/dev/null || command -v podman 2>/dev/null)

# Reflex: use our bun, never download anything, no telemetry, granian as the server.
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_CHECK_LATEST_VERSION := 0
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_USE_GRANIAN := 1
export NPM_CONFIG_REGISTRY := https://registry.npmjs.org
export PATH := $(CURDIR)/$(TOOLS)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)

.PHONY: install install-dev frontend run migrate test test-deps lint format bench image clean

# The pins are complete (every package the app imports, and what those pull in), so pip installs
# them as listed (--no-deps: no resolver, no backtracking) and `pip check` proves the set whole.
$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "python3 -m venv failed: on Debian/Ubuntu install python3-venv"; exit 1; }
	@echo "==> Installing the app's Python packages into $(VENV) (the first time: a minute or two)"
	$(PIP) install --no-deps -r requirements.txt
	$(PIP) check
	@touch $@

$(DEV_STAMP): requirements-dev.txt $(STAMP)
	@echo "==> Installing the test and lint tools into $(VENV)"
	$(PIP) install --no-deps -r requirements-dev.txt
	$(PIP) check
	@touch $@

$(BUN):
	@command -v node >/dev/null && command -v npm >/dev/null || \
	  { echo "Node.js $(NODE_MIN_MAJOR)+ and npm are needed once, to install bun (Debian/Ubuntu: apt-get install nodejs npm)"; exit 1; }
	@node -e 'process.exit(+process.versions.node.split(".")[0] < $(NODE_MIN_MAJOR) ? 1 : 0)' || \
	  { echo "Node.js $(NODE_MIN_MAJOR) or newer is needed to install bun (found $$(node --version))"; exit 1; }
	@echo "==> Installing bun $(BUN_VERSION) from npm into $(TOOLS)/"
	npm install --prefix $(TOOLS) --no-save --no-audit --no-fund --loglevel=error bun@$(BUN_VERSION)

install: $(STAMP) $(BUN)

install-dev: install $(DEV_STAMP)

migrate: install
	$(BIN)/python -m remediation_app db upgrade

# Builds the frontend only when its sources, pins or baked settings changed (remediation_app/frontend_build.py).
frontend: install
	$(BIN)/python -m remediation_app build-frontend

# The frontend is built first when needed; then one process serves UI, API and webhook on PORT.
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

# The whole suite runs as two pytest processes side by side: the browser tests (tests/e2e: mostly
# waiting on chromium and the app's own processes) and the rest (mostly this process' CPU). Each
# test makes its own databases, ports and Redis database, so the two never meet. The browser tests'
# output follows the rest's. With PYTEST_ARGS: one process, as given.
test: install-dev test-deps
ifeq ($(strip $(PYTEST_ARGS)),)
	@log=$$(mktemp); \
	$(BIN)/python -m pytest -p no:cacheprovider tests/e2e > "$$log" 2>&1 & e2e=$$!; \
	$(BIN)/python -m pytest --ignore=tests/e2e; rest=$$?; \
	wait $$e2e; browser=$$?; \
	echo "==> browser tests (tests/e2e)"; cat "$$log"; rm -f "$$log"; \
	echo "==> exit status: $$rest (tests without the browser), $$browser (browser tests)"; \
	test $$rest = 0 && test $$browser = 0
else
	$(BIN)/python -m pytest $(PYTEST_ARGS)
endif

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# The image of the Dockerfile (runtime packages, the built frontend, no bun, no Node.js).
image:
	@test -n "$(ENGINE)" || { echo "make image needs docker or podman"; exit 1; }
	$(ENGINE) build --tag $(IMAGE) .
	@$(ENGINE) image inspect --format '$(IMAGE): {{.Size}} bytes' $(IMAGE)

clean:
	rm -rf .web .states $(TOOLS) $(VENV)
