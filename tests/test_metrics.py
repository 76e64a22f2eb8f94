"""GET /metrics on both databases, through a real server: after known traffic every value
is exact; notifications, the outbox and a breaker that opens and closes are seen as they
happen; a scrape answers while the database is away."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from receiver.app import create_app
from receiver.runtime.settings import Settings
from tests.conftest import Client, MakeReceiver
from tests.payloads import alert, webhook
from tests.proxy import FaultProxy
from tests.sinks import JsonSink, eventually

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: Client) -> Samples:
    resp = await client.get("/metrics")
    assert resp.status == 200, await resp.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(await resp.text())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def channel(url: str) -> str:
    return f'channels:\n  chat: "{url}"\nroutes:\n  - channels: [chat]\n'


async def test_after_known_traffic_every_value_is_exact(make_receiver: MakeReceiver) -> None:
    client = await make_receiver("", max_alerts_per_webhook=3)
    a, b = alert(instance="a"), alert(instance="b")
    changed = alert(instance="a", annotations={"summary": "worse"})
    ends = "2026-11-26T10:05:00Z"
    a_resolved = alert(instance="a", status="resolved", ends=ends)
    c = alert("Other", instance="c")
    c_resolved = alert("Other", instance="c", status="resolved", ends=ends)
    bodies = [
        webhook(a, b),  # 2 new: incident 1 opens
        webhook(a, b),  # 2 duplicates
        webhook(changed, b),  # 1 updated (annotations), 1 duplicate
        webhook(a_resolved, b),  # 1 resolved, 1 duplicate; b still fires
        webhook(changed),  # stale: a firing copy of a resolved alert
        webhook(c, group="Other"),  # 1 new: incident 2 opens
        webhook(c_resolved, group="Other"),  # 1 resolved: incident 2 resolves
    ]
    answered: Counter[str] = Counter()
    for body in bodies:
        resp = await client.post("/alerts", json=body)
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        answered.update(
            {k: answer[k] for k in ("new", "duplicates", "updated", "resolved", "stale")}
        )
    assert (await client.post("/alerts", json={"version": "4"})).status == 422
    too_many = webhook(*(alert(instance=f"i{i}") for i in range(4)))
    assert (await client.post("/alerts", json=too_many)).status == 413

    samples = await scrape(client)
    assert answered == {"new": 3, "duplicates": 4, "updated": 1, "resolved": 2, "stale": 1}
    received = {
        outcome: value(samples, "alert_receiver_alerts_received_total", outcome=outcome)
        for outcome in ("new", "duplicate", "updated", "resolved", "stale")
    }
    assert received == {"new": 3, "duplicate": 4, "updated": 1, "resolved": 2, "stale": 1}
    requests = {
        labels: v
        for (name, labels), v in samples.items()
        if name == "alert_receiver_webhook_requests_total"
    }
    assert requests == {
        frozenset({("code", "200")}): 7,
        frozenset({("code", "422")}): 1,
        frozenset({("code", "413")}): 1,
    }
    assert value(samples, "alert_receiver_webhook_request_duration_seconds_count") == 9
    assert value(samples, "alert_receiver_webhook_request_duration_seconds_bucket", le="+Inf") == 9
    assert value(samples, "alert_receiver_open_incidents") == 1
    # The outbox's claims are write transactions too, so only a lower bound is exact.
    assert (value(samples, "alert_receiver_write_batch_size_sum") or 0) >= 7
    assert (value(samples, "alert_receiver_write_batch_duration_seconds_sum") or 0) > 0
    assert value(samples, "alert_receiver_build_info", version=version("alert-receiver")) == 1
    assert value(samples, "alert_receiver_outbox_pending") == 0
    assert value(samples, "alert_receiver_outbox_oldest_pending_age_seconds") == 0
    assert (value(samples, "process_resident_memory_bytes") or 0) > 0
    assert any(name == "python_info" for name, _ in samples)


async def test_the_answer_is_prometheus_text_format(client: Client) -> None:
    resp = await client.get("/metrics")
    assert resp.content_type == "text/plain"
    assert resp.charset == "utf-8"
    assert resp.headers["Content-Type"].split(";")[1].strip() in ("version=0.0.4", "version=1.0.0")
    head = await client.head("/metrics")
    assert head.status == 200


async def test_a_delivery_is_counted_by_channel_and_outcome(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    client = await make_receiver(channel(json_sink.url()))
    assert (await client.post("/alerts", json=webhook(alert()))).status == 200
    await eventually(lambda: len(json_sink.received) == 1, "the message")

    async def counted() -> bool:
        samples = await scrape(client)
        return (
            value(
                samples, "alert_receiver_notifications_total", channel="chat", outcome="delivered"
            )
            == 1
            and value(samples, "alert_receiver_outbox_pending") == 0
        )

    await eventually(counted, "the delivery counted and the outbox measured empty")
    samples = await scrape(client)
    sends = "alert_receiver_notification_send_duration_seconds"
    assert value(samples, f"{sends}_count", channel="chat") == 1
    assert (value(samples, f"{sends}_sum", channel="chat") or 0) > 0
    assert value(samples, "alert_receiver_breaker_state", channel="chat") == 0
    failures = [
        labels
        for (name, labels), v in samples.items()
        if name == "alert_receiver_notifications_total" and ("outcome", "delivered") not in labels
    ]
    assert failures == []


async def test_breaker_state_goes_closed_open_half_open_closed_and_the_outbox_waits(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    """Every send takes 0.3 s, so each state lasts long enough to be scraped: two failures
    open the breaker for 1 s (the notification waits meanwhile), then the probe goes
    (half-open) and succeeds (closed)."""
    json_sink.status, json_sink.delay = 500, 0.3
    client = await make_receiver(
        channel(json_sink.url())
        + """
delivery:
  backoff: 20ms
  max_backoff: 20ms
  poll_interval: 20ms
  breaker_failures: 2
  breaker_cooldown: 1s
  concurrency: 1
"""
    )
    assert (await client.post("/alerts", json=webhook(alert()))).status == 200
    states: list[float] = []
    deadline = time.monotonic() + 20
    while not states or states[-1] != 0 or len(states) < 4:
        assert time.monotonic() < deadline, f"breaker states seen: {states}"
        samples = await scrape(client)
        state = value(samples, "alert_receiver_breaker_state", channel="chat")
        if state is not None and (not states or states[-1] != state):
            states.append(state)
        if state == 2:
            json_sink.status = 200  # the probe will succeed
            assert value(samples, "alert_receiver_outbox_pending") == 1
            assert (value(samples, "alert_receiver_outbox_oldest_pending_age_seconds") or 0) > 0
        await asyncio.sleep(0.05)
    assert states == [0, 2, 1, 0]
    attempts = "alert_receiver_notifications_total"

    async def probe_counted() -> bool:
        # The breaker closes as the probe's answer arrives; the attempt is counted once
        # it is recorded, a moment later.
        samples = await scrape(client)
        return value(samples, attempts, channel="chat", outcome="delivered") is not None

    await eventually(probe_counted, "the probe's attempt counted")
    samples = await scrape(client)
    assert value(samples, attempts, channel="chat", outcome="failed") == 2
    assert value(samples, attempts, channel="chat", outcome="delivered") == 1


async def test_a_scrape_answers_while_the_database_is_away(
    aiohttp_client: Callable[..., Awaitable[Client]], postgres_url: str, fault_proxy: FaultProxy
) -> None:
    """Open incidents are left out (unknown, not stale); the rest is served in time."""
    settings = Settings(database_url=fault_proxy.url(postgres_url), database_timeout=1.0)
    client = await aiohttp_client(create_app(settings))
    assert (await client.post("/alerts", json=webhook(alert()))).status == 200
    assert value(await scrape(client), "alert_receiver_open_incidents") == 1

    await fault_proxy.set("blackhole")
    started = time.monotonic()
    samples = await scrape(client)
    assert time.monotonic() - started < 4
    assert value(samples, "alert_receiver_open_incidents") is None
    assert value(samples, "alert_receiver_webhook_requests_total", code="200") == 1
    await fault_proxy.set("forward")
    await eventually(
        lambda: _open_incidents_back(client), "the count back once the database is", 10
    )


async def _open_incidents_back(client: Client) -> bool:
    return value(await scrape(client), "alert_receiver_open_incidents") == 1


async def test_refusals_before_the_handler_count_as_webhook_answers(
    make_receiver: MakeReceiver, monkeypatch: Any
) -> None:
    """A webhook turned away by auth never reaches the handler; it is still an answer
    Alertmanager got, and a run of them is what the webhook-errors alert looks for."""
    monkeypatch.setenv("AM_TOKEN", "am-token-0123456789")
    client = await make_receiver("auth:\n  webhook:\n    bearer_token: ${AM_TOKEN}\n")
    assert (await client.post("/alerts", json=webhook(alert()))).status == 401
    right = {"Authorization": "Bearer am-token-0123456789"}
    assert (await client.post("/alerts", json=webhook(alert()), headers=right)).status == 200
    samples = await scrape(client)
    assert value(samples, "alert_receiver_webhook_requests_total", code="401") == 1
    assert value(samples, "alert_receiver_webhook_requests_total", code="200") == 1


async def test_heartbeats_are_seen_on_metrics(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    client = await make_receiver(
        channel(json_sink.url())
        + "heartbeats:\n  - match: ['alertname=\"Watchdog\"']\n    timeout: 1s\n"
        "    channels: [chat]\n"
    )
    before = time.time()
    assert (await client.post("/alerts", json=webhook(alert("Watchdog"), group="W"))).status == 200

    async def missing() -> bool:
        return (
            value(await scrape(client), "alert_receiver_heartbeat_missing", heartbeat="Watchdog")
            == 1
        )

    await eventually(missing, "the heartbeat overdue on /metrics", 10)
    samples = await scrape(client)
    seen = value(
        samples, "alert_receiver_heartbeat_last_seen_timestamp_seconds", heartbeat="Watchdog"
    )
    assert seen is not None
    assert before - 1 <= seen <= time.time()
    # The receiver's own HeartbeatMissing alert is not an alert Alertmanager sent.
    assert value(samples, "alert_receiver_alerts_received_total", outcome="new") == 1
    assert (await client.post("/alerts", json=webhook(alert("Watchdog"), group="W"))).status == 200

    async def back() -> bool:
        return (
            value(await scrape(client), "alert_receiver_heartbeat_missing", heartbeat="Watchdog")
            == 0
        )

    await eventually(back, "the heartbeat back on /metrics", 10)
