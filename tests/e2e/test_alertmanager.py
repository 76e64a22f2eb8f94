"""End to end with the real Alertmanager binary delivering to a real receiver.

Alerts are pushed into Alertmanager through its API v2, exactly as Prometheus does;
Alertmanager groups them and calls the receiver's webhook. Runs on SQLite and Postgres.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from receiver.app import create_app
from receiver.domain.wire import fingerprint
from receiver.runtime.settings import Settings
from tests.conftest import Client, MakeReceiver, require
from tests.processes import wait_ready
from tests.proxy import FaultProxy, Mode
from tests.sinks import JsonSink, SmtpSink

pytestmark = pytest.mark.e2e

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

CONFIG = """\
route:
  receiver: alert-receiver
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: alert-receiver
    webhook_configs:
      - url: {url}
        send_resolved: true
        max_alerts: 0
{http_config}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _launch(
    workdir: Path, webhook_url: str, port: int, http_config: str
) -> subprocess.Popen[bytes]:
    assert BINARY is not None
    workdir.mkdir(parents=True)
    config = CONFIG.format(url=webhook_url, http_config=http_config)
    (workdir / "alertmanager.yml").write_text(config)
    with (workdir / "alertmanager.log").open("w") as log:
        return subprocess.Popen(
            [
                BINARY,
                f"--config.file={workdir / 'alertmanager.yml'}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@asynccontextmanager
async def alertmanager(
    workdir: Path, webhook_url: str, http_config: str = ""
) -> AsyncIterator[str]:
    """One Alertmanager, clustering off, on a free loopback port; yields its base URL.
    `http_config`: the webhook's http_config block (credentials), indented to sit in it."""
    require(BINARY is not None, "prometheus-alertmanager is not installed (apt-get install it)")
    port = _free_port()
    proc = await asyncio.to_thread(_launch, workdir, webhook_url, port, http_config)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(f"{base}/-/ready", proc, workdir / "alertmanager.log")
        yield base
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 10)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def push(base: str, alerts: list[dict[str, Any]]) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/api/v2/alerts", json=alerts) as resp,
    ):
        assert resp.status == 200, await resp.text()


def prom_alert(instance: str, starts: datetime, ends: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "labels": {
            "alertname": "HighLatencyP95Critical",
            "severity": "critical",
            "instance": instance,
            "job": "mistralrs",
        },
        "annotations": {"summary": f"P95 latency above 500ms on {instance}"},
        "startsAt": _rfc3339(starts),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
    }
    if ends is not None:
        body["endsAt"] = _rfc3339(ends)
    return body


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def stored_alerts(client: Client) -> list[dict[str, Any]]:
    body = await (await client.get("/api/v1/alerts", params={"limit": "1000"})).json()
    found: list[dict[str, Any]] = body["alerts"]
    return found


async def stored_incidents(client: Client) -> list[dict[str, Any]]:
    body = await (await client.get("/api/v1/incidents", params={"limit": "1000"})).json()
    found: list[dict[str, Any]] = body["incidents"]
    return found


async def fire_and_resolve(client: Client, bases: list[str]) -> None:
    started = datetime.now(UTC).replace(microsecond=123456) - timedelta(minutes=1)
    firing = [prom_alert(f"api-{i}", started) for i in range(3)]
    for base in bases:
        await push(base, firing)

    async def all_firing() -> bool:
        found = await stored_alerts(client)
        return len(found) == 3 and all(a["status"] == "firing" for a in found)

    await wait_for(all_firing, "three firing alerts")
    for stored in await stored_alerts(client):
        # Alertmanager computed these fingerprints; ours must agree on the same labels.
        assert stored["fingerprint"] == fingerprint(stored["labels"])
        assert stored["startsAt"] == _rfc3339(started)
        assert stored["endsAt"] is None

    ended = datetime.now(UTC)
    resolved = [prom_alert(f"api-{i}", started, ended) for i in range(3)]
    for base in bases:
        await push(base, resolved)

    async def all_resolved() -> bool:
        return all(a["status"] == "resolved" for a in await stored_alerts(client))

    await wait_for(all_resolved, "three resolved alerts")
    # Let any further deliveries (retries, the other replica) arrive before judging.
    await asyncio.sleep(1.5)

    found = await stored_alerts(client)
    assert len(found) == 3
    assert {a["labels"]["instance"] for a in found} == {"api-0", "api-1", "api-2"}
    for a in found:
        assert a["endInferred"] is False
        detail = await (await client.get(f"/api/v1/alerts/{a['id']}")).json()
        assert [e["kind"] for e in detail["events"]] == ["fired", "resolved"]
    [incident] = await stored_incidents(client)
    assert incident["status"] == "resolved"
    assert incident["receiver"] == "alert-receiver"
    assert incident["groupKey"] == '{}:{alertname="HighLatencyP95Critical"}'
    assert incident["alertCounts"] == {"firing": 0, "resolved": 3}


async def test_alertmanager_delivers_firing_then_resolved(client: Client, tmp_path: Path) -> None:
    url = str(client.make_url("/alerts"))
    async with alertmanager(tmp_path / "am", url) as base:
        await fire_and_resolve(client, [base])


async def test_ha_pair_delivers_twice_and_every_alert_is_stored_once(
    client: Client, tmp_path: Path
) -> None:
    url = str(client.make_url("/alerts"))
    async with (
        alertmanager(tmp_path / "am-1", url) as first,
        alertmanager(tmp_path / "am-2", url) as second,
    ):
        await fire_and_resolve(client, [first, second])
    received = [a["timesReceived"] for a in await stored_alerts(client)]
    assert all(n >= 2 for n in received), received  # both replicas delivered each alert


async def test_ha_pair_through_receiver_to_chat_and_email_once_per_change(
    make_receiver: MakeReceiver, json_sink: JsonSink, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """The whole path: Prometheus-style alerts into two Alertmanagers, both delivering to
    the receiver, which sends exactly one message per incident change to each channel."""
    config = f"""
channels:
  chat: "{json_sink.url()}"
  mail: "{smtp_sink.url()}"
routes:
  - match: ['severity="critical"', 'receiver="alert-receiver"']
    channels: [chat, mail]
"""
    client = await make_receiver(config)
    url = str(client.make_url("/alerts"))
    async with (
        alertmanager(tmp_path / "am-1", url) as first,
        alertmanager(tmp_path / "am-2", url) as second,
    ):
        await fire_and_resolve(client, [first, second])
        await wait_for(
            lambda: _count(json_sink.received, smtp_sink.mailbox.messages, 2), "two messages each"
        )
        await asyncio.sleep(2)  # repeats and the other replica's copies must add nothing
    assert json_sink.titles() == [
        "[FIRING:3] HighLatencyP95Critical (critical)",
        "[RESOLVED] HighLatencyP95Critical (critical)",
    ]
    assert [m["Subject"] for m in smtp_sink.mailbox.messages] == json_sink.titles()
    assert "P95 latency above 500ms on api-1" in json_sink.received[0]["message"]


async def _count(chat: list[Any], mail: list[Any], n: int) -> bool:
    return len(chat) >= n and len(mail) >= n


async def _failed_attempts(base: str) -> float:
    """Each refused request, retries included (the `notifications_failed` counter moves
    only when Alertmanager gives up on a whole notification)."""
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as resp:
        text = await resp.text()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("alertmanager_notification_requests_failed_total")
        and 'integration="webhook"' in line
    )


@pytest.mark.parametrize("fault", ["refuse", "blackhole"])
async def test_alertmanager_retries_carry_alerts_across_a_database_outage(
    aiohttp_client: Callable[..., Awaitable[Client]],
    postgres_url: str,
    fault_proxy: FaultProxy,
    fault: Mode,
    tmp_path: Path,
) -> None:
    """The receiver's 503s during the outage are what make Alertmanager send again; once
    the database is back, the alerts arrive without anyone doing anything."""
    settings = Settings(
        database_url=fault_proxy.url(postgres_url), host="127.0.0.1", database_timeout="1s"
    )
    client = await aiohttp_client(create_app(settings))
    url = str(client.make_url("/alerts"))
    async with alertmanager(tmp_path / "am", url) as base:
        await fault_proxy.set(fault)
        started = datetime.now(UTC) - timedelta(minutes=1)
        await push(base, [prom_alert(f"api-{i}", started) for i in range(3)])

        async def refused() -> bool:
            return await _failed_attempts(base) >= 2

        await wait_for(refused, "Alertmanager to be refused twice")
        assert (await client.get("/-/ready")).status == 503
        await fault_proxy.set("forward")

        async def arrived() -> bool:
            return len(await stored_alerts(client)) == 3

        await wait_for(arrived, "the three alerts after the outage")


TOKEN = "am-token-0123456789"
BEARER = f"        http_config:\n          authorization:\n            credentials: {TOKEN}\n"
BASIC = (
    "        http_config:\n          basic_auth:\n"
    "            username: alertmanager\n            password: {password}\n"
)


@pytest.mark.parametrize(
    ("http_config", "delivered"),
    [
        (BEARER, True),
        (BASIC.format(password="am-pw-333"), True),
        (BEARER.replace(TOKEN, "not-the-token"), False),
        (BASIC.format(password="wrong"), False),
        ("", False),
    ],
    ids=["bearer", "basic", "wrong-bearer", "wrong-basic", "none"],
)
async def test_alertmanager_with_credentials_delivers_and_without_is_refused(
    aiohttp_client: Callable[..., Awaitable[Client]],
    settings: Settings,
    tmp_path: Path,
    http_config: str,
    delivered: bool,
) -> None:
    import bcrypt

    hashed = bcrypt.hashpw(b"am-pw-333", bcrypt.gensalt(4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  alertmanager: {hashed}\n")
    config = tmp_path / "receiver.yml"
    config.write_text(f"auth:\n  webhook:\n    bearer_token: {TOKEN}\n    users: [alertmanager]\n")
    update = {"config": config, "web_config_file": web}
    client = await aiohttp_client(create_app(settings.model_copy(update=update)))
    reader = {"Authorization": "Basic " + base64.b64encode(b"alertmanager:am-pw-333").decode()}
    url = str(client.make_url("/alerts"))
    async with alertmanager(tmp_path / "am", url, http_config) as base:
        await push(base, [prom_alert("api-0", datetime.now(UTC) - timedelta(minutes=1))])

        async def stored() -> bool:
            resp = await client.get("/api/v1/alerts", headers=reader)
            return len((await resp.json())["alerts"]) == 1

        async def refused() -> bool:
            return await _failed_attempts(base) >= 2

        await wait_for(
            stored if delivered else refused, "the delivery" if delivered else "refusals"
        )
        if not delivered:
            assert not await stored()
