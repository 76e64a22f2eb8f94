"""The instrumentation seam: the webhook handler, the write path, the Writer and the
outbox report what happened to one Observer. The default hears nothing and costs a
method call; /metrics implements it with counters and histograms.

Reports are made where the fact is final: alerts by outcome after the COMMIT that holds
them (a rolled-back batch retried webhook by webhook is counted once), a notification
after its attempt was recorded.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from receiver.domain.lifecycle import Outcome


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


QUIET = Observer()
