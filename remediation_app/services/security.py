"""Credentials: webhook authentication and password hashing (no reflex import)."""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from passlib.context import CryptContext

from remediation_app.settings import Settings, get_settings

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


def client_address(*, peer: str | None, forwarded_for: str | None) -> str:
    """The caller's address, for login throttling and the audit log (HTTP requests, the terminal's
    WebSocket and Reflex's event socket alike), at most 64 characters.

    With TRUST_PROXY_HEADERS=true: the last X-Forwarded-For entry, the address our proxy saw
    (earlier ones came from the client, who could write any address there to dodge the per-address
    login limit). Otherwise, or without the header, the connection's peer."""
    if get_settings().trust_proxy_headers:
        hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
        if hops:
            return hops[-1][:64]
    return (peer or "")[:64]


# ---- origins ---------------------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(value: str) -> str | None:
    """`scheme://host[:port]` in lower case without a default port, or None when `value` is not an
    http(s) origin (a path, query or credentials are ignored: a setting may carry a full URL)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def origin_allowed(origin: str | None, *, host: str, trusted: frozenset[str]) -> bool:
    """Whether a browser request that says it comes from `origin` may use the user's session.

    Allowed: an origin listed in `trusted` (PUBLIC_URL, ALLOWED_ORIGINS), or the origin whose host
    and port are those the request was sent to (its Host header). A page on another port of the
    same host, or on a sibling subdomain, is refused: the SameSite cookie reaches us from there too.
    A missing or opaque ("null") origin is refused: say explicitly where it is acceptable.
    """
    if not origin or origin == "null":
        return False
    normalized = normalize_origin(origin)
    if normalized is None:
        return False
    if normalized in trusted:
        return True
    scheme = normalized.partition("://")[0]
    return normalize_origin(f"{scheme}://{host}") == normalized


def trusted_origins(settings: Settings) -> frozenset[str]:
    """PUBLIC_URL's and ALLOWED_ORIGINS' origins, normalized."""
    return frozenset(origin for origin in map(normalize_origin, settings.origin_list) if origin)
