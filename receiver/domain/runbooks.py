"""Runbooks as the rules see them: which alerts each is for, the one way to pick the
runbooks of a set of alerts (most specific first), and how they met last month's alerts.
Reading them from their folder is receiver.runtime.runbooks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from receiver.domain.matchers import Matcher, matches_all

ROLLUP_LABELS = frozenset({"alertname", "severity"})
"""The labels the alert rollups keep."""


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

    @property
    def counted_by_name(self) -> bool:
        """Whether alertname and severity alone decide its alerts, so the rollups count
        them exactly (most runbooks match on alertname only)."""
        return all(m.name in ROLLUP_LABELS for m in self.matchers)


MATCHED_KEPT = 10_000
"""Label combinations whose runbooks are remembered (a runbook on instance can make many)."""


@dataclass(frozen=True)
class Runbooks:
    """The loaded folder."""

    items: tuple[Runbook, ...] = ()
    folder: Path | None = None
    by_slug: dict[str, Runbook] = field(default_factory=dict, compare=False)
    # What matched, by the values of the labels any matcher reads: the alerts of a page
    # share a few alertnames, and matching each against every runbook's regexes cost
    # the home page half a second for 500 incidents.
    _matched: dict[tuple[str | None, ...], tuple[Runbook, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # The labels any matcher reads: all that decides an alert's runbooks, so a read may
    # fetch these alone.
    label_names: tuple[str, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_slug.update({r.slug: r for r in self.items})
        object.__setattr__(
            self, "label_names", tuple(sorted({m.name for r in self.items for m in r.matchers}))
        )

    def _matching(self, labels: dict[str, str]) -> tuple[Runbook, ...]:
        key = tuple(labels.get(name) for name in self.label_names)
        found = self._matched.get(key)
        if found is None:
            if len(self._matched) >= MATCHED_KEPT:
                self._matched.clear()
            found = self._matched[key] = tuple(r for r in self.items if r.matches(labels))
        return found

    def pick(self, label_sets: Iterable[dict[str, str]]) -> list[Runbook]:
        """The runbooks matching any of the label sets, each once, most specific (most
        matchers) first: the one order API, pages and messages show them in."""
        found: dict[str, Runbook] = {}
        for labels in label_sets:
            for runbook in self._matching(labels):
                found.setdefault(runbook.slug, runbook)
        return sorted(found.values(), key=lambda r: (-len(r.matchers), r.slug))


def without_runbook(runbooks: Runbooks, rows: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """Alertnames none of whose (alertname, severity) pairs any runbook picks, with their
    alerts, most first. The rollup knows only these two labels, so a runbook that also
    matches on others (instance, job) is not counted as covering the name."""
    uncovered: dict[str, int] = {}
    covered: set[str] = set()
    for name, severity, n in rows:
        if runbooks.pick([{"alertname": name, "severity": severity}]):
            covered.add(name)
        else:
            uncovered[name] = uncovered.get(name, 0) + n
    left = {k: v for k, v in uncovered.items() if k not in covered}
    return dict(sorted(left.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class Usage:
    alerts: int
    median_to_resolve: timedelta | None
    sampled: bool  # counted among the sample's alerts only (it matches on other labels)


@dataclass(frozen=True)
class Coverage:
    """How the runbooks met the alerts of a period: per runbook, and the gaps."""

    usage: dict[str, Usage]
    unmatched: dict[str, int]  # alertname -> alerts with no runbook
    sampled_since: datetime | None  # the sample's oldest start, when it is not the period


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


Group = tuple[dict[str, str], timedelta | None, int]
"""(labels of labels_to_group_by, time to resolve or None while firing, how many alerts)."""


def coverage(
    runbooks: Runbooks,
    names: Iterable[tuple[str, str, int]],
    sample: Iterable[Group],
    sampled_since: datetime | None,
) -> Coverage:
    """`names` are the period's (alertname, severity, alerts) from the rollup: they count
    the runbooks that match on those labels only, and the gaps (as /insights does).
    `sample` groups the period's newest alerts (all of them when `sampled_since` is
    None): the medians come from it, and the counts of runbooks on other labels."""
    names = list(names)
    durations: dict[str, list[tuple[timedelta, int]]] = {r.slug: [] for r in runbooks.items}
    counts: dict[str, int] = dict.fromkeys(durations, 0)
    exact = {r.slug for r in runbooks.items if r.counted_by_name}
    for name, severity, n in names:  # each pair matched once (pick remembers), not per runbook
        for runbook in runbooks.pick([{"alertname": name, "severity": severity}]):
            if runbook.slug in exact:
                counts[runbook.slug] += n
    for labels, to_resolve, n in sample:
        for runbook in runbooks.pick([labels]):
            if runbook.slug not in exact:
                counts[runbook.slug] += n
            if to_resolve is not None:
                durations[runbook.slug].append((to_resolve, n))
    usage = {
        slug: Usage(counts[slug], _median(durations[slug]), slug not in exact) for slug in counts
    }
    return Coverage(usage, without_runbook(runbooks, names), sampled_since)
