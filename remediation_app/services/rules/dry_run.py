"""The rules page's dry run and display helpers (no reflex import): a pasted notification read as
the webhook reads it, every alert explained against a rule set, and the text shapes a page shows.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from remediation_app.models import Rule
from remediation_app.services.alertmanager.payload import NotificationIn
from remediation_app.services.rules.engine import FIELD_LABELS, Decision, RuleSet, RuleValidationError

DRAFT_SUFFIX = " (draft)"
MAX_PAYLOAD_BYTES = 512 * 1024
MAX_ALERTS = 50

Labelled = tuple[str, dict[str, str]]  # (what the alert is, in a few words; its labels)


class PayloadError(ValueError):
    """A pasted notification that cannot be tested; the message says why."""


def _payload_error(exc: ValidationError) -> str:
    problems = [f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}" for err in exc.errors()[:5]]
    more = len(exc.errors()) - len(problems)
    return "Not an Alertmanager notification: " + "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def alerts_from_payload(text: str) -> list[Labelled]:
    """The alerts (at most MAX_ALERTS) of a pasted notification, validated like the webhook's payload."""
    if not text.strip():
        raise PayloadError("Paste an Alertmanager notification (JSON) first.")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"The payload is larger than {MAX_PAYLOAD_BYTES} bytes.")
    try:
        payload = NotificationIn.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise PayloadError(f"Not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise PayloadError("Not accepted: the JSON is nested too deeply.") from None
    except ValidationError as exc:
        raise PayloadError(_payload_error(exc)) from None
    if not payload.alerts:
        raise PayloadError("The notification has no alerts.")
    return [
        (f"{a.labels.get('alertname', '(no alertname)')} {a.labels.get('instance', '')}".strip(), dict(a.labels))
        for a in payload.alerts[:MAX_ALERTS]
    ]


def trace_rows(decision: Decision) -> list[dict[str, str]]:
    rows = []
    for step in decision.trace:
        if not step.enabled:
            verdict = "disabled"
        elif not step.usable:
            verdict = "not usable"
        else:
            verdict = "match" if step.matched else "no match"
        rows.append(
            {
                "rule": step.rule,
                "priority": str(step.priority),
                "verdict": verdict,
                "reasons": "; ".join(step.reasons),
                "draft": "yes" if step.rule.endswith(DRAFT_SUFFIX) else "",
            }
        )
    return rows


def explain_all(rule_set: RuleSet, alerts: list[Labelled]) -> tuple[list[dict[str, str]], list[list[dict[str, str]]]]:
    """One result row per alert (who wins, why), and each alert's trace."""
    results, traces = [], []
    for index, (what, labels) in enumerate(alerts):
        decision = rule_set.explain(labels)
        results.append(
            {
                "index": str(index),
                "alert": what,
                "action": decision.action,
                "rule": decision.rule_name or "(no rule: default)",
                "reason": decision.reason,
                "draft": "yes" if decision.rule_name.endswith(DRAFT_SUFFIX) else "",
            }
        )
        traces.append(trace_rows(decision))
    return results, traces


def label_lines(patterns: dict[str, str]) -> str:
    """Label patterns as the editor shows them: one name=pattern a line."""
    return "\n".join(f"{name}={pattern}" for name, pattern in sorted(patterns.items()))


def parse_label_lines(text: str) -> dict[str, str]:
    patterns: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, pattern = line.partition("=")
        name = name.strip()
        if not sep or not name:
            raise RuleValidationError("labels", f"line {number}: expected name=pattern")
        if name in patterns:
            raise RuleValidationError("labels", f"line {number}: label {name!r} appears twice")
        patterns[name] = pattern.strip()
    return patterns


def match_summary(rule: Rule) -> str:
    parts = [f"{label}={getattr(rule, attr)}" for attr, label in FIELD_LABELS.items() if getattr(rule, attr)]
    parts += [f"{label}={pattern}" for label, pattern in sorted((rule.label_patterns or {}).items()) if pattern]
    return ", ".join(parts) or "every alert"
