"""The outbox worker: claim due notifications, render, send through Apprise, record.

It runs beside the HTTP server in the same event loop; Apprise's blocking sends run in
Apprise's thread pool. Ingest wakes it after a commit that queued something; otherwise it
polls, so that rows queued by other replicas, retries and reminders come due too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from receiver.config import FileConfig, Route
from receiver.live import Setup

if TYPE_CHECKING:
    from receiver.notify.render import Message
from receiver.notify import channels
from receiver.notify.policy import Breaker, retry_at
from receiver.secrets import Masker
from receiver.store import outbox, reads
from receiver.store.engine import Writer

log = logging.getLogger(__name__)

LEASE_MARGIN = timedelta(seconds=30)
REMINDER_LOCK = ("reminders",)


def _now() -> datetime:
    return datetime.now(UTC)


class Outbox:
    def __init__(
        self,
        engine: AsyncEngine,
        writer: Writer,
        setup: Callable[[], Setup],
        external_url: str,
        mask: Masker,
        replica: str,
    ) -> None:
        self._engine, self._writer, self._setup = engine, writer, setup
        self._external_url, self._mask, self._replica = external_url, mask, replica
        delivery = setup().config.delivery
        self._breaker = Breaker(delivery.breaker_failures, delivery.breaker_cooldown)
        self._wake = asyncio.Event()
        self._stopping = False
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(delivery.concurrency)
        self._next_reminders = _now()

    def _config(self) -> FileConfig:
        return self._setup().config

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self._reminders()
                await self._claim_and_send()
            except Exception:  # storage trouble: log it, keep the loop alive, try again
                log.exception("outbox cycle failed; trying again")
            poll = self._config().delivery.poll_interval.total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)
            self._wake.clear()

    async def stop(self, deadline: float) -> None:
        """Stop claiming; let sends finish until `deadline` seconds, then hand them back."""
        self._stopping = True
        self._wake.set()
        unfinished: list[int] = []
        if self._inflight:
            _done, pending = await asyncio.wait(self._inflight.values(), timeout=deadline)
            unfinished = [i for i, task in self._inflight.items() if task in pending]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if unfinished:
            log.warning("shutdown: releasing %d unfinished notifications", len(unfinished))
            await self._writer.run([], lambda c: outbox.release(c, unfinished, _now()))

    async def _reminders(self) -> None:
        now = _now()
        config = self._config()
        if now < self._next_reminders or not any(r.repeat_interval for r in config.routes):
            return
        self._next_reminders = now + config.delivery.reminder_check
        candidates = await self._writer.run([], outbox.open_incidents)
        if not candidates:
            return
        locks = [REMINDER_LOCK] + [("group", c.receiver, c.group_key) for c in candidates]
        queued = await self._writer.run(
            locks, lambda conn: outbox.record_reminders(conn, candidates, config.routes, _now())
        )
        if queued:
            log.info("queued %d reminders", queued)

    async def _claim_and_send(self) -> None:
        free = self._config().delivery.concurrency - len(self._inflight)
        if free <= 0 or self._stopping:
            return
        now = _now()
        lease = self._config().delivery.timeout + LEASE_MARGIN
        skip = self._breaker.closed_to(now)
        claimed = await self._writer.run(
            [], lambda conn: outbox.claim(conn, now, free, lease, self._replica, skip)
        )
        held_back = []
        for item in claimed:
            if not self._breaker.allow(item.channel, now):
                held_back.append(item.id)
                continue
            task = asyncio.create_task(self._deliver(item))
            self._inflight[item.id] = task
            task.add_done_callback(functools.partial(self._forget, item.id))
        if held_back:
            later = now + self._config().delivery.poll_interval

            await self._writer.run([], lambda conn: outbox.release(conn, held_back, later))

    def _forget(self, notification_id: int, _task: asyncio.Task[None]) -> None:
        self._inflight.pop(notification_id, None)

    async def _deliver(self, item: outbox.Claimed) -> None:
        async with self._slots:
            config = self._config()
            route = _route(config, item.route_index)
            started = _now()
            message, problem = await self._message(item, route)
            urls = config.channels.get(item.channel)
            if urls is None:
                problem = f"channel {item.channel!r} is no longer in the configuration"
            if problem is not None or urls is None or message is None:
                outcome = channels.SendOutcome(False, "failed", 0.0, [])
                error: str | None = problem
            else:
                outcome = await channels.send(urls, message, config.delivery.timeout, self._mask)
                error = outcome.error
            finished = _now()
            self._breaker.record(item.channel, outcome.ok, finished)
            attempt = outbox.Attempt(
                started_at=started,
                seconds=outcome.seconds,
                outcome=outcome.status,
                error=self._mask(error) if error else None,
                services=outcome.as_json(),
                title=message.title if message else "",
                body=message.body if message else "",
            )
            again = None if outcome.ok else self._retry_at(item, finished, config)
            fallback = None
            if not outcome.ok and again is None and item.kind != "fallback" and route:
                fallback = route.fallback if route.fallback != item.channel else None
            await self._writer.run(
                [], lambda c: outbox.finish(c, item, attempt, self._replica, again, fallback)
            )
            _log_outcome(item, outcome.status, again, fallback)

    def _retry_at(self, item: outbox.Claimed, now: datetime, config: FileConfig) -> datetime | None:
        when = retry_at(item.attempts + 1, item.created_at, now, config.delivery, random.random)
        reopens = self._breaker.reopens_at(item.channel)
        if when is not None and reopens is not None and reopens > when:
            when = reopens  # no point trying before the breaker lets the channel be probed
        return when

    async def _message(
        self, item: outbox.Claimed, route: Route | None
    ) -> tuple[Message | None, str | None]:
        # Jinja2 and the templates load with the first message, not at start-up.
        from receiver.notify.render import Guides, incident_runbooks, render

        async with self._engine.connect() as conn:
            view = await reads.incident_view(conn, item.incident_id)
        if view is None:
            return None, f"incident {item.incident_id} no longer exists"
        setup = self._setup()
        guides = Guides(incident_runbooks(view, setup.runbooks), setup.config.runbook_steps)
        title, body = route.templates if route else (None, None)
        try:
            return render(view, item.change, self._external_url, _now(), title, body, guides), None
        except Exception as exc:  # a route's own template failed at run time
            log.warning("route template failed (%s); using the default template", exc)
            return render(view, item.change, self._external_url, _now(), guides=guides), None


def _route(config: FileConfig, index: int | None) -> Route | None:
    if index is None or not 0 <= index < len(config.routes):
        return None
    return config.routes[index]


def _log_outcome(
    item: outbox.Claimed, status: str, again: datetime | None, fallback: str | None
) -> None:
    if status == "delivered":
        log.info("notification %d delivered to %s", item.id, item.channel)
    elif again is not None:
        log.warning(
            "notification %d to %s %s; retrying at %s", item.id, item.channel, status, again
        )
    else:
        log.error(
            "notification %d to %s %s; giving up%s",
            item.id,
            item.channel,
            status,
            f", sending to fallback {fallback}" if fallback else "",
        )
