"""Credentials: webhook authentication and password hashing (no reflex import)."""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass

from passlib.context import CryptContext

from remediation_app.settings import Settings

# argon2id at OWASP's minimum (m=19 MiB, t=2, p=1); older parameters are rehashed at login.
pwd_context = CryptContext(
    schemes=["argon2"],
    deprecated="auto",
    argon2__type="ID",
    argon2__memory_cost=19 * 1024,
    argon2__time_cost=2,
    argon2__parallelism=1,
)


def hash_password(password: str) -> str:
    hashed: str = pwd_context.hash(password)
    return hashed


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bool(pwd_context.verify(password, password_hash))
    except (ValueError, TypeError):
        return False


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class StoredToken:
    """A webhook token an admin stored in the database (services/app_secrets.py).

    `value` is None when it cannot be decrypted (ENCRYPTION_KEY lost its key): the webhook still
    counts as configured (it fails closed), and nothing matches it.
    """

    value: str | None


def webhook_authorized(authorization: str | None, settings: Settings, stored: StoredToken | None = None) -> bool:
    """Bearer token (WEBHOOK_TOKEN or the stored one) or basic auth, compared in constant time;
    open only if explicitly allowed and no credential is configured at all."""
    if not settings.webhook_auth_configured and stored is None:
        return settings.webhook_allow_unauthenticated
    if not authorization:
        return False
    scheme, _, credentials = authorization.partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if scheme == "bearer":
        # Both comparisons always run: the time taken does not tell which token was tried.
        env_ok = settings.webhook_token is not None and _same(credentials, settings.webhook_token.get_secret_value())
        stored_ok = stored is not None and stored.value is not None and _same(credentials, stored.value)
        return bool(credentials) and (env_ok or stored_ok)
    if scheme == "basic" and settings.webhook_username and settings.webhook_password is not None:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII input to b64decode
            return False
        user, sep, password = decoded.partition(":")
        user_ok = _same(user, settings.webhook_username)
        password_ok = _same(password, settings.webhook_password.get_secret_value())
        return bool(sep) and user_ok and password_ok
    return False


def forwarded_client(forwarded_for: str) -> str:
    """The client address our proxy saw: the last X-Forwarded-For entry (earlier ones came from the
    client, who could write any address there to dodge the per-address login limit)."""
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    return hops[-1][:64] if hops else ""
