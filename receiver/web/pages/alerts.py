"""/alerts, /alerts/{id} and /alerts/export.csv: the alert history, filtered in the
address so a view can be shared, one alert with everything that happened around it."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from receiver.domain.history import RANGES
from receiver.domain.links import silence_url
from receiver.store import reads
from receiver.web.api.export import stream_alerts
from receiver.web.keys import ENGINE, MASKER
from receiver.web.pages.common import (
    next_url,
    notifications_of,
    runbooks_shown,
    timeline,
    url_with,
)
from receiver.web.pages.env import html_errors, page, problem
from receiver.web.query import alert_query_of, cursor_of, filled, limit_of, path_id

EPISODES_SHOWN = 50


@html_errors
async def alerts_page(request: web.Request) -> web.StreamResponse:
    query = filled(request.query)
    filters = alert_query_of(query, datetime.now(UTC))
    limit, after = limit_of(query), cursor_of(query)
    async with request.app[ENGINE].connect() as conn:
        found = await reads.list_alerts(conn, filters, limit, after)
        incident_ids = await reads.incident_ids_of(conn, [r.id for r in found.rows])
    return page(
        request,
        "alerts.html",
        rows=[(r, incident_ids.get(r.id, [])) for r in found.rows],
        form=query,
        matchers=query.getall("filter", []),
        ranges=tuple(RANGES),
        older=next_url(request.path, query, found.next),
        newest=url_with(request.path, query, cursor=None) if after else None,
        csv=url_with("/alerts/export.csv", query, cursor=None, limit=None),
        json=url_with("/api/v1/alerts/export", query, cursor=None, limit=None, format="json"),
    )


@html_errors
async def export_csv(request: web.Request) -> web.StreamResponse:
    """The page's link: its filter as CSV (the API's export also writes JSON)."""
    return await stream_alerts(request, "csv")


@html_errors
async def alert_page(request: web.Request) -> web.StreamResponse:
    alert_id = path_id(request)
    async with request.app[ENGINE].connect() as conn:
        row = await reads.get_alert(conn, alert_id)
        if row is None:
            return problem(request, 404, "No such alert", f"No alert has id {alert_id}.")
        incident_ids = (await reads.incident_ids_of(conn, [alert_id])).get(alert_id, [])
        held_by = await reads.incidents_by_id(conn, incident_ids)
        events = await reads.alert_events(conn, alert_id)
        actions = [a for i in incident_ids for a in await reads.incident_actions_of(conn, i)]
        sent = await notifications_of(conn, incident_ids)
        episodes = await reads.episodes_of(conn, row.fingerprint, EPISODES_SHOWN)
    alertmanager = held_by[-1].external_url if held_by else ""
    return page(
        request,
        "alert.html",
        alert=row,
        incidents=held_by,
        entries=timeline(events, actions, subject=False),
        sent=sent,
        mask=request.app[MASKER],
        runbooks=runbooks_shown(request, [row.labels], [row.annotations]),
        silence=silence_url(alertmanager, row.labels),
        episodes=episodes,
    )
