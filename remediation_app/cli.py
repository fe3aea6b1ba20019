"""Admin commands: python -m remediation_app <command> (each has --help).

Changes made here are audited with the actor "cli". Passwords are prompted for (twice) or read
from standard input with --password-stdin; never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import async_session, dispose_engines
from remediation_app.models import Role, User
from remediation_app.services import audit, crypto, migrations, rules_io, users
from remediation_app.services.rules import Decision, explain, list_rules
from remediation_app.settings import get_settings

ACTOR = "cli"
T = TypeVar("T")
MAX_PASSWORD_INPUT = 4096


class CommandError(Exception):
    """A command that cannot go on; the message is printed, the exit status is 1."""


def _with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in a session of its own event loop, closing every connection afterwards."""

    async def run() -> T:
        try:
            async with async_session() as session:
                return await work(session)
        finally:
            await dispose_engines()

    try:
        return asyncio.run(run())
    except sa.exc.SQLAlchemyError as exc:  # unreachable or not migrated (no SQL parameters are shown)
        reason = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        raise CommandError(f"database error: {str(reason).splitlines()[0] if str(reason) else exc}") from None


def _db_upgrade(_args: argparse.Namespace) -> int:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.database_url)
    print(f"database at revision {migrations.head_revision()}")
    return 0


def _rules_explain(args: argparse.Namespace) -> int:
    labels: dict[str, str] = {}
    for item in args.labels:
        name, sep, value = item.partition("=")
        if not sep:
            print(f"not a label: {item!r} (expected name=value)", file=sys.stderr)
            return 2
        labels[name] = value

    async def run(session: AsyncSession) -> Decision:
        return await explain(session, labels)

    decision = _with_session(run)
    for step in decision.trace:
        if not step.enabled:
            verdict = "skipped"
        elif not step.usable:
            verdict = "NOT USABLE"
        else:
            verdict = "MATCH" if step.matched else "no match"
        print(f"  [{step.priority:>5}] {step.rule}: {verdict} - {'; '.join(step.reasons)}")
    print(f"action: {decision.action}\nwhy: {decision.reason}")
    return 0


def _read_document(path: str) -> bytes:
    """The file's bytes (`-` is standard input), at most one byte past the limit (parse_rules refuses it)."""
    limit = rules_io.MAX_DOCUMENT_BYTES + 1
    try:
        if path == "-":
            return sys.stdin.buffer.read(limit)
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None


def _parsed(path: str) -> rules_io.ParsedRules:
    parsed = rules_io.parse_rules(_read_document(path))
    for warning in parsed.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not parsed.ok:
        raise CommandError(f"{path}: refused, nothing changed:\n" + "\n".join(f"  {e}" for e in parsed.errors))
    return parsed


def _rules_validate(args: argparse.Namespace) -> int:
    parsed = _parsed(args.file)
    print(f"{args.file}: valid, {len(parsed.rules)} rule{'s' if len(parsed.rules) != 1 else ''}")
    return 0


def _rules_export(args: argparse.Namespace) -> int:
    async def run(session: AsyncSession) -> tuple[str, int]:
        rules = await list_rules(session)
        return rules_io.dump_rules(rules), len(rules)

    document, count = _with_session(run)
    if args.output in (None, "-"):
        sys.stdout.write(document)
        return 0
    target = Path(args.output)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(document, encoding="utf-8")
        partial.replace(target)  # readers never see half a file
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
    print(f"exported {count} rule{'s' if count != 1 else ''} to {target}", file=sys.stderr)
    return 0


def _print_plan(plan: rules_io.ImportPlan) -> None:
    for what, names in (("create", plan.created), ("update", plan.updated), ("delete", plan.deleted)):
        for name in names:
            print(f"  {what}: {name}")


def _rules_import(args: argparse.Namespace) -> int:
    rules = _parsed(args.file).rules

    async def run(session: AsyncSession) -> rules_io.ImportPlan:
        if args.dry_run:
            return await rules_io.plan_import(session, rules)
        plan = await rules_io.import_rules(session, rules, actor=ACTOR)
        await session.commit()
        return plan

    plan = _with_session(run)
    _print_plan(plan)
    if args.dry_run:
        print(f"dry run, nothing changed: would import {len(rules)} rules ({plan.summary()})")
    else:
        print(f"imported {len(rules)} rules ({plan.summary()})")
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        text = sys.stdin.read(MAX_PASSWORD_INPUT + 2)
        password = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
        if "\n" in password or "\r" in password:
            raise CommandError("the password must be a single line; nothing changed")
        return password
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for the password: pipe it in with --password-stdin")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise CommandError("the passwords differ; nothing changed")
    return first


async def _user_by_name(session: AsyncSession, username: str) -> User:
    user = (await session.exec(select(User).where(col(User.username) == username.strip()))).first()
    if user is None:
        raise CommandError(f"no user {username!r}")
    return user


def _user_change(work: Callable[[AsyncSession], Awaitable[User]]) -> User:
    async def run(session: AsyncSession) -> User:
        try:
            user = await work(session)
        except users.UserError as exc:
            raise CommandError(f"{exc}; nothing changed") from None
        await session.commit()
        return user

    return _with_session(run)


def _create_user(args: argparse.Namespace) -> int:
    password = _password(args)

    async def create(session: AsyncSession) -> User:
        return await users.create_user(session, actor=ACTOR, username=args.username, password=password, role=args.role)

    user = _user_change(create)
    print(f"created user {user.username} ({user.role})")
    return 0


def _reset_password(args: argparse.Namespace) -> int:
    password = _password(args)

    async def reset(session: AsyncSession) -> User:
        user = await _user_by_name(session, args.username)
        assert user.id is not None
        return await users.reset_password(session, actor=ACTOR, user_id=user.id, password=password)

    user = _user_change(reset)
    print(f"password reset for {user.username}; their open sessions have ended")
    return 0


def _rotate_keys(_args: argparse.Namespace) -> int:
    """Re-encrypt every stored secret with the first (newest) key of ENCRYPTION_KEY, in one transaction."""

    async def run(session: AsyncSession) -> int:
        count = await crypto.rotate_all(session)
        audit.record(session, action="keys.rotate", actor=ACTOR, details={"reencrypted": count})
        await session.commit()
        return count

    try:
        count = _with_session(run)
    except (crypto.DecryptionError, crypto.CryptoConfigError) as exc:
        raise CommandError(f"rotate-keys failed, nothing changed: {exc}") from None
    except CommandError as exc:
        raise CommandError(f"rotate-keys failed, nothing changed: {exc}") from None
    print(f"re-encrypted {count} secret{'' if count == 1 else 's'} with the newest key")
    return 0


def sample_notification(*, resolved: bool, alertname: str, severity: str, labels: dict[str, str]) -> dict[str, Any]:
    """A version 4 notification with one alert. Its start is today's midnight (UTC), so a later
    --resolved the same day resolves the same alert."""
    now = datetime.now(UTC)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    all_labels = {
        "alertname": alertname,
        "severity": severity,
        "instance": "remediation-engine-cli",
        "job": "remediation-engine",
        **labels,
    }
    status = "resolved" if resolved else "firing"
    alert = {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": "A test alert sent by `python -m remediation_app send-test-alert`"},
        "startsAt": start.isoformat().replace("+00:00", "Z"),
        "endsAt": now.isoformat().replace("+00:00", "Z") if resolved else "0001-01-01T00:00:00Z",
        "generatorURL": "",
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="' + alertname + '"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "remediation-engine",
        "groupLabels": {"alertname": alertname},
        "commonLabels": all_labels,
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": [alert],
    }


def _webhook_url(url: str) -> str:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise CommandError(f"not an http(s) URL: {url!r}")
    return str(parsed.copy_with(path="/webhook/alerts")) if parsed.path in ("", "/") else url


def _send_test_alert(args: argparse.Namespace) -> int:
    labels: dict[str, str] = {}
    for item in args.label:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CommandError(f"not a label: {item!r} (expected name=value)")
        labels[name] = value
    url = _webhook_url(args.url or f"http://127.0.0.1:{os.environ.get('PORT') or 8080}")
    # Never from argv (other local users see the process list): stdin or the environment.
    token = sys.stdin.readline().strip() if args.token_stdin else os.environ.get("WEBHOOK_TOKEN") or ""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    username, password = os.environ.get("WEBHOOK_USERNAME"), os.environ.get("WEBHOOK_PASSWORD")
    basic = (username, password) if not token and username and password else None
    payload = sample_notification(
        resolved=args.resolved, alertname=args.alertname, severity=args.severity, labels=labels
    )
    try:
        response = httpx.post(url, json=payload, headers=headers, auth=basic, timeout=args.timeout)
    except httpx.HTTPError as exc:
        raise CommandError(f"cannot reach {url}: {exc or type(exc).__name__}") from None
    print(f"{url} answered {response.status_code}: {response.text[:2000]}")
    return 0 if response.status_code == 200 else 1


def _check_config(_args: argparse.Namespace) -> int:
    from remediation_app.cli_checks import check_config, report

    return report(check_config())


def _serve(args: argparse.Namespace) -> int:
    from remediation_app.serve import serve

    return serve(loglevel=args.loglevel, backend_host=args.backend_host)


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
    dry_run.set_defaults(func=_rules_explain)
    export = sub.add_parser("export", help="write the rule set as YAML (by priority, then name)")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    export.set_defaults(func=_rules_export)
    imp = sub.add_parser("import", help="replace the whole rule set with a YAML file (one transaction)")
    imp.add_argument("file", metavar="FILE", help="the YAML document (- for standard input)")
    imp.add_argument("--dry-run", action="store_true", help="validate and show what would change; change nothing")
    imp.set_defaults(func=_rules_import)
    validate = sub.add_parser("validate", help="check a YAML file; exit 1 with every error (rule and field)")
    validate.add_argument("file", metavar="FILE", help="the YAML document (- for standard input)")
    validate.set_defaults(func=_rules_validate)


def _user_commands(commands: Any) -> None:
    create = commands.add_parser("create-user", help="create a user (the password is prompted for twice)")
    create.add_argument("username", metavar="USERNAME")
    create.add_argument("--role", choices=[r.value for r in Role], default=Role.USER.value, help="default: user")
    _add_password_options(create)
    create.set_defaults(func=_create_user)
    reset = commands.add_parser("reset-password", help="set a user's password; their open sessions end")
    reset.add_argument("username", metavar="USERNAME")
    _add_password_options(reset)
    reset.set_defaults(func=_reset_password)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m remediation_app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply every migration up to head").set_defaults(func=_db_upgrade)
    serve = commands.add_parser(
        "serve",
        help="start the app (what `make run` runs): `reflex run --env prod` on PORT, failed workers respawned",
    )
    serve.add_argument(
        "--loglevel",
        choices=["debug", "info", "warning", "error", "critical"],
        default="warning",
        help="Reflex's and granian's log level (default: warning)",
    )
    serve.add_argument("--backend-host", metavar="ADDRESS", help="the address to listen on (default: 0.0.0.0)")
    serve.set_defaults(func=_serve)
    _rules_commands(commands)
    _user_commands(commands)
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
    send.set_defaults(func=_send_test_alert)
    commands.add_parser(
        "check-config", help="check the settings, database, webhook credential, keys and Redis; exit 1 on errors"
    ).set_defaults(func=_check_config)
    commands.add_parser(
        "rotate-keys",
        help="re-encrypt every stored secret with the newest key (ENCRYPTION_KEY=new,old; then drop old)",
    ).set_defaults(func=_rotate_keys)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except CommandError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
