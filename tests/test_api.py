"""The read API on both databases: pagination, filters, errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Client
from tests.payloads import ZERO_TIME, alert, webhook


async def seed(client: Client) -> None:
    """Twelve alerts across two groups and receivers, one per minute, some resolved."""
    for i in range(12):
        starts = f"2026-11-26T10:{i:02d}:00Z"
        name = "HighLatencyP95" if i % 2 == 0 else "HighMemoryUsage"
        severity = "critical" if i % 3 == 0 else "warning"
        status = "resolved" if i % 4 == 0 else "firing"
        body = webhook(
            alert(
                name,
                status=status,
                starts=starts,
                ends=f"2026-11-26T11:{i:02d}:00Z" if status == "resolved" else ZERO_TIME,
                annotations={"summary": f"case {i} on api-{i}"},
                severity=severity,
                instance=f"api-{i}",
            ),
            receiver="team-a" if i < 6 else "team-b",
            group=name,
        )
        resp = await client.post("/alerts", json=body)
        assert resp.status == 200, await resp.text()


# `expect` is positional-only, so that no query parameter can be taken for it.
async def get(client: Client, path: str, expect: int = 200, /, **query: Any) -> Any:
    resp = await client.get(path, params=query)
    assert resp.status == expect, await resp.text()
    assert resp.content_type == "application/json"
    return await resp.json()


def instances(body: dict[str, Any]) -> list[int]:
    return [int(a["labels"]["instance"].split("-")[1]) for a in body["alerts"]]


async def test_alerts_newest_first_with_cursor_pages(client: Client) -> None:
    await seed(client)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": "5", **({"cursor": cursor} if cursor else {})}
        body = await get(client, "/api/v1/alerts", **query)
        seen += instances(body)
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == list(range(11, -1, -1))
    assert pages == 3


async def test_alert_fields_are_camel_case(client: Client) -> None:
    await seed(client)
    [first] = (await get(client, "/api/v1/alerts", limit="1"))["alerts"]
    assert set(first) == {
        "id", "fingerprint", "status", "labels", "annotations", "startsAt", "endsAt",
        "endInferred", "generatorURL", "timesReceived", "firstReceivedAt",
        "lastReceivedAt", "incidentIds", "runbooks",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "resolved"}, [8, 4, 0]),
        ({"alertname": "HighMemoryUsage", "status": "firing"}, [11, 9, 7, 5, 3, 1]),
        ({"severity": "critical"}, [9, 6, 3, 0]),
        ({"receiver": "team-a", "severity": "critical"}, [3, 0]),
        ({"filter": 'instance=~"api-1.*"'}, [11, 10, 1]),
        ({"since": "2026-11-26T10:09:00Z"}, [11, 10, 9]),
        ({"until": "2026-11-26T10:02:00Z"}, [1, 0]),
        ({"q": "CASE 7 ON"}, [7]),
        ({"q": "100%"}, []),
    ],
)
async def test_alert_filters(client: Client, query: dict[str, str], expected: list[int]) -> None:
    await seed(client)
    assert instances(await get(client, "/api/v1/alerts", **query)) == expected


async def test_text_search_finds_non_ascii_as_written(client: Client) -> None:
    body = webhook(alert("DiskFull", annotations={"summary": "Datenträger voll in Zürich"}))
    assert (await client.post("/alerts", json=body)).status == 200
    for text in ("zürich", "DATENTRÄGER", "ger voll in Z"):
        [found] = (await get(client, "/api/v1/alerts", q=text))["alerts"]
        assert found["annotations"]["summary"] == "Datenträger voll in Zürich"


async def test_matcher_filters_combine_and_paginate(client: Client) -> None:
    await seed(client)
    resp = await client.get(
        "/api/v1/alerts",
        params=[
            ("filter", 'alertname="HighLatencyP95"'),
            ("filter", 'severity!="critical"'),
            ("limit", "2"),
        ],
    )
    body = await resp.json()
    assert instances(body) == [10, 8]
    rest = await get(
        client,
        "/api/v1/alerts",
        cursor=body["next"],
        filter='alertname="HighLatencyP95"',
    )
    assert instances(rest) == [6, 4, 2, 0]


async def test_alert_detail_has_timeline_and_incidents(client: Client) -> None:
    await seed(client)
    [resolved] = (await get(client, "/api/v1/alerts", q="case 4 on"))["alerts"]
    detail = await get(client, f"/api/v1/alerts/{resolved['id']}")
    assert [e["kind"] for e in detail["events"]] == ["fired", "resolved"]
    assert len(detail["incidentIds"]) == 1


async def test_incidents_list_filter_and_detail(client: Client) -> None:
    await seed(client)
    listed = await get(client, "/api/v1/incidents")
    assert {(i["receiver"], i["status"]) for i in listed["incidents"]} >= {("team-a", "open")}
    team_b = await get(client, "/api/v1/incidents", receiver="team-b", status="open")
    assert team_b["incidents"]
    assert all(i["receiver"] == "team-b" for i in team_b["incidents"])
    incident = team_b["incidents"][0]
    detail = await get(client, f"/api/v1/incidents/{incident['id']}")
    assert len(detail["alerts"]) == sum(detail["alertCounts"].values())
    assert all(incident["id"] in a["incidentIds"] for a in detail["alerts"])


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/alerts/999999", 404),
        ("/api/v1/incidents/999999", 404),
        ("/api/v1/alerts/abc", 400),
    ],
)
async def test_unknown_or_malformed_ids(client: Client, path: str, status: int) -> None:
    body = await get(client, path, status)
    assert body["error"]


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "pending"}, "status"),
        ({"since": "last week"}, "since"),
        ({"filter": "instance"}, "filter"),
        ({"filter": 'team=~"(unclosed"'}, "regular expression"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"alertname": "a\x00b"}, "NUL"),
    ],
)
async def test_bad_query_parameters_are_400_with_reason(
    client: Client, query: dict[str, str], needle: str
) -> None:
    body = await get(client, "/api/v1/alerts", 400, **query)
    assert needle in body["error"]


async def test_incident_status_filter_is_validated(client: Client) -> None:
    body = await get(client, "/api/v1/incidents", 400, status="pending")
    assert "status" in body["error"]


async def test_unknown_path_answers_json_404(client: Client) -> None:
    body = await get(client, "/api/v1/nothing", 404)
    assert body["error"]
