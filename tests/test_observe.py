"""The instrumentation seam: what the handler, the write path, the Writer and the outbox
report, on both databases, through a real server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from receiver.app import create_app
from receiver.domain.lifecycle import Outcome
from receiver.observe import Observer
from receiver.runtime.settings import Settings
from tests.conftest import FAST_DELIVERY, Client
from tests.payloads import alert, webhook
from tests.sinks import JsonSink, eventually


class Recorder(Observer):
    def __init__(self) -> None:
        self.answers: list[int] = []
        self.alerts: Counter[Outcome] = Counter()
        self.batches: list[int] = []
        self.sent: list[tuple[str, str]] = []
        self.depths: list[int] = []

    def webhook_answered(self, status: int, seconds: float) -> None:
        assert seconds >= 0
        self.answers.append(status)

    def alerts_received(self, counts: Counter[Outcome]) -> None:
        self.alerts.update(counts)

    def batch_committed(self, size: int, seconds: float) -> None:
        assert seconds >= 0
        self.batches.append(size)

    def notification_finished(self, channel: str, outcome: str, seconds: float) -> None:
        self.sent.append((channel, outcome))

    def outbox_measured(self, pending: int, oldest: datetime | None) -> None:
        assert (oldest is None) == (pending == 0)
        self.depths.append(pending)


async def test_every_part_reports_what_happened(
    aiohttp_client: Callable[..., Awaitable[Client]],
    settings: Settings,
    tmp_path: Path,
    json_sink: JsonSink,
) -> None:
    config = tmp_path / "receiver.yml"
    config.write_text(
        f'channels:\n  chat: "{json_sink.url()}"\nroutes:\n  - channels: [chat]\n' + FAST_DELIVERY
    )
    recorder = Recorder()
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"config": config}), observer=recorder)
    )
    body: dict[str, Any] = webhook(alert(instance="a"), alert(instance="b"))
    for _ in range(2):  # new, then a repeat
        assert (await client.post("/alerts", json=body)).status == 200
    bad = await client.post("/alerts", data=b"{", headers={"Content-Type": "application/json"})
    assert bad.status == 400

    assert recorder.answers == [200, 200, 400]
    assert recorder.alerts == Counter({Outcome.NEW: 2, Outcome.DUPLICATE: 2})
    assert sum(recorder.batches) >= 2, "every committed write is reported"
    await eventually(lambda: recorder.sent == [("chat", "delivered")], "the send reported")
    await eventually(lambda: bool(recorder.depths), "the outbox measured")
    assert len(json_sink.received) == 1
