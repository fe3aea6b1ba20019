"""`python -m remediation_app check-config`: what is configured, and what would stop the engine.

Nothing is created or changed (no key file is generated, no SQLite file is made); no secret is
printed (URLs are shown with their password masked, settings errors without the value).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from pydantic import ValidationError

from remediation_app import crypto
from remediation_app.services import migrations
from remediation_app.settings import Settings, get_settings

OK, INFO, WARNING, ERROR = "ok", "info", "warning", "error"
UPGRADE = "python -m remediation_app db upgrade"


@dataclass(frozen=True)
class Finding:
    level: str
    topic: str
    detail: str


def masked(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(not a valid URL)"


def _first_line(exc: BaseException) -> str:
    reason = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    text = str(reason).strip()
    return text.splitlines()[0] if text else type(reason).__name__


@contextlib.contextmanager
def _engine(url: str) -> Iterator[sa.engine.Engine]:
    kwargs = {"connect_args": {"timeout": 5}} if url.startswith("sqlite") else {"connect_args": {"connect_timeout": 5}}
    engine = sa.create_engine(url, **kwargs)
    try:
        yield engine
    finally:
        engine.dispose()


def _database(settings: Settings) -> tuple[list[Finding], bool]:
    """Findings about the database, and whether it is reachable and at head."""
    url = settings.database_url
    shown = masked(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:" and not Path(path).exists():
            return [Finding(ERROR, "database", f"{shown}: no such file; create it with `{UPGRADE}`")], False
    head = migrations.head_revision()
    try:
        with _engine(url) as engine, engine.connect() as conn:
            current = migrations.current_revision(conn)
    except sa.exc.SQLAlchemyError as exc:
        return [Finding(ERROR, "database", f"{shown}: unreachable: {_first_line(exc)}")], False
    if current != head:
        state = "not migrated" if current is None else f"at revision {current}, head is {head}"
        return [Finding(ERROR, "database", f"{shown}: {state}; run `{UPGRADE}`")], False
    return [Finding(OK, "database", f"{shown}: reachable, at head revision {head}")], True


def _admins(url: str) -> Finding:
    with _engine(url) as engine, engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM users WHERE role = 'admin' AND is_active = :yes"), {"yes": True}
        ).scalar_one()
        users = conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one()
    if count:
        return Finding(OK, "admins", f"{count} active admin{'s' if count != 1 else ''}")
    if not users:
        return Finding(INFO, "admins", "no users yet: the first admin is created at the first start (ADMIN_USERNAME)")
    return Finding(WARNING, "admins", "no active admin: python -m remediation_app create-user NAME --role admin")


def _stored_secrets(url: str) -> tuple[set[str], list[tuple[str, str]]]:
    """Names of the stored app secrets, and (record, ciphertext) of every encrypted column."""
    import remediation_app.models  # noqa: F401  (the tables register their encrypted columns)

    records: list[tuple[str, str]] = []
    with _engine(url) as engine, engine.connect() as conn:
        names = {str(n) for n in conn.execute(sa.text("SELECT name FROM app_secrets")).scalars()}
        for entry in crypto.ENCRYPTED_COLUMNS:
            pk, column = entry.table.c[entry.pk], entry.table.c[entry.column]
            for ident, token in conn.execute(sa.select(pk, column).where(column.is_not(None))):
                records.append((crypto.record_name(entry.table.name, ident, entry.label), str(token)))
    return names, records


def _webhook(settings: Settings, stored: set[str] | None) -> Finding:
    if settings.webhook_token is not None:
        return Finding(OK, "webhook", "bearer token set (WEBHOOK_TOKEN)")
    if settings.webhook_username is not None and settings.webhook_password is not None:
        return Finding(OK, "webhook", "basic auth set (WEBHOOK_USERNAME, WEBHOOK_PASSWORD)")
    if stored and "webhook_token" in stored:
        return Finding(OK, "webhook", "bearer token stored by an admin on the Settings page")
    if settings.webhook_allow_unauthenticated:
        return Finding(WARNING, "webhook", "WEBHOOK_ALLOW_UNAUTHENTICATED=true: anyone who reaches it can post alerts")
    half = " (WEBHOOK_USERNAME without WEBHOOK_PASSWORD, or the reverse)" if settings.webhook_username else ""
    return Finding(ERROR, "webhook", f"no credential{half}: the webhook refuses every request; set WEBHOOK_TOKEN")


def _key_source(value: object, path: Path, name: str) -> tuple[Finding | None, bool]:
    """(a finding if there is nothing to check, whether a key exists to check)."""
    if value is not None:
        return None, True
    if path.exists():
        return None, True
    return Finding(INFO, name, f"not set: generated into {path} at the first start"), False


def _encryption(settings: Settings, records: list[tuple[str, str]]) -> list[Finding]:
    skipped, present = _key_source(settings.encryption_key, settings.data_dir / "encryption_key", "encryption key")
    if not present:
        return [skipped] if skipped else []
    crypto.clear_cache()
    try:
        crypto.cipher()
        for record, token in records:
            crypto.decrypt(token, record=record)
    except (crypto.CryptoConfigError, crypto.DecryptionError, RuntimeError) as exc:
        return [Finding(ERROR, "encryption key", str(exc))]
    source = "ENCRYPTION_KEY" if settings.encryption_key is not None else str(settings.data_dir / "encryption_key")
    return [Finding(OK, "encryption key", f"{source} decodes; {len(records)} stored secret(s) open with it")]


def _secret_key(settings: Settings) -> Finding:
    skipped, _present = _key_source(settings.secret_key, settings.data_dir / "secret_key", "secret key")
    if skipped:
        return skipped
    if settings.secret_key is not None and len(settings.secret_key.get_secret_value()) < 32:
        return Finding(WARNING, "secret key", "SECRET_KEY is shorter than 32 characters")
    return Finding(OK, "secret key", "set" if settings.secret_key is not None else "generated file present")


def _llm(settings: Settings) -> Finding:
    model = getattr(settings, "llm_model", None)
    if model:
        return Finding(INFO, "LLM", f"LLM_MODEL={model}")
    return Finding(INFO, "LLM", "LLM_MODEL not set (analysis needs a provider)")


def _redis(settings: Settings) -> Finding | None:
    if not settings.redis_url:
        return None
    import redis

    shown = masked(settings.redis_url)
    try:
        with redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3) as client:
            client.ping()
    except (redis.RedisError, ValueError) as exc:
        return Finding(ERROR, "redis", f"{shown}: unreachable: {str(exc).splitlines()[0] if str(exc) else exc}")
    return Finding(OK, "redis", f"{shown}: reachable")


def check_config() -> list[Finding]:
    get_settings.cache_clear()
    try:
        settings = get_settings()
    except ValidationError as exc:  # name the variable and the rule, never the value
        return [
            Finding(ERROR, "settings", f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}")
            for err in exc.errors()
        ]
    findings = [Finding(OK, "settings", "loaded from the environment")]
    database, ready = _database(settings)
    findings += database
    stored: set[str] | None = None
    records: list[tuple[str, str]] = []
    if ready:
        try:
            findings.append(_admins(settings.database_url))
            stored, records = _stored_secrets(settings.database_url)
        except sa.exc.SQLAlchemyError as exc:
            findings.append(Finding(ERROR, "database", f"reading users and secrets failed: {_first_line(exc)}"))
    findings.append(_webhook(settings, stored))
    findings += _encryption(settings, records)
    findings.append(_secret_key(settings))
    findings.append(_llm(settings))
    redis_finding = _redis(settings)
    if redis_finding is not None:
        findings.append(redis_finding)
    return findings


def report(findings: list[Finding]) -> int:
    width = max((len(f.topic) for f in findings), default=0)
    for finding in findings:
        print(f"{finding.level.upper():<8} {finding.topic:<{width}}  {finding.detail}")
    errors = sum(f.level == ERROR for f in findings)
    warnings = sum(f.level == WARNING for f in findings)
    print(f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}")
    return 1 if errors else 0


def check_config_command(_args: object) -> int:
    """`python -m remediation_app check-config`."""
    return report(check_config())
