"""Delivery policy as plain decisions: when to retry, when to give up, when to leave a
channel alone. No I/O; the clock and the dice are passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from receiver.domain.durations import Duration
from receiver.domain.routing import Route
from receiver.observe import QUIET, BreakerState
from receiver.store.outbox import Claimed


class Delivery(BaseModel):
    """The config file's `delivery`: how hard the outbox tries, and how it protects
    itself from a dead channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(12, ge=1)
    max_age: Duration = timedelta(hours=6)
    backoff: Duration = timedelta(seconds=5)
    max_backoff: Duration = timedelta(minutes=5)
    timeout: Duration = timedelta(seconds=30)
    breaker_failures: int = Field(5, ge=1)
    breaker_cooldown: Duration = timedelta(minutes=1)
    concurrency: int = Field(8, ge=1, le=256)
    reminder_check: Duration = timedelta(seconds=30)
    poll_interval: Duration = timedelta(seconds=1)


def retry_at(
    attempts: int,
    created_at: datetime,
    now: datetime,
    delivery: Delivery,
    rand: Callable[[], float],
) -> datetime | None:
    """When to try again after `attempts` failed tries, or None to give up.

    Exponential backoff with jitter (half to all of the step), so that a channel coming
    back is not hit by every replica's backlog in the same second.
    """
    if attempts >= delivery.max_attempts or now - created_at >= delivery.max_age:
        return None
    step = min(delivery.backoff * (1 << max(attempts - 1, 0)), delivery.max_backoff)
    return now + step * (0.5 + rand() / 2)


@dataclass(frozen=True)
class Verdict:
    """What becomes of a notification after one attempt."""

    delivered: bool
    retry_at: datetime | None  # pending again from then; None and not delivered: failed
    fallback: str | None  # the channel that hears it instead, once it failed for good


def classify(
    ok: bool,
    claim: Claimed,
    route: Route | None,
    now: datetime,
    delivery: Delivery,
    breaker_reopens: datetime | None,
    rand: Callable[[], float],
) -> Verdict:
    """Stage 5 of delivery: delivered; or retry, no earlier than the channel's breaker
    lets a probe through; or failed for good, handed to the route's fallback channel
    (a fallback never falls back again, nor to itself)."""
    if ok:
        return Verdict(True, None, None)
    when = retry_at(claim.attempts + 1, claim.created_at, now, delivery, rand)
    if when is not None:
        if breaker_reopens is not None and breaker_reopens > when:
            when = breaker_reopens
        return Verdict(False, when, None)
    fallback = None
    if claim.kind != "fallback" and route is not None and route.fallback != claim.channel:
        fallback = route.fallback
    return Verdict(False, None, fallback)


@dataclass
class _State:
    failures: int = 0
    open_until: datetime | None = None
    probing: bool = False

    @property
    def shown(self) -> BreakerState:
        """Open from the failure that opens it until a probe is let through."""
        if self.open_until is None:
            return BreakerState.CLOSED
        return BreakerState.HALF_OPEN if self.probing else BreakerState.OPEN


@dataclass
class Breaker:
    """A circuit breaker per channel, per process.

    Closed: everything goes. After `failures` failed sends in a row it opens: the channel
    is left alone for `cooldown`. Then one probe goes; success closes it, failure opens it
    again for another cool-down. `changed` hears every move (and a channel's first use,
    closed), for the breaker gauge.
    """

    failures: int
    cooldown: timedelta
    changed: Callable[[str, BreakerState], None] = QUIET.breaker_changed
    _channels: dict[str, _State] = field(default_factory=dict)

    def closed_to(self, now: datetime) -> set[str]:
        """Channels not to claim for now: cooling down, or a probe already in flight."""
        return {
            name
            for name, s in self._channels.items()
            if (s.open_until is not None and now < s.open_until) or s.probing
        }

    def allow(self, channel: str, now: datetime) -> bool:
        state = self._state(channel)
        if state.open_until is None:
            return True
        if now < state.open_until or state.probing:
            return False
        state.probing = True
        self.changed(channel, BreakerState.HALF_OPEN)
        return True

    def record(self, channel: str, ok: bool, now: datetime) -> None:
        state = self._state(channel)
        before = state.shown
        state.probing = False
        if ok:
            state.failures, state.open_until = 0, None
        else:
            state.failures += 1
            if state.open_until is not None or state.failures >= self.failures:
                state.open_until = now + self.cooldown
        if state.shown is not before:
            self.changed(channel, state.shown)

    def state_of(self, channel: str) -> BreakerState:
        """As the breaker gauge shows it; closed for a channel not used yet (read only: a
        page asking must not register the channel with the gauge)."""
        state = self._channels.get(channel)
        return state.shown if state else BreakerState.CLOSED

    def reopens_at(self, channel: str) -> datetime | None:
        state = self._channels.get(channel)
        return state.open_until if state else None

    def _state(self, channel: str) -> _State:
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _State()
            self.changed(channel, BreakerState.CLOSED)
        return state
