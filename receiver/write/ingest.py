"""Webhooks into the database: load what is known, decide, write, update incidents, and
queue the notifications those changes call for (so they are never lost, never twice).

The writer hands over every webhook that queued up meanwhile, in arrival order, in one
transaction (group commit). Runs of plain webhooks (alerts that fire, repeat or resolve)
are written set-based by receiver.write.routine; any other webhook goes through the general
path here, on its own. Either way the result is what running each webhook alone in turn
would give. Decisions live in receiver.domain; this module moves data between them and
the repositories in receiver.store.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from receiver.domain import incidents as rules
from receiver.domain.actions import lifts_acknowledgement
from receiver.domain.lifecycle import FIRING, Delivered, Episode, apply_webhook, may_be_plain
from receiver.domain.routing import Route
from receiver.domain.wire import Webhook
from receiver.observe import QUIET, Observer
from receiver.store import episodes, incidents
from receiver.store.engine import LockName, Writer
from receiver.store.episodes import Receipt
from receiver.write.changes import queue_changes
from receiver.write.received import Received, Summary
from receiver.write.routine import Run


async def ingest(
    writer: Writer,
    hook: Webhook,
    received_at: datetime,
    routes: list[Route],
    observer: Observer = QUIET,
) -> Summary:
    """Store one webhook; answer after the COMMIT that holds it."""
    locks: list[LockName] = [("group", hook.receiver, hook.group_key)]
    locks += [("alert", a.fingerprint) for a in hook.alerts]
    summary = await writer.run_batched(locks, ingest_batch, Received(hook, received_at, routes))
    observer.alerts_received(summary.counts)
    return summary


def ingest_batch(conn: Connection, items: list[Received]) -> list[Summary]:
    """Webhooks in arrival order, with the same result as one transaction each."""
    summaries: list[Summary] = []
    start = 0
    while start < len(items):
        end = start
        while end < len(items) and may_be_plain(items[end].hook.alerts):
            end += 1
        if end == start:  # empty, or an episode twice: never plain, nothing to load for it
            summaries.append(ingest_alone(conn, items[start]))
            start += 1
            continue
        run = Run(conn, items[start:end])
        taken = start
        while taken < end and run.take(items[taken]):
            taken += 1
        if taken > start:
            summaries += run.write(conn)
        if taken < end:  # not plain after all (a stale copy, an episode replaced)
            summaries.append(ingest_alone(conn, items[taken]))
            taken += 1
        start = taken
    return summaries


def ingest_alone(conn: Connection, item: Received) -> Summary:
    """The general path: any webhook, on its own (the reference the batch path must match)."""
    known = episodes.load(conn, item.hook.alerts)
    delivered = apply_webhook(item.hook.alerts, known, item.at)
    _write_alerts(conn, known, delivered, item.at)
    group = _update_incidents(conn, item, known, delivered)
    queued = queue_changes(conn, group.settled.changes, item.routes, item.at)
    counts = Counter(d.outcome for d in delivered)
    return Summary(counts, group.incident_id, group.settled.status, queued)


def _write_alerts(
    conn: Connection,
    known: dict[str, list[Episode]],
    delivered: list[Delivered],
    received_at: datetime,
) -> None:
    touched = episodes.touched(known)
    receipts = {d.episode: Receipt(received_at, received_at) for d in delivered}
    drafts = [(e, draft, received_at) for e in touched for draft in e.events]
    episodes.write(conn, touched, receipts, drafts)


@dataclass(frozen=True)
class _GroupResult:
    incident_id: int | None  # the group's own incident, if it has one now
    settled: rules.Settled


def _update_incidents(
    conn: Connection,
    item: Received,
    known: dict[str, list[Episode]],
    delivered: list[Delivered],
) -> _GroupResult:
    """The incident steps of receiver.domain.incidents: attach, settle, report."""
    hook = item.hook
    carried = [d.episode for d in delivered if d.carried]
    found = incidents.open_of(conn, item.group)
    own, own_status = found if found else (None, rules.OPEN)
    ids = [e.id for e in carried if e.id is not None]
    if own is not None:
        present = incidents.members_present(conn, own, ids)
    elif not rules.fires(carried):  # late resolutions: not twice into the group's history
        present = incidents.held_by_group(conn, item.group, ids)
    else:
        present = set()
    attached = rules.attach(carried, {e for e in carried if e.id in present})

    latest = incidents.snapshot(hook, item.at)
    if own is not None:
        conn.execute(incidents.REFRESH, incidents.refresh_values(own, 1, latest))
    elif attached:
        own = incidents.open_one(
            conn, incidents.insert_values(item.group, hook, item.at, 1, latest)
        )
    opened = found is None and own is not None
    joined = rules.ids(rules.joining(attached))
    if own is not None:
        incidents.add_members(conn, own, (e.id for e in attached if e.id is not None))
        if lifts_acknowledgement(own_status, joined):
            incidents.lift_acknowledgements(conn, [own], item.at)
            own_status = rules.OPEN

    resolved_now = {e.id for group in known.values() for e in group if e.resolved_now and e.id}
    holding = incidents.open_holding(conn, resolved_now)
    closing = set(holding) - {own}
    truncated = hook.truncated_alerts > 0 and hook.status == FIRING
    if own is not None and rules.may_close(carried, truncated):
        closing.add(own)
    settled = rules.settle(
        own,
        own_status,
        opened,
        joined,
        holding,
        incidents.standings(conn, closing),
    )
    incidents.resolve(conn, settled.resolve)
    return _GroupResult(own, settled)
