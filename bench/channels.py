"""How long the channels page and GET /api/v1/channels take over a long delivery log:
200,000 notifications (each with one attempt, one in ten failed, spread over 30 days,
the newest day the busiest) for five channels, one of them with a backlog of 2,000
pending rows not tried yet, and one channel never used. The receiver runs in-process on a
real port; each path is asked 30 times and the median and slowest answers printed.

    python bench/channels.py                               # SQLite
    python bench/channels.py --database-url postgresql+asyncpg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert

from receiver.app import create_app
from receiver.domain.change import Change
from receiver.runtime.settings import Settings
from receiver.store import schema, tables
from receiver.store.engine import create_engine

NOTIFICATIONS = 200_000
CHANNELS = ["chat", "mail", "pager", "ops", "backlog"]
CHUNK = 5_000


async def seed(url: str) -> None:
    engine = create_engine(url)
    await schema.upgrade(engine)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(tables.incidents).values(
                id=1,
                receiver="bench",
                group_key="{}:{}",
                group_hash="0" * 32,
                group_labels={},
                common_labels={},
                common_annotations={},
                status="open",
                opened_at=now,
                last_received_at=now,
                times_received=1,
            )
        )
    for start in range(0, NOTIFICATIONS, CHUNK):
        rows, attempts = [], []
        for i in range(start + 1, min(start + CHUNK, NOTIFICATIONS) + 1):
            age = timedelta(days=30) * ((NOTIFICATIONS - i) / NOTIFICATIONS) ** 3
            at = now - age
            channel = CHANNELS[i % 4]
            tried = True
            if i > NOTIFICATIONS - 2_000:
                channel, tried = "backlog", False
            failed = i % 10 == 0
            rows.append(
                {
                    "id": i,
                    "incident_id": 1,
                    "channel": channel,
                    "route_index": 0,
                    "kind": "change",
                    "change": Change(opened=True).as_json(),
                    "status": ("failed" if failed else "delivered") if tried else "pending",
                    "created_at": at,
                    "due_at": at if tried else now + timedelta(days=1),  # not claimed here
                    "attempts": 1 if tried else 0,
                }
            )
            if tried:
                attempts.append(
                    {
                        "notification_id": i,
                        "channel": channel,
                        "started_at": at,
                        "seconds": 0.1,
                        "outcome": "failed" if failed else "delivered",
                        "services": [],
                        "replica": "bench",
                    }
                )
        async with engine.begin() as conn:
            await conn.execute(insert(tables.notifications), rows)
            if attempts:
                await conn.execute(insert(tables.notification_attempts), attempts)
    await engine.dispose()


async def measure(url: str, folder: Path) -> None:
    config = folder / "bench.yml"
    lines = [f'  {name}: "json://127.0.0.1:9/{name}"' for name in [*CHANNELS, "never"]]
    config.write_text("channels:\n" + "\n".join(lines) + "\nroutes:\n  - channels: [chat]\n")
    settings = Settings(database_url=url, config=config, host="127.0.0.1", port=0)
    async with TestClient(TestServer(create_app(settings))) as client:
        for path in ("/api/v1/channels", "/channels"):
            took = []
            for _ in range(30):
                started = time.perf_counter()
                resp = await client.get(path)
                await resp.read()
                assert resp.status == 200, resp.status
                took.append((time.perf_counter() - started) * 1000)
            print(f"{path}: median {statistics.median(took):.1f} ms, slowest {max(took):.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a Postgres database to fill (default SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        started = time.perf_counter()
        await seed(url)
        print(f"seeded {NOTIFICATIONS:,} notifications in {time.perf_counter() - started:.0f} s")
        await measure(url, Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
