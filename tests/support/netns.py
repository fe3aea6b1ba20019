"""Run the app with no network at all: a new network namespace whose only interface is loopback.

`offline(argv)` wraps a command so that it starts in such a namespace (`unshare --net`, then `lo`
up); nothing outside the host's loopback is reachable from it, so a registry, a DNS server or a
download anywhere makes it fail. The test process stays outside: `probe()` runs
tests/support/netns_probe.py inside the app's namespace (`nsenter --net`) to talk to it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
UNSHARE, NSENTER, IP = (shutil.which(tool) for tool in ("unshare", "nsenter", "ip"))


def available() -> str | None:
    """Why an offline namespace cannot be made here, or None when it can."""
    missing = [name for name, path in (("unshare", UNSHARE), ("nsenter", NSENTER), ("ip", IP)) if path is None]
    if missing:
        return f"not installed: {', '.join(missing)} (util-linux, iproute2)"
    done = subprocess.run(offline(["true"]), capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        return f"cannot create a network namespace here: {done.stderr.strip()}"
    return None


def offline(argv: list[str]) -> list[str]:
    """`argv` exec'd in a new network namespace with only `lo` (up). As root the namespace is plain;
    otherwise a user namespace maps the caller to root in it (needed to create it)."""
    assert UNSHARE is not None and IP is not None
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    return [UNSHARE, *user, "--net", "--", "sh", "-c", f'{IP} link set lo up && exec "$@"', "sh", *argv]


def inside(pid: int, argv: list[str]) -> list[str]:
    """`argv` run in the network namespace of process `pid`."""
    assert NSENTER is not None
    user = [] if os.geteuid() == 0 else [f"--user=/proc/{pid}/ns/user", "--preserve-credentials"]
    return [NSENTER, *user, f"--net=/proc/{pid}/ns/net", "--", *argv]


def wait_for_namespace(pid: int, deadline_s: float = 30) -> None:
    """Until `pid` (just started through `offline()`) is in a network namespace of its own."""
    own = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + deadline_s
    while os.readlink(f"/proc/{pid}/ns/net") == own:
        assert time.monotonic() < deadline, f"process {pid} never entered a network namespace of its own"
        time.sleep(0.05)


def probe(pid: int, url: str, token: str, deadline_s: float) -> dict[str, Any]:
    """What a browser and Alertmanager get from the app in `pid`'s namespace (see netns_probe.py)."""
    wait_for_namespace(pid)
    done = subprocess.run(
        inside(pid, [str(PYTHON), "-m", "tests.support.netns_probe", url, token, str(deadline_s)]),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=deadline_s + 120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
