"""One webhook, one transaction: load what is known, decide, write, update incidents,
and queue the notifications those changes call for (so they are never lost, never twice).

The steps read like Alertmanager's notify pipeline, each small and named. Decisions live
in receiver.lifecycle; this module only moves data between them and the database.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection

from receiver.alertmanager import Webhook
from receiver.config import Route
from receiver.incidents import update_incidents
from receiver.lifecycle import FIRING, Delivered, Episode, Outcome, apply_webhook
from receiver.store import outbox
from receiver.store.engine import Writer, lock_key
from receiver.store.tables import INDEXED_LABEL_CHARS, alerts, events


@dataclass(frozen=True)
class Summary:
    """The webhook's answer: what it changed, counted per delivered alert."""

    counts: Counter[Outcome]
    incident_id: int | None
    incident_status: str | None
    notifications: int

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {outcome.value: self.counts[outcome] for outcome in Outcome}
        body["incidentId"] = self.incident_id
        body["incidentStatus"] = self.incident_status
        body["notifications"] = self.notifications
        return body


async def ingest(
    writer: Writer, hook: Webhook, received_at: datetime, routes: list[Route]
) -> Summary:
    keys = [lock_key("group", hook.receiver, hook.group_key)]
    keys += [lock_key("alert", a.fingerprint) for a in hook.alerts]

    def transaction(conn: Connection) -> Summary:
        known = _load_episodes(conn, hook)
        delivered = apply_webhook(hook.alerts, known, received_at)
        _write_episodes(conn, known, delivered, received_at)
        group = update_incidents(conn, hook, known, delivered, received_at)
        queued = outbox.record_changes(conn, group.changes, routes, received_at)
        counts = Counter(d.outcome for d in delivered)
        return Summary(counts, group.incident_id, group.status, queued)

    return await writer.run(keys, transaction)


# Built once: constructing a statement costs more than SQLite takes to run it.
_LOAD_EPISODES = (
    select(
        alerts.c.id,
        alerts.c.fingerprint,
        alerts.c.starts_at,
        alerts.c.status,
        alerts.c.ends_at,
        alerts.c.end_inferred,
        alerts.c.annotations,
    )
    .where(alerts.c.fingerprint.in_(bindparam("fingerprints", expanding=True)))
    .where(or_(alerts.c.status == FIRING, alerts.c.starts_at >= bindparam("oldest")))
    .order_by(alerts.c.id)
)
_INSERT_ALERTS = insert(alerts).returning(alerts.c.id, sort_by_parameter_order=True)
_UPDATE_STATE = (
    update(alerts)
    .where(alerts.c.id == bindparam("episode_id"))
    .values(
        status=bindparam("new_status"),
        ends_at=bindparam("new_ends_at"),
        end_inferred=bindparam("new_end_inferred"),
        annotations=bindparam("new_annotations"),
    )
)
_COUNT_DELIVERY = (
    update(alerts)
    .where(alerts.c.id.in_(bindparam("ids", expanding=True)))
    .values(times_received=alerts.c.times_received + 1, last_received_at=bindparam("received_at"))
)
_INSERT_EVENTS = insert(events)


def _load_episodes(conn: Connection, hook: Webhook) -> dict[str, list[Episode]]:
    """Every episode a decision may need: the firing ones, and any at or after the oldest
    start this webhook carries (resolved history older than that cannot matter)."""
    if not hook.alerts:
        return {}
    oldest = min(a.start for a in hook.alerts)
    fingerprints = sorted({a.fingerprint for a in hook.alerts})
    rows = conn.execute(_LOAD_EPISODES, {"fingerprints": fingerprints, "oldest": oldest})
    known: dict[str, list[Episode]] = {}
    for row in rows:
        known.setdefault(row.fingerprint, []).append(Episode(**row._mapping))
    return known


def _write_episodes(
    conn: Connection,
    known: dict[str, list[Episode]],
    delivered: list[Delivered],
    received_at: datetime,
) -> None:
    touched = [e for group in known.values() for e in group if e.id is None or e.dirty]
    new = [e for e in touched if e.id is None]
    if new:
        result = conn.execute(_INSERT_ALERTS, [_insert_values(e, received_at) for e in new])
        for episode, inserted_id in zip(new, result.scalars(), strict=True):
            episode.id = inserted_id
    changed = [
        {
            "episode_id": e.id,
            "new_status": e.status,
            "new_ends_at": e.ends_at,
            "new_end_inferred": e.end_inferred,
            "new_annotations": e.annotations,
        }
        for e in touched
        if e.dirty and e not in new
    ]
    if changed:
        conn.execute(_UPDATE_STATE, changed)
    repeated = [d.episode.id for d in delivered if d.episode not in new]
    if repeated:
        conn.execute(_COUNT_DELIVERY, {"ids": repeated, "received_at": received_at})
    drafts = [
        {
            "alert_id": e.id,
            "kind": ev.kind,
            "at": ev.at,
            "inferred": ev.inferred,
            "received_at": received_at,
            "details": ev.details,
        }
        for e in touched
        for ev in e.events
    ]
    if drafts:
        conn.execute(_INSERT_EVENTS, drafts)


def _insert_values(episode: Episode, received_at: datetime) -> dict[str, Any]:
    wire = episode.wire
    assert wire is not None
    return {
        "fingerprint": episode.fingerprint,
        "starts_at": episode.starts_at,
        "ends_at": episode.ends_at,
        "end_inferred": episode.end_inferred,
        "status": episode.status,
        "alertname": wire.labels.get("alertname", "")[:INDEXED_LABEL_CHARS],
        "severity": wire.labels.get("severity", "")[:INDEXED_LABEL_CHARS],
        "labels": dict(wire.labels),
        "annotations": episode.annotations,
        "generator_url": wire.generator_url,
        "times_received": 1,
        "first_received_at": received_at,
        "last_received_at": received_at,
    }
