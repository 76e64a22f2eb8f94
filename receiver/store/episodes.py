"""The alert and event rows of ingest: load the episodes a decision needs, write back what
it changed. Statements are built once: constructing one costs more than SQLite takes to
run it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.engine import Connection

from receiver.domain.lifecycle import FIRING, Episode, EventDraft
from receiver.domain.wire import WireAlert
from receiver.store.bulk import insert_ids, insert_many
from receiver.store.insights import count_inserted
from receiver.store.tables import INDEXED_LABEL_CHARS, alerts, events


@dataclass(frozen=True)
class Receipt:
    """How often, and from when to when, one transaction received an episode."""

    first: datetime
    last: datetime
    count: int = 1

    def again(self, at: datetime) -> Receipt:
        return Receipt(self.first, at, self.count + 1)


_LOAD = (
    select(
        alerts.c.id,
        alerts.c.fingerprint,
        alerts.c.starts_at,
        alerts.c.status,
        alerts.c.ends_at,
        alerts.c.end_inferred,
        alerts.c.annotations,
    )
    .where(alerts.c.fingerprint.in_(bindparam("fingerprints", expanding=True)))
    .where(or_(alerts.c.status == FIRING, alerts.c.starts_at >= bindparam("oldest")))
    .order_by(alerts.c.id)
)
_UPDATE_STATE = (
    update(alerts)
    .where(alerts.c.id == bindparam("episode_id"))
    .values(
        status=bindparam("new_status"),
        ends_at=bindparam("new_ends_at"),
        end_inferred=bindparam("new_end_inferred"),
        annotations=bindparam("new_annotations"),
    )
)
_COUNT_DELIVERIES = (
    update(alerts)
    .where(alerts.c.id == bindparam("episode_id"))
    .values(
        times_received=alerts.c.times_received + bindparam("deliveries"),
        last_received_at=bindparam("received_at"),
    )
)


def load(conn: Connection, delivered: Iterable[WireAlert]) -> dict[str, list[Episode]]:
    """Every episode a decision may need: the firing ones, and any at or after the oldest
    start delivered (resolved history older than that cannot matter)."""
    delivered = list(delivered)
    if not delivered:
        return {}
    oldest = min(a.start for a in delivered)
    fingerprints = sorted({a.fingerprint for a in delivered})
    rows = conn.execute(_LOAD, {"fingerprints": fingerprints, "oldest": oldest})
    known: dict[str, list[Episode]] = {}
    for row in rows:
        known.setdefault(row.fingerprint, []).append(Episode(**row._mapping))
    return known


def touched(known: dict[str, list[Episode]]) -> list[Episode]:
    return [e for group in known.values() for e in group if e.id is None or e.dirty]


def write(
    conn: Connection,
    episodes: list[Episode],
    receipts: dict[Episode, Receipt],
    drafts: list[tuple[Episode, EventDraft, datetime]],
) -> None:
    """Insert the new episodes (which get their ids, and are counted into the hourly
    rollup in the same transaction), update the changed ones, count the
    deliveries of stored ones, and record the events, each with when it was received."""
    new = [e for e in episodes if e.id is None]
    if new:
        values = [_insert_values(e, receipts[e]) for e in new]
        ids = insert_ids(conn, alerts, values)
        count_inserted(conn, values)
        for episode, inserted_id in zip(new, ids, strict=True):
            episode.id = inserted_id
    inserted = set(new)
    changed = [
        {
            "episode_id": e.id,
            "new_status": e.status,
            "new_ends_at": e.ends_at,
            "new_end_inferred": e.end_inferred,
            "new_annotations": e.annotations,
        }
        for e in episodes
        if e.dirty and e not in inserted
    ]
    if changed:
        conn.execute(_UPDATE_STATE, changed)
    counted = [
        {"episode_id": e.id, "deliveries": r.count, "received_at": r.last}
        for e, r in receipts.items()
        if e not in inserted
    ]
    if counted:
        conn.execute(_COUNT_DELIVERIES, counted)
    rows = [
        {
            "alert_id": e.id,
            "kind": draft.kind,
            "at": draft.at,
            "inferred": draft.inferred,
            "received_at": received_at,
            "details": draft.details,
        }
        for e, draft, received_at in drafts
    ]
    insert_many(conn, events, rows)


def _insert_values(episode: Episode, receipt: Receipt) -> dict[str, Any]:
    labels = episode.labels
    assert labels is not None  # a new episode always carries them
    return {
        "fingerprint": episode.fingerprint,
        "starts_at": episode.starts_at,
        "ends_at": episode.ends_at,
        "end_inferred": episode.end_inferred,
        "status": episode.status,
        "alertname": labels.get("alertname", "")[:INDEXED_LABEL_CHARS],
        "severity": labels.get("severity", "")[:INDEXED_LABEL_CHARS],
        "labels": labels,
        "annotations": episode.annotations,
        "generator_url": episode.generator_url,
        "times_received": receipt.count,
        "first_received_at": receipt.first,
        "last_received_at": receipt.last,
    }
