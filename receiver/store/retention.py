"""Retention's SQL: delete old history in bounded steps, never a row that something kept
still refers to.

Each kind of row is walked in the order of an index it already has: alerts by start,
notifications by creation, incidents by opening. That time comes before the one a row's
age is judged by (end, creation, resolution); where it does not (a resolution received
after its end), the row goes once both are past the cutoff. A step reads the next
`limit` rows of the walk and deletes those that are due; the caller goes on from where
the step stopped, so rows that must stay are stepped over once per pass rather than read
again by every step. A row kept only by a referrer that goes later in the same pass
goes in the next pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Row, Table, and_, delete, exists, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Delete, Select

from receiver.domain.lifecycle import RESOLVED
from receiver.store.insights import DELETED_ALERT, uncount_deleted
from receiver.store.outbox import DELIVERED, FAILED, SUPERSEDED
from receiver.store.tables import alerts, incident_alerts, incidents, notifications

Key = tuple[datetime, int]
"""Where a walk stands: the (time, id) of the last row it read."""

_referrer = notifications.alias("referrer")


def _alert_due(cutoff: datetime) -> ColumnElement[bool]:
    """Resolved before the cutoff, and held by no unresolved incident."""
    return and_(
        alerts.c.status == RESOLVED,
        alerts.c.ends_at < cutoff,
        ~exists().where(
            incident_alerts.c.alert_id == alerts.c.id,
            incidents.c.id == incident_alerts.c.incident_id,
            incidents.c.status != RESOLVED,
        ),
    )


def _notification_due(cutoff: datetime) -> ColumnElement[bool]:
    """Finished, of a resolved incident (an open one's reminders count from its last
    message), and neither folded into nor fallen back from by a row that stays."""
    return and_(
        notifications.c.status.in_((DELIVERED, FAILED, SUPERSEDED)),
        notifications.c.created_at < cutoff,
        exists().where(
            incidents.c.id == notifications.c.incident_id, incidents.c.status == RESOLVED
        ),
        ~exists().where(_referrer.c.superseded_by == notifications.c.id),
        ~exists().where(_referrer.c.fallback_of == notifications.c.id),
    )


def _incident_due(cutoff: datetime) -> ColumnElement[bool]:
    """Resolved before the cutoff, with no alert and no notification left."""
    return and_(
        incidents.c.status == RESOLVED,
        incidents.c.resolved_at < cutoff,
        ~exists().where(incident_alerts.c.incident_id == incidents.c.id),
        ~exists().where(notifications.c.incident_id == incidents.c.id),
    )


@dataclass(frozen=True)
class Sweep:
    """One kind of row: the table, the indexed time it is walked by, and when a row is due."""

    table: Table
    walk: Column[datetime]
    due: Callable[[datetime], ColumnElement[bool]]
    # What a deletion returns, and who is told of the deleted rows in the same
    # transaction (alerts: the hourly rollup, which must keep counting what is stored).
    returning: tuple[Column[Any], ...] = ()
    forget: Callable[[Connection, Sequence[Row[Any]]], None] | None = None

    def window(self, cutoff: datetime, after: Key | None, limit: int) -> Select[Any]:
        """The next `limit` rows of the walk past `after` (ids and walk times)."""
        ident = self.table.c.id
        past = true() if after is None else or_(
            self.walk > after[0], and_(self.walk == after[0], ident > after[1])
        )  # fmt: skip
        return (
            select(self.walk, ident)
            .where(self.walk < cutoff, past)
            .order_by(self.walk, ident)
            .limit(limit)
        )

    def deletion(self, ids: list[int], cutoff: datetime) -> Delete:
        return delete(self.table).where(self.table.c.id.in_(ids), self.due(cutoff))

    def step(
        self, conn: Connection, cutoff: datetime, after: Key | None, limit: int
    ) -> tuple[int, Key | None]:
        """Delete what is due among the next `limit` rows of the walk past `after`;
        answer how many went and where to go on from (None: the walk is done)."""
        window = conn.execute(self.window(cutoff, after, limit)).all()
        if not window:
            return 0, None
        ids, gone = [row.id for row in window], 0
        # Again while rows go: one may have been kept only by another in the same window.
        while deleted := self._delete(conn, ids, cutoff):
            gone += deleted
        last = window[-1]
        return gone, (last[0], last[1]) if len(window) == limit else None

    def _delete(self, conn: Connection, ids: list[int], cutoff: datetime) -> int:
        if self.forget is None:
            return conn.execute(self.deletion(ids, cutoff)).rowcount
        rows = conn.execute(self.deletion(ids, cutoff).returning(*self.returning)).all()
        self.forget(conn, rows)
        return len(rows)


# Deleting an alert takes its events and memberships along, a notification its attempts
# (ON DELETE CASCADE); an incident goes only once nothing refers to it any more.
ALERTS = Sweep(alerts, alerts.c.starts_at, _alert_due, DELETED_ALERT, uncount_deleted)
NOTIFICATIONS = Sweep(notifications, notifications.c.created_at, _notification_due)
INCIDENTS = Sweep(incidents, incidents.c.opened_at, _incident_due)
