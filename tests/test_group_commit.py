"""The write path's promises under batching: answers only after COMMIT, and a failing
webhook fails alone (a process killed mid-batch: tests/test_faults.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection

from receiver.store import schema
from receiver.store.engine import Writer, create_engine
from receiver.store.tables import alerts


def _row(name: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return {
        "fingerprint": name,
        "starts_at": now,
        "status": "firing",
        "labels": {"alertname": name},
        "annotations": {},
        "first_received_at": now,
        "last_received_at": now,
    }


async def test_one_failing_job_fails_alone_in_a_batch(database_url: str) -> None:
    engine = create_engine(database_url)
    await schema.upgrade(engine)
    writer = Writer(engine)
    try:

        def slow(conn: Connection) -> str:
            time.sleep(0.3)  # while this runs, the others queue up into one batch
            conn.execute(insert(alerts).values(_row("slow")))
            return "slow"

        def good(name: str) -> Any:
            def work(conn: Connection) -> str:
                conn.execute(insert(alerts).values(_row(name)))
                return name

            return work

        def bad(conn: Connection) -> None:
            conn.execute(insert(alerts).values(_row("bad")))
            conn.execute(text("SELECT * FROM no_such_table"))

        first = asyncio.create_task(writer.run([], slow))
        await asyncio.sleep(0.05)
        jobs = [writer.run([], good(f"g{i}")) for i in range(3)]
        jobs.insert(2, writer.run([], bad))
        results = await asyncio.gather(first, *jobs, return_exceptions=True)
        assert results[0] == "slow"
        assert results[1:3] == ["g0", "g1"]
        assert isinstance(results[3], Exception)
        assert results[4] == "g2"
        async with engine.connect() as conn:
            stored = set(await conn.scalars(select(alerts.c.fingerprint)))
        assert stored == {"slow", "g0", "g1", "g2"}  # the bad job's own insert rolled back
    finally:
        await writer.close()
        await engine.dispose()
