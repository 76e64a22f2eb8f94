"""/: what is wrong now, most urgent first, with what is failing to tell people about it;
`?kiosk=1` is the same page for a wall screen."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from aiohttp import web

from receiver.domain.history import SEVERITIES, severity_rank
from receiver.store import reads
from receiver.web.keys import ENGINE, OUTBOX
from receiver.web.pages.common import incident_rows
from receiver.web.pages.env import page

OPEN_READ = 500  # ranked, counted by severity and in the title
OPEN_SHOWN = 100  # rows drawn: the most urgent; a screen holds fewer, and drawing 300
# rows was half of this page's time at 300 open incidents (docs/benchmarks.md)
RESOLVED_SHOWN = 10
FAILURES_WITHIN = timedelta(hours=1)


async def home_page(request: web.Request) -> web.StreamResponse:
    now = datetime.now(UTC)
    async with request.app[ENGINE].connect() as conn:
        unresolved = await reads.unresolved_incidents(conn, OPEN_READ)
        rows = await incident_rows(conn, request, unresolved)
        resolved = await incident_rows(
            conn, request, await reads.recently_resolved(conn, RESOLVED_SHOWN)
        )
        failed = await reads.failed_notifications_since(conn, now - FAILURES_WITHIN)
    rows.sort(
        key=lambda r: (severity_rank(r["severity"]), r["incident"].opened_at, r["incident"].id)
    )
    by_severity = Counter(r["severity"] if r["severity"] in SEVERITIES else "other" for r in rows)
    return page(
        request,
        "home.html",
        rows=rows[:OPEN_SHOWN],
        unresolved=len(rows),
        resolved=resolved,
        by_severity=[(s, by_severity[s]) for s in (*SEVERITIES, "other") if by_severity[s]],
        firing=sum(r["counts"]["firing"] for r in rows),
        failed=failed,
        open_channels=request.app[OUTBOX].open_channels(),
        more=len(unresolved) == OPEN_READ,
        kiosk=request.query.get("kiosk") == "1",
    )
