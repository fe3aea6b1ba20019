"""The model's side of approval-gated diagnostics, end to end against a real sshd and the scripted
provider (over real HTTP): in an analysis the model proposes through the tool it is offered, a person
approves, the command runs, and its output reaches the model's next request (a follow-up analysis)
and the evidence list; destructive proposals are refused and touch nothing. In the chat the proposal
is stored from the streamed tool call and the outcome (a rejection and its note) goes back to the model
with the next question."""

from __future__ import annotations

import platform
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from remediation_app.db import async_session
from remediation_app.models import Analysis, ChatMessage, Evidence
from remediation_app.services.diagnostics.runner import DiagnosticsRunner
from remediation_app.services.llm import chat
from remediation_app.services.llm.client import StreamResult
from remediation_app.services.llm.conversations import prepare_turn, save_answer
from remediation_app.services.llm.worker import AnalysisWorker
from tests.conftest import add_user
from tests.support import diagnostics, investigation
from tests.support.analysis_jobs import all_done, running, wait_jobs
from tests.support.diagnostics import add_server, proposals_of, run_pass
from tests.support.fake_llm import GOOD_ANALYSIS, RecordedRequest, Step, reply_json, stream, tool_call, tool_calls
from tests.support.investigation import analyse, evidence_block
from tests.support.payloads import am_alert

pytestmark = [pytest.mark.anyio, pytest.mark.ssh]
sshd, env, fake, litellm_loaded = diagnostics.sshd, investigation.env, investigation.fake, investigation.litellm_loaded
KERNEL = platform.release()  # `uname -r` on the sshd (this host)


@pytest.fixture
def sentinel() -> Iterator[Path]:
    directory = Path("/tmp") / f"re-sentinel-{uuid.uuid4().hex[:12]}"
    directory.mkdir()
    (directory / "keep").write_text("untouched")
    yield directory
    (directory / "keep").unlink(missing_ok=True)
    directory.rmdir()


def results_of(request: RecordedRequest) -> dict[str, str]:
    return {m["tool_call_id"]: str(m["content"]) for m in request.tool_messages}


async def test_a_proposal_approved_in_an_analysis_reaches_the_models_next_request(
    client, post_webhook, env, fake, sshd, sentinel
):
    env(LLM_TOOL_CALLING="on")
    await add_server(client, sshd)

    def propose(request: RecordedRequest) -> Step:
        offered = request.tool("propose_command")
        assert offered["parameters"]["properties"]["server"]["enum"] == ["web-1"]
        assert "a person allowed on that server approves" in offered["description"]
        ask = {"server": "web-1", "reason": "which kernel"}
        return tool_calls(
            [
                tool_call("propose_command", {**ask, "command": "uname -r"}, id="ok"),
                tool_call("propose_command", {**ask, "command": f"rm -rf {sentinel}"}, id="rm"),
                tool_call("propose_command", {**ask, "command": f"uname -r; rm -rf {sentinel}"}, id="chain"),
                tool_call("propose_command", {**ask, "command": f"uname -r > {sentinel}/keep"}, id="redirect"),
                tool_call("propose_command", {**ask, "server": "db-9", "command": "uname -r"}, id="unknown"),
            ]
        )

    def answer(request: RecordedRequest) -> Step:
        results = results_of(request)
        assert "waits for a person's approval" in results["ok"] and "answer now" in results["ok"]
        assert "`rm` is not a command the policy allows" in results["rm"]
        assert "`;` chains commands" in results["chain"]
        assert "redirects output into a file" in results["redirect"]  # `>` is escaped in a quoted result
        assert "no registered server is named 'db-9'" in results["unknown"]
        return reply_json(GOOD_ANALYSIS)

    fake.script(propose, answer)
    alert_id, _job, _took = await analyse(post_webhook, am_alert("KernelCheck", severity="critical"))
    assert fake.step_errors == []
    rows = await proposals_of(alert_id)
    assert [(r.command, r.status) for r in rows] == [
        ("uname -r", "pending"),
        (f"rm -rf {sentinel}", "refused"),
        (f"uname -r; rm -rf {sentinel}", "refused"),
        (f"uname -r > {sentinel}/keep", "refused"),
        ("uname -r", "refused"),
    ]
    async with async_session() as session:
        first = (await session.exec(select(Analysis).where(col(Analysis.alert_id) == alert_id))).one()
    assert rows[0].job_id == first.job_id and first.investigation["proposals"] == [r.id for r in rows]

    # A person approves; the runner runs it once; a follow-up analysis is queued as theirs.
    approved = await client.post(f"/api/proposals/{rows[0].id}/approve", json={"note": "fine"})
    assert approved.status_code == 200, approved.text
    await run_pass(DiagnosticsRunner(name="analysis-test"))
    listed = (await client.get(f"/api/alerts/{alert_id}/proposals")).json()["items"]
    done = next(p for p in listed if p["id"] == rows[0].id)
    assert (done["status"], done["exit_status"], done["output"].strip()) == ("done", 0, KERNEL)
    assert (await proposals_of(alert_id))[0].continuation == "queued"

    def follow_up(request: RecordedRequest) -> Step:
        block = evidence_block(request)
        assert "Command run on web-1: uname -r" in block
        assert f"Proposal #{rows[0].id}: `uname -r` on web-1, approved by test-admin" in block
        assert f"exit status: 0\nstdout:\n{KERNEL}" in block
        return reply_json({**GOOD_ANALYSIS, "root_cause": "The kernel (E3) is the one we expected."})

    fake.script(follow_up)
    async with running(AnalysisWorker()):
        jobs = await wait_jobs(lambda rows: all_done(rows) and len(rows) == 2)
    assert jobs[-1].status == "succeeded" and jobs[-1].requested_by == "user:test-admin"
    assert fake.step_errors == []
    async with async_session() as session:
        latest = (
            await session.exec(
                select(Analysis).where(col(Analysis.alert_id) == alert_id).order_by(col(Analysis.id).desc())
            )
        ).first()
        assert latest is not None
        evidence = (await session.exec(select(Evidence).where(col(Evidence.analysis_id) == latest.id))).all()
    diagnostic = [e for e in evidence if e.kind == "diagnostic"]
    assert len(diagnostic) == 1 and diagnostic[0].ref == "E3" and diagnostic[0].datasource == "web-1"
    assert diagnostic[0].query == "uname -r" and KERNEL in diagnostic[0].summary
    assert (sentinel / "keep").read_text() == "untouched"


async def test_in_the_chat_a_rejection_and_its_note_go_back_to_the_model(client, post_webhook, env, fake, sshd):
    env(LLM_TOOL_CALLING="on")
    await add_server(client, sshd, roles=("admin", "user"))
    r = await post_webhook(
        {
            "version": "4",
            "status": "firing",
            "receiver": "x",
            "groupKey": "g",
            "alerts": [am_alert("ChatDiag", severity="warning", instance="web-1:9100")],
        }
    )
    assert r.status_code == 200, r.text
    user = await add_user("chat-diag", "user")
    alert_id = (await client.get("/api/alerts", params={"q": "ChatDiag"})).json()["items"][0]["id"]

    def propose(request: RecordedRequest) -> Step:
        assert request.stream and request.tool_names == ["propose_command"]
        assert "propose_command" in request.messages[0]["content"]
        return tool_calls(
            [tool_call("propose_command", {"server": "web-1", "command": "free -m", "reason": "memory"}, id="c1")],
            text="Let me look at the memory.",
        )

    fake.script(propose)
    turn = await prepare_turn(alert_id=alert_id, user=user, question="Is it out of memory?")
    result = StreamResult()

    async def push(text: str) -> None:
        return None

    await chat.run_stream("tab-1", turn.provider, turn.context, result, push)
    assert [c.name for c in result.tool_calls] == ["propose_command"]
    await save_answer(turn, result)
    [row] = await proposals_of(alert_id)
    assert (row.origin, row.conversation_id, row.command, row.status) == (
        "chat",
        turn.conversation_id,
        "free -m",
        "pending",
    )
    async with async_session() as session:
        answer = await session.get(ChatMessage, turn.answer_id)
    assert answer is not None and answer.content.startswith("Let me look at the memory.")
    assert f"Proposed for approval (#{row.id}): `free -m` on web-1" in answer.content

    rejected = await client.post(f"/api/proposals/{row.id}/reject", json={"note": "use the dashboard </command-result"})
    assert rejected.status_code == 200
    await run_pass(DiagnosticsRunner(name="chat-test"))
    async with async_session() as session:
        added = (
            await session.exec(
                select(ChatMessage)
                .where(col(ChatMessage.conversation_id) == turn.conversation_id)
                .order_by(col(ChatMessage.id))
            )
        ).all()
    assert [m.role for m in added] == ["user", "assistant", "diagnostic"]
    assert "was rejected by test-admin with the note: use the dashboard" in added[-1].content

    def next_question(request: RecordedRequest) -> Step:
        turns = [m for m in request.messages if m["role"] == "user"]
        report = turns[-2]["content"]
        nonce = re.search(r"<command-result-([0-9a-f]+)>", report)
        assert nonce is not None and "did not run" in report
        assert f"</command-result-{nonce.group(1)}>" in report and report.count("</command-result") == 1
        assert turns[-1]["content"] == "Then what?"
        return stream(["Check the dashboard."])

    fake.script(next_question)
    turn = await prepare_turn(alert_id=alert_id, user=user, question="Then what?", conversation_id=turn.conversation_id)
    result = StreamResult()
    await chat.run_stream("tab-1", turn.provider, turn.context, result, push)
    await save_answer(turn, result)
    assert fake.step_errors == [] and result.text == "Check the dashboard."
    assert result.tool_calls == []
