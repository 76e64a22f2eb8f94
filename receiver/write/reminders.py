"""The reminder sweep: open incidents nobody acknowledged, whose route's repeat_interval
passed since the last message to a channel, get a reminder there. A periodic job of the
scheduler; replicas sweep under one advisory lock and the locks of the incidents'
groups, so that nobody is reminded twice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from receiver.domain.change import Change
from receiver.domain.routing import Route, matching_routes, reminders_due, routing_labels
from receiver.store import incidents, outbox
from receiver.store.engine import LockName, Writer

LOCK: LockName = ("reminders",)


async def sweep(writer: Writer, routes: list[Route]) -> int:
    """Queue the reminders due now; answer how many."""
    if not any(route.repeat_interval for route in routes):
        return 0
    candidates = await writer.run([], incidents.unacknowledged)
    if not candidates:
        return 0
    locks = [LOCK] + [("group", c.receiver, c.group_key) for c in candidates]
    return await writer.run(locks, lambda conn: _queue(conn, candidates, routes, datetime.now(UTC)))


def _queue(conn: Connection, candidates: list[Any], routes: list[Route], now: datetime) -> int:
    # Listed before the locks were taken: some may have resolved or been acknowledged.
    still = incidents.still_unacknowledged(conn, [c.id for c in candidates])
    last_sent = outbox.last_sent(conn, sorted(still))
    queued = []
    for incident in candidates:
        if incident.id not in still:
            continue
        matched = matching_routes(routes, routing_labels(incident.common_labels, incident.receiver))
        due = reminders_due(matched, incident.opened_at, last_sent.get(incident.id, {}), now)
        queued += outbox.rows(incident.id, "reminder", Change(reminder=True), due, now)
    return outbox.queue(conn, queued)
