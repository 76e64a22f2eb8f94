"""One webhook, one transaction: load what is known, decide, write, update incidents.

The steps read like Alertmanager's notify pipeline, each small and named. Decisions live
in receiver.lifecycle; this module only moves data between them and the database.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from receiver.alertmanager import Webhook
from receiver.lifecycle import FIRING, RESOLVED, Delivered, Episode, Outcome, apply_webhook
from receiver.store.engine import Writer, lock_key
from receiver.store.tables import (
    INDEXED_LABEL_CHARS,
    alerts,
    events,
    group_hash,
    incident_alerts,
    incidents,
)

OPEN = "open"


@dataclass(frozen=True)
class Summary:
    """The webhook's answer: what it changed, counted per delivered alert."""

    counts: Counter[Outcome]
    incident_id: int | None
    incident_status: str | None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {outcome.value: self.counts[outcome] for outcome in Outcome}
        body["incidentId"] = self.incident_id
        body["incidentStatus"] = self.incident_status
        return body


async def ingest(writer: Writer, hook: Webhook, received_at: datetime) -> Summary:
    keys = [lock_key("group", hook.receiver, hook.group_key)]
    keys += [lock_key("alert", a.fingerprint) for a in hook.alerts]

    async def transaction(conn: AsyncConnection) -> Summary:
        known = await _load_episodes(conn, hook)
        delivered = apply_webhook(hook.alerts, known, received_at)
        await _write_episodes(conn, known, delivered, received_at)
        incident_id, status = await _update_incidents(conn, hook, known, delivered, received_at)
        return Summary(Counter(d.outcome for d in delivered), incident_id, status)

    return await writer.run(keys, transaction)


async def _load_episodes(conn: AsyncConnection, hook: Webhook) -> dict[str, list[Episode]]:
    """Every episode a decision may need: the firing ones, and any at or after the oldest
    start this webhook carries (resolved history older than that cannot matter)."""
    if not hook.alerts:
        return {}
    oldest = min(a.start for a in hook.alerts)
    rows = await conn.execute(
        select(
            alerts.c.id,
            alerts.c.fingerprint,
            alerts.c.starts_at,
            alerts.c.status,
            alerts.c.ends_at,
            alerts.c.end_inferred,
            alerts.c.annotations,
        )
        .where(alerts.c.fingerprint.in_({a.fingerprint for a in hook.alerts}))
        .where(or_(alerts.c.status == FIRING, alerts.c.starts_at >= oldest))
        .order_by(alerts.c.id)
    )
    known: dict[str, list[Episode]] = {}
    for row in rows:
        known.setdefault(row.fingerprint, []).append(Episode(**row._mapping))
    return known


async def _write_episodes(
    conn: AsyncConnection,
    known: dict[str, list[Episode]],
    delivered: list[Delivered],
    received_at: datetime,
) -> None:
    touched = [e for group in known.values() for e in group if e.id is None or e.dirty]
    new = [e for e in touched if e.id is None]
    if new:
        result = await conn.execute(
            insert(alerts).returning(alerts.c.id, sort_by_parameter_order=True),
            [_insert_values(e, received_at) for e in new],
        )
        for episode, inserted_id in zip(new, result.scalars(), strict=True):
            episode.id = inserted_id
    for episode in touched:
        if episode.dirty and episode not in new:
            values = {name: getattr(episode, name) for name in episode.dirty}
            await conn.execute(update(alerts).where(alerts.c.id == episode.id).values(**values))
    repeated = [d.episode.id for d in delivered if d.episode not in new]
    if repeated:
        await conn.execute(
            update(alerts)
            .where(alerts.c.id.in_(repeated))
            .values(times_received=alerts.c.times_received + 1, last_received_at=received_at)
        )
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
        await conn.execute(insert(events), drafts)


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


async def _update_incidents(
    conn: AsyncConnection,
    hook: Webhook,
    known: dict[str, list[Episode]],
    delivered: list[Delivered],
    received_at: datetime,
) -> tuple[int | None, str | None]:
    """Attach the carried alerts to the group's incident, then settle incident statuses."""
    carried = [d.episode for d in delivered if d.carried]
    key = group_hash(hook.receiver, hook.group_key)
    group = incidents.c.group_hash == key
    open_id = await conn.scalar(
        select(incidents.c.id).where(group, incidents.c.status != RESOLVED).with_for_update()
    )
    snapshot = {
        "group_labels": dict(hook.group_labels),
        "common_labels": dict(hook.common_labels),
        "common_annotations": dict(hook.common_annotations),
        "external_url": hook.external_url,
        "truncated_alerts": hook.truncated_alerts,
        "last_received_at": received_at,
    }
    if open_id is not None:
        await conn.execute(
            update(incidents)
            .where(incidents.c.id == open_id)
            .values(times_received=incidents.c.times_received + 1, **snapshot)
        )
        members = carried
        incident_id: int | None = open_id
    else:
        if any(e.status == FIRING for e in carried):
            members = carried
        else:  # only late resolved copies: keep those no incident of the group holds yet
            members = await _not_yet_in_group(conn, carried, group)
        incident_id = None
        if members:
            incident_id = await conn.scalar(
                insert(incidents)
                .values(
                    group_hash=key,
                    receiver=hook.receiver,
                    group_key=hook.group_key,
                    status=OPEN,
                    opened_at=received_at,
                    **snapshot,
                )
                .returning(incidents.c.id)
            )
    if incident_id is not None:
        await _add_members(conn, incident_id, members)

    resolved_now = {
        e.id for group_ in known.values() for e in group_ if "status" in e.dirty and e.id
    }
    to_settle = await _open_incidents_holding(conn, resolved_now)
    if incident_id is not None:
        to_settle.add(incident_id)
    may_resolve_group = not (hook.truncated_alerts > 0 and hook.status == FIRING)
    status = None
    for candidate in sorted(to_settle):
        settled = await _settle(conn, candidate, may_resolve_group or candidate != incident_id)
        if candidate == incident_id:
            status = settled
    return incident_id, status


async def _not_yet_in_group(
    conn: AsyncConnection, episodes: list[Episode], group: Any
) -> list[Episode]:
    if not episodes:
        return []
    held = set(
        await conn.scalars(
            select(incident_alerts.c.alert_id)
            .join(incidents, incidents.c.id == incident_alerts.c.incident_id)
            .where(group, incident_alerts.c.alert_id.in_([e.id for e in episodes]))
        )
    )
    return [e for e in episodes if e.id not in held]


async def _add_members(conn: AsyncConnection, incident_id: int, members: list[Episode]) -> None:
    ids = {e.id for e in members}
    if not ids:
        return
    present = set(
        await conn.scalars(
            select(incident_alerts.c.alert_id).where(
                incident_alerts.c.incident_id == incident_id,
                incident_alerts.c.alert_id.in_(ids),
            )
        )
    )
    rows = [{"incident_id": incident_id, "alert_id": i} for i in sorted(ids - present)]  # type: ignore[type-var]
    if rows:
        await conn.execute(insert(incident_alerts), rows)


async def _open_incidents_holding(conn: AsyncConnection, alert_ids: set[int]) -> set[int]:
    if not alert_ids:
        return set()
    found = await conn.scalars(
        select(incident_alerts.c.incident_id)
        .join(incidents, incidents.c.id == incident_alerts.c.incident_id)
        .where(incident_alerts.c.alert_id.in_(alert_ids), incidents.c.status != RESOLVED)
        .distinct()
    )
    return set(found)


async def _settle(conn: AsyncConnection, incident_id: int, may_resolve: bool) -> str:
    """An incident resolves when none of its alerts is firing any more."""
    status: str | None = await conn.scalar(
        select(incidents.c.status).where(incidents.c.id == incident_id).with_for_update()
    )
    assert status is not None
    if status == RESOLVED or not may_resolve:
        return status
    firing, last_end = (
        await conn.execute(
            select(
                func.count().filter(alerts.c.status == FIRING),
                func.max(alerts.c.ends_at),
            )
            .select_from(incident_alerts.join(alerts, alerts.c.id == incident_alerts.c.alert_id))
            .where(incident_alerts.c.incident_id == incident_id)
        )
    ).one()
    if firing:
        return status
    await conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(status=RESOLVED, resolved_at=last_end)
    )
    return RESOLVED
