"""The heartbeats table: last sighting and overdue mark per heartbeat name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from receiver.domain.heartbeats import State
from receiver.store.tables import heartbeats


def states(conn: Connection, names: list[str], now: datetime) -> dict[str, State]:
    """Each name's state; a heartbeat seen for the first time counts as seen now, so a
    newly configured one gets its whole timeout before it can be missing. Callers hold
    the names' locks (receiver.write.heartbeats), so two replicas cannot both insert."""
    rows = conn.execute(
        select(heartbeats.c.name, heartbeats.c.last_seen_at, heartbeats.c.missing_since).where(
            heartbeats.c.name.in_(names)
        )
    ).all()
    found = {row.name: State(row.last_seen_at, row.missing_since) for row in rows}
    new = [name for name in names if name not in found]
    if new:
        conn.execute(insert(heartbeats), [{"name": name, "last_seen_at": now} for name in new])
        found.update({name: State(now) for name in new})
    return found


def seen(conn: Connection, names: list[str], at: datetime) -> None:
    states(conn, names, at)
    conn.execute(
        update(heartbeats)
        .where(heartbeats.c.name.in_(names), heartbeats.c.last_seen_at < at)
        .values(last_seen_at=at)
    )


def mark(conn: Connection, name: str, missing_since: datetime | None) -> None:
    conn.execute(
        update(heartbeats).where(heartbeats.c.name == name).values(missing_since=missing_since)
    )
