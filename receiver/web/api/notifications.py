"""Notifications in the API: the outbox and its delivery log, and a retry for failed ones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Row

from receiver.store import outbox, reads
from receiver.web.keys import ENGINE, MASKER, OUTBOX, WRITER
from receiver.web.query import BadQuery, choice_of, cursor_of, encode_cursor, limit_of, path_id
from receiver.web.responses import error, iso, ok

STATUSES = (
    outbox.PENDING,
    outbox.SENDING,
    outbox.DELIVERED,
    outbox.FAILED,
    outbox.SUPERSEDED,
)


def notification_json(row: Row[Any], attempts: list[Row[Any]], mask: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "incidentId": row.incident_id,
        "channel": row.channel,
        "route": row.route_index,
        "kind": row.kind,
        "status": row.status,
        "change": row.change,
        "createdAt": iso(row.created_at),
        "dueAt": iso(row.due_at),
        "deliveredAt": iso(row.delivered_at),
        "supersededBy": row.superseded_by,
        "fallbackOf": row.fallback_of,
        "lastError": mask(row.last_error) if row.last_error else None,
        "title": row.title,
        "body": row.body,
        "attempts": [
            {
                "startedAt": iso(a.started_at),
                "seconds": round(a.seconds, 3),
                "outcome": a.outcome,
                "error": mask(a.error) if a.error else None,
                "services": a.services,
                "replica": a.replica,
            }
            for a in attempts
        ],
    }


async def list_notifications(request: web.Request) -> web.Response:
    query = request.query
    incident = query.get("incident")
    if incident is not None and not incident.isdigit():
        raise BadQuery(f"incident must be an incident id, got {incident!r}")
    status = choice_of(query, "status", STATUSES)
    limit, after = limit_of(query), cursor_of(query)
    async with request.app[ENGINE].connect() as conn:
        page = await reads.list_notifications(
            conn, int(incident) if incident else None, query.get("channel"), status, limit, after
        )
        attempts = await reads.attempts_of(conn, [r.id for r in page.rows])
    mask = request.app[MASKER]
    return ok(
        {
            "notifications": [
                notification_json(r, attempts.get(r.id, []), mask) for r in page.rows
            ],
            "next": encode_cursor(page.next),
        }
    )


async def retry_notification(request: web.Request) -> web.Response:
    notification_id = path_id(request)
    now = datetime.now(UTC)
    before = await request.app[WRITER].run(
        [], lambda conn: outbox.retry(conn, notification_id, now)
    )
    if before is None:
        return error(404, f"no notification with id {notification_id}")
    if before != outbox.FAILED:
        return error(409, f"notification {notification_id} is {before}; only failed ones retry")
    request.app[OUTBOX].wake()
    return ok({"id": notification_id, "status": outbox.PENDING}, status=202)


async def incident_page(request: web.Request) -> web.StreamResponse:
    """Where message links point; the API answers until a web page exists."""
    raise web.HTTPFound(f"/api/v1/incidents/{path_id(request)}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/notifications", list_notifications)
    app.router.add_post("/api/v1/notifications/{id}/retry", retry_notification)
    app.router.add_get("/incidents/{id}", incident_page)
