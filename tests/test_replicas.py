"""Two receiver processes on one database, started together: they migrate once, store
every alert once, and send every notification once."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiohttp

from tests.payloads import alert, webhook
from tests.processes import address, serve
from tests.sinks import JsonSink, eventually


async def test_two_processes_share_one_database(
    database_url: str, json_sink: JsonSink, tmp_path: Path
) -> None:
    config = tmp_path / "receiver.yml"
    config.write_text(
        f'channels:\n  chat: "{json_sink.url()}"\nroutes:\n  - channels: [chat]\n'
        "delivery:\n  poll_interval: 100ms\n"
    )
    procs = [serve(database_url, "--config", str(config)) for _ in range(2)]  # both migrate at once
    try:
        bases = await asyncio.gather(*(asyncio.to_thread(address, p) for p in procs))
        bodies = [webhook(alert(instance=f"i{i}"), group=f"G{i}") for i in range(10)]
        async with aiohttp.ClientSession() as session:

            async def post(base: str, body: dict[str, Any]) -> int:
                async with session.post(f"{base}/alerts", json=body) as resp:
                    return resp.status

            statuses = await asyncio.gather(
                *(post(bases[i % 2], b) for i, b in enumerate(bodies)),
                *(post(bases[(i + 1) % 2], b) for i, b in enumerate(bodies)),  # HA copies
            )
            assert set(statuses) == {200}
            await eventually(lambda: len(json_sink.received) >= 10, "ten messages")
            await asyncio.sleep(1.0)
            async with session.get(f"{bases[0]}/api/v1/alerts?limit=100") as resp:
                stored = (await resp.json())["alerts"]
            async with session.get(f"{bases[1]}/api/v1/notifications?limit=100") as resp:
                sent = (await resp.json())["notifications"]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=15)
    assert len(json_sink.received) == 10
    assert len(stored) == 10
    assert all(a["timesReceived"] == 2 for a in stored)
    assert len(sent) == 10
    assert all(n["status"] == "delivered" and len(n["attempts"]) == 1 for n in sent)
    numbers = sorted(json.dumps(m["message"]).split("incident #")[1].split(":")[0]
                     for m in json_sink.received)  # fmt: skip
    assert len(set(numbers)) == 10
