"""/alerts and /alerts/{id} on both databases: every filter in the address, keyset pages,
the same filters in the API, and one alert with all that happened around it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from multidict import MultiDict

from receiver.web.pages.common import url_with
from tests.conftest import Client, MakeReceiver
from tests.pagehelp import acted, html
from tests.payloads import alert, webhook
from tests.sinks import JsonSink, eventually


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def post(client: Client, body: dict[str, Any]) -> None:
    resp = await client.post("/alerts", json=body)
    assert resp.status == 200, await resp.text()


async def seed(client: Client) -> None:
    """1: api-1 critical 10 minutes ago; 2: db-1 warning 2 days ago, resolved, team-b;
    3: api-2 info 40 days ago, with text to search for."""
    await post(client, webhook(alert("Down", starts=ago(minutes=10), severity="critical")))
    await post(
        client,
        webhook(
            alert(
                "Slow",
                status="resolved",
                starts=ago(days=2),
                ends=ago(days=1),
                instance="db-1",
            ),
            receiver="team-b",
            group="Slow",
        ),
    )
    await post(
        client,
        webhook(
            alert(
                "Old",
                starts=ago(days=40),
                severity="info",
                instance="api-2",
                annotations={"summary": "the needle"},
            ),
            group="Old",
        ),
    )


def shown(page: str) -> list[str]:
    return re.findall(r'<tr data-href="/alerts/(\d+)"', page)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["1", "2", "3"]),
        ({"status": "resolved"}, ["2"]),
        ({"severity": "critical"}, ["1"]),
        ({"alertname": "Old"}, ["3"]),
        ({"receiver": "team-b"}, ["2"]),
        ({"filter": 'instance=~"api-.*"'}, ["1", "3"]),
        ({"range": "1h"}, ["1"]),
        ({"range": "7d"}, ["1", "2"]),
        ({"since": ago(days=50), "until": ago(days=30)}, ["3"]),
        ({"q": "NEEDLE"}, ["3"]),
        (
            {"status": "", "severity": "", "range": "", "filter": ""},
            ["1", "2", "3"],
        ),  # a blank form
    ],
)
async def test_each_filter_in_the_address(
    client: Client, query: dict[str, str], expected: list[str]
) -> None:
    await seed(client)
    assert shown(await html(client, "/alerts", **query)) == expected


async def test_the_api_takes_the_same_filters(client: Client) -> None:
    await seed(client)
    resp = await client.get(
        "/api/v1/alerts", params={"range": "7d", "filter": 'instance=~"api-.*"'}
    )
    assert [a["id"] for a in (await resp.json())["alerts"]] == [1]
    resp = await client.get("/api/v1/alerts", params={"range": "1y"})
    assert resp.status == 400
    assert "range must be one of 1h, 24h, 7d, 30d" in (await resp.json())["error"]


async def test_pages_follow_the_cursor_and_keep_the_filter(client: Client) -> None:
    await seed(client)
    first = await html(client, "/alerts", limit="1", filter='instance=~"api-.*"')
    assert shown(first) == ["1"]
    older = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert older
    second = await html(client, older.group(1).replace("&amp;", "&"))
    assert shown(second) == ["3"]
    assert 'rel="next"' not in second
    assert 'value="instance=~&#34;api-.*&#34;"' in first  # the form shows the filter in force
    exports = re.findall(r'href="(/[^"]*export[^"]*)" download', first)
    assert exports[0].startswith("/alerts/export.csv?")
    assert "format=json" in exports[1]
    assert "cursor" not in "".join(exports)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"filter": 'instance=~"("'}, "invalid regular expression"),
        ({"filter": "nonsense"}, "cannot parse matcher"),
        ({"range": "2y"}, "range must be one of"),
        ({"since": "yesterday"}, "since must be an RFC 3339 time"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "earlier"),
        ({"range": "1h", "since": "2026-01-01T00:00:00Z"}, "not both"),
        ({"status": "burning"}, "status must be one of firing, resolved"),
        ({"limit": "0"}, "limit must be a whole number"),
        ({"cursor": "%%%"}, "cursor is not one"),
    ],
)
async def test_a_bad_filter_is_a_page_that_says_why(
    client: Client, query: dict[str, str], says: str
) -> None:
    page = await html(client, "/alerts", 400, **query)
    assert says in page.replace("&#39;", "'")


async def test_an_alert_missing_or_misspelled_is_a_4xx_page(client: Client) -> None:
    assert "No alert has id 5" in await html(client, "/alerts/5", 404)
    assert "whole number" in await html(client, "/alerts/x", 400)


RUNBOOK = "---\ntitle: Latency\nalertname: HighLatencyP95\n---\n1. Open the **dashboard**.\n"


async def test_one_alert_with_its_story(
    make_receiver: MakeReceiver, json_sink: JsonSink, tmp_path: Path
) -> None:
    books = tmp_path / "books"
    books.mkdir()
    (books / "latency.md").write_text(RUNBOOK)
    channel = f'channels:\n  chat: "{json_sink.url()}"\nroutes:\n  - channels: [chat]\n'
    config = f"runbooks_dir: {books}\n{channel}"
    client = await make_receiver(config)
    notes = {"summary": "slow", "dashboard": "https://grafana.example.com/d/1", "note": "ftp://x"}
    await post(
        client,
        webhook(
            alert(starts="2026-11-26T09:00:00Z", ends="2026-11-26T09:30:00Z", status="resolved")
        ),
    )
    await post(client, webhook(alert(annotations=notes)))
    await post(client, webhook(alert(annotations={**notes, "summary": "slower"})))
    await post(
        client, webhook(alert(status="resolved", ends="2026-11-26T10:30:00Z", annotations=notes))
    )
    await eventually(lambda: len(json_sink.received) >= 1, "a message", 10)
    await acted(client, 2, "note", "carol", "was the deploy")

    async def delivered() -> bool:
        return "status-delivered" in await html(client, "/alerts/2")

    await eventually(delivered, "the delivered notification on the page", 10)
    page = await html(client, "/alerts/2")
    assert "<title>HighLatencyP95 #2 · Alerts</title>" in page
    assert '<td class="value">api-1</td>' in page
    assert '<a href="https://grafana.example.com/d/1" rel="noreferrer noopener">' in page
    assert '<td class="value">ftp://x</td>' in page
    kinds = re.findall(r"<strong>(fired|annotations changed|resolved|note)</strong>", page)
    # In the order they happened: the payload's times are days before the changes arrived.
    assert kinds == ["fired", "resolved", "annotations changed", "note"]
    assert "by <strong>carol</strong>" in page
    assert '<a href="/incidents/2">Incident #2</a>' in page
    assert (
        '<a href="http://prometheus:9090/graph?g0.expr=up" rel="noreferrer noopener">Source</a>'
        in page
    )
    silence = re.search(r'href="(http://alertmanager-1:9093/#/silences/new\?filter=[^"]+)"', page)
    assert silence
    assert "alertname%3D%22HighLatencyP95%22" in silence.group(1)  # JSONB orders keys its way
    assert '<a href="/runbooks/latency">Latency</a>' in page
    assert "Open the <strong>dashboard</strong>." in page
    assert "<td>chat</td>" in page
    episodes = page.split("Episodes of this alert")[1]
    assert shown(episodes) == ["2", "1"]  # the flap history, newest first
    assert "(this one)" in episodes


def test_links_keep_the_filter_and_replace_what_changes() -> None:
    query = MultiDict([("filter", 'a="1"'), ("filter", 'b=~"2"'), ("cursor", "x"), ("q", " ")])
    assert url_with("/alerts/export.csv", query, cursor=None) == (
        "/alerts/export.csv?filter=a%3D%221%22&filter=b%3D~%222%22"
    )
    assert url_with("/alerts", MultiDict(), cursor=None) == "/alerts"
    assert url_with("/x", MultiDict([("limit", "5")]), format="json") == "/x?limit=5&format=json"
