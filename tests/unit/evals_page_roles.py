"""Role decisions for the evaluations page (AdminEvalsState), registered into
test_reflex_handlers_roles.DECISIONS (that module imports this one).

Admins only: anonymous and users are refused, the tab forgets what it held, nothing changes. An
admin sees the runs and the models of the compared runs side by side.
"""

from __future__ import annotations

import functools
from typing import Any

from tests.support.evals import stored_run
from tests.unit.test_reflex_handlers_roles import (
    DECISIONS,
    ROLES,
    World,
    _setvar,
    _state_cls,
    call,
    db_snapshot,
    decides,
    expect_refused,
    redirect_of,
)

EVALS = "AdminEvalsState"


def evals_show(page: Any) -> bool:
    return bool(page.rows or page.total or page.compared or page.columns or page.case_rows)


DECISIONS[(EVALS, "setvar")] = functools.partial(_setvar, cls_name=EVALS, protected=evals_show)


@decides(
    (EVALS, "load"),
    (EVALS, "next_page"),
    (EVALS, "previous_page"),
    (EVALS, "show_run"),
    (EVALS, "add_run"),
    (EVALS, "clear_comparison"),
)
async def _evals(w: World, name: str) -> None:
    first = await stored_run({"openai/gpt-4o-mini": {"disk": "passed", "dns": "failed"}})
    second = await stored_run({"ollama/llama3": {"disk": "failed", "dns": "error"}})
    args = {"show_run": [str(first)], "add_run": [str(second)]}.get(name, [])
    before = await db_snapshot()
    for role in ROLES:
        page = w.state(_state_cls(EVALS), role, path="/admin/evals")
        if name in ("add_run", "clear_comparison"):
            page.compared = [str(first)]
        result = await call(page, name, *args)
        if role != "admin":
            expect_refused(result, role)
            assert not evals_show(page), (name, role)
            continue
        assert redirect_of(result) is None, result
        if name == "load":
            assert [r["id"] for r in page.rows] == [str(second), str(first)] and page.total == 2
            assert page.compared == [str(second)]  # the newest run, at once
            assert [c.label for c in page.columns] == [f"#{second} ollama/llama3"]
            assert [[c.status for c in row.cells] for row in page.case_rows] == [["failed"], ["error"]]
        elif name == "show_run":
            assert page.compared == [str(first)]
            assert [c.passed for c in page.columns] == ["1/2 (50%)"]
        elif name == "add_run":
            assert page.compared == [str(first), str(second)]
            assert [row.case_id for row in page.case_rows] == ["disk", "dns"]
            assert [c.text for c in page.case_rows[0].cells] == ["✓ 100%", "✗ 0%"]
        elif name == "clear_comparison":
            assert page.compared == [] and page.columns == [] and page.case_rows == []
    assert await db_snapshot() == before
