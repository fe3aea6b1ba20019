"""The README's quick start works as written, in one shell (issue 13: the token was set for `make run`
alone, so the curl example that followed sent an empty one and got 401).

Its commands are read from README.md, not copied here: the first block must export the webhook
token before `make run` (so the same shell still has it), and the curl command, run by bash with
what that export left in the environment, stores the alert (the server here is the API alone, on
a loopback port instead of 8080).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.conftest import require_tool, sqlite_only
from tests.support.api_server import ApiServer

README = Path(__file__).resolve().parents[2] / "README.md"


def quick_start_blocks() -> list[str]:
    section = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.DOTALL)


def test_the_first_block_exports_the_token_before_make_run():
    first = [line.split("#")[0].strip() for line in quick_start_blocks()[0].splitlines()]
    [export] = [line for line in first if line.startswith("export WEBHOOK_TOKEN=")]
    [run] = [line for line in first if line.startswith("make run")]
    assert first.index(export) < first.index(run)
    # Backgrounded, or the same shell could not go on to the curl example.
    assert run.endswith("&")


@sqlite_only
def test_the_curl_example_stores_an_alert_in_the_same_shell(app_settings, db, tmp_path):
    require_tool("curl")
    require_tool("openssl")
    [export] = [line for line in quick_start_blocks()[0].splitlines() if line.startswith("export WEBHOOK_TOKEN=")]
    [curl] = [block for block in quick_start_blocks() if block.lstrip().startswith("curl ")]
    token = subprocess.run(
        ["bash", "-c", f'{export}\nprintf %s "$WEBHOOK_TOKEN"'], capture_output=True, text=True, check=True
    ).stdout
    assert re.fullmatch(r"[0-9a-f]{64}", token)

    with ApiServer({"WEBHOOK_TOKEN": token}, log=tmp_path / "api.log") as server:
        script = curl.replace("http://localhost:8080", server.url)
        done = subprocess.run(
            ["bash", "-c", f"{export.split('=')[0]}={token}\n{script}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["created"] == 1, answer
    assert db.scalar("SELECT count(*) FROM alerts WHERE alertname = 'DiskFull'") == 1
