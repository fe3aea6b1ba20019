# syntax=docker/dockerfile:1
# Remediation Engine: one image, UI + API + webhook on one port (8080). `make image` builds it.
#
# Docker does not run on the machines this is developed on, so this image has never been built
# there. What is checked instead (tests/integration/test_deployment.py): the commands below are the
# Makefile's (bun from npm, the pinned runtime packages, `python -m remediation_app build-frontend`,
# `python -m remediation_app db upgrade`, then `python -m remediation_app serve`), and the
# entrypoint script really starts the app outside Docker as the runtime stage has it: a frontend
# built beforehand, no bun, no Node.js, and no network at all (tests/integration/test_offline_start.py).
#
# The runtime stage carries the built frontend and no frontend toolchain: a start serves that
# build (remediation_app/frontend_build.py) and needs no registry, so `docker run --network none`
# works. What the build bakes in is fixed here: the backend URL the browser connects to, from PORT
# (8080) or REFLEX_API_URL (`--build-arg`). Over plain http the browser keeps that port, so publish
# 8080 as 8080, or put a TLS proxy in front (https on 443 needs nothing), or build with
# REFLEX_API_URL. A container started with other values refuses to start and says why (it has no
# bun to rebuild with).
#
# Restarts: the app is one process (one worker; several with Redis, GRANIAN_WORKERS); if it exits
# the container stops, so run it with a restart policy (`docker run --restart unless-stopped`;
# docker-compose.yml sets it: an image cannot). The HEALTHCHECK asks /healthz.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: the runtime packages, bun, and the frontend built once -----------------------------------
FROM ${PYTHON_IMAGE} AS builder

# Same as the Makefile's BUN_VERSION.
ARG BUN_VERSION=1.4.4
# Baked into the frontend when the browser reaches the app elsewhere than http(s)://<host>:8080 or
# https on 443 (docs/deployment.md, reverse proxy); both stages get the same value.
ARG REFLEX_API_URL=
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    REFLEX_USE_SYSTEM_BUN=1 \
    REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_USE_GRANIAN=1 \
    NPM_CONFIG_REGISTRY=https://registry.npmjs.org \
    REFLEX_API_URL=${REFLEX_API_URL} \
    PORT=8080 \
    PATH=/app/.tools/node_modules/.bin:/opt/venv/bin:$PATH

# Debian's Node.js 18 and npm only install bun (as `make install` does); bun builds the frontend.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN npm install --prefix .tools --no-save --no-audit --no-fund --loglevel=error bun@${BUN_VERSION}

# Runtime packages only (requirements-dev.txt never enters the image); the pins are complete. The
# base image's pip installs them into a venv without a pip of its own (the runtime never installs).
COPY requirements.txt ./
RUN python -m venv --without-pip /opt/venv \
 && pip --python /opt/venv/bin/python install --no-deps -r requirements.txt \
 && pip --python /opt/venv/bin/python check

COPY . .
# The frontend, built once here (its packages pinned by reflex.lock/); a build that fails fails the
# image. Then what only the build needed goes: its node_modules and bun. The app's bytecode is
# compiled now, once, instead of at every start (PYTHONDONTWRITEBYTECODE).
RUN python -m remediation_app build-frontend \
 && rm -rf .web/node_modules .tools \
 && python -m compileall -q remediation_app

# --- runtime: Python, the venv, the app with its built frontend; no bun, no Node.js, no compilers ------
FROM ${PYTHON_IMAGE} AS runtime

ARG REFLEX_API_URL=
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REFLEX_USE_SYSTEM_BUN=1 \
    REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_USE_GRANIAN=1 \
    NPM_CONFIG_REGISTRY=https://registry.npmjs.org \
    REFLEX_API_URL=${REFLEX_API_URL} \
    PATH=/opt/venv/bin:$PATH \
    HOME=/home/app \
    PORT=8080 \
    DATA_DIR=/app/data \
    DATABASE_URL=sqlite:////app/data/remediation.db \
    LOG_FORMAT=json

# tini as PID 1: reaps zombies and passes SIGTERM on to the server.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --home-dir /home/app --uid 10001 --user-group app

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder --chown=app:app /app /app
WORKDIR /app
# The data directory belongs to the app user before it becomes a volume (a new named volume copies it).
RUN mkdir -p /app/data && chown app:app /app/data
USER app

EXPOSE 8080
VOLUME ["/app/data"]
# A start takes seconds (the frontend is built); the start period covers a first migration on a
# slow database. docker-compose.yml repeats this check exactly.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"]
# Migrations, then the same server command as `make run`, exec'd so that it receives the signals.
ENTRYPOINT ["tini", "--", "sh", "/app/remediation_app/deploy/docker-entrypoint.sh"]
