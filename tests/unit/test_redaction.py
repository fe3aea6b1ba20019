"""The redaction step before a provider (investigation/redaction.py, secret_scan.py): realistic fake
secrets of every kind the issue names are replaced by stable placeholders that hold no part of them,
ordinary alert text is left alone, structures keep their shape, the state carries the placeholders
over to a chat without holding a secret, and big or hostile input stays linear."""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import string
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from detect_secrets.plugins import keyword
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.settings import get_settings
from jose import jwt

from remediation_app.services.investigation import secret_scan
from remediation_app.services.investigation.redaction import RedactionStateError, Redactor

PLACEHOLDER = re.compile(r"\[REDACTED-(\d+):([a-z0-9-]+)\]")
ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def pem(key: Any, fmt: serialization.PrivateFormat) -> str:
    return str(key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def assert_gone(secret: str, out: str) -> None:
    """Neither the secret nor any 8 characters of it are left."""
    assert secret not in out
    for i in range(len(secret) - 7):
        assert secret[i : i + 8] not in out, secret[i : i + 8]


def _cases() -> list[tuple[str, Callable[[], tuple[str, str]], str]]:
    """(name, make() -> (text, secret), kind): realistic fakes, built fresh each run."""
    jwt_token = lambda: jwt.encode({"sub": "alice", "exp": 4102444800}, rand(32), algorithm="HS256")  # noqa: E731

    def case(template: str, secret: str) -> tuple[str, str]:
        return template.replace("SECRET", secret), secret

    return [
        (
            "aws access key id",
            lambda: case(
                "AWS_ACCESS_KEY_ID=SECRET region=eu-west-1", "AKIA" + rand(16, string.ascii_uppercase + string.digits)
            ),
            "aws-key",
        ),
        ("aws secret key", lambda: case('aws_secret_access_key = "SECRET"', rand(40, ALNUM + "+/")), "aws-key"),
        ("jwt", lambda: case("session=SECRET; Path=/", jwt_token()), "jwt"),
        (
            "bearer header",
            lambda: case("curl -H 'Authorization: Bearer SECRET' https://api.example.com/v1", rand(40, ALNUM + "-._")),
            "bearer-token",
        ),
        ("bearer jwt in a header", lambda: case("Authorization: Bearer SECRET", jwt_token()), "jwt"),
        (
            "basic header",
            lambda: case("Authorization: Basic SECRET", base64.b64encode(f"svc:{rand(16)}".encode()).decode()),
            "authorization",
        ),
        (
            "postgres url",
            lambda: case("DATABASE_URL=postgres://app:SECRET@db.internal:5432/app", rand(20)),
            "url-password",
        ),
        ("redis url, no user", lambda: case("broker redis://:SECRET@redis:6379/0 down", rand(20)), "url-password"),
        (
            "url password with sub-delimiters",
            lambda: case("amqp://svc:SECRET@mq:5672/", rand(8) + "$!" + rand(8)),
            "url-password",
        ),
        (
            "query access_token",
            lambda: case("GET /callback?state=abc&access_token=SECRET&x=1 200", rand(32)),
            "token",  # the url-secret pattern finds it too: same span, either kind
        ),
        (
            "presigned s3 url",
            lambda: case(
                "https://b.s3.amazonaws.com/o?X-Amz-Date=20240501T000000Z&X-Amz-Signature=SECRET",
                rand(64, "0123456789abcdef"),
            ),
            "url-secret",
        ),
        ("password in yaml", lambda: case("  password: SECRET", rand(14)), "secret"),
        ("password in env", lambda: case("export DB_PASSWORD=SECRET", rand(14)), "secret"),
        ("api_key in json", lambda: case('{"api_key": "SECRET", "region": "eu"}', rand(32)), "secret"),
        ("x-auth-token header", lambda: case("X-Auth-Token: SECRET", rand(32)), "token"),
        ("x-api-key header", lambda: case("-H 'X-API-Key: SECRET'", rand(32, "0123456789abcdef")), "token"),
        (
            "azure storage key",
            lambda: case(
                "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=SECRET;EndpointSuffix=core.windows.net",
                base64.b64encode(secrets.token_bytes(66)).decode(),
            ),
            "azure-storage-key",
        ),
        (
            "azure service bus",
            lambda: case(
                "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=SECRET",
                base64.b64encode(secrets.token_bytes(32)).decode(),
            ),
            "azure-key",
        ),
        (
            "slack bot token",
            lambda: case("SLACK_TOKEN=SECRET", f"xoxb-{rand(12, string.digits)}-{rand(13, string.digits)}-{rand(24)}"),
            "slack-token",
        ),
        (
            "slack webhook",
            lambda: case("webhook SECRET failed", f"https://hooks.slack.com/services/T{rand(8)}/B{rand(8)}/{rand(24)}"),
            "slack-token",
        ),
        (
            "github classic token",
            lambda: case("git clone https://SECRET@github.com/o/r", "ghp_" + rand(36)),
            "github-token",
        ),
        (
            "github fine-grained token",
            lambda: case("GH_TOKEN SECRET", "github_pat_" + rand(22) + "_" + rand(59)),
            "github-token",
        ),
        ("stripe live key", lambda: case("stripe.api_key = SECRET", "sk_live_" + rand(24)), "stripe-key"),
        ("gcp api key", lambda: case("maps?key=SECRET", "AIza" + rand(35, ALNUM + "_-")), "gcp-api-key"),
        ("gcp access token", lambda: case("token is SECRET", "ya29." + rand(60, ALNUM + "_-")), "gcp-access-token"),
        ("quoted random string", lambda: case('{"blob": "SECRET"}', rand(48, ALNUM + "+/")), "high-entropy"),
    ]


@pytest.mark.parametrize(("make", "kind"), [(make, kind) for _, make, kind in _cases()], ids=[c[0] for c in _cases()])
def test_each_kind_is_replaced_by_a_placeholder_of_its_kind(make: Callable[[], tuple[str, str]], kind: str) -> None:
    text, secret = make()
    redactor = Redactor()
    out = redactor.redact(text)
    assert_gone(secret, out)
    # The placeholder is a number and a kind from a fixed list: nothing taken from the secret.
    assert PLACEHOLDER.findall(out) == [("1", kind)], out
    # Only the secret went: the text around it is intact.
    before, after = text.split(secret, 1)
    assert out.startswith(before) and out.endswith(after), out
    assert redactor.counts == {kind: 1} and redactor.total == 1


@pytest.mark.parametrize(
    "fmt", [serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8], ids=["rsa", "pkcs8"]
)
def test_a_pem_private_key_goes_as_a_whole_block(rsa_key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat) -> None:
    key = pem(rsa_key, fmt)
    out = Redactor().redact(f"deploy failed, key was:\n{key}\nretrying in 5s")
    assert out == "deploy failed, key was:\n[REDACTED-1:private-key]\n\nretrying in 5s"


def test_an_openssh_key_and_a_cut_off_key_go_too(rsa_key: rsa.RSAPrivateKey) -> None:
    openssh = pem(ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.OpenSSH)
    out = Redactor().redact(f"id_ed25519:\n{openssh}")
    assert "[REDACTED-1:private-key]" in out and "BEGIN" not in out
    body = pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL).splitlines()
    cut = "\n".join(body[:6])  # the evidence was truncated before the END line
    out = Redactor().redact(f"{cut}\n")
    for line in body[1:6]:
        assert line not in out
    assert out.startswith("[REDACTED-1:private-key]")


def test_an_encrypted_pkcs8_key_goes_and_a_cut_key_does_not_take_the_next_string(rsa_key: rsa.RSAPrivateKey) -> None:
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    assert "BEGIN ENCRYPTED PRIVATE KEY" in encrypted  # not in detect-secrets' list
    assert Redactor().redact(encrypted) == "[REDACTED-1:private-key]\n"
    cut = "\n".join(pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL).splitlines()[:4])
    other = pem(rsa_key, serialization.PrivateFormat.PKCS8)
    out = Redactor().redact_data({"a": cut, "b": "just text", "c": other})
    assert out == {"a": "[REDACTED-1:private-key]", "b": "just text", "c": "[REDACTED-2:private-key]\n"}


def test_a_gcp_service_account_keeps_everything_but_its_private_key(rsa_key: rsa.RSAPrivateKey) -> None:
    account = {
        "type": "service_account",
        "project_id": "prod-1234",
        "private_key_id": rand(40, "0123456789abcdef"),
        "private_key": pem(rsa_key, serialization.PrivateFormat.PKCS8),
        "client_email": "deployer@prod-1234.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    body = account["private_key"].splitlines()[5]
    as_text = Redactor().redact(json.dumps(account))  # the JSON file's text: the key is one line with \n
    assert body not in as_text and '"private_key": "[REDACTED-1:private-key]' in as_text
    parsed = json.loads(as_text)
    assert {k: v for k, v in parsed.items() if k != "private_key"} == {
        k: v for k, v in account.items() if k != "private_key"
    }
    as_data = Redactor().redact_data(account)
    assert as_data["private_key"] == "[REDACTED-1:private-key]\n"  # the PEM's last newline stays
    assert {k: v for k, v in as_data.items() if k != "private_key"} == {
        k: v for k, v in account.items() if k != "private_key"
    }


def test_placeholders_are_stable_and_distinct_and_counted() -> None:
    a, b = "AKIA" + rand(16, string.ascii_uppercase), "ghp_" + rand(36)
    redactor = Redactor()
    first = redactor.redact(f"{a} then {b} then {a}")
    assert first == "[REDACTED-1:aws-key] then [REDACTED-2:github-token] then [REDACTED-1:aws-key]"
    assert redactor.redact(f"again {b}") == "again [REDACTED-2:github-token]"
    assert redactor.counts == {"aws-key": 1, "github-token": 1}
    assert (redactor.total, redactor.replaced) == (2, 4)
    assert Redactor().redact(b) == "[REDACTED-1:github-token]"  # numbering is per Redactor


def test_a_value_known_by_its_key_is_replaced_where_it_appears_alone() -> None:
    password = rand(10) + "9"
    redactor = Redactor()
    out = redactor.redact(f"DB_PASSWORD={password}\n$ psql -W {password} -h db")
    assert out == "DB_PASSWORD=[REDACTED-1:secret]\n$ psql -W [REDACTED-1:secret] -h db"
    # A plain word is not looked for elsewhere: "password=welcomehome" must not eat every "welcome".
    assert redactor.redact("password=welcomehome\nwelcomehome page") == "password=[REDACTED-2:secret]\nwelcomehome page"


def test_the_state_carries_placeholders_to_a_chat_without_any_secret() -> None:
    password, token = rand(12) + "1", "xoxb-1234567890-" + rand(24)
    analysis = Redactor()
    analysis.redact(f"password: {password}\nslack {token}")
    stored = json.dumps(analysis.to_state())
    assert password not in stored and token not in stored and token[5:13] not in stored
    chat = Redactor.from_state(json.loads(stored))
    assert chat.redact(f"why did {token} fail? password: {password}") == (
        "why did [REDACTED-2:slack-token] fail? password: [REDACTED-1:secret]"
    )
    assert chat.redact("AKIA" + rand(16, string.ascii_uppercase)) == "[REDACTED-3:aws-key]"
    assert chat.counts == {"aws-key": 1, "secret": 1, "slack-token": 1}
    assert chat.replaced == analysis.replaced + 3


@pytest.mark.parametrize(
    "state",
    [
        None,
        {},
        {"version": 2, "key": "00" * 32, "secrets": [], "replaced": 0},
        {"version": 1, "key": "zz", "secrets": [], "replaced": 0},
        {"version": 1, "key": "00" * 32, "secrets": [["ab" * 32, 2, "jwt"]], "replaced": 0},  # numbers start at 1
        {"version": 1, "key": "00" * 32, "secrets": [["ab" * 32, 1, "Bad Kind!"]], "replaced": 0},
        {"version": 1, "key": "00" * 32, "secrets": [["ab" * 32, 1, "jwt"]], "replaced": -1},
    ],
)
def test_a_damaged_state_is_refused_clearly(state: Any) -> None:
    with pytest.raises(RedactionStateError):
        Redactor.from_state(state)


def test_redact_data_keeps_the_shape() -> None:
    token = jwt.encode({"sub": "bob"}, rand(32), algorithm="HS256")
    password = rand(12)
    data = {
        "labels": {"alertname": "HighLatency", "instance": "10.0.0.7:9100"},
        "values": [[1714567890.5, "0.93"], [1714567950.5, "1.2"]],
        "flags": (True, None, 3, 2.5),
        "env": [{"name": "PASSWORD", "value": "x"}, {"password": f"a b {password}", "db_password": "${DB_PASSWORD}"}],
        "log": f"user=alice id_token={token} ok",
        token: "a key that is a secret",
    }
    original = json.loads(json.dumps(data, default=list))
    out = Redactor().redact_data(data)
    assert out["labels"] == data["labels"] and out["values"] == data["values"] and out["flags"] == (True, None, 3, 2.5)
    assert out["env"][0] == {"name": "PASSWORD", "value": "x"}
    assert out["env"][1] == {"password": "[REDACTED-1:secret]", "db_password": "${DB_PASSWORD}"}  # a template stays
    assert out["log"] == "user=alice id_token=[REDACTED-2:jwt] ok"
    assert out["[REDACTED-2:jwt]"] == "a key that is a secret"
    assert len(out) == len(data) and json.loads(json.dumps(data, default=list)) == original  # input untouched
    with pytest.raises(TypeError):
        Redactor().redact_data({"when": object()})
    deep: Any = "x"
    for _ in range(150):
        deep = [deep]
    with pytest.raises(ValueError, match="nested deeper"):
        Redactor().redact_data(deep)


def test_redact_messages_keeps_roles_parts_and_tool_calls() -> None:
    key = "AKIA" + rand(16, string.ascii_uppercase)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are an SRE assistant."},
        {"role": "user", "content": [{"type": "text", "text": f"is {key} leaked?"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "promql", "arguments": json.dumps({"query": "up", "password": "hunter2xyz"})}}]},
    ]  # fmt: skip
    out = Redactor().redact_messages(messages)
    assert out[0] == messages[0]
    assert out[1] == {"role": "user", "content": [{"type": "text", "text": "is [REDACTED-1:aws-key] leaked?"}]}
    arguments = json.loads(out[2]["tool_calls"][0]["function"]["arguments"])
    assert arguments == {"query": "up", "password": "[REDACTED-2:secret]"}
    assert out[2]["content"] is None and out[2]["tool_calls"][0]["id"] == "call_1"
    for bad in ("hello", [{"content": "no role"}], [None]):
        with pytest.raises(TypeError):
            Redactor().redact_messages(bad)  # type: ignore[arg-type]


ORDINARY = """alertname="KubePodCrashLooping" severity="critical" namespace="payments" pod="api-7d9f8c6b5d-x2x4z"
instance="10.42.3.17:8080" job="kube-state-metrics" uid="0b8e3c1a-4f2d-4c3e-9a1b-2c3d4e5f6a7b"
commit="3f9a2b1c4d5e6f708192a3b4c5d6e7f8091a2b3c"
image="registry.example.com/api@sha256:9b2f6c0e1a7d4b3c8e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5"
container_id="containerd://4c1e9a7b2d3f5e6a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a"
trace_id="4bf92f3577b34da6a3ce929d0e0e4736" span_id="00f067aa0ba902b7" fingerprint="a1b2c3d4e5f60718"
expr: sum(rate(http_requests_total{job="api",code=~"5.."}[5m])) by (instance) / sum(rate(http_requests_total[5m]))
expr: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{handler="/pay"}[5m]))) > 1.5
expr: node_filesystem_avail_bytes{mountpoint="/var/lib/docker",fstype!="tmpfs"} / node_filesystem_size_bytes < 0.1
generatorURL: http://prometheus-0.prometheus.monitoring.svc:9090/graph?g0.expr=up%7Bjob%3D%22node%22%7D+%3D%3D+0&g0.tab=1
runbook_url: https://runbooks.example.com/alerts/KubePodCrashLooping#remediation
description: Pod payments/api-7d9f8c6b5d-x2x4z is restarting 4.25 times / 10 minutes; exit code 137
at 2024-05-01T12:03:04.567Z.
log: 2024-05-01T12:03:04Z ERROR java.lang.OutOfMemoryError in /var/log/payments/app.log line 42
path: /var/lib/kubelet/pods/0b8e3c1a-4f2d-4c3e-9a1b-2c3d4e5f6a7b/volumes/kubernetes.io~projected/kube-api-access-8x2kq
value: 1.2345e+06 98.6% 512Mi 2Gi 0x7ffd5a3b2c10 load=3.75 peer 203.0.113.45:443 8.8.8.8 mail admin@example.com
groupKey="{}/{severity=\\"critical\\"}:{alertname=\\"KubePodCrashLooping\\"}" max_tokens: 4096 keys: 5
prompt_tokens=1234 token_bucket_tokens_available 42 key_count=12
{"alertname":"HighLatency","service":"checkout","cluster":"prod-eu-west-1","le":"0.5","quantile":"0.99"}
"""


def test_ordinary_alert_text_is_left_alone() -> None:
    redactor = Redactor()
    assert redactor.redact(ORDINARY) == ORDINARY
    assert redactor.redact_data({"annotations": {"description": ORDINARY}}) == {
        "annotations": {"description": ORDINARY}
    }
    assert redactor.total == 0


@pytest.mark.parametrize(
    "text",
    [
        "password: ${DB_PASSWORD}",
        "password: {{ .Values.db.password }}",
        "password = get_password()",
        "password: '****'",
        'password: ""',
        "api_key_id: abcdef1234567",  # its own key says it is an id
        "Authorization: Bearer $TOKEN",
        "redis://:${REDIS_PASSWORD}@redis:6379/0",
        "the bearer of bad news was paid",
        "Authorization: required for every request",
    ],
)
def test_references_templates_and_ids_are_not_secrets(text: str) -> None:
    assert Redactor().redact(text) == text


def test_every_pair_of_a_logfmt_line_is_found() -> None:
    line = "ts=1 user=alice password=x1y2z3w4 api_key=abcd1234efgh token=qwer5678tyui trace_id=4bf92f3577b34da6"
    assert Redactor().redact(line) == (
        "ts=1 user=alice password=[REDACTED-1:secret] api_key=[REDACTED-2:secret] token=[REDACTED-3:token]"
        " trace_id=4bf92f3577b34da6"
    )


def test_accepted_false_positives() -> None:
    # A value under a key or label named like a secret is redacted, whatever it is: kube-state-metrics'
    # `secret` label holds a Secret's name, and a boolean under a password key goes too. Cheaper to
    # lose those than to guess which values after "secret=" are harmless.
    out = Redactor().redact('kube_secret_info{namespace="payments",secret="db-creds"} 1\npassword_set: true')
    assert (
        out
        == 'kube_secret_info{namespace="payments",secret="[REDACTED-1:secret]"} 1\npassword_set: [REDACTED-2:secret]'
    )


def test_a_megabyte_is_redacted_in_well_under_seconds() -> None:
    key, password = "AKIA" + rand(16, string.ascii_uppercase), rand(16) + "7"
    lines = [
        f'2024-05-01T12:{i % 60:02d}:00Z level=info msg="served" path=/api/v1/alerts/{i} status=200 '
        f"duration=0.0{i % 97} pod=api-7d9f8c6b5d-x2x4z trace_id={secrets.token_hex(16)}"
        for i in range(6400)
    ]
    lines[10] += f" password={password} user=bob"
    lines[5000] += f" aws={key}"
    text = "\n".join(lines)
    assert len(text) > 1_000_000
    redactor = Redactor()
    started = time.perf_counter()
    out = redactor.redact(text)
    elapsed = time.perf_counter() - started
    assert_gone(key, out)
    assert_gone(password, out)
    assert redactor.counts == {"aws-key": 1, "secret": 1}
    assert len(out.splitlines()) == 6400
    assert elapsed < 5, f"{elapsed:.2f}s for a megabyte"  # ~0.3 s on an idle core


def test_a_big_query_result_is_redacted_in_one_scan() -> None:
    series = [
        {
            "metric": {"__name__": "up", "instance": f"node-{i}:9100", "pod": f"api-{i:06x}"},
            "value": [1714567890.1, "1"],
        }
        for i in range(8000)
    ]
    token = "ghp_" + rand(36)
    series[4321]["metric"]["url"] = f"https://{token}@github.com/o/r"
    started = time.perf_counter()
    out = Redactor().redact_data({"data": {"result": series}})
    elapsed = time.perf_counter() - started
    assert out["data"]["result"][4321]["metric"]["url"] == "https://[REDACTED-1:github-token]@github.com/o/r"
    del series[4321]["metric"]["url"], out["data"]["result"][4321]["metric"]["url"]
    assert out == {"data": {"result": series}}
    assert elapsed < 10, f"{elapsed:.2f}s for 8000 series"  # ~0.5 s on an idle core


@pytest.mark.parametrize(
    "text",
    [
        ("password=" + "a1" * 50 + " ") * 3000,  # many pairs on one 300 kB line
        json.dumps([{"labels": {"job": f"j{i}", "api_key": rand(20)}} for i in range(8000)]),  # one-line JSON
        "key\n" * 250_000,  # a trigger word on every line
        'password="' * 30_000,  # unclosed quotes
        "x" * 1_000_000,
    ],
    ids=["pairs", "json", "triggers", "quotes", "one-line"],
)
def test_hostile_shapes_stay_linear(text: str) -> None:
    started = time.perf_counter()
    Redactor().redact(text)
    assert time.perf_counter() - started < 10  # quadratic behaviour would take minutes


def test_hostile_characters() -> None:
    key = "AKIA" + rand(16, string.ascii_uppercase)
    redactor = Redactor()
    # NULs, lone surrogates, characters that lowercase to two ("İ"), a 100k-character line.
    text = f"a\x00b \ud800 {'İ' * 50} {key} \udfff password=\x00x\x00\n" + "y" * 100_000 + f" {key}"
    out = redactor.redact(text)
    assert key not in out and out.count("[REDACTED-1:aws-key]") == 2
    assert out.startswith(f"a\x00b \ud800 {'İ' * 50} [REDACTED-1:aws-key] \udfff")
    assert redactor.redact("") == ""
    assert redactor.redact("[REDACTED-9:jwt] is not mine") == "[REDACTED-9:jwt] is not mine"
    with pytest.raises(TypeError):
        redactor.redact(b"bytes")  # type: ignore[arg-type]
    assert redactor.to_state()["secrets"][0][1] == 1  # the surrogate-holding text digests fine


def test_one_redactor_shared_by_threads_numbers_each_secret_once() -> None:
    keys = ["AKIA" + rand(16, string.ascii_uppercase) for _ in range(20)]
    redactor = Redactor()
    rotations = [keys[i:] + keys[:i] for i in range(20)] * 3
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(redactor.redact, [" ".join(rotation) for rotation in rotations]))
    seen: dict[str, set[str]] = {}
    for rotation, out in zip(rotations, outs, strict=True):
        for key, number in zip(rotation, PLACEHOLDER.findall(out), strict=True):
            seen.setdefault(key, set()).add(number[0])
    assert all(len(numbers) == 1 for numbers in seen.values())  # one number per secret, in every thread
    assert sorted(int(next(iter(n))) for n in seen.values()) == list(range(1, 21))
    assert redactor.total == 20 and redactor.replaced == 1200


def test_detect_secrets_is_used_without_touching_its_global_settings() -> None:
    before = get_settings().json()
    Redactor().redact("password=hunter2xyz AKIA" + rand(16, string.ascii_uppercase))
    assert get_settings().json() == before
    assert secret_scan.UNHANDLED == []  # a newer detect-secrets' plugin needs a decision here
    names = {cls.__name__ for cls in secret_scan._PLUGINS.values()}
    assert names >= secret_scan.EXCLUDED


def test_trigger_words_cover_every_keyword_the_gated_patterns_need() -> None:
    trigger = secret_scan._TRIGGER
    for word in keyword.DENYLIST:
        assert trigger.search(word.replace("_?", "")), word
    for alternatives in (
        AWSKeyDetector.secret_keyword,
        CloudantDetector.cl_key_or_pass,
        IbmCloudIamDetector.key_or_pass,
        SoftlayerDetector.key_or_pass,
    ):
        for word in re.findall(r"\(\?:([a-z|]+)\)", alternatives)[-1].split("|"):  # the keyword group
            assert trigger.search(word), word
    assert trigger.search(IbmCosHmacDetector.password_keyword)


def test_the_fast_entropy_agrees_with_detect_secrets() -> None:
    for _ in range(50):
        value = rand(secrets.randbelow(60) + 1, ALNUM + "+/=_-")
        expected = secret_scan._ENTROPY.calculate_shannon_entropy(value)
        assert math.isclose(secret_scan._entropy(value), expected, abs_tol=1e-9)
