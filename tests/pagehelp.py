"""What the page tests share: fetching a page, and standing in for the incident actions
(their handlers are built elsewhere) by writing what they would write."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection

from receiver.store.tables import incident_actions, incidents
from receiver.web.keys import WRITER
from tests.conftest import Client


# `expect` is positional-only, so that no query parameter can be taken for it.
async def html(client: Client, path: str, expect: int = 200, /, **query: str) -> str:
    resp = await client.get(path, params=query)
    text = await resp.text()
    assert resp.status == expect, text[:2000]
    assert resp.content_type == "text/html"
    return text


async def acted(client: Client, incident_id: int, kind: str, by: str, text: str = "") -> None:
    """An action as the handlers record it: the history row, and the incident's state."""
    at = datetime.now(UTC)
    states: dict[str, dict[str, Any]] = {
        "acknowledged": {"status": "acknowledged", "acknowledged_by": by, "acknowledged_at": at},
        "unacknowledged": {"status": "open", "acknowledged_by": None, "acknowledged_at": None},
        "resolved": {"status": "resolved", "resolved_by": by, "resolved_at": at},
        "note": {},
    }
    state = states[kind]

    def work(conn: Connection) -> None:
        conn.execute(
            insert(incident_actions).values(
                incident_id=incident_id, kind=kind, by=by, at=at, text=text
            )
        )
        if state:
            conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**state))

    await client.app[WRITER].run([], work)
