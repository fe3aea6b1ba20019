"""The evaluation page's state (admins only): the runs, a page at a time, and the models compared side
by side per case: one run's models, or models of several runs (at most store.MAX_COMPARED runs).

Runs are made by the command line (`python -m remediation_app eval run`); the page only reads them,
through services/evals/store.py like the API. Every handler checks the admin on the server
(AdminState), the pager's included. What models answered is shown as text.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.components.pager import PagerState, fetch_page
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.pages.admin.kit_state import AdminState
from remediation_app.services.alert_text import clipped
from remediation_app.services.evals import store
from remediation_app.services.evals.report import run_public
from remediation_app.state import UNAVAILABLE, parse_id

TEXT_MAX = 200


@dataclasses.dataclass
class Column:
    key: str = ""
    label: str = ""  # "#3 openai/gpt-4o"
    run_id: str = ""
    passed: str = ""  # "12/26 (46%)"
    errors: str = ""
    cost_per_case: str = ""
    latency: str = ""  # "p50 3.1 s · p95 9.8 s"
    tool_calls: str = ""


@dataclasses.dataclass
class Cell:
    status: str = ""  # passed, failed, error, "" (not run)
    text: str = ""  # "✓ 100%"
    missed: str = ""  # the checks it missed, or its error


@dataclasses.dataclass
class CaseRow:
    case_id: str = ""
    title: str = ""
    difficulty: str = ""
    cells: list[Cell] = dataclasses.field(default_factory=list)


def _money(value: Any) -> str:
    return "n/a" if value is None else f"${float(value):.4f}"


def _seconds(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.1f} s"


def _run_row(run: dict[str, Any]) -> dict[str, str]:
    totals = run["totals"] or {}
    rates = "; ".join(f"{m}: {t['passed']}/{t['cases']}" for m, t in totals.items()) or ", ".join(run["models"])
    return {
        "id": str(run["id"]),
        "created_at": (run["created_at"] or "")[:19].replace("T", " "),
        "status": run["status"],
        "cases": str(run["cases"]),
        "models": clipped(rates, 400),
        "judge": run["judge_model"] or "rules only",
        "cost": _money(run["cost_usd"]),
    }


async def _runs(session: AsyncSession, limit: int, offset: int) -> tuple[list[dict[str, str]], int]:
    rows, total = await store.list_runs(session, limit=limit, offset=offset)
    return [_run_row(run_public(r)) for r in rows], total


_MARKS = {"passed": "✓", "failed": "✗", "error": "!"}


def _column(column: dict[str, Any]) -> Column:
    t = column["totals"] or {}
    cases = int(t.get("cases") or 0)
    return Column(
        key=column["key"],
        label=f"#{column['run_id']} {clipped(column['model'], 80)}",
        run_id=str(column["run_id"]),
        passed=f"{t.get('passed', 0)}/{cases} ({float(t.get('pass_rate') or 0) * 100:.0f}%)",
        errors=str(t.get("errors", 0)),
        cost_per_case=_money(t.get("cost_per_case_usd")),
        latency=f"p50 {_seconds(t.get('latency_p50_s'))} · p95 {_seconds(t.get('latency_p95_s'))}",
        tool_calls=str(t.get("tool_calls", 0)),
    )


def _row(row: dict[str, Any], keys: list[str]) -> CaseRow:
    cells = []
    for key in keys:
        cell = row["cells"].get(key)
        if cell is None:
            cells.append(Cell(text="-"))
            continue
        status = cell["status"]
        missed = ", ".join(cell["missed"])
        cells.append(
            Cell(
                status=status,
                text=f"{_MARKS.get(status, '?')} {cell['score'] * 100:.0f}%",
                missed=clipped(missed, TEXT_MAX),
            )
        )
    return CaseRow(
        case_id=row["case_id"], title=clipped(row["case_title"], TEXT_MAX), difficulty=row["difficulty"], cells=cells
    )


class AdminEvalsState(AdminState, PagerState, rx.State):
    compared: list[str] = []  # run ids, in the order added
    columns: list[Column] = []
    case_rows: list[CaseRow] = []

    def _nothing(self) -> str:
        return "No evaluation run yet: python -m remediation_app eval run --model MODEL --report report.html"

    async def _load(self) -> None:
        self._show_page(await fetch_page(_runs, self.page))
        if not self.compared and self.rows:
            self.compared = [self.rows[0]["id"]]  # the newest run, shown at once
        await self._compare()

    async def _page_turned(self, moved: bool) -> None:
        self._show_page(await fetch_page(_runs, self.page))

    async def _compare(self) -> None:
        ids = [int(i) for i in self.compared]
        if not ids:
            self.columns, self.case_rows = [], []
            return
        try:
            async with async_session() as session:
                comparison = await store.compare(session, ids)
        except store.RunNotFound as exc:  # deleted meanwhile: compare the others
            self.compared = [i for i in self.compared if i != str(exc.args[0])]
            await self._compare()
            return
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return
        keys = [c["key"] for c in comparison.columns]
        self.columns = [_column(c) for c in comparison.columns]
        self.case_rows = [_row(r, keys) for r in comparison.rows]

    @rx.event
    async def show_run(self, run_id: str):
        """Compare this run's models (alone)."""
        wanted = parse_id(run_id)
        if wanted is None:
            return
        self.compared = [str(wanted)]
        await self._compare()

    @rx.event
    async def add_run(self, run_id: str):
        """Add this run's models to the comparison."""
        wanted = parse_id(run_id)
        if wanted is None or str(wanted) in self.compared:
            return
        if len(self.compared) >= store.MAX_COMPARED:
            self._fail(f"At most {store.MAX_COMPARED} runs side by side.")
            return
        self.error = ""
        self.compared = [*self.compared, str(wanted)]
        await self._compare()

    @rx.event
    async def clear_comparison(self):
        self.compared, self.columns, self.case_rows, self.error = [], [], [], ""
