"""The rules of an alert's life, as pure decisions over plain data (no I/O).

An alert is one firing episode of a label set, keyed by (fingerprint, startsAt).
Alertmanager delivers at least once, out of order and from HA pairs, so each delivered
copy is judged against the episodes already known for its fingerprint:

- `resolved` is terminal: a firing copy of a resolved episode is stale and changes nothing;
- a newer episode proves the older ones ended (resolved, inferred, at the newer start);
- a firing copy older than a known episode is stale: kept in history, resolved (inferred);
- a repetition only bumps counters; annotations follow the newest copy that is not stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from receiver.domain.wire import WireAlert

FIRING = "firing"
RESOLVED = "resolved"


class Outcome(StrEnum):
    """What one delivered alert did; the webhook's answer counts these."""

    NEW = "new"
    UPDATED = "updated"
    RESOLVED = "resolved"
    DUPLICATE = "duplicates"
    STALE = "stale"


@dataclass(frozen=True)
class EventDraft:
    kind: str  # fired | resolved | annotations_changed
    at: datetime
    inferred: bool = False
    details: dict[str, Any] | None = None


@dataclass(eq=False)  # identity: two episodes are never "the same" by value
class Episode:
    """One alert as the decisions see it. `labels` and `generator_url` are known for
    episodes first seen in this webhook (id None): loading stored ones skips them."""

    id: int | None
    fingerprint: str
    starts_at: datetime
    status: str
    ends_at: datetime | None
    end_inferred: bool
    annotations: dict[str, str]
    labels: dict[str, str] | None = None
    generator_url: str = ""
    dirty: set[str] = field(default_factory=set)
    events: list[EventDraft] = field(default_factory=list)
    resolved_now: bool = False  # by this webhook: the incidents holding it may close

    def resolve(self, at: datetime, *, inferred: bool) -> None:
        self.status, self.ends_at, self.end_inferred = RESOLVED, at, inferred
        self.dirty |= {"status", "ends_at", "end_inferred"}
        self.events.append(EventDraft("resolved", at, inferred=inferred))
        self.resolved_now = True

    def set_annotations(self, annotations: dict[str, str], *, event_at: datetime | None) -> bool:
        """Take the newer annotations; record an event only while the alert is firing."""
        if annotations == self.annotations:
            return False
        self.annotations = annotations
        self.dirty.add("annotations")
        if event_at is not None:
            details = {"annotations": annotations}
            self.events.append(EventDraft("annotations_changed", event_at, details=details))
        return True


@dataclass(frozen=True)
class Delivered:
    """One alert of the webhook and the episode it landed on."""

    episode: Episode
    outcome: Outcome

    @property
    def carried(self) -> bool:
        """Whether it counts for its incident; stale copies change no incident."""
        return self.outcome is not Outcome.STALE


def apply_webhook(
    alerts: list[WireAlert], known: dict[str, list[Episode]], received_at: datetime
) -> list[Delivered]:
    """Judge every delivered alert, oldest episode first, updating `known` in place."""
    latest: dict[tuple[str, datetime], WireAlert] = {}
    for alert in alerts:  # a payload naming one episode twice: the last copy wins
        latest[(alert.fingerprint, alert.start)] = alert
    ordered = sorted(latest.values(), key=lambda a: (a.fingerprint, a.start))
    return [
        _apply_one(alert, known.setdefault(alert.fingerprint, []), received_at) for alert in ordered
    ]


def _apply_one(alert: WireAlert, episodes: list[Episode], received_at: datetime) -> Delivered:
    start = alert.start
    later = [e.starts_at for e in episodes if e.starts_at > start]
    exact = next((e for e in episodes if e.starts_at == start), None)
    reported_end = alert.ends_at or received_at

    if exact is None:
        episode = Episode(
            id=None,
            fingerprint=alert.fingerprint,
            starts_at=start,
            status=FIRING,
            ends_at=None,
            end_inferred=False,
            annotations=dict(alert.annotations),
            labels=dict(alert.labels),
            generator_url=alert.generator_url,
        )
        episode.events.append(EventDraft("fired", start))
        episodes.append(episode)
        if alert.status == RESOLVED:
            episode.resolve(reported_end, inferred=False)
            outcome = Outcome.NEW
        elif later:
            episode.resolve(min(later), inferred=True)
            outcome = Outcome.STALE
        else:
            outcome = Outcome.NEW
    else:
        episode = exact
        outcome = _judge_existing(episode, alert, later, reported_end, received_at)

    if outcome is not Outcome.STALE:
        for older in episodes:
            if older.starts_at < start and older.status == FIRING:
                older.resolve(start, inferred=True)
    return Delivered(episode, outcome)


def _judge_existing(
    episode: Episode,
    alert: WireAlert,
    later: list[datetime],
    reported_end: datetime,
    received_at: datetime,
) -> Outcome:
    if episode.status == RESOLVED:
        if alert.status == FIRING:
            return Outcome.STALE
        corrected = False
        if episode.end_inferred:
            episode.ends_at, episode.end_inferred = reported_end, False
            episode.dirty |= {"ends_at", "end_inferred"}
            corrected = True
        changed = episode.set_annotations(dict(alert.annotations), event_at=None)
        return Outcome.UPDATED if corrected or changed else Outcome.DUPLICATE
    if alert.status == RESOLVED:
        episode.set_annotations(dict(alert.annotations), event_at=None)
        episode.resolve(reported_end, inferred=False)
        return Outcome.RESOLVED
    if later:
        episode.resolve(min(later), inferred=True)
        return Outcome.STALE
    if episode.set_annotations(dict(alert.annotations), event_at=received_at):
        return Outcome.UPDATED
    return Outcome.DUPLICATE


def may_be_plain(alerts: list[WireAlert]) -> bool:
    """Whether a webhook can be plain at all (see `is_plain`): some alerts, each
    fingerprint once."""
    return bool(alerts) and len({a.fingerprint for a in alerts}) == len(alerts)


def is_plain(alerts: list[WireAlert], known: dict[str, list[Episode]]) -> bool:
    """A webhook whose every alert opens a new episode, repeats a firing one (new
    annotations allowed), resolves a firing one, or repeats a resolution: `apply_webhook`
    would answer NEW, DUPLICATE, UPDATED or RESOLVED for each alert, change no episode it
    does not carry, and no end already known. That is nearly all of Alertmanager's
    traffic, and what the batch path writes set-based; anything else (stale copies,
    episodes replaced, late resolutions, inferred ends corrected) takes the general path."""
    if not may_be_plain(alerts):
        return False
    for alert in alerts:
        episodes = known.get(alert.fingerprint, ())
        if alert.status == FIRING:
            for episode in episodes:
                if episode.starts_at > alert.start:
                    return False  # the copy is stale
                if episode.status == FIRING and episode.starts_at < alert.start:
                    return False  # the older episode would be resolved
                if episode.status != FIRING and episode.starts_at == alert.start:
                    return False  # a firing copy of a resolved episode is stale
            continue
        exact = next((e for e in episodes if e.starts_at == alert.start), None)
        if exact is None or (exact.status != FIRING and exact.end_inferred):
            return False  # a late resolution, or an inferred end corrected
        if any(e.starts_at < alert.start and e.status == FIRING for e in episodes):
            return False  # the older episode would be resolved
    return True


def ending(alerts: list[WireAlert], known: dict[str, list[Episode]]) -> list[Episode]:
    """The firing episodes that a plain webhook resolves: the incidents holding them may
    close."""
    return [
        e
        for a in alerts
        if a.status == RESOLVED
        for e in known.get(a.fingerprint, ())
        if e.starts_at == a.start and e.status == FIRING
    ]
