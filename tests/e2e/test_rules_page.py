"""The rules page in the browser: a refused draft keeps what was typed; a draft tested against a
stored alert and a pasted notification before it is saved; save, reorder, disable, delete; the
webhook follows each change at once; YAML shown, validated and re-imported; non-admins refused.

The app is shared with other tests: every rule here matches only this test's own alert names,
sits between the seeded Critical (100) and Catch-all (10000), and is deleted at the end.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import post_alerts, unique
from tests.support.app_server import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.support.browser import LOAD_TIMEOUT_MS, Tab, choose
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.e2e


def admin_rules_tab(app, new_tab) -> Page:
    tab: Tab = new_tab()
    tab.log_in_as(app, ADMIN_USERNAME, ADMIN_PASSWORD)
    tab.page.goto(app.url + "/admin/rules")
    expect(tab.page.locator(".rule-row").first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    return tab.page


def rule_row(page: Page, name: str) -> Locator:
    return page.locator(".rule-row").filter(has=page.locator(".rule-name", has_text=name))


def decided_by(app, alertname: str) -> tuple[str, str]:
    """(action, rule name) of the newest stored alert with this alertname."""
    rows = app.db_rows(
        "SELECT action, matched_rule_name FROM alerts WHERE alertname = :n ORDER BY id DESC LIMIT 1", n=alertname
    )
    return rows[0]["action"], rows[0]["matched_rule_name"]


def post(app, alertname: str) -> dict:
    return post_alerts(app, notification(am_alert(alertname, severity="warning"))).json()


def test_draft_tested_before_saving_then_saved_reordered_and_followed_by_the_webhook(app, new_tab):
    alertname = unique("E2eRulesPage")
    first, second = unique("e2e-first-"), unique("e2e-second-")
    post(app, alertname)
    assert decided_by(app, alertname) == ("manual", "Catch-all")

    page = admin_rules_tab(app, new_tab)
    expect(page.locator("#nav-rules")).to_be_visible()

    # A refused draft names the field and keeps everything typed.
    page.click("#new-rule")
    page.fill("#draft-alertname", "re:(")
    page.fill("#draft-priority", "5000")
    page.click("#save-rule")
    expect(page.locator("#error-name")).to_have_text("a rule needs a name")
    page.fill("#draft-name", first)
    page.click("#save-rule")
    expect(page.locator("#error-alertname")).to_contain_text("invalid regular expression")
    expect(page.locator("#draft-name")).to_have_value(first)
    expect(page.locator("#draft-priority")).to_have_value("5000")
    page.fill("#draft-priority", "99999999")
    page.fill("#draft-alertname", alertname)
    page.click("#save-rule")
    expect(page.locator("#error-priority")).to_have_text("must be between 0 and 1000000")
    page.fill("#draft-priority", "5000")
    choose(page, "draft-action", "ignore")

    # Test before saving: the stored alert, then a pasted notification.
    page.locator("#test-alert-select").click()
    page.get_by_role("option").filter(has_text=alertname).first.click()
    page.click("#test-stored")
    expect(page.locator("#test-note")).to_have_text(f"Evaluated with your unsaved draft of {first!r}.")
    result = page.locator(".test-result")
    expect(result.locator(".result-rule")).to_have_text(f"{first} (draft)")
    expect(result.locator(".action")).to_have_text("ignore")
    expect(page.locator(".trace-row").last.locator(".trace-verdict")).to_have_text("match")
    assert app.db_rows("SELECT id FROM rules WHERE name = :n", n=first) == []  # not saved yet

    page.fill("#test-payload", '{"alerts": [{"status": "firing", "labels": {}}]}')
    page.click("#test-pasted")
    expect(page.locator("#test-error")).to_contain_text("alerts.0.startsAt: Field required")
    pasted = notification(am_alert(alertname, severity="warning"), am_alert("SomethingElse", severity="critical"))
    page.fill("#test-payload", json.dumps(pasted))
    page.click("#test-pasted")
    expect(result.locator(".result-rule")).to_have_text([f"{first} (draft)", "Critical"])

    # Save; the next alert gets the new action at once.
    page.click("#save-rule")
    expect(page.locator("#rules-notice")).to_have_text(f"Saved rule {first}.")
    expect(rule_row(page, first).locator(".rule-priority")).to_have_text("5000")
    post(app, alertname)
    assert decided_by(app, alertname) == ("ignore", first)

    # A second rule for the same alerts, after the first; a duplicate name is refused.
    page.click("#new-rule")
    page.fill("#draft-name", first)
    page.fill("#draft-alertname", alertname)
    page.fill("#draft-priority", "5001")
    page.click("#save-rule")
    expect(page.locator("#error-name")).to_have_text(f"a rule named {first!r} already exists")
    page.fill("#draft-name", second)
    page.fill("#draft-labels", "team=re:(storage|db)?")
    page.click("#save-rule")
    expect(page.locator("#rules-notice")).to_have_text(f"Saved rule {second}.")
    names = page.locator(".rule-row .rule-name")
    expect(names.filter(has_text="e2e-")).to_have_text([first, second])

    # Reorder: the second moves up, and now decides.
    rule_row(page, second).locator(".move-up").click()
    expect(page.locator("#rules-notice")).to_have_text("Rule moved up.")
    expect(names.filter(has_text="e2e-")).to_have_text([second, first])
    expect(rule_row(page, second).locator(".rule-priority")).to_have_text("5000")
    expect(rule_row(page, first).locator(".rule-priority")).to_have_text("5001")
    post(app, alertname)
    assert decided_by(app, alertname) == ("manual", second)
    page.click("#refresh-rules")
    expect(rule_row(page, first).locator(".rule-hits")).to_have_text("1")
    expect(rule_row(page, second).locator(".rule-hits")).to_have_text("1")
    expect(rule_row(page, second).locator(".rule-last-hit")).not_to_have_text("never")

    # Disable the second: the first decides again.
    rule_row(page, second).locator(".rule-enabled").click()
    expect(page.locator("#rules-notice")).to_have_text("Rule disabled.")
    post(app, alertname)
    assert decided_by(app, alertname) == ("ignore", first)

    # Edit: the form holds the stored rule; a change is saved in place.
    rule_row(page, first).locator(".edit-rule").click()
    expect(page.locator("#draft-name")).to_have_value(first)
    expect(page.locator("#draft-alertname")).to_have_value(alertname)
    page.fill("#draft-description", "edited in the browser")
    page.click("#save-rule")
    expect(page.locator("#rules-notice")).to_have_text(f"Saved rule {first}.")
    expect(rule_row(page, first)).to_contain_text("edited in the browser")

    # YAML: the current rules, an invalid document refused by rule and field, a no-op re-import.
    page.click("#yaml-load")
    expect(page.locator("#rules-yaml")).to_contain_text(f"name: {first}")
    document = page.locator("#rules-yaml").input_value()
    page.fill("#rules-yaml", "version: 1\nrules:\n  - name: broken\n    action: page-me\n")
    page.click("#yaml-validate")
    expect(page.locator(".yaml-error")).to_have_text(
        ['rule "broken" (#1): field "action": must be one of auto_analyze, manual, ignore']
    )
    page.fill("#rules-yaml", document)
    page.click("#yaml-import")
    expect(page.locator("#import-dialog")).to_contain_text("0 created, 0 updated")
    page.click("#confirm-import")
    expect(page.locator("#rules-notice")).to_contain_text("0 created, 0 updated")
    expect(page.locator("#rules-notice")).to_contain_text("0 deleted")

    # Delete both: the webhook falls back to the seeded rules.
    for name in (first, second):
        rule_row(page, name).locator(".delete-rule").click()
        page.click("#confirm-delete")
        expect(page.locator("#rules-notice")).to_have_text(f"Deleted rule {name}.")
        expect(rule_row(page, name)).to_have_count(0)
    post(app, alertname)
    assert decided_by(app, alertname) == ("manual", "Catch-all")
    actions = app.db_rows("SELECT action FROM audit_events WHERE target = :n ORDER BY id", n=first)
    assert [a["action"] for a in actions] == ["rule.create", "rule.update", "rule.update", "rule.delete"]


def test_the_rules_page_refuses_a_non_admin(app, new_tab):
    username, password = unique("e2e-rules-user-"), "e2e-rules-user-password"
    app.add_user(username, password, "user")
    tab: Tab = new_tab()
    tab.log_in_as(app, username, password)
    tab.page.goto(app.url + "/admin/rules")
    expect(tab.page.locator("#denied-notice")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(tab.page).to_have_url(app.url + "/?denied=1")
    expect(tab.page.locator(".rule-row")).to_have_count(0)
    expect(tab.page.locator("#nav-rules")).to_have_count(0)
