"""SIGTERM: readiness fails at once, what is in flight finishes within the deadline, the
process exits 0, and nothing answered 200 is lost. Both databases."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections.abc import Awaitable, Callable

import aiohttp
from sqlalchemy import select

from receiver.app import create_app, drain
from receiver.runtime.settings import Settings
from receiver.store.engine import create_engine
from receiver.store.tables import alerts
from tests.conftest import Client
from tests.payloads import alert, webhook
from tests.processes import address, logs, serve
from tests.sinks import eventually


async def test_readiness_fails_once_draining_and_health_stays(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/-/ready")).status == 200
    drain(client.app)
    resp = await client.get("/-/ready")
    assert resp.status == 503
    assert "shutting down" in await resp.text()
    assert (await client.get("/-/healthy")).status == 200


async def test_sigterm_under_load_exits_0_in_time_and_loses_nothing(database_url: str) -> None:
    proc = serve(database_url, "--shutdown-timeout", "1500ms")
    base = await asyncio.to_thread(address, proc)
    acknowledged: list[str] = []
    stop = asyncio.Event()

    async def sender(n: int, session: aiohttp.ClientSession) -> None:
        for i in itertools.count():
            if stop.is_set():
                return
            name = f"Term{n}-{i}"
            try:
                async with session.post(f"{base}/alerts", json=webhook(alert(name))) as resp:
                    if resp.status == 200:
                        acknowledged.append(name)
            except aiohttp.ClientError:
                await asyncio.sleep(0.01)  # refused once it stopped listening

    async with aiohttp.ClientSession() as session:
        senders = [asyncio.create_task(sender(n, session)) for n in range(16)]
        await eventually(lambda: len(acknowledged) >= 200, "load under way")
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = await asyncio.to_thread(proc.wait, 15)
        took = time.monotonic() - started
        stop.set()
        await asyncio.gather(*senders)
    log = logs(proc)
    assert code == 0, log
    assert took < 3.0, f"exit took {took:.1f}s with a 1.5 s deadline"
    assert "stopped" in log
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            stored = set(await conn.scalars(select(alerts.c.alertname)))
    finally:
        await engine.dispose()
    assert set(acknowledged) <= stored, set(acknowledged) - stored
