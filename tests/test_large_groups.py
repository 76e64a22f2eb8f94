"""Very large groups: one webhook of 10,000 distinct alerts (max_alerts_per_webhook) is
stored exactly on both databases (on Postgres one advisory lock per fingerprint overflowed
the lock table past some 12,800, and the 503 came back on every retry). Past
engine.MAX_LOCKS keys a transaction runs alone instead, under one exclusive lock that
every other writer takes shared. A webhook of 100,000 alerts is refused without holding
the event loop (it used to stall it for about a second)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from sqlalchemy import text

from receiver.store import engine as engine_module
from receiver.store import schema
from receiver.store.engine import Writer, create_engine
from receiver.web import webhook as webhook_module
from tests.conftest import Client, reset_postgres
from tests.payloads import alert, webhook

ALERTS = 10_000
T0 = "2026-11-26T10:00:00Z"


async def stored_alerts(client: Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page: dict[str, Any] = {"next": ""}
    while page["next"] is not None:
        params = {"limit": "1000", **({"cursor": page["next"]} if page["next"] else {})}
        page = await (await client.get("/api/v1/alerts", params=params)).json()
        found += page["alerts"]
    return found


async def test_one_webhook_of_ten_thousand_alerts(client: Client) -> None:
    body = webhook(*(alert(instance=f"pod-{i}") for i in range(ALERTS)))
    resp = await client.post("/alerts", json=body)
    assert resp.status == 200, await resp.text()
    summary = await resp.json()
    assert summary["new"] == ALERTS
    again = await (await client.post("/alerts", json=body)).json()
    assert again["duplicates"] == ALERTS
    incident = await (await client.get(f"/api/v1/incidents/{summary['incidentId']}")).json()
    assert incident["alertCounts"] == {"firing": ALERTS, "resolved": 0}
    fields = ("fingerprint", "status", "labels", "annotations", "generatorURL")
    sent = {a["fingerprint"]: {f: a[f] for f in fields} for a in body["alerts"]}
    stored = await stored_alerts(client)
    assert {a["fingerprint"]: {f: a[f] for f in fields} for a in stored} == sent
    assert {(a["startsAt"], a["timesReceived"]) for a in stored} == {(T0, 2)}


async def test_a_hundred_thousand_alerts_are_413_while_health_answers(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted before any model is built, and parsed off the event loop: /-/healthy is
    answered while the body is being parsed, not only before and after."""
    short = [
        {"status": "firing", "labels": {"i": str(i)}, "annotations": {}, "startsAt": T0}
        for i in range(100_000)
    ]
    data = json.dumps(webhook(*short)).encode()
    assert len(data) < 10 * 2**20, "within the body limit: the count is what refuses it"
    parsing: list[float] = []
    parse = webhook_module._parse

    def watched(*args: Any) -> Any:
        parsing.append(time.monotonic())
        try:
            return parse(*args)
        finally:
            parsing.append(time.monotonic())

    monkeypatch.setattr(webhook_module, "_parse", watched)
    big = asyncio.create_task(
        client.post("/alerts", data=data, headers={"Content-Type": "application/json"})
    )
    answered: list[float] = []
    while not big.done():
        health = await client.get("/-/healthy")
        assert health.status == 200
        answered.append(time.monotonic())
        await asyncio.sleep(0.005)
    resp = await big
    assert resp.status == 413, await resp.text()
    assert "100000 alerts in one webhook, more than 10000" in (await resp.json())["error"]
    started, finished = parsing
    assert any(started < at < finished for at in answered), "health waited for the parse"
    assert await stored_alerts(client) == []


async def test_a_transaction_past_the_lock_budget_excludes_every_other_writer(
    postgres_url: str,
) -> None:
    """Postgres only: advisory locks are its own, SQLite's writer is exclusive anyway."""
    await reset_postgres(postgres_url)
    database_url = postgres_url
    engine = create_engine(database_url)
    await schema.upgrade(engine)
    first, second = Writer(engine), Writer(create_engine(database_url))
    finished: list[str] = []

    async def run(writer: Writer, locks: list[Any], name: str, seconds: float) -> None:
        sleep = text(f"SELECT pg_sleep({seconds})")
        await writer.run(locks, lambda conn: conn.execute(sleep))
        finished.append(name)

    async def race(long_locks: list[Any]) -> list[str]:
        finished.clear()
        slow = asyncio.create_task(run(first, long_locks, "slow", 1.5))
        await asyncio.sleep(0.3)  # the slow one holds its locks by now
        await run(second, [("alert", "unrelated")], "quick", 0)
        await slow
        return list(finished)

    # Disjoint keys: the quick transaction does not wait (so the race below can tell).
    assert await race([("alert", "some-other")]) == ["quick", "slow"]
    big = [("alert", f"fp{i}") for i in range(engine_module.MAX_LOCKS + 1)]
    assert await race(big) == ["slow", "quick"], "past the budget, it runs alone"
    for writer in (first, second):
        await writer.close()
        await writer.engine.dispose()
