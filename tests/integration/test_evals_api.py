"""GET /api/evals/*: evaluation runs for admins (the list, one run, its report, models compared), on
SQLite and PostgreSQL; refused for others; bad ids are 404 or 422."""

from __future__ import annotations

import pytest

from tests.conftest import add_user, bearer_for
from tests.support.evals import stored_run

pytestmark = pytest.mark.anyio


async def test_admins_read_runs_results_reports_and_comparisons(client, anon) -> None:
    first = await stored_run({"openai/gpt-4o": {"disk": "passed", "dns": "failed"}}, judge="openai/gpt-4o-mini")
    second = await stored_run(
        {"ollama/llama3": {"disk": "failed", "dns": "error"}, "openai/gpt-4o": {"disk": "passed"}}
    )

    listing = await client.get("/api/evals/runs", params={"limit": 1})
    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] == 2 and [r["id"] for r in body["items"]] == [second]
    assert body["items"][0]["totals"]["ollama/llama3"]["errors"] == 1

    detail = (await client.get(f"/api/evals/runs/{first}")).json()
    assert (detail["status"], detail["judge_model"], detail["cases"]) == ("finished", "openai/gpt-4o-mini", 2)
    assert detail["totals"]["openai/gpt-4o"]["pass_rate"] == 0.5
    assert [(r["case_id"], r["status"], r["latency_s"]) for r in detail["results"]] == [
        ("disk", "passed", 1.5),
        ("dns", "failed", 1.5),
    ]

    report = await client.get(f"/api/evals/runs/{first}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "<svg" in report.text and "<b>not bold</b>" not in report.text and "&lt;b&gt;not bold" in report.text

    compared = (await client.get("/api/evals/compare", params=[("run", first), ("run", second)])).json()
    assert [c["key"] for c in compared["columns"]] == [
        f"{first}:openai/gpt-4o",
        f"{second}:ollama/llama3",
        f"{second}:openai/gpt-4o",
    ]
    cells = {row["case_id"]: row["cells"] for row in compared["rows"]}
    assert cells["disk"][f"{first}:openai/gpt-4o"]["status"] == "passed"
    assert cells["dns"][f"{second}:ollama/llama3"] == {
        "status": "error", "score": 0.0, "cost_usd": None, "latency_s": 1.5, "missed": []
    }  # fmt: skip
    assert f"{second}:openai/gpt-4o" not in cells["dns"]

    # Missing runs and ids that cannot be ids.
    assert (await client.get("/api/evals/runs/999999")).status_code == 404
    assert (await client.get("/api/evals/runs/999999/report")).status_code == 404
    assert (await client.get("/api/evals/compare", params={"run": 999999})).status_code == 404
    for path in ("/api/evals/runs/0", "/api/evals/runs/abc", "/api/evals/runs/99999999999", "/api/evals/compare"):
        assert (await client.get(path)).status_code == 422, path
    assert (await client.get("/api/evals/compare", params=[("run", 0)])).status_code == 422
    assert (await client.get("/api/evals/compare", params=[("run", i) for i in range(1, 9)])).status_code == 422
    assert (await client.get("/api/evals/runs", params={"limit": 0})).status_code == 422

    # Others are refused.
    user = await add_user("eval-reader", "user")
    for path in ("/api/evals/runs", f"/api/evals/runs/{first}", f"/api/evals/runs/{first}/report"):
        assert (await anon.get(path)).status_code == 401, path
        assert (await anon.get(path, headers=bearer_for(user))).status_code == 403, path
