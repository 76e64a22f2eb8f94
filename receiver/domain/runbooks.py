"""Runbooks as the rules see them: which alerts each is for, the one way to pick the
runbooks of a set of alerts (most specific first), and how they met last month's alerts.
Reading them from their folder is receiver.runtime.runbooks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median

from receiver.domain.matchers import Matcher, matches_all


@dataclass(frozen=True)
class Runbook:
    slug: str
    title: str
    matchers: tuple[Matcher, ...]
    owner: str | None
    body: str
    steps: tuple[str, ...]

    def matches(self, labels: dict[str, str]) -> bool:
        return bool(self.matchers) and matches_all(list(self.matchers), labels)


@dataclass(frozen=True)
class Runbooks:
    """The loaded folder."""

    items: tuple[Runbook, ...] = ()
    folder: Path | None = None
    by_slug: dict[str, Runbook] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_slug.update({r.slug: r for r in self.items})

    def pick(self, label_sets: Iterable[dict[str, str]]) -> list[Runbook]:
        """The runbooks matching any of the label sets, each once, most specific (most
        matchers) first: the one order API, pages and messages show them in."""
        found: dict[str, Runbook] = {}
        for labels in label_sets:
            for runbook in self.items:
                if runbook.slug not in found and runbook.matches(labels):
                    found[runbook.slug] = runbook
        return sorted(found.values(), key=lambda r: (-len(r.matchers), r.slug))


@dataclass(frozen=True)
class Usage:
    alerts: int
    median_to_resolve: timedelta | None


@dataclass(frozen=True)
class Coverage:
    """How the runbooks met the alerts of a period: per runbook, and the gaps."""

    usage: dict[str, Usage]
    unmatched: dict[str, int]  # alertname -> alerts with no runbook


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=median(v.total_seconds() for v in values))


def coverage(
    runbooks: Runbooks, alerts: Iterable[tuple[dict[str, str], datetime, datetime | None]]
) -> Coverage:
    """`alerts` are (labels, startsAt, endsAt or None while firing)."""
    durations: dict[str, list[timedelta]] = {r.slug: [] for r in runbooks.items}
    counts: dict[str, int] = dict.fromkeys(durations, 0)
    unmatched: dict[str, int] = {}
    for labels, starts_at, ends_at in alerts:
        matched = runbooks.pick([labels])
        if not matched:
            name = labels.get("alertname", "")
            unmatched[name] = unmatched.get(name, 0) + 1
        for runbook in matched:
            counts[runbook.slug] += 1
            if ends_at is not None:
                durations[runbook.slug].append(ends_at - starts_at)
    usage = {slug: Usage(counts[slug], _median(durations[slug])) for slug in durations}
    return Coverage(usage, dict(sorted(unmatched.items(), key=lambda kv: (-kv[1], kv[0]))))
