"""Admin commands: python -m remediation_app <command>."""

from __future__ import annotations

import argparse
import sys

from remediation_app.services import migrations
from remediation_app.settings import get_settings


def _db_upgrade(_args: argparse.Namespace) -> int:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.database_url)
    print(f"database at revision {migrations.head_revision()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m remediation_app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply every migration up to head").set_defaults(func=_db_upgrade)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
