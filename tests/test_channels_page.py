"""The channels page and GET /api/v1/channels, and a test message per channel, on both
databases: real Apprise deliveries into a json:// sink, and a channel whose service is
down (nothing listens on its port) with secrets in its URL that must never show."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine as create_sync_engine

from receiver.notify.policy import Breaker
from receiver.observe import BreakerState
from receiver.store import reads, schema
from receiver.store.engine import create_engine
from tests.conftest import Client, MakeReceiver
from tests.pagehelp import only_our_script
from tests.payloads import alert, webhook
from tests.sinks import JsonSink, eventually, free_port

PATH_SECRET = "tok-Sup3rSecretPath"
HEADER_SECRET = "hdr-S3cretValue"
SECRETS = (PATH_SECRET, HEADER_SECRET)


def config(sink: JsonSink) -> str:
    down = f"json://127.0.0.1:{free_port()}/{PATH_SECRET}?+X-Api-Key={HEADER_SECRET}"
    return f"""
channels:
  chat: "{sink.url()}"
  pager: "{down}"
  quiet: "{sink.url("quiet")}"
routes:
  - match: ['severity="critical"']
    channels: [pager]
    continue: true
    repeat_interval: 4h
  - channels: [chat, pager]
    send_resolved: false
    fallback: quiet
    title: "{{{{ incident.name }}}} ({{{{ firing|length }}}})"
"""


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


async def channels(client: Client) -> dict[str, Any]:
    resp = await client.get("/api/v1/channels")
    assert resp.status == 200, await resp.text()
    assert_no_secret(await resp.text())
    body: dict[str, Any] = await resp.json()
    return body


def by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in body["channels"]}


async def pager_failing(client: Client) -> bool:
    pager = by_name(await channels(client))["pager"]
    return bool(pager["failures24h"] >= 3 and pager["breaker"] != "closed")


@pytest.fixture
async def busy(make_receiver: MakeReceiver, json_sink: JsonSink) -> Client:
    """A receiver whose chat channel delivered and whose pager channel keeps failing."""
    client = await make_receiver(config(json_sink))
    resp = await client.post("/alerts", json=webhook(alert()))
    assert resp.status == 200, await resp.text()
    await eventually(lambda: len(json_sink.received) == 1, "the message to chat")
    await eventually(lambda: pager_failing(client), "the pager's failures and open breaker")
    return client


async def test_the_api_lists_channels_outcomes_breakers_and_routes(busy: Client) -> None:
    body = await channels(busy)
    found = by_name(body)
    assert list(found) == ["chat", "pager", "quiet"]
    chat, pager, quiet = found["chat"], found["pager"], found["quiet"]
    assert chat["urls"] == [re.sub(r"/hook$", "/***", chat["urls"][0])]
    assert chat["lastOutcome"] == "delivered"
    assert chat["failures24h"] == 0
    assert chat["breaker"] == "closed"
    assert datetime.fromisoformat(chat["lastAt"]) <= datetime.now(UTC)
    assert pager["urls"][0].startswith("json://127.0.0.1:")
    assert pager["urls"][0].endswith("/***")
    assert pager["lastOutcome"] == "failed"
    assert pager["breaker"] in ("open", "half-open")
    assert quiet == {**quiet, "lastOutcome": None, "lastAt": None, "failures24h": 0}
    assert quiet["breaker"] == "closed"
    assert body["routes"] == [
        {
            "index": 0,
            "matchers": ['severity="critical"'],
            "channels": ["pager"],
            "continue": True,
            "sendResolved": True,
            "repeatInterval": "4h",
            "fallback": None,
            "title": None,
            "body": None,
        },
        {
            "index": 1,
            "matchers": [],
            "channels": ["chat", "pager"],
            "continue": False,
            "sendResolved": False,
            "repeatInterval": None,
            "fallback": "quiet",
            "title": "{{ incident.name }} ({{ firing|length }})",
            "body": None,
        },
    ]


async def test_a_test_message_through_the_api(busy: Client, json_sink: JsonSink) -> None:
    resp = await busy.post("/api/v1/channels/chat/test")
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert answer["channel"] == "chat"
    assert answer["ok"] is True
    assert answer["status"] == "delivered"
    assert answer["error"] is None
    assert [s["ok"] for s in answer["services"]] == [True]
    assert json_sink.received[-1]["title"] == "[TEST] alert-receiver: channel chat"
    assert "the channel works" in json_sink.received[-1]["message"]

    resp = await busy.post("/api/v1/channels/pager/test")
    assert resp.status == 200
    text = await resp.text()
    assert_no_secret(text)
    failed = await resp.json()
    assert failed["ok"] is False
    assert failed["status"] == "failed"
    assert failed["error"]
    assert failed["services"][0]["url"].endswith("/***")

    missing = await busy.post("/api/v1/channels/nope/test")
    assert missing.status == 404
    assert "GET /api/v1/channels" in (await missing.json())["error"]


async def page(client: Client, path: str = "/channels") -> str:
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert_no_secret(html)
    assert " style=" not in html
    only_our_script(html)
    return html


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def test_the_page_shows_channels_and_routes(busy: Client) -> None:
    html = await page(busy)
    for name in ("chat", "pager", "quiet"):
        assert f"<strong>{name}</strong>" in html
        assert f'action="/channels/{name}/test"' in html
    assert "delivered" in html
    assert "never sent" in html
    assert re.search(r'<span class="flag">(open|half-open)</span>', html)
    assert "<code>severity=&#34;critical&#34;</code>" in html
    assert "repeat every 4h" in html
    assert "fallback quiet" in html
    assert "continue" in html
    assert "{{ incident.name }} ({{ firing|length }})" in html  # its own title, shown as text
    assert '<a href="/channels">Channels</a>' in html


async def test_the_form_sends_and_the_page_shows_the_outcome(
    busy: Client, json_sink: JsonSink
) -> None:
    token = csrf_of(await page(busy))
    before = len(json_sink.received)
    resp = await busy.post("/channels/chat/test", data={"csrf": token}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/channels?tested=chat&ok=1"
    assert len(json_sink.received) == before + 1
    assert "Test message to <strong>chat</strong> delivered." in await page(
        busy, resp.headers["Location"]
    )

    resp = await busy.post("/channels/pager/test", data={"csrf": token}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/channels?tested=pager&ok=0"
    shown = await page(busy, resp.headers["Location"])
    assert "Test message to <strong>pager</strong> failed." in shown


async def test_the_form_is_refused_without_the_token_or_for_an_unknown_channel(
    busy: Client, json_sink: JsonSink
) -> None:
    token = csrf_of(await page(busy))
    before = len(json_sink.received)
    for data in ({}, {"csrf": "x" * 43}, {"csrf": ""}):
        resp = await busy.post("/channels/chat/test", data=data, allow_redirects=False)
        assert resp.status == 403, data
        assert "Form expired" in await resp.text()
    resp = await busy.post("/channels/chat/test", data=b"\xff\xfe", allow_redirects=False)
    assert resp.status == 403
    assert len(json_sink.received) == before  # nothing was sent
    resp = await busy.post("/channels/nope/test", data={"csrf": token}, allow_redirects=False)
    assert resp.status == 404
    assert "No channel “nope”" in await resp.text()


async def test_a_made_up_notice_is_not_shown(busy: Client) -> None:
    assert "Test message to" not in await page(busy, "/channels?tested=nope&ok=1")


async def test_without_channels_the_page_says_how_to_add_them(make_receiver: MakeReceiver) -> None:
    client = await make_receiver("routes: []\n")
    html = await page(client)
    assert "No channels configured" in html
    assert "No routes" in html
    assert await channels(client) == {"channels": [], "routes": []}


def test_the_breaker_state_is_read_without_registering_the_channel() -> None:
    heard: list[tuple[str, BreakerState]] = []
    breaker = Breaker(2, cooldown=timedelta(seconds=60))
    breaker.changed = lambda channel, state: heard.append((channel, state))
    assert breaker.state_of("chat") is BreakerState.CLOSED
    assert heard == []
    now = datetime.now(UTC)
    breaker.record("chat", False, now)
    breaker.record("chat", False, now)
    assert breaker.state_of("chat") is BreakerState.OPEN
    assert BreakerState.HALF_OPEN.label == "half-open"


def _plan(url: str, statement: Any) -> str:
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            sql = str(
                statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            )
            return "\n".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    finally:
        engine.dispose()


async def test_the_reads_walk_indexes_not_the_history(tmp_path: Path) -> None:
    """SQLite's planner (Postgres plans from statistics, so a small table says nothing)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}")
    await schema.upgrade(engine)
    await engine.dispose()
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    last = _plan(url, reads._last_attempt("chat"))
    assert "ix_notifications_channel_id (channel=?)" in last, last
    assert "ix_notification_attempts_notification_id_id (notification_id=?)" in last, last
    assert "TEMP B-TREE" not in last, last
    failures = _plan(url, reads._failures_since(["chat", "pager"], datetime.now(UTC)))
    index = "ix_notification_attempts_channel_started_at (channel=? AND started_at>?)"
    assert index in failures, failures


async def test_0011_gives_attempts_already_logged_their_channel(database_url: str) -> None:
    engine = create_engine(database_url)
    at = "2026-11-26 10:00:00+00:00"
    try:
        await schema.upgrade(engine, "0008")
        async with engine.begin() as conn:
            for sql in (
                "INSERT INTO incidents (id, group_hash, receiver, group_key, status, "
                "group_labels, common_labels, common_annotations, opened_at, last_received_at) "
                f"VALUES (1, 'h', 'r', 'k', 'open', '{{}}', '{{}}', '{{}}', '{at}', '{at}')",
                "INSERT INTO notifications (id, incident_id, channel, kind, change, status, "
                f"created_at, due_at) VALUES (7, 1, 'pager', 'change', '{{}}', 'failed', "
                f"'{at}', '{at}')",
                "INSERT INTO notification_attempts (notification_id, started_at, seconds, "
                f"outcome, services, replica) VALUES (7, '{at}', 0.1, 'failed', '[]', 'r1')",
            ):
                await conn.exec_driver_sql(sql)
        await schema.upgrade(engine)
        since = datetime(2026, 11, 26, 9, tzinfo=UTC)
        async with engine.connect() as conn:
            found = await reads.channel_activity(conn, ["pager", "chat"], since)
        assert found["pager"] == reads.ChannelActivity(
            "failed", datetime(2026, 11, 26, 10, tzinfo=UTC), 1
        )
        assert found["chat"] == reads.ChannelActivity()
    finally:
        await engine.dispose()


async def test_a_channel_name_with_a_slash_gets_a_working_button(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    client = await make_receiver(f'channels:\n  "team/ops ü": "{json_sink.url()}"\nroutes: []\n')
    html = await page(client)
    action = re.search(r'<form class="channels-test" method="post" action="([^"]+)"', html)
    assert action, html
    assert action.group(1) == "/channels/team%2Fops%20%C3%BC/test"
    resp = await client.post(action.group(1), data={"csrf": csrf_of(html)}, allow_redirects=False)
    assert resp.status == 303
    assert "Test message to <strong>team/ops ü</strong> delivered." in await page(
        client, resp.headers["Location"]
    )
