"""Login tokens: JWT, HS256 only, with a per-user token version for instant revocation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from jose import JWTError, jwt

from remediation_app.models import User, utcnow
from remediation_app.settings import get_settings

ALGORITHM = "HS256"
# Every claim we rely on must be present; decode refuses a token without one.
_REQUIRED = {f"require_{claim}": True for claim in ("exp", "iat", "nbf", "sub", "jti")}


class TokenError(Exception):
    """Not a valid token of ours (bad signature, algorithm, claims, expired or not yet valid)."""


@dataclass(frozen=True)
class Claims:
    user_id: int
    token_version: int
    jti: str
    expires_at: datetime


def issue_token(user: User, *, now: datetime | None = None, minutes: int | None = None) -> tuple[str, Claims]:
    assert user.id is not None
    now = now or utcnow()
    expires = now + timedelta(minutes=minutes or get_settings().access_token_minutes)
    claims = Claims(user.id, user.token_version, uuid.uuid4().hex, expires)
    payload = {
        "sub": str(user.id),
        "ver": user.token_version,
        "jti": claims.jti,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(payload, get_settings().resolve_secret_key(), algorithm=ALGORITHM), claims


def decode_token(token: str) -> Claims:
    if not token or len(token) > 4096:
        raise TokenError("missing or oversized token")
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise TokenError(f"algorithm {header.get('alg')!r} is not accepted")
        payload = jwt.decode(token, get_settings().resolve_secret_key(), algorithms=[ALGORITHM], options=_REQUIRED)
        if not isinstance(payload.get("ver"), int) or isinstance(payload["ver"], bool):
            raise TokenError("missing or malformed token version")
        user_id, version = int(payload["sub"]), payload["ver"]
    except (JWTError, KeyError, ValueError, TypeError) as exc:
        raise TokenError(str(exc) or type(exc).__name__) from None
    expires = datetime.fromtimestamp(int(payload["exp"]), tz=utcnow().tzinfo)
    return Claims(user_id, version, str(payload["jti"]), expires)
