"""The outbox: notifications decided at ingest (this module only stores what the write
path decided), claimed by a sender, finished with a log.

Claims use `FOR UPDATE SKIP LOCKED` on Postgres, so replicas never claim the same row; on
SQLite the writer is exclusive anyway. A claim is a lease: a replica that dies mid-send
leaves a row whose lease runs out, and any replica takes it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import Connection

from receiver.domain.change import Change
from receiver.domain.routing import Planned
from receiver.store.bulk import insert_many
from receiver.store.tables import notification_attempts, notifications

PENDING, SENDING, DELIVERED, FAILED, SUPERSEDED = (
    "pending",
    "sending",
    "delivered",
    "failed",
    "superseded",
)


def rows(
    incident_id: int, kind: str, change: Change, planned: list[Planned], now: datetime
) -> list[dict[str, Any]]:
    """The outbox rows of one incident change (or reminder), one per planned channel."""
    return [_row(incident_id, p.channel, p.route_index, kind, change, now) for p in planned]


def queue(conn: Connection, queued: list[dict[str, Any]]) -> int:
    insert_many(conn, notifications, queued)
    return len(queued)


def _row(
    incident_id: int,
    channel: str,
    route_index: int | None,
    kind: str,
    change: Change,
    now: datetime,
    fallback_of: int | None = None,
) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "channel": channel,
        "route_index": route_index,
        "kind": kind,
        "change": change.as_json(),
        "status": PENDING,
        "created_at": now,
        "due_at": now,
        "fallback_of": fallback_of,
    }


def last_sent(conn: Connection, incident_ids: list[int]) -> dict[int, dict[str, datetime]]:
    """Per incident and channel, when the newest notification was queued."""
    found: dict[int, dict[str, datetime]] = {}
    if incident_ids:
        rows = conn.execute(
            select(
                notifications.c.incident_id,
                notifications.c.channel,
                func.max(notifications.c.created_at),
            )
            .where(notifications.c.incident_id.in_(incident_ids))
            .group_by(notifications.c.incident_id, notifications.c.channel)
        )
        for incident_id, channel, newest in rows:
            found.setdefault(incident_id, {})[channel] = newest
    return found


@dataclass(frozen=True)
class Claimed:
    id: int
    incident_id: int
    channel: str
    route_index: int | None
    kind: str
    change: Change
    attempts: int
    created_at: datetime
    replica: str
    lease_until: datetime  # with `replica`, the fence: this claim's writes match only it


def _walk(due: Any, skipping: bool) -> Any:
    """One walk of the (status, due_at) index for a claim, from the oldest due row.

    The pairs being sent now are a subquery that does not depend on the row (NOT IN, not
    NOT EXISTS), so it runs once per claim: as a correlated NOT EXISTS, Postgres's
    generic plan, made while a new table was nearly empty, looked the pairs up once per
    due row, and a storm of 2,000 took 0.4 s a claim (bench/outbox.py, docs/profile.md).
    Both columns are NOT NULL, so NOT IN means what NOT EXISTS meant."""
    sending_now = notifications.alias("sending_now")
    busy_pairs = select(sending_now.c.incident_id, sending_now.c.channel).where(
        sending_now.c.status == SENDING, sending_now.c.claimed_until >= bindparam("now")
    )
    query = (
        select(notifications.c.due_at, notifications.c.id)
        .where(due, tuple_(notifications.c.incident_id, notifications.c.channel).not_in(busy_pairs))
        .order_by(notifications.c.due_at, notifications.c.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True, of=notifications)
    )
    if skipping:
        query = query.where(notifications.c.channel.not_in(bindparam("skip", expanding=True)))
    return query


# The claim's statements, built once: a storm claims once per finished send, and building
# them anew each time cost the writer more than running them.
_DUE = and_(notifications.c.status == PENDING, notifications.c.due_at <= bindparam("now"))
_EXPIRED = and_(notifications.c.status == SENDING, notifications.c.claimed_until < bindparam("now"))
_WALKS = {
    skipping: [_walk(_DUE, skipping), _walk(_EXPIRED, skipping)] for skipping in (False, True)
}
_CLAIMED_ROWS = select(notifications).where(
    notifications.c.id.in_(bindparam("ids", expanding=True))
)
_TAKE = (
    update(notifications)
    .where(notifications.c.id == bindparam("row"))
    .values(
        status=SENDING,
        claimed_by=bindparam("by"),
        claimed_until=bindparam("until"),
        change=bindparam("folded", type_=notifications.c.change.type),
    )
)
_PILE = select(notifications.c.id, notifications.c.change).where(
    notifications.c.incident_id == bindparam("incident"),
    notifications.c.channel == bindparam("channel"),
    notifications.c.id != bindparam("keep"),
    or_(notifications.c.status == PENDING, _EXPIRED),
)
_SUPERSEDE = (
    update(notifications)
    .where(notifications.c.id.in_(bindparam("ids", expanding=True)))
    .values(status=SUPERSEDED, superseded_by=bindparam("keep"), claimed_by=None, claimed_until=None)
)


def claim(
    conn: Connection,
    now: datetime,
    limit: int,
    lease: timedelta,
    replica: str,
    skip_channels: set[str],
) -> list[Claimed]:
    """Take due notifications (and expired leases); fold piled-up ones into the newest.

    Due rows and expired leases are two walks of the (status, due_at) index, each
    stopping at `limit`: one query with the OR of both sorted every pending row first
    (1.6 ms a claim with 2,000 queued, and a storm claims once per finished send)."""
    found: list[tuple[datetime, int]] = []
    params = {"now": now, "limit": limit, "skip": sorted(skip_channels)}
    for walk in _WALKS[bool(skip_channels)]:
        found.extend(tuple(row) for row in conn.execute(walk, params))
    ids = [notification_id for _, notification_id in sorted(found)[:limit]]
    if not ids:
        return []
    rows = conn.execute(_CLAIMED_ROWS, {"ids": ids}).all()
    newest: dict[tuple[int, str], Any] = {}
    for row in sorted(rows, key=lambda r: r.id):
        newest[(row.incident_id, row.channel)] = row
    claimed = []
    for (incident_id, channel), row in newest.items():
        change = _fold_pile(conn, row, incident_id, channel, now)
        conn.execute(
            _TAKE,
            {"row": row.id, "by": replica, "until": now + lease, "folded": change.as_json()},
        )
        claimed.append(
            Claimed(
                row.id,
                incident_id,
                channel,
                row.route_index,
                row.kind,
                change,
                row.attempts,
                row.created_at,
                replica,
                now + lease,
            )
        )
    return claimed


def _fold_pile(
    conn: Connection, keep: Any, incident_id: int, channel: str, now: datetime
) -> Change:
    """Undelivered other notifications of the same incident and channel become one: the
    pending ones and those whose sender's lease ran out (no live sender: see `claim`)."""
    params = {"incident": incident_id, "channel": channel, "keep": keep.id, "now": now}
    pile = conn.execute(_PILE, params).all()
    change = Change.from_json(keep.change)
    if not pile:
        return change
    for row in pile:
        change = Change.from_json(row.change).merge(change)
    conn.execute(_SUPERSEDE, {"ids": [row.id for row in pile], "keep": keep.id})
    return change


@dataclass(frozen=True)
class Attempt:
    started_at: datetime
    seconds: float
    outcome: str  # delivered | failed | timeout
    error: str | None
    services: list[dict[str, Any]]
    title: str
    body: str


def finish(
    conn: Connection,
    claimed: Claimed,
    attempt: Attempt,
    replica: str,
    retry_at: datetime | None,
    fallback: str | None,
) -> bool:
    """Log the attempt, then: delivered; or pending again at `retry_at`; or failed, with
    the route's fallback channel queued. Only while the claim still holds the row: a
    sender that finishes after its lease ran out (and another replica took the row over,
    or folded it into a newer one) logs its attempt and changes nothing else. Answers
    whether the claim still held."""
    conn.execute(
        _ATTEMPT,
        {
            "notification_id": claimed.id,
            "channel": claimed.channel,
            "started_at": attempt.started_at,
            "seconds": attempt.seconds,
            "outcome": attempt.outcome,
            "error": attempt.error,
            "services": attempt.services,
            "replica": replica,
        },
    )
    if attempt.outcome == DELIVERED:
        status = DELIVERED
    else:
        status = PENDING if retry_at is not None else FAILED
    params = {
        **_fence(claimed),
        "sent_title": attempt.title,
        "sent_body": attempt.body,
        "error": attempt.error,
        "at": attempt.started_at,
        "retry_at": retry_at,
    }
    fenced = conn.execute(_FINISH[status], params)
    if fenced.rowcount == 0:
        return False  # the lease ran out and another claim owns the row now
    if status == FAILED and fallback is not None:
        now = attempt.started_at
        row = _row(
            claimed.incident_id,
            fallback,
            claimed.route_index,
            "fallback",
            claimed.change,
            now,
            fallback_of=claimed.id,
        )
        conn.execute(insert(notifications), row)
    return True


_HELD = and_(
    notifications.c.id == bindparam("row"),
    notifications.c.status == SENDING,
    notifications.c.claimed_by == bindparam("by"),
    notifications.c.claimed_until == bindparam("until"),
)
"""The row, as long as the claim of `_fence` holds it."""


def _fence(claimed: Claimed) -> dict[str, Any]:
    return {"row": claimed.id, "by": claimed.replica, "until": claimed.lease_until}


_ATTEMPT = insert(notification_attempts)
_AFTER_ATTEMPT = {
    "attempts": notifications.c.attempts + 1,
    "claimed_by": None,
    "claimed_until": None,
    "title": bindparam("sent_title"),
    "body": bindparam("sent_body"),
    "last_error": bindparam("error"),
}
_THEN: dict[str, dict[str, Any]] = {
    DELIVERED: {"status": DELIVERED, "delivered_at": bindparam("at")},
    PENDING: {"status": PENDING, "due_at": bindparam("retry_at")},
    FAILED: {"status": FAILED},
}
_FINISH = {
    status: update(notifications).where(_HELD).values(**_AFTER_ATTEMPT, **then)
    for status, then in _THEN.items()
}
_RELEASE = (
    update(notifications)
    .where(_HELD)
    .values(status=PENDING, due_at=bindparam("due"), claimed_by=None, claimed_until=None)
)


def release(conn: Connection, claims: list[Claimed], due_at: datetime) -> None:
    """Hand claimed rows back without an attempt (shutdown, or a breaker still probing);
    a row another claim took over meanwhile stays as it is."""
    for claimed in claims:
        conn.execute(_RELEASE, {**_fence(claimed), "due": due_at})


def retry(conn: Connection, notification_id: int, now: datetime) -> str | None:
    """Re-queue a failed notification; answers its status before, or None if unknown."""
    status: str | None = conn.scalar(
        select(notifications.c.status).where(notifications.c.id == notification_id)
    )
    if status == FAILED:
        conn.execute(
            update(notifications)
            .where(notifications.c.id == notification_id)
            .values(status=PENDING, due_at=now, attempts=0)
        )
    return status


def depth(conn: Connection) -> tuple[int, datetime | None]:
    """How many notifications wait to be sent (pending or being sent), and when the
    oldest of them was queued."""
    count, oldest = conn.execute(
        select(func.count(), func.min(notifications.c.created_at)).where(
            notifications.c.status.in_((PENDING, SENDING))
        )
    ).one()
    return int(count), oldest
