"""The rules of /insights: which window a request means, how it is cut into the chart's
buckets, and how response times are summed up. Pure, so the page and the API agree."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
LONGEST = timedelta(days=92)
"""The longest custom window: every read stays bounded by about three months of rows."""
PRESETS = {
    "24h": (timedelta(hours=24), HOUR),
    "7d": (timedelta(days=7), timedelta(hours=6)),
    "30d": (timedelta(days=30), DAY),
}
DEFAULT_WINDOW = "7d"
DEFAULT_FLAPS = 3
MAX_FLAPS = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadWindow(ValueError):
    """A window the caller cannot have; the message says what to send."""


def hour_of(moment: datetime) -> datetime:
    """The rollup's hour: the start of the UTC hour the moment falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    """The daily rollup's day: the start of the UTC day the moment falls in."""
    return hour_of(moment).replace(hour=0)


def _floor(moment: datetime, step: timedelta) -> datetime:
    return _EPOCH + (moment - _EPOCH) // step * step


@dataclass(frozen=True)
class Window:
    """[since, until), in whole UTC hours (the rollup's grain), and its chart's step."""

    since: datetime
    until: datetime
    step: timedelta
    name: str  # 24h | 7d | 30d | custom

    def buckets(self) -> list[datetime]:
        """The starts of the chart's bars: aligned to the step in UTC (midnight, 06:00,
        ...), the first one clipped to the window's start."""
        starts = [self.since]
        at = _floor(self.since, self.step) + self.step
        while at < self.until:
            starts.append(at)
            at += self.step
        return starts

    def bucket_of(self, moment: datetime) -> datetime:
        return max(self.since, _floor(moment, self.step))

    def whole_days(self) -> tuple[datetime, datetime]:
        """[first, last) of the UTC days wholly inside the window (first >= last when
        none is): those read the daily rollup, the hours before and after the hourly one."""
        return _floor(self.since + DAY - HOUR, DAY), _floor(self.until, DAY)


def _step_for(span: timedelta) -> timedelta:
    if span <= timedelta(hours=48):
        return HOUR
    if span <= timedelta(days=14):
        return timedelta(hours=6)
    return DAY


def parse_window(
    name: str | None, since: datetime | None, until: datetime | None, now: datetime
) -> Window:
    """`window` (24h, 7d, 30d; default 7d), or `since` with an optional `until` (default
    now). A preset ends with the current hour; a custom window widens to whole hours."""
    if name is not None and (since is not None or until is not None):
        raise BadWindow("send either window=24h|7d|30d or since (and until), not both")
    if since is None:
        if until is not None:
            raise BadWindow("until needs a since: send since=<RFC 3339 time> too")
        chosen = DEFAULT_WINDOW if name is None else name
        if chosen not in PRESETS:
            raise BadWindow(f"window must be one of 24h, 7d, 30d, got {chosen[:40]!r}")
        span, step = PRESETS[chosen]
        end = hour_of(now) + HOUR
        return Window(end - span, end, step, chosen)
    end = until if until is not None else now
    start, end = hour_of(since), hour_of(end - timedelta(microseconds=1)) + HOUR
    if since >= (until if until is not None else now):
        raise BadWindow("since must be before until (and before now when until is left out)")
    if end - start > LONGEST:
        raise BadWindow(f"a custom window spans at most {LONGEST.days} days; narrow since/until")
    return Window(start, end, _step_for(end - start), "custom")


def parse_flaps(raw: str | None) -> int:
    """How many episodes in the window make a fingerprint flap (default 3)."""
    if raw is None:
        return DEFAULT_FLAPS
    if raw.isascii() and raw.isdigit() and len(raw) <= 4 and 2 <= int(raw) <= MAX_FLAPS:
        return int(raw)
    raise BadWindow(f"flaps must be a whole number from 2 to {MAX_FLAPS}, got {raw[:40]!r}")


SEVERITY_ORDER = ("critical", "error", "warning", "info")


def severity_order(severities: Iterable[str]) -> list[str]:
    """Legend and stacking order: the usual severities worst first, then the rest by name."""
    found = set(severities)
    known = [s for s in SEVERITY_ORDER if s in found]
    return known + sorted(found - set(known))


def severity_classes(severities: list[str]) -> list[tuple[str, str]]:
    """Each severity with the stylesheet's colour for it: the usual ones keep theirs
    whatever else fired (critical red, warning amber...); others share the last two."""
    others = iter(range(len(severities)))
    return [
        (s, f"series-{SEVERITY_ORDER.index(s)}")
        if s in SEVERITY_ORDER
        else (s, f"series-{len(SEVERITY_ORDER) + next(others) % 2}")
        for s in severities
    ]


def stack(
    window: Window, hours: Iterable[tuple[datetime, str, int]]
) -> dict[datetime, dict[str, int]]:
    """The rollup's (hour, severity, alerts) summed into the window's buckets."""
    bars: dict[datetime, dict[str, int]] = {start: {} for start in window.buckets()}
    for hour, severity, n in hours:
        bar = bars[window.bucket_of(hour)]
        bar[severity] = bar.get(severity, 0) + n
    return bars


def top_names(rows: Iterable[tuple[str, str, int]], limit: int) -> list[tuple[str, int]]:
    """The alertnames with the most alerts (of any severity), most first, then by name."""
    totals: dict[str, int] = defaultdict(int)
    for name, _, n in rows:
        totals[name] += n
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


@dataclass(frozen=True)
class Spread:
    """How long something took across incidents: how many, the median and the 90th
    percentile (nearest rank: the smallest value at least 90% of them do not exceed)."""

    count: int
    median: timedelta | None
    p90: timedelta | None


def spread(seconds: list[float]) -> Spread:
    if not seconds:
        return Spread(0, None, None)
    ordered = sorted(seconds)
    rank = math.ceil(0.9 * len(ordered))
    return Spread(
        len(ordered), timedelta(seconds=median(ordered)), timedelta(seconds=ordered[rank - 1])
    )


@dataclass(frozen=True)
class Response:
    """MTTA (opened to first acknowledged) and MTTR (opened to resolved) of one key."""

    key: str
    incidents: int
    acknowledge: Spread
    resolve: Spread


Timing = tuple[str, str, float | None, float | None]
"""(receiver, alertname, seconds to first acknowledgement, to resolve) of one incident."""


def responses(incidents: Iterable[Timing]) -> tuple[list[Response], list[Response]]:
    """Response times by alertname and by receiver, the keys with most incidents first."""
    keyed: tuple[dict[str, list[Timing]], dict[str, list[Timing]]] = (
        defaultdict(list),
        defaultdict(list),
    )
    for timing in incidents:
        keyed[0][timing[1]].append(timing)
        keyed[1][timing[0]].append(timing)
    by_name, by_receiver = (
        sorted((_response(k, v) for k, v in group.items()), key=lambda r: (-r.incidents, r.key))
        for group in keyed
    )
    return by_name, by_receiver


def _response(key: str, timings: list[Timing]) -> Response:
    acked = [ack for _, _, ack, _ in timings if ack is not None]
    resolved = [end for _, _, _, end in timings if end is not None]
    return Response(key, len(timings), spread(acked), spread(resolved))
