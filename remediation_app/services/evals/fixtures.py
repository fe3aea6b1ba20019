"""Does a case hold the evidence its rubric needs? The alert's expression (and, for a threshold, the
compared value) and every query a fact names in `needs` must answer with data when replayed; a case
that fails this would grade models on evidence they could never see."""

from __future__ import annotations

from remediation_app.models import utcnow
from remediation_app.services.evals.cases import Case
from remediation_app.services.evals.replay import CaseReplay
from remediation_app.services.investigation.promql import (
    ExpressionError,
    analyse_expression,
    expression_from_generator_url,
)


def needed_queries(case: Case) -> tuple[list[tuple[str, str]], list[str]]:
    """(why, query) for each query the case must answer, and the problems found on the way."""
    replay = CaseReplay(case, utcnow().replace(microsecond=0))
    alert = replay.alert()
    wanted: list[tuple[str, str]] = []
    problems: list[str] = []
    try:
        expr = expression_from_generator_url(alert.generator_url) if alert.generator_url else None
        if expr is None:
            problems.append("the alert's generatorURL carries no expression (g0.expr)")
        else:
            expression = analyse_expression(expr)
            wanted.append(("the alert's expression", expression.text))
            if expression.is_threshold and expression.value_expr != expression.text:
                wanted.append(("the compared value", expression.value_expr))
    except ExpressionError as exc:
        problems.append(f"the alert's expression: {exc}")
    for check in [*case.expected.facts, *case.expected.forbidden]:
        wanted.extend((f"fact {check.name!r}", query) for query in check.needs)
    return wanted, problems


def unanswered(case: Case) -> list[str]:
    """What the case lacks: each needed query that answers no data over the alert's window."""
    replay = CaseReplay(case, utcnow().replace(microsecond=0))
    alert = replay.alert()
    wanted, problems = needed_queries(case)
    start = min(alert.starts_at.timestamp() - 3600, replay.now_unix - 3600)
    for why, query in wanted:
        matrix = replay.answer(
            "api/v1/query_range", {"query": query, "start": str(start), "end": str(replay.now_unix), "step": "60"}
        )
        if matrix[0] != 200 or '"values"' not in matrix[1].decode():
            problems.append(f"{why} answers no data: {query}")
    return problems
