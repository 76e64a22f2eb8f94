"""Links in messages with no configuration at all: the base is http://HOSTNAME:PORT (as
Alertmanager's own external URL defaults), so a message never carries a relative link;
--external-url replaces it. Real deliveries into a json:// sink, on both databases."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

from receiver.app import create_app
from receiver.domain.links import base_url
from receiver.runtime.settings import Settings
from tests.conftest import FAST_DELIVERY, Client
from tests.payloads import alert, webhook
from tests.sinks import JsonSink, eventually, free_port

RUNBOOK = "---\ntitle: High P95 latency\nmatch: ['alertname=\"HighLatencyP95\"']\n---\n1. Look.\n"


def test_the_external_url_wins_without_its_trailing_slash() -> None:
    assert base_url("https://alerts.example.com/", "box", 5001) == "https://alerts.example.com"
    assert base_url("https://example.com/alerts/", "box", 5001) == "https://example.com/alerts"


def test_without_one_the_base_is_the_host_name_and_port() -> None:
    assert base_url("", "box-7", 5001) == "http://box-7:5001"
    assert base_url("   ", "box-7", 8080) == "http://box-7:8080"


def test_settings_refuse_an_external_url_that_would_make_no_link() -> None:
    for wrong in ("alerts.example.com", "ftp://alerts.example.com", "javascript:alert(1)"):
        with pytest.raises(ValidationError, match="http:// or https://"):
            Settings(external_url=wrong)


def test_settings_base_names_this_host_and_the_port() -> None:
    assert Settings(port=6001).base_url() == f"http://{socket.gethostname()}:6001"
    assert Settings(external_url="https://a.example.com/").base_url() == "https://a.example.com"


async def _receiver(
    aiohttp_client: Callable[..., Awaitable[Client]],
    settings: Settings,
    tmp_path: Path,
    sink: JsonSink,
    **overrides: Any,
) -> tuple[Client, int]:
    """A receiver listening on the port its settings name, as `serve` does."""
    books = tmp_path / "books"
    books.mkdir()
    (books / "latency.md").write_text(RUNBOOK)
    config = tmp_path / "receiver.yml"
    config.write_text(
        f'runbooks_dir: {books}\nchannels:\n  chat: "{sink.url()}"\n'
        f"routes:\n  - channels: [chat]\n{FAST_DELIVERY}"
    )
    port = free_port()
    app = create_app(settings.model_copy(update={"config": config, "port": port, **overrides}))
    return await aiohttp_client(TestServer(app, host="127.0.0.1", port=port)), port


async def _first_message(client: Client, sink: JsonSink) -> tuple[int, str]:
    resp = await client.post("/alerts", json=webhook(alert()))
    assert resp.status == 200, await resp.text()
    await eventually(lambda: len(sink.received) == 1, "the opening message")
    incidents = await (await client.get("/api/v1/incidents")).json()
    return incidents["incidents"][0]["id"], sink.received[0]["message"]


async def test_a_message_links_to_this_host_and_port_without_external_url(
    aiohttp_client: Callable[..., Awaitable[Client]],
    settings: Settings,
    tmp_path: Path,
    json_sink: JsonSink,
) -> None:
    client, port = await _receiver(aiohttp_client, settings, tmp_path, json_sink)
    incident, message = await _first_message(client, json_sink)
    base = f"http://{socket.gethostname()}:{port}"
    assert f"({base}/incidents/{incident})" in message
    assert f"({base}/runbooks/latency)" in message
    assert "](/" not in message  # no relative link anywhere
    runbooks = await (await client.get("/api/v1/runbooks")).json()
    assert runbooks["runbooks"][0]["url"] == f"{base}/runbooks/latency"


async def test_the_external_url_replaces_the_default_in_messages(
    aiohttp_client: Callable[..., Awaitable[Client]],
    settings: Settings,
    tmp_path: Path,
    json_sink: JsonSink,
) -> None:
    client, _port = await _receiver(
        aiohttp_client, settings, tmp_path, json_sink, external_url="https://alerts.example.com/"
    )
    incident, message = await _first_message(client, json_sink)
    assert f"(https://alerts.example.com/incidents/{incident})" in message
    assert "(https://alerts.example.com/runbooks/latency)" in message
    assert socket.gethostname() not in message
