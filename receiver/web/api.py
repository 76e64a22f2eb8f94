"""The JSON read API under /api/v1: translate query strings, call the read side, shape JSON.

Field names are camelCase, like Alertmanager's own API.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Row

from receiver.alertmanager import parse_timestamp
from receiver.matchers import MatcherError, parse_matcher
from receiver.store import reads
from receiver.web.keys import ENGINE
from receiver.web.responses import error, iso, ok

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class BadQuery(ValueError):
    """A query parameter the API cannot use; its message tells the caller what to send."""


def _limit(query: Any) -> int:
    raw = query.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {raw!r}")
    return int(raw)


def _cursor(query: Any) -> reads.Position | None:
    raw = query.get("cursor")
    if not raw:
        return None
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)))
        moment = parse_timestamp(at)
        if moment is None or not isinstance(row_id, int):
            raise ValueError
        return reads.Position(moment, row_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadQuery("cursor is not one this API handed out; use the `next` value as is") from exc


def _encode_cursor(position: reads.Position | None) -> str | None:
    if position is None:
        return None
    raw = json.dumps([iso(position.at), position.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _choice(query: Any, name: str, allowed: tuple[str, ...]) -> str | None:
    value = query.get(name)
    if value is not None and value not in allowed:
        raise BadQuery(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value  # type: ignore[no-any-return]


def _time(query: Any, name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        moment = parse_timestamp(raw)
    except ValueError:
        moment = None
    if moment is None:
        raise BadQuery(f"{name} must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
    return moment


def _alert_query(query: Any) -> reads.AlertQuery:
    try:
        matchers = [parse_matcher(f) for f in query.getall("filter", [])]
    except MatcherError as exc:
        raise BadQuery(f"filter: {exc}") from exc
    return reads.AlertQuery(
        status=_choice(query, "status", ("firing", "resolved")),
        alertname=query.get("alertname"),
        severity=query.get("severity"),
        receiver=query.get("receiver"),
        since=_time(query, "since"),
        until=_time(query, "until"),
        text=query.get("q") or None,
        matchers=matchers,
    )


def _alert_json(row: Row[Any], incident_ids: list[int]) -> dict[str, Any]:
    return {
        "id": row.id,
        "fingerprint": row.fingerprint,
        "status": row.status,
        "labels": row.labels,
        "annotations": row.annotations,
        "startsAt": iso(row.starts_at),
        "endsAt": iso(row.ends_at),
        "endInferred": row.end_inferred,
        "generatorURL": row.generator_url,
        "timesReceived": row.times_received,
        "firstReceivedAt": iso(row.first_received_at),
        "lastReceivedAt": iso(row.last_received_at),
        "incidentIds": incident_ids,
    }


def _incident_json(row: Row[Any], counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": row.id,
        "receiver": row.receiver,
        "groupKey": row.group_key,
        "status": row.status,
        "groupLabels": row.group_labels,
        "commonLabels": row.common_labels,
        "commonAnnotations": row.common_annotations,
        "externalURL": row.external_url,
        "truncatedAlerts": row.truncated_alerts,
        "openedAt": iso(row.opened_at),
        "resolvedAt": iso(row.resolved_at),
        "timesReceived": row.times_received,
        "lastReceivedAt": iso(row.last_received_at),
        "alertCounts": counts,
    }


def _event_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "at": iso(row.at),
        "inferred": row.inferred,
        "receivedAt": iso(row.received_at),
        "details": row.details,
    }


def _path_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise BadQuery(f"id must be a whole number, got {raw!r}")
    return int(raw)


async def list_alerts(request: web.Request) -> web.Response:
    query = _alert_query(request.query)
    limit, after = _limit(request.query), _cursor(request.query)
    async with request.app[ENGINE].connect() as conn:
        page = await reads.list_alerts(conn, query, limit, after)
        incident_ids = await reads.incident_ids_of(conn, [r.id for r in page.rows])
    return ok(
        {
            "alerts": [_alert_json(r, incident_ids.get(r.id, [])) for r in page.rows],
            "next": _encode_cursor(page.next),
        }
    )


async def get_alert(request: web.Request) -> web.Response:
    alert_id = _path_id(request)
    async with request.app[ENGINE].connect() as conn:
        row = await reads.get_alert(conn, alert_id)
        if row is None:
            return error(404, f"no alert with id {alert_id}")
        incident_ids = await reads.incident_ids_of(conn, [alert_id])
        timeline = await reads.alert_events(conn, alert_id)
    body = _alert_json(row, incident_ids.get(alert_id, []))
    body["events"] = [_event_json(e) for e in timeline]
    return ok(body)


async def list_incidents(request: web.Request) -> web.Response:
    status = _choice(request.query, "status", ("open", "acknowledged", "resolved"))
    limit, after = _limit(request.query), _cursor(request.query)
    async with request.app[ENGINE].connect() as conn:
        page = await reads.list_incidents(conn, status, request.query.get("receiver"), limit, after)
        counts = await reads.alert_counts(conn, [r.id for r in page.rows])
    return ok(
        {
            "incidents": [_incident_json(r, counts[r.id]) for r in page.rows],
            "next": _encode_cursor(page.next),
        }
    )


async def get_incident(request: web.Request) -> web.Response:
    incident_id = _path_id(request)
    async with request.app[ENGINE].connect() as conn:
        row = await reads.get_incident(conn, incident_id)
        if row is None:
            return error(404, f"no incident with id {incident_id}")
        members = await reads.incident_alerts_of(conn, incident_id)
        incident_ids = await reads.incident_ids_of(conn, [m.id for m in members])
    counts = {"firing": 0, "resolved": 0}
    for member in members:
        counts[member.status] += 1
    body = _incident_json(row, counts)
    body["alerts"] = [_alert_json(m, incident_ids.get(m.id, [])) for m in members]
    return ok(body)


@web.middleware
async def bad_queries(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        if any("\x00" in value for value in request.query.values()):
            raise BadQuery("query parameters must not contain NUL characters (%00)")
        response: web.StreamResponse = await handler(request)
        return response
    except BadQuery as exc:
        return error(400, str(exc))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/alerts", list_alerts)
    app.router.add_get("/api/v1/alerts/{id}", get_alert)
    app.router.add_get("/api/v1/incidents", list_incidents)
    app.router.add_get("/api/v1/incidents/{id}", get_incident)
