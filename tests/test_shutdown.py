"""SIGTERM: readiness fails at once, what is in flight finishes within the deadline, the
process exits 0, and nothing answered 200 is lost. Both databases."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from receiver.app import create_app, drain
from receiver.runtime.settings import Settings
from receiver.store.engine import create_engine
from receiver.store.tables import alerts
from tests.conftest import Client
from tests.processes import Load, address, logs, serve
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
    async with Load(base, "Term") as load:
        await eventually(lambda: len(load.acknowledged) >= 200, "load under way")
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = await asyncio.to_thread(proc.wait, 15)
        took = time.monotonic() - started
    acknowledged = load.acknowledged
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
