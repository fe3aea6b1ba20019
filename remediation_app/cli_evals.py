"""`python -m remediation_app eval run|list|show|validate|export`: the evaluation harness (docs/evals.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from remediation_app.cli_common import CommandError

if TYPE_CHECKING:
    from remediation_app.models import EvalResult, EvalRun
    from remediation_app.services.evals.cases import Case
    from remediation_app.services.evals.runner import Progress

T = TypeVar("T")
EXIT_BUDGET = 3  # the run stopped at its cost cap (resume it with --resume and a higher cap)


def _run(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` on an event loop of its own, closing every database connection afterwards."""
    import sqlalchemy as sa

    from remediation_app.db import dispose_engines

    async def main() -> T:
        try:
            return await work()
        finally:
            await dispose_engines()

    try:
        return asyncio.run(main())
    except sa.exc.SQLAlchemyError as exc:  # unreachable or not migrated (no SQL parameters are shown)
        reason = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        first = str(reason).splitlines()[0] if str(reason) else type(exc).__name__
        raise CommandError(f"database error: {first} (is it migrated? python -m remediation_app db upgrade)") from None


def _cases(path: str | None, only: list[str]) -> list[Case]:
    from remediation_app.services.evals.cases import CaseError, load_cases

    try:
        cases = load_cases(Path(path) if path else None)
    except CaseError as exc:
        raise CommandError(f"the cases do not load:\n{exc}") from None
    if only:
        unknown = sorted(set(only) - {c.id for c in cases})
        if unknown:
            raise CommandError(f"--case: no such case: {', '.join(unknown)}")
        cases = [c for c in cases if c.id in set(only)]
    return cases


def _write(target: Path, text: str) -> None:
    partial = target.with_name(f".{target.name}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)  # readers never see half a file
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None


def write_report(path: str, run: EvalRun, results: list[EvalResult]) -> list[Path]:
    """The report as HTML and JSON: PATH and PATH with the other suffix (.html / .json)."""
    from remediation_app.services.evals.report import report_json
    from remediation_app.services.evals.report_html import report_html

    given = Path(path)
    if given.suffix == ".json":
        json_path, html_path = given, given.with_suffix(".html")
    else:
        html_path = given if given.suffix in (".html", ".htm") else given.with_name(given.name + ".html")
        json_path = html_path.with_suffix(".json")
    _write(html_path, report_html(run, results))
    _write(json_path, json.dumps(report_json(run, results), indent=1, default=str) + "\n")
    return [html_path, json_path]


def _progress(progress: Progress) -> None:
    r = progress.result
    cost = f"${r.cost_usd:.4f}" if r.cost_usd is not None else "cost n/a"
    what = r.status + (f": {r.error[:120]}" if r.error else f" ({r.score * 100:.0f}%)")
    print(
        f"[{progress.done}/{progress.total}] {r.model} {r.case_id}: {what}, {r.latency_ms / 1000:.1f} s, {cost}",
        file=sys.stderr,
        flush=True,
    )


def _print_totals(run: EvalRun) -> None:
    print(f"evaluation run #{run.id}: {run.status}" + (f" ({run.note})" if run.note else ""))
    for model, t in run.totals.items():
        cost = "n/a" if t["cost_usd"] is None else f"${t['cost_usd']:.4f}"
        p50 = "n/a" if t["latency_p50_s"] is None else f"{t['latency_p50_s']:.1f}s"
        p95 = "n/a" if t["latency_p95_s"] is None else f"{t['latency_p95_s']:.1f}s"
        print(
            f"  {model}: {t['passed']}/{t['cases']} passed ({t['pass_rate'] * 100:.0f}%), {t['errors']} errors, "
            f"cost {cost}, p50 {p50}, p95 {p95}, {t['tool_calls']} tool calls"
        )


def eval_run(args: argparse.Namespace) -> int:
    from remediation_app.services.evals import store
    from remediation_app.services.evals.report import summary_line
    from remediation_app.services.evals.runner import RunOptions, run_cases
    from remediation_app.services.evals.store import RunError

    if not args.model and args.resume is None:
        raise CommandError("--model: give at least one model (or --resume RUN_ID)")
    cases = _cases(args.cases, args.case or [])
    cases_path = str(Path(args.cases).resolve()) if args.cases else ""

    async def work() -> tuple[EvalRun, list[EvalResult]]:
        from remediation_app.db import async_session

        models = list(args.model or [])
        judge = args.judge_model or ""
        if args.resume is not None and not models:
            async with async_session() as session:
                try:
                    stored, _ = await store.get_run(session, args.resume)
                except store.RunNotFound:
                    raise CommandError(f"--resume: no evaluation run #{args.resume}") from None
            models, judge = list(stored.models), judge or stored.judge_model
        options = RunOptions(
            models=models,
            api_base=args.api_base or "",
            judge_model=judge,
            concurrency=args.concurrency,
            budget_usd=args.budget_usd,
            tool_calling=args.tool_calling,
            timeout_s=args.timeout,
            cases_path=cases_path,
        )
        try:
            run = await run_cases(cases, options, resume=args.resume, progress=_progress)
        except RunError as exc:
            raise CommandError(str(exc)) from None
        async with async_session() as session:
            return await store.get_run(session, run.id or 0)

    run, results = _run(work)
    written = write_report(args.report, run, results)
    print(f"report: {', '.join(str(p) for p in written)}", file=sys.stderr)
    if args.json:
        print(f"run {run.id}: {run.status}", file=sys.stderr)
        print(json.dumps(summary_line(run)))
    else:
        _print_totals(run)
    return EXIT_BUDGET if run.status == "budget" else 0


def _positive(value: int | None, option: str) -> None:
    if value is not None and not 1 <= value <= 10_000:
        raise CommandError(f"{option}: from 1 to 10000")


def eval_list(args: argparse.Namespace) -> int:
    from remediation_app.services.evals import store
    from remediation_app.services.evals.report import run_public

    _positive(args.limit, "--limit")

    async def work() -> list[dict[str, Any]]:
        from remediation_app.db import async_session

        async with async_session() as session:
            rows, _total = await store.list_runs(session, limit=args.limit)
            return [run_public(r) for r in rows]

    runs = _run(work)
    if args.json:
        print(json.dumps(runs))
        return 0
    for run in runs:
        rates = ", ".join(f"{m} {t['pass_rate'] * 100:.0f}%" for m, t in (run["totals"] or {}).items())
        print(f"#{run['id']} {run['created_at'][:19]} {run['status']}: {run['cases']} cases; {rates or run['models']}")
    return 0


def eval_show(args: argparse.Namespace) -> int:
    from remediation_app.services.evals import store
    from remediation_app.services.evals.report import summary_line

    async def work() -> tuple[EvalRun, list[EvalResult]]:
        from remediation_app.db import async_session

        async with async_session() as session:
            try:
                return await store.get_run(session, args.run_id)
            except store.RunNotFound:
                raise CommandError(f"no evaluation run #{args.run_id}") from None

    run, results = _run(work)
    if args.report:
        written = write_report(args.report, run, results)
        print(f"report: {', '.join(str(p) for p in written)}", file=sys.stderr)
    if args.json:
        print(f"run {run.id}: {run.status}", file=sys.stderr)
        print(json.dumps(summary_line(run)))
    else:
        _print_totals(run)
    return 0


def eval_validate(args: argparse.Namespace) -> int:
    from remediation_app.services.evals.fixtures import unanswered

    cases = _cases(args.cases, [])
    problems = [f"{case.id}: {gap}" for case in cases for gap in unanswered(case)]
    if problems:
        raise CommandError("fixtures missing:\n" + "\n".join(f"  {p}" for p in problems))
    print(f"{len(cases)} case{'s' if len(cases) != 1 else ''} valid")
    return 0


def eval_export(args: argparse.Namespace) -> int:
    from remediation_app.services.evals.export import Exported, export_cases

    _positive(args.limit, "--limit")

    async def work() -> Exported:
        from remediation_app.db import async_session

        async with async_session() as session:
            try:
                return await export_cases(session, Path(args.out), limit=args.limit)
            except OSError as exc:
                raise CommandError(f"cannot write to {args.out}: {exc.strerror or exc}") from None

    exported = _run(work)
    for reason in exported.skipped:
        print(f"skipped {reason}", file=sys.stderr)
    print(f"exported {len(exported.written)} case{'s' if len(exported.written) != 1 else ''} to {args.out}")
    return 0


def add_commands(commands: Any, command: Callable[[argparse.ArgumentParser, str], None]) -> None:
    """The `eval` command and its subcommands (cli.py builds the parser)."""
    evals = commands.add_parser("eval", help="evaluate models on incident cases (docs/evals.md)")
    sub = evals.add_subparsers(dest="eval_command", required=True)
    run = sub.add_parser("run", help="run every case against every model; store the results; write a report")
    run.add_argument("--cases", metavar="PATH", help="a case file or folder (default: the shipped cases)")
    run.add_argument("--case", action="append", metavar="ID", help="only this case (repeatable)")
    run.add_argument(
        "--model", action="append", metavar="MODEL", help="a LiteLLM model, e.g. ollama/llama3 (repeatable)"
    )
    run.add_argument("--api-base", metavar="URL", help="the endpoint for every model and the judge")
    run.add_argument("--judge-model", metavar="MODEL", help="grade paraphrase with this model (default: rules only)")
    run.add_argument("--concurrency", type=int, default=4, metavar="N", help="cases at once (default 4)")
    run.add_argument("--budget-usd", type=float, metavar="X", help="start no case once the run has spent X dollars")
    run.add_argument(
        "--tool-calling", choices=["auto", "on", "off"], default="auto", help="offer the tools (default auto)"
    )
    run.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS", help="per model call (default 120)")
    run.add_argument("--resume", type=int, metavar="RUN_ID", help="continue a run: skip what it finished")
    run.add_argument("--report", required=True, metavar="PATH", help="write the report: PATH (.html) and .json")
    run.add_argument("--json", action="store_true", help="print the totals as one JSON object on the last line")
    command(run, "cli_evals:eval_run")
    listing = sub.add_parser("list", help="the evaluation runs, newest first")
    listing.add_argument("--limit", type=int, default=20, help="default 20")
    listing.add_argument("--json", action="store_true", help="as JSON")
    command(listing, "cli_evals:eval_list")
    show = sub.add_parser("show", help="one run's totals; --report writes its report again")
    show.add_argument("run_id", type=int, metavar="RUN_ID")
    show.add_argument("--report", metavar="PATH", help="write the report: PATH (.html) and .json")
    show.add_argument("--json", action="store_true", help="print the totals as one JSON object")
    command(show, "cli_evals:eval_show")
    validate = sub.add_parser("validate", help="check cases: schema, and fixtures for what their rubric needs")
    validate.add_argument("--cases", metavar="PATH", help="a case file or folder (default: the shipped cases)")
    command(validate, "cli_evals:eval_validate")
    export = sub.add_parser("export", help="write recorded outcomes as cases (evidence as recorded, redacted)")
    export.add_argument("--out", required=True, metavar="PATH", help="the folder to write the case files into")
    export.add_argument("--limit", type=int, metavar="N", help="at most N cases")
    command(export, "cli_evals:eval_export")
