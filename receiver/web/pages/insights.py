"""/insights: what the alert history says for a window (the same reads as
GET /api/v1/insights), with the volume chart drawn as SVG by the server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from receiver.domain.chart import Bar, stacked_bars
from receiver.domain.durations import format_duration
from receiver.domain.insights import PRESETS, Response, Spread, Window, severity_classes
from receiver.web.api.insights import Insights, load
from receiver.web.pages.env import page
from receiver.web.query import BadQuery
from receiver.web.responses import iso

_LABEL = {timedelta(hours=1): "%H:%M", timedelta(hours=6): "%a %H:%M", timedelta(days=1): "%b %d"}


def _chart(found: Insights) -> Markup:
    fmt = _LABEL.get(found.window.step, "%b %d")
    bars = [
        Bar(start.strftime(fmt), start.strftime("%Y-%m-%d %H:%M UTC"), counts)
        for start, counts in found.volume.items()
    ]
    title = f"Alerts started per {format_duration(found.window.step)}, by severity"
    # Escaped by stacked_bars, text node by text node.
    return Markup(stacked_bars(title, bars, severity_classes(found.severities), "alerts"))


def _range(window: Window) -> dict[str, str]:
    """The window as the alert list's query: its name, or its bounds when custom."""
    if window.name in PRESETS:
        return {"range": window.name}
    return {"since": iso(window.since) or "", "until": iso(window.until) or ""}


def _spread(spread: Spread) -> dict[str, Any]:
    def shown(value: timedelta | None) -> str:
        return "" if value is None else format_duration(value)

    return {"count": spread.count, "median": shown(spread.median), "p90": shown(spread.p90)}


def _rows(responses: list[Response]) -> list[dict[str, Any]]:
    return [
        {
            "key": r.key,
            "incidents": r.incidents,
            "ack": _spread(r.acknowledge),
            "resolve": _spread(r.resolve),
        }
        for r in responses
    ]


async def insights_page(request: web.Request) -> web.Response:
    try:
        found = await load(request)
    except BadQuery as exc:
        return page(request, "insights.html", status=400, problem=str(exc), presets=list(PRESETS))
    window = found.window
    scope = _range(window)
    return page(
        request,
        "insights.html",
        window=window,
        presets=list(PRESETS),
        flaps=found.flaps,
        chart=_chart(found),
        total=sum(sum(c.values()) for c in found.volume.values()),
        noisiest=[
            (name, n, "/alerts?" + urlencode({"alertname": name, **scope}))
            for name, n in found.noisiest
        ],
        flapping=found.flapping,
        flapping_since=iso(found.flapping_since),
        responses_since=iso(found.responses_since),
        by_alertname=_rows(found.by_alertname),
        by_receiver=_rows(found.by_receiver),
        keys=(found.alertnames, found.receivers),
        without_runbook=found.without_runbook,
        without_runbook_alertnames=found.without_runbook_alertnames,
        since=iso(window.since),
        until=iso(window.until),
    )
