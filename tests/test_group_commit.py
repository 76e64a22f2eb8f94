"""The write path's promises under batching: answers only after COMMIT, a failing webhook
fails alone, and nothing acknowledged is lost when the process dies mid-batch."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection

from receiver.store import schema
from receiver.store.engine import Writer, create_engine
from receiver.store.tables import alerts
from tests.payloads import alert, webhook


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


def _serve(database_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1", "--port", "0"],
        env={**os.environ, "RECEIVER_DATABASE_URL": database_url},
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_nothing_acknowledged_is_lost_when_killed_mid_batch(database_url: str) -> None:
    proc = await asyncio.to_thread(_serve, database_url)
    assert proc.stderr is not None
    base = None
    while base is None:
        line = await asyncio.to_thread(proc.stderr.readline)
        assert line, "serve exited"
        if found := re.search(r"listening on (http://\S+)", line):
            base = found.group(1)

    acknowledged: list[str] = []
    stop = asyncio.Event()
    enough = asyncio.Event()

    async def sender(n: int, session: aiohttp.ClientSession) -> None:
        i = 0
        while not stop.is_set():
            name = f"Kill{n}-{i}"
            i += 1
            try:
                async with session.post(f"{base}/alerts", json=webhook(alert(name))) as resp:
                    if resp.status == 200:
                        acknowledged.append(name)
                        if len(acknowledged) >= 200:
                            enough.set()
            except aiohttp.ClientError:
                return

    async with aiohttp.ClientSession() as session:
        senders = [asyncio.create_task(sender(n, session)) for n in range(16)]
        await asyncio.wait_for(enough.wait(), 60)
        proc.send_signal(signal.SIGKILL)  # no shutdown at all: batches die mid-way
        proc.wait(timeout=10)
        stop.set()
        await asyncio.gather(*senders)

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            stored = set(await conn.scalars(select(alerts.c.alertname)))
            count = await conn.scalar(select(func.count()).select_from(alerts))
    finally:
        await engine.dispose()
    assert set(acknowledged) <= stored, set(acknowledged) - stored
    assert count is not None
    assert count >= len(acknowledged)
