"""Recorded outcomes as evaluation cases (`eval export`): the alert as the model was given it, the
evidence as it was recorded, and a rubric from what people said happened. Everything is redacted
(investigation/redaction.py) before it is written: a case file leaves the engine.

From each outcome (services/memory/cases.py `labelled_cases`):
- the alert becomes the payload; its generatorURL is rebuilt from the expression that was queried;
- the evidence becomes the case's fixtures: each recorded range (the alert's expression, the
  compared value, the model's range queries) a query answered with the recorded points; related
  alerts and history as recorded; the commands people ran with their output;
- the rubric: the recorded root cause is the fact to state (judged: paraphrase is the norm; add
  `any:` phrases to check it without a judge); an analysis marked wrong gives its root cause as a
  claim not to make; a verified fix gives its commands as the fix.
An outcome with no root cause to check (none recorded, and no analysis marked right) is skipped.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.services.evals.cases import CaseError, parse_case
from remediation_app.services.evals.replay import DATASOURCE
from remediation_app.services.investigation.redaction import Redactor
from remediation_app.services.memory.cases import labelled_cases

RANGE_KINDS = ("metric", "metric_value", "tool_range")
HEADER = (
    "# Exported from a recorded outcome (python -m remediation_app eval export): evidence as recorded,\n"
    "# redacted. The root cause is checked by the judge (--judge-model); add `any:` phrases to a fact\n"
    "# to check it without one. Format: docs/evals.md\n"
)


@dataclass
class Exported:
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why each skipped outcome was


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "alert"


def _stdout(summary: str) -> str:
    if "stdout:\n" not in summary:
        return summary
    out = summary.split("stdout:\n", 1)[1]
    return out.split("\nstderr:\n", 1)[0]


def _fixtures(evidence: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The recorded ranges as query fixtures, and the alert's expression (for its generatorURL)."""
    fixtures: dict[str, dict[str, Any]] = {}
    expression = ""
    for item in evidence:
        if item.get("kind") == "metric" and item.get("query") and not expression:
            expression = item["query"]
        series = (item.get("data") or {}).get("series")
        if item.get("kind") not in RANGE_KINDS or not item.get("query") or not isinstance(series, list):
            continue
        specs = []
        for one in series:
            points = [p for p in one.get("points") or [] if isinstance(p, list) and len(p) == 2]
            if points:
                specs.append({"labels": dict(one.get("labels") or {}), "samples": [[_iso(t), v] for t, v in points]})
        fixtures.setdefault(item["query"], {"query": item["query"], "series": specs})
    return list(fixtures.values()), expression


def _store_items(evidence: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    related, history, diagnostics = [], [], []
    for item in evidence:
        data = item.get("data") or {}
        if item.get("kind") == "related_alerts":
            for other in data.get("alerts") or []:
                shared = {name: labels[name] for name in other.get("shared") or [] if name in labels}
                related.append(
                    {
                        "alertname": other.get("alertname", ""),
                        "severity": other.get("severity", ""),
                        "labels": shared,
                        "starts_at": other.get("starts_at"),
                        "summary": other.get("summary", ""),
                    }
                )
        elif item.get("kind") == "history":
            for seen in data.get("occurrences") or []:
                history.append({"starts_at": seen.get("starts_at"), "ends_at": seen.get("ends_at")})
        elif item.get("kind") == "diagnostic" and data.get("status") != "rejected":
            diagnostics.append(
                {
                    "command": item.get("query") or "(unknown)",
                    "server": item.get("datasource") or "host",
                    "stdout": _stdout(item.get("summary") or "")[:20_000],
                    "exit_status": data.get("exit_status"),
                }
            )
    return {"related_alerts": related, "history": history, "diagnostics": diagnostics[:10]}


def _rubric(outcome: dict[str, Any], analysis: dict[str, Any] | None) -> dict[str, Any] | None:
    given = str(((analysis or {}).get("result") or {}).get("root_cause") or "")
    truth = outcome.get("root_cause") or (given if outcome.get("verdict") == "right" else "")
    if not truth.strip():
        return None
    rubric: dict[str, Any] = {"facts": [{"name": "root-cause", "description": truth[:2000]}]}
    if outcome.get("verdict") == "wrong" and given.strip():
        rubric["forbidden"] = [{"name": "the-wrong-cause", "description": given[:2000]}]
    commands = [c for c in outcome.get("commands") or [] if c.strip()]
    if commands and (outcome.get("fix_check") or {}).get("status") == "verified":
        rubric["fix"] = {"description": (outcome.get("fix") or "the verified fix")[:2000], "any": commands[:20]}
    return rubric


def case_of(labelled: dict[str, Any]) -> dict[str, Any] | str:
    """One labelled outcome as a case document, or why it cannot be one."""
    outcome, alert, analysis = labelled["outcome"], labelled["alert"], labelled.get("analysis")
    rubric = _rubric(outcome, analysis)
    if rubric is None:
        return f"outcome {outcome['id']}: no root cause recorded (and no analysis marked right)"
    evidence = (analysis or {}).get("evidence") or []
    fixtures, expression = _fixtures(evidence)
    labels = dict(alert.get("labels") or {})
    entry: dict[str, Any] = {
        "status": alert.get("status") or "firing",
        "labels": labels,
        "annotations": dict(alert.get("annotations") or {}),
        "startsAt": alert["starts_at"],
    }
    if alert.get("ends_at"):
        entry["endsAt"] = alert["ends_at"]
    if expression:
        entry["generatorURL"] = f"{DATASOURCE.url}/graph?{urlencode({'g0.expr': expression, 'g0.tab': '1'})}"
    now = (analysis or {}).get("created_at") or outcome.get("created_at")
    return {
        "id": f"outcome-{outcome['id']}-{_slug(str(alert.get('alertname', '')))}",
        "title": f"{alert.get('alertname', 'alert')} on {alert.get('instance') or 'no instance'} "
        f"(outcome #{outcome['id']})"[:200],
        "description": f"Recorded by {outcome.get('created_by', '')}: the analysis was {outcome.get('verdict')}. "
        f"Fix: {outcome.get('fix') or '(none recorded)'}"[:4000],
        "tags": [*(outcome.get("tags") or [])[:15], "exported", f"verdict-{outcome.get('verdict')}"],
        "source": f"outcome {outcome['id']} of alert {alert.get('id')}",
        "now": now,
        "payload": {"version": "4", "status": entry["status"], "receiver": "exported", "alerts": [entry]},
        "queries": fixtures,
        **_store_items(evidence, labels),
        "expected": rubric,
    }


def _write(target: Path, text: str) -> None:
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)  # readers never see half a file


def dump_case(document: dict[str, Any]) -> str:
    body: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
    return HEADER + body


async def export_cases(session: AsyncSession, out: Path, *, limit: int | None = None) -> Exported:
    """Write each labelled outcome as `<out>/<case id>.yaml` (redacted), checked by loading it back."""
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    result = Exported()
    after = 0
    while limit is None or len(result.written) < limit:
        page = await labelled_cases(session, after_id=after, limit=100)
        if not page:
            break
        after = page[-1]["outcome"]["id"]
        for labelled in page:
            document = case_of(labelled)
            if isinstance(document, str):
                result.skipped.append(document)
                continue
            text = dump_case(Redactor().redact_data(document))
            target = out / f"{document['id']}.yaml"
            try:
                parse_case(text, str(target))
            except CaseError as exc:
                result.skipped.append(f"outcome {labelled['outcome']['id']}: {exc}")
                continue
            await asyncio.to_thread(_write, target, text)
            result.written.append(target)
            if limit is not None and len(result.written) >= limit:
                break
    return result
