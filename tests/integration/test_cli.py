"""The command line, on SQLite and PostgreSQL: every command against a temporary database (in
process through cli.main, as a shell would run it; a few through `python -m remediation_app`),
send-test-alert against a real server (granian serving the API on a loopback port).

Plain (not async) tests: each command runs its own event loop, as it does from a shell.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet

from remediation_app import cli
from remediation_app.services.security import verify_password
from tests.conftest import WEBHOOK_TOKEN, sqlite_only
from tests.support.app_server import BIN, HOST, ROOT, free_port
from tests.support.databases import sqlite_path

GOOD_PASSWORD = "cli-password-123456"
OTHER_PASSWORD = "cli-password-abcdef"


def run_cli(*argv: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8"))
    return cli.main(list(argv))


def audit(db, action: str) -> list[dict]:
    return db.rows("SELECT actor, action, target FROM audit_events WHERE action = :a ORDER BY id", a=action)


# ----- help -----

COMMANDS = [
    [],
    ["db"],
    ["db", "upgrade"],
    ["rules"],
    ["rules", "explain"],
    ["rules", "export"],
    ["rules", "import"],
    ["rules", "validate"],
    ["create-user"],
    ["reset-password"],
    ["send-test-alert"],
    ["check-config"],
    ["rotate-keys"],
    ["serve"],
    ["build-frontend"],
    ["eval"],
    ["eval", "run"],
    ["eval", "list"],
    ["eval", "show"],
    ["eval", "validate"],
    ["eval", "export"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main([*command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m remediation_app")


def test_help_lists_every_command_through_python_m():
    result = subprocess.run(
        [str(BIN / "python"), "-m", "remediation_app", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for name in (
        "db",
        "rules",
        "create-user",
        "reset-password",
        "send-test-alert",
        "check-config",
        "rotate-keys",
        "serve",
        "build-frontend",
        "eval",
    ):
        assert name in result.stdout


def test_a_password_is_never_accepted_on_the_command_line(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["create-user", "someone", "--password", GOOD_PASSWORD])
    assert exited.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


# ----- rules -----


def test_rules_export_validate_import(app_settings, db, tmp_path, capsys):
    assert run_cli("rules", "export") == 0
    document = capsys.readouterr().out
    assert [r["name"] for r in yaml.safe_load(document)["rules"]] == [
        "Watchdog",
        "InfoInhibitor",
        "Critical",
        "Catch-all",
    ]

    exported = tmp_path / "rules.yaml"
    assert run_cli("rules", "export", "-o", str(exported)) == 0
    assert "exported 4 rules" in capsys.readouterr().err
    assert exported.read_text() == document

    assert run_cli("rules", "validate", str(exported)) == 0
    assert capsys.readouterr().out.strip() == f"{exported}: valid, 4 rules"

    changed = tmp_path / "changed.yaml"
    data = yaml.safe_load(document)
    data["rules"] = [r for r in data["rules"] if r["name"] != "InfoInhibitor"]
    data["rules"][0]["priority"] = 5
    data["rules"].append({"name": "disk-full", "priority": 50, "match": {"alertname": "DiskFull*"}, "action": "manual"})
    changed.write_text(yaml.safe_dump(data))
    version = db.scalar("SELECT version FROM rule_set_version WHERE id = 1")

    assert run_cli("rules", "import", "--dry-run", str(changed)) == 0
    out = capsys.readouterr().out
    assert "dry run, nothing changed: would import 4 rules (1 created, 1 updated, 2 unchanged, 1 deleted)" in out
    assert "  create: disk-full" in out and "  delete: InfoInhibitor" in out and "  update: Watchdog" in out
    assert db.scalar("SELECT count(*) FROM rules") == 4
    assert db.scalar("SELECT version FROM rule_set_version WHERE id = 1") == version

    assert run_cli("rules", "import", str(changed)) == 0
    assert "imported 4 rules (1 created, 1 updated, 2 unchanged, 1 deleted)" in capsys.readouterr().out
    assert sorted(r["name"] for r in db.rows("SELECT name FROM rules")) == [
        "Catch-all",
        "Critical",
        "Watchdog",
        "disk-full",
    ]
    assert db.scalar("SELECT version FROM rule_set_version WHERE id = 1") == version + 1
    assert [(e["actor"], e["target"]) for e in audit(db, "rules.import")] == [("cli", "rules")]

    assert run_cli("rules", "explain", "alertname=DiskFullSoon") == 0
    assert "action: manual" in capsys.readouterr().out


def test_rules_import_and_validate_refuse_a_bad_file_and_change_nothing(app_settings, db, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - name: disk-full\n    action: page\n  - name: x\n    match: {job: 're:('}\n")
    before = db.rows("SELECT * FROM rules ORDER BY id")
    for command in (
        ["rules", "validate", str(bad)],
        ["rules", "import", str(bad)],
        ["rules", "import", "--dry-run", str(bad)],
    ):
        assert run_cli(*command) == 1
        err = capsys.readouterr().err
        assert 'rule "disk-full" (#1): field "action": must be one of auto_analyze, manual, ignore' in err
        assert 'rule "x" (#2): field "action": required' in err
    assert db.rows("SELECT * FROM rules ORDER BY id") == before
    assert audit(db, "rules.import") == []
    assert run_cli("rules", "validate", str(tmp_path / "missing.yaml")) == 1
    assert "cannot read" in capsys.readouterr().err


@sqlite_only
def test_rules_validate_from_stdin_through_python_m(app_settings, tmp_path):
    def validate(document: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "python"), "-m", "remediation_app", "rules", "validate", "-"],
            cwd=ROOT,
            input=document,
            capture_output=True,
            text=True,
            timeout=60,
        )

    good = validate("version: 1\nrules:\n  - {name: a, action: ignore}\n")
    assert (good.returncode, good.stdout.strip()) == (0, "-: valid, 1 rule")
    bad = validate("!!python/object/apply:os.system ['echo pwned']\n")
    assert bad.returncode == 1 and "not valid YAML" in bad.stderr and "pwned" not in bad.stdout


# ----- users -----


def test_create_user_and_reset_password_from_stdin(app_settings, db, monkeypatch, capsys):
    assert (
        run_cli(
            "create-user",
            "alice",
            "--role",
            "admin",
            "--password-stdin",
            stdin=f"{GOOD_PASSWORD}\n",
            monkeypatch=monkeypatch,
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == "created user alice (admin)"
    row = db.rows("SELECT role, password_hash, token_version FROM users WHERE username = 'alice'")[0]
    assert row["role"] == "admin" and verify_password(GOOD_PASSWORD, row["password_hash"])
    assert GOOD_PASSWORD not in str(db.rows("SELECT details FROM audit_events"))

    assert run_cli("create-user", "alice", "--password-stdin", stdin=GOOD_PASSWORD, monkeypatch=monkeypatch) == 1
    assert "already exists; nothing changed" in capsys.readouterr().err
    assert run_cli("create-user", "bob", "--password-stdin", stdin="short\n", monkeypatch=monkeypatch) == 1
    assert "at least 12 characters" in capsys.readouterr().err
    assert (
        run_cli("create-user", "bob", "--password-stdin", stdin="two\nlines-password\n", monkeypatch=monkeypatch) == 1
    )
    assert "single line" in capsys.readouterr().err

    assert (
        run_cli("reset-password", "alice", "--password-stdin", stdin=f"{OTHER_PASSWORD}\r\n", monkeypatch=monkeypatch)
        == 0
    )
    assert "password reset for alice" in capsys.readouterr().out
    after = db.rows("SELECT password_hash, token_version FROM users WHERE username = 'alice'")[0]
    assert verify_password(OTHER_PASSWORD, after["password_hash"])
    assert after["token_version"] == row["token_version"] + 1  # her open sessions end
    assert run_cli("reset-password", "nobody", "--password-stdin", stdin=OTHER_PASSWORD, monkeypatch=monkeypatch) == 1
    assert "no user 'nobody'" in capsys.readouterr().err
    assert [(e["actor"], e["target"]) for e in audit(db, "user.create")] == [("cli", "alice")]
    assert [(e["actor"], e["target"]) for e in audit(db, "user.password")] == [("cli", "alice")]


@sqlite_only
def test_passwords_are_prompted_twice_on_a_terminal(app_settings, db, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert run_cli("create-user", "carol") == 1  # no terminal and no --password-stdin
    assert "--password-stdin" in capsys.readouterr().err

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter([GOOD_PASSWORD, OTHER_PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert run_cli("create-user", "carol") == 1
    assert "the passwords differ" in capsys.readouterr().err
    answers = iter([GOOD_PASSWORD, GOOD_PASSWORD])
    assert run_cli("create-user", "carol") == 0
    assert db.scalar("SELECT role FROM users WHERE username = 'carol'") == "user"


# ----- send-test-alert -----


@contextlib.contextmanager
def api_server() -> Iterator[str]:
    """The API (webhook included) served by granian on a loopback port, with this test's settings."""
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "granian"), "--interface", "asgi", "--factory", "--host", HOST, "--port", str(port),
         "--log-level", "warning", "remediation_app.api:build_api"],
        cwd=ROOT,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "granian exited"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the API did not come up"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_send_test_alert_to_a_running_engine(app_settings, db, capsys, monkeypatch):
    with api_server() as url:
        assert run_cli("send-test-alert", "--url", url, "--label", "team=cli") == 0  # WEBHOOK_TOKEN from the env
        out = capsys.readouterr().out
        assert out.startswith(f"{url}/webhook/alerts answered 200:") and '"created":1' in out
        rows = db.rows("SELECT alertname, status, labels, action FROM alerts")
        assert [(r["alertname"], r["status"], r["action"]) for r in rows] == [
            ("RemediationEngineTest", "firing", "manual")
        ]

        assert run_cli("send-test-alert", "--url", f"{url}/webhook/alerts", "--label", "team=cli", "--resolved") == 0
        assert '"updated":1' in capsys.readouterr().out
        assert db.rows("SELECT status FROM alerts") == [{"status": "resolved"}]  # the same alert, resolved

        monkeypatch.delenv("WEBHOOK_TOKEN")
        assert (
            run_cli("send-test-alert", "--url", url, "--token-stdin", stdin="wrong-token\n", monkeypatch=monkeypatch)
            == 1
        )
        assert "answered 401" in capsys.readouterr().out
        assert (
            run_cli(
                "send-test-alert",
                "--url",
                url,
                "--token-stdin",
                "--alertname",
                "Other",
                stdin=WEBHOOK_TOKEN + "\n",
                monkeypatch=monkeypatch,
            )
            == 0
        )
    assert db.scalar("SELECT count(*) FROM alerts") == 2
    monkeypatch.setenv("WEBHOOK_TOKEN", "x")
    assert run_cli("send-test-alert", "--url", f"http://{HOST}:{free_port()}", "--timeout", "2") == 1
    assert "cannot reach" in capsys.readouterr().err
    assert run_cli("send-test-alert", "--url", "ftp://example") == 1
    # No option takes the token on the command line.
    with pytest.raises(SystemExit):
        run_cli("send-test-alert", "--token", "x")


# ----- check-config -----


def check(capsys) -> tuple[int, str]:
    code = run_cli("check-config")
    return code, capsys.readouterr().out


def test_check_config_reports_a_good_configuration(app_settings, capsys, app_env):
    app_env(ENCRYPTION_KEY=Fernet.generate_key().decode(), SECRET_KEY="s" * 40, LLM_MODEL="gpt-4o-mini")
    code, out = check(capsys)
    assert code == 0, out
    assert "at head revision" in out and "bearer token set (WEBHOOK_TOKEN)" in out
    assert "LLM_MODEL=gpt-4o-mini" in out and "0 errors" in out
    assert "redis" not in out  # not configured, not checked


def test_check_config_reports_each_problem(app_settings, capsys, app_env, blank_database_url, db_kind):
    app_env(WEBHOOK_TOKEN=None, ENCRYPTION_KEY="not-a-key", REDIS_URL="redis://:hunter2@127.0.0.1:1/0")
    code, out = check(capsys)
    assert code == 1
    assert "ERROR    webhook" in out and "no credential" in out
    assert "ERROR    encryption key" in out and "ENCRYPTION_KEY entry 1 is not a valid Fernet key" in out
    assert "ERROR    redis" in out and "unreachable" in out and "hunter2" not in out and "not-a-key" not in out
    assert "3 errors" in out

    if db_kind == "sqlite":
        sqlite_path(blank_database_url).touch()  # an empty file: reachable, never migrated
    app_env(DATABASE_URL=blank_database_url, ENCRYPTION_KEY=None, REDIS_URL=None, WEBHOOK_TOKEN="x")
    code, out = check(capsys)
    assert code == 1 and "not migrated; run `python -m remediation_app db upgrade`" in out, out

    app_env(PORT="not-a-port")
    code, out = check(capsys)
    assert code == 1 and "PORT: Input should be a valid integer" in out and "not-a-port" not in out


@sqlite_only
def test_check_config_creates_nothing(app_settings, capsys, app_env, tmp_path):
    missing = tmp_path / "nowhere" / "db.sqlite"
    app_env(DATABASE_URL=f"sqlite:///{missing}", DATA_DIR=str(tmp_path / "fresh-data"))
    code, out = check(capsys)
    assert code == 1 and "no such file" in out
    assert "generated into" in out
    assert not missing.exists() and not Path(tmp_path / "fresh-data").exists()
