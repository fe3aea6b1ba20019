# Remediation Engine: one image, UI + API + webhook on one port (8080).
# Docker does not run on the machines this is developed on: the commands below are the same ones
# `make run` uses, and are exercised there by every `make run` and `make test`.
FROM python:3.12-slim AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REFLEX_USE_SYSTEM_BUN=1 \
    REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_USE_GRANIAN=1 \
    NPM_CONFIG_REGISTRY=https://registry.npmjs.org \
    PORT=8080 \
    DATA_DIR=/app/data \
    DATABASE_URL=sqlite:////app/data/remediation.db

RUN apt-get update \
 && apt-get install -y --no-install-recommends npm curl \
 && rm -rf /var/lib/apt/lists/* \
 && npm install -g bun@1.4.4

WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN useradd --create-home --uid 10001 app && mkdir -p /app/data && chown -R app /app
USER app

EXPOSE 8080
VOLUME ["/app/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
# Migrations first, then the single-port production server (exec: signals reach it).
CMD ["sh", "-c", "python -m remediation_app db upgrade && exec reflex run --env prod --loglevel warning"]
