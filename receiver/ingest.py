"""Webhooks into the database: load what is known, decide, write, update incidents, and
queue the notifications those changes call for (so they are never lost, never twice).

The writer hands over every webhook that queued up meanwhile, in arrival order, in one
transaction. Runs of routine webhooks (new or repeated firing alerts) are written
set-based by receiver.routine; any other webhook goes through the general path here, on
its own. Either way the result is what running each webhook alone in turn would give.
Decisions live in receiver.lifecycle; this module only moves data between them and the
database.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.engine import Connection

from receiver.alertmanager import Webhook
from receiver.config import Route
from receiver.incidents import update_incidents
from receiver.lifecycle import all_firing, apply_webhook
from receiver.received import Received, Summary
from receiver.routine import Run
from receiver.store import episodes, outbox
from receiver.store.engine import LockName, Writer
from receiver.store.episodes import Receipt


async def ingest(
    writer: Writer, hook: Webhook, received_at: datetime, routes: list[Route]
) -> Summary:
    locks: list[LockName] = [("group", hook.receiver, hook.group_key)]
    locks += [("alert", a.fingerprint) for a in hook.alerts]
    return await writer.run_batched(locks, ingest_batch, Received(hook, received_at, routes))


def ingest_batch(conn: Connection, items: list[Received]) -> list[Summary]:
    """Webhooks in arrival order, with the same result as one transaction each."""
    summaries: list[Summary] = []
    start = 0
    while start < len(items):
        end = start
        while end < len(items) and all_firing(items[end].hook.alerts):
            end += 1
        if end == start:  # a resolution: never routine, no need to load anything for it
            summaries.append(ingest_alone(conn, items[start]))
            start += 1
            continue
        run = Run(conn, items[start:end])
        taken = start
        while taken < end and run.take(items[taken]):
            taken += 1
        if taken > start:
            summaries += run.write(conn)
        if taken < end:  # not routine after all (a stale copy, an episode replaced)
            summaries.append(ingest_alone(conn, items[taken]))
            taken += 1
        start = taken
    return summaries


def ingest_alone(conn: Connection, item: Received) -> Summary:
    """The general path: any webhook, on its own (the reference the batch path must match)."""
    hook, received_at = item.hook, item.at
    known = episodes.load(conn, hook.alerts)
    delivered = apply_webhook(hook.alerts, known, received_at)
    touched = episodes.touched(known)
    receipts = {d.episode: Receipt(received_at, received_at) for d in delivered}
    drafts = [(e, draft, received_at) for e in touched for draft in e.events]
    episodes.write(conn, touched, receipts, drafts)
    group = update_incidents(conn, hook, known, delivered, received_at)
    queued = outbox.record_changes(conn, group.changes, item.routes, received_at)
    counts = Counter(d.outcome for d in delivered)
    return Summary(counts, group.incident_id, group.status, queued)
