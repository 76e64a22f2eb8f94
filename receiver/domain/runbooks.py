"""Runbooks as the rules see them: which alerts each is for, the one way to pick the
runbooks of a set of alerts (most specific first), and how they met last month's alerts.
Reading them from their folder is receiver.runtime.runbooks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

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


def _median(weighted: list[tuple[timedelta, int]]) -> timedelta | None:
    """statistics.median over values given with their counts (the middle one, or the
    mean of the middle two)."""
    total = sum(n for _, n in weighted)
    if not total:
        return None
    low, high = (total - 1) // 2, total // 2
    middle: list[timedelta] = []
    seen = 0
    for value, n in sorted(weighted):
        seen += n
        while len(middle) < 2 and seen > (low, high)[len(middle)]:
            middle.append(value)
    return (middle[0] + middle[1]) / 2


def labels_to_group_by(runbooks: Runbooks) -> list[str]:
    """The labels coverage depends on: alertname (the gaps) and every matched one."""
    names = {m.name for r in runbooks.items for m in r.matchers}
    return ["alertname", *sorted(names - {"alertname"})]


def coverage(
    runbooks: Runbooks, groups: Iterable[tuple[dict[str, str], timedelta | None, int]]
) -> Coverage:
    """`groups` are (labels of labels_to_group_by, time to resolve or None while firing,
    how many alerts): the alerts counted once per distinct value, so the work follows
    the distinct label sets, not the alerts."""
    durations: dict[str, list[tuple[timedelta, int]]] = {r.slug: [] for r in runbooks.items}
    counts: dict[str, int] = dict.fromkeys(durations, 0)
    unmatched: dict[str, int] = {}
    picked: dict[tuple[tuple[str, str], ...], list[Runbook]] = {}
    for labels, to_resolve, n in groups:
        key = tuple(sorted(labels.items()))
        matched = picked.get(key)
        if matched is None:
            matched = picked[key] = runbooks.pick([labels])
        if not matched:
            name = labels.get("alertname", "")
            unmatched[name] = unmatched.get(name, 0) + n
        for runbook in matched:
            counts[runbook.slug] += n
            if to_resolve is not None:
                durations[runbook.slug].append((to_resolve, n))
    usage = {slug: Usage(counts[slug], _median(durations[slug])) for slug in durations}
    return Coverage(usage, dict(sorted(unmatched.items(), key=lambda kv: (-kv[1], kv[0]))))
