"""Storage trouble answers 503 with Retry-After (Alertmanager retries), and loses nothing."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from receiver.app import create_app
from receiver.runtime.settings import Settings
from tests.conftest import Client
from tests.payloads import alert, webhook

MakeClient = Callable[..., Awaitable[Client]]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def _expect_503(client: Client) -> None:
    resp = await client.post("/alerts", json=webhook(alert()))
    assert resp.status == 503
    assert resp.headers["Retry-After"].isdigit()
    assert "retry" in (await resp.json())["error"]
    ready = await client.get("/-/ready")
    assert ready.status == 503


async def test_postgres_down_answers_503_without_leaking_the_password(
    aiohttp_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"postgresql+asyncpg://postgres:s3cret@127.0.0.1:{_closed_port()}/none"
    settings = Settings(database_url=url, migrate=False)
    await _expect_503(await aiohttp_client(create_app(settings)))
    assert "storage failed" in caplog.text
    assert "s3cret" not in caplog.text


async def test_unopenable_sqlite_answers_503(aiohttp_client: MakeClient, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'receiver.db'}"
    settings = Settings(database_url=url, migrate=False)
    await _expect_503(await aiohttp_client(create_app(settings)))


async def test_unmigrated_database_is_not_ready(
    aiohttp_client: MakeClient, database_url: str
) -> None:
    client = await aiohttp_client(create_app(Settings(database_url=database_url, migrate=False)))
    resp = await client.get("/-/ready")
    assert resp.status == 503
    assert "alert-receiver migrate" in await resp.text()
    assert (await client.get("/-/healthy")).status == 200


async def test_webhook_refused_during_outage_is_stored_on_retry(
    aiohttp_client: MakeClient, database_url: str, tmp_path: Path
) -> None:
    """What Alertmanager does after a 503: send the same webhook again, later."""
    body: dict[str, Any] = webhook(alert())
    broken = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/no/such.db", migrate=False)
    down = await aiohttp_client(create_app(broken))
    assert (await down.post("/alerts", json=body)).status == 503
    up = await aiohttp_client(create_app(Settings(database_url=database_url)))
    assert (await up.post("/alerts", json=body)).status == 200
    stored = (await (await up.get("/api/v1/alerts")).json())["alerts"]
    assert len(stored) == 1
    assert stored[0]["timesReceived"] == 1


async def test_body_over_the_limit_is_413_and_stores_nothing(
    aiohttp_client: MakeClient, database_url: str
) -> None:
    settings = Settings(database_url=database_url, max_body_bytes=2048)
    client = await aiohttp_client(create_app(settings))
    big = webhook(*(alert(instance=f"api-{i}") for i in range(30)))
    resp = await client.post("/alerts", json=big)
    assert resp.status == 413
    assert "RECEIVER_MAX_BODY_BYTES" in (await resp.json())["error"]

    async def chunks() -> Any:  # no Content-Length: the limit holds while streaming too
        for _ in range(10):
            yield b" " * 1024

    streamed = await client.post(
        "/alerts", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status == 413
    assert (await (await client.get("/api/v1/alerts")).json())["alerts"] == []
    small = await client.post("/alerts", json=webhook(alert()))
    assert small.status == 200
