"""Logs from the real process: JSON lines when standard error is not a terminal (text on
request), one line per request with its request id, the same id on every line logged
during that request, and never a secret."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path

import aiohttp

from tests.payloads import alert, webhook
from tests.processes import address, logs, serve

TOKEN = "tok-9f8e7d6c5b"


def _serve(tmp_path: Path, *flags: str) -> subprocess.Popen[str]:
    config = tmp_path / "receiver.yml"
    config.write_text('channels:\n  chat: "json://127.0.0.1:9/hooks/${HOOK_TOKEN}"\n')
    url = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    return serve(url, "--config", str(config), *flags, env={"HOOK_TOKEN": TOKEN})


async def _traffic(base: str) -> dict[str, str]:
    """A good webhook with a request id of ours, a bad one without; the ids answered."""
    async with aiohttp.ClientSession() as session:
        good = session.post(
            f"{base}/alerts", json=webhook(alert()), headers={"X-Request-Id": "am-req-42"}
        )
        async with good as resp:
            assert resp.status == 200
            ours = resp.headers["X-Request-Id"]
        async with session.post(f"{base}/alerts", json={"alerts": "nope"}) as resp:
            assert resp.status == 422
            theirs = resp.headers["X-Request-Id"]
        async with session.get(
            f"{base}/api/v1/alerts", headers={"X-Request-Id": "x" * 500}
        ) as resp:
            assert resp.status == 200
            replaced = resp.headers["X-Request-Id"]
    return {"given": ours, "made": theirs, "replaced": replaced}


def _stop(proc: subprocess.Popen[str]) -> list[str]:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    return logs(proc).splitlines()


async def test_json_lines_with_request_ids_and_no_secrets(tmp_path: Path) -> None:
    proc = _serve(tmp_path)  # standard error is a pipe: JSON by default
    base = await asyncio.to_thread(address, proc)
    ids = await _traffic(base)
    lines = [json.loads(line) for line in _stop(proc)]  # every line is JSON
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    access = [line for line in lines if line["logger"] == "receiver.access"]
    posted = [a for a in access if a["path"] == "/alerts"]
    assert [(a["status"], a["request_id"]) for a in posted] == [
        (200, "am-req-42"),
        (422, ids["made"]),
    ]
    assert ids["given"] == "am-req-42"
    assert len(ids["replaced"]) == 16  # 500 characters is not an id we repeat
    rejected = [line for line in lines if "rejected webhook" in line["msg"]]
    assert [r["request_id"] for r in rejected] == [ids["made"]]  # the line joins its request
    assert all(isinstance(a["seconds"], float) and a["method"] for a in access)
    text = "\n".join(json.dumps(line) for line in lines)
    assert TOKEN not in text


async def test_text_when_asked(tmp_path: Path) -> None:
    proc = _serve(tmp_path, "--log-format", "text")
    base = await asyncio.to_thread(address, proc)
    await _traffic(base)
    lines = _stop(proc)
    access = [line for line in lines if " receiver.access: POST /alerts 200 " in line]
    assert len(access) == 1
    assert "request_id=am-req-42" in access[0]
    assert not any(line.startswith("{") for line in lines)
