"""Every write of a claim is fenced by its owner and lease, on both databases: a sender
that finishes after its lease ran out, once another replica took the row over, logs its
attempt and changes nothing else (it used to set a delivered row back to pending, so the
message went out again, and to count attempts from a stale snapshot)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from receiver.domain.change import Change
from receiver.domain.routing import Planned
from receiver.domain.wire import Webhook
from receiver.store import incidents, outbox, schema
from receiver.store.engine import Writer, create_engine
from receiver.store.tables import notification_attempts, notifications
from tests.payloads import alert, webhook

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
LEASE = timedelta(seconds=10)


async def one_notification(database_url: str) -> Writer:
    """A fresh database holding one incident with one pending notification."""
    engine = create_engine(database_url)
    await schema.upgrade(engine)
    writer = Writer(engine)
    hook = Webhook.model_validate(webhook(alert()))

    def seed(conn: Connection) -> None:
        values = incidents.insert_values("g", hook, T0, 1, incidents.snapshot(hook, T0))
        incident_id = incidents.open_one(conn, values)
        rows = outbox.rows(incident_id, "change", Change(opened=True), [Planned(0, "chat")], T0)
        outbox.queue(conn, rows)

    await writer.run([], seed)
    return writer


def attempt(outcome: str) -> outbox.Attempt:
    return outbox.Attempt(T0, 0.1, outcome, None if outcome == "delivered" else "x", [], "t", "b")


async def test_a_late_finish_after_a_takeover_changes_nothing(database_url: str) -> None:
    writer = await one_notification(database_url)
    engine = writer.engine
    [late] = await writer.run([], lambda c: outbox.claim(c, T0, 8, LEASE, "replica-a", set()))
    later = T0 + LEASE + timedelta(seconds=1)  # replica-a's lease ran out: due again
    [owner] = await writer.run([], lambda c: outbox.claim(c, later, 8, LEASE, "replica-b", set()))
    assert owner.id == late.id
    assert await writer.run(
        [], lambda c: outbox.finish(c, owner, attempt("delivered"), "replica-b", None, None)
    )

    # replica-a wakes up: its failure wants a retry, then a fallback; neither may happen.
    retry = T0 + timedelta(minutes=1)
    assert not await writer.run(
        [], lambda c: outbox.finish(c, late, attempt("failed"), "replica-a", retry, None)
    )
    assert not await writer.run(
        [], lambda c: outbox.finish(c, late, attempt("failed"), "replica-a", None, "mail")
    )
    await writer.run([], lambda c: outbox.release(c, [late], retry))

    async with engine.connect() as conn:
        rows = (await conn.execute(select(notifications))).all()
        logged = (await conn.execute(select(notification_attempts.c.replica))).scalars().all()
    assert [(r.status, r.attempts, r.claimed_by) for r in rows] == [("delivered", 1, None)]
    assert sorted(logged) == ["replica-a", "replica-a", "replica-b"], "every attempt is logged"
    await writer.close()
    await engine.dispose()


async def test_release_hands_back_only_its_own_claims(database_url: str) -> None:
    writer = await one_notification(database_url)
    engine = writer.engine
    [old] = await writer.run([], lambda c: outbox.claim(c, T0, 8, LEASE, "replica-a", set()))
    later = T0 + LEASE + timedelta(seconds=1)
    [new] = await writer.run([], lambda c: outbox.claim(c, later, 8, LEASE, "replica-b", set()))
    await writer.run([], lambda c: outbox.release(c, [old], later))
    async with engine.connect() as conn:
        row = (await conn.execute(select(notifications))).one()
    assert (row.status, row.claimed_by) == ("sending", "replica-b")
    await writer.run([], lambda c: outbox.release(c, [new], later))
    async with engine.connect() as conn:
        row = (await conn.execute(select(notifications))).one()
    assert (row.status, row.claimed_by) == ("pending", None)
    await writer.close()
    await engine.dispose()


async def test_a_claim_takes_due_rows_and_expired_leases_oldest_due_first(
    database_url: str,
) -> None:
    """Pending rows and rows whose lease ran out are found by two walks; the claim takes
    the oldest due of both, no more than asked."""
    writer = await one_notification(database_url)
    engine = writer.engine
    hook = Webhook.model_validate(webhook(alert("Other"), group="other"))

    def seed_two_more(conn: Connection) -> None:
        for n, at in enumerate((T0 + timedelta(seconds=2), T0 + timedelta(seconds=30))):
            values = incidents.insert_values(f"g{n}", hook, at, 1, incidents.snapshot(hook, at))
            incident_id = incidents.open_one(conn, values)
            change = Change(opened=True)
            outbox.queue(conn, outbox.rows(incident_id, "change", change, [Planned(0, "chat")], at))

    await writer.run([], seed_two_more)
    # The first row (due T0) is claimed and its lease runs out at T0 + LEASE.
    [stale] = await writer.run([], lambda c: outbox.claim(c, T0, 1, LEASE, "replica-a", set()))
    now = T0 + timedelta(minutes=1)
    [first] = await writer.run([], lambda c: outbox.claim(c, now, 1, LEASE, "replica-b", set()))
    assert first.id == stale.id, "the expired lease is due since T0: the oldest"
    rest = await writer.run([], lambda c: outbox.claim(c, now, 8, LEASE, "replica-b", set()))
    assert [r.created_at for r in rest] == [T0 + timedelta(seconds=2), T0 + timedelta(seconds=30)]
    assert await writer.run([], lambda c: outbox.claim(c, now, 8, LEASE, "replica-b", set())) == []
    await writer.close()
    await engine.dispose()
