"""Secrets (channel URL credentials and ${VAR} values) never appear in logs, API or errors."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from receiver.notify.channels import given_secrets, secrets_of, shown_url
from receiver.runtime.config import load_config
from receiver.runtime.secrets import MIN_SECRET
from receiver.web.keys import MASKER
from tests.conftest import MakeReceiver
from tests.payloads import alert, webhook
from tests.sinks import JsonSink, eventually, free_port

TOKEN = "tok-Zq8Xv2Lm9"
PASSWORD = "pw-Hk3Rt7Yy"


def _config(port: int) -> str:
    return f"""
channels:
  chat: "json://robot:{PASSWORD}@127.0.0.1:{port}/hook/${{HOOK_TOKEN}}"
routes:
  - channels: [chat]
delivery:
  backoff: 50ms
  max_backoff: 50ms
  poll_interval: 50ms
  max_attempts: 2
"""


def _assert_clean(text: str) -> None:
    assert TOKEN not in text
    assert PASSWORD not in text


async def test_secrets_stay_out_of_api_and_logs(
    make_receiver: MakeReceiver, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    client = await make_receiver(_config(free_port()))
    summary = await (await client.post("/alerts", json=webhook(alert()))).json()

    async def failed() -> bool:
        body = await (await client.get("/api/v1/notifications")).json()
        return [n["status"] for n in body["notifications"]] == ["failed"]

    await eventually(failed, "the notification to fail")
    notifications = await (await client.get("/api/v1/notifications")).text()
    incident = await (await client.get(f"/api/v1/incidents/{summary['incidentId']}")).text()
    [sent] = json.loads(notifications)["notifications"]
    assert sent["lastError"]
    shown = sent["attempts"][0]["services"][0]["url"]
    assert re.fullmatch(r"json://127\.0\.0\.1:\d+/\*\*\*", shown), shown  # scheme, host
    for text in (notifications, incident, caplog.text):
        _assert_clean(text)
    assert "giving up" in caplog.text


def test_serve_logs_no_secret_even_at_debug(tmp_path: Path) -> None:
    config = tmp_path / "receiver.yml"
    config.write_text(_config(free_port()))
    env = {**os.environ, "HOOK_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1", "--port", "0",
            "--config", str(config), "--log-level", "debug",
            "--database-url", f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        base = None
        deadline = time.monotonic() + 30
        while base is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if "listening on http://" in line:
                base = line.split("listening on ")[1].split(" ")[0]
        assert base, "serve did not start"
        import urllib.request

        request = urllib.request.Request(
            f"{base}/alerts",
            data=json.dumps(webhook(alert())).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).read()
        time.sleep(1.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.stderr.read()
        proc.wait(timeout=10)
    assert "giving up" in output
    _assert_clean(output)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("json://127.0.0.1:9/hook/tok-Secret", "json://127.0.0.1:9/***"),
        ("json://u:pw@hooks.example.com/?+X-Token=tok-Secret", "json://hooks.example.com/***"),
        ("slack://T1/B2/C3", "slack://T1/***"),
        ("mailto://smtp.example.com", "mailto://smtp.example.com"),
        ("not a url", "(invalid URL)"),
    ],
)
def test_channel_urls_are_shown_as_scheme_and_host(url: str, shown: str) -> None:
    assert shown_url(url) == shown


async def test_secrets_of_a_reloaded_config_are_masked(
    make_receiver: MakeReceiver,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    client = await make_receiver(_config(free_port()))
    fresh = "tok-Reloaded42"
    monkeypatch.setenv("HOOK_TOKEN", fresh)
    # The same file, a new value behind ${HOOK_TOKEN}.
    assert (await client.post("/-/reload")).status == 200
    assert client.app[MASKER](f"x {fresh} y") == "x *** y"
    await client.post("/alerts", json=webhook(alert()))

    async def failed() -> bool:
        body = await (await client.get("/api/v1/notifications")).json()
        return [n["status"] for n in body["notifications"]] == ["failed"]

    await eventually(failed, "the notification to fail")
    notifications = await (await client.get("/api/v1/notifications")).text()
    for text in (notifications, caplog.text):
        assert fresh not in text


def test_a_secret_too_short_to_mask_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SHORT", "ab")
    config = tmp_path / "receiver.yml"
    config.write_text('channels:\n  chat: "json://u:${SHORT}@127.0.0.1:9/hook"\n')
    with caplog.at_level(logging.WARNING, logger="receiver.runtime.config"):
        load_config(config)
    assert f"{config}:2: ${{SHORT}} is 2 characters long" in caplog.text


PATH_TOKEN = "SECRETTOKEN123"
HEADER_TOKEN = "hdr-Qw7Er9Ty"


async def test_tokens_apprise_shows_stay_out_of_debug_logs_of_a_send(
    make_receiver: MakeReceiver, json_sink: JsonSink, caplog: pytest.LogCaptureFixture
) -> None:
    # Apprise's privacy form shows a json:// path and headers, and it logs URLs, payloads
    # and the POST URL at debug level; so do urllib3 and the sink's access log.
    caplog.set_level(logging.DEBUG)
    url = json_sink.url(f"hooks/{PATH_TOKEN}") + f"?+X-Token={HEADER_TOKEN}"
    client = await make_receiver(f'channels:\n  chat: "{url}"\nroutes:\n  - channels: [chat]\n')
    await client.post("/alerts", json=webhook(alert()))
    await eventually(lambda: len(json_sink.received) == 1, "the message")
    assert json_sink.received[0]["path"] == f"/hooks/{PATH_TOKEN}"  # it did go there
    assert any("JSON POST URL" in r.getMessage() for r in caplog.records)  # debug was on
    for record in caplog.records:
        text = f"{record.msg} {record.args} {record.getMessage()}"
        assert PATH_TOKEN not in text, text
        assert HEADER_TOKEN not in text, text


@pytest.mark.parametrize(
    ("url", "secret", "kept"),
    [
        (f"json://127.0.0.1:9/hooks/{PATH_TOKEN}", PATH_TOKEN, "127.0.0.1"),
        (f"json://127.0.0.1:9/?+X-Token={HEADER_TOKEN}", HEADER_TOKEN, "X-Token"),
        ("json://h:9/?%2BAuthorization=Bearer%20tok-Ab12", "Bearer%20tok-Ab12", "Authorization"),
        ("json://h:9/?+Authorization=Bearer%20tok-Ab12", "Bearer tok-Ab12", "h"),
        ("xml://h:9/p?-access_token=tok-Cd34&method=GET", "tok-Cd34", "GET"),
        ("json://h:9/?:api_key=tok-Ef56", "tok-Ef56", "api_key"),
        ("mailto://u:pw-Gh78@smtp.example.com?to=a@example.com", "pw-Gh78", "a@example.com"),
    ],
)
def test_secrets_of_a_url_include_what_its_service_sends_as_given(
    url: str, secret: str, kept: str
) -> None:
    found = secrets_of([url])
    assert secret in found
    assert kept not in found
    assert given_secrets(url) <= found
    assert all(len(s) >= MIN_SECRET for s in found)
