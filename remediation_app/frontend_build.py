"""The production frontend: built once per change of what goes into it, then reused.

Reflex's `reflex run --env prod` compiles the pages, installs the frontend's packages and runs the
bundler at every start (tens of seconds, and a registry is needed whenever its install cache looks
stale, e.g. in an image without npm). Here the build is keyed by a hash of its inputs:

- the sources that compile into it: every file under remediation_app/ (bytecode and hidden
  entries aside), assets/ (except assets/external/, which the compile itself writes), rxconfig.py,
  and reflex.lock/ (the frontend packages' pins);
- the Reflex distributions' versions (they carry the compiler and the page templates);
- what the build bakes in: env.json (the backend URL the browser connects to, from PORT or
  REFLEX_API_URL), and every REFLEX_* or VITE_* environment variable except the runtime-only ones
  listed below. Values are hashed, never stored: the marker lists names only.

`<web dir>/build/remediation-build.json` (the marker) is written last, after a successful build; a
start whose key matches it serves the files as they are, with no bun, no network, no compile. The
bun that built it is recorded too: where bun is on PATH and its version differs, the build is
redone; where there is none (the image's runtime stage) the sources decide alone.

A rebuild keeps the previous build's hashed assets (`build/client/assets/`) next to the new ones,
for one generation: a tab opened before the rebuild still loads the chunks its pages name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MARKER = "remediation-build.json"
SOURCE_DIRS = ("remediation_app", "assets", "reflex.lock")
SOURCE_FILES = ("rxconfig.py",)
# Not inputs: what the compile itself writes (assets/external/: rx.asset(shared=True) links),
# bytecode, and hidden entries (tool caches such as .mypy_cache, editor files).
WRITTEN_BY_THE_BUILD = "assets/external"
SKIPPED_DIRS = {"__pycache__"}
SKIPPED_SUFFIXES = (".pyc", ".pyo")
# REFLEX_*/VITE_* variables that never reach the browser's bundle: where things are kept, how the
# server runs, what the backend connects to. Anything else with those prefixes is hashed (a new
# one forces a rebuild: the safe side).
RUNTIME_ONLY_ENV = {
    "REFLEX_WEB_WORKDIR",
    "REFLEX_STATES_WORKDIR",
    "REFLEX_DIR",
    "REFLEX_USE_SYSTEM_BUN",
    "REFLEX_CHECK_LATEST_VERSION",
    "REFLEX_TELEMETRY_ENABLED",
    "REFLEX_USE_GRANIAN",
    "REFLEX_REDIS_URL",
    "REFLEX_DB_URL",
    "REFLEX_ASYNC_DB_URL",
    "REFLEX_LOGLEVEL",
    "REFLEX_LOG_JSON",
    "REFLEX_BACKEND_START_METHOD",
    "REFLEX_STATE_MANAGER_DISK_DEBOUNCE",
    # The ports are baked only through env.json, which is hashed as such (the build sets these two
    # itself, as `reflex run` does).
    "REFLEX_FRONTEND_PORT",
    "REFLEX_BACKEND_PORT",
}


log = logging.getLogger("remediation_app.frontend")


class FrontendBuildError(RuntimeError):
    """The frontend cannot be built or served; the message says what to do."""


@dataclass(frozen=True)
class BuildKey:
    digest: str
    files: dict[str, str]  # source path -> its content's hash (the marker keeps them: "which file changed")
    parts: dict[str, str]  # "sources", "versions", "env.json", "settings" -> their hashes
    env_names: tuple[str, ...]
    backend_url: str = ""  # env.json's PING: where the built pages look for the backend


def _source_files(root: Path) -> Iterable[Path]:
    for name in SOURCE_FILES:
        if (root / name).is_file():
            yield root / name
    for top in SOURCE_DIRS:
        for dirpath, dirnames, filenames in os.walk(root / top):
            here = Path(dirpath).relative_to(root)
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d not in SKIPPED_DIRS and not d.startswith(".") and (here / d).as_posix() != WRITTEN_BY_THE_BUILD
            )
            for filename in sorted(filenames):
                if not filename.endswith(SKIPPED_SUFFIXES) and not filename.startswith("."):
                    yield Path(dirpath) / filename


def reflex_versions() -> dict[str, str]:
    """The installed Reflex distributions (reflex, reflex-base, reflex-components-*, ...)."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("reflex"):
            found[name] = dist.version
    return dict(sorted(found.items()))


def baked_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables that may reach the bundle. Empty ones count as unset, as Reflex reads them."""
    return {
        name: value
        for name, value in sorted(environ.items())
        if name.startswith(("REFLEX_", "VITE_")) and name not in RUNTIME_ONLY_ENV and value.strip()
    }


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def compute_key(
    root: Path, *, env_json: Mapping[str, object], environ: Mapping[str, str], versions: Mapping[str, str]
) -> BuildKey:
    """The hash of everything that goes into the frontend build (see the module's docstring)."""
    files = {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:32]
        for path in _source_files(root)
    }
    baked = baked_environment(environ)
    parts = {
        "sources": _digest(files),
        "versions": _digest(dict(versions)),
        "env.json": _digest(dict(env_json)),
        "settings": _digest(baked),
    }
    return BuildKey(digest=_digest(parts), files=files, parts=parts, env_names=tuple(baked))


def expected_env_json() -> dict[str, object]:
    """What Reflex writes to env.json for this configuration (reflex.utils.build.set_env_json)."""
    from reflex.utils.exec import is_in_app_harness
    from reflex_base import constants
    from reflex_base.config import get_config

    config = get_config()
    env: dict[str, object] = {
        **{endpoint.name: endpoint.get_url() for endpoint in constants.Endpoint},
        "TRANSPORT": config.transport,
        "TEST_MODE": is_in_app_harness(),
    }
    for plugin in config.plugins:
        if contribution := plugin.update_env_json():
            env.update(contribution)
    return env


def current_key(environ: Mapping[str, str] | None = None) -> BuildKey:
    env_json = expected_env_json()
    key = compute_key(
        ROOT, env_json=env_json, environ=os.environ if environ is None else environ, versions=reflex_versions()
    )
    return dataclasses.replace(key, backend_url=str(env_json["PING"]))


def web_dir() -> Path:
    from reflex.utils import prerequisites

    return Path(prerequisites.get_web_dir())


def marker_path(web: Path) -> Path:
    return web / "build" / MARKER


def read_marker(web: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads(marker_path(web).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def bun_version() -> str | None:
    """The version of the bun Reflex would build with, or None where there is none."""
    from reflex.utils import path_ops

    bun = path_ops.get_bun_path()
    if bun is None:
        return None
    try:
        done = subprocess.run([str(bun), "--version"], capture_output=True, text=True, timeout=30, check=True)  # noqa: S603 (Reflex's bun)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def _changes(marker: dict[str, Any], key: BuildKey) -> str:
    """What differs between the build in the marker and this start, in words (names, never values)."""
    # A marker written by another version of this module may lack these, or hold something else.
    built_parts: dict[str, Any] = marker["parts"] if isinstance(marker.get("parts"), dict) else {}
    changed = [name for name, digest in key.parts.items() if built_parts.get(name) != digest]
    said = []
    if "sources" in changed:
        built_files: dict[str, Any] = marker["files"] if isinstance(marker.get("files"), dict) else {}
        paths = sorted(
            path for path in set(built_files) | set(key.files) if built_files.get(path) != key.files.get(path)
        )
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        said.append(f"the app's sources changed ({shown or 'unknown files'})")
    if "versions" in changed:
        said.append("Reflex's version changed")
    if "env.json" in changed:
        said.append(
            f"it was built to reach the server at {marker.get('backend_url')}, this start serves "
            f"{key.backend_url} (PORT or REFLEX_API_URL differ)"
        )
    if "settings" in changed:
        then = ", ".join(marker.get("baked_env_names", [])) or "none"
        now = ", ".join(key.env_names) or "none"
        said.append(f"a REFLEX_*/VITE_* setting changed (set at the build: {then}; now: {now})")
    return "; ".join(said) or "it was built by another version of this engine"


def stale_reason(web: Path, key: BuildKey, bun: str | None) -> str | None:
    """Why the build in `web` cannot be served as it is, or None when it is current."""
    marker = read_marker(web)
    if marker is None:
        return "no finished build yet"
    if marker.get("key") != key.digest:
        return _changes(marker, key)
    if not (web / "build" / "client" / "index.html").is_file():
        return "its files are missing"
    if bun is not None and marker.get("bun") != bun:
        return f"bun changed ({marker.get('bun')} -> {bun})"
    return None


def _no_bun(web: Path, reason: str) -> str:
    return (
        f"the frontend in {web} must be built ({reason}) and there is no bun here to build it: install it "
        "(`make install`), or start with the settings it was built with (an image: rebuild it with these settings)"
    )


def _set_aside_assets(web: Path) -> Path | None:
    """Move the served assets out of the way of Reflex's build (it deletes build/); their new home."""
    assets = web / "build" / "client" / "assets"
    if not assets.is_dir():
        return None
    previous = web / "assets-previous"
    shutil.rmtree(previous, ignore_errors=True)
    assets.rename(previous)
    return previous


def _carry_over(previous: Path | None, web: Path, old_marker: dict[str, Any] | None) -> list[str]:
    """Put the previous build's own assets (not those it carried itself) beside the new ones."""
    if previous is None:
        return []
    assets = web / "build" / "client" / "assets"
    already_old = set((old_marker or {}).get("carried_assets", []))
    carried = []
    for path in sorted(previous.iterdir()):
        target = assets / path.name
        if path.is_file() and path.name not in already_old and not target.exists():
            path.rename(target)
            carried.append(path.name)
    shutil.rmtree(previous, ignore_errors=True)
    return carried


def _write_marker(web: Path, marker: dict[str, Any]) -> None:
    path = marker_path(web)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(marker, indent=1, sort_keys=True))
    partial.replace(path)  # readers see the old marker or the whole new one


def _reflex_build(port: int) -> None:
    """What `reflex run --env prod` does before it serves (reflex/reflex.py `_run` and `_run_prod`,
    Reflex 0.10.1, pinned): initialise .web when needed, compile the pages, bundle them."""
    from reflex import reflex as reflex_cli
    from reflex.utils import build, prerequisites
    from reflex_base import constants
    from reflex_base.config import get_config, reload_config
    from reflex_base.environment import environment

    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    prerequisites.assert_in_reflex_dir()  # type: ignore[no-untyped-call]
    config = get_config()
    if prerequisites.needs_reinit():
        reflex_cli._init(name=config.app_name)
    config._set_persistent(frontend_port=port, backend_port=port)  # type: ignore[no-untyped-call]
    reload_config()
    reflex_cli._compile_app(avoid_dirty_check=False)
    build.setup_frontend_prod(Path.cwd())


def build_frontend(*, port: int, force: bool = False, loglevel: str = "info") -> bool:
    """Build the frontend unless the existing build is current; True if it built.

    Runs in its own process (`python -m remediation_app build-frontend`): the compile imports the
    app and leaves its page trees behind, which the server's process should not carry.
    """
    from reflex.utils import path_ops
    from reflex_base import constants
    from reflex_base.utils import console

    environ = dict(os.environ)  # before the build sets anything in it
    console.set_log_level(constants.LogLevel(loglevel))
    web = web_dir()
    bun = bun_version()
    with path_ops.file_lock(web):  # the lock `reflex run` takes: one build of a directory at a time
        key = current_key(environ)
        reason = stale_reason(web, key, bun)
        if not force and reason is None:
            print(f"frontend build in {web} is current", flush=True)
            return False
        if bun is None:
            raise FrontendBuildError(_no_bun(web, reason or "forced"))
        print(f"building the frontend in {web} ({reason or 'forced'}; bun {bun})...", flush=True)
        started = time.monotonic()
        old_marker = read_marker(web)
        previous = _set_aside_assets(web)
        _reflex_build(port)
        written = json.loads((web / "env.json").read_text())
        expected = expected_env_json()
        if written != expected:  # the key would not describe this build: refuse to mark it current
            raise FrontendBuildError(f"env.json is {written}, the build key assumed {expected}")
        carried = _carry_over(previous, web, old_marker)
        key = current_key(environ)  # after: the build may rewrite reflex.lock/
        _write_marker(
            web,
            {
                "key": key.digest,
                "bun": bun,
                "reflex": reflex_versions().get("reflex"),
                "parts": key.parts,
                "files": key.files,
                "baked_env_names": list(key.env_names),
                "backend_url": key.backend_url,
                "built_at": datetime.now(UTC).isoformat(),
                "build_seconds": round(time.monotonic() - started, 1),
                "carried_assets": carried,
            },
        )
    print(f"frontend built in {time.monotonic() - started:.0f} s ({len(key.files)} source files)", flush=True)
    return True


def ensure_built(*, port: int, loglevel: str) -> None:
    """Serve-time check: return at once when the build is current, else build it in a child process."""
    web = web_dir()
    bun = bun_version()
    reason = stale_reason(web, current_key(), bun)
    if reason is None:
        marker = read_marker(web) or {}
        log.info("frontend: serving the build in %s from %s (current)", web, marker.get("built_at"))
        return
    if bun is None:
        raise FrontendBuildError(_no_bun(web, reason))
    # Its progress is worth seeing (a first build takes a while) whatever the server's level.
    level = "debug" if loglevel == "debug" else "info"
    command = [sys.executable, "-m", "remediation_app", "build-frontend", "--loglevel", level]
    done = subprocess.run(command, cwd=ROOT, check=False)  # noqa: S603 (this interpreter, fixed arguments)
    if done.returncode != 0:
        raise FrontendBuildError(f"the frontend build failed (exit {done.returncode}; its output is above)")
    reason = stale_reason(web, current_key(), bun)
    if reason is not None:
        raise FrontendBuildError(f"the frontend build in {web} is still not current after building: {reason}")


def build_command(args: Any) -> int:
    """`python -m remediation_app build-frontend`: exit 0 when the build is current afterwards."""
    from remediation_app.settings import get_settings

    try:
        build_frontend(port=get_settings().port, force=args.force, loglevel=args.loglevel)
    except FrontendBuildError as exc:
        print(f"cannot build the frontend: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0
