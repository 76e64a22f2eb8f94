"""Heartbeats (a dead man's switch): the decision alone, then end to end on both
databases with real deliveries: a silent Watchdog opens the receiver's own incident and
tells its channels once; its return resolves it; restarts and replicas change nothing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from receiver.app import create_app
from receiver.domain.heartbeats import Heartbeat, State, Step, judge, seen, webhook
from receiver.domain.wire import Webhook
from receiver.runtime.config import load_config
from receiver.runtime.errors import ConfigError
from receiver.runtime.settings import Settings
from tests.conftest import Client
from tests.payloads import alert
from tests.payloads import webhook as am_webhook
from tests.sinks import JsonSink, eventually

MakeClient = Callable[..., Awaitable[Client]]
T = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
WATCHDOG = Heartbeat.model_validate(
    {"match": ['alertname="Watchdog"'], "timeout": "5m", "channels": ["chat"]}
)


# --- the decision ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "now", "step"),
    [
        (State(T), T + timedelta(minutes=5), Step.NOTHING),  # exactly at the timeout: not yet
        (State(T), T + timedelta(minutes=5, seconds=1), Step.MISSING),
        (State(T, missing_since=T + timedelta(minutes=5)), T + timedelta(hours=1), Step.MISSING),
        (
            State(T + timedelta(minutes=7), T + timedelta(minutes=5)),
            T + timedelta(minutes=7),
            Step.RETURNED,
        ),
    ],
)
def test_when_a_heartbeat_is_missing_and_when_it_returned(
    state: State, now: datetime, step: Step
) -> None:
    assert judge(state, timedelta(minutes=5), now) is step


def test_only_a_firing_alert_that_matches_is_a_sighting() -> None:
    firing = Webhook.model_validate(am_webhook(alert("Watchdog", severity="none")))
    resolved = Webhook.model_validate(
        am_webhook(alert("Watchdog", status="resolved", ends="2026-11-26T10:05:00Z"))
    )
    other = Webhook.model_validate(am_webhook(alert("HighLatencyP95")))
    assert seen([WATCHDOG], firing) == ["Watchdog"]
    assert seen([WATCHDOG], resolved) == []
    assert seen([WATCHDOG], other) == []


def test_the_incident_webhook_is_the_same_each_time_it_is_written() -> None:
    """Its alert starts when the heartbeat became overdue, not when it was judged: the
    second copy (another replica, a retry) is a duplicate, not a new incident."""
    state = State(T)
    first = webhook(WATCHDOG, state, T + timedelta(minutes=6))
    again = webhook(WATCHDOG, state, T + timedelta(minutes=9))
    assert first["alerts"][0]["startsAt"] == again["alerts"][0]["startsAt"]
    assert first["alerts"][0]["startsAt"].startswith("2026-12-02T10:05:00")
    hook = Webhook.model_validate(first)
    assert hook.alerts[0].labels == {
        "alertname": "HeartbeatMissing",
        "heartbeat": "Watchdog",
        "severity": "critical",
    }
    assert "heartbeat missing: Watchdog, last seen 2026-12-02 10:00:00 UTC" in str(
        hook.alerts[0].annotations
    )
    back = webhook(WATCHDOG, State(T + timedelta(minutes=8), T + timedelta(minutes=5)), T)
    assert back["alerts"][0]["status"] == "resolved"


@pytest.mark.parametrize(
    ("section", "line", "needle"),
    [
        (
            "  - match: ['alertname=\"W\"']\n    timeout: 0s\n    channels: [chat]\n",
            5,
            "longer than 0s",
        ),
        (
            "  - match: ['alertname=\"W\"']\n    timeout: 1m\n    channels: [pager]\n",
            6,
            "unknown channel 'pager'",
        ),
        ("  - match: []\n    timeout: 1m\n    channels: [chat]\n", 4, "at least 1"),
        (
            "  - match: ['alertname=\"W\"']\n    timeout: 1m\n    channels: [chat]\n" * 2,
            7,
            "a second heartbeat named 'W'",
        ),
    ],
)
def test_heartbeat_mistakes_name_file_line_and_fix(
    tmp_path: Path, section: str, line: int, needle: str
) -> None:
    path = tmp_path / "receiver.yml"
    path.write_text(f'channels:\n  chat: "json://127.0.0.1:9/x"\nheartbeats:\n{section}')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:{line}: "), problem
    assert needle in problem


# --- end to end -----------------------------------------------------------------------


def config(sink: JsonSink, timeout: str = "1s") -> str:
    """A catch-all route too: the Watchdog itself must still reach nobody."""
    return f"""
channels:
  chat: "{sink.url()}"
routes:
  - channels: [chat]
heartbeats:
  - match: ['alertname="Watchdog"']
    timeout: {timeout}
    channels: [chat]
delivery:
  poll_interval: 50ms
  backoff: 50ms
"""


def watchdog() -> dict[str, Any]:
    return am_webhook(alert("Watchdog", severity="none"), group="Watchdog")


_files = itertools.count()


async def start(
    aiohttp_client: MakeClient, settings: Settings, tmp_path: Path, text: str, **update: Any
) -> Client:
    path = tmp_path / f"receiver-{next(_files)}.yml"
    path.write_text(text)
    return await aiohttp_client(create_app(settings.model_copy(update={"config": path, **update})))


async def open_incidents(client: Client) -> list[dict[str, Any]]:
    resp = await client.get("/api/v1/incidents", params={"status": "open"})
    return list((await resp.json())["incidents"])


async def test_a_silent_watchdog_is_told_once_and_its_return_resolves_it(
    aiohttp_client: MakeClient, settings: Settings, tmp_path: Path, json_sink: JsonSink
) -> None:
    client = await start(aiohttp_client, settings, tmp_path, config(json_sink))
    assert (await client.post("/alerts", json=watchdog())).status == 200
    await eventually(lambda: len(json_sink.received) > 0, "the heartbeat message", 10)
    [message] = json_sink.received
    assert message["title"] == "[FIRING:1] HeartbeatMissing (Watchdog, critical)"
    assert "heartbeat missing: Watchdog, last seen" in message["message"]
    incidents = await open_incidents(client)
    assert [i["receiver"] for i in incidents] == ["alert-receiver", "team-a"]  # its own, Watchdog's
    await asyncio.sleep(1.0)  # judged again several times: duplicates, no second message
    assert len(json_sink.received) == 1

    assert (await client.post("/alerts", json=watchdog())).status == 200  # it is back
    await eventually(lambda: len(json_sink.received) == 2, "the resolved message", 10)
    assert json_sink.titles()[1] == "[RESOLVED] HeartbeatMissing (Watchdog, critical)"
    assert [i["receiver"] for i in await open_incidents(client)] == ["team-a"]
    assert len(json_sink.received) == 2  # the Watchdog's own incident told nobody


async def test_a_heartbeat_that_keeps_coming_raises_nothing(
    aiohttp_client: MakeClient, settings: Settings, tmp_path: Path, json_sink: JsonSink
) -> None:
    client = await start(aiohttp_client, settings, tmp_path, config(json_sink, "2s"))
    for _ in range(8):
        assert (await client.post("/alerts", json=watchdog())).status == 200
        await asyncio.sleep(0.5)
    assert json_sink.hits == 0
    assert [i["receiver"] for i in await open_incidents(client)] == ["team-a"]


async def test_the_last_sighting_survives_a_restart_and_replicas_tell_once(
    aiohttp_client: MakeClient, settings: Settings, tmp_path: Path, json_sink: JsonSink
) -> None:
    """Seen by one process, which then stops; two new ones on the same database judge
    it from the stored sighting (not from their own start), and one message goes out."""
    first = await start(aiohttp_client, settings, tmp_path, config(json_sink, "1500ms"))
    assert (await first.post("/alerts", json=watchdog())).status == 200
    await first.close()
    replicas = [
        await start(aiohttp_client, settings, tmp_path, config(json_sink, "1500ms"), migrate=False)
        for _ in range(2)
    ]
    await eventually(lambda: len(json_sink.received) > 0, "the heartbeat message", 10)
    await asyncio.sleep(1.0)  # both replicas judge several times meanwhile
    assert len(json_sink.received) == 1
    assert (
        len([i for i in await open_incidents(replicas[0]) if i["receiver"] == "alert-receiver"])
        == 1
    )
