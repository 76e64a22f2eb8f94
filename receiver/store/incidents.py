"""The incident rows of ingest: what the incident rules need to know, and writing back
what they decided. Statements used on every webhook are built once: constructing one
costs more than SQLite takes to run it (the general path's resolutions paid a fifth
of the writer's time in the realistic mix building them anew)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection

from receiver.domain.actions import LIFTED, SELF, UNACKNOWLEDGED
from receiver.domain.incidents import OPEN, Standing
from receiver.domain.lifecycle import FIRING, RESOLVED
from receiver.domain.wire import Webhook
from receiver.store.bulk import insert_ids, insert_many
from receiver.store.tables import alerts, incident_actions, incident_alerts, incidents

_OPEN_INCIDENT = (
    select(incidents.c.id, incidents.c.status)
    .where(incidents.c.group_hash == bindparam("key"), incidents.c.status != RESOLVED)
    .with_for_update()
)
OPEN_INCIDENTS = (
    select(incidents.c.id, incidents.c.group_hash, incidents.c.status)
    .where(
        incidents.c.group_hash.in_(bindparam("keys", expanding=True)),
        incidents.c.status != RESOLVED,
    )
    .with_for_update()
)
MEMBERSHIPS = select(incident_alerts.c.incident_id, incident_alerts.c.alert_id).where(
    incident_alerts.c.incident_id.in_(bindparam("incidents", expanding=True)),
    incident_alerts.c.alert_id.in_(bindparam("alerts", expanding=True)),
)
_SNAPSHOT = (
    "group_labels",
    "common_labels",
    "alertname",
    "common_annotations",
    "external_url",
    "truncated_alerts",
    "last_received_at",
)
REFRESH = (
    update(incidents)
    .where(incidents.c.id == bindparam("incident_id"))
    .values(
        times_received=incidents.c.times_received + bindparam("deliveries"),
        **{name: bindparam(f"new_{name}") for name in _SNAPSHOT},
    )
)


def snapshot(hook: Webhook, received_at: datetime) -> dict[str, Any]:
    """What an incident keeps of the latest webhook of its group."""
    return {
        "group_labels": dict(hook.group_labels),
        "common_labels": dict(hook.common_labels),
        "alertname": hook.common_labels.get("alertname", hook.group_labels.get("alertname", "")),
        "common_annotations": dict(hook.common_annotations),
        "external_url": hook.external_url,
        "truncated_alerts": hook.truncated_alerts,
        "last_received_at": received_at,
    }


def refresh_values(incident_id: int, deliveries: int, latest: dict[str, Any]) -> dict[str, Any]:
    """Parameters of REFRESH: `deliveries` more webhooks, the latest one's snapshot."""
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


def open_of(conn: Connection, key: str) -> tuple[int, str] | None:
    """The group's unresolved incident (id, status), locked for this transaction."""
    found = conn.execute(_OPEN_INCIDENT, {"key": key}).first()
    return (found.id, found.status) if found else None


def open_one(conn: Connection, values: dict[str, Any]) -> int:
    [incident_id] = insert_ids(conn, incidents, [values])
    return incident_id


def members_present(conn: Connection, incident_id: int, alert_ids: Iterable[int]) -> set[int]:
    """Which of these alerts the incident holds already."""
    ids = list(alert_ids)
    if not ids:
        return set()
    params = {"incidents": [incident_id], "alerts": ids}
    return {alert_id for _incident, alert_id in conn.execute(MEMBERSHIPS, params)}


_HELD_BY_GROUP = (
    select(incident_alerts.c.alert_id)
    .join(incidents, incidents.c.id == incident_alerts.c.incident_id)
    .where(
        incidents.c.group_hash == bindparam("key"),
        incident_alerts.c.alert_id.in_(bindparam("alerts", expanding=True)),
    )
)
_OPEN_HOLDING = (
    select(incident_alerts.c.incident_id, incident_alerts.c.alert_id)
    .join(incidents, incidents.c.id == incident_alerts.c.incident_id)
    .where(
        incident_alerts.c.alert_id.in_(bindparam("alerts", expanding=True)),
        incidents.c.status != RESOLVED,
    )
)
_STATUSES = (
    select(incidents.c.id, incidents.c.status)
    .where(incidents.c.id.in_(bindparam("incidents", expanding=True)))
    .with_for_update()
)
_MEMBER_STANDINGS = (
    select(
        incident_alerts.c.incident_id,
        func.count().filter(alerts.c.status == FIRING),
        func.max(alerts.c.ends_at),
    )
    .select_from(incident_alerts.join(alerts, alerts.c.id == incident_alerts.c.alert_id))
    .where(incident_alerts.c.incident_id.in_(bindparam("incidents", expanding=True)))
    .group_by(incident_alerts.c.incident_id)
)
_RESOLVE = (
    update(incidents)
    .where(incidents.c.id == bindparam("incident_id"))
    .values(status=RESOLVED, resolved_at=bindparam("at"))
)
_ROUTING_FACTS = select(incidents.c.id, incidents.c.receiver, incidents.c.common_labels).where(
    incidents.c.id.in_(bindparam("incidents", expanding=True))
)


def held_by_group(conn: Connection, key: str, alert_ids: Iterable[int]) -> set[int]:
    """Which of these alerts any incident of the group, resolved ones included, holds."""
    ids = list(alert_ids)
    if not ids:
        return set()
    return set(conn.scalars(_HELD_BY_GROUP, {"key": key, "alerts": ids}))


def add_members(conn: Connection, incident_id: int, alert_ids: Iterable[int]) -> None:
    rows = [{"incident_id": incident_id, "alert_id": i} for i in sorted(alert_ids)]
    insert_many(conn, incident_alerts, rows)


def open_holding(conn: Connection, alert_ids: set[int]) -> dict[int, frozenset[int]]:
    """The unresolved incidents holding any of these alerts, and which of them each holds."""
    holding: dict[int, set[int]] = {}
    if alert_ids:
        for incident_id, alert_id in conn.execute(_OPEN_HOLDING, {"alerts": sorted(alert_ids)}):
            holding.setdefault(incident_id, set()).add(alert_id)
    return {incident_id: frozenset(ids) for incident_id, ids in holding.items()}


def standings(conn: Connection, incident_ids: Iterable[int]) -> dict[int, Standing]:
    """How the members of these incidents stand now; the incident rows stay locked for
    the rest of the transaction."""
    ids = sorted(incident_ids)
    if not ids:
        return {}
    params = {"incidents": ids}
    statuses = {row.id: row.status for row in conn.execute(_STATUSES, params)}
    members = {
        incident_id: (firing, last_end)
        for incident_id, firing, last_end in conn.execute(_MEMBER_STANDINGS, params)
    }
    return {
        incident_id: Standing(status, *members.get(incident_id, (0, None)))
        for incident_id, status in statuses.items()
    }


def resolve(conn: Connection, resolved_at: dict[int, datetime | None]) -> None:
    if resolved_at:
        rows = [{"incident_id": i, "at": at} for i, at in sorted(resolved_at.items())]
        conn.execute(_RESOLVE, rows)


def routing_facts(conn: Connection, incident_ids: Iterable[int]) -> list[tuple[int, str, Any]]:
    """(id, receiver, common labels) of these incidents: what routing reads."""
    rows = conn.execute(_ROUTING_FACTS, {"incidents": sorted(incident_ids)})
    return [(row.id, row.receiver, row.common_labels) for row in rows]


def unacknowledged(conn: Connection) -> list[Any]:
    """Open incidents nobody acknowledged: those reminders are for."""
    return list(
        conn.execute(
            select(
                incidents.c.id,
                incidents.c.receiver,
                incidents.c.group_key,
                incidents.c.common_labels,
                incidents.c.opened_at,
            ).where(incidents.c.status == OPEN)
        )
    )


def still_unacknowledged(conn: Connection, incident_ids: list[int]) -> set[int]:
    """Which of these incidents are still open and unacknowledged."""
    if not incident_ids:
        return set()
    return set(
        conn.scalars(
            select(incidents.c.id).where(
                incidents.c.id.in_(incident_ids), incidents.c.status == OPEN
            )
        )
    )


def for_action(conn: Connection, incident_ids: list[int]) -> list[Any]:
    """The incidents people act on, locked for this transaction."""
    return list(
        conn.execute(
            select(incidents.c.id, incidents.c.status, incidents.c.receiver)
            .add_columns(incidents.c.group_key, incidents.c.common_labels)
            .where(incidents.c.id.in_(incident_ids))
            .order_by(incidents.c.id)
            .with_for_update()
        )
    )


def group_keys(conn: Connection, incident_ids: list[int]) -> list[tuple[str, str]]:
    """(receiver, groupKey) of these incidents: the locks an action takes."""
    rows = conn.execute(
        select(incidents.c.receiver, incidents.c.group_key).where(incidents.c.id.in_(incident_ids))
    )
    return [(row.receiver, row.group_key) for row in rows]


def set_state(conn: Connection, incident_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))


def record_actions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Rows of incident_actions: incident_id, kind, by, at, text."""
    insert_many(conn, incident_actions, rows)


def lift_acknowledgements(conn: Connection, incident_ids: list[int], at: datetime) -> None:
    """New alerts joined these acknowledged incidents: open again, said in the timeline."""
    if not incident_ids:
        return
    conn.execute(
        update(incidents)
        .where(incidents.c.id.in_(incident_ids))
        .values(status=OPEN, acknowledged_by=None, acknowledged_at=None)
    )
    record_actions(
        conn,
        [
            {"incident_id": i, "kind": UNACKNOWLEDGED, "by": SELF, "at": at, "text": LIFTED}
            for i in incident_ids
        ],
    )
