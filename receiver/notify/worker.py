"""The outbox worker: notifications decided at ingest, sent later, each through a short
list of stages, the way Alertmanager's notify pipeline reads:

    claim (and read its incidents) -> resolve the route -> render -> send
        -> classify the outcome -> record

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from receiver.domain.routing import Route
from receiver.domain.runbooks import Runbooks
from receiver.domain.views import IncidentView
from receiver.notify import channels
from receiver.notify.policy import Breaker, Delivery, Verdict, classify
from receiver.observe import QUIET, BreakerState, Observer
from receiver.store import outbox, reads
from receiver.store.engine import Writer, unavailable

log = logging.getLogger(__name__)

LEASE_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class Rules:
    """What delivery reads from the configuration in force; a reload swaps it whole, and
    each send reads it once, so a send never mixes two configurations."""

    channels: dict[str, list[str]]
    routes: list[Route]
    delivery: Delivery
    runbooks: Runbooks
    runbook_steps: int

    def route(self, index: int | None) -> Route | None:
        """The route a notification was planned for, if the configuration still has it."""
        if index is None or not 0 <= index < len(self.routes):
            return None
        return self.routes[index]


def _now() -> datetime:
    return datetime.now(UTC)


class Outbox:
    def __init__(
        self,
        engine: AsyncEngine,
        writer: Writer,
        rules: Callable[[], Rules],
        base_url: str,
        mask: Callable[[str], str],
        replica: str,
        observer: Observer = QUIET,
    ) -> None:
        self._engine, self._writer, self._rules = engine, writer, rules
        self._base_url, self._mask, self._replica = base_url, mask, replica
        self._observer = observer
        delivery = rules().delivery
        self._breaker = Breaker(
            delivery.breaker_failures, delivery.breaker_cooldown, observer.breaker_changed
        )
        self._wake = asyncio.Event()
        self._stopping = False
        # Claims are bounded by `delivery.concurrency` minus what is in flight, and each
        # starts at once: a claim must not wait for a slot while its lease runs out.
        self._inflight: dict[int, tuple[outbox.Claimed, asyncio.Task[None]]] = {}
        self._next_measure = _now() + delivery.poll_interval  # not in start-up's way

    def breaker_state(self, channel: str) -> BreakerState:
        """This process's breaker for `channel` (another replica has its own)."""
        return self._breaker.state_of(channel)

    def wake(self) -> None:
        self._wake.set()

    def open_channels(self) -> list[str]:
        """Channels this process leaves alone for now (breaker open or probing), for the
        pages' banner; the breaker is per process, so another replica may differ."""
        return sorted(self._breaker.closed_to(_now()))

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self._claim_and_send()
            except Exception as exc:  # log it, keep the loop alive, try again
                if unavailable(exc):  # an outage: a line per poll, not a traceback
                    log.warning("outbox: database unavailable (%s); trying again", exc)
                else:
                    log.exception("outbox cycle failed; trying again")
            poll = self._rules().delivery.poll_interval.total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)
            self._wake.clear()

    async def stop(self, deadline: float) -> None:
        """Stop claiming; let sends finish until `deadline` seconds, then hand them back."""
        self._stopping = True
        self._wake.set()
        unfinished: list[outbox.Claimed] = []
        if self._inflight:
            tasks = [task for _claim, task in self._inflight.values()]
            _done, pending = await asyncio.wait(tasks, timeout=deadline)
            unfinished = [claim for claim, task in self._inflight.values() if task in pending]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if unfinished:
            log.warning("shutdown: releasing %d unfinished notifications", len(unfinished))
            await self._writer.run([], lambda c: outbox.release(c, unfinished, _now()))

    async def _claim_and_send(self) -> None:
        """Stage 1, claim: due rows for the free slots, channels whose breaker is open left
        out; in half-open state one probe goes and the rest is handed back. At most once
        per poll interval the same transaction measures the outbox for the observer (a
        read of its own, on SQLite's reader connection, cost the webhooks' tail latency)."""
        delivery = self._rules().delivery
        free = 0 if self._stopping else delivery.concurrency - len(self._inflight)
        now = _now()
        measure = now >= self._next_measure
        if free <= 0 and not measure:
            return
        if measure:
            self._next_measure = now + delivery.poll_interval
        lease = delivery.timeout + LEASE_MARGIN
        skip = self._breaker.closed_to(now)

        def claim(conn: Connection) -> tuple[list[outbox.Claimed], tuple[int, datetime | None]]:
            claimed = outbox.claim(conn, now, free, lease, self._replica, skip) if free > 0 else []
            return claimed, outbox.depth(conn) if measure else (0, None)

        claimed, (pending, oldest) = await self._writer.run([], claim)
        if measure:
            self._observer.outbox_measured(pending, oldest)
        held_back: list[outbox.Claimed] = []
        sending: list[outbox.Claimed] = []
        for item in claimed:
            (sending if self._breaker.allow(item.channel, now) else held_back).append(item)
        views = await self._views(sending)
        for item in sending:
            task = asyncio.create_task(self._deliver(item, views.get(item.incident_id)))
            self._inflight[item.id] = (item, task)
            task.add_done_callback(functools.partial(self._forget, item.id))
        if held_back:
            later = now + delivery.poll_interval
            await self._writer.run([], lambda conn: outbox.release(conn, held_back, later))

    def _forget(self, notification_id: int, _task: asyncio.Task[None]) -> None:
        """A finished send frees a slot: claim again now, not at the next poll (the slot
        sat idle until then: 2,000 incidents at once went out at 9 a second)."""
        self._inflight.pop(notification_id, None)
        if not self._stopping:
            self._wake.set()

    async def _views(self, claimed: list[outbox.Claimed]) -> dict[int, IncidentView]:
        """What stage 3 renders, for the whole claim in one read: the incidents as they
        are now."""
        if not claimed:
            return {}
        async with self._engine.connect() as conn:
            return await reads.incident_views(conn, (item.incident_id for item in claimed))

    async def _deliver(self, item: outbox.Claimed, view: IncidentView | None) -> None:
        rules = self._rules()
        route = rules.route(item.route_index)
        started = _now()
        message, problem = self._render(item, view, route, rules)
        outcome = await self._send(item, message, problem, rules)
        finished = _now()
        self._breaker.record(item.channel, outcome.ok, finished)
        verdict = classify(
            outcome.ok,
            item,
            route,
            finished,
            rules.delivery,
            self._breaker.reopens_at(item.channel),
            random.random,
        )
        attempt = outbox.Attempt(
            started_at=started,
            seconds=outcome.seconds,
            outcome=outcome.status,
            error=self._mask(outcome.error) if outcome.error else None,
            services=outcome.as_json(),
            title=message.title if message else "",
            body=message.body if message else "",
        )
        held = await self._record(item, attempt, verdict)
        self._observer.notification_finished(item.channel, outcome.status, outcome.seconds)
        if held:
            _log_outcome(item, outcome.status, verdict)

    def _render(
        self, item: outbox.Claimed, view: IncidentView | None, route: Route | None, rules: Rules
    ) -> tuple[channels.Message | None, str | None]:
        """Stage 3, render: the incident as the claim read it, with the route's templates
        (the default ones if the route's fail at run time)."""
        # Jinja2 and the templates load with the first message, not at start-up.
        from receiver.notify.render import Guides, incident_runbooks, render

        if view is None:
            return None, f"incident {item.incident_id} no longer exists"
        guides = Guides(incident_runbooks(view, rules.runbooks), rules.runbook_steps)
        title, body = (route.title, route.body) if route else (None, None)
        url, now = self._base_url, _now()
        try:
            return render(view, item.change, url, now, title, body, guides), None
        except Exception as exc:  # a route's own template failed at run time
            log.warning("route template failed (%s); using the default template", exc)
            return render(view, item.change, url, now, guides=guides), None

    async def _send(
        self,
        item: outbox.Claimed,
        message: channels.Message | None,
        problem: str | None,
        rules: Rules,
    ) -> channels.SendOutcome:
        """Stage 4, send: through every URL of the channel, or a failure that says why
        nothing could be sent."""
        urls = rules.channels.get(item.channel)
        if urls is None:
            problem = f"channel {item.channel!r} is no longer in the configuration"
        if problem is not None or urls is None or message is None:
            return channels.SendOutcome(False, "failed", 0.0, [], problem)
        return await channels.send(urls, message, rules.delivery.timeout, self._mask)

    async def _record(
        self, item: outbox.Claimed, attempt: outbox.Attempt, verdict: Verdict
    ) -> bool:
        """Stage 6, record: the attempt in the delivery log, and the row's next state if
        the claim still holds it (answered)."""
        held = await self._writer.run(
            [],
            lambda c: outbox.finish(
                c, item, attempt, self._replica, verdict.retry_at, verdict.fallback
            ),
        )
        if not held:
            log.warning(
                "notification %d to %s finished after its lease ran out; another claim "
                "owns it now, so only the attempt is logged (raise delivery.timeout if "
                "sends take this long)",
                item.id,
                item.channel,
            )
        return held


def _log_outcome(item: outbox.Claimed, status: str, verdict: Verdict) -> None:
    """One line per attempt, its facts as fields for whoever searches the logs."""
    fields = {
        "notification_id": item.id,
        "incident_id": item.incident_id,
        "channel": item.channel,
        "outcome": status,
        "attempt": item.attempts + 1,
    }
    if verdict.delivered:
        log.info("notification %d delivered to %s", item.id, item.channel, extra=fields)
    elif verdict.retry_at is not None:
        log.warning(
            "notification %d to %s %s; retrying at %s",
            item.id,
            item.channel,
            status,
            verdict.retry_at,
            extra=fields,
        )
    else:
        log.error(
            "notification %d to %s %s; giving up%s",
            item.id,
            item.channel,
            status,
            f", sending to fallback {verdict.fallback}" if verdict.fallback else "",
            extra=fields,
        )
