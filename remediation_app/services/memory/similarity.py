"""Incident memory: past outcomes that look like an alert, best first.

Candidates come from three bounded queries: outcomes of the same alertname (indexed), outcomes whose
labels share a name=value pair with the alert (the newest SCAN_MAX read, compared in Python: label
sets are JSON), and a full-text search of the alert's summary and description words in the
outcomes' text (SQLite: the FTS5 table `outcomes_fts`, bm25; PostgreSQL: the GIN-indexed tsvector,
websearch_to_tsquery with the words OR-ed, ts_rank; see models/memory.py). No external service.

Ranked: the same alertname first; then, among equals, verified fixes first; then more shared labels;
then the text score (relative to the best match); then the newest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert, FixStatus, IncidentOutcome
from remediation_app.models.memory import SEARCH_DOCUMENT_PG
from remediation_app.services.memory.outcomes import outcome_public

SCAN_MAX = 1000  # newest outcomes compared label by label
NAME_MAX = 200  # outcomes of the same alertname read
TEXT_MAX = 100  # full-text matches read
WORDS_MAX = 24  # distinct words of the summary and description searched
SHOWN = 10
# Labels nearly every alert shares: sharing them says nothing.
IGNORED_LABELS = frozenset({"alertname", "severity", "prometheus", "replica", "monitor"})
_STOP_TEXT = (
    "the and for are was were has have had this that with from into than then there their been being not but "
    "all any can its per via over under more less when what which who will would should could"
)
STOP_WORDS = frozenset(_STOP_TEXT.split())
_WORD = re.compile(r"[^\W_]{3,40}")


@dataclass
class SimilarIncident:
    outcome: IncidentOutcome
    same_alertname: bool
    shared_labels: list[str] = field(default_factory=list)
    text_score: float = 0.0


def search_words(alert: Alert) -> list[str]:
    """The words of the alert's summary and description searched for (letters and digits, 3+ long)."""
    annotations = alert.annotations or {}
    text = f"{alert.summary} {annotations.get('summary', '')} {annotations.get('description', '')}"[:20_000]
    words: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in STOP_WORDS and word != "or" and not word.isdigit():
            words.setdefault(word, None)
        if len(words) >= WORDS_MAX:
            break
    return list(words)


def shared_labels(labels: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """The name=value pairs `other` (an outcome's labels: at most LABELS_MAX) shares with `labels`
    (the alert's, of any size: only looked up)."""
    return sorted(
        f"{name}={value}"
        for name, value in other.items()
        if name not in IGNORED_LABELS and value and labels.get(name) == value
    )


async def text_matches(session: AsyncSession, words: list[str]) -> dict[int, float]:
    """Outcome id -> text score (the best match 1.0), for the outcomes matching any of `words`."""
    if not words:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        query = sa.text(
            f"SELECT id, ts_rank({SEARCH_DOCUMENT_PG}, websearch_to_tsquery('english', :q)) AS score "  # noqa: S608 (a constant)
            f"FROM outcomes WHERE {SEARCH_DOCUMENT_PG} @@ websearch_to_tsquery('english', :q) "
            "ORDER BY score DESC LIMIT :n"
        )
        params: dict[str, Any] = {"q": " or ".join(words), "n": TEXT_MAX}
    else:
        # bm25() is lower for better matches; the words are letters and digits, quoted as FTS5 strings.
        query = sa.text(
            "SELECT rowid, -bm25(outcomes_fts) AS score FROM outcomes_fts WHERE outcomes_fts MATCH :q "
            "ORDER BY bm25(outcomes_fts) LIMIT :n"
        )
        params = {"q": " OR ".join(f'"{word}"' for word in words), "n": TEXT_MAX}
    rows = (await session.exec(query, params=params)).all()  # type: ignore[call-overload]
    best = max((float(score) for _id, score in rows), default=0.0)
    return {int(outcome_id): (float(score) / best if best > 0 else 0.0) for outcome_id, score in rows}


@dataclass
class _Candidate:
    outcome_id: int
    same_alertname: bool
    shared_labels: list[str]
    text_score: float
    verified: bool
    created: float

    def rank(self) -> tuple[bool, bool, int, float, float]:
        return (self.same_alertname, self.verified, len(self.shared_labels), self.text_score, self.created)


def _light() -> Any:
    """The columns ranking needs: the rows' text is read only for the few shown."""
    o = IncidentOutcome
    return sa.select(col(o.id), col(o.alertname), col(o.labels), col(o.fix_status), col(o.created_at))


async def _candidates(session: AsyncSession, alert: Alert) -> list[_Candidate]:
    labels = alert.labels or {}
    same = await session.exec(
        _light()
        .where(col(IncidentOutcome.alertname) == alert.alertname, col(IncidentOutcome.alert_id) != alert.id)
        .order_by(col(IncidentOutcome.id).desc())
        .limit(NAME_MAX)
    )
    newest = _light().where(col(IncidentOutcome.alert_id) != alert.id).order_by(col(IncidentOutcome.id).desc())
    scanned = await session.exec(newest.limit(SCAN_MAX))
    rows = {row[0]: row for row in [*same.all(), *scanned.all()]}
    scores = await text_matches(session, search_words(alert))
    missing = set(scores) - set(rows)
    if missing:
        more = await session.exec(
            _light().where(col(IncidentOutcome.id).in_(missing), col(IncidentOutcome.alert_id) != alert.id)
        )
        rows.update({row[0]: row for row in more.all()})
    found = []
    for outcome_id, alertname, their_labels, fix_status, created_at in rows.values():
        same_name = alertname == alert.alertname
        shared = shared_labels(labels, dict(their_labels or {}))
        if outcome_id is None or not (same_name or shared or outcome_id in scores):
            continue
        verified = fix_status == FixStatus.VERIFIED.value
        found.append(
            _Candidate(outcome_id, same_name, shared, scores.get(outcome_id, 0.0), verified, created_at.timestamp())
        )
    return found


async def similar_incidents(session: AsyncSession, alert: Alert, *, limit: int = SHOWN) -> list[SimilarIncident]:
    """Past outcomes like `alert` (never its own), best first (see the module)."""
    best = sorted(await _candidates(session, alert), key=_Candidate.rank, reverse=True)[:limit]
    if not best:
        return []
    loaded = await session.exec(
        select(IncidentOutcome).where(col(IncidentOutcome.id).in_([c.outcome_id for c in best]))
    )
    by_id = {row.id: row for row in loaded.all()}
    return [
        SimilarIncident(by_id[c.outcome_id], c.same_alertname, c.shared_labels, c.text_score)
        for c in best
        if c.outcome_id in by_id
    ]


async def seen_before(session: AsyncSession, alert: Alert) -> int:
    """Earlier occurrences of the same alert (same fingerprint: the same label set)."""
    count = await session.exec(
        select(func.count())
        .select_from(Alert)
        .where(col(Alert.fingerprint) == alert.fingerprint, col(Alert.starts_at) < alert.starts_at)
    )
    return int(count.one())


def fix_line(row: IncidentOutcome, limit: int = 160) -> str:
    """The fix in one line: its text's first line, else its first command."""
    text = next((line.strip() for line in row.fix.splitlines() if line.strip()), "")
    if not text and row.commands:
        text = row.commands[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def headline(seen: int, similar: list[SimilarIncident]) -> dict[str, Any]:
    """ "Seen N times before; last fixed by ... (verified)": the newest verified fix among the similar
    incidents, else the newest fix."""
    fixed = [s for s in similar if fix_line(s.outcome)]
    verified = [s for s in fixed if s.outcome.fix_status == FixStatus.VERIFIED.value]
    last = max(verified or fixed, key=lambda s: s.outcome.created_at, default=None)
    return {
        "seen": seen,
        "similar": len(similar),
        "last_fix": fix_line(last.outcome) if last else "",
        "last_fix_status": last.outcome.fix_status if last else "",
        "last_fix_alert_id": last.outcome.alert_id if last else None,
    }


def similar_public(item: SimilarIncident) -> dict[str, Any]:
    row = item.outcome
    return {
        "alert_id": row.alert_id,
        "alertname": row.alertname,
        "summary": row.summary,
        "same_alertname": item.same_alertname,
        "shared_labels": item.shared_labels,
        "text_score": round(item.text_score, 3),
        "outcome": outcome_public(row),
    }
