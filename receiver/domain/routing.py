"""Which channels hear about an incident change: the route list, first match wins.

A route matches the incident's common labels plus the pseudo-label `receiver` (the
Alertmanager receiver name). Matching stops at the first route that matches unless that
route says `continue: true`. One change reaches each channel at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from receiver.domain.change import Change
from receiver.domain.durations import Duration
from receiver.domain.matchers import MatcherField, matches_all


class Route(BaseModel):
    """One entry of the config file's `routes`. `title` and `body` are Jinja2 sources
    that replace the default templates; their syntax is checked when the file loads."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    match: list[MatcherField] = Field(default_factory=list)
    channels: list[str]  # required; `[]` sends nowhere (and stops, unless `continue`)
    send_resolved: bool = True
    repeat_interval: Duration | None = None
    continue_: bool = Field(False, alias="continue")
    fallback: str | None = None
    title: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class Planned:
    route_index: int
    channel: str


def routing_labels(common_labels: dict[str, str], receiver: str) -> dict[str, str]:
    return {**common_labels, "receiver": receiver}


def matching_routes(routes: list[Route], labels: dict[str, str]) -> list[tuple[int, Route]]:
    matched: list[tuple[int, Route]] = []
    for index, route in enumerate(routes):
        if matches_all(route.match, labels):
            matched.append((index, route))
            if not route.continue_:
                break
    return matched


def plan(change: Change, matched: list[tuple[int, Route]]) -> list[Planned]:
    """Notify on news: firing news always, resolution news where the route wants it."""
    firing_news = change.opened or bool(change.joined) or change.reminder
    resolved_news = bool(change.resolved) or change.incident_resolved
    planned: list[Planned] = []
    seen: set[str] = set()
    for index, route in matched:
        if not (firing_news or (resolved_news and route.send_resolved)):
            continue
        for channel in route.channels:
            if channel not in seen:
                seen.add(channel)
                planned.append(Planned(index, channel))
    return planned


def reminders_due(
    matched: list[tuple[int, Route]],
    opened_at: datetime,
    last_sent: dict[str, datetime],
    now: datetime,
) -> list[Planned]:
    """A reminder per channel whose route's repeat_interval has passed since the last
    message to that channel about the incident (or since it opened)."""
    due: list[Planned] = []
    for index, route in matched:
        interval: timedelta | None = route.repeat_interval
        if interval is None:
            continue
        for channel in route.channels:
            if now - last_sent.get(channel, opened_at) >= interval:
                due.append(Planned(index, channel))
    return due
