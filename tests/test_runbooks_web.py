"""Runbooks where people meet them, on both databases: the API, the pages, the messages,
and reloading the folder without a restart."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from receiver.store import insights as insights_store
from receiver.web.keys import BASE_URL
from tests.conftest import Client, MakeReceiver
from tests.payloads import alert, webhook
from tests.sinks import JsonSink, eventually

LATENCY = """\
---
title: High P95 latency
match: ['alertname="HighLatencyP95"']
owner: inference-team
---
## Check
1. Open the request rate panel.
2. Compare with memory.
3. Roll back the last deploy.
4. Scale out.

<script>alert("x")</script>
[click me](javascript:alert(1)) and [docs](https://docs.example.com/latency)
<a href="javascript:alert(2)">raw link</a> <img src="x" onerror="alert(3)">
"""

SPECIFIC = """\
---
title: Latency on api pods
match: ['alertname="HighLatencyP95"', 'instance=~"api-.*"']
---
1. Check the api pods.
"""

UNUSED = "---\ntitle: Disk full\nalertname: DiskFull\n---\n1. Free space.\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "books"
    path.mkdir()
    (path / "latency.md").write_text(LATENCY)
    (path / "api-latency.md").write_text(SPECIFIC)
    (path / "disk.md").write_text(UNUSED)
    return path


def config_for(folder: Path, sink: JsonSink | None = None) -> str:
    channels = f'channels:\n  chat: "{sink.url()}"\nroutes:\n  - channels: [chat]\n' if sink else ""
    return f"runbooks_dir: {folder}\nrunbook_steps: 2\n{channels}"


async def get_json(client: Client, path: str, status: int = 200) -> Any:
    resp = await client.get(path)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_alerts_and_incidents_carry_their_runbooks(
    make_receiver: MakeReceiver, folder: Path
) -> None:
    client = await make_receiver(config_for(folder), external_url="https://alerts.example.com")
    body = webhook(
        alert(
            annotations={
                "summary": "s",
                "runbook_url": "https://wiki/rb",
                "runbook": "javascript:x",
            }
        )
    )
    summary = await (await client.post("/alerts", json=body)).json()
    [stored] = (await get_json(client, "/api/v1/alerts"))["alerts"]
    assert stored["runbooks"] == [
        {
            "slug": "api-latency",
            "title": "Latency on api pods",
            "url": "https://alerts.example.com/runbooks/api-latency",
            "steps": ["Check the api pods."],
            "external": False,
        },
        {
            "slug": "latency",
            "title": "High P95 latency",
            "url": "https://alerts.example.com/runbooks/latency",
            "steps": [
                "Open the request rate panel.",
                "Compare with memory.",
                "Roll back the last deploy.",
                "Scale out.",
            ],
            "external": False,
        },
        {
            "slug": None,
            "title": "runbook_url",
            "url": "https://wiki/rb",
            "steps": [],
            "external": True,
        },
    ]
    detail = await get_json(client, f"/api/v1/alerts/{stored['id']}")
    assert detail["runbooks"] == stored["runbooks"]
    incident = await get_json(client, f"/api/v1/incidents/{summary['incidentId']}")
    assert [r["slug"] for r in incident["runbooks"]] == ["api-latency", "latency", None]
    [listed] = (await get_json(client, "/api/v1/incidents"))["incidents"]
    assert listed["runbooks"] == incident["runbooks"]


async def test_runbook_api(make_receiver: MakeReceiver, folder: Path) -> None:
    client = await make_receiver(config_for(folder))
    listed = (await get_json(client, "/api/v1/runbooks"))["runbooks"]
    assert [r["slug"] for r in listed] == ["api-latency", "disk", "latency"]
    one = await get_json(client, "/api/v1/runbooks/latency")
    assert one["owner"] == "inference-team"
    assert one["matchers"] == ['alertname="HighLatencyP95"']
    assert one["url"] == f"{client.app[BASE_URL]}/runbooks/latency"  # absolute, by default
    assert one["markdown"].startswith("## Check")
    missing = await get_json(client, "/api/v1/runbooks/nope", status=404)
    assert "GET /api/v1/runbooks" in missing["error"]


async def test_runbook_pages_show_coverage_and_sanitized_markdown(
    make_receiver: MakeReceiver, folder: Path
) -> None:
    client = await make_receiver(config_for(folder))
    await client.post("/alerts", json=webhook(alert(starts="2026-11-20T10:00:00Z")))
    await client.post(
        "/alerts",
        json=webhook(
            alert(status="resolved", starts="2026-11-20T10:00:00Z", ends="2026-11-20T10:12:00Z")
        ),
    )
    await client.post("/alerts", json=webhook(alert("NoBook", instance="x"), group="NoBook"))

    page = await client.get("/runbooks")
    assert page.status == 200
    assert page.content_type == "text/html"
    html = await page.text()
    assert '<a href="/runbooks/latency">High P95 latency</a>' in html
    assert re.search(r"High P95 latency</a></td>.*?<td>1</td>\s*<td>12m</td>", html, re.S)
    assert re.search(r"Disk full</a></td>.*?matches nothing", html, re.S)
    assert re.search(r"NoBook</span></td><td>1</td>", html)

    single = await client.get("/runbooks/latency")
    body = await single.text()
    assert single.status == 200
    assert "<li>Open the request rate panel.</li>" in body
    assert "<script>" not in body
    assert "onerror" not in body
    assert 'href="javascript' not in body.lower()
    assert '<a href="https://docs.example.com/latency"' in body
    assert "median time to resolve 12m" in body
    assert (await client.get("/runbooks/nope")).status == 404


async def test_a_crowded_month_samples_its_newest_alerts_and_says_so(
    make_receiver: MakeReceiver, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_receiver(config_for(folder))
    for instance, starts in (("api-1", "2026-11-20T10:00:00Z"), ("db-1", "2026-11-21T10:00:00Z")):
        labels = alert(instance=instance, starts=starts)
        await client.post("/alerts", json=webhook(labels, group=instance))
    monkeypatch.setattr(insights_store, "SCAN_BUDGET", 1)
    html = await (await client.get("/runbooks")).text()
    assert "cover those started since 2026-11-21T10:00:00Z" in html
    # The rollup counts both alerts of the name; only the sampled (db-1) one is read
    # for the runbook on instance, and it is not an api pod.
    assert re.search(r"High P95 latency</a></td>.*?<td>2</td>", html, re.S)
    assert re.search(r"Latency on api pods</a></td>.*?matches nothing", html, re.S)
    body = await (await client.get("/runbooks/api-latency")).text()
    assert "median among those started since 2026-11-21T10:00:00Z" in body


async def test_message_carries_runbook_title_first_steps_and_link(
    make_receiver: MakeReceiver, folder: Path, json_sink: JsonSink
) -> None:
    client = await make_receiver(
        config_for(folder, json_sink), external_url="https://alerts.example.com"
    )
    await client.post("/alerts", json=webhook(alert()))
    await eventually(lambda: len(json_sink.received) == 1, "the message")
    message = json_sink.received[0]["message"]
    assert (
        "**Runbook: High P95 latency** ([open](https://alerts.example.com/runbooks/latency))"
        in message
    )
    assert (
        "1. Open the request rate panel.\n2. Compare with memory.\n3. ... 2 more steps" in message
    )
    assert message.index("Latency on api pods") < message.index("High P95 latency")
    assert "Roll back" not in message


async def test_reload_by_post_keeps_the_last_good_set_on_a_broken_file(
    make_receiver: MakeReceiver, folder: Path
) -> None:
    client = await make_receiver(config_for(folder))
    (folder / "new.md").write_text("---\ntitle: New one\nalertname: New\n---\n1. Do it.\n")
    resp = await client.post("/-/reload")
    assert resp.status == 200
    assert (await resp.json())["runbooks"] == 4
    assert (await get_json(client, "/api/v1/runbooks/new"))["title"] == "New one"

    (folder / "broken.md").write_text("---\ntitle: Broken\n---\nno matchers\n")
    (folder / "latency.md").write_text(LATENCY.replace("High P95 latency", "Renamed"))
    failed = await client.post("/-/reload")
    assert failed.status == 422
    problems = (await failed.json())["details"]
    [problem] = problems
    assert problem.startswith(f"{folder / 'broken.md'}:2: no matchers: add `match:")
    assert (await get_json(client, "/api/v1/runbooks/latency"))["title"] == "High P95 latency"

    (folder / "broken.md").unlink()
    assert (await client.post("/-/reload")).status == 200
    assert (await get_json(client, "/api/v1/runbooks/latency"))["title"] == "Renamed"


async def test_a_reload_does_not_stop_the_service_while_it_parses(
    make_receiver: MakeReceiver, folder: Path
) -> None:
    """Thousands of runbooks take a while to parse; health checks answer meanwhile, so
    the parsing is not on the event loop. Two reloads at once take turns."""
    client = await make_receiver(config_for(folder))
    for i in range(500):
        (folder / f"many-{i}.md").write_text(
            f"---\ntitle: Book {i}\nmatch: ['alertname=~\"Many{i}|Other.*\"']\n---\n"
            + "".join(f"{n}. Step {n} of book {i}, with `code` and *words*.\n" for n in range(20))
        )
    # Late in a full run the test process holds a large heap, and one full garbage
    # collection on the loop's thread can take a second: that pause is not what this
    # test is about (the service freezes its start-up heap in `serve`), so none runs here.
    gc.collect()
    gc.disable()
    try:
        reloads = [asyncio.create_task(client.post("/-/reload")) for _ in range(2)]
        answered, slowest = 0, 0.0
        started = time.monotonic()
        while not all(r.done() for r in reloads):
            before = time.monotonic()
            assert (await client.get("/-/healthy")).status == 200
            slowest = max(slowest, time.monotonic() - before)
            answered += 1
        took = time.monotonic() - started
    finally:
        gc.enable()
    assert [(await r).status for r in reloads] == [200, 200]
    # On the loop, one check would wait for the whole of both reloads; in a thread each
    # waits only for its turn at the GIL.
    assert took > 1, f"the reloads took {took:.1f}s: too little to tell"
    assert slowest < took / 3, f"a health check waited {slowest:.2f}s of {took:.1f}s"
    assert answered >= 10
    assert (await get_json(client, "/api/v1/runbooks/many-499"))["title"] == "Book 499"


def test_check_config_validates_runbooks(folder: Path, tmp_path: Path) -> None:
    (folder / "broken.md").write_text("---\ntitle: [\n---\n")
    config = tmp_path / "receiver.yml"
    config.write_text(config_for(folder))
    result = subprocess.run(
        [sys.executable, "-m", "receiver", "check-config", "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"{folder / 'broken.md'}:3: invalid YAML in front matter" in result.stderr


def _get(url: str) -> Any:
    import json

    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def test_sighup_reloads_runbooks(folder: Path, tmp_path: Path) -> None:
    config = tmp_path / "receiver.yml"
    config.write_text(config_for(folder))
    proc = subprocess.Popen(
        [sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1", "--port", "0",
         "--config", str(config), "--database-url", f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"],
        env=os.environ.copy(), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        base = None
        while base is None:
            line = proc.stderr.readline()
            assert line, "serve exited"
            if found := re.search(r"listening on (http://\S+)", line):
                base = found.group(1)
        assert len(_get(f"{base}/api/v1/runbooks")["runbooks"]) == 3

        (folder / "extra.md").write_text("---\ntitle: Extra\nalertname: Extra\n---\n1. Go.\n")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while len(_get(f"{base}/api/v1/runbooks")["runbooks"]) != 4:
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.05)

        (folder / "bad.md").write_text("nothing here")
        proc.send_signal(signal.SIGHUP)
        while "reload failed" not in (line := proc.stderr.readline()):
            assert line, "serve exited"
        assert f"{folder / 'bad.md'}:1: no front matter" in line
        assert len(_get(f"{base}/api/v1/runbooks")["runbooks"]) == 4
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
