"""A run's report as one self-contained HTML page: totals, charts drawn as inline SVG (no script, no
CDN: it opens offline and can be mailed), the case-by-model matrix and each answer with its checks.

Everything a model or a case wrote is escaped: an answer is untrusted text.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remediation_app.models import EvalResult, EvalRun

_COLORS = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#84cc16", "#ec4899"]
_STATUS = {
    "passed": ("✓", "#15803d", "#dcfce7"),
    "failed": ("✗", "#b91c1c", "#fee2e2"),
    "error": ("!", "#92400e", "#fef3c7"),
}
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#111827}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #e5e7eb;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f9fafb}
.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#6b7280}.charts{display:flex;flex-wrap:wrap;gap:2em}
.cell{text-align:center;font-weight:600}details{margin:.4em 0}summary{cursor:pointer}
pre{white-space:pre-wrap;background:#f9fafb;padding:.5em;border-radius:4px;max-height:20em;overflow:auto}
.ok{color:#15803d}.no{color:#b91c1c}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.4f}"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def bar_chart(title: str, items: Sequence[tuple[str, float | None]], unit: str, *, percent: bool = False) -> str:
    """Horizontal bars, one per item (label, value); None is drawn as "n/a". `unit` "$" is a prefix."""
    width, label_w, bar_w, row_h = 560, 190, 250, 26
    top = max([v for _, v in items if v is not None] or [0.0]) or 1.0
    scale = 1.0 if percent else top
    height = 30 + row_h * len(items)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}"><title>{_e(title)}</title>',
        f'<text x="0" y="16" font-size="13" font-weight="600">{_e(title)}</text>',
    ]
    for index, (label, value) in enumerate(items):
        y = 28 + index * row_h
        shown = label if len(label) <= 28 else label[:27] + "…"
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{_e(shown)}</text>')
        if value is None:
            parts.append(f'<text x="{label_w}" y="{y + 14}" font-size="12" fill="#6b7280">n/a</text>')
            continue
        length = max(1.0, bar_w * min(value / scale, 1.0))
        color = _COLORS[index % len(_COLORS)]
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{length:.1f}" height="16" fill="{color}" rx="2"/>')
        text = f"{value * 100:.0f}%" if percent else f"${value:.4g}" if unit == "$" else f"{value:.4g}{unit}"
        parts.append(f'<text x="{label_w + length + 6:.1f}" y="{y + 14}" font-size="12">{_e(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _totals_table(totals: dict[str, dict[str, Any]]) -> str:
    head = [
        "model",
        "cases",
        "passed",
        "pass rate",
        "errors",
        "cost",
        "cost / case",
        "judge cost",
        "p50",
        "p95",
        "tokens in/out",
        "tool calls",
    ]
    rows = []
    for model, t in totals.items():
        cells = [
            f"<td>{_e(model)}</td>",
            *(
                f'<td class="num">{_e(v)}</td>'
                for v in (
                    t["cases"],
                    t["passed"],
                    f"{t['pass_rate'] * 100:.0f}%",
                    t["errors"],
                    _money(t["cost_usd"]),
                    _money(t["cost_per_case_usd"]),
                    _money(t["judge_cost_usd"]),
                    _seconds(t["latency_p50_s"]),
                    _seconds(t["latency_p95_s"]),
                    f"{t['prompt_tokens']:,} / {t['completion_tokens']:,}",
                    t["tool_calls"],
                )
            ),
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    header = "".join(f"<th>{h}</th>" for h in head)
    return f'<table id="totals"><tr>{header}</tr>{"".join(rows)}</table>'


def _matrix(models: Sequence[str], results: Sequence[EvalResult]) -> str:
    by_case: dict[str, dict[str, EvalResult]] = {}
    titles: dict[str, str] = {}
    for result in results:
        by_case.setdefault(result.case_id, {})[result.model] = result
        titles[result.case_id] = result.case_title
    header = "<th>case</th>" + "".join(f"<th>{_e(m)}</th>" for m in models)
    rows = []
    for case_id in sorted(by_case):
        link = f'<a href="#case-{_e(case_id)}">{_e(case_id)}</a>'
        cells = [f'<td>{link}<br><span class="muted">{_e(titles[case_id])}</span></td>']
        for model in models:
            found = by_case[case_id].get(model)
            if found is None:
                cells.append('<td class="cell muted">-</td>')
                continue
            mark, fg, bg = _STATUS.get(found.status, ("?", "#111827", "#fff"))
            missed = ", ".join(c["name"] for c in found.checks if not c.get("ok")) or found.error[:200]
            cells.append(
                f'<td class="cell" style="color:{fg};background:{bg}" title="{_e(missed)}" '
                f'data-status="{_e(found.status)}">{mark} {found.score * 100:.0f}%</td>'
            )
        rows.append(f'<tr data-case="{_e(case_id)}">{"".join(cells)}</tr>')
    return f'<table id="matrix"><tr>{header}</tr>{"".join(rows)}</table>'


def _check_line(check: dict[str, Any]) -> str:
    mark = '<span class="ok">✓</span>' if check.get("ok") else '<span class="no">✗</span>'
    how = []
    if check.get("rule"):
        how.append(f"matched {_e(check['rule'])}")
    if check.get("judge") is not None:
        how.append(
            f"judge: {'yes' if check['judge'] else 'no'}" + (f" ({_e(check['reason'])})" if check.get("reason") else "")
        )
    return f"<li>{mark} {_e(check['kind'])} <b>{_e(check['name'])}</b> {'; '.join(how)}</li>"


def _details(results: Sequence[EvalResult]) -> str:
    out = []
    for case_id in sorted({r.case_id for r in results}):
        rows = [r for r in results if r.case_id == case_id]
        out.append(f'<h3 id="case-{_e(case_id)}">{_e(case_id)}: {_e(rows[0].case_title)}</h3>')
        for r in rows:
            body = [
                f"<p>{_e(r.status)}, score {r.score * 100:.0f}%, {_seconds(r.latency_ms / 1000)}, "
                f"{_money(r.cost_usd)}, {r.tool_calls} tool calls</p>"
            ]
            if r.error:
                body.append(f'<p class="no">error: {_e(r.error)}</p>')
            if r.root_cause:
                body.append(f"<pre>{_e(r.root_cause)}</pre>")
            body.append("<ul>" + "".join(_check_line(c) for c in r.checks) + "</ul>")
            judge = r.judge or {}
            if judge.get("summary") or judge.get("error"):
                body.append(
                    f'<p class="muted">judge {_e(judge.get("model", ""))}: {_e(judge.get("summary", ""))} '
                    f"{_e(judge.get('error', ''))}</p>"
                )
            out.append(f"<details><summary>{_e(r.model)}: {_e(r.status)}</summary>{''.join(body)}</details>")
    return "".join(out)


def report_html(run: EvalRun, results: Sequence[EvalResult]) -> str:
    totals = run.totals
    models = list(totals) or list(run.models)
    charts = [
        bar_chart("Pass rate", [(m, totals[m]["pass_rate"]) for m in models], "", percent=True),
        bar_chart("Cost per case", [(m, totals[m]["cost_per_case_usd"]) for m in models], "$"),
        bar_chart("Latency p50 (s)", [(m, totals[m]["latency_p50_s"]) for m in models], " s"),
        bar_chart("Latency p95 (s)", [(m, totals[m]["latency_p95_s"]) for m in models], " s"),
        bar_chart(
            "Tool calls per case", [(m, totals[m]["tool_calls"] / max(1, totals[m]["cases"])) for m in models], ""
        ),
    ]
    facts = [
        f"status <b>{_e(run.status)}</b>" + (f" ({_e(run.note)})" if run.note else ""),
        f"{len(run.case_ids)} cases from {_e(run.cases_path or 'the shipped set')}",
        f"judge {_e(run.judge_model) if run.judge_model else 'none (rules only)'}",
        f"total cost {_money(run.cost_usd)}" + (f" of a ${run.budget_usd:g} cap" if run.budget_usd else ""),
        f"started {_e(run.created_at.isoformat(timespec='seconds'))}",
    ]
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Evaluation run #{run.id}</title>'
        f"<style>{_CSS}</style></head><body><h1>Evaluation run #{run.id}</h1>"
        f"<p>{' · '.join(facts)}</p><h2>Totals per model</h2>{_totals_table(totals)}"
        f'<div class="charts">{"".join(charts)}</div><h2>Cases by model</h2>{_matrix(models, results)}'
        f"<h2>Answers and checks</h2>{_details(results)}</body></html>"
    )
