"""Heartbeats on the write side: sightings recorded as webhooks carry them, and a
periodic check that raises or resolves the receiver's own incident for each one
(receiver.domain.heartbeats decides; this module moves the data).

The check is safe to run on every replica at once and again after a crash: the
incident's webhook is the same each time (its alert starts when the heartbeat became
overdue), so a second copy is a duplicate, and the overdue mark is cleared only after
the resolution is stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from receiver.domain.heartbeats import Heartbeat, State, Step, judge, overdue_since, webhook
from receiver.domain.routing import Route
from receiver.domain.wire import Webhook
from receiver.observe import QUIET, Observer
from receiver.store import heartbeats as rows
from receiver.store.engine import LockName, Writer
from receiver.write.ingest import ingest

CHECK_AT_MOST = timedelta(seconds=30)
CHECK_AT_LEAST = timedelta(milliseconds=100)


def check_interval(heartbeats: list[Heartbeat]) -> timedelta:
    """A quarter of the shortest timeout, so a missing heartbeat is told within about
    a quarter of its timeout late."""
    if not heartbeats:
        return CHECK_AT_MOST
    shortest = min(hb.timeout for hb in heartbeats)
    return max(CHECK_AT_LEAST, min(CHECK_AT_MOST, shortest / 4))


def _locks(names: list[str]) -> list[LockName]:
    return [("heartbeat", name) for name in names]


async def record(writer: Writer, names: list[str], at: datetime) -> None:
    await writer.run(_locks(names), lambda conn: rows.seen(conn, names, at))


async def check(
    writer: Writer,
    heartbeats: list[Heartbeat],
    routes: list[Route],
    now: datetime,
    observer: Observer = QUIET,
) -> int:
    """Judge every heartbeat at `now`; answer how many notifications were queued."""
    if not heartbeats:
        return 0
    names = [hb.name for hb in heartbeats]
    states = await writer.run(_locks(names), lambda conn: rows.states(conn, names, now))
    queued = 0
    for hb in heartbeats:
        state = states[hb.name]
        step = judge(state, hb.timeout, now)
        observer.heartbeat_judged(hb.name, state.last_seen, step is Step.MISSING)
        if step is Step.NOTHING:
            continue
        if state.missing_since is None:
            state = State(state.last_seen, overdue_since(state, hb.timeout))
            await _mark(writer, hb.name, state.missing_since)
        hook = Webhook.model_validate(webhook(hb, state, now))
        # Not reported as received alerts: the receiver wrote them, Alertmanager did not.
        queued += (await ingest(writer, hook, now, routes)).notifications
        if step is Step.RETURNED:
            await _mark(writer, hb.name, None)
    return queued


async def _mark(writer: Writer, name: str, missing_since: datetime | None) -> None:
    await writer.run(_locks([name]), lambda conn: rows.mark(conn, name, missing_since))
