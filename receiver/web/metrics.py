"""GET /metrics in Prometheus text format: Metrics hears the Observer's reports into
prometheus-client counters, histograms and gauges, one registry per application (tests
run many at once); open incidents are counted at scrape time, in the database, so the
figure is exact across replicas and restarts. docs/metrics.md lists every metric."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import version

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from receiver.domain.lifecycle import Outcome
from receiver.observe import BreakerState, Observer
from receiver.store import reads
from receiver.web.keys import ENGINE
from receiver.web.responses import STORAGE_ERRORS

log = logging.getLogger(__name__)

# A `_created` series beside every counter and histogram would double what is scraped,
# for a start time that process_start_time_seconds already tells.
disable_created_metrics()  # type: ignore[no-untyped-call]

# A scrape must answer while the database is away (that is when the rest matters most):
# the count gives up after this, well within Prometheus' default 10 s scrape timeout.
OPEN_INCIDENTS_TIMEOUT = 2.0

SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
SEND_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

# The answer's key for duplicates is "duplicates"; the label is singular like the others.
_OUTCOME_LABELS = {outcome: outcome.value for outcome in Outcome} | {Outcome.DUPLICATE: "duplicate"}


class _OpenIncidents(Collector):
    """The count the scrape just read; nothing when it could not be read (an absent
    series says "unknown", a stale one would lie)."""

    def __init__(self) -> None:
        self.count: int | None = None

    def collect(self) -> Iterator[Metric]:
        if self.count is not None:
            yield GaugeMetricFamily(
                "alert_receiver_open_incidents",
                "Incidents not resolved yet, in the database (every replica's)",
                value=self.count,
            )


class Metrics(Observer):
    """The observer /metrics serves: each report updates a counter or a histogram in
    memory, a few microseconds on the hot path; the text is made at scrape time."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self._requests = Counter(
            "alert_receiver_webhook_requests",
            "Webhooks answered, by HTTP status code",
            ["code"],
            registry=registry,
        )
        self._request_seconds = Histogram(
            "alert_receiver_webhook_request_duration_seconds",
            "Time from receiving a webhook to its answer",
            buckets=SECONDS,
            registry=registry,
        )
        alerts = Counter(
            "alert_receiver_alerts_received",
            "Alerts of committed webhooks, by what each did",
            ["outcome"],
            registry=registry,
        )
        self._alerts = {outcome: alerts.labels(label) for outcome, label in _OUTCOME_LABELS.items()}
        self.open_incidents = _OpenIncidents()
        registry.register(self.open_incidents)
        self._notifications = Counter(
            "alert_receiver_notifications",
            "Attempts to send a notification, by channel and outcome",
            ["channel", "outcome"],
            registry=registry,
        )
        self._send_seconds = Histogram(
            "alert_receiver_notification_send_duration_seconds",
            "Time one attempt to send took",
            ["channel"],
            buckets=SEND_SECONDS,
            registry=registry,
        )
        self._pending = Gauge(
            "alert_receiver_outbox_pending",
            "Notifications waiting to be sent (pending or being sent)",
            registry=registry,
        )
        self._oldest: datetime | None = None
        Gauge(
            "alert_receiver_outbox_oldest_pending_age_seconds",
            "How long the oldest waiting notification has waited; 0 when none waits",
            registry=registry,
        ).set_function(self._oldest_age)
        self._breakers = Gauge(
            "alert_receiver_breaker_state",
            "This process's circuit breaker per channel: 0 closed, 1 half-open, 2 open",
            ["channel"],
            registry=registry,
        )
        self._batch_size = Histogram(
            "alert_receiver_write_batch_size",
            "Jobs (webhooks and other writes) per committed write transaction",
            buckets=BATCH_SIZES,
            registry=registry,
        )
        self._batch_seconds = Histogram(
            "alert_receiver_write_batch_duration_seconds",
            "Time a committed write transaction spent in the database",
            buckets=SECONDS,
            registry=registry,
        )
        self._heartbeat_missing = Gauge(
            "alert_receiver_heartbeat_missing",
            "1 while the heartbeat is overdue (its incident is open), else 0",
            ["heartbeat"],
            registry=registry,
        )
        self._heartbeat_seen = Gauge(
            "alert_receiver_heartbeat_last_seen_timestamp_seconds",
            "When a firing alert of the heartbeat last arrived (Unix time)",
            ["heartbeat"],
            registry=registry,
        )
        Gauge(
            "alert_receiver_build_info",
            "Always 1; the version of the receiver serving",
            ["version"],
            registry=registry,
        ).labels(version("alert-receiver")).set(1)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)

    def webhook_answered(self, status: int, seconds: float) -> None:
        self._requests.labels(str(status)).inc()
        self._request_seconds.observe(seconds)

    def alerts_received(self, counts: collections.Counter[Outcome]) -> None:
        for outcome, count in counts.items():
            self._alerts[outcome].inc(count)

    def batch_committed(self, size: int, seconds: float) -> None:
        self._batch_size.observe(size)
        self._batch_seconds.observe(seconds)

    def notification_finished(self, channel: str, outcome: str, seconds: float) -> None:
        self._notifications.labels(channel, outcome).inc()
        self._send_seconds.labels(channel).observe(seconds)

    def outbox_measured(self, pending: int, oldest: datetime | None) -> None:
        self._pending.set(pending)
        self._oldest = oldest

    def breaker_changed(self, channel: str, state: BreakerState) -> None:
        self._breakers.labels(channel).set(state)

    def heartbeat_judged(self, name: str, last_seen: datetime, missing: bool) -> None:
        self._heartbeat_missing.labels(name).set(int(missing))
        self._heartbeat_seen.labels(name).set(last_seen.timestamp())

    def _oldest_age(self) -> float:
        """At scrape time, so the age goes on growing between the outbox's measurements
        (and if they stop)."""
        if self._oldest is None:
            return 0.0
        return max((datetime.now(UTC) - self._oldest).total_seconds(), 0.0)


METRICS = web.AppKey("metrics", Metrics)


async def scrape(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    metrics.open_incidents.count = await _count_open_incidents(request)
    # No await between the count and the text: a concurrent scrape cannot mix them up.
    return web.Response(
        body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def _count_open_incidents(request: web.Request) -> int | None:
    try:
        async with asyncio.timeout(OPEN_INCIDENTS_TIMEOUT):
            async with request.app[ENGINE].connect() as conn:
                return await reads.open_incidents(conn)
    except STORAGE_ERRORS as exc:
        log.warning("metrics: open incidents left out: no database: %s", type(exc).__name__)
        return None
