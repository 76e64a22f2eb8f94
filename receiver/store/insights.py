"""Insights' SQL: the hourly rollup of alerts (kept by the write path in the same
transaction as the alerts it counts) and the reads of /insights.

`alert_hours` holds, per started hour, alertname and severity, how many alerts rows
there are: an alert's hour, alertname and severity never change (they come from its
start and its labels), so the write path adds its new rows once per batch, and
retention subtracts the rows it deletes; nothing else inserts or deletes alerts.
Reads over a month then sum some tens of thousands of rollup rows instead of a million
alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, desc, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from receiver.domain.insights import hour_of
from receiver.store.tables import alert_hours, alerts, incident_actions, incidents

HourKey = tuple[datetime, str, str]
"""(hour, alertname, severity) of the rollup, as alerts.alertname/severity store them."""


def _upsert(dialect: Any) -> Any:
    stmt = dialect.insert(alert_hours)
    return stmt.on_conflict_do_update(
        index_elements=[alert_hours.c.hour, alert_hours.c.alertname, alert_hours.c.severity],
        set_={"count": alert_hours.c.count + stmt.excluded["count"]},
    )


_UPSERT = {"sqlite": _upsert(sqlite), "postgresql": _upsert(postgresql)}
_EMPTIED = delete(alert_hours).where(alert_hours.c.count <= 0)


def _add(conn: Connection, counts: Counter[HourKey]) -> None:
    """One statement for the batch; keys in sorted order, so that two Postgres
    transactions lock shared rollup rows in the same order and cannot deadlock on them."""
    rows = [
        {"hour": hour, "alertname": name, "severity": severity, "count": n}
        for (hour, name, severity), n in sorted(counts.items())
        if n
    ]
    if rows:
        conn.execute(_UPSERT[conn.dialect.name], rows)


def _keys(rows: Iterable[Any]) -> Counter[HourKey]:
    return Counter((hour_of(r["starts_at"]), r["alertname"], r["severity"]) for r in rows)


def count_inserted(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Count new alerts rows (their insert values) into the rollup."""
    _add(conn, _keys(rows))


def uncount_deleted(conn: Connection, rows: Sequence[Row[Any]]) -> None:
    """Take deleted alerts rows (starts_at, alertname, severity) out of the rollup, and
    drop the rollup rows that reach zero."""
    counts = _keys(r._mapping for r in rows)
    _add(conn, Counter({key: -n for key, n in counts.items()}))
    if counts:
        hours = sorted({hour for hour, _, _ in counts})
        conn.execute(_EMPTIED.where(alert_hours.c.hour.in_(hours)))


DELETED_ALERT = (alerts.c.starts_at, alerts.c.alertname, alerts.c.severity)
"""What retention's DELETE of alerts returns, for uncount_deleted."""


async def volume(
    conn: AsyncConnection, since: datetime, until: datetime
) -> list[tuple[datetime, str, int]]:
    """(hour, severity, alerts) of the hours in [since, until)."""
    total = func.sum(alert_hours.c.count)
    rows = await conn.execute(
        select(alert_hours.c.hour, alert_hours.c.severity, total)
        .where(alert_hours.c.hour >= since, alert_hours.c.hour < until)
        .group_by(alert_hours.c.hour, alert_hours.c.severity)
    )
    return [(hour, severity, int(n)) for hour, severity, n in rows]


async def names(
    conn: AsyncConnection, since: datetime, until: datetime
) -> list[tuple[str, str, int]]:
    """(alertname, severity, alerts) started in [since, until)."""
    total = func.sum(alert_hours.c.count)
    rows = await conn.execute(
        select(alert_hours.c.alertname, alert_hours.c.severity, total)
        .where(alert_hours.c.hour >= since, alert_hours.c.hour < until)
        .group_by(alert_hours.c.alertname, alert_hours.c.severity)
    )
    return [(name, severity, int(n)) for name, severity, n in rows]


SCAN_BUDGET = 5_000
"""Most alerts (and incidents) one insights read walks: a month can hold a million, and
grouping them all costs seconds. Past the budget, the newest rows of the window count,
and the read says from when (`Scanned.since`)."""


@dataclass(frozen=True)
class Scanned:
    rows: list[Any]
    since: datetime | None  # where the walk stopped, when the budget cut it short


async def flapping(
    conn: AsyncConnection, since: datetime, until: datetime, at_least: int, limit: int
) -> Scanned:
    """Fingerprints with at least `at_least` alerts started in [since, until), most first,
    as (their latest alert: id, fingerprint, alertname, labels; how many), among the
    window's newest SCAN_BUDGET alerts, read from the (starts_at, fingerprint) index."""
    recent = (
        select(alerts.c.fingerprint, alerts.c.starts_at)
        .where(alerts.c.starts_at >= since, alerts.c.starts_at < until)
        # Only the (starts_at, fingerprint) index gives this order: both planners read
        # it alone, instead of visiting a row per alert through (starts_at, id).
        .order_by(alerts.c.starts_at.desc(), alerts.c.fingerprint.desc())
        .limit(SCAN_BUDGET)
        .subquery()
    )
    episodes = func.count().label("episodes")
    latest = func.max(recent.c.starts_at).label("latest")
    found = (
        await conn.execute(
            select(recent.c.fingerprint, episodes, latest)
            .group_by(recent.c.fingerprint)
            .having(func.count() >= at_least)
            .order_by(desc(episodes), recent.c.fingerprint)
            .limit(limit)
        )
    ).all()
    walked, oldest = (await conn.execute(select(func.count(), func.min(recent.c.starts_at)))).one()
    cut = oldest if walked == SCAN_BUDGET else None
    if not found:
        return Scanned([], cut)
    # OR of pairs, not a row-value IN: SQLite would scan the table for that one.
    keys = [
        and_(alerts.c.fingerprint == r.fingerprint, alerts.c.starts_at == r.latest) for r in found
    ]
    rows = await conn.execute(
        select(alerts.c.id, alerts.c.fingerprint, alerts.c.alertname, alerts.c.labels).where(
            or_(*keys)
        )
    )
    by_fingerprint: dict[str, Any] = {r.fingerprint: r for r in rows}
    return Scanned([(by_fingerprint[r.fingerprint], int(r.episodes)) for r in found], cut)


_FIRST_ACK = (
    select(func.min(incident_actions.c.at))
    .where(
        and_(
            incident_actions.c.incident_id == incidents.c.id,
            incident_actions.c.kind == "acknowledged",
        )
    )
    .scalar_subquery()
)
_ALERTNAME = func.coalesce(
    incidents.c.common_labels["alertname"].as_string(),
    incidents.c.group_labels["alertname"].as_string(),
    "",
)


async def response_times(conn: AsyncConnection, since: datetime, until: datetime) -> Scanned:
    """(receiver, alertname, opened, first acknowledged, resolved) of the incidents opened
    in [since, until), the newest SCAN_BUDGET of them, walked by the (opened_at, id) index.
    An incident's alertname is its alerts' common one, else its group's, else ""."""
    rows = (
        await conn.execute(
            select(
                incidents.c.receiver,
                _ALERTNAME,
                incidents.c.opened_at,
                _FIRST_ACK,
                incidents.c.resolved_at,
            )
            .where(incidents.c.opened_at >= since, incidents.c.opened_at < until)
            .order_by(incidents.c.opened_at.desc(), incidents.c.id.desc())
            .limit(SCAN_BUDGET)
        )
    ).all()
    timings = [(r[0], r[1], r[2], r[3], r[4]) for r in rows]
    return Scanned(timings, timings[-1][2] if len(timings) == SCAN_BUDGET else None)
