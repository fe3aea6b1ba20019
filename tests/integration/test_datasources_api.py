"""Datasources over the API (admins only): the credential encrypted and write-only, bad input refused
naming the field, the environment's datasource read-only, and "Test connection" against a real
Prometheus, a closed port and a server that refuses the credential."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import add_user, bearer_for, require_tool, sqlite_only
from tests.support.prom_faults import CannedServer, Reply, refused_url
from tests.support.prometheus import Prometheus

pytestmark = pytest.mark.anyio
TOKEN = "prom-bearer-token-very-secret-1"
PASSWORD = "prom-basic-password-very-secret-2"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A plain real Prometheus (no history, nothing scraped): enough to answer its build information."""
    with Prometheus(require_tool("prometheus"), tmp_path_factory.mktemp("datasources-prometheus")) as started:
        yield started


def prometheus_version() -> str:
    printed = subprocess.run([require_tool("prometheus"), "--version"], capture_output=True, text=True).stdout
    found = re.search(r"version (\S+)", printed)
    assert found is not None, printed
    return found.group(1)


def body(**changes: object) -> dict[str, object]:
    return {"name": "prom-main", "url": "http://prometheus.example:9090", "auth": "bearer", "secret": TOKEN, **changes}


def no_secret(response: httpx.Response) -> httpx.Response:
    assert TOKEN not in response.text and PASSWORD not in response.text, response.text
    return response


async def test_create_list_update_delete_never_shows_the_credential(client: httpx.AsyncClient, db) -> None:
    created = no_secret(await client.post("/api/datasources", json=body(is_default=True)))
    assert created.status_code == 201, created.text
    row = created.json()
    assert row["has_secret"] is True and row["auth"] == "bearer" and row["source"] == "database"
    assert row["url"] == "http://prometheus.example:9090" and row["is_default"] is True and "secret" not in row
    listing = no_secret(await client.get("/api/datasources"))
    assert [item["name"] for item in listing.json()["items"]] == ["prom-main"]
    [stored] = db.rows("SELECT secret_ciphertext FROM datasources")
    assert TOKEN not in stored["secret_ciphertext"] and stored["secret_ciphertext"].startswith("gAAAA")  # Fernet
    path = f"/api/datasources/{row['id']}"

    # Omitting the credential keeps it, on the same host (another path or timeout is fine).
    kept = no_secret(
        await client.put(path, json=body(secret=None, url="http://prometheus.example:9090/prom", timeout_s=2.5))
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["has_secret"] is True and kept.json()["timeout_s"] == 2.5
    # Another host needs the credential typed again: the stored one never follows the URL.
    for moved in ("http://elsewhere.example:9090", "http://prometheus.example:9091"):
        refused = no_secret(await client.put(path, json=body(secret=None, url=moved)))
        assert refused.status_code == 422 and refused.json()["field"] == "secret", refused.text
        assert "enter the credential again" in refused.json()["error"]
    moved_with_it = no_secret(await client.put(path, json=body(url="http://elsewhere.example:9090")))
    assert moved_with_it.status_code == 200 and moved_with_it.json()["has_secret"] is True
    basic = no_secret(
        await client.put(
            path, json=body(url="http://elsewhere.example:9090", auth="basic", username="reader", secret=PASSWORD)
        )
    )
    assert basic.json()["auth"] == "basic" and basic.json()["username"] == "reader" and basic.json()["has_secret"]
    # A bearer datasource without its token could never answer: refused, not stored half-configured.
    tokenless = no_secret(await client.put(path, json=body(url="http://elsewhere.example:9090", secret="")))
    assert tokenless.status_code == 422 and tokenless.json()["field"] == "secret", tokenless.text
    removed = no_secret(await client.put(path, json=body(url="http://elsewhere.example:9090", auth="none")))
    assert removed.status_code == 200 and removed.json()["has_secret"] is False

    events = db.rows("SELECT action, details FROM audit_events WHERE action LIKE 'datasource.%' ORDER BY id")
    assert [e["action"] for e in events] == ["datasource.create"] + ["datasource.update"] * 4
    assert all(TOKEN not in str(e["details"]) and PASSWORD not in str(e["details"]) for e in events)
    # What happened to the credential is readable (not redacted like a secret): set, kept, removed.
    changes = [
        json.loads(e["details"])["auth_change"] if isinstance(e["details"], str) else e["details"]["auth_change"]
        for e in events
    ]
    assert changes[0] == "set" and changes[-1] == "removed" and "kept" in changes
    assert (await client.delete(path)).status_code == 204
    assert (await client.delete(path)).status_code == 404
    assert (await client.get("/api/datasources")).json() == {"items": []}


async def test_the_url_is_answered_without_its_query_string(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/datasources", json=body(url="https://mimir.example/prometheus?x=1#frag"))
    assert created.status_code == 201, created.text
    assert created.json()["url"] == "https://mimir.example/prometheus"


async def test_only_one_default_and_never_a_disabled_one(client: httpx.AsyncClient) -> None:
    first = (await client.post("/api/datasources", json=body(name="a", is_default=True))).json()
    second = (await client.post("/api/datasources", json=body(name="b", is_default=True))).json()
    listing = (await client.get("/api/datasources")).json()["items"]
    assert {d["name"]: d["is_default"] for d in listing} == {"a": False, "b": True}
    disabled = await client.put(
        f"/api/datasources/{second['id']}", json=body(name="b", is_default=True, enabled=False, secret=None)
    )
    assert disabled.json()["is_default"] is False and disabled.json()["enabled"] is False
    assert first["id"] != second["id"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "<script>"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Environment"}, "name"),
        ({"url": ""}, "url"),
        ({"url": "prometheus:9090"}, "url"),
        ({"url": "ftp://prometheus.example/"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "http://prom example:9090"}, "url"),
        ({"url": "http://" + "a" * 1100}, "url"),
        ({"url": "http://reader:hunter2@prometheus.example:9090"}, "url"),
        ({"url": "http://reader@prometheus.example:9090"}, "url"),
        ({"auth": "digest"}, "auth"),
        ({"auth": "basic", "username": ""}, "username"),
        ({"auth": "basic", "username": "a:b"}, "username"),
        ({"secret": "k" * 5000}, "secret"),
        ({"secret": " padded "}, "secret"),
        ({"secret": "a\nb"}, "secret"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": 61}, "timeout_s"),
        ({"timeout_s": "slow"}, "timeout_s"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_bad_input_is_refused_naming_the_field(client: httpx.AsyncClient, changes, field) -> None:
    r = await client.post("/api/datasources", json=body(**changes))
    assert r.status_code == 422, r.text
    answer = r.json()
    # The service's refusals name the field; pydantic's list it in each error's location.
    named = answer.get("field") or {loc for error in answer["detail"] for loc in error["loc"]}
    assert field == named or field in named, answer
    assert "hunter2" not in r.text and TOKEN not in r.text
    assert (await client.get("/api/datasources")).json()["items"] == []


async def test_a_name_taken_is_a_conflict(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/datasources", json=body())).status_code == 201
    again = await client.post("/api/datasources", json=body(secret="other-token-123"))
    assert again.status_code == 409 and again.json()["field"] == "name" and "exists" in again.json()["error"]
    other = (await client.post("/api/datasources", json=body(name="second"))).json()
    renamed = await client.put(f"/api/datasources/{other['id']}", json=body(secret=None))
    assert renamed.status_code == 409, renamed.text


async def test_missing_rows_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.put("/api/datasources/4242", json=body())).status_code == 404
    assert (await client.delete("/api/datasources/4242")).status_code == 404
    # Id 0 is the environment's datasource: never changed or deleted through the API.
    assert (await client.put("/api/datasources/0", json=body())).status_code == 422
    assert (await client.delete("/api/datasources/0")).status_code == 422


async def test_only_admins(anon: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    created = (await client.post("/api/datasources", json=body())).json()
    user = bearer_for(await add_user("plain-user", "user"))
    path = f"/api/datasources/{created['id']}"
    for headers, status in ((user, 403), ({}, 401)):
        calls = [
            anon.get("/api/datasources", headers=headers),
            anon.post("/api/datasources", json=body(name="x"), headers=headers),
            anon.put(path, json=body(), headers=headers),
            anon.delete(path, headers=headers),
            anon.post(f"{path}/test", headers=headers),
        ]
        for call in calls:
            answer = await call
            assert answer.status_code == status, answer.text
            assert TOKEN not in answer.text
    assert [d["name"] for d in (await client.get("/api/datasources")).json()["items"]] == ["prom-main"]


async def test_the_environment_datasource_is_listed_first_read_only(client: httpx.AsyncClient, app_env) -> None:
    await client.post("/api/datasources", json=body())
    app_env(PROMETHEUS_URL="http://env-prom.example:9090", PROMETHEUS_BEARER_TOKEN=PASSWORD)
    listing = no_secret(await client.get("/api/datasources"))
    env, stored = listing.json()["items"]
    assert (env["id"], env["name"], env["source"], env["auth"]) == (0, "environment", "environment", "bearer")
    assert env["has_secret"] is True and env["url"] == "http://env-prom.example:9090"
    assert stored["source"] == "database"
    # Credentials inside PROMETHEUS_URL are never shown either.
    app_env(PROMETHEUS_URL=f"http://reader:{PASSWORD}@env-prom.example:9090", PROMETHEUS_BEARER_TOKEN=None)
    [env, _] = no_secret(await client.get("/api/datasources")).json()["items"]
    assert env["url"] == "http://env-prom.example:9090" and env["auth"] == "basic" and env["has_secret"] is True


async def test_connection_test_shows_the_version_of_a_real_prometheus(
    client: httpx.AsyncClient, prometheus: Prometheus
) -> None:
    created = (await client.post("/api/datasources", json=body(url=prometheus.url, auth="none", secret=None))).json()
    result = (await client.post(f"/api/datasources/{created['id']}/test")).json()
    assert result == {"ok": True, "version": prometheus_version()}


async def test_connection_test_to_a_closed_port_says_so(client: httpx.AsyncClient) -> None:
    with refused_url() as url:
        created = (await client.post("/api/datasources", json=body(url=url))).json()
        result = no_secret(await client.post(f"/api/datasources/{created['id']}/test")).json()
    assert result == {
        "ok": False,
        "error": f"datasource 'prom-main' at {url}: connection refused (is it running, is the port right?)",
    }


@pytest.mark.parametrize("auth", ["bearer", "basic"])
async def test_a_refused_credential_is_an_authentication_error(client: httpx.AsyncClient, auth: str) -> None:
    secret = TOKEN if auth == "bearer" else PASSWORD
    with CannedServer(Reply(401, f"Unauthorized: {secret}".encode(), "text/plain")) as server:
        created = (
            await client.post(
                "/api/datasources", json=body(url=server.url, auth=auth, username="reader", secret=secret)
            )
        ).json()
        result = no_secret(await client.post(f"/api/datasources/{created['id']}/test")).json()
    assert result["ok"] is False and "authentication failed (HTTP 401)" in result["error"], result
    assert result["error"].startswith(f"datasource 'prom-main' at {server.url}")
    expected = (
        f"Bearer {TOKEN}" if auth == "bearer" else "Basic " + base64.b64encode(f"reader:{PASSWORD}".encode()).decode()
    )
    assert server.requests[0].headers["Authorization"] == expected


@sqlite_only
async def test_the_environment_datasource_and_missing_ones_can_be_tested(
    client: httpx.AsyncClient, app_env, prometheus: Prometheus
) -> None:
    assert (await client.post("/api/datasources/0/test")).json() == {"ok": False, "error": "PROMETHEUS_URL is not set"}
    assert (await client.post("/api/datasources/42/test")).json() == {"ok": False, "error": "no such datasource"}
    app_env(PROMETHEUS_URL=prometheus.url)
    assert (await client.post("/api/datasources/0/test")).json() == {"ok": True, "version": prometheus_version()}
