"""Deployment files, validated without Docker (it does not run on the development machines; building
the image stays a documented, optional step: `make image` where docker or podman exists).

- docker-compose.yml parses and has the services, healthchecks, profiles and settings it should;
  `docker compose config -q` also checks it where the compose plugin is installed (skipped
  otherwise: the docker CLI here has no compose plugin, and Debian ships none).
- The Dockerfile's stages run the Makefile's commands (parsed from both files, not copied into this
  test): bun version and install command, the runtime requirements only (the development tools are
  `make test`'s), the frontend build, Reflex's environment, migrations and the server command
  (`python -m remediation_app serve`); the runtime stage has no bun and no Node.js, and both stages
  bake the same settings into the frontend (or the image's build would not be served).
- The app restarts: compose gives every service a restart policy, and the app the image's own
  health check (the same command and timings).
- The systemd unit of docs/systemd.md (shipped as docs/remediation-engine.service) runs the
  Makefile's commands as an unprivileged, restarting, hardened service, writes only under its state
  directory, and `systemd-analyze verify` accepts it (skipped where systemd-analyze is missing).
- The image, outside Docker: the builder's frontend build, then the entrypoint script as the
  runtime stage runs it (no bun, no Node.js, no network: a namespace with only loopback) serves
  that build, its pages and the webhook; the image's health check command passes against it, and
  the server stops cleanly on SIGTERM (what tini passes on).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediation_app.frontend_build import MARKER
from remediation_app.settings import Settings
from tests.conftest import WEBHOOK_TOKEN, require, require_tool
from tests.support import netns
from tests.support.app_server import BIN, HOST, TOOLS_BIN, free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
MAKEFILE = ROOT / "Makefile"
ENTRYPOINT = ROOT / "remediation_app" / "deploy" / "docker-entrypoint.sh"
ENV_EXAMPLE = ROOT / ".env.example"
SYSTEMD_DOC = ROOT / "docs" / "systemd.md"
SYSTEMD_UNIT = ROOT / "docs" / "remediation-engine.service"
# Read by Reflex or granian rather than by Settings.
NOT_SETTINGS = {"GRANIAN_WORKERS", "REFLEX_API_URL"}


# --- parsing --------------------------------------------------------------------------------------


def logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined and comments dropped (Dockerfile and Makefile)."""
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        if current.strip():
            lines.append(current)
        current = ""
    return lines


class Makefile:
    def __init__(self, text: str) -> None:
        self.variables: dict[str, str] = {}
        self.exports: dict[str, str] = {}
        self.recipes: dict[str, list[str]] = {}
        target = None
        for line in logical_lines(text):
            if line.startswith("\t") and target:
                self.recipes[target].append(line.strip())
                continue
            target = None
            if m := re.match(r"export\s+(\w+)\s*:?=\s*(.*)$", line):
                self.exports[m[1]] = m[2].strip()
            elif m := re.match(r"(\w+)\s*(?::=|\?=|=)\s*(.*)$", line):
                self.variables[m[1]] = m[2].strip()
            elif m := re.match(r"([^\s:=]+)\s*:(?!=)", line):
                target = self.expand(m[1])
                self.recipes[target] = []

    def expand(self, text: str, keep: tuple[str, ...] = ()) -> str:
        """Expand $(VAR) recursively, except the names in `keep` (left as ${VAR}: a Docker ARG)."""

        def one(m: re.Match[str]) -> str:
            name = m[1]
            if name in keep:
                return "${" + name + "}"
            return self.expand(self.variables.get(name, ""), keep)

        return re.sub(r"\$\((\w+)\)", one, text)

    def recipe(self, target: str, keep: tuple[str, ...] = ()) -> list[str]:
        return [self.expand(line, keep).lstrip("@") for line in self.recipes[target]]


class Dockerfile:
    def __init__(self, text: str) -> None:
        self.global_args: dict[str, str] = {}
        self.stages: list[dict[str, Any]] = []
        for line in logical_lines(text):
            instruction, _, rest = line.strip().partition(" ")
            instruction, rest = instruction.upper(), rest.strip()
            if instruction == "FROM":
                m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
                assert m
                self.stages.append({"from": m[1], "name": m[2], "env": {}, "args": {}, "lines": []})
                continue
            if not self.stages:
                if instruction == "ARG":
                    name, _, default = rest.partition("=")
                    self.global_args[name] = default
                continue
            stage = self.stages[-1]
            stage["lines"].append((instruction, rest))
            if instruction == "ENV":
                for token in shlex.split(rest):
                    name, _, value = token.partition("=")
                    stage["env"][name] = value
            elif instruction == "ARG":
                name, _, default = rest.partition("=")
                stage["args"][name] = default

    def stage(self, name: str) -> dict[str, Any]:
        [found] = [stage for stage in self.stages if stage["name"] == name]
        return found

    def instructions(self, stage: str, instruction: str) -> list[str]:
        return [rest for ins, rest in self.stage(stage)["lines"] if ins == instruction]

    def base_image(self, stage: str) -> str:
        image = self.stage(stage)["from"]
        return re.sub(r"\$\{(\w+)\}", lambda m: self.global_args[m[1]], image)


@pytest.fixture(scope="module")
def make() -> Makefile:
    return Makefile(MAKEFILE.read_text())


@pytest.fixture(scope="module")
def docker() -> Dockerfile:
    return Dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def server_command(make: Makefile) -> str:
    """The command `make run` execs, without the venv's path: `python -m remediation_app serve`."""
    [line] = [line for line in make.recipe("run") if line.startswith("exec ")]
    return line.removeprefix("exec ").replace(f"{make.expand('$(BIN)')}/", "")


def migrate_command(make: Makefile) -> str:
    [line] = make.recipe("migrate")
    return line.replace(f"{make.expand('$(BIN)')}/", "")


def entrypoint_commands() -> list[str]:
    return [
        line.strip()
        for line in ENTRYPOINT.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


# --- Dockerfile and entrypoint against the Makefile ----------------------------------------------------


def test_the_makefile_parses_as_expected(make):
    # If these fail, the parser (not the Dockerfile) needs attention.
    assert server_command(make) == "python -m remediation_app serve"
    assert migrate_command(make) == "python -m remediation_app db upgrade"
    assert re.fullmatch(r"\d+\.\d+\.\d+", make.variables["BUN_VERSION"])
    assert "REFLEX_USE_SYSTEM_BUN" in make.exports


def test_dockerfile_is_multi_stage_on_python_311_bookworm(docker):
    assert [stage["name"] for stage in docker.stages] == ["builder", "runtime"]
    for stage in ("builder", "runtime"):
        # One base for both: the venv copied from the builder runs on the runtime's Python.
        assert docker.base_image(stage) == "python:3.11-slim-bookworm"


def test_builder_installs_bun_exactly_like_the_makefile(docker, make):
    assert docker.stage("builder")["args"]["BUN_VERSION"] == make.variables["BUN_VERSION"]
    [npm_install] = [
        line for line in make.recipe(make.expand("$(BUN)"), keep=("BUN_VERSION",)) if "npm install" in line
    ]
    runs = docker.instructions("builder", "RUN")
    assert npm_install in runs, (npm_install, runs)
    apt = next(run for run in runs if "apt-get install" in run)
    assert "nodejs" in apt.split() and "npm" in apt.split()
    # bun lands where the Makefile puts it, and that is on the builder's PATH.
    bin_dir = "/app/" + make.expand("$(TOOLS)") + "/node_modules/.bin"
    assert docker.stage("builder")["env"]["PATH"].split(":")[0] == bin_dir


def test_builder_installs_the_runtime_requirements_as_the_makefile_does(docker, make):
    runs = " ".join(docker.instructions("builder", "RUN"))
    [pip_install, pip_check] = [line for line in make.recipe(make.expand("$(STAMP)")) if "pip" in line]
    for command in (pip_install, pip_check):
        # The same pip subcommand and arguments (the image sets PIP_DISABLE_PIP_VERSION_CHECK instead).
        args = command.split("--disable-pip-version-check", 1)[1].strip()
        assert f"pip --python /opt/venv/bin/python {args}" in runs, (args, runs)
    assert "-r requirements.txt" in pip_install
    assert any(copy.split()[0] == "requirements.txt" for copy in docker.instructions("builder", "COPY"))
    # The development tools are the Makefile's `make test` only: never in the image.
    instructions = " ".join(rest for stage in docker.stages for _, rest in stage["lines"])
    assert "requirements-dev.txt" not in instructions
    assert any("requirements-dev.txt" in line for line in make.recipe(make.expand("$(DEV_STAMP)")))
    assert make.expand("$(DEV_STAMP)") not in " ".join(make.recipes["run"] + make.recipes["install"])


def test_builder_builds_the_frontend_with_the_makefiles_command_then_drops_the_toolchain(docker, make):
    [build] = [line.replace(f"{make.expand('$(BIN)')}/", "") for line in make.recipe("frontend")]
    assert build == "python -m remediation_app build-frontend"
    [run] = [run for run in docker.instructions("builder", "RUN") if build in run]
    # In the same layer: the frontend's node_modules and bun never reach the runtime stage.
    after = run.split(build, 1)[1]
    assert "rm -rf .web/node_modules " + make.expand("$(TOOLS)") in after


def test_the_runtime_stage_has_no_bun_and_no_nodejs(docker, make):
    runtime = docker.stage("runtime")
    assert make.expand("$(TOOLS)") not in runtime["env"]["PATH"]
    assert runtime["env"]["PATH"].split(":")[0] == "/opt/venv/bin"
    runs = " ".join(docker.instructions("runtime", "RUN")).split()
    assert "nodejs" not in runs and "npm" not in runs


def test_both_stages_bake_the_same_settings_into_the_frontend(docker):
    """The key of the build made in the builder must match at run time: the same REFLEX_* values,
    the same PORT (remediation_app/frontend_build.py)."""
    builder, runtime = docker.stage("builder")["env"], docker.stage("runtime")["env"]
    baked = {name for name in builder if name.startswith(("REFLEX_", "VITE_"))} | {"PORT"}
    assert {name: builder[name] for name in baked} == {name: runtime.get(name) for name in baked}
    assert builder["PORT"] == str(Settings.model_fields["port"].default)
    assert docker.stage("builder")["args"].get("REFLEX_API_URL") == docker.stage("runtime")["args"].get(
        "REFLEX_API_URL"
    )


def test_both_stages_have_the_makefiles_reflex_environment(docker, make):
    for stage in ("builder", "runtime"):
        env = docker.stage(stage)["env"]
        for name, value in make.exports.items():
            if name == "PATH":
                continue
            assert env.get(name) == value, (stage, name)


def test_runtime_is_non_root_with_a_healthcheck_a_volume_and_tini(docker):
    [user] = docker.instructions("runtime", "USER")
    assert user not in ("root", "0")
    env = docker.stage("runtime")["env"]
    [healthcheck] = docker.instructions("runtime", "HEALTHCHECK")
    assert "/healthz" in healthcheck and "CMD" in healthcheck
    [volume] = docker.instructions("runtime", "VOLUME")
    assert yaml.safe_load(volume) == [env["DATA_DIR"]]
    [expose] = docker.instructions("runtime", "EXPOSE")
    assert expose == env["PORT"] == str(Settings.model_fields["port"].default)
    assert env["DATABASE_URL"] == f"sqlite:///{env['DATA_DIR']}/remediation.db"
    [entrypoint] = docker.instructions("runtime", "ENTRYPOINT")
    argv = yaml.safe_load(entrypoint)
    assert argv[:2] == ["tini", "--"]
    assert argv[-1] == "/app/" + str(ENTRYPOINT.relative_to(ROOT))
    assert "tini" in " ".join(docker.instructions("runtime", "RUN"))
    # The runtime stage gets no compilers, npm or bun: only the venv and the app (with its built
    # frontend) from the builder.
    copies = docker.instructions("runtime", "COPY")
    assert copies and all(copy.startswith("--from=builder") for copy in copies)


def healthcheck(docker: Dockerfile) -> tuple[dict[str, str], list[str]]:
    """The runtime stage's HEALTHCHECK: its options (`--interval=30s` -> {"interval": "30s"}) and argv."""
    [line] = docker.instructions("runtime", "HEALTHCHECK")
    options, _, command = line.partition("CMD")
    parsed = dict(re.findall(r"--([\w-]+)=(\S+)", options))
    return parsed, yaml.safe_load(command)


def test_the_healthcheck_asks_healthz_with_a_start_period_for_a_first_migration(docker):
    options, argv = healthcheck(docker)
    assert argv[:2] == ["python", "-c"] and "/healthz" in argv[2]
    assert set(options) == {"interval", "timeout", "start-period", "retries"}
    assert int(options["retries"]) >= 2  # one slow answer is not a failure
    # The frontend is built into the image; the migrations of a first start on a slow database.
    assert int(options["start-period"].removesuffix("s")) >= 60


def test_entrypoint_migrates_then_execs_the_make_run_server(make):
    commands = entrypoint_commands()
    assert commands[0] == "set -eu"
    assert commands[-1] == "exec " + server_command(make)
    assert migrate_command(make) in commands
    assert commands.index(migrate_command(make)) < len(commands) - 1
    done = subprocess.run(["sh", "-n", str(ENTRYPOINT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_make_image_builds_the_dockerfile_with_docker_or_podman(engine):
    done = subprocess.run(
        ["make", "-n", "image", f"ENGINE={engine}", "IMAGE=remediation-engine:test"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"{engine} build --tag remediation-engine:test ." in done.stdout.splitlines()


def test_make_image_without_an_engine_says_so():
    done = subprocess.run(["make", "image", "ENGINE="], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "make image needs docker or podman" in done.stdout


def test_dockerignore_keeps_local_builds_out_of_the_image():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".tools", ".web", "data", ".env", ".git"} <= ignored
    # Nor what only development needs, nor what the frontend build writes itself.
    assert {"tests", "bench", "assets/external", "**/.mypy_cache"} <= ignored


# --- docker-compose.yml ----------------------------------------------------------------------------


def test_compose_services_healthchecks_and_profiles(compose, docker):
    services = compose["services"]
    assert set(services) == {"db", "app", "redis", "ollama"}
    db, app, redis, ollama = (services[name] for name in ("db", "app", "redis", "ollama"))

    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert "profiles" not in db and "profiles" not in app
    assert app["build"] == "."
    assert app["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert redis["profiles"] == ["scale"] and "redis-cli" in redis["healthcheck"]["test"]
    assert ollama["profiles"] == ["ollama"] and ollama["healthcheck"]["test"]

    # The app's data directory is the image's volume; the published port is the image's.
    runtime_env = docker.stage("runtime")["env"]
    assert any(volume.split(":")[1] == runtime_env["DATA_DIR"] for volume in app["volumes"])
    assert all(port.rsplit(":", 1)[1] == runtime_env["PORT"] for port in app["ports"])


def test_compose_restarts_every_service_and_checks_the_app_as_the_image_does(compose, docker):
    for name, service in compose["services"].items():
        assert service.get("restart") in ("unless-stopped", "always"), name
    options, argv = healthcheck(docker)
    check = compose["services"]["app"]["healthcheck"]
    assert check["test"] == ["CMD", *argv]
    assert {
        "interval": check["interval"],
        "timeout": check["timeout"],
        "start-period": check["start_period"],
        "retries": str(check["retries"]),
    } == options


def test_compose_app_environment_uses_real_settings(compose):
    env = compose["services"]["app"]["environment"]
    for required in ("DATABASE_URL", "WEBHOOK_TOKEN", "SECRET_KEY", "ENCRYPTION_KEY"):
        assert required in env
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://") and "@db:5432/" in env["DATABASE_URL"]
    assert ":?" in env["WEBHOOK_TOKEN"]  # compose refuses to start without a webhook token
    known = {name.upper() for name in Settings.model_fields} | NOT_SETTINGS
    assert set(env) <= known, set(env) - known


def test_every_compose_variable_is_in_the_env_example():
    used = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    example = {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line and line[0] != "#"}
    assert used <= example, used - example


def test_docker_compose_config_when_the_plugin_is_installed(tmp_path):
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed here (Debian has none); structure checked above")
    env = {**os.environ, "POSTGRES_PASSWORD": "pw", "WEBHOOK_TOKEN": "token"}
    for profiles in ([], ["--profile", "scale", "--profile", "ollama"]):
        done = subprocess.run(
            [docker, "compose", "-f", str(COMPOSE), *profiles, "config", "-q"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,  # no .env of the developer's
        )
        assert done.returncode == 0, done.stderr


# --- the systemd unit -----------------------------------------------------------------------------


def unit_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith(("#", ";"))]


def systemd_unit() -> dict[str, dict[str, list[str]]]:
    """docs/systemd.md's unit: section -> key -> every value given (in order)."""
    [text] = re.findall(r"```ini\n(\[Unit\].*?)```", SYSTEMD_DOC.read_text(), re.DOTALL)
    sections: dict[str, dict[str, list[str]]] = {}
    for line in unit_lines(text):
        if m := re.fullmatch(r"\[(\w+)\]", line):
            section = sections.setdefault(m[1], {})
            continue
        key, _, value = line.partition("=")
        section.setdefault(key, []).append(value)
    return sections


def unit_environment(service: dict[str, list[str]]) -> dict[str, str]:
    return dict(token.split("=", 1) for line in service["Environment"] for token in shlex.split(line))


def test_the_systemd_unit_in_the_docs_is_the_shipped_file():
    [text] = re.findall(r"```ini\n(\[Unit\].*?)```", SYSTEMD_DOC.read_text(), re.DOTALL)
    assert unit_lines(SYSTEMD_UNIT.read_text()) == unit_lines(text)


def test_the_systemd_unit_runs_make_run_as_a_restarting_unprivileged_service(make):
    unit = systemd_unit()
    service = unit["Service"]
    [app] = service["WorkingDirectory"]
    venv_bin = f"{app}/{make.expand('$(BIN)')}/"
    assert service["ExecStartPre"] == [venv_bin + migrate_command(make)]
    assert service["ExecStart"] == [venv_bin + server_command(make)]
    # One process: whatever ends it (a crash, `kill -9`, an OOM kill), systemd starts it again.
    assert service["Restart"] == ["always"] and service["RestartSec"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    [user] = service["User"]
    assert user not in ("root", "0") and service["EnvironmentFile"]
    assert service["KillMode"] == ["mixed"]  # SIGTERM to the server, which stops its workers

    env = unit_environment(service)
    for name, value in make.exports.items():
        if name != "PATH":
            assert env[name] == value, name
    assert env["PATH"].split(":")[:2] == [f"{app}/{make.expand('$(TOOLS)')}/node_modules/.bin", venv_bin.rstrip("/")]
    # Everything it writes is in its state directory (or the few paths Reflex rewrites in the app).
    [state] = service["StateDirectory"]
    state_dir = f"/var/lib/{state}"
    for name in ("HOME", "DATA_DIR", "REFLEX_WEB_WORKDIR", "REFLEX_STATES_WORKDIR"):
        assert (env[name] + "/").startswith(state_dir + "/"), name
    assert env["DATABASE_URL"] == f"sqlite:///{env['DATA_DIR']}/remediation.db"
    assert env["PORT"] == str(Settings.model_fields["port"].default)
    writable = [path for line in service["ReadWritePaths"] for path in line.split()]
    assert writable and all(path.startswith(f"{app}/") for path in writable)

    assert service["ProtectSystem"] == ["strict"] and service["NoNewPrivileges"] == ["yes"]
    assert service["CapabilityBoundingSet"] == [""] and service["PrivateTmp"] == ["yes"]
    assert "MemoryDenyWriteExecute" not in service  # bun (JIT) builds the frontend when the code changed


def test_systemd_analyze_verifies_the_unit(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here; the unit's content is checked above")
    # verify wants the commands to exist: point the unit at this checkout instead of /opt/...
    [app] = systemd_unit()["Service"]["WorkingDirectory"]
    unit = tmp_path / SYSTEMD_UNIT.name
    unit.write_text(SYSTEMD_UNIT.read_text().replace(app, str(ROOT)))
    done = subprocess.run([tool, "verify", "--man=no", str(unit)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


# --- the entrypoint, for real ----------------------------------------------------------------------


NODE_TOOLS = {"node", "nodejs", "npm", "npx", "corepack"}
BUN_TOOLS = {"bun", "bunx"}


def path_without_node(tmp_path: Path, *, bun: bool) -> str:
    """PATH as in an image stage: the venv, the system's tools without Node.js or npm, and bun
    (from .tools/) only when asked (the builder has it, the runtime stage does not)."""
    system = tmp_path / ("system-bin-bun" if bun else "system-bin")
    system.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        with contextlib.suppress(FileNotFoundError):
            for tool in Path(directory).iterdir():
                target = system / tool.name
                if tool.name not in NODE_TOOLS | BUN_TOOLS and not target.exists():
                    target.symlink_to(tool)
    return f"{BIN}:{TOOLS_BIN}:{system}" if bun else f"{BIN}:{system}"


@pytest.mark.slow
def test_entrypoint_serves_the_image_build_offline_without_bun_or_node_and_stops_on_sigterm(tmp_path, make, docker):
    """The image, outside Docker: the builder's steps (the frontend built with bun, then its
    node_modules dropped), then the runtime stage's start: no bun, no Node.js, and no network at
    all (`--network none`: a namespace with only loopback)."""
    require_tool(str(TOOLS_BIN / "bun"))
    require(netns.available() is None, str(netns.available()))
    port = free_port()
    web = tmp_path / "web"
    env = {
        "HOME": str(tmp_path / "home"),
        **{name: value for name, value in make.exports.items() if name != "PATH"},
        "PORT": str(port),
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'remediation.db'}",
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "LOG_FORMAT": "json",
        "REFLEX_WEB_WORKDIR": str(web),
        "REFLEX_STATES_WORKDIR": str(tmp_path / "states"),
    }
    # The builder stage: `make frontend`'s command with bun (and the network), then the cleanup.
    [build] = [line.replace(f"{make.expand('$(BIN)')}/", "") for line in make.recipe("frontend")]
    built = subprocess.run(
        build.split(), cwd=ROOT, env={**env, "PATH": path_without_node(tmp_path, bun=True)}, capture_output=True
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    shutil.rmtree(web / "node_modules")
    marker = json.loads((web / "build" / MARKER).read_text())

    # The runtime stage.
    env["PATH"] = path_without_node(tmp_path, bun=False)
    assert shutil.which("node", path=env["PATH"]) is None and shutil.which("bun", path=env["PATH"]) is None
    log_path = tmp_path / "entrypoint.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            netns.offline(["sh", str(ENTRYPOINT)]),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://{HOST}:{port}"
    try:
        found = netns.probe(proc.pid, url, WEBHOOK_TOKEN, 240)
        assert found["ready"], log_path.read_text(errors="replace")[-4000:]
        assert found["healthz"] == {"status": "ok"}
        assert found["login"] == [200, True] and found["asset"] == 200  # the image's build, served
        assert found["webhook"][0] == 200, found["webhook"]
        assert found["metrics_webhook_200"]
        # The image's health check command passes (run as Docker would, in the app's environment).
        _, check = healthcheck(docker)
        assert subprocess.run(netns.inside(proc.pid, check), env=env, capture_output=True, timeout=60).returncode == 0
        # exec: the shells became the server, so the signal tini sends reaches the server itself.
        argv = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert argv[1:4] == [b"-m", b"remediation_app", b"serve"], argv

        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) is not None
        leftover = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert leftover == [], f"processes left in the server's group: {leftover}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert json.loads((web / "build" / MARKER).read_text()) == marker  # served as built, nothing rebuilt
