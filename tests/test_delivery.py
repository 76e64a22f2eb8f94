"""Notifications end to end on both databases: real Apprise deliveries into real sinks."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from sqlalchemy import select

from receiver.store import tables
from receiver.store.engine import create_engine
from tests.conftest import Client, MakeReceiver
from tests.payloads import alert, webhook
from tests.sinks import JsonSink, SmtpSink, eventually, free_port

T0 = "2026-11-26T10:00:00Z"
T1 = "2026-11-26T10:30:00Z"


def one_channel(url: str, extra_route: str = "") -> str:
    return f"""
channels:
  chat: "{url}"
routes:
{extra_route}  - channels: [chat]
"""


async def post(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post("/alerts", json=body)
    assert resp.status == 200, await resp.text()
    result: dict[str, Any] = await resp.json()
    return result


async def notifications(client: Client, **query: str) -> list[dict[str, Any]]:
    resp = await client.get("/api/v1/notifications", params={"limit": "1000", **query})
    assert resp.status == 200, await resp.text()
    found: list[dict[str, Any]] = (await resp.json())["notifications"]
    return found


async def settled(client: Client) -> bool:
    """No notification is waiting or in flight: every row is in a final state (delivered,
    failed, superseded), so nothing can be sent again and a count taken now is final."""
    return all(n["status"] not in ("pending", "sending") for n in await notifications(client))


async def test_one_message_per_change_and_none_for_repeats(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    client = await make_receiver(one_channel(json_sink.url()))
    first = await post(client, webhook(alert(instance="a")))
    assert first["notifications"] == 1
    await eventually(lambda: len(json_sink.received) == 1, "the opening message")
    assert json_sink.titles() == ["[FIRING:1] HighLatencyP95 (warning)"]
    assert "HighLatencyP95 fired" in json_sink.received[0]["message"]

    for external in ("http://am-1", "http://am-2", "http://am-1"):  # repeats and HA copies
        assert (await post(client, webhook(alert(instance="a"), external_url=external)))[
            "notifications"
        ] == 0

    await post(client, webhook(alert(instance="a"), alert(instance="b")))
    await eventually(lambda: len(json_sink.received) == 2, "the joined-alert message")
    assert json_sink.titles()[1] == "[FIRING:2] HighLatencyP95 (warning)"
    assert "1 new alert firing" in json_sink.received[1]["message"]

    await post(
        client, webhook(alert(instance="a", status="resolved", ends=T1), alert(instance="b"))
    )
    await eventually(lambda: len(json_sink.received) == 3, "the partly-resolved message")
    await post(client, webhook(alert(instance="b", status="resolved", ends=T1)))
    await eventually(lambda: len(json_sink.received) == 4, "the resolved message")
    assert json_sink.titles()[3] == "[RESOLVED] HighLatencyP95 (warning)"
    assert "fired for" in json_sink.received[3]["message"]

    await post(client, webhook(alert(instance="b", status="resolved", ends=T1)))
    await eventually(lambda: settled(client), "a quiet outbox")
    assert len(json_sink.received) == 4
    delivered = await notifications(client, status="delivered")
    assert len(delivered) == 4
    assert all(len(n["attempts"]) == 1 for n in delivered)


async def test_routes_match_labels_and_receiver_with_continue(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    config = f"""
channels:
  db-oncall: "{json_sink.url("db")}"
  audit: "{json_sink.url("audit")}"
  default: "{json_sink.url("default")}"
routes:
  - match: ['team=~"db|infra"', 'severity="critical"']
    channels: [db-oncall]
    continue: true
  - match: ['receiver="team-a"']
    channels: [audit]
  - channels: [default]
"""
    client = await make_receiver(config)
    critical_db = webhook(alert("DiskFull", severity="critical", team="db"), group="DiskFull")
    critical_db["commonLabels"] = {"alertname": "DiskFull", "severity": "critical", "team": "db"}
    await post(client, critical_db)
    other = webhook(alert("Other"), group="Other", receiver="team-b")
    await post(client, other)
    await eventually(lambda: len(json_sink.received) == 3, "three messages")
    paths = sorted((m["path"], m["title"].split("] ")[1]) for m in json_sink.received)
    assert paths == [
        ("/audit", "DiskFull (critical)"),
        ("/db", "DiskFull (critical)"),
        ("/default", "Other (warning)"),
    ]


async def test_send_resolved_false_keeps_quiet_on_resolution(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    config = f"""
channels:
  chat: "{json_sink.url()}"
routes:
  - channels: [chat]
    send_resolved: false
"""
    client = await make_receiver(config)
    await post(client, webhook(alert()))
    await eventually(lambda: len(json_sink.received) == 1, "the opening message")
    summary = await post(client, webhook(alert(status="resolved", ends=T1)))
    assert summary["notifications"] == 0
    assert summary["incidentStatus"] == "resolved"


async def test_reminder_after_repeat_interval_until_resolved(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    config = f"""
channels:
  chat: "{json_sink.url()}"
routes:
  - channels: [chat]
    repeat_interval: 1s
"""
    client = await make_receiver(config)
    await post(client, webhook(alert()))
    await eventually(lambda: len(json_sink.received) >= 2, "a reminder", seconds=10)
    assert "still firing after" in json_sink.titles()[1]
    assert "Still firing" in json_sink.received[1]["message"]
    await post(client, webhook(alert(status="resolved", ends=T1)))
    await eventually(lambda: json_sink.titles()[-1].startswith("[RESOLVED]"), "resolution")
    count = len(json_sink.received)
    await asyncio.sleep(1.5)
    assert len(json_sink.received) == count, "no reminders after the incident resolved"
    kinds = {n["kind"] for n in await notifications(client)}
    assert kinds == {"change", "reminder"}


async def test_sink_failing_then_recovering_gets_the_message_once(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    json_sink.script = [500, 503]
    client = await make_receiver(one_channel(json_sink.url()))
    await post(client, webhook(alert()))
    await eventually(lambda: len(json_sink.received) == 1, "delivery after two failures")
    await eventually(lambda: settled(client), "a quiet outbox")
    assert len(json_sink.received) == 1
    assert json_sink.hits == 3
    [sent] = await notifications(client)
    assert sent["status"] == "delivered"
    assert [a["outcome"] for a in sent["attempts"]] == ["failed", "failed", "delivered"]
    assert "500" in sent["attempts"][0]["error"]
    assert sent["attempts"][0]["services"][0]["url"].startswith("json://127.0.0.1")


async def test_dead_channel_opens_breaker_gives_up_and_uses_fallback(
    make_receiver: MakeReceiver, json_sink: JsonSink, smtp_sink: SmtpSink
) -> None:
    dead = f"json://127.0.0.1:{free_port()}/dead"
    config = f"""
channels:
  dead: "{dead}"
  mail: "{smtp_sink.url()}"
  backup: "{json_sink.url("backup")}"
routes:
  - match: ['alertname="Broken"']
    channels: [dead]
    fallback: backup
  - channels: [mail]
delivery:
  backoff: 50ms
  max_backoff: 100ms
  poll_interval: 50ms
  max_attempts: 4
  breaker_failures: 2
  breaker_cooldown: 300ms
"""
    client = await make_receiver(config)
    for i in range(3):
        await post(client, webhook(alert("Broken", instance=f"i{i}"), group=f"Broken-{i}"))
    await post(client, webhook(alert("Healthy"), group="Healthy"))
    await eventually(lambda: len(smtp_sink.mailbox.messages) == 1, "mail on the healthy channel")
    await eventually(lambda: len(json_sink.received) == 3, "three fallback messages", 30)
    failed = await notifications(client, channel="dead", status="failed")
    assert len(failed) == 3
    assert all(len(n["attempts"]) == 4 for n in failed)
    fallbacks = await notifications(client, channel="backup")
    assert {n["fallbackOf"] for n in fallbacks} == {n["id"] for n in failed}
    assert {n["kind"] for n in fallbacks} == {"fallback"}
    # The breaker spaced the attempts out: not every retry hammered the dead channel at once.
    starts = sorted(a["startedAt"] for n in failed for a in n["attempts"])
    assert len(starts) == 12
    assert smtp_sink.mailbox.messages[0]["Subject"] == "[FIRING:1] Healthy (warning)"


async def test_the_breaker_opens_leaves_the_channel_alone_probes_once_and_closes(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    """Watched from the channel's side: after `breaker_failures` failures in a row nothing
    reaches it for `breaker_cooldown`, then one probe; when the probe fails it opens
    again, when one succeeds the rest flows. One send at a time, so that the count of
    failures is exact (concurrent first attempts would all be in flight at once)."""
    json_sink.status = 500
    config = (
        one_channel(json_sink.url())
        + """
delivery:
  backoff: 20ms
  max_backoff: 20ms
  poll_interval: 20ms
  max_attempts: 50
  breaker_failures: 2
  breaker_cooldown: 1s
  concurrency: 1
"""
    )
    client = await make_receiver(config)
    for i in range(3):
        await post(client, webhook(alert(instance=f"i{i}"), group=f"G{i}"))
    await eventually(lambda: json_sink.hits >= 2, "two failures")
    opened = time.monotonic()
    await asyncio.sleep(0.6)  # well inside the cooldown; the backoff alone would allow ~30 tries
    assert json_sink.hits == 2, "the open breaker let sends through"
    await eventually(lambda: json_sink.hits == 3, "the half-open probe", 5)
    assert time.monotonic() - opened >= 0.9
    await asyncio.sleep(0.5)
    assert json_sink.hits == 3, "the failed probe must open the breaker again, not retry all"
    json_sink.status = 200
    await eventually(lambda: len(json_sink.received) == 3, "all three after a good probe", 10)
    await eventually(lambda: settled(client), "a quiet outbox")
    assert json_sink.hits == 6  # 2 failures, 1 failed probe, then 3 deliveries
    assert all(n["status"] == "delivered" for n in await notifications(client))


async def test_email_carries_title_as_subject_and_body(
    make_receiver: MakeReceiver, smtp_sink: SmtpSink
) -> None:
    client = await make_receiver(one_channel(smtp_sink.url()))
    body = webhook(
        alert(annotations={"summary": "p95 above 500ms", "runbook_url": "https://wiki/rb"})
    )
    await post(client, body)
    await eventually(lambda: len(smtp_sink.mailbox.messages) == 1, "an email")
    message = smtp_sink.mailbox.messages[0]
    assert message["Subject"] == "[FIRING:1] HighLatencyP95 (warning)"
    assert message["To"].endswith("oncall@example.com>") or "oncall@example.com" in message["To"]
    text = message.get_body(("html", "plain"))
    assert text is not None
    content = text.get_content()
    assert "p95 above 500ms" in content
    assert "https://wiki/rb" in content


async def test_restart_with_pending_notifications_delivers_each_once(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    down = await make_receiver(one_channel(f"json://127.0.0.1:{free_port()}/gone"))
    for i in range(3):
        await post(down, webhook(alert(instance=f"i{i}"), group=f"G{i}"))
    await eventually(lambda: _attempted_all(down, 3), "a failed attempt for each notification", 15)
    await down.close()

    up = await make_receiver(one_channel(json_sink.url()), migrate=False)
    await eventually(lambda: len(json_sink.received) == 3, "delivery after the restart")
    await eventually(lambda: settled(up), "a quiet outbox")
    assert sorted(_incident_numbers(json_sink)) == [1, 2, 3]


def _incident_numbers(sink: JsonSink) -> list[int]:
    return [int(re.search(r"incident #(\d+)", m["message"]).group(1)) for m in sink.received]  # type: ignore[union-attr]


async def _attempted_all(client: Client, count: int) -> bool:
    found = await notifications(client)
    return len(found) == count and all(n["attempts"] for n in found)


async def test_two_replicas_send_each_notification_once(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    config = one_channel(json_sink.url())
    first = await make_receiver(config)
    second = await make_receiver(config, migrate=False)
    bodies = [webhook(alert(instance=f"i{i}"), group=f"G{i}") for i in range(12)]
    await asyncio.gather(
        *(post(first if i % 2 else second, b) for i, b in enumerate(bodies)),
        *(post(second if i % 2 else first, b) for i, b in enumerate(bodies)),  # HA copies
    )
    await eventually(lambda: len(json_sink.received) == 12, "twelve messages")
    await eventually(lambda: settled(first), "a quiet outbox")
    assert sorted(_incident_numbers(json_sink)) == list(range(1, 13))
    sent = await notifications(first)
    assert all(len(n["attempts"]) == 1 for n in sent)  # nobody sent a row twice


async def test_failed_notification_can_be_retried(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    json_sink.status = 500
    config = (
        one_channel(json_sink.url())
        + """
delivery:
  backoff: 10ms
  max_backoff: 20ms
  poll_interval: 50ms
  max_attempts: 2
"""
    )
    client = await make_receiver(config)
    await post(client, webhook(alert()))
    await eventually(lambda: _status_is(client, "failed"), "give-up")
    [failed] = await notifications(client)
    not_yet = await client.post(f"/api/v1/notifications/{failed['id'] + 99}/retry")
    assert not_yet.status == 404
    json_sink.status = 200
    resp = await client.post(f"/api/v1/notifications/{failed['id']}/retry")
    assert resp.status == 202
    await eventually(lambda: _status_is(client, "delivered"), "delivery after retry")
    again = await client.post(f"/api/v1/notifications/{failed['id']}/retry")
    assert again.status == 409
    assert len(json_sink.received) == 1


async def _status_is(client: Client, status: str) -> bool:
    found = await notifications(client)
    return bool(found) and all(n["status"] == status for n in found)


async def test_pile_of_undelivered_changes_goes_out_as_one(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    json_sink.status = 500
    config = (
        one_channel(json_sink.url())
        + """
delivery:
  backoff: 50ms
  poll_interval: 50ms
  breaker_failures: 1
  breaker_cooldown: 1s
"""
    )
    client = await make_receiver(config)
    await post(client, webhook(alert(instance="a")))
    await eventually(lambda: json_sink.hits >= 1, "a first failed attempt")
    # The breaker is open now: what follows piles up while the channel is left alone.
    await post(client, webhook(alert(instance="a"), alert(instance="b")))
    await post(client, webhook(alert(instance="a"), alert(instance="b"), alert(instance="c")))
    json_sink.status = 200
    await eventually(lambda: len(json_sink.received) >= 1, "a delivery")
    await eventually(lambda: settled(client), "a quiet outbox")
    assert len(json_sink.received) == 1
    assert json_sink.titles() == ["[FIRING:3] HighLatencyP95 (warning)"]
    statuses = sorted(n["status"] for n in await notifications(client))
    assert statuses == ["delivered", "superseded", "superseded"]


async def test_incident_detail_lists_its_notifications(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    client = await make_receiver(one_channel(json_sink.url()))
    summary = await post(client, webhook(alert()))
    await eventually(lambda: len(json_sink.received) == 1, "the message")
    await eventually(lambda: settled(client), "a quiet outbox")
    detail = await (await client.get(f"/api/v1/incidents/{summary['incidentId']}")).json()
    [sent] = detail["notifications"]
    assert sent["status"] == "delivered"
    assert sent["title"] == "[FIRING:1] HighLatencyP95 (warning)"
    listed = await (await client.get("/api/v1/incidents")).json()
    assert listed["incidents"][0]["notificationCounts"] == {"delivered": 1}
    link = await client.get(f"/incidents/{summary['incidentId']}", allow_redirects=False)
    assert link.status == 200  # the page messages link to
    assert "status-delivered" in await link.text()


async def test_shutdown_releases_a_send_that_does_not_finish_in_time(
    make_receiver: MakeReceiver, json_sink: JsonSink, database_url: str
) -> None:
    json_sink.delay = 8.0
    client = await make_receiver(one_channel(json_sink.url()))
    await post(client, webhook(alert()))
    await eventually(lambda: json_sink.hits == 1, "the send to start")
    started = time.monotonic()
    await client.close()
    assert time.monotonic() - started < 4.0
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            status = await conn.scalar(select(tables.notifications.c.status))
    finally:
        await engine.dispose()
    assert status == "pending"  # handed back: the next start sends it


async def test_slow_channel_times_out_without_holding_up_others(
    make_receiver: MakeReceiver, json_sink: JsonSink, smtp_sink: SmtpSink
) -> None:
    json_sink.delay = 6.0
    config = f"""
channels:
  slow: "{json_sink.url()}"
  mail: "{smtp_sink.url()}"
routes:
  - channels: [slow, mail]
delivery:
  timeout: 500ms
  max_attempts: 1
  poll_interval: 50ms
"""
    client = await make_receiver(config)
    started = time.monotonic()
    await post(client, webhook(alert()))
    await eventually(lambda: len(smtp_sink.mailbox.messages) == 1, "the mail", seconds=5)
    assert time.monotonic() - started < 3
    await eventually(lambda: _slow_failed(client), "the slow channel to time out")
    [slow] = await notifications(client, channel="slow")
    assert slow["status"] == "failed"
    assert slow["attempts"][0]["outcome"] == "timeout"
    assert slow["attempts"][0]["seconds"] < 2


async def _slow_failed(client: Client) -> bool:
    return [n["status"] for n in await notifications(client, channel="slow")] == ["failed"]
