"""Notifications in the API: the outbox and its delivery log, and a retry for failed ones."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from receiver.store import outbox, reads
from receiver.web.api.shapes import notification_json
from receiver.web.keys import ENGINE, MASKER, OUTBOX, WRITER
from receiver.web.query import choice_of, cursor_of, encode_cursor, id_of, limit_of, path_id
from receiver.web.responses import error, ok

STATUSES = (
    outbox.PENDING,
    outbox.SENDING,
    outbox.DELIVERED,
    outbox.FAILED,
    outbox.SUPERSEDED,
)


async def list_notifications(request: web.Request) -> web.Response:
    query = request.query
    raw = query.get("incident")
    incident = None if raw is None else id_of(raw, "incident")
    status = choice_of(query, "status", STATUSES)
    limit, after = limit_of(query), cursor_of(query)
    async with request.app[ENGINE].connect() as conn:
        page = await reads.list_notifications(
            conn, incident, query.get("channel"), status, limit, after
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
