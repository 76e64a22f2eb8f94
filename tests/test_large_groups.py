"""Very large groups: one webhook of 10,000 distinct alerts (max_alerts_per_webhook) is
stored on both databases (on Postgres one advisory lock per fingerprint overflowed the
lock table past some 12,800, and the 503 came back on every retry). Past
engine.MAX_LOCKS keys a transaction runs alone instead, under one exclusive lock that
every other writer takes shared."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from receiver.store import engine as engine_module
from receiver.store import schema
from receiver.store.engine import Writer, create_engine
from tests.conftest import Client, reset_postgres
from tests.payloads import alert, webhook

ALERTS = 10_000


async def test_one_webhook_of_ten_thousand_alerts(client: Client) -> None:
    body = webhook(*(alert(instance=f"pod-{i}") for i in range(ALERTS)))
    resp = await client.post("/alerts", json=body)
    assert resp.status == 200, await resp.text()
    summary = await resp.json()
    assert summary["new"] == ALERTS
    again = await (await client.post("/alerts", json=body)).json()
    assert again["duplicates"] == ALERTS
    incident = await (await client.get(f"/api/v1/incidents/{summary['incidentId']}")).json()
    assert incident["alertCounts"] == {"firing": ALERTS, "resolved": 0}


async def test_a_transaction_past_the_lock_budget_excludes_every_other_writer(
    postgres_url: str,
) -> None:
    """Postgres only: advisory locks are its own, SQLite's writer is exclusive anyway."""
    await reset_postgres(postgres_url)
    database_url = postgres_url
    engine = create_engine(database_url)
    await schema.upgrade(engine)
    first, second = Writer(engine), Writer(create_engine(database_url))
    finished: list[str] = []

    async def run(writer: Writer, locks: list[Any], name: str, seconds: float) -> None:
        sleep = text(f"SELECT pg_sleep({seconds})")
        await writer.run(locks, lambda conn: conn.execute(sleep))
        finished.append(name)

    async def race(long_locks: list[Any]) -> list[str]:
        finished.clear()
        slow = asyncio.create_task(run(first, long_locks, "slow", 1.5))
        await asyncio.sleep(0.3)  # the slow one holds its locks by now
        await run(second, [("alert", "unrelated")], "quick", 0)
        await slow
        return list(finished)

    # Disjoint keys: the quick transaction does not wait (so the race below can tell).
    assert await race([("alert", "some-other")]) == ["quick", "slow"]
    big = [("alert", f"fp{i}") for i in range(engine_module.MAX_LOCKS + 1)]
    assert await race(big) == ["slow", "quick"], "past the budget, it runs alone"
    for writer in (first, second):
        await writer.close()
        await writer.engine.dispose()
