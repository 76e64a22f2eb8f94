"""The instrumentation seam: the webhook handler, the write path, the Writer, the outbox
and its breaker report what happened to one Observer. The default hears nothing and costs a
method call; /metrics implements it with counters and histograms (receiver/web/metrics.py).

Reports are made where the fact is final: alerts by outcome after the COMMIT that holds
them (a rolled-back batch retried webhook by webhook is counted once), a notification
after its attempt was recorded.

A new fact is one more no-op method here, called where the fact becomes final, and its
metric in web/metrics.Metrics; Several forwards every method without a line of its own.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from receiver.domain.lifecycle import Outcome


class BreakerState(enum.IntEnum):
    """A channel's circuit breaker, numbered as the guide's breaker gauge reads."""

    CLOSED = 0  # sends go
    HALF_OPEN = 1  # one probe is let through
    OPEN = 2  # the channel is left alone

    @property
    def label(self) -> str:
        """As people read it: closed, half-open, open."""
        return self.name.lower().replace("_", "-")


class Observer:
    """Every method is a no-op; a listener overrides those it wants."""

    def webhook_answered(self, status: int, seconds: float) -> None:
        """POST /alerts answered `status` after `seconds`, bad input included."""

    def alerts_received(self, counts: Counter[Outcome]) -> None:
        """One committed webhook's alerts, by what each did (as its answer counts them)."""

    def batch_committed(self, size: int, seconds: float) -> None:
        """One write transaction of `size` jobs committed after `seconds` in the database."""

    def notification_finished(self, channel: str, outcome: str, seconds: float) -> None:
        """One attempt to send: delivered, failed or timeout, and how long the send took."""

    def outbox_measured(self, pending: int, oldest: datetime | None) -> None:
        """Notifications waiting to be sent (pending or being sent), and when the oldest
        of them was queued."""

    def breaker_changed(self, channel: str, state: BreakerState) -> None:
        """This process's breaker for `channel` moved to `state` (closed when first used)."""

    def heartbeat_judged(self, name: str, last_seen: datetime, missing: bool) -> None:
        """A heartbeat was judged: when it last arrived, and whether it is overdue."""


QUIET = Observer()


class Several(Observer):
    """Every report goes to each of `observers`, in order: the served metrics and, say, a
    test's recorder."""

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers


def _forward(hook: str) -> Callable[..., None]:
    def forward(self: Several, *args: Any, **kwargs: Any) -> None:
        for observer in self.observers:
            getattr(observer, hook)(*args, **kwargs)

    forward.__name__, forward.__qualname__ = hook, f"Several.{hook}"
    return forward


HOOKS = tuple(name for name in vars(Observer) if not name.startswith("_"))
for _hook in HOOKS:
    setattr(Several, _hook, _forward(_hook))
