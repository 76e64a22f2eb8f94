"""Retention on both databases: exactly what the settings say goes (with what hangs off
it), nothing kept is left pointing at a deleted row, the work goes in small transactions
while webhooks keep being written, the running service prunes on its schedule, and the
config section is checked with file:line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection

from receiver.domain.change import Change
from receiver.domain.routing import Planned
from receiver.domain.wire import Webhook
from receiver.runtime.config import load_config
from receiver.runtime.errors import ConfigError
from receiver.store import outbox
from receiver.store.engine import Writer
from receiver.store.tables import (
    alerts,
    events,
    incident_alerts,
    incidents,
    notification_attempts,
    notifications,
)
from receiver.web.keys import ENGINE, WRITER
from receiver.write import retention
from receiver.write.ingest import ingest
from receiver.write.retention import Retention
from tests.conftest import Client, MakeReceiver
from tests.payloads import alert, webhook
from tests.sinks import eventually

DAY = timedelta(days=1)
# Seeded history lies ahead of the wall clock, so that the running service's outbox never
# finds a notification of it due; retention is told that NOW is now.
NOW = datetime.now(UTC).replace(microsecond=0) + 1000 * DAY
RULES = Retention(resolved_alerts=90 * DAY, notifications=30 * DAY, incidents=90 * DAY)
KEEP_ALL = """
retention:
  resolved_alerts: forever
  notifications: forever
  incidents: forever
"""


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def receive(writer: Writer, at: datetime, group: str, *alerts: dict[str, Any]) -> None:
    """A webhook of `group`, received at `at` (the write path's own clock)."""
    await ingest(writer, Webhook.model_validate(webhook(*alerts, group=group)), at, [])


async def episode(writer: Writer, group: str, fired: datetime, resolved: datetime) -> None:
    """One alert of its own group, received firing and then resolved."""
    await receive(writer, fired, group, alert(group, starts=iso(fired)))
    ended = alert(group, status="resolved", starts=iso(fired), ends=iso(resolved))
    await receive(writer, resolved, group, ended)


async def queue(writer: Writer, incident_id: int, channel: str, at: datetime) -> None:
    planned = [Planned(0, channel)]
    rows = outbox.rows(incident_id, "change", Change(opened=True), planned, at)
    await writer.run([], lambda conn: outbox.queue(conn, rows))


async def send(
    writer: Writer, at: datetime, outcome: str = "delivered", fallback: str | None = None
) -> None:
    """Claim what is due at `at` (folding piles) and finish each with `outcome`."""

    def work(conn: Connection) -> None:
        for claimed in outbox.claim(conn, at, 8, timedelta(minutes=1), "test", set()):
            attempt = outbox.Attempt(at, 0.1, outcome, None, [], "title", "body")
            outbox.finish(conn, claimed, attempt, "test", None, fallback)

    await writer.run([], work)


async def sent(writer: Writer, incident_id: int, channel: str, at: datetime) -> None:
    await queue(writer, incident_id, channel, at)
    await send(writer, at)


async def incident_ids(client: Client) -> dict[str, int]:
    """Incidents by the name of their group."""
    async with client.app[ENGINE].connect() as conn:
        rows = await conn.execute(select(incidents.c.id, incidents.c.group_labels))
        return {labels["alertname"]: incident_id for incident_id, labels in rows}


async def read(client: Client, path: str, status: int = 200) -> Any:
    resp = await client.get(path)
    assert resp.status == status, await resp.text()
    return await resp.json() if resp.content_type == "application/json" else await resp.text()


async def test_deletes_exactly_what_is_due(make_receiver: MakeReceiver) -> None:
    client = await make_receiver(KEEP_ALL)
    writer = client.app[WRITER]
    for group in ("Gone", "Pending", "Referred"):
        await episode(writer, group, NOW - 200 * DAY, NOW - 100 * DAY)
    await episode(writer, "Recent", NOW - 50 * DAY, NOW - 10 * DAY)
    fired = iso(NOW - 300 * DAY)  # two alerts of one group; one resolves, one fires on
    firing = alert("Firing", starts=fired)
    await receive(writer, NOW - 300 * DAY, "Firing", firing, alert("FiringPast", starts=fired))
    past = alert("FiringPast", "resolved", fired, iso(NOW - 200 * DAY))
    await receive(writer, NOW - 200 * DAY, "Firing", firing, past)
    ids = await incident_ids(client)

    await sent(writer, ids["Firing"], "firing-old", NOW - 250 * DAY)  # its incident is open
    await sent(writer, ids["Gone"], "gone", NOW - 100 * DAY)
    await queue(writer, ids["Referred"], "folded", NOW - 60 * DAY)
    await queue(writer, ids["Referred"], "folded", NOW - 60 * DAY)
    await send(writer, NOW - 60 * DAY)  # one claim: the older row is folded into the newer
    await sent(writer, ids["Recent"], "recent-old", NOW - 40 * DAY)
    await queue(writer, ids["Referred"], "original", NOW - 40 * DAY)
    await send(writer, NOW - 20 * DAY, "failed", fallback="fallback")  # old, but kept by:
    await send(writer, NOW - 20 * DAY)  # the fallback, delivered, recent
    await sent(writer, ids["Recent"], "recent-new", NOW - 5 * DAY)
    await queue(writer, ids["Pending"], "pending", NOW - 100 * DAY)  # never sent

    pruned = await retention.prune(writer, RULES, NOW)

    assert (pruned.alerts, pruned.notifications, pruned.incidents) == (3, 4, 1)
    async with client.app[ENGINE].connect() as conn:
        kept_alerts = dict((await conn.execute(select(alerts.c.alertname, alerts.c.id))).all())
        kept_notifications = dict(
            (await conn.execute(select(notifications.c.channel, notifications.c.id))).all()
        )
        attempted = set(
            (
                await conn.execute(
                    select(notifications.c.channel).join(
                        notification_attempts,
                        notification_attempts.c.notification_id == notifications.c.id,
                    )
                )
            ).scalars()
        )
        members = {tuple(row) for row in await conn.execute(select(incident_alerts))}
        with_events = set((await conn.execute(select(events.c.alert_id).distinct())).scalars())
        kept_incidents = set((await conn.execute(select(incidents.c.id))).scalars())
    assert set(kept_alerts) == {"Recent", "Firing", "FiringPast"}
    assert kept_incidents == {ids[g] for g in ("Recent", "Firing", "Pending", "Referred")}
    assert set(kept_notifications) == {
        "firing-old", "recent-new", "pending", "original", "fallback"
    }  # fmt: skip
    assert attempted == {"firing-old", "recent-new", "original", "fallback"}
    assert members == {
        (ids["Recent"], kept_alerts["Recent"]),
        (ids["Firing"], kept_alerts["Firing"]),
        (ids["Firing"], kept_alerts["FiringPast"]),
    }
    assert with_events == set(kept_alerts.values())
    assert await retention.prune(writer, RULES, NOW) == retention.Pruned(transactions=3)

    # Every read of what is left answers, and what went is a plain 404.
    listed = await read(client, "/api/v1/incidents?limit=100")
    assert {i["id"] for i in listed["incidents"]} == kept_incidents
    for incident_id in kept_incidents:
        await read(client, f"/api/v1/incidents/{incident_id}")
        await read(client, f"/incidents/{incident_id}")
    referred = await read(client, f"/api/v1/incidents/{ids['Referred']}")
    assert referred["alerts"] == []
    assert {n["channel"]: n["fallbackOf"] for n in referred["notifications"]} == {
        "original": None,
        "fallback": kept_notifications["original"],
    }
    listed = await read(client, "/api/v1/alerts?limit=100")
    assert {a["id"] for a in listed["alerts"]} == set(kept_alerts.values())
    for alert_id in kept_alerts.values():
        await read(client, f"/api/v1/alerts/{alert_id}")
    listed = await read(client, "/api/v1/notifications?limit=100")
    assert {n["id"] for n in listed["notifications"]} == set(kept_notifications.values())
    await read(client, f"/api/v1/incidents/{ids['Gone']}", 404)


async def test_prunes_in_small_transactions_while_webhooks_are_written(
    make_receiver: MakeReceiver,
) -> None:
    client = await make_receiver(KEEP_ALL)
    writer = client.app[WRITER]
    fired, resolved = NOW - 200 * DAY, NOW - 100 * DAY
    for group in range(8):
        names = [f"Old{group}-{i}" for i in range(100)]
        await receive(writer, fired, f"G{group}", *(alert(n, starts=iso(fired)) for n in names))
        ends = [alert(n, "resolved", iso(fired), iso(resolved)) for n in names]
        await receive(writer, resolved, f"G{group}", *ends)
    ids = await incident_ids(client)
    for incident_id in ids.values():
        for channel in ("chat", "mail", "pager"):
            await sent(writer, incident_id, channel, resolved)

    pruning = asyncio.create_task(retention.prune(writer, RULES, NOW, batch=20))
    answered_meanwhile = posted = 0
    while not pruning.done():
        resp = await client.post("/alerts", json=webhook(alert(instance=f"new-{posted}")))
        assert resp.status == 200, await resp.text()
        posted += 1
        answered_meanwhile += not pruning.done()
    pruned = await pruning

    assert (pruned.alerts, pruned.notifications, pruned.incidents) == (800, 24, 8)
    assert pruned.transactions == 41 + 2 + 1  # 20 rows each, and the last ones short
    assert answered_meanwhile >= 3, "webhooks were written between the batches"
    listed = await read(client, "/api/v1/alerts?limit=1000")
    assert len(listed["alerts"]) == posted  # the new ones, none of the old
    for incident in (await read(client, "/api/v1/incidents?limit=100"))["incidents"]:
        await read(client, f"/api/v1/incidents/{incident['id']}")


async def test_the_service_prunes_on_its_schedule(make_receiver: MakeReceiver) -> None:
    client = await make_receiver("retention:\n  resolved_alerts: 1d\n  check: 100ms\n")
    old = alert("Old", "resolved", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    still = alert("Still", starts="2026-01-01T00:00:00Z")
    for body in (webhook(old, group="Old"), webhook(still, group="Still")):
        resp = await client.post("/alerts", json=body)
        assert resp.status == 200, await resp.text()

    async def names() -> list[str]:
        listed = await read(client, "/api/v1/alerts")
        return [a["labels"]["alertname"] for a in listed["alerts"]]

    async def only_the_firing_one_left() -> bool:
        return await names() == ["Still"]

    await eventually(only_the_firing_one_left, "the resolved alert to be pruned")
    incident = (await read(client, "/api/v1/incidents?status=resolved"))["incidents"][0]
    assert (await read(client, f"/api/v1/incidents/{incident['id']}"))["alerts"] == []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "receiver.yml"
    path.write_text(text)
    return path


def test_defaults_and_forever(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).retention == Retention(
        resolved_alerts=90 * DAY,
        notifications=30 * DAY,
        incidents=90 * DAY,
        check=timedelta(minutes=10),
    )
    text = "retention:\n  resolved_alerts: forever\n  notifications: 2w\n  check: 1h\n"
    assert load_config(write(tmp_path, text)).retention == Retention(
        resolved_alerts=None, notifications=14 * DAY, check=timedelta(hours=1)
    )


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("resolved_alerts: 90 days", "retention.resolved_alerts: '90 days' is not a duration"),
        ("notifications: 30", "write a duration with its unit, such as 90d, or forever"),
        ("incidents: 0d", "must be longer than 0s; to keep everything, write forever"),
        ("incidents: 200000w", "must be at most 36500d; to keep everything, write forever"),
        ("check: 0s", "retention.check: must be longer than 0s"),
        ("resolved_alert: 90d", "unknown key 'retention.resolved_alert'"),
    ],
)
def test_mistakes_name_file_and_line(tmp_path: Path, line: str, needle: str) -> None:
    path = write(tmp_path, f"delivery:\n  backoff: 2s\nretention:\n  check: 5m\n  {line}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:5: "), problem
    assert needle in problem
