"""Notification routes over the API (admins only): the Apprise URL encrypted and write-only (no answer,
audit event or log line carries any part of it), bad input refused naming the field (Apprise's own
parser judges the URL), the environment's route read-only, Send test against a real receiver."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from tests.conftest import add_user, bearer_for, sqlite_only
from tests.support.notify_receivers import JsonReceiver

pytestmark = [pytest.mark.anyio, sqlite_only]
PASSWORD = "smtp-pass-very-secret-1"
TOKEN = "hdr-token-very-secret-2"
SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#oncall"


def no_secret(response: httpx.Response) -> httpx.Response:
    for secret in (PASSWORD, TOKEN, "TIiajkdnlazkcOXrIdevi7FQ", "A1BRTD4JD"):
        assert secret not in response.text, response.text
    return response


def body(**changes: Any) -> dict[str, Any]:
    return {"name": "oncall", "url": SLACK, "events": ["analysis"], **changes}


async def test_routes_keep_the_url_write_only(client: httpx.AsyncClient, db, caplog) -> None:
    caplog.set_level(logging.INFO)
    created = no_secret(await client.post("/api/notify/routes", json=body(events=["alert", "analysis"])))
    assert created.status_code == 201, created.text
    route = created.json()
    assert route["has_url"] is True and route["target_kind"] == "slack" and "url" not in route
    assert route["events"] == ["alert", "analysis"] and route["throttle_max"] == 10 and route["source"] == "database"
    [stored] = db.rows("SELECT url_ciphertext FROM notify_routes")
    assert stored["url_ciphertext"].startswith("gAAAA") and "TIiajkdnlazkcOXrIdevi7FQ" not in stored["url_ciphertext"]
    path = f"/api/notify/routes/{route['id']}"
    # Omitting the URL keeps it; other fields change.
    kept = no_secret(await client.put(path, json=body(url=None, throttle_max=3, label_patterns={"team": "db*"})))
    assert kept.status_code == 200 and kept.json()["has_url"] and kept.json()["throttle_max"] == 3, kept.text
    assert kept.json()["label_patterns"] == {"team": "db*"}
    replaced = no_secret(
        await client.put(path, json=body(url=f"json://bot:{PASSWORD}@hooks.example/alerts?+X-Token={TOKEN}"))
    )
    assert replaced.json()["target_kind"] == "json", replaced.text
    listing = no_secret(await client.get("/api/notify/routes"))
    assert [r["name"] for r in listing.json()["items"]] == ["oncall"]
    events = db.rows("SELECT action, details FROM audit_events WHERE action LIKE 'notify_route.%' ORDER BY id")
    assert [e["action"] for e in events] == ["notify_route.create", "notify_route.update", "notify_route.update"]
    assert all(s not in str(e["details"]) for e in events for s in (PASSWORD, TOKEN, "TIiajkdnlazkcOXrIdevi7FQ"))
    assert (await client.delete(path)).status_code == 204
    assert (await client.delete(path)).status_code == 404
    assert PASSWORD not in caplog.text and TOKEN not in caplog.text and "TIiajkdnlazkcOXrIdevi7FQ" not in caplog.text


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"url": ""}, "url", "an Apprise URL such as"),
        ({"url": "not a url"}, "url", "no spaces"),
        ({"url": "zzz://host/x"}, "url", "Apprise knows no service 'zzz'"),
        ({"url": "slack://onlyone-very-secret-2"}, "url", "Apprise refused it"),
        ({"url": "json://"}, "url", "Apprise cannot parse"),
        ({"url": "json://host/\x00"}, "url", "control characters"),
        ({"url": None}, "url", "a new route needs its Apprise URL"),
        ({"name": "environment"}, "name", "NOTIFY_URLS"),
        ({"name": " bad/name"}, "name", "letters"),
        ({"label_patterns": {"bad-label": "x"}}, "label_patterns.bad-label", "label name"),
        ({"label_patterns": {"job": "re:(unclosed"}}, "label_patterns.job", "regular expression"),
        ({"label_patterns": {"job": "re:(?=look)ahead"}}, "label_patterns.job", "RE2"),
        ({"label_patterns": {f"l{i}": "x" for i in range(21)}}, "label_patterns", "at most 20"),
        ({"rule_ids": [999999]}, "rule_ids", "no rule has id 999999"),
    ],
)
async def test_bad_routes_are_refused_naming_the_field(client, changes, field, says) -> None:
    r = no_secret(await client.post("/api/notify/routes", json=body(**changes)))
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert says in r.json()["error"], r.text
    assert "onlyone-very-secret-2" not in r.text


@pytest.mark.parametrize(
    "changes",
    [
        {"url": "json://host/" + "a" * 3000},
        {"events": []},
        {"events": ["bogus"]},
        {"throttle_max": 0},
        {"throttle_minutes": 100000},
        {"label_patterns": {"job": "x" * 2000}},
        {"label_patterns": {"j" * 200: "x"}},
        {"rule_ids": list(range(1, 200))},
        {"name": "x" * 500},
        {"extra": "field"},
    ],
)
async def test_malformed_and_oversized_bodies_get_422(client, changes) -> None:
    r = await client.post("/api/notify/routes", json=body(**changes))
    assert r.status_code == 422, r.text
    assert (await client.get("/api/notify/routes")).json()["items"] == []


async def test_duplicate_names_and_roles(client, anon) -> None:
    assert (await client.post("/api/notify/routes", json=body())).status_code == 201
    clash = await client.post("/api/notify/routes", json=body())
    assert clash.status_code == 409 and clash.json()["field"] == "name", clash.text
    user = await add_user("plain-user")
    for http, headers, status in ((anon, {}, 401), (anon, bearer_for(user), 403)):
        for method, path in (
            ("GET", "/api/notify/routes"),
            ("POST", "/api/notify/routes"),
            ("POST", "/api/notify/routes/1/test"),
            ("GET", "/api/notify/deliveries"),
            ("POST", "/api/notify/deliveries/1/retry"),
        ):
            r = await http.request(method, path, headers=headers, json=body() if method == "POST" else None)
            assert r.status_code == status, (method, path, r.text)
    bad = await client.get("/api/notify/deliveries", params={"status": "bogus", "limit": 5})
    assert bad.status_code == 422


async def test_send_test_and_the_environments_route(client, app_env) -> None:
    with JsonReceiver() as receiver:
        url = receiver.url("/hook").replace("json://", f"json://bot:{PASSWORD}@")
        app_env(NOTIFY_URLS=f"{url} {receiver.url('/second')}", NOTIFY_TIMEOUT_SECONDS="3")
        route = (await client.post("/api/notify/routes", json=body(name="hook", url=url))).json()
        listing = no_secret(await client.get("/api/notify/routes")).json()["items"]
        env = listing[0]
        assert env["id"] == 0 and env["name"] == "environment" and env["source"] == "environment"
        assert env["url_count"] == 2 and env["events"] == ["analysis"] and env["target_kind"] == "json"
        assert (await client.put("/api/notify/routes/0", json=body(url=None))).status_code == 422
        passed = no_secret(await client.post(f"/api/notify/routes/{route['id']}/test"))
        assert passed.json() == {"ok": True, "sent": 1}, passed.text
        both = no_secret(await client.post("/api/notify/routes/0/test"))
        assert both.json() == {"ok": True, "sent": 2}, both.text
        assert [p.path for p in receiver.posted] == ["/hook", "/hook", "/second"] or sorted(
            p.path for p in receiver.posted
        ) == ["/hook", "/hook", "/second"]
        assert receiver.posted[0].body["title"] == "Test notification from Remediation Engine"
        receiver.status = 500
        failed = no_secret(await client.post(f"/api/notify/routes/{route['id']}/test"))
        assert failed.json()["ok"] is False and "500" in failed.json()["error"], failed.text
    refused = no_secret(await client.post(f"/api/notify/routes/{route['id']}/test"))
    assert refused.json()["ok"] is False and "Connection error" in refused.json()["error"], refused.text
    assert (await client.post("/api/notify/routes/99999/test")).json() == {"ok": False, "error": "no such route"}
