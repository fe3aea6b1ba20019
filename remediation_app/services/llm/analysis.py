"""The analysis prompt (the alert as quoted, delimited data: prompts/analysis_*.j2) and a parser that
never fails on model output."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from remediation_app.models import Alert
from remediation_app.services.llm.prompts import GROUP_DATA_MAX, render
from remediation_app.services.records import isoformat

log = logging.getLogger(__name__)
URGENCIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
RISKS = ("low", "medium", "high")
# Bounds on what goes into the prompt (tokens cost money) and what is kept from the answer.
VALUE_MAX = 2000
TEXT_MAX = 8000
ITEMS_MAX = 20
RAW_MAX = 100_000

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "root_cause": {"type": "string", "description": "the most likely cause, with the evidence for it"},
        "root_cause_evidence": {
            "type": "array",
            "items": {"type": "string"},
            "description": "ids of the evidence items (E1, E2, ...) the root cause rests on",
        },
        "hypotheses": {
            "type": "array",
            "description": "two or three competing explanations, most likely first",
            "items": {
                "type": "object",
                "properties": {
                    "explanation": {"type": "string"},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "supports": {"type": "array", "items": {"type": "string"}, "description": "evidence ids"},
                    "contradicts": {"type": "array", "items": {"type": "string"}, "description": "evidence ids"},
                },
                "required": ["explanation", "confidence"],
            },
        },
        "inconclusive": {"type": "boolean", "description": "true when the evidence supports no explanation"},
        "impact": {"type": "string", "description": "who or what is affected and how badly"},
        "immediate_actions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "command": {"type": "string", "description": "a shell command, or empty"},
                    "risk": {"type": "string", "enum": list(RISKS)},
                },
                "required": ["description"],
            },
        },
        "remediation_steps": {"type": "array", "items": {"type": "string"}},
        "prevention": {"type": "array", "items": {"type": "string"}},
        "urgency": {"type": "string", "enum": list(URGENCIES)},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "needs_human": {"type": "boolean"},
    },
    "required": ["root_cause", "impact", "immediate_actions", "remediation_steps", "urgency", "confidence"],
}
SCHEMA_TEXT = json.dumps(SCHEMA)  # as the system prompt shows it, dumped once


def _cut(value: Any, limit: int = VALUE_MAX) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + " …[cut]"


def alert_data(alert: Alert) -> dict[str, Any]:
    """What the model is told about the alert, each value bounded."""
    return {
        "alertname": _cut(alert.alertname),
        "status": alert.status,
        "severity": _cut(alert.severity),
        "instance": _cut(alert.instance),
        "job": _cut(alert.job),
        "starts_at": alert.starts_at.isoformat(),
        "ends_at": isoformat(alert.ends_at),
        "times_notified": alert.times_notified,
        "labels": {_cut(k, 200): _cut(v) for k, v in sorted(alert.labels.items())[:100]},
        "annotations": {_cut(k, 200): _cut(v) for k, v in sorted(alert.annotations.items())[:50]},
    }


def build_messages(
    alert: Alert,
    *,
    evidence: str = "",
    consulted: str = "",
    nonce: str | None = None,
    incident: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The system prompt and the question. `evidence`: the gathered evidence as text (each item headed
    by its id); `consulted`: one line on what was (not) consulted, e.g. "no metrics datasource";
    `incident`: for a group analysis (storm control), the incident and its alerts
    (incident_prompt.incident_data), quoted before the alert."""
    nonce = nonce or secrets.token_hex(8)
    system = render("analysis_system.j2", schema=SCHEMA_TEXT, nonce=nonce, incident=incident)
    user = render(
        "analysis_user.j2",
        alert=alert_data(alert),
        evidence=evidence,
        consulted=consulted,
        nonce=nonce,
        incident=incident,
        incident_max=GROUP_DATA_MAX,
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@dataclass
class Parsed:
    structured: bool
    result: dict[str, Any] = field(default_factory=dict)
    urgency: str = ""


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)


def _candidates(text: str) -> list[Any]:
    """Every JSON object the text plausibly holds: whole, fenced, or the first `{...}` with trailing text."""
    found: list[Any] = []
    stripped = text.strip()
    with contextlib.suppress(ValueError, RecursionError):
        found.append(json.loads(stripped))
    for match in _FENCE.finditer(text):
        with contextlib.suppress(ValueError, RecursionError):
            found.append(json.loads(match.group(1)))
    decoder = json.JSONDecoder()
    start = text.find("{")
    tries = 0
    while start != -1 and tries < 20:
        tries += 1
        try:
            value, _end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            start = text.find("{", start + 1)
            continue
        found.append(value)
        break
    return found


def _text(value: Any, limit: int = TEXT_MAX) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = "\n".join(f"- {_text(v, limit)}" for v in value[:ITEMS_MAX])
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    return _cut(str(value).strip(), limit)


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    items = []
    for item in value[:ITEMS_MAX]:
        if isinstance(item, dict):
            item = item.get("description") or item.get("step") or item.get("text") or json.dumps(item)
        text = _text(item)
        if text:
            items.append(text)
    return items


def _actions(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    actions = []
    for item in value[:ITEMS_MAX]:
        if isinstance(item, dict):
            description = _text(item.get("description") or item.get("action") or item.get("step"))
            command = _text(item.get("command") or "", 4000)
            risk = str(item.get("risk") or "").strip().lower()
        else:
            description, command, risk = _text(item), "", ""
        if description or command:
            actions.append({"description": description, "command": command, "risk": risk if risk in RISKS else ""})
    return actions


def _confidence(value: Any) -> float | None:
    try:
        number = float(str(value).strip().rstrip("%")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    if (isinstance(value, str) and value.strip().endswith("%")) or 1 < number <= 100:
        number /= 100
    return min(1.0, max(0.0, number))


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "false", "no"):
        return value.strip().lower() in ("true", "yes")
    return None


_REF = re.compile(r"\bE(\d{1,4})\b")


def _refs(value: Any, known: frozenset[str]) -> list[str]:
    """Evidence ids cited in `value` (a list or a text), only those that exist, each once, in order.
    An id the model made up is dropped: a claim must not look supported by evidence that is not there."""
    items = value if isinstance(value, list) else [value]
    found: list[str] = []
    for item in items[:ITEMS_MAX]:
        for number in _REF.findall(str(item)[:200]):
            ref = f"E{int(number)}"
            if ref in known and ref not in found:
                found.append(ref)
    return found


def _hypotheses(value: Any, known: frozenset[str]) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    found: list[tuple[float, dict[str, Any]]] = []
    for item in value[:5]:
        if isinstance(item, dict):
            lowered = {str(k).strip().lower(): v for k, v in item.items()}
            text = _text(lowered.get("explanation") or lowered.get("hypothesis") or lowered.get("description"))
            confidence = _confidence(lowered.get("confidence"))
            supports = _refs(lowered.get("supports") or lowered.get("evidence") or [], known)
            contradicts = _refs(lowered.get("contradicts") or [], known)
        else:
            text, confidence, supports, contradicts = _text(item), None, [], []
        if text:
            hypothesis = {
                "explanation": text,
                "confidence": confidence,
                "supports": supports,
                "contradicts": contradicts,
            }
            found.append((confidence or 0.0, hypothesis))
    found.sort(key=lambda pair: -pair[0])  # stable: equal confidences keep the model's order
    return [hypothesis for _, hypothesis in found]


def normalize(data: dict[str, Any], known: frozenset[str] = frozenset()) -> Parsed | None:
    """A schema-shaped result from a decoded object, or None if it is not an analysis at all.
    `known`: the evidence ids that exist; citations of any other id are dropped."""
    lowered = {str(k).strip().lower(): v for k, v in data.items()}
    if "analysis" in lowered and isinstance(lowered["analysis"], dict) and "root_cause" not in lowered:
        return normalize(lowered["analysis"], known)
    if not any(k in lowered for k in ("root_cause", "impact", "immediate_actions", "remediation_steps")):
        return None
    urgency = str(lowered.get("urgency") or "").strip().upper()
    result = {
        "root_cause": _text(lowered.get("root_cause")),
        "root_cause_evidence": _refs(lowered.get("root_cause_evidence") or [], known),
        "hypotheses": _hypotheses(lowered.get("hypotheses"), known),
        "inconclusive": _bool(lowered.get("inconclusive")) is True,
        "impact": _text(lowered.get("impact")),
        "immediate_actions": _actions(lowered.get("immediate_actions")),
        "remediation_steps": _strings(lowered.get("remediation_steps")),
        "prevention": _strings(lowered.get("prevention")),
        "confidence": _confidence(lowered.get("confidence")),
        "needs_human": _bool(lowered.get("needs_human")),
    }
    return Parsed(structured=True, result=result, urgency=urgency if urgency in URGENCIES else "")


def parse_analysis(text: str, evidence_refs: frozenset[str] = frozenset()) -> Parsed:
    """Never raises: a structured result if any JSON object in the text is an analysis, else unstructured."""
    try:
        for candidate in _candidates(text[:RAW_MAX]):
            if isinstance(candidate, dict):
                parsed = normalize(candidate, evidence_refs)
                if parsed is not None:
                    return parsed
    except Exception:  # model output is hostile input: nothing it holds may crash the worker
        log.warning("analysis parser failed; keeping the raw text", exc_info=True)
    return Parsed(structured=False)
