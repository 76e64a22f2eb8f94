"""The instrumentation seam: what the handler, the write path, the Writer, the outbox and
its breaker report, on both databases, through a real server; and how reports fan out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import Mock, call

from receiver.app import create_app
from receiver.domain.lifecycle import Outcome
from receiver.notify.policy import Breaker
from receiver.observe import HOOKS, BreakerState, Observer, Several
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
        self.breakers: list[tuple[str, BreakerState]] = []

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

    def breaker_changed(self, channel: str, state: BreakerState) -> None:
        self.breakers.append((channel, state))


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
    assert recorder.breakers == [("chat", BreakerState.CLOSED)], "a channel's first use"
    assert len(json_sink.received) == 1
    served = await (await client.get("/metrics")).text()
    assert 'alert_receiver_webhook_requests_total{code="400"} 1.0' in served, "both heard"


def test_several_hands_every_hook_to_each_observer_in_order() -> None:
    heard = Mock()
    first, second = Mock(spec=Observer), Mock(spec=Observer)
    heard.attach_mock(first, "first")
    heard.attach_mock(second, "second")
    several = Several(first, second)
    for hook in HOOKS:
        getattr(several, hook)(hook, seconds=1.5)
    assert heard.mock_calls == [
        step
        for hook in HOOKS
        for step in (
            getattr(call.first, hook)(hook, seconds=1.5),
            getattr(call.second, hook)(hook, seconds=1.5),
        )
    ]
    assert "breaker_changed" in HOOKS


def test_the_breaker_reports_each_move_once() -> None:
    moves: list[tuple[str, BreakerState]] = []
    breaker = Breaker(2, timedelta(seconds=10), lambda *move: moves.append(move))
    now = datetime(2026, 11, 26, tzinfo=UTC)
    assert breaker.allow("chat", now)
    breaker.record("chat", False, now)  # one failure: still closed
    breaker.record("chat", False, now)  # two: open
    assert not breaker.allow("chat", now + timedelta(seconds=5))
    later = now + timedelta(seconds=11)
    assert breaker.allow("chat", later)  # the probe: half-open
    assert not breaker.allow("chat", later)  # one probe at a time, no new report
    breaker.record("chat", False, later)  # the probe failed: open again
    assert breaker.allow("chat", later + timedelta(seconds=11))
    breaker.record("chat", True, later + timedelta(seconds=11))  # closed
    breaker.record("chat", True, later + timedelta(seconds=12))  # closed still: no report
    closed, half_open, open_ = BreakerState.CLOSED, BreakerState.HALF_OPEN, BreakerState.OPEN
    assert [state for _channel, state in moves] == [
        closed, open_, half_open, open_, half_open, closed
    ]  # fmt: skip
