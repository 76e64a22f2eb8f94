"""/incidents and /incidents/{id}: the incidents, what happened in them, and the forms to
act on them (their POST handlers live beside these)."""

from __future__ import annotations

from aiohttp import web

from receiver.domain.incidents import STATUSES
from receiver.domain.links import silence_url
from receiver.store import reads
from receiver.web.keys import ENGINE, MASKER
from receiver.web.pages.common import (
    incident_rows,
    next_url,
    notifications_of,
    runbooks_shown,
    timeline,
    url_with,
)
from receiver.web.pages.env import html_errors, page, problem
from receiver.web.query import choice_of, cursor_of, filled, limit_of, path_id

ALERTS_SHOWN = 500
EVENTS_SHOWN = 1000


@html_errors
async def incidents_page(request: web.Request) -> web.StreamResponse:
    query = filled(request.query)
    status = choice_of(query, "status", STATUSES)
    receiver = query.get("receiver")
    limit, after = limit_of(query), cursor_of(query)
    async with request.app[ENGINE].connect() as conn:
        found = await reads.list_incidents(conn, status, receiver, limit, after)
        rows = await incident_rows(conn, request, found.rows)
    return page(
        request,
        "incidents.html",
        rows=rows,
        chosen=status,
        receiver=receiver or "",
        statuses=STATUSES,
        here=request.path_qs,
        older=next_url(request.path, query, found.next),
        newest=url_with(request.path, query, cursor=None) if after else None,
    )


@html_errors
async def incident_page(request: web.Request) -> web.StreamResponse:
    """Where message links point."""
    incident_id = path_id(request)
    async with request.app[ENGINE].connect() as conn:
        row = await reads.get_incident(conn, incident_id)
        if row is None:
            return problem(request, 404, "No such incident", f"No incident has id {incident_id}.")
        counts = await reads.alert_counts(conn, [incident_id])
        members = await reads.incident_alerts_of(conn, incident_id, ALERTS_SHOWN)
        events = await reads.incident_events(conn, incident_id, EVENTS_SHOWN)
        actions = await reads.incident_actions_of(conn, incident_id)
        sent = await notifications_of(conn, [incident_id])
    return page(
        request,
        "incident.html",
        incident=row,
        counts=counts[incident_id],
        members=members,
        more_alerts=sum(counts[incident_id].values()) > len(members),
        entries=timeline(events, actions, subject=True),
        sent=sent,
        mask=request.app[MASKER],
        runbooks=runbooks_shown(
            request, [m.labels for m in members], [m.annotations for m in members]
        ),
        silence=silence_url(row.external_url, row.common_labels),
    )
