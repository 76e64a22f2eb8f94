"""/runbooks and /runbooks/{slug}: the runbooks in force, and how often they were needed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from receiver.domain.durations import format_duration
from receiver.domain.insights import PRESETS, parse_window
from receiver.domain.runbooks import Coverage, Runbook, Usage, coverage, labels_to_group_by
from receiver.store import insights, reads
from receiver.store.engine import on_own_connection
from receiver.web.keys import ENGINE, LIVE
from receiver.web.pages.env import markdown_html, page
from receiver.web.responses import iso

WINDOW = "30d"  # a preset of /insights, so its window and the rollups' hours agree
DAYS = PRESETS[WINDOW][0].days


async def _coverage(request: web.Request) -> Coverage:
    """The last 30 days as /insights cuts them (whole hours to the current one): counts
    from the rollups, medians from the newest alerts within the scan budget (two reads
    at the same time, as /insights does)."""
    window = parse_window(WINDOW, None, None, datetime.now(UTC))
    runbooks = request.app[LIVE].current.runbooks
    engine, grouped = request.app[ENGINE], labels_to_group_by(runbooks)
    names, (sample, since) = await asyncio.gather(
        on_own_connection(engine, lambda c: insights.names(c, window)),
        on_own_connection(
            engine,
            lambda c: reads.newest_alert_groups(c, window.since, grouped, insights.SCAN_BUDGET),
        ),
    )
    return coverage(runbooks, names, sample, since)


def _row(runbook: Runbook, usage: Usage) -> dict[str, Any]:
    median = usage.median_to_resolve
    return {
        "runbook": runbook,
        "alerts": usage.alerts,
        "median": format_duration(median) if median is not None else None,
        "sampled": usage.sampled,
    }


async def runbooks_page(request: web.Request) -> web.Response:
    runbooks = request.app[LIVE].current.runbooks
    found = await _coverage(request)
    rows = [_row(r, found.usage[r.slug]) for r in runbooks.items]
    return page(
        request,
        "runbooks.html",
        rows=rows,
        unmatched=found.unmatched,
        folder=runbooks.folder,
        days=DAYS,
        sampled_since=iso(found.sampled_since),
    )


async def runbook_page(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    runbook = request.app[LIVE].current.runbooks.by_slug.get(slug)
    if runbook is None:
        return page(request, "missing.html", status=404, slug=slug)
    found = await _coverage(request)
    usage = found.usage[slug]
    return page(
        request,
        "runbook.html",
        runbook=runbook,
        html=markdown_html(runbook.body),
        alerts=usage.alerts,
        median=format_duration(usage.median_to_resolve) if usage.median_to_resolve else None,
        sampled=usage.sampled,
        days=DAYS,
        sampled_since=iso(found.sampled_since),
    )
