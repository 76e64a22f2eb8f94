"""Retention: a periodic job that deletes history older than the config file's
`retention` says, a few hundred rows per transaction so that webhooks are written in
between. Open incidents, firing alerts and unsent notifications are never due, and
neither is anything that a row which stays refers to (receiver.store.retention)."""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from receiver.domain.durations import Duration, parse_duration
from receiver.store.engine import LockName, Writer
from receiver.store.retention import ALERTS, INCIDENTS, NOTIFICATIONS, Sweep

log = logging.getLogger(__name__)

LOCK: LockName = ("retention",)
BATCH = 500
"""Rows read per transaction: about 10 ms of the write lock on SQLite, cascades included."""

FOREVER = "forever"
LONGEST = timedelta(days=36500)


def _kept_for(value: Any) -> timedelta | None:
    if value is None or value == FOREVER:
        return None
    # A bare number would be read as seconds: `90` meant as days would delete nearly all.
    if not isinstance(value, str | timedelta):
        raise ValueError(f"write a duration with its unit, such as 90d, or {FOREVER}")
    try:
        kept = parse_duration(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise ValueError(f"{exc}, or {FOREVER}") from exc
    if kept <= timedelta(0):
        raise ValueError(f"must be longer than 0s; to keep everything, write {FOREVER}")
    if kept > LONGEST:  # the cutoff, now minus this, must still be a date
        raise ValueError(f"must be at most {LONGEST.days}d; to keep everything, write {FOREVER}")
    return kept


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


KeptFor = Annotated[timedelta | None, BeforeValidator(_kept_for)]
"""How long a kind of history is kept: a duration such as `90d`, or `forever` (None)."""


class Retention(BaseModel):
    """The config file's `retention`: how long history stays, and how often it is pruned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resolved_alerts: KeptFor = timedelta(days=90)
    notifications: KeptFor = timedelta(days=30)
    incidents: KeptFor = timedelta(days=90)
    check: Annotated[Duration, AfterValidator(_positive)] = timedelta(minutes=10)


@dataclass(frozen=True)
class Pruned:
    alerts: int = 0
    notifications: int = 0
    incidents: int = 0
    transactions: int = 0


async def prune(writer: Writer, retention: Retention, now: datetime, batch: int = BATCH) -> Pruned:
    """Delete what is due at `now`: alerts first, then notifications, then the incidents
    that these leave with nothing referring to them."""
    counts: dict[str, int] = {}
    transactions = 0
    for name, sweep, kept_for in (
        ("alerts", ALERTS, retention.resolved_alerts),
        ("notifications", NOTIFICATIONS, retention.notifications),
        ("incidents", INCIDENTS, retention.incidents),
    ):
        if kept_for is None:
            continue
        counts[name], steps = await _sweep(writer, sweep, now - kept_for, batch)
        transactions += steps
    pruned = Pruned(**counts, transactions=transactions)
    if any(counts.values()):
        log.info(
            "retention deleted %d alerts, %d notifications and %d incidents",
            pruned.alerts,
            pruned.notifications,
            pruned.incidents,
        )
    return pruned


async def _sweep(writer: Writer, sweep: Sweep, cutoff: datetime, batch: int) -> tuple[int, int]:
    """Step through one kind of row; answer how many went, in how many transactions."""
    deleted = steps = 0
    after = None
    while True:
        gone, after = await writer.run(
            [LOCK], functools.partial(sweep.step, cutoff=cutoff, after=after, limit=batch)
        )
        deleted += gone
        steps += 1
        if after is None:
            return deleted, steps
        await asyncio.sleep(0)  # let webhooks that arrived meanwhile reach the writer first
