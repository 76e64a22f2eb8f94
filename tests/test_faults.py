"""Faults: the database behind a TCP proxy the test controls (refusing, black-holed), a
SQLite file on a full disk or locked by another process, and a process killed under load.
Every wait is bounded by --database-timeout, the answer is a 503 with Retry-After, the
receiver recovers on its own, and nothing answered 200 is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from receiver.app import create_app
from receiver.runtime.settings import Settings
from tests.conftest import Client, MakeReceiver, require
from tests.payloads import alert, webhook
from tests.processes import Load, address, serve
from tests.proxy import FaultProxy, Mode
from tests.sinks import JsonSink, eventually

MakeClient = Callable[..., Awaitable[Client]]
TIMEOUT = 1.0
# The bound plus what a loaded CI machine adds: a hang would take the whole outage.
WITHIN = TIMEOUT * 4


async def _timed(call: Awaitable[Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = await asyncio.wait_for(call, WITHIN * 3)
    return result, time.monotonic() - started


async def _assert_unavailable(client: Client, body: dict[str, Any]) -> None:
    """Webhook, read and readiness each answer 503 within the bound; liveness stays up."""
    resp, took = await _timed(client.post("/alerts", json=body))
    assert resp.status == 503, await resp.text()
    assert resp.headers["Retry-After"].isdigit()
    assert took < WITHIN, f"the webhook waited {took:.1f}s"
    resp, took = await _timed(client.get("/api/v1/alerts"))
    assert resp.status == 503, await resp.text()
    assert resp.headers["Retry-After"].isdigit()
    assert took < WITHIN, f"the read waited {took:.1f}s"
    resp, took = await _timed(client.get("/-/ready"))
    assert resp.status == 503
    assert took < WITHIN, f"readiness waited {took:.1f}s"
    resp, took = await _timed(client.get("/-/healthy"))
    assert resp.status == 200
    assert took < 1


async def _assert_recovers(client: Client, body: dict[str, Any], stored: set[str]) -> None:
    """Without a restart: the same webhook, sent again as Alertmanager would, is stored."""
    deadline = time.monotonic() + WITHIN * 3
    while (resp := await client.post("/alerts", json=body)).status != 200:
        assert time.monotonic() < deadline, await resp.text()
        await asyncio.sleep(0.2)
    while (ready := await client.get("/-/ready")).status != 200:
        assert time.monotonic() < deadline, await ready.text()
        await asyncio.sleep(0.2)
    alerts = (await (await client.get("/api/v1/alerts?limit=1000")).json())["alerts"]
    assert {a["labels"]["alertname"] for a in alerts} == stored


@pytest.mark.parametrize("fault", ["refuse", "blackhole"])
async def test_postgres_fault_answers_503_within_the_bound_and_recovers(
    aiohttp_client: MakeClient, postgres_url: str, fault_proxy: FaultProxy, fault: Mode
) -> None:
    settings = Settings(database_url=fault_proxy.url(postgres_url), database_timeout=TIMEOUT)
    client = await aiohttp_client(create_app(settings))
    for _ in range(2):  # the pool holds connections that the fault then strands
        assert (await client.post("/alerts", json=webhook(alert("Before")))).status == 200

    await fault_proxy.set(fault)
    during = webhook(alert("During"))
    await _assert_unavailable(client, during)
    await fault_proxy.set("forward")
    await _assert_recovers(client, during, {"Before", "During"})


async def test_webhooks_queued_behind_a_hung_database_are_all_answered_within_the_bound(
    aiohttp_client: MakeClient, postgres_url: str, fault_proxy: FaultProxy
) -> None:
    """A failed batch is retried piece by piece only when a piece may be at fault, not
    when the database is away: 20 waiting webhooks must not wait 20 bounds."""
    settings = Settings(database_url=fault_proxy.url(postgres_url), database_timeout=TIMEOUT)
    client = await aiohttp_client(create_app(settings))
    assert (await client.post("/alerts", json=webhook(alert()))).status == 200
    await fault_proxy.set("blackhole")
    bodies = [webhook(alert(f"Queued{i}")) for i in range(20)]
    answers, took = await _timed(
        asyncio.gather(*(client.post("/alerts", json=body) for body in bodies))
    )
    assert [r.status for r in answers] == [503] * 20
    assert took < WITHIN * 2, f"the queued webhooks waited {took:.1f}s"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A file system of its own, which the test fills up under a running receiver."""
    require(os.geteuid() == 0, "mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


async def test_full_disk_under_sqlite_answers_503_and_recovers(
    aiohttp_client: MakeClient, small_disk: Path
) -> None:
    url = f"sqlite+aiosqlite:///{small_disk / 'receiver.db'}"
    client = await aiohttp_client(create_app(Settings(database_url=url, database_timeout=TIMEOUT)))
    assert (await client.post("/alerts", json=webhook(alert("Before")))).status == 200
    filler = _fill(small_disk)
    big = webhook(
        *(alert("During", annotations={"description": "x" * 4000}, n=str(i)) for i in range(300))
    )
    resp, took = await _timed(client.post("/alerts", json=big))
    assert resp.status == 503, await resp.text()
    assert resp.headers["Retry-After"].isdigit()
    assert took < WITHIN
    assert (await client.get("/-/healthy")).status == 200
    assert (await client.get("/api/v1/alerts")).status == 200
    filler.unlink()
    await _assert_recovers(client, big, {"Before", "During"})


async def test_sqlite_locked_by_another_process_answers_503_within_the_bound(
    aiohttp_client: MakeClient, tmp_path: Path
) -> None:
    """A backup or a person holding the write lock: webhooks wait the bound, not forever;
    reads go on (WAL readers do not wait for writers)."""
    path = tmp_path / "receiver.db"
    client = await aiohttp_client(
        create_app(Settings(database_url=f"sqlite+aiosqlite:///{path}", database_timeout=TIMEOUT))
    )
    assert (await client.post("/alerts", json=webhook(alert("Before")))).status == 200
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        resp, took = await _timed(client.post("/alerts", json=webhook(alert("During"))))
        assert resp.status == 503, await resp.text()
        assert TIMEOUT * 0.8 < took < WITHIN, f"answered after {took:.1f}s"
        assert (await client.get("/api/v1/alerts")).status == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await _assert_recovers(client, webhook(alert("During")), {"Before", "During"})


async def test_sigkill_under_load_loses_no_webhook_and_no_notification(
    database_url: str, json_sink: JsonSink, tmp_path: Path
) -> None:
    """Killed mid-batch and mid-send (no shutdown at all), then started again: every webhook
    answered 200 is stored, and every notification decided for it goes out; only a send
    caught in flight by the kill may go out twice (the sink got it, the record did not).
    The dead process's claims come back when their lease ends (delivery.timeout plus a
    30 s margin), so this test takes that long."""
    config = tmp_path / "receiver.yml"
    config.write_text(
        f'channels:\n  chat: "{json_sink.url()}"\nroutes:\n  - channels: [chat]\n'
        # A dead process's claims come back when their lease (timeout + a margin) ends.
        "delivery:\n  poll_interval: 50ms\n  timeout: 2s\n"
    )
    json_sink.delay = 0.02  # sends are in flight when the kill comes
    first = serve(database_url, "--config", str(config))
    base = await asyncio.to_thread(address, first)
    async with Load(base, "Kill") as load:
        try:
            await eventually(
                lambda: len(load.acknowledged) >= 100 and len(json_sink.received) >= 10,
                "load and deliveries under way",
                60,
            )
        finally:
            first.send_signal(signal.SIGKILL)  # no shutdown at all: batches die mid-way
            await asyncio.to_thread(first.wait, 10)
    acknowledged = load.acknowledged
    delivered_before = len(json_sink.received)

    second = serve(database_url, "--config", str(config))
    try:
        base = await asyncio.to_thread(address, second)
        async with aiohttp.ClientSession() as session:

            async def notifications() -> list[dict[str, Any]]:
                async with session.get(f"{base}/api/v1/notifications?limit=1000") as resp:
                    return list((await resp.json())["notifications"])

            async def drained() -> bool:
                return {n["status"] for n in await notifications()} == {"delivered"}

            await eventually(drained, "every decided notification delivered", 60)
            async with session.get(f"{base}/api/v1/alerts?limit=1000") as resp:
                stored = {a["labels"]["alertname"] for a in (await resp.json())["alerts"]}
            decided = await notifications()
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.wait, 15)

    assert set(acknowledged) <= stored, set(acknowledged) - stored
    assert len(decided) == len(stored)  # one incident, one message, per stored group
    told = Counter(m["title"].split("] ", 1)[1].split(" ", 1)[0] for m in json_sink.received)
    assert set(told) == stored
    twice = [name for name, n in told.items() if n > 1]
    assert len(twice) <= 8, twice  # at most the sends in flight (delivery.concurrency)
    assert len(json_sink.received) > delivered_before  # the second process sent the rest


async def test_a_hanging_channel_does_not_hold_up_ingest(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    """Every send slot is taken by a channel that never answers; webhooks, reads and
    readiness go on as before (they wait on nothing the sends hold)."""
    json_sink.delay = 60
    client = await make_receiver(
        f'channels:\n  chat: "{json_sink.url()}"\nroutes:\n  - channels: [chat]\n'
        "delivery:\n  timeout: 30s\n  concurrency: 4\n  poll_interval: 50ms\n"
    )
    for i in range(4):
        assert (await client.post("/alerts", json=webhook(alert(), group=f"G{i}"))).status == 200
    await eventually(lambda: json_sink.hits >= 4, "four sends hanging")
    for i in range(20):
        body = webhook(alert(f"Later{i}"), group=f"Later{i}")
        resp, took = await _timed(client.post("/alerts", json=body))
        assert resp.status == 200
        assert took < 1, f"webhook {i} waited {took:.1f}s behind the hanging channel"
    resp, took = await _timed(client.get("/api/v1/alerts"))
    assert resp.status == 200
    assert took < 1
    assert (await client.get("/-/ready")).status == 200
    assert json_sink.hits == 4  # nothing else could be sent: the slots are all taken
