"""Set-based ingest must give exactly what the general path gives webhook by webhook: the same
alerts, events (in the same order), incidents, memberships, notifications and answers,
for any mix of routine webhooks, resolutions, stale and out-of-order copies, repeats and
empty webhooks, however the writer happens to cut them into batches. On both databases.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from receiver.domain.lifecycle import RESOLVED, Episode, apply_webhook, is_plain
from receiver.domain.routing import Route
from receiver.domain.wire import Webhook
from receiver.store import schema
from receiver.store.engine import Writer, create_engine
from receiver.store.tables import alerts, events, incident_alerts, incidents, notifications
from receiver.write import ingest
from receiver.write.ingest import ingest_alone, ingest_batch
from receiver.write.received import Received, Summary
from tests.payloads import ZERO_TIME, alert, webhook

ROUTES = [
    Route.model_validate({"match": ['receiver="team-a"'], "channels": ["chat"], "continue": True}),
    Route.model_validate({"channels": ["mail"], "send_resolved": False}),
]
BASE = datetime(2026, 11, 26, 12, tzinfo=UTC)


def scenario(seed: int, count: int = 300, shared: bool = True) -> list[Received]:
    """Traffic like Alertmanager's, over few groups so that webhooks collide often: alerts
    fire, repeat (annotations sometimes change), resolve and fire again later, plus what
    the general path exists for: an episode replaced while firing, HA copies, old
    webhooks delivered again late (stale copies), and truncated snapshots. `shared`:
    every alert goes to both receivers, so two incidents hold it (the general path
    settles its resolutions); otherwise each group has a receiver of its own."""
    rng = random.Random(seed)
    state: dict[tuple[str, int], dict[str, Any]] = {}
    payloads: list[dict[str, Any]] = []
    for step in range(count):
        roll = rng.random()
        if payloads and roll < 0.1:  # an HA peer's copy or a retry of a recent webhook
            payloads.append(payloads[-1 - rng.randrange(min(3, len(payloads)))])
            continue
        if payloads and roll < 0.15:  # a webhook from long ago, delivered again
            payloads.append(rng.choice(payloads))
            continue
        group = rng.choice(["Disk", "Latency", "Errors"])
        delivered = []
        for instance in rng.sample(range(2), rng.choice([0, 1, 1, 1, 2, 2])):
            current = state.setdefault((group, instance), {"starts": step, "resolved": None})
            change = rng.random()
            if current["resolved"] and change < 0.5:  # fires again: a new episode
                current.update(starts=step, resolved=None)
            elif not current["resolved"] and change < 0.05:  # replaced while still firing
                current.update(starts=step)
            elif not current["resolved"] and change < 0.25:
                current["resolved"] = step
            starts, resolved = current["starts"], current["resolved"]
            if rng.random() < 0.03:  # an HA peer that saw the alert start a little earlier
                starts, resolved = starts - 1, None
            summary = rng.choice(["low", "high"]) if rng.random() < 0.2 else "steady"
            delivered.append(
                alert(
                    group,
                    "firing" if resolved is None else "resolved",
                    _time(starts),
                    ZERO_TIME if resolved is None else _time(resolved),
                    {"summary": summary},
                    instance=f"i{instance}",
                )
            )
        if shared:
            receiver = rng.choice(["team-a", "team-b"])
        else:
            receiver = "team-b" if group == "Latency" else "team-a"
        if rng.random() < 0.05:  # a snapshot Alertmanager cut short: never closes the incident
            hook = webhook(*delivered, receiver=receiver, group=group, status="firing", truncated=1)
        else:
            hook = webhook(*delivered, receiver=receiver, group=group)
        payloads.append(hook)
    return [
        Received(Webhook.model_validate(p), BASE + timedelta(seconds=n), ROUTES)
        for n, p in enumerate(payloads)
    ]


def _time(step: int) -> str:
    at = datetime(2026, 11, 26, 10, tzinfo=UTC) + timedelta(seconds=step)
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def plain_shares(items: list[Received]) -> tuple[float, float]:
    """The shares of plain webhooks, and of plain ones that resolve something."""
    known: dict[str, list[Episode]] = {}
    plain = resolving = 0
    for item in items:
        if is_plain(item.hook.alerts, known):
            plain += 1
            resolving += any(a.status == RESOLVED for a in item.hook.alerts)
        apply_webhook(item.hook.alerts, known, item.at)
    return plain / len(items), resolving / len(items)


def cuts(items: list[Received], rng: random.Random) -> list[list[Received]]:
    batches = []
    while items:
        size = rng.choice([1, 2, 5, 17, 64])
        batches.append(items[:size])
        items = items[size:]
    return batches


def dump(conn: Connection, summaries: list[Summary]) -> dict[str, Any]:
    """Everything stored, keyed naturally: ids depend on insertion order, meaning does not."""
    alert_key = {
        row.id: (row.fingerprint, row.starts_at)
        for row in conn.execute(select(alerts.c.id, alerts.c.fingerprint, alerts.c.starts_at))
    }
    incident_key = {
        row.id: (row.group_hash, row.opened_at)
        for row in conn.execute(
            select(incidents.c.id, incidents.c.group_hash, incidents.c.opened_at)
        )
    }

    def rows(table: Any, key: Any, *order: Any) -> dict[Any, list[dict[str, Any]]]:
        found: dict[Any, list[dict[str, Any]]] = {}
        for row in conn.execute(select(table).order_by(*order, table.c.id)):
            values = {k: v for k, v in row._mapping.items() if k != "id"}
            found.setdefault(key(values), []).append(values)
        return found

    def change(values: dict[str, Any]) -> dict[str, Any]:
        ids = {k: sorted(alert_key[i] for i in values["change"][k]) for k in ("joined", "resolved")}
        return {**values, "incident_id": None, "change": {**values["change"], **ids}}

    stored_notifications = rows(notifications, lambda v: incident_key[v["incident_id"]])
    return {
        "alerts": rows(alerts, lambda v: (v["fingerprint"], v["starts_at"])),
        "events": {
            alert_key[a]: [{**v, "alert_id": None} for v in found]
            for a, found in rows(events, lambda v: v["alert_id"]).items()
        },
        "incidents": rows(incidents, lambda v: (v["group_hash"], v["opened_at"])),
        "members": sorted(
            (incident_key[i], alert_key[a])
            for i, a in conn.execute(
                select(incident_alerts.c.incident_id, incident_alerts.c.alert_id)
            )
        ),
        "notifications": {
            k: [change(v) for v in found] for k, found in stored_notifications.items()
        },
        "answers": [
            (
                dict(s.counts),
                incident_key.get(s.incident_id or 0),
                s.incident_status,
                s.notifications,
            )
            for s in summaries
        ],
    }


def _resolves(item: Received) -> bool:
    return any(a.status == RESOLVED for a in item.hook.alerts)


def _counted(calls: list[Received]) -> Any:
    def counted(conn: Connection, item: Received) -> Summary:
        calls.append(item)
        return ingest_alone(conn, item)

    return counted


def clear(conn: Connection) -> None:
    for table in (notifications, incident_alerts, events, incidents, alerts):
        conn.execute(delete(table))


@pytest.mark.parametrize(
    ("seed", "shared"), [(1, True), (2, True), (3, True), (4, False), (5, False)]
)
async def test_batches_store_what_the_general_path_stores(
    database_url: str, seed: int, shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(database_url)
    await schema.upgrade(engine)
    writer = Writer(engine)
    try:
        items = scenario(seed, shared=shared)
        plain, resolving = plain_shares(items)
        assert 0.3 < plain < 0.8  # both paths get their share
        assert resolving > 0.05  # and resolutions are among the plain ones
        alone = [await writer.run([], partial(ingest_alone, item=i)) for i in items]
        expected = await writer.run([], partial(dump, summaries=alone))
        await writer.run([], clear)

        general: list[Received] = []  # what the batches hand to the general path
        monkeypatch.setattr(ingest, "ingest_alone", _counted(general))
        batched: list[Summary] = []
        for batch in cuts(items, random.Random(seed)):
            batched += await writer.run([], partial(ingest_batch, items=batch))
        assert await writer.run([], partial(dump, summaries=batched)) == expected
        assert general, "stale copies and replaced episodes always reach the general path"
        resolved_alone = sum(_resolves(i) for i in general)
        if not shared:  # resolutions that close only their own incident stay in the run
            assert resolved_alone < sum(_resolves(i) for i in items) / 2

        # the scenario exercises what it should: every outcome, incidents resolving, and
        # notifications for both routes
        outcomes = {o for answer in expected["answers"] for o, n in answer[0].items() if n}
        assert outcomes == {"new", "updated", "resolved", "duplicates", "stale"}
        statuses = {i["status"] for found in expected["incidents"].values() for i in found}
        assert statuses == {"open", "resolved"}
        channels = {n["channel"] for f in expected["notifications"].values() for n in f}
        assert channels == {"chat", "mail"}
    finally:
        await writer.close()
        await engine.dispose()
