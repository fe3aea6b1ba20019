"""The API's answers are pydantic models: every JSON route declares one, none has a field for a
secret, and rows holding secrets come out with `has_*` flags only."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from remediation_app.api import build_api
from remediation_app.api.schemas import AnalysisPublic, ProviderPublic, ServerPublic, TokenPublic, UserPublic
from remediation_app.models import Analysis, LLMProvider, SSHServer, User
from remediation_app.services.security import client_address

# Field names that would carry a secret. The bearer token and the terminal ticket are credentials
# issued to the caller in the answer, on purpose.
SECRET_NAME = re.compile(r"api_key$|private_key$|passphrase$|password|_hash$|ciphertext|token_version|secret")
ISSUED = {("TokenPublic", "access_token"), ("Ticket", "ticket")}


# Answers that are not JSON: Prometheus' text format, the asciicast download, an evaluation's HTML report.
NOT_JSON = {
    ("get", "/metrics"),
    ("get", "/api/terminal/sessions/{session_id}/recording"),
    ("get", "/api/evals/runs/{run_id}/report"),
}


def test_every_json_answer_is_documented_by_its_model() -> None:
    """Each JSON answer refers to a named model (a route without one shows an empty schema, or a bare
    "object" for a `-> dict` annotation: what it answers would not be documented)."""
    schema = build_api().openapi()
    answers = {
        (method, path): {status: answer for status, answer in op["responses"].items() if status.startswith("2")}
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    }
    assert len(answers) >= 25
    undocumented = [
        (method, path, status)
        for (method, path), ok in answers.items()
        if (method, path) not in NOT_JSON
        for status, answer in ok.items()
        if status != "204" and "$ref" not in json.dumps(answer.get("content", {}).get("application/json", {}))
    ]
    assert undocumented == []


def _properties(schema: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for name, component in schema["components"]["schemas"].items():
        for field in component.get("properties", {}):
            yield name, field


def test_no_answer_has_a_field_for_a_secret() -> None:
    schema = build_api().openapi()
    answers = {ref.rsplit("/", 1)[-1] for ref in re.findall(r'"\$ref": "([^"]+)"', json.dumps(_responses(schema)))}
    closure = _referenced(schema, answers)
    assert {"ProviderPublic", "ServerPublic", "UserPublic", "TokenPublic", "AlertDetail"} <= closure
    found = [
        (name, field)
        for name, field in _properties(schema)
        if name in closure
        and SECRET_NAME.search(field)
        and not field.startswith("has_")
        and (name, field) not in ISSUED
    ]
    assert found == []


def _responses(schema: dict[str, Any]) -> list[Any]:
    return [op["responses"] for path in schema["paths"].values() for op in path.values()]


def _referenced(schema: dict[str, Any], names: set[str]) -> set[str]:
    """The components reachable from `names` (nested models, list items, generic pages)."""
    components = schema["components"]["schemas"]
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        todo += [ref.rsplit("/", 1)[-1] for ref in re.findall(r'"\$ref": "([^"]+)"', json.dumps(components[name]))]
    return seen


NOW = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)


def test_stored_secrets_come_out_as_flags_only() -> None:
    provider = LLMProvider(
        id=3, name="p", model="openai/x", api_key_ciphertext="gAAAA-provider-key", created_at=NOW, updated_at=NOW
    )
    server = SSHServer(
        id=4,
        name="s",
        host="h",
        username="u",
        private_key_ciphertext="gAAAA-private-key",
        passphrase_ciphertext="",
        password_ciphertext="gAAAA-password",
        allowed_roles=["admin"],
        host_key="ssh-ed25519 AAAA",
        host_key_accepted_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )
    user = User(id=1, username="ann", password_hash="$argon2id$v=19$secret-hash", role="admin", token_version=7)
    answers = [
        ProviderPublic.model_validate(provider).model_dump_json(),
        ServerPublic.model_validate(server).model_dump_json(),
        UserPublic.model_validate(user).model_dump_json(),
    ]
    assert not any(secret in text for text in answers for secret in ("gAAAA", "argon2", "token_version"))
    assert json.loads(answers[0])["has_api_key"] is True
    flags = json.loads(answers[1])
    assert (flags["has_private_key"], flags["has_passphrase"], flags["has_password"]) == (True, False, True)
    assert json.loads(answers[2]) == {"username": "ann", "role": "admin"}
    # A service's view dict (the providers list) validates into the same model.
    assert ProviderPublic.model_validate({**json.loads(answers[0]), "has_api_key": False}).has_api_key is False


def test_timestamps_are_written_as_isoformat_does() -> None:
    token = TokenPublic(access_token="t", expires_at=NOW).model_dump(mode="json")
    assert token["expires_at"] == NOW.isoformat() == "2026-03-01T12:30:05.123456+00:00"
    analysis = Analysis(id=1, alert_id=2, provider_name="p", urgency="", result={}, created_at=NOW)
    public = AnalysisPublic.model_validate(analysis).model_dump(mode="json")
    assert public["created_at"] == NOW.isoformat() and public["urgency"] is None and public["root_cause"] is None


@pytest.mark.parametrize(
    ("trusted", "forwarded", "peer", "expected"),
    [
        (False, "203.0.113.9", "10.0.0.1", "10.0.0.1"),  # not believed unless trusted
        (True, "203.0.113.9, 10.0.0.7", "10.0.0.1", "10.0.0.7"),  # the hop our proxy added
        (True, " , ", "10.0.0.1", "10.0.0.1"),  # no address in it: the peer
        (True, None, None, ""),
        (False, None, "x" * 100, "x" * 64),  # the audit column's width
    ],
)
def test_client_address(
    app_env: Callable[..., None], trusted: bool, forwarded: str | None, peer: str | None, expected: str
) -> None:
    app_env(TRUST_PROXY_HEADERS="true" if trusted else "false")
    assert client_address(peer=peer, forwarded_for=forwarded) == expected
