"""Admin commands: python -m remediation_app <command> (each has --help).

Changes made here are audited with the actor "cli". Passwords are prompted for (twice) or read
from standard input with --password-stdin; never from the command line.
"""

# Each command names its function as "module:function", imported only when that command runs:
# building the parser imports nothing heavy, so `rules explain` loads the database layer and the
# rules engine, not the web app, Reflex or LiteLLM (it took 4.7 s on a busy machine; now well under 1).

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from remediation_app.cli_common import CommandError
from remediation_app.cli_evals import add_commands as _eval_commands
from remediation_app.cli_users import ROLES

LOG_LEVELS = ["debug", "info", "warning", "error", "critical"]


def _command(parser: argparse.ArgumentParser, target: str) -> None:
    parser.set_defaults(func=target)


def _add_password_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (one line) instead of prompting for it twice",
    )


def _rules_commands(commands: Any) -> None:
    rules = commands.add_parser("rules", help="the rules engine: dry run, YAML export/import/validate")
    sub = rules.add_subparsers(dest="rules_command", required=True)
    dry_run = sub.add_parser("explain", help="dry run: which rule wins for these labels, and why")
    dry_run.add_argument("labels", nargs="*", metavar="name=value", help="e.g. alertname=DiskFull severity=critical")
    _command(dry_run, "cli_rules:rules_explain")
    export = sub.add_parser("export", help="write the rule set as YAML (by priority, then name)")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    _command(export, "cli_rules:rules_export")
    imp = sub.add_parser("import", help="replace the whole rule set with a YAML file (one transaction)")
    imp.add_argument("file", metavar="FILE", help="the YAML document (- for standard input)")
    imp.add_argument("--dry-run", action="store_true", help="validate and show what would change; change nothing")
    _command(imp, "cli_rules:rules_import")
    validate = sub.add_parser("validate", help="check a YAML file; exit 1 with every error (rule and field)")
    validate.add_argument("file", metavar="FILE", help="the YAML document (- for standard input)")
    _command(validate, "cli_rules:rules_validate")


def _user_commands(commands: Any) -> None:
    create = commands.add_parser("create-user", help="create a user (the password is prompted for twice)")
    create.add_argument("username", metavar="USERNAME")
    create.add_argument("--role", choices=ROLES, default="user", help="default: user")
    _add_password_options(create)
    _command(create, "cli_users:create_user")
    reset = commands.add_parser("reset-password", help="set a user's password; their open sessions end")
    reset.add_argument("username", metavar="USERNAME")
    _add_password_options(reset)
    _command(reset, "cli_users:reset_password")


def _server_commands(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="start the app (what `make run` and the image run): UI, API and webhook on PORT; "
        "the frontend is built first only when its build is missing or out of date",
    )
    serve.add_argument("--loglevel", choices=LOG_LEVELS, default="warning", help="Reflex's and granian's log level")
    serve.add_argument("--backend-host", metavar="ADDRESS", help="the address to listen on (default: 0.0.0.0)")
    _command(serve, "serve:serve_command")
    build = commands.add_parser(
        "build-frontend",
        help="build the frontend unless its build is current (needs bun; `serve` runs it when needed)",
    )
    build.add_argument("--force", action="store_true", help="build even when the existing build is current")
    build.add_argument("--loglevel", choices=LOG_LEVELS, default="info", help="Reflex's log level (default: info)")
    _command(build, "frontend_build:build_command")


def _send_test_alert_command(commands: Any) -> None:
    send = commands.add_parser(
        "send-test-alert", help="post a sample Alertmanager notification to a running engine and print its answer"
    )
    send.add_argument("--url", help="the engine's base URL or webhook URL (default http://127.0.0.1:$PORT or 8080)")
    send.add_argument(
        "--token-stdin",
        action="store_true",
        help="read the webhook bearer token from standard input (default: $WEBHOOK_TOKEN)",
    )
    send.add_argument("--resolved", action="store_true", help="send the alert as resolved")
    send.add_argument("--alertname", default="RemediationEngineTest", help="default: RemediationEngineTest")
    send.add_argument("--severity", default="info", help="default: info")
    send.add_argument("--label", action="append", default=[], metavar="name=value", help="an extra label (repeatable)")
    send.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    _command(send, "cli_alerts:send_test_alert")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m remediation_app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    _command(db.add_parser("upgrade", help="apply every migration up to head"), "cli_rules:db_upgrade")
    _server_commands(commands)
    _rules_commands(commands)
    _user_commands(commands)
    _send_test_alert_command(commands)
    _eval_commands(commands, _command)
    _command(
        commands.add_parser(
            "check-config", help="check the settings, database, webhook credential, keys and Redis; exit 1 on errors"
        ),
        "cli_checks:check_config_command",
    )
    _command(
        commands.add_parser(
            "rotate-keys",
            help="re-encrypt every stored secret with the newest key (ENCRYPTION_KEY=new,old; then drop old)",
        ),
        "cli_users:rotate_keys",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module, _, function = args.func.partition(":")
    try:
        command = getattr(importlib.import_module(f"remediation_app.{module}"), function)
        result: int = command(args)
    except CommandError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
