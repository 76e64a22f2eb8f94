"""Incident steps of the webhook transaction: attach alerts to their group's incident,
settle which incidents resolved, and report what changed for the notification step.

An incident is (receiver, groupKey) from its first firing alert until all its alerts are
resolved; the group firing again later opens a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection

from receiver.alertmanager import Webhook
from receiver.change import Change
from receiver.lifecycle import FIRING, RESOLVED, Delivered, Episode
from receiver.store.bulk import insert_ids, insert_many
from receiver.store.tables import alerts, group_hash, incident_alerts, incidents

OPEN = "open"


@dataclass(frozen=True)
class GroupOutcome:
    incident_id: int | None
    status: str | None
    changes: dict[int, Change]  # per incident this webhook changed


# Built once: constructing a statement costs more than SQLite takes to run it.
_OPEN_INCIDENT = (
    select(incidents.c.id, incidents.c.status)
    .where(incidents.c.group_hash == bindparam("key"), incidents.c.status != RESOLVED)
    .with_for_update()
)
_SNAPSHOT = (
    "group_labels",
    "common_labels",
    "common_annotations",
    "external_url",
    "truncated_alerts",
    "last_received_at",
)
REFRESH_INCIDENT = (
    update(incidents)
    .where(incidents.c.id == bindparam("incident_id"))
    .values(
        times_received=incidents.c.times_received + bindparam("deliveries"),
        **{name: bindparam(f"new_{name}") for name in _SNAPSHOT},
    )
)
_MEMBERS_PRESENT = select(incident_alerts.c.alert_id).where(
    incident_alerts.c.incident_id == bindparam("incident_id"),
    incident_alerts.c.alert_id.in_(bindparam("ids", expanding=True)),
)


def snapshot(hook: Webhook, received_at: datetime) -> dict[str, Any]:
    """What an incident keeps of the latest webhook of its group."""
    return {
        "group_labels": dict(hook.group_labels),
        "common_labels": dict(hook.common_labels),
        "common_annotations": dict(hook.common_annotations),
        "external_url": hook.external_url,
        "truncated_alerts": hook.truncated_alerts,
        "last_received_at": received_at,
    }


def refresh_values(incident_id: int, deliveries: int, latest: dict[str, Any]) -> dict[str, Any]:
    prefixed = {f"new_{name}": value for name, value in latest.items()}
    return {"incident_id": incident_id, "deliveries": deliveries, **prefixed}


def insert_values(
    key: str, hook: Webhook, opened_at: datetime, deliveries: int, latest: dict[str, Any]
) -> dict[str, Any]:
    return {
        "group_hash": key,
        "receiver": hook.receiver,
        "group_key": hook.group_key,
        "status": OPEN,
        "opened_at": opened_at,
        "times_received": deliveries,
        **latest,
    }


def update_incidents(
    conn: Connection,
    hook: Webhook,
    known: dict[str, list[Episode]],
    delivered: list[Delivered],
    received_at: datetime,
) -> GroupOutcome:
    carried = [d.episode for d in delivered if d.carried]
    key = group_hash(hook.receiver, hook.group_key)
    found = conn.execute(_OPEN_INCIDENT, {"key": key}).first()
    open_id, open_status = (found.id, found.status) if found else (None, OPEN)
    latest = snapshot(hook, received_at)
    opened = open_id is None
    if open_id is not None:
        conn.execute(REFRESH_INCIDENT, refresh_values(open_id, 1, latest))
        members = carried
        incident_id: int | None = open_id
    else:
        if any(e.status == FIRING for e in carried):
            members = carried
        else:  # only late resolved copies: keep those no incident of the group holds yet
            members = _not_yet_in_group(conn, carried, incidents.c.group_hash == key)
        incident_id = None
        if members:
            values = insert_values(key, hook, received_at, 1, latest)
            [incident_id] = insert_ids(conn, incidents, [values])
    joined: set[int] = set()
    if incident_id is not None:
        added = _add_members(conn, incident_id, members, fresh=opened)
        joined = {e.id for e in members if e.id in added and e.status == FIRING and e.id}

    resolved_now = {
        e.id for group_ in known.values() for e in group_ if "status" in e.dirty and e.id
    }
    holding = _open_incidents_holding(conn, resolved_now)
    if incident_id is not None:
        holding.setdefault(incident_id, set())
    # A group that carries a firing alert cannot resolve; no need to ask the database.
    may_resolve_group = not any(e.status == FIRING for e in carried) and not (
        hook.truncated_alerts > 0 and hook.status == FIRING
    )
    status = None
    changes: dict[int, Change] = {}
    for candidate in sorted(holding):
        if candidate == incident_id and not may_resolve_group:
            settled = open_status  # it stays as it is; no need to ask the database
        else:
            settled = _settle(conn, candidate)
        if candidate == incident_id:
            status = settled
        change = Change(
            opened=opened and candidate == incident_id,
            joined=frozenset(joined if candidate == incident_id else ()),
            resolved=frozenset(holding[candidate]),
            incident_resolved=settled == RESOLVED,
        )
        if change != Change():
            changes[candidate] = change
    return GroupOutcome(incident_id, status, changes)


def _not_yet_in_group(conn: Connection, episodes: list[Episode], group: Any) -> list[Episode]:
    if not episodes:
        return []
    held = set(
        conn.scalars(
            select(incident_alerts.c.alert_id)
            .join(incidents, incidents.c.id == incident_alerts.c.incident_id)
            .where(group, incident_alerts.c.alert_id.in_([e.id for e in episodes]))
        )
    )
    return [e for e in episodes if e.id not in held]


def _add_members(
    conn: Connection, incident_id: int, members: list[Episode], *, fresh: bool
) -> set[int]:
    """Attach alerts not attached yet; answer which ones were new to the incident."""
    ids = {e.id for e in members if e.id is not None}
    if not ids:
        return set()
    present = (
        set()
        if fresh
        else set(conn.scalars(_MEMBERS_PRESENT, {"incident_id": incident_id, "ids": list(ids)}))
    )
    added = ids - present
    insert_many(
        conn, incident_alerts, [{"incident_id": incident_id, "alert_id": i} for i in sorted(added)]
    )
    return added


def _open_incidents_holding(conn: Connection, alert_ids: set[int]) -> dict[int, set[int]]:
    holding: dict[int, set[int]] = {}
    if alert_ids:
        rows = conn.execute(
            select(incident_alerts.c.incident_id, incident_alerts.c.alert_id)
            .join(incidents, incidents.c.id == incident_alerts.c.incident_id)
            .where(incident_alerts.c.alert_id.in_(alert_ids), incidents.c.status != RESOLVED)
        )
        for incident_id, alert_id in rows:
            holding.setdefault(incident_id, set()).add(alert_id)
    return holding


def _settle(conn: Connection, incident_id: int) -> str:
    """An incident resolves when none of its alerts is firing any more."""
    status: str | None = conn.scalar(
        select(incidents.c.status).where(incidents.c.id == incident_id).with_for_update()
    )
    assert status is not None
    if status == RESOLVED:
        return status
    firing, last_end = (
        conn.execute(
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
    conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(status=RESOLVED, resolved_at=last_end)
    )
    return RESOLVED
