"""Login tokens (services/tokens.py): only our own HS256 tokens, unexpired, with every claim, are accepted.

The database side (token version, deactivated and unknown users) is in tests/integration/test_auth_api.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from remediation_app.models import User, utcnow
from remediation_app.services.tokens import TokenError, decode_token, issue_token
from remediation_app.settings import get_settings

SECRET = "unit-test-signing-key-" + "x" * 32


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.delenv("ACCESS_TOKEN_MINUTES", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def hs256(header: dict[str, Any], payload: dict[str, Any], key: str = SECRET) -> str:
    """A token signed by hand, so that the header can say anything."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def claims(**changes: Any) -> dict[str, Any]:
    now = int(utcnow().timestamp())
    payload: dict[str, Any] = {"sub": "7", "ver": 3, "jti": "j" * 32, "iat": now, "nbf": now, "exp": now + 600}
    for name, value in changes.items():
        if value is None:
            payload.pop(name)
        else:
            payload[name] = value
    return payload


USER = User(id=7, username="u", password_hash="x", token_version=3)


def test_a_good_token_is_accepted() -> None:
    token, issued = issue_token(USER)
    decoded = decode_token(token)
    assert (decoded.user_id, decoded.token_version, decoded.jti) == (7, 3, issued.jti)
    assert decoded.expires_at == issued.expires_at.replace(microsecond=0)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    # A hand-made token with the same claims is accepted too: the refusals below are about what they change.
    assert decode_token(hs256({"alg": "HS256", "typ": "JWT"}, claims())).user_id == 7


def test_lifetime_follows_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_TOKEN_MINUTES", "5")
    get_settings.cache_clear()
    now = utcnow()
    _token, issued = issue_token(USER, now=now)
    assert issued.expires_at == now + timedelta(minutes=5)


def test_alg_none_is_refused() -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    for token in (f"{header}.{body}.", f"{header}.{body}"):
        with pytest.raises(TokenError):
            decode_token(token)
    for alg in ("None", "NONE", "nOnE"):
        with pytest.raises(TokenError):
            decode_token(hs256({"alg": alg}, claims()))


def test_signed_with_another_key_is_refused() -> None:
    with pytest.raises(TokenError):
        decode_token(jwt.encode(claims(), "another-key-" + "y" * 32, algorithm="HS256"))


def test_rs256_token_is_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    token = jwt.encode(claims(), pem, algorithm="RS256")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    with pytest.raises(TokenError):
        decode_token(token)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "HS384", "HS512", "PS256"])
def test_hs256_signature_under_another_header_is_refused(alg: str) -> None:
    """Algorithm confusion: a valid HMAC over our key, but the header claims another algorithm."""
    with pytest.raises(TokenError):
        decode_token(hs256({"alg": alg, "typ": "JWT"}, claims()))


def test_expired_token_is_refused() -> None:
    token, _ = issue_token(USER, now=utcnow() - timedelta(minutes=10), minutes=5)
    with pytest.raises(TokenError):
        decode_token(token)
    with pytest.raises(TokenError):
        decode_token(hs256({"alg": "HS256"}, claims(exp=int(utcnow().timestamp()) - 1)))


def test_not_yet_valid_token_is_refused() -> None:
    later = int(utcnow().timestamp()) + 600
    with pytest.raises(TokenError):
        decode_token(hs256({"alg": "HS256"}, claims(nbf=later, exp=later + 600)))
    token, _ = issue_token(USER, now=utcnow() + timedelta(minutes=10))  # nbf = iat in the future
    with pytest.raises(TokenError):
        decode_token(token)


@pytest.mark.parametrize(
    "changes",
    [{"sub": "8"}, {"ver": 4}, {"exp": 4_102_444_800}, {"sub": "7", "role": "admin"}],
    ids=["other-user", "newer-version", "longer-life", "extra-claim"],
)
def test_tampered_claims_are_refused(changes: dict[str, Any]) -> None:
    token, _ = issue_token(USER)
    header, payload, signature = token.split(".")
    edited = {**json.loads(unb64(payload)), **changes}
    forged = f"{header}.{b64(json.dumps(edited).encode())}.{signature}"
    with pytest.raises(TokenError):
        decode_token(forged)
    decode_token(token)  # the original still passes: only the edit is refused


def test_tampered_signature_is_refused() -> None:
    token, _ = issue_token(USER)
    header, payload, signature = token.split(".")
    flipped = b64(bytes([unb64(signature)[0] ^ 1]) + unb64(signature)[1:])
    with pytest.raises(TokenError):
        decode_token(f"{header}.{payload}.{flipped}")


@pytest.mark.parametrize("missing", ["sub", "ver", "jti", "iat", "nbf", "exp"])
def test_a_missing_claim_is_refused(missing: str) -> None:
    with pytest.raises(TokenError):
        decode_token(hs256({"alg": "HS256"}, claims(**{missing: None})))


@pytest.mark.parametrize(
    "changes",
    [{"sub": "not-a-number"}, {"sub": 7}, {"ver": "3"}, {"ver": True}, {"ver": 3.5}, {"exp": "tomorrow"}],
)
def test_malformed_claims_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(TokenError):
        decode_token(hs256({"alg": "HS256"}, claims(**changes)))


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "a.b", "....", "x" * 5000, "eyJhbGciOiJIUzI1NiJ9.e30.", "\x00.\x00.\x00"],
    ids=["empty", "word", "three-parts", "two-parts", "dots", "oversized", "empty-payload", "nul"],
)
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(TokenError):
        decode_token(token)


def test_oversized_but_well_signed_token_is_refused() -> None:
    with pytest.raises(TokenError):
        decode_token(hs256({"alg": "HS256"}, claims(pad="p" * 5000)))


def test_a_token_follows_the_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing SECRET_KEY logs everybody out."""
    token, _ = issue_token(USER)
    monkeypatch.setenv("SECRET_KEY", "a-new-signing-key-" + "z" * 32)
    get_settings.cache_clear()
    with pytest.raises(TokenError):
        decode_token(token)
