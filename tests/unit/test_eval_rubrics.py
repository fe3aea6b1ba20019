"""The shipped rubrics grade as an SRE would, by rules alone: for every case, a right answer (in a
model's words) passes, and the obvious wrong one (the red herring, the usual suspect) fails."""

from __future__ import annotations

import pytest

from remediation_app.services.evals.cases import load_cases
from remediation_app.services.evals.scoring import Answer, score_rules
from remediation_app.services.llm.analysis import Parsed

CASES = {case.id: case for case in load_cases()}
# case id -> (right root cause, its command, a wrong root cause)
ANSWERS = {
    "disk-full-app-logs": (
        "/var is full because /var/log/app grew by 17 GB in a day: the application's logs are not rotated.",
        "logrotate -f /etc/logrotate.d/app",
        "PostgreSQL WAL accumulated on /var.",
    ),
    "disk-full-postgres-wal": (
        "pg_wal holds 187 GB: the inactive replication slot replica_dc2 retains WAL, so it cannot be recycled.",
        "psql -c \"select pg_drop_replication_slot('replica_dc2')\"",
        "The orders table growth filled the disk (data growth).",
    ),
    "inode-exhaustion": (
        "The root filesystem ran out of inodes: /var/lib/php/sessions holds 2.9 million session files.",
        "find /var/lib/php/sessions -type f -mmin +1440 -delete",
        "Large log files filled the disk.",
    ),
    "oom-kill-memory-leak": (
        "recommender is OOMKilled at its 2 GiB limit; its working set grows steadily after each restart: a leak.",
        "kubectl -n shop rollout undo deployment/recommender",
        "Node memory pressure evicted the pod.",
    ),
    "cert-expiry-renewal-failing": (
        "The certificate expires in under 3 days: renewal has failed for 27 days because the ACME HTTP-01 "
        "challenge returns 404, the solver's ingress class nginx no longer exists (nginx-public does).",
        'kubectl -n shop patch issuer letsencrypt --type merge -p \'{"spec":{"acme":{"solvers":[{"http01":'
        '{"ingress":{"ingressClassName":"nginx-public"}}}]}}}\'',
        "Clock skew makes the certificate look expired.",
    ),
    "replication-lag-bulk-load": (
        "A bulk import on the primary multiplied WAL generation tenfold; the replicas' disks are saturated and "
        "replay cannot keep up.",
        "",
        "A network partition between the primary and the replicas.",
    ),
    "connection-pool-leak": (
        "The HikariCP pool is exhausted: all 20 connections are active even at low traffic and 18 sessions sit "
        "idle in transaction: connections leak since the refunds release.",
        "",
        "A traffic spike exhausted the pool.",
    ),
    "dns-servfail-upstream": (
        "CoreDNS answers SERVFAIL for forwarded names: the upstream resolver 10.0.0.2 times out.",
        "",
        "CoreDNS is overloaded and OOM.",
    ),
    "cpu-throttling-limit": (
        "search-api is CPU throttled in 60% of CFS periods: its 500m CPU limit is too low for bursts.",
        "kubectl -n search set resources deploy/search-api --limits=cpu=2",
        "The node is saturated by a noisy neighbour.",
    ),
    "crashloop-after-deploy": (
        "Since the rollout of 2.14.0 the worker exits at start: PAYMENTS_DB_URL is not set.",
        "kubectl -n payments rollout undo deployment/worker",
        "The worker is OOMKilled.",
    ),
    "http-5xx-after-config-reload": (
        "Since the nginx reload 17 minutes ago, /api goes to port 8008: connection refused, 502.",
        "sed -i 's/:8008/:8080/' /etc/nginx/conf.d/api.conf && nginx -t && nginx -s reload",
        "The API backends are down.",
    ),
    "clock-skew-ntp": (
        "auth-2's clock is 2.4 s fast and drifting: chrony has no reachable NTP sources (reach 0) since a "
        "firewall change blocked UDP 123.",
        "chronyc makestep",
        "A bug in the token library.",
    ),
    "runaway-cron-job": (
        "Every 15 minutes the reindex-thumbnails cron job pegs the CPU for 6 minutes.",
        "crontab -e  # run the reindex hourly again, under nice",
        "A traffic spike.",
    ),
    "noisy-neighbour-io": (
        "The shared volume on hv-12 is saturated by backup-runner-3's backup writes (a noisy neighbour); the "
        "database's own IO did not change but its read latency rose 50x.",
        "",
        "A slow query with a new query plan.",
    ),
    "full-queue-consumers-down": (
        "orders has no consumers since the order-worker deploy 50 minutes ago: the workers' login is refused "
        "(ACCESS_REFUSED).",
        "kubectl -n shop rollout undo deployment/order-worker",
        "A traffic spike of publishers.",
    ),
    "fd-leak": (
        "The gateway leaks sockets (CLOSE_WAIT): open file descriptors reach the 65536 limit, too many open files.",
        "systemctl restart gateway",
        "The disk is full.",
    ),
    "red-herring-cpu-cache-evictions": (
        "Redis reached maxmemory after the bigger import and evicts keys: the hit ratio fell from 97% to 6%, "
        "so every request goes to the database. CPU is at its usual daily peak.",
        "",
        "CPU saturation of the catalog pods causes the latency.",
    ),
    "red-herring-disk-warning-api-key": (
        "The payment provider answers 401 Unauthorized: the API key expired 25 minutes ago.",
        "vault kv put secret/checkout/payflow api_key=NEW && kubectl rollout restart deploy/checkout",
        "The disk is full on checkout-1, causing the errors.",
    ),
    "red-herring-page-cache": (
        "A false alarm: the usage counts page cache of the files fluent-bit tails; the working set is flat at "
        "30% and there was no OOM. The alert rule should use container_memory_working_set_bytes.",
        "",
        "fluent-bit has a memory leak.",
    ),
    "red-herring-deploy-idle-transaction": (
        "A psql session (pid 48213) idle in transaction for almost 3 hours holds an ACCESS EXCLUSIVE lock on "
        "orders; writers queue behind it. It began before the deploy.",
        "psql -c 'select pg_terminate_backend(48213)'",
        "The deploy at 1h40m ago introduced the latency.",
    ),
    "red-herring-network-errors-missing-index": (
        "The migration an hour ago dropped the index on orders(customer_id): every lookup is a sequential scan.",
        "psql shop -c 'create index concurrently orders_customer_id_idx on orders (customer_id)'",
        "Network errors on pg-shop cause the latency.",
    ),
    "etcd-slow-fsync": (
        "etcd-2's WAL fsync p99 is 900 ms since its volume moved to the standard-hdd-throttled storage class: "
        "leader elections follow.",
        "",
        "A network partition between etcd peers.",
    ),
    "jvm-gc-heap-pressure": (
        "The heap's old gen is 98% full after the price-list cache tripled: back-to-back full GC pauses.",
        "",
        "A traffic spike.",
    ),
    "ephemeral-port-exhaustion": (
        "Ephemeral ports are exhausted: 28,000 sockets in TIME_WAIT since 5.2.0 disabled keep-alive, one new "
        "connection per request.",
        "sysctl -w net.ipv4.ip_local_port_range='15000 65000'",
        "S3 is down.",
    ),
    "conntrack-table-full": (
        "The conntrack table is full (262144 entries) and the kernel drops new connections' packets.",
        "sysctl -w net.netfilter.nf_conntrack_max=524288",
        "DNS failures.",
    ),
    "prometheus-cardinality-explosion": (
        "A cardinality explosion: the cart release added a session_id label to cart_request_duration_seconds.",
        "kubectl -n shop rollout undo deployment/cart",
        "More targets were added by autoscaling.",
    ),
}


def graded(case_id: str, root_cause: str, command: str) -> tuple[bool, list[str]]:
    actions = [{"description": "fix", "command": command, "risk": "medium"}] if command else []
    result = {"root_cause": root_cause, "hypotheses": [], "immediate_actions": actions, "remediation_steps": []}
    score = score_rules(CASES[case_id], Answer.of(Parsed(structured=True, result=result), ""))
    return score.passed, [c.name for c in score.checks if not c.ok]


def test_every_case_has_reference_answers() -> None:
    assert set(ANSWERS) == set(CASES)


@pytest.mark.parametrize("case_id", sorted(ANSWERS))
def test_a_right_answer_passes_and_the_usual_suspect_fails(case_id: str) -> None:
    right, command, wrong = ANSWERS[case_id]
    fix = CASES[case_id].expected.fix
    passed, missed = graded(case_id, right, command if fix else "")
    assert passed, missed
    passed, missed = graded(case_id, wrong, "")
    assert not passed and missed
