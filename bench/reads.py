"""Read speed at a million alerts: every page and API list, with the filters people use,
against a seeded history on SQLite and on Postgres; then ingest with ten pages refreshing
against ingest alone.

    python bench/reads.py                          # both databases, 15 requests a URL
    python bench/reads.py --databases sqlite --repeats 5 --ingest-seconds 0
    python bench/reads.py --reseed                 # build the seeded databases again
    python bench/reads.py --against HEAD~1         # this tree and another, in turns

Seeding writes 1,000,000 alerts (30 days, ~5,000 fingerprints flapping, ~200 alertnames
long-tailed), their events, 100,000 incidents (1 to 50 alerts, ~300 open, a few
acknowledged, with their actions) and 200,000 notifications (1 to 3 attempts each) with
bulk SQL: executemany on SQLite, COPY on Postgres. The databases stay on disk (SQLite in
--work, Postgres as database `bench_reads`) and are reused while their seed file exists.

Server time is each request's duration from the receiver's access log (receiver.access,
matched by X-Request-Id); requests go one at a time over one keep-alive connection. A URL
that answers 404 (a page not built in this tree yet) is skipped with a note, so a page
added later is measured by just existing in URLS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ab import worktree
from run import ROOT, add_postgres_flag, free_port, serve, wait_ready, wrk
from sqlalchemy.engine import make_url

from receiver.store.engine import create_engine
from receiver.store.insights import count_inserted
from receiver.store.reads import Position
from receiver.store.tables import group_hash
from receiver.web.query import encode_cursor

# What is measured: path and query; {alert}, {incident}, {1h}, {24h}, {7d}, {30d} are
# filled in, {15d} with a cursor half-way through the history; True measures the page
# after it too, through its `next` cursor.
URLS: tuple[tuple[str, bool], ...] = (
    ("/", False),
    ("/alerts", False),
    ("/alerts?severity=critical", False),
    ("/alerts/{alert}", False),
    ("/incidents", False),
    ("/incidents?status=open", False),
    ("/incidents/{incident}", False),
    ("/insights", False),
    ("/insights?window=24h", False),
    ("/insights?window=30d", False),
    ("/channels", False),
    ("/runbooks", False),
    ("/runbooks/error-rate", False),
    ("/api/v1/alerts", True),
    ("/api/v1/alerts?status=firing", False),
    ("/api/v1/alerts?status=resolved", False),
    ("/api/v1/alerts?severity=critical", True),
    ("/api/v1/alerts?status=firing&severity=critical", False),
    ("/api/v1/alerts?alertname=HighErrorRateCritical", True),
    ("/api/v1/alerts?alertname=Rare199", False),
    ("/api/v1/alerts?alertname=HighErrorRateCritical&since={24h}", False),
    ("/api/v1/alerts?receiver=pager", True),
    ("/api/v1/alerts?receiver=audit", False),
    ('/api/v1/alerts?filter=instance=~"api-.*"', True),
    ('/api/v1/alerts?filter=instance=~"api-.*"&severity=critical', False),
    ('/api/v1/alerts?severity=warning&since={7d}&filter=namespace="prod"', False),
    ("/api/v1/alerts?q=api-7", False),
    ("/api/v1/alerts?q=no-such-text", False),
    ('/api/v1/alerts?filter=instance=~"no-such-.*"', False),
    ("/api/v1/alerts?receiver=no-such-receiver", False),
    ("/api/v1/alerts?cursor={15d}", False),
    ("/api/v1/alerts?since={1h}", False),
    ("/api/v1/alerts?since={24h}", False),
    ("/api/v1/alerts?since={7d}", False),
    ("/api/v1/alerts?since={30d}", False),
    ("/api/v1/alerts?limit=1000", False),
    ("/api/v1/alerts/{alert}", False),
    ("/api/v1/incidents", True),
    ("/api/v1/incidents?status=open", False),
    ("/api/v1/incidents?status=acknowledged", False),
    ("/api/v1/incidents?status=resolved", True),
    ("/api/v1/incidents?receiver=pager", True),
    ("/api/v1/incidents?receiver=audit", False),
    ("/api/v1/incidents?status=open&receiver=pager", False),
    ("/api/v1/incidents/{incident}", False),
    ("/api/v1/notifications", True),
    ("/api/v1/notifications?status=failed", True),
    ("/api/v1/notifications?channel=pagerduty", True),
    ("/api/v1/notifications?channel=webhook-audit&status=failed", False),
    ("/api/v1/notifications?incident={incident}", False),
    ("/api/v1/insights?window=24h", False),
    ("/api/v1/insights?window=7d", False),
    ("/api/v1/insights?window=30d", False),
)
# What the ten wall screens refresh while the sender measures ingest: the overviews a
# screen shows (a page that 404s in this tree costs the service next to nothing). Not
# /runbooks: its 30 days of coverage take seconds a request at this size (see the table).
SCREENS = (
    "/",
    "/incidents",
    "/alerts",
    "/api/v1/incidents?status=open",
    "/api/v1/alerts?status=firing",
    "/api/v1/alerts",
    "/api/v1/incidents",
    "/api/v1/notifications",
    "/api/v1/notifications?status=failed",
    "/api/v1/alerts?severity=critical",
)

RANGES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
URL_SECONDS = 30  # a slow URL stops repeating after this long (at least 3 requests)
ALERTS = 1_000_000
FINGERPRINTS = 5_000
OPEN_GROUPS = 300
ACKNOWLEDGED = 30
DAYS = 30
RECEIVERS = (("default", 50), ("pager", 25), ("team-db", 15), ("team-web", 8), ("audit", 2))
CHANNELS = {
    "default": "slack-oncall",
    "pager": "pagerduty",
    "team-db": "slack-db",
    "team-web": "slack-web",
    "audit": "webhook-audit",
}
NAMESPACES = ("prod", "staging", "infra", "dev")
SEVERITIES = (("critical", 15), ("warning", 55), ("info", 30))
RUNBOOK_NAMES = (
    "HighErrorRateCritical", "HighErrorRateWarning", "HighLatencyP95Warning",
    "HighLatencyP95Critical", "HighMemoryUsageWarning", "LowThroughputWarning",
    "TargetDown", "CircuitBreakerTrips", "LowConnectionReuse", "Watchdog",
    "SlowStartupWarning", "PrometheusSlowQueries", "HighToolCallLatencyP95",
    "AlertReceiverOutboxBacklog", "HeartbeatMissing",
)  # fmt: skip
PG_DATABASE = "bench_reads"


def alertnames() -> list[str]:
    """~200 names, most popular first (weights follow 1/rank): runbook names lead, then a
    long tail of names without a runbook, ending in Rare199."""
    parts = ("Kube", "Node", "Disk", "Api", "Queue", "Cert", "Db", "Cache", "Job", "Dns")
    symptoms = ("Down", "Slow", "Full", "Errors", "Restarts", "Lag", "Expiring", "Flapping")
    tail = [f"{p}{s}" for p in parts for s in symptoms]
    tail += [f"Rare{n}" for n in range(len(RUNBOOK_NAMES) + len(tail), 200)]
    return [*RUNBOOK_NAMES, *tail]


@dataclass
class Seeded:
    """What the URLs refer to; written next to the database once seeding finished."""

    alert: int
    incident: int
    now: str


@dataclass
class History:
    """The generated rows, in insertion order, ids from 1."""

    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    incidents: list[tuple[Any, ...]] = field(default_factory=list)
    members: list[tuple[int, int]] = field(default_factory=list)
    actions: list[tuple[Any, ...]] = field(default_factory=list)
    notifications: list[tuple[Any, ...]] = field(default_factory=list)
    attempts: list[tuple[Any, ...]] = field(default_factory=list)


ALERT_COLUMNS = (
    "id", "fingerprint", "starts_at", "ends_at", "end_inferred", "status", "alertname",
    "severity", "labels", "annotations", "generator_url", "times_received",
    "first_received_at", "last_received_at",
)  # fmt: skip
EVENT_COLUMNS = ("id", "alert_id", "kind", "at", "inferred", "received_at")
INCIDENT_COLUMNS = (
    "id", "group_hash", "receiver", "group_key", "status", "group_labels", "common_labels",
    "common_annotations", "external_url", "truncated_alerts", "opened_at", "resolved_at",
    "times_received", "last_received_at", "acknowledged_by", "acknowledged_at",
)  # fmt: skip
MEMBER_COLUMNS = ("incident_id", "alert_id")
ACTION_COLUMNS = ("id", "incident_id", "kind", "by", "at", "text")
NOTIFICATION_COLUMNS = (
    "id", "incident_id", "channel", "route_index", "kind", "change", "status", "created_at",
    "due_at", "attempts", "delivered_at", "last_error", "title", "body",
)  # fmt: skip
ATTEMPT_COLUMNS = (
    "id", "notification_id", "started_at", "seconds", "outcome", "error", "services", "replica",
)  # fmt: skip
TABLES = (
    ("alerts", ALERT_COLUMNS, "alerts"),
    ("events", EVENT_COLUMNS, "events"),
    ("incidents", INCIDENT_COLUMNS, "incidents"),
    ("incident_alerts", MEMBER_COLUMNS, "members"),
    ("incident_actions", ACTION_COLUMNS, "actions"),
    ("notifications", NOTIFICATION_COLUMNS, "notifications"),
    ("notification_attempts", ATTEMPT_COLUMNS, "attempts"),
)


def generate(now: datetime) -> tuple[History, Seeded]:
    """Deterministic traffic: fingerprints flap (episodes never overlap), incidents cut
    each group's alerts in time order, one open incident in each of OPEN_GROUPS groups."""
    rng = random.Random(11)
    names = alertnames()
    start = now - timedelta(days=DAYS)
    fingerprints = []
    for n in range(FINGERPRINTS):
        name = rng.choices(names, weights=[1 / (r + 1) for r in range(len(names))])[0]
        kind = rng.choice(("api", "db", "web", "cache", "worker"))
        labels = {
            "alertname": name,
            "severity": rng.choices([s for s, _ in SEVERITIES], [w for _, w in SEVERITIES])[0],
            "instance": f"{kind}-{n % 97}:9100",
            "job": kind,
            "namespace": rng.choice(NAMESPACES),
            "service": f"{kind}-svc{n % 20}",
        }
        annotations = {
            "summary": f"{name} on {labels['instance']}",
            "description": f"{name} has been seen on {labels['instance']} of job {kind} in "
            f"{labels['namespace']}; see the dashboard for the last hour.",
            "runbook_url": f"https://wiki.example.com/runbooks/{name}",
        }
        fingerprints.append((f"{n:016x}", labels, json.dumps(labels), json.dumps(annotations)))
    receiver_of = {
        name: rng.choices([r for r, _ in RECEIVERS], [w for _, w in RECEIVERS])[0] for name in names
    }
    per_fp = Counter(
        rng.choices(
            range(FINGERPRINTS), [rng.paretovariate(1.2) for _ in range(FINGERPRINTS)], k=ALERTS
        )
    )
    groups: dict[tuple[str, str], list[int]] = {}
    for n, (_, labels, _, _) in enumerate(fingerprints):
        groups.setdefault((labels["alertname"], labels["namespace"]), []).append(n)
    firing_fps = {rng.choice(fps) for fps in rng.sample(sorted(groups.values()), OPEN_GROUPS)}
    # (start, fingerprint index, end or None)
    episodes: list[tuple[datetime, int, datetime | None]] = []
    span = DAYS * 86400.0
    for n, count in per_fp.items():
        starts = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(count))
        for i, at in enumerate(starts):
            if i == count - 1 and n in firing_fps:
                episodes.append((at, n, None))
                continue
            limit = (starts[i + 1] if i + 1 < count else now) - at
            length = timedelta(seconds=min(rng.lognormvariate(6.4, 1.2), 7 * 86400))
            episodes.append((at, n, at + min(length, limit * 0.9)))
    episodes.sort(key=lambda e: (e[0], e[1]))
    h = History()
    group_alerts: dict[tuple[str, str], list[int]] = {}
    for alert_id, (at, n, end) in enumerate(episodes, 1):
        fp, labels, labels_json, notes_json = fingerprints[n]
        last = end or now
        h.alerts.append(
            (alert_id, fp, at, end, False, "firing" if end is None else "resolved",
             labels["alertname"], labels["severity"], labels_json, notes_json,
             "http://prometheus:9090/graph", 1, at, last)
        )  # fmt: skip
        h.events.append((len(h.events) + 1, alert_id, "fired", at, False, at))
        if end is not None:
            h.events.append((len(h.events) + 1, alert_id, "resolved", end, False, end))
        group_alerts.setdefault((labels["alertname"], labels["namespace"]), []).append(alert_id)
    # Cut every group into incidents first, then number them in the order they opened, as
    # ingest does: the newest incidents are the table's last rows, as in production.
    cuts = []
    for (name, namespace), ids in sorted(group_alerts.items()):
        i = 0
        while i < len(ids):
            size = min(50, 1 + int(rng.expovariate(1 / 9)))
            cuts.append((h.alerts[ids[i] - 1][2], name, namespace, ids[i : i + size]))
            i += size
    for opened, name, namespace, chunk in sorted(cuts, key=lambda c: (c[0], c[1], c[2])):
        receiver = receiver_of[name]
        key = f'{{}}:{{alertname="{name}", namespace="{namespace}"}}'
        group = json.dumps({"alertname": name, "namespace": namespace})
        ends = [h.alerts[a - 1][3] for a in chunk]
        resolved = None if None in ends else max(ends)
        incident_id = len(h.incidents) + 1
        status, acked_by, acked_at = "resolved" if resolved else "open", None, None
        if resolved is None and rng.random() < ACKNOWLEDGED / OPEN_GROUPS:
            status, acked_by, acked_at = "acknowledged", "alice", opened + timedelta(minutes=4)
        if acked_at or rng.random() < 0.02:
            at = acked_at or opened + timedelta(seconds=rng.expovariate(1 / 600))
            h.actions.append((len(h.actions) + 1, incident_id, "acknowledged", "alice", at, ""))
        h.incidents.append(
            (incident_id, group_hash(receiver, key), receiver, key, status, group, group,
             "{}", "http://alertmanager:9093", 0, opened, resolved, len(chunk),
             resolved or now, acked_by, acked_at)
        )  # fmt: skip
        h.members.extend((incident_id, a) for a in chunk)
        for channel in (CHANNELS[receiver], "email-team"):
            notification(h, rng, incident_id, channel, opened)
    busiest = max(range(len(h.incidents)), key=lambda i: h.incidents[i][12])
    return h, Seeded(alert=len(h.alerts) // 2, incident=busiest + 1, now=now.isoformat())


def notification(
    h: History, rng: random.Random, incident_id: int, channel: str, at: datetime
) -> None:
    """One outbox row with its delivery log: mostly delivered, some failed or superseded."""
    status = rng.choices(("delivered", "failed", "superseded"), (90, 6, 4))[0]
    tries = rng.randint(1, 3) if status != "superseded" else 0
    notification_id = len(h.notifications) + 1
    delivered = at + timedelta(seconds=tries) if status == "delivered" else None
    error = "HTTP 500 from the channel" if status == "failed" else None
    h.notifications.append(
        (notification_id, incident_id, channel, 0, "change",
         json.dumps({"incident": incident_id, "opened": True}), status, at, at, tries,
         delivered, error, f"incident {incident_id}", "one alert firing")
    )  # fmt: skip
    for n in range(tries):
        outcome = "delivered" if status == "delivered" and n == tries - 1 else "failed"
        h.attempts.append(
            (len(h.attempts) + 1, notification_id, at + timedelta(seconds=n), 0.2, outcome,
             None if outcome == "delivered" else "HTTP 500", '["json"]', "bench")
        )  # fmt: skip


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def seed_sqlite(path: Path, h: History) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        for table, columns, attr in TABLES:
            marks = ", ".join("?" * len(columns))
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                ([_sqlite_value(v) for v in row] for row in getattr(h, attr)),
            )


async def count_rollups(url: str, h: History) -> None:
    """The alert rollups, counted by the write path's own code (the bulk inserts above
    bypass it, and a migration's backfill ran before there were alerts)."""
    rows = [{"starts_at": r[2], "alertname": r[6], "severity": r[7]} for r in h.alerts]
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(count_inserted, rows)
    finally:
        await engine.dispose()


async def seed_postgres(dsn: str, h: History) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        for table, columns, attr in TABLES:
            await conn.copy_records_to_table(table, records=getattr(h, attr), columns=columns)
            if "id" in columns:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_dsn(url))
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


def migrate(url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "receiver", "migrate", "--database-url", url],
        check=True, capture_output=True,
    )  # fmt: skip


def seeded(kind: str, work: Path, postgres: str, reseed: bool) -> tuple[str, Seeded]:
    """The database URL of the seeded history of `kind`, seeding it first if needed."""
    marker = work / f"reads-{kind}.json"
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{work / 'reads.db'}"
    else:
        url = make_url(postgres).set(database=PG_DATABASE).render_as_string(hide_password=False)
    if marker.exists() and not reseed:
        return url, Seeded(**json.loads(marker.read_text()))
    marker.unlink(missing_ok=True)
    started = time.perf_counter()
    if kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (work / f"reads.db{suffix}").unlink(missing_ok=True)
    else:
        asyncio.run(
            _admin(
                postgres,
                f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)',
                f'CREATE DATABASE "{PG_DATABASE}"',
            )
        )
    migrate(url)
    history, refs = generate(datetime.now(UTC).replace(microsecond=0))
    generated = time.perf_counter()
    if kind == "sqlite":
        seed_sqlite(work / "reads.db", history)
    else:
        asyncio.run(seed_postgres(_dsn(url), history))
    asyncio.run(count_rollups(url, history))
    print(
        f"{kind}: generated in {generated - started:.0f} s, written in "
        f"{time.perf_counter() - generated:.0f} s: "
        + ", ".join(f"{len(getattr(history, attr)):,} {table}" for table, _, attr in TABLES),
        flush=True,
    )
    marker.write_text(json.dumps(refs.__dict__))
    return url, refs


@contextmanager
def receiver(url: str, work: Path, tree: Path | None = None) -> Iterator[tuple[str, Path]]:
    """The service (of checkout `tree`, else this one) on the seeded database, logging
    JSON access lines to a file."""
    config = work / "reads.yml"
    config.write_text(f"runbooks_dir: {ROOT / 'deploy' / 'runbooks'}\n")
    log = work / f"access-{time.monotonic_ns()}.log"
    port = free_port()
    with log.open("wb") as sink:
        flags = ["--config", str(config), "--log-level", "info", "--log-format", "json"]
        proc = serve(url, port, tree, extra=flags, stderr=sink)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(f"{base}/-/ready", deadline=600)  # an older seed migrates first
            yield base, log
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def fill(template: str, refs: Seeded) -> str:
    """The URL to ask; ranges count back from when the history was seeded."""
    now = datetime.fromisoformat(refs.now)
    values = {k: (now - ago).strftime("%Y-%m-%dT%H:%M:%SZ") for k, ago in RANGES.items()}
    deep = encode_cursor(Position(now - timedelta(days=15), refs.alert))
    path = template.format(alert=refs.alert, incident=refs.incident, **values, **{"15d": deep})
    base, _, query = path.partition("?")
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return base + ("?" + urllib.parse.urlencode(pairs) if pairs else "")


class Client:
    """One keep-alive connection; each request tagged so its access line can be found."""

    def __init__(self, base: str) -> None:
        netloc = urllib.parse.urlsplit(base).netloc
        self.conn = http.client.HTTPConnection(netloc, timeout=120)
        self.sequence = 0

    def get(self, path: str) -> tuple[int, bytes, str]:
        self.sequence += 1
        tag = f"bench{self.sequence:08d}"
        self.conn.request("GET", path, headers={"X-Request-Id": tag})
        response = self.conn.getresponse()
        return response.status, response.read(), tag


def server_times(log: Path) -> dict[str, float]:
    """Milliseconds per request id, from the access lines."""
    found = {}
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("logger") == "receiver.access" and "request_id" in entry:
                found[entry["request_id"]] = entry["seconds"] * 1000
    return found


@dataclass
class Measured:
    url: str
    tags: list[str] = field(default_factory=list)
    note: str = ""
    ms: list[float] = field(default_factory=list)


def measure(
    servers: Sequence[tuple[str, Path]], refs: Seeded, repeats: int
) -> list[list[Measured]]:
    """Every URL on every server, the servers taking turns request by request, so that
    the machine's drift weighs on each alike; one list of results per server."""
    clients = [Client(base) for base, _ in servers]
    results: list[list[Measured]] = [[] for _ in servers]
    for template, then_next in URLS:
        path = fill(template, refs)
        warm = [client.get(path) for client in clients]  # caches, the first page's cursor
        status, body, _ = warm[0]
        paths = [(template, path)]
        if status == 200 and then_next:
            cursor = json.loads(body)["next"]
            paths.append(
                (f"{template} (page 2)", f"{path}{'&' if '?' in path else '?'}cursor={cursor}")
            )
        for name, url in paths:
            rows = [Measured(name) for _ in servers]
            for found, row in zip(results, rows, strict=True):
                found.append(row)
            if any(answer[0] != 200 for answer in warm):
                for row, answer in zip(rows, warm, strict=True):
                    row.note = f"{answer[0]}, skipped" + (
                        " (not in this tree)" if answer[0] == 404 else ""
                    )
                continue
            started = time.perf_counter()
            for n in range(repeats):
                if n >= 3 and time.perf_counter() - started > URL_SECONDS * len(servers):
                    for row in rows:
                        row.note = f"{n} requests (over {URL_SECONDS} s)"
                    break
                for client, row in zip(clients, rows, strict=True):
                    answered, _, tag = client.get(url)
                    if answered != 200:
                        raise RuntimeError(f"{url}: {answered}")
                    row.tags.append(tag)
            print(f"  {name}", flush=True)
    time.sleep(0.2)  # the last access lines
    for (_, log), found in zip(servers, results, strict=True):
        took = server_times(log)
        for row in found:
            row.ms = [took[t] for t in row.tags]
    return results


def _stats(ms: Sequence[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.1f} | {p95:.1f} | {ordered[-1]:.1f}"


@contextmanager
def screens(base: str, every: float, took: list[float]) -> Iterator[None]:
    """Ten clients, each GETting its page every `every` seconds until the block ends, the
    first time at a random point of the first `every` seconds (screens are not opened in
    step; all waiting a whole `every` first, a turn shorter than it read no page at all)."""
    stop = threading.Event()

    def screen(path: str) -> None:
        client = Client(base)
        wait = random.uniform(0, every)
        while not stop.wait(wait):
            wait = every
            started = time.perf_counter()
            status, _, _ = client.get(path)
            if status == 200:
                took.append(time.perf_counter() - started)

    threads = [threading.Thread(target=screen, args=(p,), daemon=True) for p in SCREENS]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def ingest_ratio(
    base: str, seconds: int, turns: int, every: float
) -> tuple[list[float], list[float], list[float]]:
    """Webhooks/s of bench/run.py's fresh scenario alone and with the screens, alternating."""
    alone, watched, page_s = [], [], []
    for turn in range(turns):
        for with_screens in (False, True) if turn % 2 == 0 else (True, False):
            with screens(base, every, page_s) if with_screens else contextlib.nullcontext():
                rps = wrk(base, "fresh.lua", seconds).rps
            (watched if with_screens else alone).append(rps)
            print(
                f"  ingest {'with screens' if with_screens else 'alone'}: {rps:,.0f}/s", flush=True
            )
    return alone, watched, page_s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--repeats", type=int, default=15, help="requests a URL")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "receiver-reads")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--ingest-seconds", type=int, default=10, help="0: skip")
    parser.add_argument("--ingest-turns", type=int, default=2)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between refreshes")
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also serve git revision REV on the same history, taking turns with this tree "
        "request by request, and print each URL's p50 against it (writes no file)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    add_postgres_flag(parser)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    kinds = args.databases.split(",")
    if args.against:
        with worktree(args.against) as tree:
            for kind in kinds:
                url, refs = seeded(kind, args.work, args.postgres, args.reseed)
                with receiver(url, args.work) as ours, receiver(url, args.work, tree) as theirs:
                    print(f"{kind}: measuring this tree and {args.against} in turns", flush=True)
                    print(compared(kind, args, *measure([ours, theirs], refs, args.repeats)))
        return
    tables: dict[str, list[Measured]] = {}
    ingest: dict[str, tuple[list[float], list[float], list[float]]] = {}
    for kind in kinds:
        url, refs = seeded(kind, args.work, args.postgres, args.reseed)
        with receiver(url, args.work) as server:
            print(f"{kind}: measuring", flush=True)
            [tables[kind]] = measure([server], refs, args.repeats)
            if args.ingest_seconds:
                ingest[kind] = ingest_ratio(
                    server[0], args.ingest_seconds, args.ingest_turns, args.every
                )
    report = render(args, kinds, tables, ingest)
    print(report)
    write_section(args.out, report)


def compared(
    kind: str, args: argparse.Namespace, ours: list[Measured], theirs: list[Measured]
) -> str:
    lines = [
        f"`python bench/reads.py --databases {kind} --repeats {args.repeats} --against "
        f"{args.against}` on {datetime.now(UTC):%Y-%m-%d}: server ms, the two trees in turns",
        "",
        f"| URL | this tree p50 | p95 | {args.against} p50 | p95 | p50 ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for mine, other in zip(ours, theirs, strict=True):
        if not mine.ms or not other.ms:
            lines.append(f"| `{mine.url}` | {mine.note or other.note} | | | | |")
            continue
        a, b = statistics.median(mine.ms), statistics.median(other.ms)
        cells = f"{_stats(mine.ms).rsplit(' | ', 1)[0]} | {_stats(other.ms).rsplit(' | ', 1)[0]}"
        lines.append(f"| `{mine.url}` | {cells} | {a / b:.2f} |")
    return "\n".join(lines) + "\n"


HEADING = "## Reads at a million alerts"


def render(
    args: argparse.Namespace,
    kinds: list[str],
    tables: dict[str, list[Measured]],
    ingest: dict[str, tuple[list[float], list[float], list[float]]],
) -> str:
    command = (
        f"python bench/reads.py --databases {args.databases} --repeats {args.repeats} "
        f"--ingest-seconds {args.ingest_seconds} --ingest-turns {args.ingest_turns} "
        f"--every {args.every:g}"
    )
    lines = [
        HEADING,
        "",
        f"`{command}` on {datetime.now(UTC):%Y-%m-%d}, same machine, other work running on "
        "it (numbers are noisy; medians). Seeded history: 1,000,000 alerts over 30 days, "
        "~2,000,000 events, 100,000 incidents, 200,000 notifications. Server time from the "
        f"access log, {args.repeats} requests a URL, one at a time on one connection.",
        "",
        "| URL | " + " | ".join(f"{k} p50 | p95 | max ms" for k in kinds) + " |",
        "| --- |" + " --- | --- | --- |" * len(kinds),
    ]
    for i, first in enumerate(tables[kinds[0]]):
        cells = []
        for kind in kinds:
            row = tables[kind][i]
            cells.append(
                _stats(row.ms) + (f" ({row.note})" if row.note else "")
                if row.ms
                else f"{row.note} | | "
            )
        lines.append(f"| `{first.url}` | " + " | ".join(cells) + " |")
    if ingest:
        lines += [
            "",
            f"Ingest (bench/run.py's fresh scenario, wrk 16 connections, {args.ingest_seconds} s "
            f"a run, {args.ingest_turns} turns alternating) alone and with ten screens each "
            f"GETting a page every {args.every:g} s:",
            "",
            "| database | webhooks/s alone | with ten screens | ratio, turn by turn | "
            "screen GET p50 ms | the screens' GETs, ms a second |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for kind, (alone, watched, page_s) in ingest.items():
            a, w = statistics.median(alone), statistics.median(watched)
            ratios = [with_ / alone_ for alone_, with_ in zip(alone, watched, strict=True)]
            page = statistics.median(page_s) * 1000 if page_s else float("nan")
            busy = sum(page_s) * 1000 / (args.ingest_turns * args.ingest_seconds)
            lines.append(
                f"| {kind} | {a:,.0f} | {w:,.0f} | {statistics.median(ratios):.2f} "
                f"({min(ratios):.2f} to {max(ratios):.2f}) | {page:.0f} | {busy:.0f} |"
            )
        lines += [
            "",
            "The ratio is the median of each turn's pair (alone and with screens, run one "
            "after the other); the last column is the time the screens' GETs took, summed "
            "over the runs with screens, per second: at most what they can take from ingest.",
        ]
    return "\n".join(lines) + "\n"


def write_section(out: Path, section: str, heading: str = HEADING) -> None:
    """Replace a script's section (below bench/run.py's KEEP marker) or append it."""
    text = out.read_text() if out.exists() else ""
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.write_text(text)


if __name__ == "__main__":
    main()
