"""Incident changes into the outbox: routing decides which channels hear a change
(receiver.domain.routing), and the notifications are queued in the same transaction as
the change itself, so the decision is never lost and never made twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from receiver.domain.change import Change
from receiver.domain.routing import Route, matching_routes, plan, routing_labels
from receiver.store import incidents, outbox


def change_rows(
    incident_id: int,
    receiver: str,
    common_labels: dict[str, str],
    change: Change,
    routes: list[Route],
    now: datetime,
) -> list[dict[str, Any]]:
    """The notifications one incident change calls for: one per channel routed to."""
    matched = matching_routes(routes, routing_labels(common_labels, receiver))
    return outbox.rows(incident_id, "change", change, plan(change, matched), now)


def queue_changes(
    conn: Connection, changes: dict[int, Change], routes: list[Route], now: datetime
) -> int:
    if not changes or not routes:
        return 0
    queued = []
    for incident_id, receiver, common_labels in incidents.routing_facts(conn, changes):
        queued += change_rows(
            incident_id, receiver, common_labels, changes[incident_id], routes, now
        )
    return outbox.queue(conn, queued)
