"""Every database table (plain SQLModel; no reflex import), one module per domain.

`from remediation_app.models import X` is how the rest of the code (and alembic/env.py) reaches a
table: importing this package defines every table on SQLModel.metadata and registers every encrypted
column (crypto.ENCRYPTED_COLUMNS) for rotate-keys. A new domain module:

1. `models/<domain>.py` with its tables, using `ts_field`/`json_field`/`SHORT` from models/base.py
   and calling `register_encrypted_column` (remediation_app/crypto.py) next to any column that holds
   a Fernet token;
2. an import of its public names below, and the names in `__all__`;
3. an Alembic migration in alembic/versions/ that creates its tables on SQLite and PostgreSQL (after
   `alembic upgrade head`, alembic's compare_metadata against SQLModel.metadata finds nothing).

A table module imports only models/base.py and crypto.py (never services: crypto.py sits below the
models); a foreign key names its target table as a string ("alerts.id"), so no domain module imports
another.
"""

from remediation_app.models.alerts import (
    Alert,
    AlertNotification,
    AlertStatus,
    Notification,
    Rule,
    RuleAction,
    RuleSetVersion,
)
from remediation_app.models.app_secrets import AppSecret
from remediation_app.models.audit import AuditEvent
from remediation_app.models.base import SHORT, UTCDateTime, utcnow
from remediation_app.models.diagnostics import OPEN_PROPOSALS, DiagnosticPolicy, DiagnosticProposal, ProposalStatus
from remediation_app.models.evals import EvalResult, EvalResultStatus, EvalRun, EvalRunStatus
from remediation_app.models.investigation import Datasource, Evidence
from remediation_app.models.llm import (
    IN_FLIGHT,
    Analysis,
    AnalysisJob,
    ChatMessage,
    Conversation,
    JobStatus,
    LLMProvider,
)
from remediation_app.models.memory import FixStatus, IncidentOutcome, Verdict
from remediation_app.models.notify import DeliveryStatus, NotifyDelivery, NotifyRoute
from remediation_app.models.oncall import AlertmanagerConn, Incident, Silence
from remediation_app.models.terminal import SSHServer, TerminalRecordingChunk, TerminalSession, TerminalTicket
from remediation_app.models.users import KnownClient, KnownClientKind, LoginAttempt, Role, User

__all__ = [
    "IN_FLIGHT",
    "OPEN_PROPOSALS",
    "SHORT",
    "Alert",
    "AlertNotification",
    "AlertStatus",
    "AlertmanagerConn",
    "Analysis",
    "AnalysisJob",
    "AppSecret",
    "AuditEvent",
    "ChatMessage",
    "Conversation",
    "Datasource",
    "DeliveryStatus",
    "DiagnosticPolicy",
    "DiagnosticProposal",
    "EvalResult",
    "EvalResultStatus",
    "EvalRun",
    "EvalRunStatus",
    "Evidence",
    "FixStatus",
    "Incident",
    "IncidentOutcome",
    "JobStatus",
    "KnownClient",
    "KnownClientKind",
    "LLMProvider",
    "LoginAttempt",
    "Notification",
    "NotifyDelivery",
    "NotifyRoute",
    "ProposalStatus",
    "Role",
    "Rule",
    "RuleAction",
    "RuleSetVersion",
    "SSHServer",
    "Silence",
    "TerminalRecordingChunk",
    "TerminalSession",
    "TerminalTicket",
    "UTCDateTime",
    "User",
    "Verdict",
    "utcnow",
]
