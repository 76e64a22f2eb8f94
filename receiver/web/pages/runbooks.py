"""/runbooks and /runbooks/{slug}: the runbooks in force, and how often they were needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from receiver.domain.durations import format_duration
from receiver.domain.runbooks import Coverage, Runbook, Usage, coverage, labels_to_group_by
from receiver.store import reads
from receiver.web.keys import ENGINE, LIVE
from receiver.web.pages.env import markdown_html, page

WINDOW = timedelta(days=30)


async def _coverage(request: web.Request) -> Coverage:
    since = datetime.now(UTC) - WINDOW
    runbooks = request.app[LIVE].current.runbooks
    async with request.app[ENGINE].connect() as conn:
        groups = await reads.alert_groups_since(conn, since, labels_to_group_by(runbooks))
    return coverage(runbooks, groups)


def _row(runbook: Runbook, usage: Usage) -> dict[str, Any]:
    median = usage.median_to_resolve
    return {
        "runbook": runbook,
        "alerts": usage.alerts,
        "median": format_duration(median) if median is not None else None,
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
        days=WINDOW.days,
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
        days=WINDOW.days,
    )
