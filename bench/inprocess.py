"""Whole HTTP requests in one process: the real app on a real port, its client beside it,
the same 50 repeat snapshots (bench/repeat.lua's) posted one after another.

    python bench/inprocess.py 2000                 # prints CPU microseconds per request
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/inprocess.py 300

Under callgrind the instruction count of a run (minus one of 20 requests, for start-up)
is a measure machine noise does not move, so two versions can be told apart where wrk's
requests per second, on a shared machine, cannot (PYTHONPATH=other/checkout picks the
version; the client's share is the same code in both). Not named requests.py: that
shadowed the requests library, so Apprise failed in a receiver started from bench/.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from receiver.app import create_app
from receiver.runtime.settings import Settings


def snapshot(g: int) -> dict[str, Any]:
    name = f"Repeat{g}"
    return {
        "version": "4",
        "receiver": "bench",
        "status": "firing",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "groupLabels": {"alertname": name},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "instance": f"i{g}", "severity": "warning"},
                "annotations": {"summary": "bench"},
                "startsAt": "2026-11-26T10:00:00.123Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": f"{g:016x}",
            }
        ],
    }


async def main(count: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="receiver-requests-"))
    settings = Settings(database_url=f"sqlite+aiosqlite:///{folder / 'r.db'}", port=0)
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=0))
    await client.start_server()
    bodies = [snapshot(g) for g in range(50)]
    try:
        for body in bodies:  # the first copies open the incidents: not what is measured
            assert (await client.post("/alerts", json=body)).status == 200
        started = time.process_time()
        for i in range(count):
            resp = await client.post("/alerts", json=bodies[i % 50])
            assert resp.status == 200
            await resp.read()
        spent = time.process_time() - started
    finally:
        await client.close()
    print(f"{spent / count * 1e6:.0f} µs of CPU per request ({count} requests)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
