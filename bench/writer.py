"""The write path alone, without HTTP: validate webhooks and ingest them in batches of 8
on a fresh SQLite file, the way the writer thread does under load.

    python bench/writer.py 1 20000     # alerts per webhook, webhooks
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/writer.py 20 72

Prints CPU microseconds per webhook. Under callgrind, the instruction count (minus a run
with 8 webhooks, for start-up) is a measure that machine noise does not move; that is
how docs/profile.md compares the levers. WAL checkpoints, which the server runs in a
thread of its own, happen here in the writer's backstop, inside the measured time.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from receiver.domain.wire import Webhook
from receiver.store import schema
from receiver.store.engine import create_engine as create_async_engine
from receiver.store.engine import create_sqlite_writer
from receiver.write.ingest import ingest_batch
from receiver.write.received import Received

BATCH = 8


def payloads(count: int, per: int) -> list[dict[str, Any]]:
    def one(i: int, j: int) -> dict[str, Any]:
        return {
            "status": "firing",
            "labels": {"alertname": f"W{i}", "instance": f"i{j}", "severity": "warning"},
            "annotations": {"summary": "bench"},
            "startsAt": "2026-11-26T10:00:00.123Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
            "fingerprint": f"{i:08x}{j:04x}",
        }

    return [
        {
            "version": "4",
            "receiver": "bench",
            "status": "firing",
            "groupKey": f'{{}}:{{alertname="W{i}"}}',
            "groupLabels": {"alertname": f"W{i}"},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://am",
            "truncatedAlerts": 0,
            "alerts": [one(i, j) for j in range(per)],
        }
        for i in range(count)
    ]


async def migrate(url: str) -> None:
    engine = create_async_engine(url)
    await schema.upgrade(engine)
    await engine.dispose()


def main() -> None:
    per, count = int(sys.argv[1]), int(sys.argv[2])
    path = Path(tempfile.mkdtemp(prefix="receiver-writer-")) / "w.db"
    asyncio.run(migrate(f"sqlite+aiosqlite:///{path}"))
    engine = create_sqlite_writer(make_url(f"sqlite:///{path}"), "NORMAL", timeout=10.0)
    bodies = payloads(count, per)

    started = time.process_time()
    items = [Received(Webhook.model_validate(b), datetime.now(UTC), []) for b in bodies]
    validated = time.process_time()
    for start in range(0, count, BATCH):
        with engine.connect() as conn, conn.execution_options(writer=True).begin():
            ingest_batch(conn, items[start : start + BATCH])
    written = time.process_time()
    print(
        f"{per} alert(s) per webhook: validate {(validated - started) / count * 1e6:.0f} µs, "
        f"write {(written - validated) / count * 1e6:.0f} µs per webhook (CPU)"
    )


if __name__ == "__main__":
    main()
