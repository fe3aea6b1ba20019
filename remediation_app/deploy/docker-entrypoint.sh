#!/bin/sh
# Container entrypoint (the Dockerfile runs it under tini). With arguments, it runs them instead, for
# admin commands: `docker compose run --rm app python -m remediation_app rotate-keys`.
# Without: the database migrations, then the same server command as `make run` (it serves the
# frontend built into the image: no network needed), exec'd so that the server itself receives
# SIGTERM (from tini) and stops cleanly.
set -eu

if [ "$#" -gt 0 ]; then
  exec "$@"
fi

python -m remediation_app db upgrade
exec python -m remediation_app serve
