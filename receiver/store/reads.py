"""The read side: alert and incident history, newest first, with keyset pagination.

Column filters walk an index in the keyset's order. What no index serves (the receiver,
free text as a LIKE over the stored JSON text) is checked in SQL on each row of that
walk, and label matchers, which cannot be indexed portably, in Python; then a request
scans a bounded number of rows and, when it stops early, hands back a cursor so the
client continues where the scan stopped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Row,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Select

from receiver.domain.links import RUNBOOK_ANNOTATIONS
from receiver.domain.matchers import Matcher, matches_all
from receiver.domain.views import AlertView, IncidentView
from receiver.store.tables import (
    INDEXED_LABEL_CHARS,
    UNDELIVERED,
    alerts,
    events,
    incident_actions,
    incident_alerts,
    incidents,
    notification_attempts,
    notifications,
)

# Rows one request may scan for checks no index serves (receiver, text, label matchers).
# At a million alerts 20,000 took about a second when nothing matched, reading whole rows;
# 2,000, reading only what the checks need, take 20 to 45 ms (docs/benchmarks.md), and
# the caller continues through the `next` cursor.
SCAN_BUDGET = 2_000
_CHUNK = 500
PASSED = "passed"  # the column of a row check that no index serves
ALERT_STATUSES = ("firing", "resolved")  # every incident's counts name both, zero or not


@dataclass(frozen=True)
class Position:
    """Where a page ends: the sort key of its last row."""

    at: datetime
    id: int


@dataclass(frozen=True)
class AlertQuery:
    status: str | None = None
    alertname: str | None = None
    severity: str | None = None
    receiver: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    matchers: list[Matcher] = field(default_factory=list)


@dataclass(frozen=True)
class Page:
    rows: list[Row[Any]]
    next: Position | None


def _before(time_col: Any, id_col: Any, after: Position | None) -> ColumnElement[bool]:
    """Rows past the cursor as one row-value comparison, which both databases take as the
    start of an index range; the same test spelt with OR was a filter on Postgres, which
    walked every row newer than the cursor to reach it."""
    if after is None:
        return true()
    return tuple_(time_col, id_col) < tuple_(after.at, after.id)


def _like(value: str) -> str:
    escaped = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# The receivers of the alert at hand, asked per alert scanned (through its memberships,
# by alert id). Spelt as an EXISTS with the receiver inside, SQLite walked every incident
# of the receiver for each alert, and Postgres hashed all their memberships first; a
# correlated IN is neither flattened by Postgres nor led by the receiver on SQLite.
_RECEIVERS_OF_ALERT = (
    select(incidents.c.receiver)
    .select_from(incident_alerts.join(incidents, incidents.c.id == incident_alerts.c.incident_id))
    .where(incident_alerts.c.alert_id == alerts.c.id)
)


def _alert_conditions(q: AlertQuery) -> list[ColumnElement[bool]]:
    """What the indexes serve. Firing alerts are few (what fires now), so with status
    firing the firing index leads: the other columns are compared as expressions, which
    no index serves, or SQLite walked every critical alert to find the firing ones."""
    conditions: list[ColumnElement[bool]] = []
    if q.status:
        conditions.append(alerts.c.status == q.status)
    for name, value in (("alertname", q.alertname), ("severity", q.severity)):
        if value:
            column = alerts.c[name]
            indexed = column + "" if q.status == "firing" else column
            conditions.append(indexed == value[:INDEXED_LABEL_CHARS])
    if q.since:
        conditions.append(alerts.c.starts_at >= q.since)
    if q.until:
        conditions.append(alerts.c.starts_at < q.until)
    return conditions


def _alert_checks(q: AlertQuery) -> ColumnElement[bool] | None:
    """What no index serves (receiver, free text): checked in SQL on each row scanned,
    within the scan budget, so a filter that matches little cannot walk the history."""
    checks: list[ColumnElement[bool]] = []
    if q.receiver:
        checks.append(literal(q.receiver).in_(_RECEIVERS_OF_ALERT))
    if q.text:
        pattern = _like(q.text)
        checks.append(
            or_(
                func.lower(cast(alerts.c.labels, String)).like(pattern, escape="\\"),
                func.lower(cast(alerts.c.annotations, String)).like(pattern, escape="\\"),
            )
        )
    return and_(*checks) if checks else None


async def list_alerts(
    conn: AsyncConnection, q: AlertQuery, limit: int, after: Position | None
) -> Page:
    exact = [
        Matcher(name, "=", value)
        for name, value in (("alertname", q.alertname), ("severity", q.severity))
        if value and len(value) >= INDEXED_LABEL_CHARS  # the indexed copy is cut short
    ]
    return await _scan(conn, alerts_of(q), alerts, "starts_at", limit, after, [*q.matchers, *exact])


def alerts_of(q: AlertQuery) -> Select[Any]:
    base = select(alerts).where(*_alert_conditions(q))
    check = _alert_checks(q)
    return base if check is None else base.add_columns(check.label(PASSED))


async def list_incidents(
    conn: AsyncConnection,
    status: str | None,
    receiver: str | None,
    limit: int,
    after: Position | None,
) -> Page:
    return await _scan(
        conn, incidents_of(status, receiver), incidents, "opened_at", limit, after, []
    )


def incidents_of(status: str | None, receiver: str | None) -> Select[Any]:
    base = select(incidents)
    if status:
        base = base.where(incidents.c.status == status)
    if status and status != "resolved":  # implied; lets the planner take the partial index
        base = base.where(incidents.c.status != "resolved")
    if receiver:
        base = base.where(incidents.c.receiver == receiver)
    return base


def newest_first(
    base: Select[Any], table: Table, time_name: str, after: Position | None, limit: int
) -> Select[Any]:
    """One chunk of a list: the statement every list runs (and the plan tests check)."""
    time_col, id_col = table.c[time_name], table.c.id
    return (
        base.where(_before(time_col, id_col, after))
        .order_by(time_col.desc(), id_col.desc())
        .limit(limit)
    )


async def _scan(
    conn: AsyncConnection,
    base: Select[Any],
    table: Table,
    time_name: str,
    limit: int,
    after: Position | None,
    matchers: list[Matcher],
) -> Page:
    """The page after `after`. Rows must also pass the column PASSED when `base` selects
    it (a check in SQL) and the label matchers (in Python); then at most SCAN_BUDGET rows
    are scanned, reading only what the checks need, and the page's rows are read after."""
    check = PASSED in base.selected_columns
    if not (check or matchers):
        rows = (await conn.execute(newest_first(base, table, time_name, after, limit + 1))).all()
        if len(rows) <= limit:
            return Page(list(rows), None)
        return Page(
            list(rows[:limit]), Position(rows[limit - 1]._mapping[time_name], rows[limit - 1].id)
        )
    time_col, id_col = table.c[time_name], table.c.id
    needed = [base.selected_columns[PASSED]] if check else []
    window = base.with_only_columns(
        time_col, id_col, *needed, *([table.c.labels] if matchers else [])
    )
    found: list[Row[Any]] = []
    scanned = 0
    chunk = max(_CHUNK, limit + 1)
    while True:
        rows = (await conn.execute(newest_first(window, table, time_name, after, chunk))).all()
        scanned += len(rows)
        for row in rows:
            if check and not row.passed:
                continue
            if matchers and not matches_all(matchers, row.labels):
                continue
            if len(found) == limit:
                last = found[-1]
                return await _rows_of(conn, base, table, found, Position(last[0], last.id))
            found.append(row)
        if len(rows) < chunk:
            return await _rows_of(conn, base, table, found, None)
        last_scanned = rows[-1]
        after = Position(last_scanned[0], last_scanned.id)
        if scanned >= SCAN_BUDGET:
            return await _rows_of(conn, base, table, found, after)


async def _rows_of(
    conn: AsyncConnection,
    base: Select[Any],
    table: Table,
    keys: list[Row[Any]],
    after: Position | None,
) -> Page:
    """The whole rows of a scanned page, newest first."""
    if not keys:
        return Page([], after)
    by_id = {
        row.id: row for row in await conn.execute(base.where(table.c.id.in_([k.id for k in keys])))
    }
    return Page([by_id[k.id] for k in keys], after)


async def get_alert(conn: AsyncConnection, alert_id: int) -> Row[Any] | None:
    return (await conn.execute(select(alerts).where(alerts.c.id == alert_id))).first()


async def get_incident(conn: AsyncConnection, incident_id: int) -> Row[Any] | None:
    return (await conn.execute(select(incidents).where(incidents.c.id == incident_id))).first()


# The condition of uq_incidents_open_group, so the count walks that partial index: its
# cost follows the open incidents, not the history.
OPEN_INCIDENTS = select(func.count()).where(incidents.c.status != "resolved")


async def open_incidents(conn: AsyncConnection) -> int:
    """Incidents not resolved yet (open or acknowledged), across every replica."""
    return (await conn.execute(OPEN_INCIDENTS)).scalar_one()


async def alert_events(conn: AsyncConnection, alert_id: int) -> Sequence[Row[Any]]:
    return (
        await conn.execute(
            select(events).where(events.c.alert_id == alert_id).order_by(events.c.id)
        )
    ).all()


async def incident_actions_of(conn: AsyncConnection, incident_id: int) -> Sequence[Row[Any]]:
    """What people did to the incident (kind, by, at, text), oldest first."""
    return (
        await conn.execute(
            select(incident_actions)
            .where(incident_actions.c.incident_id == incident_id)
            .order_by(incident_actions.c.id)
        )
    ).all()


async def incident_ids_of(conn: AsyncConnection, alert_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    if alert_ids:
        rows = await conn.execute(
            select(incident_alerts.c.alert_id, incident_alerts.c.incident_id)
            .where(incident_alerts.c.alert_id.in_(alert_ids))
            .order_by(incident_alerts.c.incident_id)
        )
        for alert_id, incident_id in rows:
            found[alert_id].append(incident_id)
    return found


async def _counts_by_status(
    conn: AsyncConnection,
    incident_ids: list[int],
    incident_col: Any,
    status_col: Any,
    joined: Any,
    zero: tuple[str, ...] = (),
) -> dict[int, dict[str, int]]:
    """Per incident, how many rows of each status (alerts, notifications)."""
    counts: dict[int, dict[str, int]] = {i: dict.fromkeys(zero, 0) for i in incident_ids}
    if incident_ids:
        rows = await conn.execute(
            select(incident_col, status_col, func.count())
            .select_from(joined)
            .where(incident_col.in_(incident_ids))
            .group_by(incident_col, status_col)
        )
        for incident_id, status, n in rows:
            counts[incident_id][status] = n
    return counts


async def alert_counts(conn: AsyncConnection, incident_ids: list[int]) -> dict[int, dict[str, int]]:
    joined = incident_alerts.join(alerts, alerts.c.id == incident_alerts.c.alert_id)
    return await _counts_by_status(
        conn,
        incident_ids,
        incident_alerts.c.incident_id,
        alerts.c.status,
        joined,
        zero=ALERT_STATUSES,
    )


async def incident_alerts_of(
    conn: AsyncConnection, incident_id: int, limit: int | None = None
) -> Sequence[Row[Any]]:
    """Newest first; a page passes a limit, since a group can hold thousands of alerts."""
    return (
        await conn.execute(
            select(alerts)
            .join(incident_alerts, incident_alerts.c.alert_id == alerts.c.id)
            .where(incident_alerts.c.incident_id == incident_id)
            .order_by(alerts.c.starts_at.desc(), alerts.c.id.desc())
            .limit(limit)
        )
    ).all()


_VIEWED_INCIDENTS = select(incidents).where(
    incidents.c.id.in_(bindparam("incidents", expanding=True))
)
_VIEWED_MEMBERS = (
    select(incident_alerts.c.incident_id, alerts)
    .join(incident_alerts, incident_alerts.c.alert_id == alerts.c.id)
    .where(incident_alerts.c.incident_id.in_(bindparam("incidents", expanding=True)))
)


async def incident_views(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, IncidentView]:
    """The incidents as messages show them, each in its current state with every alert.
    The outbox reads those of a whole claim at once: two reads per message were most of
    its render in an alert storm."""
    params = {"incidents": sorted(set(ids))}
    if not params["incidents"]:
        return {}
    members: dict[int, list[AlertView]] = defaultdict(list)
    for m in await conn.execute(_VIEWED_MEMBERS, params):
        members[m.incident_id].append(
            AlertView(
                id=m.id,
                status=m.status,
                labels=m.labels,
                annotations=m.annotations,
                starts_at=m.starts_at,
                ends_at=m.ends_at,
                end_inferred=m.end_inferred,
                generator_url=m.generator_url,
            )
        )
    return {
        row.id: IncidentView(
            id=row.id,
            status=row.status,
            receiver=row.receiver,
            group_labels=row.group_labels,
            common_labels=row.common_labels,
            alertmanager_url=row.external_url,
            opened_at=row.opened_at,
            resolved_at=row.resolved_at,
            alerts=sorted(members[row.id], key=lambda a: (a.starts_at, a.id)),
            resolved_by=row.resolved_by,
        )
        for row in await conn.execute(_VIEWED_INCIDENTS, params)
    }


async def list_notifications(
    conn: AsyncConnection,
    incident_id: int | None,
    channel: str | None,
    status: str | None,
    limit: int,
    after: Position | None,
) -> Page:
    base = notifications_of(incident_id, channel, status)
    return await _scan(conn, base, notifications, "created_at", limit, after, [])


def notifications_of(
    incident_id: int | None, channel: str | None, status: str | None
) -> Select[Any]:
    base = select(notifications)
    if incident_id is not None:
        base = base.where(notifications.c.incident_id == incident_id)
    if channel:
        base = base.where(notifications.c.channel == channel)
    if status:
        base = base.where(notifications.c.status == status)
    return base


async def attempts_of(conn: AsyncConnection, ids: list[int]) -> dict[int, list[Row[Any]]]:
    found: dict[int, list[Row[Any]]] = defaultdict(list)
    if ids:
        rows = await conn.execute(
            select(notification_attempts)
            .where(notification_attempts.c.notification_id.in_(ids))
            .order_by(notification_attempts.c.id)
        )
        for row in rows:
            found[row.notification_id].append(row)
    return found


@dataclass(frozen=True)
class ChannelActivity:
    """What the delivery log says about one channel, for the channels page."""

    last_outcome: str | None = None  # delivered | failed | timeout; None: never tried
    last_at: datetime | None = None  # when that attempt started
    failures: int = 0  # failed or timed-out attempts since the time asked about


def _failures_since(channels: list[str], since: datetime) -> Select[Any]:
    """Failed attempts per channel since `since`: a range of the partial index of failed
    attempts by (channel, started_at) per channel, so only the rows counted are read."""
    attempt = notification_attempts.c
    return (
        select(attempt.channel, func.count())
        .where(UNDELIVERED, attempt.channel.in_(channels), attempt.started_at >= since)
        .group_by(attempt.channel)
    )


def _last_attempt(channel: str) -> Select[Any]:
    """The last attempt of the channel's newest notification that has one: a walk back
    along (channel, id) with an index lookup per step, which stops at the first hit."""
    attempt = notification_attempts.c
    newest = (
        select(notifications.c.id)
        .where(
            notifications.c.channel == channel,
            exists().where(attempt.notification_id == notifications.c.id),
        )
        .order_by(notifications.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(attempt.outcome, attempt.started_at)
        .where(attempt.notification_id == newest)
        .order_by(attempt.id.desc())
        .limit(1)
    )


async def channel_activity(
    conn: AsyncConnection, channels: list[str], since: datetime
) -> dict[str, ChannelActivity]:
    """Per channel, its last outcome and its failed attempts since `since`: one short
    indexed query per channel and one for all the failures, so the cost follows the
    channels and their recent failures, not the length of the history."""
    failures: dict[str, int] = {}
    if channels:
        failures = dict((await conn.execute(_failures_since(channels, since))).all())
    found: dict[str, ChannelActivity] = {}
    for channel in channels:
        last = (await conn.execute(_last_attempt(channel))).first()
        found[channel] = ChannelActivity(
            last.outcome if last else None,
            last.started_at if last else None,
            failures.get(channel, 0),
        )
    return found


async def notification_counts(
    conn: AsyncConnection, incident_ids: list[int]
) -> dict[int, dict[str, int]]:
    return await _counts_by_status(
        conn, incident_ids, notifications.c.incident_id, notifications.c.status, notifications
    )


def _label(name: str) -> ColumnElement[Any]:
    """A label's value; alertname and severity from their indexed copies unless cut short."""
    value: ColumnElement[Any] = alerts.c.labels[name].as_string()
    if name not in ("alertname", "severity"):
        return value
    column = alerts.c[name]
    return case((func.length(column) < INDEXED_LABEL_CHARS, column), else_=value)


def _seconds_to_resolve(dialect: str) -> ColumnElement[Any]:
    """Whole seconds from start to end, cut to what format_duration shows (seconds under
    a minute, minutes under a day, then hours), so groups stay few: NULL while firing."""
    if dialect == "sqlite":
        span = (func.julianday(alerts.c.ends_at) - func.julianday(alerts.c.starts_at)) * 86400
        # julianday is a float of days: 12 minutes come back as 719.99999 seconds
        seconds: ColumnElement[Any] = cast(func.round(span, 3), Integer)  # truncates
    else:
        span = func.extract("epoch", alerts.c.ends_at - alerts.c.starts_at)
        seconds = cast(func.floor(span), BigInteger)
    return case(
        (seconds < 60, seconds),
        (seconds < 86400, seconds // 60 * 60),
        else_=seconds // 3600 * 3600,
    )


async def newest_alert_groups(
    conn: AsyncConnection, since: datetime, label_names: list[str], budget: int
) -> tuple[list[tuple[dict[str, str], timedelta | None, int]], datetime | None]:
    """The newest `budget` alerts started since `since`, counted per (those labels, time
    to resolve), and the start of the oldest of them when the budget cut the walk short
    (else None): a month holds a million alerts, and reading each one's labels took
    seconds; walking the (starts_at, id) index from its end stops after `budget`."""
    labels = [_label(name).label(f"l{i}") for i, name in enumerate(label_names)]
    newest = (
        select(alerts.c.starts_at, *labels, _seconds_to_resolve(conn.dialect.name).label("s"))
        .where(alerts.c.starts_at >= since)
        .order_by(alerts.c.starts_at.desc(), alerts.c.id.desc())
        .limit(budget)
        .subquery()
    )
    keys = [newest.c[f"l{i}"] for i in range(len(label_names))] + [newest.c.s]
    rows = (
        await conn.execute(
            select(*keys, func.count(), func.min(newest.c.starts_at)).group_by(*keys)
        )
    ).all()
    groups = [
        (
            {n: v for n, v in zip(label_names, row[:-3], strict=True) if v is not None},
            None if row[-3] is None else timedelta(seconds=row[-3]),
            row[-2],
        )
        for row in rows
    ]
    walked = sum(n for _, _, n in groups)
    return groups, min(row[-1] for row in rows) if walked == budget else None


Keys = tuple[dict[str, str], dict[str, str]]
"""An alert's labels and annotations, cut to what picks its runbooks and severity."""


@dataclass(frozen=True)
class Members:
    """What lists of incidents show of their alerts, from one read."""

    counts: dict[int, dict[str, int]]  # per incident, its alerts by status
    keys: dict[int, list[Keys]]  # per incident, the distinct Keys of its alerts


async def members_of(
    conn: AsyncConnection, incident_ids: list[int], label_names: Iterable[str]
) -> Members:
    """Per incident, its alerts counted by status, and the distinct (labels, annotations)
    of its alerts cut to the `label_names` runbook matchers read (a label left out
    matches as empty, as it does when absent) and to the runbook annotations.

    One join over the incidents' alerts, grouped in SQL: an incident of a thousand alerts
    that differ only by instance comes back as one row or two. At 300 open incidents
    (3,500 alerts) the home page read whole label documents, and walked the same alerts
    a second time for their counts."""
    counts = {i: dict.fromkeys(ALERT_STATUSES, 0) for i in incident_ids}
    keys: dict[int, list[Keys]] = defaultdict(list)
    if not incident_ids:
        return Members(counts, keys)
    names = sorted(set(label_names))
    cut = [_label(n) for n in names] + [
        alerts.c.annotations[n].as_string() for n in RUNBOOK_ANNOTATIONS
    ]
    rows = await conn.execute(
        select(incident_alerts.c.incident_id, alerts.c.status, func.count(), *cut)
        .join(alerts, alerts.c.id == incident_alerts.c.alert_id)
        .where(incident_alerts.c.incident_id.in_(incident_ids))
        .group_by(incident_alerts.c.incident_id, alerts.c.status, *cut)
    )
    seen: set[tuple[Any, ...]] = set()
    for incident_id, status, n, *values in rows:
        counts[incident_id][status] += n
        if (incident_id, *values) in seen:  # the same cut, firing and resolved
            continue
        seen.add((incident_id, *values))
        labels = zip(names, values[: len(names)], strict=True)
        notes = zip(RUNBOOK_ANNOTATIONS, values[len(names) :], strict=True)
        keys[incident_id].append(
            (
                {k: v for k, v in labels if v is not None},
                {k: v for k, v in notes if v is not None},
            )
        )
    return Members(counts, keys)


async def unresolved_incidents(conn: AsyncConnection, limit: int) -> Sequence[Row[Any]]:
    """Open and acknowledged incidents, at most `limit`, in no order. The condition is
    that of the partial index uq_incidents_open_group, so the cost follows the open
    incidents only; an ORDER BY opened_at would have SQLite walk every incident in that
    order instead, and the caller sorts by urgency anyway."""
    return (
        await conn.execute(select(incidents).where(incidents.c.status != "resolved").limit(limit))
    ).all()


async def recently_resolved(conn: AsyncConnection, limit: int) -> Sequence[Row[Any]]:
    """The last incidents to resolve, latest first, on the partial index of resolution
    times (only resolved incidents are in it, so an alert storm's open ones cost
    nothing here)."""
    return (
        await conn.execute(
            select(incidents)
            .where(incidents.c.resolved_at.is_not(None))
            .order_by(incidents.c.resolved_at.desc(), incidents.c.id.desc())
            .limit(limit)
        )
    ).all()


async def failed_notifications_since(conn: AsyncConnection, since: datetime) -> int:
    """Notifications that gave up, due since `since` (a failed row keeps the due time of
    its last attempt), on the (status, due_at) index."""
    return (
        await conn.execute(
            select(func.count()).where(
                notifications.c.status == "failed", notifications.c.due_at >= since
            )
        )
    ).scalar_one()


async def episodes_of(conn: AsyncConnection, fingerprint: str, limit: int) -> Sequence[Row[Any]]:
    """The episodes of one fingerprint (its flap history), newest first, on the unique
    (fingerprint, starts_at) index."""
    return (
        await conn.execute(
            select(alerts)
            .where(alerts.c.fingerprint == fingerprint)
            .order_by(alerts.c.starts_at.desc(), alerts.c.id.desc())
            .limit(limit)
        )
    ).all()


async def incident_events(
    conn: AsyncConnection, incident_id: int, limit: int
) -> Sequence[Row[Any]]:
    """The events of an incident's alerts with each alert's name, oldest first, at most
    `limit` of them."""
    return (
        await conn.execute(
            select(events, alerts.c.alertname)
            .join(incident_alerts, incident_alerts.c.alert_id == events.c.alert_id)
            .join(alerts, alerts.c.id == events.c.alert_id)
            .where(incident_alerts.c.incident_id == incident_id)
            .order_by(events.c.at, events.c.id)
            .limit(limit)
        )
    ).all()


async def incidents_by_id(conn: AsyncConnection, ids: list[int]) -> Sequence[Row[Any]]:
    if not ids:
        return []
    return (
        await conn.execute(
            select(incidents).where(incidents.c.id.in_(ids)).order_by(incidents.c.id)
        )
    ).all()
