"""The JSON shapes of the API, one per kind of thing, so an alert looks the same wherever
it appears. Field names are camelCase, like Alertmanager's own API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy import Row

from receiver.domain.durations import format_duration
from receiver.domain.links import runbook_links, runbook_url
from receiver.domain.routing import Route
from receiver.domain.runbooks import Runbook, Runbooks
from receiver.notify.channels import SendOutcome, shown_url
from receiver.observe import BreakerState
from receiver.store.reads import ChannelActivity
from receiver.web.keys import BASE_URL, LIVE
from receiver.web.responses import iso

Refs = Callable[[list[dict[str, str]], list[dict[str, str]]], list[dict[str, Any]]]


def alert_json(
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


def incident_json(
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
        "acknowledgedBy": row.acknowledged_by,
        "acknowledgedAt": iso(row.acknowledged_at),
        "resolvedBy": row.resolved_by,
        "alertCounts": counts,
        "runbooks": runbooks,
    }


def action_json(row: Row[Any]) -> dict[str, Any]:
    return {"kind": row.kind, "by": row.by, "at": iso(row.at), "text": row.text}


def event_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "at": iso(row.at),
        "inferred": row.inferred,
        "receivedAt": iso(row.received_at),
        "details": row.details,
    }


def notification_json(
    row: Row[Any], attempts: list[Row[Any]], mask: Callable[[str], str]
) -> dict[str, Any]:
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


def _url(external_url: str, slug: str) -> str:
    return runbook_url(external_url, slug) or f"/runbooks/{slug}"


def runbook_json(runbook: Runbook, external_url: str) -> dict[str, Any]:
    return {
        "slug": runbook.slug,
        "title": runbook.title,
        "owner": runbook.owner,
        "matchers": [str(m) for m in runbook.matchers],
        "steps": list(runbook.steps),
        "url": _url(external_url, runbook.slug),
    }


def runbook_refs(
    labels_seen: list[dict[str, str]],
    annotations_seen: list[dict[str, str]],
    runbooks: Runbooks,
    external_url: str,
) -> list[dict[str, Any]]:
    """Local runbooks matching any of the label sets, most specific first, then the
    external runbook links the alerts' annotations carry."""
    refs: list[dict[str, Any]] = [
        {
            "slug": r.slug,
            "title": r.title,
            "url": _url(external_url, r.slug),
            "steps": list(r.steps),
            "external": False,
        }
        for r in runbooks.pick(labels_seen)
    ]
    seen_urls: set[str] = set()
    for carried in annotations_seen:
        for name, link in runbook_links(carried):
            if link not in seen_urls:
                seen_urls.add(link)
                refs.append(
                    {"slug": None, "title": name, "url": link, "steps": [], "external": True}
                )
    return refs


def refs_for(request: web.Request) -> Refs:
    """runbook_refs over the runbooks in force, read once so one answer uses one set."""
    runbooks = request.app[LIVE].current.runbooks
    base = request.app[BASE_URL]
    return lambda labels, annotations: runbook_refs(labels, annotations, runbooks, base)


def channel_json(
    name: str,
    urls: list[str],
    activity: ChannelActivity,
    breaker: BreakerState,
    mask: Callable[[str], str],
) -> dict[str, Any]:
    """A channel as people may see it: URLs reduced to scheme and host, then masked."""
    return {
        "name": name,
        "urls": [mask(shown_url(url)) for url in urls],
        "breaker": breaker.label,
        "lastOutcome": activity.last_outcome,
        "lastAt": iso(activity.last_at),
        "failures24h": activity.failures,
    }


def route_json(index: int, route: Route, mask: Callable[[str], str]) -> dict[str, Any]:
    """A route in force; its own templates masked (a ${VAR} may have gone into them)."""
    interval = route.repeat_interval
    return {
        "index": index,
        "matchers": [str(m) for m in route.match],
        "channels": route.channels,
        "continue": route.continue_,
        "sendResolved": route.send_resolved,
        "repeatInterval": format_duration(interval) if interval is not None else None,
        "fallback": route.fallback,
        "title": mask(route.title) if route.title is not None else None,
        "body": mask(route.body) if route.body is not None else None,
    }


def tested_json(channel: str, outcome: SendOutcome, mask: Callable[[str], str]) -> dict[str, Any]:
    """The answer to a test message: per URL what its service said, all of it masked."""
    return {
        "channel": channel,
        "ok": outcome.ok,
        "status": outcome.status,
        "seconds": round(outcome.seconds, 3),
        "error": mask(outcome.error) if outcome.error else None,
        "services": outcome.as_json(),
    }
