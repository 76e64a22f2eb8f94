"""The JSON read API under /api/v1: translate query strings, call the read side, shape JSON.

Field names are camelCase, like Alertmanager's own API.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import Row

from receiver.domain.matchers import MatcherError, parse_matcher
from receiver.store import reads
from receiver.web.api.notifications import notification_json
from receiver.web.keys import ENGINE, LIVE, MASKER, SETTINGS
from receiver.web.query import (
    MAX_LIMIT,
    BadQuery,
    choice_of,
    cursor_of,
    encode_cursor,
    limit_of,
    path_id,
    time_of,
)
from receiver.web.responses import error, iso, ok
from receiver.web.runbooks import runbook_refs


def _alert_query(query: Any) -> reads.AlertQuery:
    try:
        matchers = [parse_matcher(f) for f in query.getall("filter", [])]
    except MatcherError as exc:
        raise BadQuery(f"filter: {exc}") from exc
    return reads.AlertQuery(
        status=choice_of(query, "status", ("firing", "resolved")),
        alertname=query.get("alertname"),
        severity=query.get("severity"),
        receiver=query.get("receiver"),
        since=time_of(query, "since"),
        until=time_of(query, "until"),
        text=query.get("q") or None,
        matchers=matchers,
    )


def _alert_json(
    row: Row[Any], incident_ids: list[int], runbooks: list[dict[str, Any]]
) -> dict[str, Any]:
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
        "runbooks": runbooks,
    }


def _incident_json(
    row: Row[Any], counts: dict[str, int], runbooks: list[dict[str, Any]]
) -> dict[str, Any]:
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
        "runbooks": runbooks,
    }


def _refs(request: web.Request) -> Any:
    """Runbook references for label and annotation sets, as the API shows them."""
    runbooks = request.app[LIVE].current.runbooks
    external_url = request.app[SETTINGS].external_url

    def refs(labels: list[dict[str, str]], annotations: list[dict[str, str]]) -> Any:
        return runbook_refs(labels, annotations, runbooks, external_url)

    return refs


def _event_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "at": iso(row.at),
        "inferred": row.inferred,
        "receivedAt": iso(row.received_at),
        "details": row.details,
    }


async def list_alerts(request: web.Request) -> web.Response:
    query = _alert_query(request.query)
    limit, after = limit_of(request.query), cursor_of(request.query)
    async with request.app[ENGINE].connect() as conn:
        page = await reads.list_alerts(conn, query, limit, after)
        incident_ids = await reads.incident_ids_of(conn, [r.id for r in page.rows])
    refs = _refs(request)
    return ok(
        {
            "alerts": [
                _alert_json(r, incident_ids.get(r.id, []), refs([r.labels], [r.annotations]))
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
    refs = _refs(request)
    body = _alert_json(row, incident_ids.get(alert_id, []), refs([row.labels], [row.annotations]))
    body["events"] = [_event_json(e) for e in timeline]
    return ok(body)


async def list_incidents(request: web.Request) -> web.Response:
    status = choice_of(request.query, "status", ("open", "acknowledged", "resolved"))
    limit, after = limit_of(request.query), cursor_of(request.query)
    async with request.app[ENGINE].connect() as conn:
        page = await reads.list_incidents(conn, status, request.query.get("receiver"), limit, after)
        ids = [r.id for r in page.rows]
        counts = await reads.alert_counts(conn, ids)
        sent = await reads.notification_counts(conn, ids)
        members = await reads.member_labels(conn, ids)
    refs = _refs(request)

    def shaped(r: Row[Any]) -> dict[str, Any]:
        found = members.get(r.id, [])
        runbooks = refs([labels for labels, _ in found], [notes for _, notes in found])
        return {**_incident_json(r, counts[r.id], runbooks), "notificationCounts": sent[r.id]}

    return ok(
        {
            "incidents": [shaped(r) for r in page.rows],
            "next": encode_cursor(page.next),
        }
    )


async def get_incident(request: web.Request) -> web.Response:
    incident_id = path_id(request)
    async with request.app[ENGINE].connect() as conn:
        row = await reads.get_incident(conn, incident_id)
        if row is None:
            return error(404, f"no incident with id {incident_id}")
        members = await reads.incident_alerts_of(conn, incident_id)
        incident_ids = await reads.incident_ids_of(conn, [m.id for m in members])
        sent = await reads.list_notifications(conn, incident_id, None, None, MAX_LIMIT, None)
        attempts = await reads.attempts_of(conn, [n.id for n in sent.rows])
    counts = {"firing": 0, "resolved": 0}
    for member in members:
        counts[member.status] += 1
    refs = _refs(request)
    runbooks = refs([m.labels for m in members], [m.annotations for m in members])
    body = _incident_json(row, counts, runbooks)
    body["alerts"] = [
        _alert_json(m, incident_ids.get(m.id, []), refs([m.labels], [m.annotations]))
        for m in members
    ]
    mask = request.app[MASKER]
    body["notifications"] = [notification_json(n, attempts.get(n.id, []), mask) for n in sent.rows]
    return ok(body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/alerts", list_alerts)
    app.router.add_get("/api/v1/alerts/{id}", get_alert)
    app.router.add_get("/api/v1/incidents", list_incidents)
    app.router.add_get("/api/v1/incidents/{id}", get_incident)
