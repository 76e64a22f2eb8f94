"""Delivery policy as plain decisions: when to retry, when to give up, when to leave a
channel alone. No I/O; the clock and the dice are passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from receiver.config import Delivery


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


@dataclass
class _State:
    failures: int = 0
    open_until: datetime | None = None
    probing: bool = False


@dataclass
class Breaker:
    """A circuit breaker per channel, per process.

    Closed: everything goes. After `failures` failed sends in a row it opens: the channel
    is left alone for `cooldown`. Then one probe goes; success closes it, failure opens it
    again for another cool-down.
    """

    failures: int
    cooldown: timedelta
    _channels: dict[str, _State] = field(default_factory=dict)

    def closed_to(self, now: datetime) -> set[str]:
        """Channels not to claim for now: cooling down, or a probe already in flight."""
        return {
            name
            for name, s in self._channels.items()
            if (s.open_until is not None and now < s.open_until) or s.probing
        }

    def allow(self, channel: str, now: datetime) -> bool:
        state = self._channels.setdefault(channel, _State())
        if state.open_until is None:
            return True
        if now < state.open_until or state.probing:
            return False
        state.probing = True
        return True

    def record(self, channel: str, ok: bool, now: datetime) -> None:
        state = self._channels.setdefault(channel, _State())
        state.probing = False
        if ok:
            state.failures, state.open_until = 0, None
            return
        state.failures += 1
        if state.open_until is not None or state.failures >= self.failures:
            state.open_until = now + self.cooldown

    def reopens_at(self, channel: str) -> datetime | None:
        state = self._channels.get(channel)
        return state.open_until if state else None
