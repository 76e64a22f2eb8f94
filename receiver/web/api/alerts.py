"""GET /api/v1/alerts and /api/v1/alerts/{id}: each alert once, with its timeline."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from receiver.domain.lifecycle import FIRING, RESOLVED
from receiver.domain.matchers import MatcherError, parse_matcher
from receiver.store import reads
from receiver.web.api.shapes import alert_json, event_json, refs_for
from receiver.web.keys import ENGINE
from receiver.web.query import (
    BadQuery,
    choice_of,
    cursor_of,
    encode_cursor,
    limit_of,
    path_id,
    time_of,
)
from receiver.web.responses import error, ok


def _alert_query(query: Any) -> reads.AlertQuery:
    try:
        matchers = [parse_matcher(f) for f in query.getall("filter", [])]
    except MatcherError as exc:
        raise BadQuery(f"filter: {exc}") from exc
    return reads.AlertQuery(
        status=choice_of(query, "status", (FIRING, RESOLVED)),
        alertname=query.get("alertname"),
        severity=query.get("severity"),
        receiver=query.get("receiver"),
        since=time_of(query, "since"),
        until=time_of(query, "until"),
        text=query.get("q") or None,
        matchers=matchers,
    )


async def list_alerts(request: web.Request) -> web.Response:
    query = _alert_query(request.query)
    limit, after = limit_of(request.query), cursor_of(request.query)
    async with request.app[ENGINE].connect() as conn:
        page = await reads.list_alerts(conn, query, limit, after)
        incident_ids = await reads.incident_ids_of(conn, [r.id for r in page.rows])
    refs = refs_for(request)
    return ok(
        {
            "alerts": [
                alert_json(r, incident_ids.get(r.id, []), refs([r.labels], [r.annotations]))
                for r in page.rows
            ],
            "next": encode_cursor(page.next),
        }
    )


async def get_alert(request: web.Request) -> web.Response:
    alert_id = path_id(request)
    async with request.app[ENGINE].connect() as conn:
        row = await reads.get_alert(conn, alert_id)
        if row is None:
            return error(404, f"no alert with id {alert_id}")
        incident_ids = await reads.incident_ids_of(conn, [alert_id])
        timeline = await reads.alert_events(conn, alert_id)
    refs = refs_for(request)
    body = alert_json(row, incident_ids.get(alert_id, []), refs([row.labels], [row.annotations]))
    body["events"] = [event_json(e) for e in timeline]
    return ok(body)
