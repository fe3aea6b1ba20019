"""`python -m remediation_app db upgrade` and `rules explain|export|import|validate`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from remediation_app.cli_common import ACTOR, CommandError, with_session

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from remediation_app.services.rules import io as rules_io
    from remediation_app.services.rules.engine import Decision


def db_upgrade(_args: argparse.Namespace) -> int:
    from remediation_app.services import migrations
    from remediation_app.settings import get_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.database_url)
    print(f"database at revision {migrations.head_revision()}")
    return 0


def rules_explain(args: argparse.Namespace) -> int:
    labels: dict[str, str] = {}
    for item in args.labels:
        name, sep, value = item.partition("=")
        if not sep:
            print(f"not a label: {item!r} (expected name=value)", file=sys.stderr)
            return 2
        labels[name] = value

    from remediation_app.services.rules.engine import explain

    async def run(session: AsyncSession) -> Decision:
        return await explain(session, labels)

    decision = with_session(run)
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
    from remediation_app.services.rules import io as rules_io

    limit = rules_io.MAX_DOCUMENT_BYTES + 1
    try:
        if path == "-":
            return sys.stdin.buffer.read(limit)
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None


def _parsed(path: str) -> rules_io.ParsedRules:
    from remediation_app.services.rules import io as rules_io

    parsed = rules_io.parse_rules(_read_document(path))
    for warning in parsed.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not parsed.ok:
        raise CommandError(f"{path}: refused, nothing changed:\n" + "\n".join(f"  {e}" for e in parsed.errors))
    return parsed


def rules_validate(args: argparse.Namespace) -> int:
    parsed = _parsed(args.file)
    print(f"{args.file}: valid, {len(parsed.rules)} rule{'s' if len(parsed.rules) != 1 else ''}")
    return 0


def rules_export(args: argparse.Namespace) -> int:
    from remediation_app.services.rules import io as rules_io
    from remediation_app.services.rules.engine import list_rules

    async def run(session: AsyncSession) -> tuple[str, int]:
        rules = await list_rules(session)
        return rules_io.dump_rules(rules), len(rules)

    document, count = with_session(run)
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


def rules_import(args: argparse.Namespace) -> int:
    from remediation_app.services.rules import io as rules_io

    rules = _parsed(args.file).rules

    async def run(session: AsyncSession) -> rules_io.ImportPlan:
        if args.dry_run:
            return await rules_io.plan_import(session, rules)
        plan = await rules_io.import_rules(session, rules, actor=ACTOR)
        await session.commit()
        return plan

    plan = with_session(run)
    _print_plan(plan)
    if args.dry_run:
        print(f"dry run, nothing changed: would import {len(rules)} rules ({plan.summary()})")
    else:
        print(f"imported {len(rules)} rules ({plan.summary()})")
    return 0
