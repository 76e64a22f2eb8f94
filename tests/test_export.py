"""The exports on both databases: the filter of the page, every row once across chunks,
cells that a spreadsheet would run made text, JSON that parses even when a chunk is
empty, and bad filters refused before the answer starts."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import aiohttp
import pytest

from receiver.store import reads
from receiver.web.api import export
from tests.conftest import Client
from tests.payloads import alert, webhook


async def seed(client: Client, n: int = 7) -> None:
    alerts = [
        alert(
            "Cells" if i else '=HYPERLINK("http://evil")',
            starts=f"2026-11-26T10:{i:02d}:00Z",
            instance=f"api-{i}" if i % 2 else f"db-{i}",
            annotations={"summary": "+cmd|' /C calc'!A0" if i == 1 else f"case {i}"},
        )
        for i in range(n)
    ]
    resp = await client.post("/alerts", json=webhook(*alerts))
    assert resp.status == 200, await resp.text()


async def test_csv_has_every_row_once_across_chunks_and_no_formula(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "CHUNK", 3)
    await seed(client)
    resp = await client.get("/alerts/export.csv")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="alerts.csv"'
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["startsAt"][14:16] for r in rows] == ["06", "05", "04", "03", "02", "01", "00"]
    assert sorted(r["id"] for r in rows) == ["1", "2", "3", "4", "5", "6", "7"]
    assert rows[-1]["alertname"] == '\'=HYPERLINK("http://evil")'
    assert rows[-2]["annotations"].startswith('{"summary":"+cmd')  # inside JSON: inert
    assert all(not r[c].startswith(("=", "+", "-", "@")) for r in rows for c in r)
    assert rows[0]["incidentIds"] == "1"


async def test_the_export_takes_the_page_filter(client: Client) -> None:
    await seed(client)
    resp = await client.get("/alerts/export.csv", params={"filter": 'instance=~"api-.*"'})
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["startsAt"][14:16] for r in rows] == ["05", "03", "01"]
    assert all("api-" in r["labels"] for r in rows)


async def test_json_parses_with_empty_chunks_between(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A matcher scan that stops at its budget hands back an empty chunk and a cursor."""
    monkeypatch.setattr(export, "CHUNK", 2)
    monkeypatch.setattr(reads, "SCAN_BUDGET", 1)
    monkeypatch.setattr(reads, "_CHUNK", 1)
    await seed(client)
    resp = await client.get(
        "/api/v1/alerts/export", params={"format": "json", "filter": 'instance=~"db-.*"'}
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    found = json.loads(await resp.text())
    assert all(a["labels"]["instance"].startswith("db-") for a in found)
    assert len(found) == 4
    resp = await client.get("/api/v1/alerts/export", params={"format": "csv"})
    assert len(list(csv.DictReader(io.StringIO(await resp.text())))) == 7


async def test_an_empty_export_is_still_well_formed(client: Client) -> None:
    resp = await client.get("/api/v1/alerts/export")
    assert json.loads(await resp.text()) == []
    resp = await client.get("/alerts/export.csv")
    assert (await resp.text()).splitlines() == [",".join(export.COLUMNS)]


async def test_bad_filters_are_refused_before_the_answer_starts(client: Client) -> None:
    resp = await client.get("/api/v1/alerts/export", params={"format": "xlsx"})
    assert resp.status == 400
    assert "format must be one of csv, json" in (await resp.json())["error"]
    resp = await client.get("/alerts/export.csv", params={"filter": 'x=~"("'})
    assert resp.status == 400
    assert "invalid regular expression" in await resp.text()


async def test_storage_failing_mid_export_cuts_the_download(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the 200 is out, a failure must not end the file as if it were complete."""
    from sqlalchemy.exc import OperationalError

    monkeypatch.setattr(export, "CHUNK", 2)
    await seed(client)
    real = reads.list_alerts
    calls = 0

    async def failing(*args: Any, **kwargs: Any) -> reads.Page:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OperationalError("SELECT", {}, Exception("gone"))
        return await real(*args, **kwargs)

    monkeypatch.setattr(reads, "list_alerts", failing)
    resp = await client.get("/alerts/export.csv")
    assert resp.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await resp.read()
