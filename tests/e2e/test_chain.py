"""The whole chain with the shipped kit, for real: a tiny exporter serving the guide's
metrics with values this test controls, Prometheus with the shipped rules, Alertmanager
with the shipped config, the receiver with the shipped config and runbooks, and an
Apprise json:// sink as the chat. Only timings are shortened (scrape and evaluation
every second, `for:` 5 s, rate windows 15 s) and addresses pointed at 127.0.0.1.

Raising the latency makes a firing message with its runbook steps arrive; lowering it
makes the resolved one arrive; stopping Prometheus silences the Watchdog, and the
heartbeat message arrives.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from receiver.app import create_app
from receiver.runtime.settings import Settings
from tests.conftest import Client, require
from tests.processes import wait_ready
from tests.sinks import JsonSink, SmtpSink, eventually, free_port

pytestmark = pytest.mark.e2e

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
BUCKETS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
RATE = 2000.0  # requests a second, above the throughput SLO


class Exporter:
    """mistral.rs as the guide describes its metrics: counters grow with time at RATE,
    every request taking `latency` seconds; everything else healthy."""

    def __init__(self) -> None:
        self.latency = 0.05
        self._last = time.monotonic()
        self._requests = 0.0
        self._buckets = dict.fromkeys(BUCKETS, 0.0)
        self._sum = 0.0

    async def metrics(self, _request: web.Request) -> web.Response:
        now = time.monotonic()
        new = RATE * (now - self._last)
        self._last = now
        self._requests += new
        self._sum += new * self.latency
        for le in BUCKETS:
            if self.latency <= le:
                self._buckets[le] += new
        lines = [
            *self._histogram("mistralrs_request_duration_seconds", self._buckets, self._sum),
            *self._histogram(
                "mistralrs_tool_call_duration_seconds",
                dict.fromkeys(BUCKETS, self._requests),
                self._requests * 0.01,
            ),
            f"mistralrs_requests_total {self._requests}",
            "mistralrs_requests_failed_total 0",
            f"mistralrs_connection_reused_total {self._requests * 0.99}",
            f"mistralrs_connection_created_total {self._requests * 0.01}",
            "mistralrs_circuit_breaker_state 0",
            "mistralrs_circuit_breaker_trips_total 0",
            "mistralrs_startup_duration_seconds 2",
            "mistralrs_last_shutdown_duration_seconds 1",
            "process_resident_memory_bytes 1073741824",
        ]
        return web.Response(text="\n".join(lines) + "\n")

    def _histogram(self, name: str, buckets: dict[float, float], total: float) -> list[str]:
        count = self._requests
        return [
            *(f'{name}_bucket{{le="{le}"}} {n}' for le, n in buckets.items()),
            f'{name}_bucket{{le="+Inf"}} {count}',
            f"{name}_sum {total}",
            f"{name}_count {count}",
        ]


@asynccontextmanager
async def exporter() -> AsyncIterator[tuple[Exporter, int]]:
    state = Exporter()
    app = web.Application()
    app.router.add_get("/metrics", state.metrics)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        assert server.port is not None
        yield state, server.port
    finally:
        await server.close()


def _shortened(text: str) -> str:
    """The shipped rules with test timings: rate windows 15 s and `for:` 5 s. The `for:`
    must outlast what a new series' rate() underestimates (its first seconds, while the
    series is younger than the window), as `for: 5m` does over `[5m]` in the kit."""
    text = re.sub(r"\bfor: \d+[smh]\b", "for: 5s", text)
    return re.sub(r"\[\d+[mh]\]", "[15s]", text)


def _prometheus_config(work: Path, exporter_port: int, receiver: str, am_port: int) -> Path:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["alerting"]["alertmanagers"][0]["static_configs"] = [
        {"targets": [f"127.0.0.1:{am_port}"]}
    ]
    targets = {
        "mistralrs": f"127.0.0.1:{exporter_port}",
        "alert-receiver": receiver,
        "alertmanager": f"127.0.0.1:{am_port}",
    }
    for job in config["scrape_configs"]:
        if job["job_name"] in targets:
            job.pop("file_sd_configs", None)
            job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    rules = work / "rules"
    rules.mkdir()
    for path in (DEPLOY / "prometheus" / "rules").glob("*.yml"):
        (rules / path.name).write_text(_shortened(path.read_text()))
    out = work / "prometheus.yml"
    out.write_text(yaml.safe_dump(config))
    return out


def _alertmanager_config(work: Path, webhook_url: str, smtp: str) -> Path:
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    config["global"]["smtp_smarthost"] = smtp
    config["route"].update(group_wait="1s", group_interval="1s")
    for route in config["route"]["routes"]:
        route.update(group_wait="0s", group_interval="1s")
        if route.get("repeat_interval"):
            route["repeat_interval"] = "1s"
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook_url
    out = work / "alertmanager.yml"
    out.write_text(yaml.safe_dump(config))
    return out


def _receiver_config(work: Path, smtp: str) -> Path:
    text = (DEPLOY / "receiver" / "receiver.yml").read_text()
    text = text.replace("/etc/alert-receiver/runbooks", str(DEPLOY / "runbooks"))
    text = text.replace("mailpit:1025", smtp).replace("timeout: 5m", "timeout: 15s")
    out = work / "receiver.yml"
    out.write_text(text + "delivery:\n  poll_interval: 100ms\n  backoff: 100ms\n")
    return out


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


@asynccontextmanager
async def process(argv: list[str], ready: str, log: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    proc = await asyncio.to_thread(_spawn, argv, log)
    try:
        await wait_ready(ready, proc, log)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 15)


async def test_a_metric_becomes_a_chat_message_with_runbook_steps_and_back(
    aiohttp_client: Callable[..., Awaitable[Client]],
    tmp_path: Path,
    json_sink: JsonSink,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require(PROMETHEUS is not None, "prometheus is not installed (apt-get install prometheus)")
    require(ALERTMANAGER is not None, "prometheus-alertmanager is not installed")
    assert PROMETHEUS is not None
    assert ALERTMANAGER is not None
    smtp = smtp_sink.url().split("://", 1)[1].split("?", 1)[0]
    monkeypatch.setenv("CHAT_URL", json_sink.url())
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'receiver.db'}",
        host="127.0.0.1",
        config=_receiver_config(tmp_path, smtp),
    )
    client = await aiohttp_client(create_app(settings))
    receiver = f"127.0.0.1:{client.port}"
    am_port, prom_port = free_port(), free_port()
    async with exporter() as (metrics, exporter_port):
        am_config = _alertmanager_config(tmp_path, f"http://{receiver}/alerts", smtp)
        async with process(
            [ALERTMANAGER, f"--config.file={am_config}", f"--storage.path={tmp_path / 'am'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
            f"http://127.0.0.1:{am_port}/-/ready",
            tmp_path / "alertmanager.log",
        ):  # fmt: skip
            prom_config = _prometheus_config(tmp_path, exporter_port, receiver, am_port)
            async with process(
                [PROMETHEUS, f"--config.file={prom_config}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}",
                 "--rules.alert.resend-delay=1s"],
                f"http://127.0.0.1:{prom_port}/-/ready",
                tmp_path / "prometheus.log",
            ) as prometheus:  # fmt: skip

                async def watchdog_arrived() -> bool:
                    resp = await client.get("/api/v1/alerts", params={"alertname": "Watchdog"})
                    return bool((await resp.json())["alerts"])

                # The stack is up when the Watchdog came through; on healthy metrics
                # nothing critical fires.
                await eventually(watchdog_arrived, "the Watchdog at the receiver", 60)
                await asyncio.sleep(3)
                assert json_sink.titles() == []

                metrics.latency = 0.8  # over the critical 500 ms
                firing = "[FIRING:1] HighLatencyP95Critical (critical)"
                await eventually(lambda: firing in json_sink.titles(), "the firing message", 60)
                message = next(m for m in json_sink.received if m["title"] == firing)
                assert "P95 request latency above 500 ms" in message["message"]
                assert re.search(r"^1\. ", message["message"], re.MULTILINE), message["message"]

                metrics.latency = 0.05
                resolved = "[RESOLVED] HighLatencyP95Critical (critical)"
                await eventually(lambda: resolved in json_sink.titles(), "the resolution", 60)

                prometheus.terminate()  # the Watchdog stops with it
                await asyncio.to_thread(prometheus.wait, 15)
                missing = "[FIRING:1] HeartbeatMissing (Watchdog, critical)"
                await eventually(lambda: missing in json_sink.titles(), "the heartbeat", 60)
    told = {title.split("] ", 1)[1].split(" ", 1)[0] for title in json_sink.titles()}
    assert told == {"HighLatencyP95Critical", "HeartbeatMissing"}, json_sink.titles()
    stored: Any = await (await client.get("/api/v1/incidents?limit=100")).json()
    assert any(i["receiver"] == "alert-receiver" for i in stored["incidents"])
