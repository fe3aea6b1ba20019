"""Commands start fast (issue 13: `rules explain` took 4.7 s on a busy machine): each imports what it
needs, never the web app, Reflex or LiteLLM, and not the libraries of the other commands (every
command used to import them all when the parser was built).

Asserted on what a command imports, in a fresh interpreter as a shell runs it: deterministic,
unlike a time on a shared machine (bench/startup.py measures `rules explain`: well under a second).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest

from remediation_app.cli_users import ROLES
from remediation_app.models import Role
from tests.conftest import sqlite_only
from tests.support.app_server import BIN, ROOT

# Never for a command: the web app, Reflex, the server, LiteLLM.
HEAVY = ("reflex", "litellm", "granian", "remediation_app.remediation_app", "remediation_app.pages")
# What each command does not need either (each import costs tens of ms): migrations (alembic), the
# HTTP client, password hashing and tokens (passlib, jose), YAML.
NOT_NEEDED = {
    "rules explain": ("alembic", "httpx", "passlib", "jose", "yaml"),
    "rules export": ("alembic", "httpx", "passlib", "jose"),
    "check-config": ("httpx", "passlib", "jose", "yaml"),
    "db upgrade": ("httpx", "passlib", "jose", "yaml"),
}

# Runs the command through cli.main in a fresh interpreter, then reports the modules it loaded.
RUN = textwrap.dedent(
    """
    import json, sys
    from remediation_app.cli import main
    code = main(sys.argv[1:])
    loaded = sorted({name.split(".")[0] if not name.startswith("remediation_app") else name for name in sys.modules})
    print(json.dumps({"code": code, "modules": loaded}))
    """
)


def loaded_by(argv: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    done = subprocess.run(
        [str(BIN / "python"), "-c", RUN, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return found["code"], found["modules"]


@pytest.fixture
def cli_env(app_settings) -> dict[str, str]:
    """This process's environment, which app_settings pointed at a migrated test database."""
    return dict(os.environ)


@sqlite_only
@pytest.mark.parametrize(
    "argv",
    [
        ["rules", "explain", "alertname=DiskFull", "severity=critical"],
        ["rules", "export"],
        ["check-config"],
        ["db", "upgrade"],
    ],
    ids=" ".join,
)
def test_commands_load_only_what_they_need(argv, cli_env):
    code, modules = loaded_by(argv, cli_env)
    assert code == 0
    unneeded = HEAVY + NOT_NEEDED[" ".join(argv[:2]) if argv[0] in ("rules", "db") else argv[0]]
    loaded = [name for name in modules if name.startswith(unneeded)]
    assert loaded == [], loaded


def test_the_role_choices_are_the_models_roles():
    assert set(ROLES) == {role.value for role in Role}
