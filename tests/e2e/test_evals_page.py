"""The evaluation harness as an admin sees it: `python -m remediation_app eval run` (a real process,
the scripted provider over HTTP) against the app's database, then /admin/evals shows the run and
its models side by side per case (adding more runs to the comparison: tests/unit/evals_page_roles.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.test_admin_pages import admin_tab
from tests.support.app_server import BIN, ROOT
from tests.support.browser import LOAD_TIMEOUT_MS
from tests.support.evals import BAD, GOOD, model_step
from tests.support.fake_llm import FakeLLM

pytestmark = pytest.mark.e2e


def eval_run(app, fake: FakeLLM, report: Path, *models: str) -> int:
    """Runs `eval run --json`; its last line holds a key per model. Returns the run's id."""
    argv = [str(BIN / "python"), "-m", "remediation_app", "eval", "run", "--api-base", fake.api_base, "--json"]
    argv += ["--case", "disk-full-app-logs", "--case", "fd-leak", "--report", str(report)]
    argv += [arg for model in models for arg in ("--model", model)]
    env = {**os.environ, **app.env, "OPENAI_API_KEY": "sk-test"}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout.strip().splitlines()[-1])) == set(models)
    found = re.search(r"^run (\d+): finished$", done.stderr, re.M)
    assert found, done.stderr
    return int(found.group(1))


def test_runs_show_models_side_by_side(app, new_tab, tmp_path: Path) -> None:
    with FakeLLM() as fake:
        fake.default = model_step
        run = eval_run(app, fake, tmp_path / "run.html", GOOD, BAD)
    assert (tmp_path / "run.html").is_file() and (tmp_path / "run.json").is_file()

    page = admin_tab(app, new_tab, "/admin/evals").page
    models = page.locator(f"#run-row-{run} .run-models")
    expect(models).to_have_text(f"{GOOD}: 2/2; {BAD}: 1/2", timeout=LOAD_TIMEOUT_MS)

    # The newest run is compared at once: its models side by side, each case's verdicts.
    expect(page.locator(".compare-column .column-label")).to_have_text([f"#{run} {GOOD}", f"#{run} {BAD}"])
    expect(page.locator(".compare-column .column-passed")).to_have_text(["2/2 (100%)", "1/2 (50%)"])
    fd_row = page.locator('.compare-row[data-case="fd-leak"] .compare-cell')
    expect(fd_row).to_have_count(2)
    assert [fd_row.nth(i).get_attribute("data-status") for i in range(2)] == ["passed", "failed"]

    page.locator("#compare-clear").click()
    expect(page.locator(".compare-column")).to_have_count(0)
    page.locator(f"#run-row-{run} .show-run").click()
    expect(page.locator(".compare-row")).to_have_count(2)
    report = page.locator(f"#run-row-{run} .run-report")
    assert report.get_attribute("href") == f"/api/evals/runs/{run}/report"
    expect(page.locator("#nav-evals")).to_be_visible()
