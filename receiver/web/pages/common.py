"""What several history pages read and shape alike: incident rows with their urgency,
runbooks with their bodies, notifications with their attempts, merged timelines, links
that keep a page's filters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from receiver.domain.history import severity_of
from receiver.store import reads
from receiver.web.api.shapes import refs_for
from receiver.web.keys import LIVE
from receiver.web.pages.env import markdown_html
from receiver.web.query import encode_cursor

NOTIFICATIONS_SHOWN = 200  # per incident, newest first


async def incident_rows(
    conn: AsyncConnection, request: web.Request, rows: Sequence[Row[Any]]
) -> list[dict[str, Any]]:
    """Each incident with its alert counts, severity and runbook links."""
    names = (*request.app[LIVE].current.runbooks.label_names, "severity")
    members = await reads.members_of(conn, [r.id for r in rows], names)
    refs = refs_for(request)
    shaped = []
    for r in rows:
        found = members.keys.get(r.id, [])
        labels = [labels for labels, _ in found]
        shaped.append(
            {
                "incident": r,
                "counts": members.counts[r.id],
                "severity": severity_of(r.common_labels, labels),
                "runbooks": refs(labels, [notes for _, notes in found]),
            }
        )
    return shaped


def runbooks_shown(
    request: web.Request, labels: list[dict[str, str]], annotations: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """The runbook references of the API, each local one with its body rendered."""
    books = request.app[LIVE].current.runbooks.by_slug
    return [
        {**ref, "html": markdown_html(books[ref["slug"]].body) if ref["slug"] in books else ""}
        for ref in refs_for(request)(labels, annotations)
    ]


async def notifications_of(
    conn: AsyncConnection, incident_ids: list[int]
) -> list[tuple[Row[Any], list[Row[Any]]]]:
    """Each notification of these incidents with its attempts (the page masks errors)."""
    sent: list[Row[Any]] = []
    for incident_id in incident_ids:
        page = await reads.list_notifications(
            conn, incident_id, None, None, NOTIFICATIONS_SHOWN, None
        )
        sent.extend(page.rows)
    attempts = await reads.attempts_of(conn, [n.id for n in sent])
    return [(n, attempts.get(n.id, [])) for n in sent]


def timeline(
    events: Sequence[Row[Any]], actions: Sequence[Row[Any]], subject: bool
) -> list[dict[str, Any]]:
    """Alert events and people's actions in one list, oldest first; `subject` names the
    alert of each event (on an incident's page, where several alerts speak)."""
    entries = [
        {
            "at": e.at,
            "kind": e.kind,
            "subject": e.alertname if subject else None,
            "inferred": e.inferred,
            "received_at": e.received_at,
        }
        for e in events
    ]
    entries += [{"at": a.at, "kind": a.kind, "by": a.by, "text": a.text} for a in actions]
    return sorted(entries, key=lambda e: e["at"])


def url_with(path: str, query: Any, **changes: str | None) -> str:
    """This page's address with some parameters replaced (None removes one); the rest of
    the filter stays, so a link to the next page shares the same filter."""
    kept = [(k, v) for k, v in query.items() if k not in changes and v.strip()]
    kept += [(k, v) for k, v in changes.items() if v is not None]
    return f"{path}?{urlencode(kept)}" if kept else path


def next_url(path: str, query: Any, position: reads.Position | None) -> str | None:
    return url_with(path, query, cursor=encode_cursor(position)) if position else None
