"""Webhook authentication (services/security.py: webhook_authorized)."""

from __future__ import annotations

import base64

import pytest

from remediation_app.services.security import webhook_authorized
from remediation_app.settings import Settings

TOKEN = "s3cret-token"


@pytest.fixture(autouse=True)
def _no_webhook_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment too: keep the developer's shell out of these tests."""
    for name in ("WEBHOOK_TOKEN", "WEBHOOK_USERNAME", "WEBHOOK_PASSWORD", "WEBHOOK_ALLOW_UNAUTHENTICATED"):
        monkeypatch.delenv(name, raising=False)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


BEARER = settings(webhook_token=TOKEN)
BASIC = settings(webhook_username="am", webhook_password="pa:ss wörd")
BOTH = settings(webhook_token=TOKEN, webhook_username="am", webhook_password="pw")


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER {TOKEN}", f"Bearer   {TOKEN}  "],
)
def test_bearer_token_accepted(header: str) -> None:
    assert webhook_authorized(header, BEARER)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        TOKEN,  # no scheme
        f"Token {TOKEN}",  # wrong scheme
        f"Digest {TOKEN}",
        basic("am", TOKEN),  # basic is not configured here
    ],
)
def test_bearer_refused(header: str | None) -> None:
    assert not webhook_authorized(header, BEARER)


def test_basic_accepted() -> None:
    assert webhook_authorized(basic("am", "pa:ss wörd"), BASIC)  # the password may hold ":" and non-ASCII
    assert webhook_authorized(basic("am", "pa:ss wörd").replace("Basic", "basic"), BASIC)


@pytest.mark.parametrize(
    "header",
    [
        basic("am", "wrong"),
        basic("AM", "pa:ss wörd"),
        basic("", "pa:ss wörd"),
        basic("am", ""),
        "Basic " + base64.b64encode(b"am").decode(),  # no colon at all
        "Basic !!!not-base64!!!",
        "Basic YW06cGFzcw",  # bad padding
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),  # not UTF-8 once decoded
        "Basic \u00e9\u00e9\u00e9\u00e9",  # not ASCII: a header decoded as latin-1
        "Basic",
        f"Bearer {TOKEN}",  # bearer is not configured here
    ],
)
def test_basic_refused(header: str) -> None:
    assert not webhook_authorized(header, BASIC)


def test_both_schemes_when_both_are_configured() -> None:
    assert webhook_authorized(f"Bearer {TOKEN}", BOTH)
    assert webhook_authorized(basic("am", "pw"), BOTH)
    assert not webhook_authorized(basic("am", TOKEN), BOTH)
    assert not webhook_authorized("Bearer pw", BOTH)


def test_no_credentials_configured_is_refused() -> None:
    nothing = settings()
    assert not nothing.webhook_auth_configured
    for header in (None, "", f"Bearer {TOKEN}", basic("am", "pw")):
        assert not webhook_authorized(header, nothing)


def test_half_configured_basic_counts_as_not_configured() -> None:
    assert not webhook_authorized(basic("am", ""), settings(webhook_username="am"))
    assert not webhook_authorized(basic("", "pw"), settings(webhook_password="pw"))
    assert not webhook_authorized(None, settings(webhook_token=""))  # empty means unset


def test_no_credentials_and_explicitly_allowed_is_open() -> None:
    open_webhook = settings(webhook_allow_unauthenticated=True)
    assert webhook_authorized(None, open_webhook)
    assert webhook_authorized("Bearer whatever", open_webhook)


def test_allow_unauthenticated_does_not_open_a_configured_webhook() -> None:
    both = settings(webhook_token=TOKEN, webhook_allow_unauthenticated=True)
    assert not webhook_authorized(None, both)
    assert not webhook_authorized("Bearer wrong", both)
    assert webhook_authorized(f"Bearer {TOKEN}", both)


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_USERNAME", "env-user")
    monkeypatch.setenv("WEBHOOK_PASSWORD", "env-pass")
    assert webhook_authorized(basic("env-user", "env-pass"), Settings())
    monkeypatch.setenv("WEBHOOK_ALLOW_UNAUTHENTICATED", "true")
    monkeypatch.setenv("WEBHOOK_PASSWORD", "")
    assert webhook_authorized(None, Settings())  # an empty password means basic is not configured
