"""GET /api/v1/incidents and /api/v1/incidents/{id}: the groups Alertmanager sent, with
their alerts, runbooks and notifications."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from receiver.domain.incidents import STATUSES
from receiver.store import reads
from receiver.web.api.shapes import (
    action_json,
    alert_json,
    incident_json,
    notification_json,
    refs_for,
)
from receiver.web.keys import ENGINE, LIVE, MASKER
from receiver.web.query import MAX_LIMIT, choice_of, cursor_of, encode_cursor, limit_of, path_id
from receiver.web.responses import error, ok


async def list_incidents(request: web.Request) -> web.Response:
    status = choice_of(request.query, "status", STATUSES)
    limit, after = limit_of(request.query), cursor_of(request.query)
    async with request.app[ENGINE].connect() as conn:
        page = await reads.list_incidents(conn, status, request.query.get("receiver"), limit, after)
        ids = [r.id for r in page.rows]
        sent = await reads.notification_counts(conn, ids)
        names = request.app[LIVE].current.runbooks.label_names
        members = await reads.members_of(conn, ids, names)
    refs = refs_for(request)

    def shaped(r: Row[Any]) -> dict[str, Any]:
        found = members.keys.get(r.id, [])
        runbooks = refs([labels for labels, _ in found], [notes for _, notes in found])
        counts = members.counts[r.id]
        return {**incident_json(r, counts, runbooks), "notificationCounts": sent[r.id]}

    return ok(
        {
            "incidents": [shaped(r) for r in page.rows],
            "next": encode_cursor(page.next),
        }
    )


async def get_incident(request: web.Request) -> web.Response:
    incident_id = path_id(request)
    async with request.app[ENGINE].connect() as conn:
        body = await incident_detail(request, conn, incident_id)
    if body is None:
        return error(404, f"no incident with id {incident_id}")
    return ok(body)


async def incident_detail(
    request: web.Request, conn: AsyncConnection, incident_id: int
) -> dict[str, Any] | None:
    """The incident with its alerts, notifications and actions: what GET answers, and
    what an action answers once it took effect."""
    row = await reads.get_incident(conn, incident_id)
    if row is None:
        return None
    counts = await reads.alert_counts(conn, [incident_id])
    members = await reads.incident_alerts_of(conn, incident_id)
    incident_ids = await reads.incident_ids_of(conn, [m.id for m in members])
    sent = await reads.list_notifications(conn, incident_id, None, None, MAX_LIMIT, None)
    attempts = await reads.attempts_of(conn, [n.id for n in sent.rows])
    actions = await reads.incident_actions_of(conn, incident_id)
    refs = refs_for(request)
    runbooks = refs([m.labels for m in members], [m.annotations for m in members])
    body = incident_json(row, counts[incident_id], runbooks)
    body["alerts"] = [
        alert_json(m, incident_ids.get(m.id, []), refs([m.labels], [m.annotations]))
        for m in members
    ]
    mask = request.app[MASKER]
    body["notifications"] = [notification_json(n, attempts.get(n.id, []), mask) for n in sent.rows]
    body["actions"] = [action_json(a) for a in actions]
    return body
