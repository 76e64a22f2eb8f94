"""Insights' SQL: the hourly and daily rollups of alerts (kept by the write path in the
same transaction as the alerts they count) and the reads of /insights and /runbooks.

`alert_hours` and `alert_days` hold, per started hour (day), alertname and severity,
how many alerts rows there are: an alert's start, alertname and severity never change
(they come from its start and its labels), so the write path adds its new rows once per
batch, and retention subtracts the rows it deletes; nothing else inserts or deletes
alerts. A month's read then sums its whole days (some thousands of daily rows) and the
hours at either end, instead of a million alerts or a hundred thousand hourly rows.
`severity_hours` is alert_hours without the alertname, kept the same way, for the volume
chart: it stacks severities only, and a week's hours by alertname are 40,000 rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    Row,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    desc,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Select

from receiver.domain.insights import DAY, Window, day_of, hour_of
from receiver.store.bulk import insert_many
from receiver.store.tables import (
    UTCDateTime,
    alert_days,
    alert_hours,
    alerts,
    incident_actions,
    incidents,
    severity_hours,
)


@dataclass(frozen=True)
class Rollup:
    """One rollup table: its time column, the bucket an alert's start falls in, and the
    alert columns it counts by."""

    table: Table
    start: Column[Any]
    of: Callable[[datetime], datetime]
    by: tuple[str, ...]
    upsert: dict[str, Any]
    emptied: Any


def _rollup(table: Table, of: Callable[[datetime], datetime], *by: str) -> Rollup:
    start = table.c[0]
    upserts = {}
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql)):
        stmt = dialect.insert(table)
        upserts[name] = stmt.on_conflict_do_update(
            index_elements=[start, *(table.c[column] for column in by)],
            set_={"count": table.c["count"] + stmt.excluded["count"]},
        )
    return Rollup(table, start, of, by, upserts, delete(table).where(table.c["count"] <= 0))


HOURS = _rollup(alert_hours, hour_of, "alertname", "severity")
DAYS = _rollup(alert_days, day_of, "alertname", "severity")
SEVERITY_HOURS = _rollup(severity_hours, hour_of, "severity")
ROLLUPS = (HOURS, DAYS, SEVERITY_HOURS)

Key = tuple[Any, ...]
"""(hour or day, *Rollup.by) of a rollup row, as the alerts table stores them."""


def _add(conn: Connection, rollup: Rollup, counts: Counter[Key]) -> None:
    """One statement for the batch; keys in sorted order, so that two Postgres
    transactions lock shared rollup rows in the same order and cannot deadlock on them."""
    names = (rollup.start.name, *rollup.by)
    rows = [
        {**dict(zip(names, key, strict=True)), "count": n} for key, n in sorted(counts.items()) if n
    ]
    # Compiled once, like ingest's other inserts: SQLAlchemy's own executemany cost
    # ingest of one-alert webhooks a sixth of its instructions here.
    insert_many(conn, rollup.table, rows, rollup.upsert[conn.dialect.name])


def _keys(rollup: Rollup, rows: Iterable[Any]) -> Counter[Key]:
    return Counter((rollup.of(r["starts_at"]), *(r[column] for column in rollup.by)) for r in rows)


def count_inserted(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Count new alerts rows (their insert values) into every rollup."""
    for rollup in ROLLUPS:
        _add(conn, rollup, _keys(rollup, rows))


def uncount_deleted(conn: Connection, rows: Sequence[Row[Any]]) -> None:
    """Take deleted alerts rows (starts_at, alertname, severity) out of every rollup, and
    drop the rollup rows that reach zero."""
    for rollup in ROLLUPS:
        counts = _keys(rollup, [r._mapping for r in rows])
        _add(conn, rollup, Counter({key: -n for key, n in counts.items()}))
        if counts:
            starts = sorted({key[0] for key in counts})
            conn.execute(rollup.emptied.where(rollup.start.in_(starts)))


DELETED_ALERT = (alerts.c.starts_at, alerts.c.alertname, alerts.c.severity)
"""What retention's DELETE of alerts returns, for uncount_deleted."""


def _sum(
    rollup: Rollup, since: datetime, until: datetime, *by: str, at: datetime | None = None
) -> Select[Any]:
    """The rollup's rows of [since, until) summed per `by`, dated `at` if given."""
    keys = [rollup.table.c[name] for name in by]
    dated: list[Any] = [] if at is None else [literal(at, UTCDateTime()).label("at")]
    return (
        select(*dated, *keys, func.sum(rollup.table.c["count"]).label("n"))
        .where(rollup.start >= since, rollup.start < until)
        .group_by(*keys)
    )


async def volume(conn: AsyncConnection, window: Window) -> list[tuple[datetime, str, int]]:
    """(start, severity, alerts) in the window, at the chart's grain: days (and the
    window's partial first and last day, dated where their bars start) for a chart of
    days, else hours.

    Each part is summed on its own and the parts only concatenated: their starts differ,
    and one sum over their union sorted some 20,000 rows (SQLite: 21 ms, against 6)."""
    since, until = window.since, window.until
    if window.step >= DAY:
        first, last = window.whole_days()
        query: Any = union_all(
            _sum(DAYS, first, last, "day", "severity"),
            _sum(SEVERITY_HOURS, since, first, "severity", at=since),
            _sum(SEVERITY_HOURS, last, until, "severity", at=last),
        )
    else:
        query = _sum(SEVERITY_HOURS, since, until, "hour", "severity")
    return [(start, severity, int(n)) for start, severity, n in await conn.execute(query)]


async def names(conn: AsyncConnection, window: Window) -> list[tuple[str, str, int]]:
    """(alertname, severity, alerts) started in the window: its whole days from the daily
    rollup, the hours before the first and after the last from the hourly one."""
    by = ("alertname", "severity")
    first, last = window.whole_days()
    if first >= last:
        query: Any = _sum(HOURS, window.since, window.until, *by)
    else:
        parts = union_all(
            _sum(DAYS, first, last, *by),
            _sum(HOURS, window.since, first, *by),
            _sum(HOURS, last, window.until, *by),
        ).subquery()
        query = select(parts.c.alertname, parts.c.severity, func.sum(parts.c.n)).group_by(
            parts.c.alertname, parts.c.severity
        )
    return [(name, severity, int(n)) for name, severity, n in await conn.execute(query)]


SCAN_BUDGET = 5_000
"""Most alerts (and incidents) one insights read walks: a month can hold a million, and
grouping them all costs seconds. Past the budget, the newest rows of the window count,
and the read says from when (`Scanned.since`)."""


@dataclass(frozen=True)
class Scanned:
    rows: list[Any]
    since: datetime | None  # where the walk stopped, when the budget cut it short


def _newest_alerts(*columns: Column[Any]) -> Select[Any]:
    return (
        select(*columns)
        .where(
            alerts.c.starts_at >= bindparam("since", type_=UTCDateTime()),
            alerts.c.starts_at < bindparam("until", type_=UTCDateTime()),
        )
        .order_by(alerts.c.starts_at.desc(), alerts.c.id.desc())
    )


def _flapping() -> Select[Any]:
    """Built once: the window's newest alerts grouped by fingerprint, each group's latest
    alert looked up by the (fingerprint, starts_at) key. Building the statement and its
    cache key per request cost more than the walk itself (4 ms against 3 on SQLite)."""
    recent = (
        _newest_alerts(alerts.c.fingerprint, alerts.c.starts_at)
        .limit(bindparam("budget", type_=Integer()))
        .subquery()
    )
    episodes = func.count().label("episodes")
    found = (
        select(recent.c.fingerprint, episodes, func.max(recent.c.starts_at).label("latest"))
        .group_by(recent.c.fingerprint)
        .having(func.count() >= bindparam("at_least", type_=Integer()))
        .order_by(desc(episodes), recent.c.fingerprint)
        .limit(bindparam("limit", type_=Integer()))
        .subquery()
    )
    return (
        select(
            alerts.c.id, alerts.c.fingerprint, alerts.c.alertname, alerts.c.labels, found.c.episodes
        )
        .join_from(
            found,
            alerts,
            and_(alerts.c.fingerprint == found.c.fingerprint, alerts.c.starts_at == found.c.latest),
        )
        .order_by(desc(found.c.episodes), found.c.fingerprint)
    )


_FLAPPING = _flapping()
# Where a full budget's walk stops: its last row, found on the index alone (a count of
# the walk read the table for every row again).
_FLAPPING_CUT = (
    _newest_alerts(alerts.c.starts_at).offset(bindparam("last", type_=Integer())).limit(1)
)


async def flapping(
    conn: AsyncConnection, since: datetime, until: datetime, at_least: int, limit: int
) -> Scanned:
    """Fingerprints with at least `at_least` alerts started in [since, until), most first,
    as (their latest alert: id, fingerprint, alertname, labels; how many), among the
    window's newest SCAN_BUDGET alerts, walked from the end of the (starts_at, id) index."""
    window = {"since": since, "until": until}
    found = await conn.execute(
        _FLAPPING, {**window, "budget": SCAN_BUDGET, "at_least": at_least, "limit": limit}
    )
    rows = [(row, int(row.episodes)) for row in found]
    cut = await conn.execute(_FLAPPING_CUT, {**window, "last": SCAN_BUDGET - 1})
    return Scanned(rows, cut.scalar())


def _epoch(column: Any, dialect: str) -> ColumnElement[float]:
    """A stored time as seconds since 1970, computed by the database: thousands of rows
    come back as floats rather than as times to parse and subtract in Python. Their
    differences carry float noise below the microsecond the times are stored to, which
    the spreads' timedeltas round away."""
    if dialect == "sqlite":  # whole seconds, then the text's ".ffffff" (julianday is inexact)
        return cast(func.strftime("%s", column), Float) + cast(func.substr(column, 20), Float)
    return cast(func.extract("epoch", column), Float)


async def response_times(conn: AsyncConnection, since: datetime, until: datetime) -> Scanned:
    """(receiver, alertname, seconds to first acknowledgement, seconds to resolve) of
    the incidents opened in [since, until), the newest SCAN_BUDGET of them, walked by the
    (opened_at, id) index, under the alertname the incident keeps.

    First acknowledgements come from one range read of (kind, at) since the oldest
    incident walked (an incident is acknowledged after it opens), not a subquery per
    incident: SQLite answered that by walking every acknowledgement for each incident."""
    dialect = conn.dialect.name
    opened = _epoch(incidents.c.opened_at, dialect)
    rows = (
        await conn.execute(
            select(
                incidents.c.id,
                incidents.c.receiver,
                incidents.c.alertname,
                opened,
                _epoch(incidents.c.resolved_at, dialect) - opened,
            )
            .where(incidents.c.opened_at >= since, incidents.c.opened_at < until)
            .order_by(incidents.c.opened_at.desc(), incidents.c.id.desc())
            .limit(SCAN_BUDGET)
        )
    ).all()
    if not rows:
        return Scanned([], None)
    # The oldest opening exactly as stored (a float of it can be off by microseconds).
    oldest: datetime = (
        await conn.execute(select(incidents.c.opened_at).where(incidents.c.id == rows[-1][0]))
    ).scalar_one()
    acks = await conn.execute(
        select(incident_actions.c.incident_id, func.min(_epoch(incident_actions.c.at, dialect)))
        .where(incident_actions.c.kind == "acknowledged", incident_actions.c.at >= oldest)
        .group_by(incident_actions.c.incident_id)
    )
    first_ack: dict[int, float] = dict(acks.all())
    timings = [
        (
            receiver,
            name,
            None if (ack := first_ack.get(i)) is None else ack - at,
            to_resolve,
        )
        for i, receiver, name, at, to_resolve in rows
    ]
    return Scanned(timings, oldest if len(rows) == SCAN_BUDGET else None)
