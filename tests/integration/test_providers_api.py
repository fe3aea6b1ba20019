"""LLM providers over the API: keys encrypted and write-only, bad input refused, the environment's
provider read-only, and "Test connection" through LiteLLM to a loopback fake provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from remediation_app.services import audit
from tests.conftest import add_user, bearer_for, sqlite_only
from tests.support.fake_llm import FakeLLM, closed_port, error, hang

pytestmark = pytest.mark.anyio
KEY = "sk-live-very-secret-key-123"


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def body(**changes: object) -> dict[str, object]:
    return {"name": "openai-main", "model": "openai/gpt-4o-mini", "api_key": KEY, **changes}


async def test_create_list_update_delete_never_shows_the_key(client, db, fake):
    r = await client.post("/api/providers", json=body(api_base=fake.api_base, is_default=True))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["has_api_key"] is True and created["is_default"] is True and "api_key" not in created
    listing = await client.get("/api/providers")
    assert KEY not in listing.text and listing.json()["default_id"] == created["id"]
    [row] = db.rows("SELECT api_key_ciphertext FROM llm_providers")
    assert KEY not in row["api_key_ciphertext"] and row["api_key_ciphertext"].startswith("gAAAA")  # Fernet

    # Omitting the key keeps it; "" removes it.
    same = {"api_base": fake.api_base, "is_default": True}
    kept = await client.put(
        f"/api/providers/{created['id']}", json={**body(**same), "api_key": None, "temperature": 0.5}
    )
    assert kept.status_code == 200 and kept.json()["has_api_key"] is True and kept.json()["temperature"] == 0.5
    # Moving the endpoint (or the vendor) needs the key typed again: the stored one never follows.
    for moved in ({"api_base": "https://elsewhere.example/v1"}, {"model": "anthropic/claude-sonnet-4-5"}):
        refused = await client.put(f"/api/providers/{created['id']}", json={**body(**same), **moved, "api_key": None})
        assert refused.status_code == 422 and refused.json()["field"] == "api_key", refused.text
    removed = await client.put(f"/api/providers/{created['id']}", json=body(api_key="", **same))
    assert removed.json()["has_api_key"] is False

    events = db.rows("SELECT action, details FROM audit_events WHERE action LIKE 'provider.%' ORDER BY id")
    assert [e["action"] for e in events] == ["provider.create", "provider.update", "provider.update"]
    assert all(KEY not in str(e["details"]) for e in events)
    assert (await client.delete(f"/api/providers/{created['id']}")).status_code == 204
    assert (await client.delete(f"/api/providers/{created['id']}")).status_code == 404
    assert (await client.get("/api/providers")).json() == {"items": [], "default_id": None}


async def test_only_one_default(client):
    first = (await client.post("/api/providers", json=body(name="a", is_default=True))).json()
    second = (await client.post("/api/providers", json=body(name="b", is_default=True))).json()
    listing = (await client.get("/api/providers")).json()
    defaults = {p["name"]: p["is_default"] for p in listing["items"]}
    assert defaults == {"a": False, "b": True} and listing["default_id"] == second["id"] != first["id"]
    # A disabled provider cannot be the default.
    disabled = await client.put(f"/api/providers/{second['id']}", json=body(name="b", is_default=True, enabled=False))
    assert disabled.json()["is_default"] is False


async def test_the_environment_provider_is_listed_read_only(client, app_env):
    app_env(LLM_MODEL="ollama/llama3", LLM_API_BASE="http://127.0.0.1:11434", LLM_API_KEY=KEY)
    listing = await client.get("/api/providers")
    [env] = listing.json()["items"]
    assert env["source"] == "environment" and env["model"] == "ollama/llama3" and env["id"] == 0
    assert env["has_api_key"] is True and KEY not in listing.text
    assert listing.json()["default_id"] == 0
    assert (await client.put("/api/providers/0", json=body())).status_code == 422  # ids start at 1
    assert (await client.post("/api/providers", json=body(name="environment"))).status_code == 422


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "<script>"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"model": ""}, "model"),
        ({"model": "openai/gpt 4"}, "model"),
        ({"model": "m" * 300}, "model"),
        ({"api_base": "file:///etc/passwd"}, "api_base"),
        ({"api_base": "javascript:alert(1)"}, "api_base"),
        ({"api_key": " padded "}, "api_key"),
        ({"api_key": "a\nb"}, "api_key"),
        ({"api_key": "k" * 5000}, "api_key"),
        ({"temperature": 3}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 10**9}, "max_tokens"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": 10**6}, "timeout_s"),
        ({"surprise": True}, "surprise"),
        ({"temperature": "hot"}, "temperature"),
    ],
)
async def test_bad_provider_input_is_refused_naming_the_field(client, changes, field):
    r = await client.post("/api/providers", json=body(**changes))
    assert r.status_code == 422, r.text
    assert field in r.text
    assert (await client.get("/api/providers")).json()["items"] == []


async def test_duplicate_names_conflict(client):
    assert (await client.post("/api/providers", json=body())).status_code == 201
    again = await client.post("/api/providers", json=body())
    assert again.status_code == 409 and "exists" in again.json()["error"]


async def test_non_admins_cannot_see_or_change_keys(anon, client):
    await client.post("/api/providers", json=body())
    user = bearer_for(await add_user("plain-user", "user"))
    listing = await anon.get("/api/providers", headers=user)
    assert listing.status_code == 200 and KEY not in listing.text
    assert (await anon.post("/api/providers", json=body(name="x"), headers=user)).status_code == 403
    assert (await anon.post("/api/providers/1/test", headers=user)).status_code == 403


async def test_connection_test_succeeds_against_a_live_provider(client, fake):
    created = (await client.post("/api/providers", json=body(api_base=fake.api_base))).json()
    result = (await client.post(f"/api/providers/{created['id']}/test")).json()
    assert result["ok"] is True and result["latency_ms"] >= 0
    [request] = fake.chat_requests
    assert request.headers["authorization"] == f"Bearer {KEY}" and request.json["max_tokens"] == 5


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (error(401), "AuthenticationError"),
        (
            error(404, {"error": {"message": "The model `gpt-9` does not exist", "type": "invalid_request_error"}}),
            "gpt-9",
        ),
        (error(500), "InternalServerError"),
        (hang(), "Timeout"),
    ],
    ids=["401", "404-model", "500", "hang"],
)
async def test_connection_test_shows_the_exact_error(client, fake, step, expected):
    created = (await client.post("/api/providers", json=body(api_base=fake.api_base, timeout_s=1))).json()
    fake.script(step)
    result = (await client.post(f"/api/providers/{created['id']}/test")).json()
    assert result["ok"] is False and expected in result["error"], result
    assert KEY not in result["error"]


async def test_connection_refused_is_reported(client):
    api_base = f"http://127.0.0.1:{closed_port()}/v1"
    created = (await client.post("/api/providers", json=body(api_base=api_base))).json()
    result = (await client.post(f"/api/providers/{created['id']}/test")).json()
    assert result["ok"] is False and "Connection" in result["error"]


@sqlite_only
async def test_environment_provider_test_and_missing_ones(client, app_env, fake):
    assert (await client.post("/api/providers/0/test")).json() == {"ok": False, "error": "LLM_MODEL is not set"}
    assert (await client.post("/api/providers/42/test")).json() == {"ok": False, "error": "no such provider"}
    app_env(LLM_MODEL="openai/gpt-4o-mini", LLM_API_BASE=fake.api_base, LLM_API_KEY="sk-env")
    assert (await client.post("/api/providers/0/test")).json()["ok"] is True


def test_audit_redaction_covers_the_key_field() -> None:
    assert audit.redact({"api_key": KEY}) == {"api_key": audit.REDACTED}


async def test_the_audit_of_a_provider_save_shows_its_settings_but_never_the_key(client):
    saved = await client.post("/api/providers", json=body(max_tokens=777, tool_calling="off"))
    assert saved.status_code == 201, saved.text
    log = await client.get("/api/audit", params={"action": "provider.create"})
    [event] = log.json()["items"]
    details = event["details"]
    # Token counts and the other settings are not secrets: "*token*" names must stay readable.
    assert (details["max_tokens"], details["tool_calling"], details["auth"]) == (777, "off", "set")
    assert KEY not in str(details)
    assert audit.redact({**details, "api_key": KEY})["api_key"] == audit.REDACTED


async def test_tool_calling_and_local_are_saved_and_shown(client, app_env):
    created = await client.post("/api/providers", json=body(tool_calling="off", local=True))
    assert created.status_code == 201, created.text
    assert (created.json()["tool_calling"], created.json()["local"]) == ("off", True)
    changed = await client.put(f"/api/providers/{created.json()['id']}", json=body(tool_calling="on"))
    assert (changed.json()["tool_calling"], changed.json()["local"]) == ("on", False)
    refused = await client.put(f"/api/providers/{created.json()['id']}", json=body(tool_calling="sometimes"))
    assert refused.status_code == 422 and "tool_calling" in refused.text
    app_env(LLM_MODEL="ollama/llama3", LLM_TOOL_CALLING="off", LLM_LOCAL="true")
    env = (await client.get("/api/providers")).json()["items"][0]
    assert (env["source"], env["tool_calling"], env["local"]) == ("environment", "off", True)
