"""GET /api/v1/insights: alert volume, the noisiest and flapping alerts, response times
and the alertnames no runbook covers, for one window. /insights shows the same."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from receiver.domain import insights as rules
from receiver.domain.insights import Response, Spread, Window
from receiver.domain.runbooks import without_runbook
from receiver.store import insights as store
from receiver.store.engine import on_own_connection
from receiver.web.keys import ENGINE, LIVE
from receiver.web.query import BadQuery, time_of
from receiver.web.responses import iso, ok

NOISIEST = 10
FLAPPING = 50
LISTED = 50
"""Most rows of each response-time table and of the alertnames without a runbook, the
largest first: a window where thousands of alertnames fired (one templated per
instance, say) made a page of half a megabyte. The answer says how many there were."""


@dataclass(frozen=True)
class Insights:
    window: Window
    flaps: int
    severities: list[str]
    volume: dict[datetime, dict[str, int]]
    noisiest: list[tuple[str, int]]
    flapping: list[tuple[Any, int]]  # (latest alert: id, fingerprint, alertname, labels; n)
    flapping_since: datetime | None  # set when only the window's newest alerts counted
    by_alertname: list[Response]  # the LISTED with most incidents
    by_receiver: list[Response]
    alertnames: int  # how many there were in all
    receivers: int
    responses_since: datetime | None  # set when only the newest incidents counted
    without_runbook: dict[str, int]  # the LISTED with most alerts
    without_runbook_alertnames: int


def _asked(query: Any) -> tuple[Window, int]:
    try:
        window = rules.parse_window(
            query.get("window"), time_of(query, "since"), time_of(query, "until"), datetime.now(UTC)
        )
        return window, rules.parse_flaps(query.get("flaps"))
    except rules.BadWindow as exc:
        raise BadQuery(str(exc)) from exc


async def load(request: web.Request) -> Insights:
    """Everything both the page and the API show. The four reads share nothing, so they
    run at the same time: at a million alerts each takes 10 to 35 ms, and one after the
    other they kept a month's page above 100 ms."""
    window, flaps = _asked(request.query)
    since, until = window.since, window.until
    engine = request.app[ENGINE]
    hours, names, flapping, timings = await asyncio.gather(
        on_own_connection(engine, lambda c: store.volume(c, window)),
        on_own_connection(engine, lambda c: store.names(c, window)),
        on_own_connection(engine, lambda c: store.flapping(c, since, until, flaps, FLAPPING)),
        on_own_connection(engine, lambda c: store.response_times(c, since, until)),
    )
    by_alertname, by_receiver = rules.responses(timings.rows)
    uncovered = without_runbook(request.app[LIVE].current.runbooks, names)
    return Insights(
        window=window,
        flaps=flaps,
        severities=rules.severity_order(severity for _, severity, _ in hours),
        volume=rules.stack(window, hours),
        noisiest=rules.top_names(names, NOISIEST),
        flapping=flapping.rows,
        flapping_since=flapping.since,
        by_alertname=by_alertname[:LISTED],
        by_receiver=by_receiver[:LISTED],
        alertnames=len(by_alertname),
        receivers=len(by_receiver),
        responses_since=timings.since,
        without_runbook=dict(list(uncovered.items())[:LISTED]),
        without_runbook_alertnames=len(uncovered),
    )


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _spread_json(spread: Spread) -> dict[str, Any]:
    return {
        "count": spread.count,
        "medianSeconds": _seconds(spread.median),
        "p90Seconds": _seconds(spread.p90),
    }


def _response_json(response: Response) -> dict[str, Any]:
    return {
        "key": response.key,
        "incidents": response.incidents,
        "acknowledge": _spread_json(response.acknowledge),
        "resolve": _spread_json(response.resolve),
    }


def insights_json(found: Insights) -> dict[str, Any]:
    window = found.window
    return {
        "window": {
            "name": window.name,
            "since": iso(window.since),
            "until": iso(window.until),
            "stepSeconds": int(window.step.total_seconds()),
        },
        "flaps": found.flaps,
        "volume": {
            "severities": found.severities,
            "buckets": [
                {"start": iso(start), "total": sum(counts.values()), "counts": counts}
                for start, counts in found.volume.items()
            ],
        },
        "noisiest": [{"alertname": name, "alerts": n} for name, n in found.noisiest],
        "flappingSince": iso(found.flapping_since),
        "flapping": [
            {
                "fingerprint": row.fingerprint,
                "alertname": row.alertname,
                "labels": row.labels,
                "episodes": n,
                "latestAlertId": row.id,
            }
            for row, n in found.flapping
        ],
        "responseTimes": {
            "since": iso(found.responses_since),
            "byAlertname": [_response_json(r) for r in found.by_alertname],
            "byReceiver": [_response_json(r) for r in found.by_receiver],
            "alertnames": found.alertnames,
            "receivers": found.receivers,
        },
        "withoutRunbook": [{"alertname": k, "alerts": n} for k, n in found.without_runbook.items()],
        "withoutRunbookAlertnames": found.without_runbook_alertnames,
    }


async def get_insights(request: web.Request) -> web.Response:
    return ok(insights_json(await load(request)))
