"""The terminal on the alert page, against a real sshd: the alert's server preselected, "Send to
terminal" from an analysis and from a chat answer types the command without running it (several
lines: one line per click, never a line break, even in a plain `sh` whose output turned bracketed
paste on; control characters never reach the remote), and "Attach terminal output" sends the
terminal's last lines to the model, quoted as untrusted data.

One app per module whose environment provider is the loopback fake: it answers analysis requests
(not streamed) with ANALYSIS and chat requests (streamed) with CHAT_ANSWER.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from remediation_app.services.terminal.recording import parse_events
from tests.conftest import WEBHOOK_TOKEN, require
from tests.e2e.conftest import post_alerts, unique
from tests.e2e.test_terminal import SCREEN_JS, TERMINAL_TIMEOUT_MS, screen, wait_for_line
from tests.support.app_server import AppServer, started_app
from tests.support.browser import LOAD_TIMEOUT_MS, Tab
from tests.support.fake_llm import GOOD_ANALYSIS, FakeLLM, RecordedRequest, Step, reply, stream, tool_call, tool_calls
from tests.support.payloads import am_alert, notification
from tests.support.sshd import Sshd, sshd_available

pytestmark = [pytest.mark.e2e, pytest.mark.ssh]

PASSWORD = "e2e-alert-terminal-pw-1"
ANALYSIS_COMMAND = "echo from-analysis-$((1+1))"
CHAT_COMMAND = "echo from-chat-$((2+3))"
TWO_LINES = "echo line-one-$((1+0))\necho line-two-$((1+1))"
ANALYSIS = {
    **GOOD_ANALYSIS,
    "immediate_actions": [{"description": "Say hello", "command": ANALYSIS_COMMAND, "risk": "low"}],
}
CHAT_ANSWER = f"Run this:\n\n```bash\n{CHAT_COMMAND}\n```\n\nthen these:\n\n```bash\n{TWO_LINES}\n```\n"
ANSWER_TIMEOUT_MS = 20_000
# "Nothing ran": long enough for a command to have run and printed, had Enter been sent.
NOTHING_RAN_MS = 600


def answer_for(request: RecordedRequest) -> Step:
    if request.stream:  # the chat streams; the analysis does not
        return stream([CHAT_ANSWER[i : i + 40] for i in range(0, len(CHAT_ANSWER), 40)])
    return reply(json.dumps(ANALYSIS))


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    require(sshd_available(), "OpenSSH sshd is not installed (make test-deps)")
    with Sshd(tmp_path_factory.mktemp("e2e-alert-sshd")) as server:
        yield server


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        server.default = answer_for
        yield server


@pytest.fixture(scope="module")
def term_app(tmp_path_factory: pytest.TempPathFactory, fake: FakeLLM, _stop_on_sigterm: None) -> Iterator[AppServer]:
    tmp = tmp_path_factory.mktemp("e2e-alert-terminal")
    env = {
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "LLM_MODEL": "openai/gpt-4o-mini",
        "LLM_API_BASE": fake.api_base,
        "LLM_API_KEY": "sk-test",
        "ANALYSIS_POLL_SECONDS": "0.2",
    }
    with started_app(tmp, "e2e-alert-terminal", env=env) as server:
        yield server


def api(app: AppServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{app.url}{path}", headers=app.bearer(), timeout=30, **kwargs)


def add_server(app: AppServer, sshd: Sshd, name: str) -> int:
    """A server on the sshd's host (127.0.0.1) that users may open, its host key pinned."""
    body = {
        "name": name,
        "host": sshd.host,
        "port": sshd.port,
        "username": sshd.username,
        "private_key": sshd.client_key,
        "allowed_roles": ["admin", "user"],
    }
    created = api(app, "POST", "/api/ssh-servers", json=body)
    assert created.status_code == 201, created.text
    server_id = int(created.json()["id"])
    fingerprint = {"fingerprint": sshd.host_key_fingerprint}
    accepted = api(app, "POST", f"/api/ssh-servers/{server_id}/host-key/accept", json=fingerprint)
    assert accepted.status_code == 200, accepted.text
    return server_id


def wait_for_bracketed_paste(page: Page, on: bool) -> None:
    """bash turns bracketed paste on when it shows its prompt (and off while a command runs)."""
    page.wait_for_function(
        "(on) => window.__xterm && window.__xterm.modes.bracketedPasteMode === on", arg=on, timeout=TERMINAL_TIMEOUT_MS
    )


def run(page: Page, command: str, output: str) -> None:
    page.locator("#terminal-screen").click()
    page.keyboard.type(command)
    page.keyboard.press("Enter")
    wait_for_line(page, output)
    wait_for_bracketed_paste(page, True)  # back at the prompt


def lines_with(page: Page, text: str) -> int:
    return sum(text in line for line in screen(page))


def send_and_check_nothing_runs(page: Page, button: Locator, command: str, outputs: list[str]) -> None:
    """Click "Send to terminal": the command shows on the command line, none of its output appears
    until Enter is pressed in the terminal."""
    before = {line: lines_with(page, line) for line in command.splitlines()}
    expect(button).to_be_enabled()
    button.click()
    for line, count in before.items():
        page.wait_for_function(
            f"([text, count]) => ({SCREEN_JS})('__xterm').filter((l) => l.includes(text)).length > count",
            arg=[line, count],
            timeout=TERMINAL_TIMEOUT_MS,
        )
    page.wait_for_timeout(NOTHING_RAN_MS)
    shown = [line.strip() for line in screen(page)]
    assert not set(outputs) & set(shown), shown
    page.keyboard.press("Enter")  # the paste focused the terminal
    for output in outputs:
        wait_for_line(page, output)
    wait_for_bracketed_paste(page, True)


def send_lines_one_per_click(page: Page, button: Locator, lines: list[str], outputs: list[str]) -> None:
    """Click "Send to terminal" of a block once per line: each click types the next line only (the
    toast says which), none of its output appears until Enter is pressed in the terminal."""
    for number, (line, output) in enumerate(zip(lines, outputs, strict=True), start=1):
        typed = lines_with(page, line)
        button.click()
        toast = page.locator("[data-sonner-toast]").filter(has_text=f"Line {number} of {len(lines)} typed")
        expect(toast).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        page.wait_for_function(
            f"([text, count]) => ({SCREEN_JS})('__xterm').filter((l) => l.includes(text)).length > count",
            arg=[line, typed],
            timeout=TERMINAL_TIMEOUT_MS,
        )
        page.wait_for_timeout(NOTHING_RAN_MS)
        assert output not in [shown.strip() for shown in screen(page)], f"line {number} ran without Enter"
        page.keyboard.press("Enter")  # the click focused the terminal
        wait_for_line(page, output)


def wait_for_recording(app: AppServer, username: str, text: str, timeout: float = 15) -> None:
    """The session's recording (flushed every couple of seconds) holds `text`."""
    deadline = time.monotonic() + timeout
    while True:
        rows = app.db_rows("SELECT id FROM terminal_sessions WHERE username = :u ORDER BY id DESC", u=username)
        if rows:
            recording = api(app, "GET", f"/api/terminal/sessions/{rows[0]['id']}/recording")
            if recording.status_code == 200 and text in recording.text:
                return
        assert time.monotonic() < deadline, f"{text!r} not recorded within {timeout}s"
        time.sleep(0.25)


def chat_request_asking(fake: FakeLLM, text: str, timeout: float) -> RecordedRequest:
    """The latest chat request to the provider whose body contains `text`, once it has arrived."""
    found: list[RecordedRequest] = []

    def arrived() -> bool:
        found[:] = [r for r in fake.chat_requests if text in json.dumps(r.json)]
        return bool(found)

    fake.wait_until(arrived, timeout, f"chat request asking {text!r}")
    return found[-1]


def test_send_to_terminal_and_attach_output(term_app, fake, sshd, new_tab):
    server_name, username, alertname = unique("e2e-alert-ssh-"), unique("e2e-alert-term-"), unique("TermDisk")
    server_id = add_server(term_app, sshd, server_name)
    # Critical: analysed automatically (ANALYSIS, with ANALYSIS_COMMAND); the instance names the server's host.
    post_alerts(term_app, notification(am_alert(alertname, severity="critical", instance=f"{sshd.host}:9100")))
    alert_id = api(term_app, "GET", "/api/alerts", params={"q": alertname}).json()["items"][0]["id"]
    term_app.add_user(username, PASSWORD, "user")
    tab: Tab = new_tab()
    tab.log_in_as(term_app, username, PASSWORD)
    page = tab.page
    page.goto(f"{term_app.url}/alerts/{alert_id}")

    # Before any terminal: the section is folded with the alert's server preselected, the analysis'
    # Send to terminal is disabled and says why, and there is no terminal output to attach.
    action = page.locator("#analysis-latest .immediate-action")
    expect(action.locator(".action-command")).to_contain_text(ANALYSIS_COMMAND, timeout=LOAD_TIMEOUT_MS)
    send_analysis = action.locator(".send-to-terminal")
    expect(send_analysis).to_be_disabled()
    expect(send_analysis).to_have_attribute("title", "Open a terminal first (the Terminal section of this page)")
    expect(page.locator("#chat-attach-terminal")).to_be_disabled()
    expect(page.locator("#alert-terminal")).not_to_have_attribute("open", "")
    expect(page.locator("#terminal-server")).to_have_value(str(server_id))

    # Open it: the session records the alert; the shell turns bracketed paste on at its prompt.
    page.click("#alert-terminal-toggle")
    page.click("#terminal-open")
    expect(page.locator("#terminal-status")).to_have_text(f"connected to {server_name}", timeout=TERMINAL_TIMEOUT_MS)
    wait_for_bracketed_paste(page, True)
    sessions = term_app.db_rows("SELECT alert_id FROM terminal_sessions WHERE username = :u", u=username)
    assert [row["alert_id"] for row in sessions] == [alert_id]

    # From the analysis: pasted, not run, until Enter.
    send_and_check_nothing_runs(page, send_analysis, ANALYSIS_COMMAND, ["from-analysis-2"])

    # From a chat answer: one line, then a block of two lines, typed one line per click.
    page.locator("#chat-question").fill("What should I run?")
    page.locator("#chat-question").press("Enter")
    done = page.locator("#chat-messages .chat-message.chat-assistant").last
    expect(done).to_have_attribute("data-status", "complete", timeout=ANSWER_TIMEOUT_MS)
    blocks = done.locator(".chat-code")
    expect(blocks).to_have_count(2)
    send_and_check_nothing_runs(page, blocks.nth(0).locator(".send-to-terminal"), CHAT_COMMAND, ["from-chat-5"])
    send_lines_one_per_click(
        page, blocks.nth(1).locator(".send-to-terminal"), TWO_LINES.splitlines(), ["line-one-1", "line-two-2"]
    )
    wait_for_bracketed_paste(page, True)

    # Attach terminal output: the question goes with the terminal's last lines, quoted as untrusted.
    run(page, "echo attach-$((3*4))", "attach-12")
    wait_for_recording(term_app, username, "attach-12")
    attach = page.locator("#chat-attach-terminal")
    expect(attach).to_be_enabled()
    attach.click()
    expect(attach).to_have_attribute("data-state", "checked")
    question = unique("What does my terminal say ")
    page.locator("#chat-question").fill(question)
    page.locator("#chat-question").press("Enter")
    asked = page.locator(".chat-message.chat-user").filter(has_text=question.strip())
    expect(asked.locator(".chat-terminal-attached")).to_have_text("terminal output attached", timeout=ANSWER_TIMEOUT_MS)
    expect(attach).to_have_attribute("data-state", "unchecked")  # one question at a time
    # The page shows the question as soon as the server took it; its request to the provider may
    # still be on its way: wait for it, never read the requests before it arrived.
    sent = chat_request_asking(fake, question.strip(), timeout=ANSWER_TIMEOUT_MS / 1000)
    last = str(sent.json["messages"][-1]["content"])
    block = last[last.index("<terminal-") :]
    assert "attach-12" in block and block.index("attach-12") < block.index("</terminal-"), last

    # Closed: the analysis' button is disabled again; a chat code block's says so in a toast.
    page.click("#terminal-close")
    expect(send_analysis).to_be_disabled()
    blocks.nth(0).locator(".send-to-terminal").click()
    toast = page.locator("[data-sonner-toast]").filter(has_text="Open a terminal first.")
    expect(toast).to_be_visible(timeout=LOAD_TIMEOUT_MS)


# Control characters in model text: ESC, Ctrl-C, Ctrl-D, NUL, DEL, a C1 CSI, a tab, a final CR LF.
CONTROL_TEXT = "echo ctl\x1b\x03\x04\x00\x7f\x9b-\tend\r\n"
CONTROL_TYPED = "echo ctl- end"  # what may reach the remote (no Enter: the user presses it)
# A lone CR (what the Enter key sends) is a line break too: two lines, one per call.
CR_TEXT = "echo cr-$((1+1))\recho cr-$((2+1))"


def inputs_of_session(app: AppServer, username: str, text: str) -> list[str]:
    """The input events of the user's latest terminal session, once its recording holds `text`."""
    wait_for_recording(app, username, text)
    session_id = app.db_rows("SELECT id FROM terminal_sessions WHERE username = :u ORDER BY id DESC", u=username)
    recording = api(app, "GET", f"/api/terminal/sessions/{session_id[0]['id']}/recording")
    return [str(data) for _at, kind, data in parse_events(recording.text)[1] if kind == "i"]


def test_several_lines_never_run_without_enter_even_in_a_plain_sh(term_app, fake, sshd, new_tab):
    """Issue 11 item 2: in a plain `sh` after the remote printed ESC[?2004h (xterm then reports
    bracketed paste on, sh ignores it), "Send to terminal" of a three-line block from an analysis
    runs nothing: each click types one line, and each Enter runs exactly that line. Control
    characters in a line never reach the remote."""
    server_name, username, alertname = unique("e2e-lines-ssh-"), unique("e2e-lines-"), unique("TermLines")
    with tempfile.TemporaryDirectory(prefix="re-lines-") as directory:
        markers = Path(directory)
        lines = [f"touch {markers}/ran-{n}; echo ran-$(({n}*1))" for n in (1, 2, 3)]
        block = {"description": "Three steps", "command": "\n".join(lines), "risk": "low"}
        fake.script(reply(json.dumps({**ANALYSIS, "immediate_actions": [block]})))  # this alert's analysis
        server_id = add_server(term_app, sshd, server_name)
        post_alerts(term_app, notification(am_alert(alertname, severity="critical", instance=f"{sshd.host}:9100")))
        alert_id = api(term_app, "GET", "/api/alerts", params={"q": alertname}).json()["items"][0]["id"]
        term_app.add_user(username, PASSWORD, "user")
        tab: Tab = new_tab()
        tab.log_in_as(term_app, username, PASSWORD)
        page = tab.page
        page.goto(f"{term_app.url}/alerts/{alert_id}")
        action = page.locator("#analysis-latest .immediate-action")
        expect(action.locator(".action-command")).to_contain_text("ran-3", timeout=LOAD_TIMEOUT_MS)

        page.click("#alert-terminal-toggle")
        page.select_option("#terminal-server", str(server_id))
        page.click("#terminal-open")
        status = page.locator("#terminal-status")
        expect(status).to_have_text(f"connected to {server_name}", timeout=TERMINAL_TIMEOUT_MS)
        wait_for_bracketed_paste(page, True)  # bash's prompt
        # A plain sh, then remote output that switches bracketed paste on: sh does not honour it.
        page.locator("#terminal-screen").click()
        page.keyboard.type("exec sh")
        page.keyboard.press("Enter")
        page.keyboard.type("printf '\\033[?2004h'; echo in-$0-$((2*2))")
        page.keyboard.press("Enter")
        wait_for_line(page, "in-sh-4")
        wait_for_bracketed_paste(page, True)

        send_lines_one_per_click(page, action.locator(".send-to-terminal"), lines, ["ran-1", "ran-2", "ran-3"])
        assert sorted(p.name for p in markers.iterdir()) == ["ran-1", "ran-2", "ran-3"]
        expect(page.locator("[data-sonner-toast]")).to_contain_text("That was the last line")
        # Each Enter ran exactly its line: the earlier lines did not run again.
        assert [line.strip() for line in screen(page)].count("ran-1") == 1

        # Control characters never reach the remote: the line is typed without them, nothing runs.
        assert page.evaluate("(text) => window.__reTerminalPaste(text)", CONTROL_TEXT) is True
        wait_for_line(page, CONTROL_TYPED, exact=False)
        page.wait_for_timeout(NOTHING_RAN_MS)
        assert "ctl- end" not in [line.strip() for line in screen(page)]
        page.keyboard.press("Enter")
        wait_for_line(page, "ctl- end")
        first = page.evaluate("(text) => window.__reTerminalPaste(text)", CR_TEXT)
        assert (first["line"], first["lines"]) == (1, 2), first
        wait_for_line(page, "echo cr-$((1+1))", exact=False)
        page.wait_for_timeout(NOTHING_RAN_MS)
        assert "cr-2" not in [line.strip() for line in screen(page)]
        page.keyboard.press("Enter")
        wait_for_line(page, "cr-2")
        assert "cr-3" not in [line.strip() for line in screen(page)]

        inputs = inputs_of_session(term_app, username, "cr-2")
        for line in [*lines, CONTROL_TYPED, "echo cr-$((1+1))"]:
            assert line in inputs, (line, inputs)  # typed as one input, without a line break
        assert not [data for data in inputs if "\r" in data and data != "\r"], inputs  # Enter: the user's only
        assert not [data for data in inputs if any(c in data for c in "\n\x03\x04\x1b\x9b\x00")], inputs


def test_a_proposed_command_appears_live_and_runs_after_one_click(term_app, fake, sshd, new_tab):
    """Issue 16: the model proposes a read-only command through its tool; the proposal shows live on
    the alert page (and on the dashboard's count), a user allowed on the server approves it with one
    click, and its output shows once it ran over SSH."""
    server_name, username, alertname = unique("e2e-diag-ssh-"), unique("e2e-diag-"), unique("DiagKernel")
    add_server(term_app, sshd, server_name)
    # A warning: kept for a human (manual), so nothing is analysed before the page is open.
    post_alerts(term_app, notification(am_alert(alertname, severity="warning", instance=f"{sshd.host}:9100")))
    alert_id = api(term_app, "GET", "/api/alerts", params={"q": alertname}).json()["items"][0]["id"]
    term_app.add_user(username, PASSWORD, "user")
    tab: Tab = new_tab()
    tab.log_in_as(term_app, username, PASSWORD)
    page = tab.page
    page.goto(f"{term_app.url}/alerts/{alert_id}")
    expect(page.locator("#no-proposals")).to_be_visible(timeout=LOAD_TIMEOUT_MS)

    proposed: list[str] = []

    def propose_once(request: RecordedRequest) -> Step:
        if not proposed and "propose_command" in request.tool_names and alertname in json.dumps(request.json):
            proposed.append(request.path)
            call = {"server": server_name, "command": "uname  -r", "reason": "Which kernel runs <b>here</b>?"}
            return tool_calls([tool_call("propose_command", call)])
        return answer_for(request)

    fake.default = propose_once
    try:
        assert api(term_app, "POST", f"/api/alerts/{alert_id}/analyze").status_code == 202
        card = page.locator("#proposals .proposal")
        expect(card).to_have_attribute("data-status", "pending", timeout=ANSWER_TIMEOUT_MS)  # live, no reload
        expect(card.locator(".proposal-command")).to_have_text("uname -r")  # what runs, quoted again
        expect(card.locator(".proposal-reason")).to_have_text("Which kernel runs <b>here</b>?")  # text, not HTML
        expect(card.locator(".proposal-verdict")).to_contain_text("allowed by group 'read-only' (uname)")
        expect(card.locator(".proposal-server")).to_have_text(server_name)

        board = new_tab()
        board.log_in_as(term_app, username, PASSWORD)
        board.page.goto(term_app.url)
        expect(board.page.locator("#proposals-waiting")).to_have_text(
            "1 command waits for approval", timeout=LOAD_TIMEOUT_MS
        )

        card.locator(".approve-proposal").click()
        expect(card).to_have_attribute("data-status", "done", timeout=ANSWER_TIMEOUT_MS)
        expect(card.locator(".proposal-output")).to_have_text(platform.release())
        expect(card.locator(".proposal-exit")).to_have_text("exit 0")
        expect(card.locator(".proposal-decided")).to_contain_text(f"Approved by {username}")
        expect(card.locator(".approve-proposal")).to_have_count(0)
        expect(board.page.locator("#proposals-waiting")).to_have_count(0, timeout=LOAD_TIMEOUT_MS)
        # The model's follow-up (an analysis requested as the approver) ran with the output as evidence.
        latest = page.locator("#analysis-latest .analysis-requested-by")
        expect(latest).to_have_text(f"user:{username}", timeout=ANSWER_TIMEOUT_MS)
    finally:
        fake.default = answer_for
    assert len(proposed) == 1
    runs = term_app.db_rows("SELECT status, decided_by FROM diagnostic_proposals WHERE alert_id = :a", a=alert_id)
    assert runs == [{"status": "done", "decided_by": username}]
