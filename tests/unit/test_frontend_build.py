"""The frontend build's key and marker (remediation_app/frontend_build.py), on real files.

The key must change with everything that goes into the bundle (a source file, a pin, the backend
URL baked into env.json, a REFLEX_*/VITE_* setting) and with nothing else (bytecode, tool caches,
the files the compile itself writes, runtime-only settings such as where the build lives), or a
start would serve a stale build or rebuild for nothing.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from remediation_app import frontend_build as fb

ENV_JSON = {"PING": "http://localhost:8080/ping", "EVENT": "ws://localhost:8080/_event", "TRANSPORT": "websocket"}
VERSIONS = {"reflex": "0.10.1", "reflex-base": "0.10.1"}
ENVIRON = {"REFLEX_USE_SYSTEM_BUN": "1", "PATH": "/usr/bin", "HOME": "/home/x"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for name, text in {
        "rxconfig.py": "config = 1\n",
        "remediation_app/pages/dashboard.py": "TITLE = 'Alerts'\n",
        "remediation_app/components/xterm.jsx": "export const X = 1;\n",
        "assets/favicon.ico": "icon",
        "reflex.lock/package.json": '{"dependencies": {"react": "19.3.1"}}',
        "requirements-dev.txt": "pytest==9.2.0\n",
        "README.md": "# readme\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def key(root: Path, *, env_json=ENV_JSON, environ=ENVIRON, versions=VERSIONS) -> str:
    return fb.compute_key(root, env_json=env_json, environ=environ, versions=versions).digest


def test_the_key_is_stable(project: Path):
    assert key(project) == key(project)
    assert sorted(fb.compute_key(project, env_json=ENV_JSON, environ=ENVIRON, versions=VERSIONS).files) == [
        "assets/favicon.ico",
        "reflex.lock/package.json",
        "remediation_app/components/xterm.jsx",
        "remediation_app/pages/dashboard.py",
        "rxconfig.py",
    ]


@pytest.mark.parametrize(
    "path",
    ["rxconfig.py", "remediation_app/pages/dashboard.py", "remediation_app/components/xterm.jsx", "assets/favicon.ico"],
)
def test_a_changed_source_changes_the_key(project: Path, path: str):
    before = key(project)
    (project / path).write_text((project / path).read_text() + "# changed\n")
    assert key(project) != before


def test_a_directory_named_external_elsewhere_is_a_source(project: Path):
    before = key(project)
    (project / "remediation_app/services/external").mkdir(parents=True)
    (project / "remediation_app/services/external/api.py").write_text("")
    assert key(project) != before


def test_a_new_or_removed_source_changes_the_key(project: Path):
    before = key(project)
    (project / "remediation_app/pages/new_page.py").write_text("")
    assert key(project) != before
    (project / "remediation_app/pages/new_page.py").unlink()
    assert key(project) == before
    (project / "remediation_app/pages/dashboard.py").rename(project / "remediation_app/pages/renamed.py")
    assert key(project) != before


def test_the_frontend_pins_change_the_key(project: Path):
    before = key(project)
    (project / "reflex.lock/package.json").write_text('{"dependencies": {"react": "19.3.2"}}')
    assert key(project) != before
    assert key(project, versions={**VERSIONS, "reflex": "0.10.2"}) != key(project)


def test_what_does_not_go_into_the_bundle_leaves_the_key_alone(project: Path):
    before = key(project)
    for name in (
        "remediation_app/__pycache__/dashboard.cpython-311.pyc",
        "remediation_app/.mypy_cache/3.11/cache.db",
        "remediation_app/pages/.dashboard.py.swp",
        "assets/external/remediation_app/components/xterm.jsx",
        "assets/.DS_Store",
        "requirements-dev.txt",
        "README.md",
        "tests/test_x.py",
    ):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("anything")
    assert key(project) == before


def test_the_baked_backend_url_changes_the_key(project: Path):
    other_port = {name: url.replace("8080", "9090") for name, url in ENV_JSON.items()}
    assert key(project, env_json=other_port) != key(project)


def test_reflex_and_vite_settings_change_the_key_runtime_ones_do_not(project: Path):
    before = key(project)
    assert key(project, environ={**ENVIRON, "REFLEX_API_URL": "https://alerts.example.com"}) != before
    assert key(project, environ={**ENVIRON, "VITE_MINIFY": "false"}) != before
    assert key(project, environ={**ENVIRON, "REFLEX_SOMETHING_NEW": "1"}) != before  # unknown: the safe side
    for name, value in {
        "REFLEX_WEB_WORKDIR": "/var/lib/x/web",
        "REFLEX_STATES_WORKDIR": "/var/lib/x/states",
        "REFLEX_REDIS_URL": "redis://r:6379/0",
        "REFLEX_BACKEND_PORT": "9999",  # baked through env.json only
        "DATABASE_URL": "postgresql+psycopg://u:secret@db/x",
        "WEBHOOK_TOKEN": "secret",
        "REFLEX_API_URL": "",  # empty is unset, as Reflex reads it
    }.items():
        assert key(project, environ={**ENVIRON, name: value}) == before, name


def test_the_marker_lists_names_never_values(project: Path):
    computed = fb.compute_key(
        project, env_json=ENV_JSON, environ={**ENVIRON, "REFLEX_API_URL": "https://secret.example"}, versions=VERSIONS
    )
    assert computed.env_names == ("REFLEX_API_URL",)
    assert "secret" not in repr(computed)


# --- the marker and what a start decides ------------------------------------------------------------


def built(web: Path, key: fb.BuildKey, bun: str | None = "1.4.4", assets: tuple[str, ...] = ("a-1.js",)) -> None:
    """A finished build in `web` as build_frontend leaves it (the files Reflex writes, then the marker)."""
    client = web / "build" / "client"
    (client / "assets").mkdir(parents=True, exist_ok=True)
    (client / "index.html").write_text("<html></html>")
    for name in assets:
        (client / "assets" / name).write_text(name)
    fb._write_marker(
        web,
        {
            "key": key.digest,
            "parts": key.parts,
            "files": key.files,
            "baked_env_names": list(key.env_names),
            "bun": bun,
            "backend_url": ENV_JSON["PING"],
            "carried_assets": [],
        },
    )


def computed(root: Path, **kwargs) -> fb.BuildKey:
    args = {"env_json": ENV_JSON, "environ": ENVIRON, "versions": VERSIONS, **kwargs}
    return dataclasses.replace(fb.compute_key(root, **args), backend_url=str(args["env_json"]["PING"]))


def test_a_start_serves_a_build_whose_marker_matches(tmp_path: Path, project: Path):
    web = tmp_path / "web"
    key_now = computed(project)
    assert fb.stale_reason(web, key_now, "1.4.4") == "no finished build yet"
    built(web, key_now)
    assert fb.stale_reason(web, key_now, "1.4.4") is None
    assert fb.stale_reason(web, key_now, None) is None  # no bun here (the image): the sources decide
    assert "bun changed" in (fb.stale_reason(web, key_now, "1.4.5") or "")
    (web / "build" / "client" / "index.html").unlink()
    assert fb.stale_reason(web, key_now, "1.4.4") == "its files are missing"


def test_the_reason_names_what_changed(tmp_path: Path, project: Path):
    web = tmp_path / "web"
    built(web, computed(project))
    (project / "remediation_app/pages/dashboard.py").write_text("TITLE = 'Changed'\n")
    (project / "remediation_app/pages/new.py").write_text("")
    reason = fb.stale_reason(web, computed(project), None) or ""
    assert reason == ("the app's sources changed (remediation_app/pages/dashboard.py, remediation_app/pages/new.py)")

    other_port = {name: str(url).replace("8080", "9090") for name, url in ENV_JSON.items()}
    reason = fb.stale_reason(web, computed(project, env_json=other_port), None) or ""
    assert "built to reach the server at http://localhost:8080/ping" in reason
    assert "this start serves http://localhost:9090/ping" in reason

    secret = {**ENVIRON, "REFLEX_API_URL": "https://secret-host.example"}
    reason = fb.stale_reason(web, computed(project, environ=secret), None) or ""
    assert "REFLEX_API_URL" in reason and "secret-host" not in reason  # names, never values
    assert "Reflex's version changed" in (
        fb.stale_reason(web, computed(project, versions={"reflex": "0.11.0"}), None) or ""
    )


def test_a_marker_that_is_not_json_is_no_build(tmp_path: Path):
    web = tmp_path / "web"
    (web / "build").mkdir(parents=True)
    (web / "build" / fb.MARKER).write_text("{half")
    assert fb.read_marker(web) is None


def test_a_rebuild_keeps_the_previous_builds_own_assets_for_one_generation(tmp_path: Path, project: Path):
    web = tmp_path / "web"
    key = computed(project)
    built(web, key, assets=("page-1.js", "shared.js"))
    # Build 2: Reflex deletes build/ and writes new files; the old assets were set aside first.
    previous = fb._set_aside_assets(web)
    shutil.rmtree(web / "build")
    built(web, key, assets=("page-2.js", "shared.js"))
    carried = fb._carry_over(previous, web, {"carried_assets": []})
    assert carried == ["page-1.js"]  # shared.js is in the new build anyway
    assert (web / "build/client/assets/page-1.js").read_text() == "page-1.js"
    marker = {**json.loads((web / "build" / fb.MARKER).read_text()), "carried_assets": carried}
    # Build 3: build 2's own files stay, build 1's (carried by build 2) go.
    previous = fb._set_aside_assets(web)
    shutil.rmtree(web / "build")
    built(web, key, assets=("page-3.js", "shared.js"))
    assert fb._carry_over(previous, web, marker) == ["page-2.js"]
    assert sorted(p.name for p in (web / "build/client/assets").iterdir()) == ["page-2.js", "page-3.js", "shared.js"]
    assert not (web / "assets-previous").exists()
