"""Which channels hear about an incident change: the route list, first match wins.

A route matches the incident's common labels plus the pseudo-label `receiver` (the
Alertmanager receiver name). Matching stops at the first route that matches unless that
route says `continue: true`. One change reaches each channel at most once.
"""

from __future__ import annotations

from dataclasses import dataclass

from receiver.change import Change
from receiver.config import Route
from receiver.matchers import matches_all


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
