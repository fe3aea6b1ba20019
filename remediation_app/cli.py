"""Admin commands: python -m remediation_app <command>."""

from __future__ import annotations

import argparse
import asyncio
import sys

import sqlalchemy as sa

from remediation_app.db import async_session, dispose_engines
from remediation_app.services import audit, crypto, migrations
from remediation_app.services.rules import Decision, explain
from remediation_app.settings import get_settings


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

    async def run() -> Decision:
        try:
            async with async_session() as session:
                return await explain(session, labels)
        finally:
            await dispose_engines()

    decision = asyncio.run(run())
    for step in decision.trace:
        verdict = "skipped" if not step.enabled else "MATCH" if step.matched else "no match"
        print(f"  [{step.priority:>5}] {step.rule}: {verdict} - {'; '.join(step.reasons)}")
    print(f"action: {decision.action}\nwhy: {decision.reason}")
    return 0


def _rotate_keys(_args: argparse.Namespace) -> int:
    """Re-encrypt every stored secret with the first (newest) key of ENCRYPTION_KEY, in one transaction."""

    async def run() -> int:
        try:
            async with async_session() as session:
                count = await crypto.rotate_all(session)
                audit.record(session, action="keys.rotate", actor="cli", details={"reencrypted": count})
                await session.commit()
                return count
        finally:
            await dispose_engines()

    try:
        count = asyncio.run(run())
    except (crypto.DecryptionError, crypto.CryptoConfigError) as exc:
        print(f"rotate-keys failed, nothing changed: {exc}", file=sys.stderr)
        return 1
    except sa.exc.SQLAlchemyError as exc:  # unreachable or not migrated (no SQL parameters are shown)
        reason = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        print(f"rotate-keys failed, nothing changed: database error: {str(reason).splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"re-encrypted {count} secret{'' if count == 1 else 's'} with the newest key")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m remediation_app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply every migration up to head").set_defaults(func=_db_upgrade)
    rules = commands.add_parser("rules", help="the rules engine").add_subparsers(dest="rules_command", required=True)
    dry_run = rules.add_parser("explain", help="dry run: which rule wins for these labels, and why")
    dry_run.add_argument("labels", nargs="*", metavar="name=value", help="e.g. alertname=DiskFull severity=critical")
    dry_run.set_defaults(func=_rules_explain)
    commands.add_parser(
        "rotate-keys",
        help="re-encrypt every stored secret with the newest key (ENCRYPTION_KEY=new,old; then drop old)",
    ).set_defaults(func=_rotate_keys)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
