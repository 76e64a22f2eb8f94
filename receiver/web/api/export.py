"""Alerts as CSV or JSON, for whatever filter a page or a caller has: streamed, a chunk
of the keyset read at a time, so an export of a million alerts holds one chunk in memory
and one database connection only while that chunk is read."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Row

from receiver.domain.history import csv_cell
from receiver.store import reads
from receiver.web.api.shapes import alert_json
from receiver.web.keys import ENGINE
from receiver.web.query import alert_query_of, choice_of
from receiver.web.responses import STORAGE_ERRORS, dumps, iso

log = logging.getLogger(__name__)

CHUNK = 500
FORMATS = ("csv", "json")
COLUMNS = (
    "id",
    "fingerprint",
    "status",
    "alertname",
    "severity",
    "startsAt",
    "endsAt",
    "generatorURL",
    "labels",
    "annotations",
    "incidentIds",
)
_TYPES = {"csv": "text/csv", "json": "application/json"}


async def _chunks(
    request: web.Request, query: reads.AlertQuery
) -> AsyncIterator[list[tuple[Row[Any], list[int]]]]:
    after: reads.Position | None = None
    while True:
        async with request.app[ENGINE].connect() as conn:
            page = await reads.list_alerts(conn, query, CHUNK, after)
            incident_ids = await reads.incident_ids_of(conn, [r.id for r in page.rows])
        yield [(r, incident_ids.get(r.id, [])) for r in page.rows]
        if page.next is None:
            return
        after = page.next


def _csv_row(row: Row[Any], incident_ids: list[int]) -> list[str]:
    cells = [
        str(row.id),
        row.fingerprint,
        row.status,
        row.labels.get("alertname", ""),
        row.labels.get("severity", ""),
        iso(row.starts_at) or "",
        iso(row.ends_at) or "",
        row.generator_url,
        dumps(row.labels),
        dumps(row.annotations),
        " ".join(map(str, incident_ids)),
    ]
    return [csv_cell(c) for c in cells]


def _encoded(fmt: str, chunk: list[tuple[Row[Any], list[int]]], first: bool, written: int) -> bytes:
    """One chunk of the answer, `written` rows after the start. The CSV header goes with
    the first chunk, which comes even when empty; later chunks can be empty too (a
    matcher scan that stopped at its budget)."""
    if fmt == "json":
        parts = [dumps(alert_json(r, ids, [])) for r, ids in chunk]
        return (("," if written and parts else "") + ",\n".join(parts)).encode()
    out = io.StringIO()
    writer = csv.writer(out)
    if first:
        writer.writerow(COLUMNS)
    writer.writerows(_csv_row(r, ids) for r, ids in chunk)
    return out.getvalue().encode()


async def stream_alerts(request: web.Request, fmt: str) -> web.StreamResponse:
    """The filter is read before the answer starts, so a bad one is still a 400."""
    query = alert_query_of(request.query, datetime.now(UTC))
    response = web.StreamResponse(
        headers={
            "Content-Type": f"{_TYPES[fmt]}; charset=utf-8",
            "Content-Disposition": f'attachment; filename="alerts.{fmt}"',
        }
    )
    await response.prepare(request)
    try:
        first, written = True, 0
        if fmt == "json":
            await response.write(b"[")
        async for chunk in _chunks(request, query):
            await response.write(_encoded(fmt, chunk, first, written))
            first, written = False, written + len(chunk)
        if fmt == "json":
            await response.write(b"]\n")
    except ConnectionError:
        raise  # the client left
    except STORAGE_ERRORS as exc:
        # The 200 is sent: no error answer can follow. Cut the connection, so that the
        # download fails instead of ending like a complete file.
        log.error("alert export cut short: storage failed (%s)", type(exc).__name__)
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response


async def export_alerts(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/alerts/export?format=csv|json plus the filters of /api/v1/alerts."""
    fmt = choice_of(request.query, "format", FORMATS) or "json"
    return await stream_alerts(request, fmt)
