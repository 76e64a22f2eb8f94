"""Overload: webhooks waiting for the database are bounded (max_queued_writes); one more
is answered 503 with Retry-After and stored nowhere, so Alertmanager retries it instead of
the receiver piling parsed bodies up in memory. Both databases."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from receiver.app import create_app
from receiver.runtime.settings import Settings
from receiver.web.keys import WRITER
from receiver.web.middlewares import INFLIGHT
from tests.conftest import Client
from tests.payloads import alert, webhook
from tests.sinks import eventually


def busy_for(seconds: float) -> Callable[[Connection], Any]:
    """A job that keeps the write transaction busy without holding the event loop:
    SQLite's runs on the writer thread, Postgres' sleeps in the server."""

    def work(conn: Connection) -> Any:
        if conn.dialect.name == "sqlite":
            time.sleep(seconds)
            return None
        return conn.execute(text(f"SELECT pg_sleep({seconds})"))

    return work


async def test_past_the_bound_webhooks_get_503_and_are_not_stored(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings.model_copy(update={"max_queued_writes": 1})))
    writer = client.app[WRITER]
    busy = asyncio.create_task(writer.run([], busy_for(1.0)))
    await asyncio.sleep(0.2)  # the busy job is in its transaction; the queue is empty
    first = asyncio.create_task(client.post("/alerts", json=webhook(alert(instance="a"))))
    await asyncio.sleep(0.2)  # queued behind the busy job
    assert writer.queued == 1
    second = await client.post("/alerts", json=webhook(alert(instance="b")))
    assert second.status == 503, await second.text()
    assert second.headers["Retry-After"] == "5"
    assert "overloaded" in (await second.json())["error"]
    assert (await first).status == 200
    await busy
    stored = (await (await client.get("/api/v1/alerts")).json())["alerts"]
    assert [a["labels"]["instance"] for a in stored] == ["a"]
    again = await client.post("/alerts", json=webhook(alert(instance="b")))
    assert again.status == 200, "room again once the queue drained"


async def test_past_the_request_cap_answers_503_at_once_and_health_still_answers(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings
) -> None:
    """Two senders trickle their bodies in and hold their slots; the third request finds
    the house full and is turned away at once, while health probes are always let in."""
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"max_concurrent_requests": 2}))
    )
    release = asyncio.Event()
    body = json.dumps(webhook(alert())).encode()

    async def trickle() -> AsyncIterator[bytes]:
        yield body[:10]
        await release.wait()
        yield body[10:]

    slow = [
        asyncio.create_task(
            client.post("/alerts", data=trickle(), headers={"Content-Type": "application/json"})
        )
        for _ in range(2)
    ]
    await eventually(lambda: client.app[INFLIGHT][0] == 2, "both inside, reading their bodies")
    turned_away = await client.get("/api/v1/alerts")
    assert turned_away.status == 503
    assert turned_away.headers["Retry-After"].isdigit()
    assert "too many requests" in (await turned_away.json())["error"]
    assert (await client.get("/-/healthy")).status == 200
    assert (await client.get("/-/ready")).status == 200
    release.set()
    assert [(await r).status for r in slow] == [200, 200]
    assert (await client.get("/api/v1/alerts")).status == 200  # the slots are free again
