"""The command line as a user meets it: help, config mistakes, migrate, serve and stop."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from receiver.store.schema import head_revision
from tests.payloads import alert, webhook
from tests.sinks import JsonSink, free_port


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "receiver", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_console_script_is_installed() -> None:
    beside_python = Path(sys.executable).with_name("alert-receiver")
    script = str(beside_python) if beside_python.exists() else shutil.which("alert-receiver")
    assert script, "pip install provides the alert-receiver command"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "serve" in result.stdout


def test_help_lists_every_subcommand() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("serve", "migrate", "check-config"):
        assert command in result.stdout
    assert "RECEIVER_DATABASE_URL" in result.stdout


@pytest.mark.parametrize("command", ["serve", "migrate", "check-config"])
def test_each_subcommand_explains_itself(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    assert "--database-url" in result.stdout
    assert len(result.stdout.splitlines()) > 5


def test_invalid_setting_names_flag_and_variable() -> None:
    result = run("check-config", env={"RECEIVER_PORT": "seventy"})
    assert result.returncode == 2
    assert "--port (or RECEIVER_PORT)" in result.stderr


def test_unsupported_database_url_says_what_to_use() -> None:
    result = run("check-config", "--database-url", "mysql://x")
    assert result.returncode == 2
    assert "sqlite+aiosqlite:///" in result.stderr


def test_check_config_masks_the_database_password(tmp_path: Path) -> None:
    result = run("check-config", "--database-url", "postgresql+asyncpg://u:hunter2@db/alerts")
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert "u:***@db/alerts" in result.stdout


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("channels: [a\nroutes: x\n", 2, "invalid YAML"),
        ("# comment\n\nnot_a_section: 1\n", 3, "unknown key 'not_a_section'"),
        ("- a list\n", 1, "must be a mapping"),
    ],
)
def test_config_mistakes_come_with_file_and_line(
    tmp_path: Path, text: str, line: int, needle: str
) -> None:
    config = tmp_path / "receiver.yml"
    config.write_text(text)
    result = run("check-config", "--config", str(config))
    assert result.returncode == 1
    assert f"{config}:{line}:" in result.stderr
    assert needle in result.stderr


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    result = run("check-config", "--config", str(tmp_path / "nope.yml"))
    assert result.returncode == 1
    assert "cannot read" in result.stderr


def test_empty_config_file_is_valid(tmp_path: Path) -> None:
    config = tmp_path / "receiver.yml"
    config.write_text("# nothing yet\n")
    result = run("check-config", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    first = run("migrate", "--database-url", url)
    assert first.returncode == 0, first.stderr
    assert f"is at schema {head_revision()}" in first.stdout
    assert run("migrate", "--database-url", url).returncode == 0


def _http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as resp:
        text = resp.read().decode()
        return resp.status, json.loads(text) if text.startswith("{") else text


def _start(database: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1", "--port", "0"],
        env={**os.environ, "RECEIVER_DATABASE_URL": f"sqlite+aiosqlite:///{database}"},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if found:
            return proc, found.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail("serve did not report its address")


def test_serve_migrates_answers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    database = tmp_path / "receiver.db"
    proc, base = _start(database)
    try:
        assert _http("GET", f"{base}/-/ready") == (200, "OK\n")
        status, summary = _http("POST", f"{base}/alerts", webhook(alert()))
        assert status == 200
        assert summary["new"] == 1
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
    # What was acknowledged is there after a restart.
    proc, base = _start(database)
    try:
        status, body = _http("GET", f"{base}/api/v1/alerts")
        assert status == 200
        assert len(body["alerts"]) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


CHANNELS = """\
channels:
  chat: "json://127.0.0.1:{port}/hook/${{HOOK_TOKEN}}"
routes:
  - match: ['severity="critical"']
    channels: [chat]
    title: "PAGE {{{{ incident.name }}}}"
  - channels: [chat]
    send_resolved: false
"""


def _config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "receiver.yml"
    path.write_text(CHANNELS.format(port=port))
    return path


def test_check_config_lists_channels_masked_and_routes(tmp_path: Path) -> None:
    config = _config(tmp_path, 9)
    result = run("check-config", "--config", str(config), env={"HOOK_TOKEN": "tok-Secret1"})
    assert result.returncode == 0, result.stderr
    assert "tok-Secret1" not in result.stdout + result.stderr
    assert "channel chat:\n  json://127.0.0.1:9/***" in result.stdout
    assert 'route 0: severity="critical" -> chat' in result.stdout
    assert "route 1: (everything) -> chat (no resolved messages)" in result.stdout


def test_render_prints_each_channel_message_without_sending(tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(webhook(alert(severity="critical"), alert(instance="api-2"))))
    config = _config(tmp_path, 9)
    env = {"HOOK_TOKEN": "x-token"}
    routed = run("render", "--payload", str(payload), "--config", str(config), env=env)
    assert routed.returncode == 0, routed.stderr
    assert routed.stdout.startswith("=== channel chat (route 1) ===\n[FIRING:2] HighLatencyP95")
    forced = run(
        "render", "--payload", str(payload), "--config", str(config), "--route", "0", env=env
    )
    assert "=== channel chat (route 0) ===\nPAGE HighLatencyP95" in forced.stdout
    no_config = run("render", "--payload", str(payload))
    assert "no routes configured" in no_config.stdout
    bad_route = run("render", "--payload", str(payload), "--config", str(config), "--route", "5",
                    env=env)  # fmt: skip
    assert bad_route.returncode == 2
    assert "has 2 routes" in bad_route.stderr
    payload.write_text('{"receiver": "x"}')
    broken = run("render", "--payload", str(payload), "--config", str(config), env=env)
    assert broken.returncode == 1
    assert "status: Field required" in broken.stderr


def test_notify_test_reports_each_url(tmp_path: Path) -> None:
    config = _config(tmp_path, free_port())
    env = {"HOOK_TOKEN": "tok-Secret2"}
    result = run("notify-test", "chat", "--config", str(config), env=env)
    assert result.returncode == 1
    assert "FAIL json://127.0.0.1:" in result.stdout
    assert "chat: failed" in result.stdout
    assert "tok-Secret2" not in result.stdout + result.stderr
    unknown = run("notify-test", "pager", "--config", str(config), env=env)
    assert unknown.returncode == 2
    assert "channels: chat" in unknown.stderr


async def test_notify_test_delivers_to_a_live_sink(tmp_path: Path, json_sink: JsonSink) -> None:
    assert json_sink.server is not None
    assert json_sink.server.port is not None  # set once the sink is started
    config = _config(tmp_path, json_sink.server.port)
    result = await asyncio.to_thread(
        run, "notify-test", "chat", "--config", str(config), env={"HOOK_TOKEN": "t0k"}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   json://127.0.0.1:" in result.stdout
    assert json_sink.titles() == ["[TEST] alert-receiver: channel chat"]
