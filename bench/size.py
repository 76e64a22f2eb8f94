"""How much room history takes on SQLite, per row, for docs/operations.md.

    python bench/size.py 2000     # incidents of 5 alerts each, with 2 channels

Fills a fresh file through the real write path: each incident fires with 5 alerts of
8 labels and 3 annotations and resolves half an hour later, routed to two channels;
every notification is rendered with the default templates and delivered once. Then
VACUUM, and SQLite's dbstat gives the bytes of each table and index, shown per row.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from receiver.domain.routing import Route
from receiver.domain.wire import Webhook
from receiver.notify.render import render
from receiver.store import outbox, reads, schema
from receiver.store.engine import Writer, create_engine
from receiver.write.ingest import ingest

ALERTS = 5
ROUTES = [Route(channels=["oncall-chat", "ops-email"])]
SERVICES = [{"url": "json://hooks.example.com/...", "ok": True, "status": "ok", "errors": []}]


def hook(group: int, status: str, starts: datetime, ends: datetime | None) -> dict[str, Any]:
    def one(i: int) -> dict[str, Any]:
        labels = {
            "alertname": "KubePodCrashLooping",
            "severity": "warning",
            "cluster": "prod-eu-1",
            "namespace": f"team-{group % 40}",
            "pod": f"api-{group}-7f9c8b6d4-{i:05d}",
            "container": "api",
            "job": "kube-state-metrics",
            "instance": f"10.1.{group % 250}.{i}:8080",
        }
        return {
            "status": status,
            "labels": labels,
            "annotations": {
                "summary": f"Pod {labels['pod']} is crash looping",
                "description": "Pod has been restarting more than 3 times in the last 10m.",
                "runbook_url": "https://runbooks.example.com/kube/KubePodCrashLooping",
            },
            "startsAt": starts.isoformat(),
            "endsAt": ends.isoformat() if ends else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus-0:9090/graph?g0.expr=kube_pod_restarts",
            "fingerprint": f"{group:010x}{i:06x}",
        }

    return {
        "version": "4",
        "receiver": "team-pager",
        "status": status,
        "groupKey": f'{{}}:{{namespace="team-{group % 40}", pod_group="{group}"}}',
        "groupLabels": {"namespace": f"team-{group % 40}", "pod_group": str(group)},
        "commonLabels": {"alertname": "KubePodCrashLooping", "severity": "warning"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager-0:9093",
        "truncatedAlerts": 0,
        "alerts": [one(i) for i in range(ALERTS)],
    }


async def fill(url: str, incidents: int) -> None:
    engine = create_engine(url)
    await schema.upgrade(engine)
    writer = Writer(engine)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for group in range(incidents):
        fired = start + timedelta(minutes=group)
        resolved = fired + timedelta(minutes=30)
        for status, at, ends in (("firing", fired, None), ("resolved", resolved, resolved)):
            body = Webhook.model_validate(hook(group, status, fired, ends))
            await ingest(writer, body, at, ROUTES)
            await deliver(engine, writer, at)
    await writer.close()
    await engine.dispose()


async def deliver(engine: Any, writer: Writer, now: datetime) -> None:
    """Send what is due the way the outbox does: claim, render, log the attempt."""
    lease = timedelta(minutes=1)
    claims = await writer.run([], lambda c: outbox.claim(c, now, 64, lease, "size", set()))
    async with engine.connect() as conn:
        views = await reads.incident_views(conn, (claimed.incident_id for claimed in claims))
    for claimed in claims:
        view = views[claimed.incident_id]
        message = render(view, claimed.change, "https://alerts.example.com", now)
        attempt = outbox.Attempt(now, 0.2, "delivered", None, SERVICES, message.title, message.body)
        await writer.run(
            [], lambda c, a=attempt, k=claimed: outbox.finish(c, k, a, "size", None, None)
        )


def report(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("VACUUM")
    sizes = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
    owner = dict(
        db.execute("SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index')")
    )
    print(f"{'table':<24}{'rows':>8}{'bytes/row':>11}  (with its indexes)")
    for table in (
        "alerts",
        "events",
        "incident_alerts",
        "incidents",
        "notifications",
        "notification_attempts",
    ):
        rows = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        total = sum(size for name, size in sizes.items() if owner.get(name, name) == table)
        print(f"{table:<24}{rows:>8}{total / rows:>11.0f}")
    print(f"file: {path.stat().st_size / 1e6:.1f} MB")


def main() -> None:
    incidents = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    path = Path(tempfile.mkdtemp(prefix="receiver-size-")) / "size.db"
    asyncio.run(fill(f"sqlite+aiosqlite:///{path}", incidents))
    report(path)


if __name__ == "__main__":
    main()
