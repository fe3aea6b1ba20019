# syntax=docker/dockerfile:1
# Remediation Engine: one image, UI + API + webhook on one port (8080).
#
# Docker does not run on the machines this is developed on, so this image has never been built
# there. What is checked instead (tests/integration/test_deployment.py): the commands below are the
# Makefile's (`make run`: bun from npm, `python -m remediation_app db upgrade`, then
# `python -m remediation_app serve`, i.e. `reflex run --env prod --loglevel warning` with failed
# workers respawned), the entrypoint script really starts the app outside Docker, without Node.js
# on PATH (as in the runtime stage), and stops cleanly on SIGTERM.
#
# Restarts: a worker that dies is respawned by the server itself; if the server exits (a worker
# crash loop, anything fatal) the container stops, so run it with a restart policy
# (`docker run --restart unless-stopped`; docker-compose.yml sets it: an image cannot). The
# HEALTHCHECK goes through a worker (/healthz), so a hung worker marks the container unhealthy.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: Python packages, bun, and the frontend's packages --------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# Same as the Makefile's BUN_VERSION.
ARG BUN_VERSION=1.4.4
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    REFLEX_USE_SYSTEM_BUN=1 \
    REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_USE_GRANIAN=1 \
    NPM_CONFIG_REGISTRY=https://registry.npmjs.org \
    PATH=/app/.tools/node_modules/.bin:/opt/venv/bin:$PATH

# npm only installs bun (as `make install` does); bun is the frontend's package manager and runtime.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN npm install --prefix .tools --no-save --no-audit --no-fund --loglevel=error bun@${BUN_VERSION}

COPY requirements.txt ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install -r requirements.txt

COPY . .
# Build the frontend once now: its packages (pinned by reflex.lock/) land in .web/node_modules, so a
# container start needs no registry, and a frontend that does not compile fails the image build.
# `reflex run --env prod` recompiles at each start (it is quick with the packages in place), which
# is what lets REFLEX_API_URL be set at run time.
RUN reflex export --frontend-only --no-zip --loglevel warning

# --- runtime: no compilers, no npm, a non-root user ------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REFLEX_USE_SYSTEM_BUN=1 \
    REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_USE_GRANIAN=1 \
    NPM_CONFIG_REGISTRY=https://registry.npmjs.org \
    PATH=/app/.tools/node_modules/.bin:/opt/venv/bin:$PATH \
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
# The start builds the frontend (start period); docker-compose.yml repeats this check exactly.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"]
# Migrations, then the same server command as `make run`, exec'd so that it receives the signals.
ENTRYPOINT ["tini", "--", "sh", "/app/remediation_app/deploy/docker-entrypoint.sh"]
