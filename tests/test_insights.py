"""/insights and GET /api/v1/insights on both databases: known traffic gives known counts,
flapping, response times and runbook gaps; the hourly rollup stays equal to the alerts
it counts through ingest, retention and migration; and the rules, unit by unit."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from receiver.domain.chart import Bar, nice_ceiling, stacked_bars
from receiver.domain.insights import (
    BadWindow,
    day_of,
    hour_of,
    parse_flaps,
    parse_window,
    severity_classes,
    spread,
)
from receiver.domain.matchers import parse_matcher
from receiver.domain.runbooks import Runbook, Runbooks, without_runbook
from receiver.store import insights as insights_store
from receiver.store import schema
from receiver.store.engine import create_engine
from receiver.store.tables import (
    alert_days,
    alert_hours,
    alerts,
    incident_actions,
    incidents,
    severity_hours,
)
from receiver.web.api import insights as insights_api
from receiver.web.keys import ENGINE
from tests.conftest import Client, MakeReceiver
from tests.pagehelp import only_our_script
from tests.payloads import alert, webhook
from tests.sinks import eventually

DAY = "since=2026-11-26T00:00:00Z&until=2026-11-27T00:00:00Z"
ODD = 'Odd<b>&"x'


def at(hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return datetime(2026, 11, 26, int(hours), int(minutes), tzinfo=UTC)


def stamp(hhmm: str) -> str:
    return f"2026-11-26T{hhmm}:00Z"


async def post(client: Client, body: dict[str, Any]) -> None:
    resp = await client.post("/alerts", json=body)
    assert resp.status == 200, await resp.text()


async def get(client: Client, path: str, status: int = 200) -> Any:
    resp = await client.get(path)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def traffic(client: Client) -> None:
    """HighLatencyP95 (team-a) fires three times, resolving twice: three episodes of one
    fingerprint, three incidents. DiskFull and an odd name (team-b) fire once each."""
    for start, end in (("10:00", "10:10"), ("11:00", "11:20")):
        await post(client, webhook(alert(starts=stamp(start))))
        await post(client, webhook(alert(status="resolved", starts=stamp(start), ends=stamp(end))))
    await post(client, webhook(alert(starts=stamp("12:00"))))
    disk = alert("DiskFull", starts=stamp("10:30"), severity="critical", instance="db-1")
    await post(client, webhook(disk, receiver="team-b", group="DiskFull"))
    odd = alert(ODD, starts=stamp("12:30"), severity="info")
    await post(client, webhook(odd, receiver="team-b", group="Odd"))


async def acknowledge(
    client: Client, incident_id: int, hhmm: str, kind: str = "acknowledged"
) -> None:
    """What POST /api/v1/incidents/{id}/acknowledge will record (written elsewhere)."""
    async with client.app[ENGINE].begin() as conn:
        await conn.execute(
            insert(incident_actions).values(
                incident_id=incident_id, kind=kind, by="alice", at=at(hhmm)
            )
        )


async def responses(client: Client) -> None:
    """Incidents open when their webhook arrives (now); set them to when they fired, then
    acknowledge: HighLatencyP95 after 2m (and again later), 6m, 1m; DiskFull after 10m."""
    async with client.app[ENGINE].begin() as conn:
        rows = (await conn.execute(select(incidents.c.id).order_by(incidents.c.id))).all()
        ids = [r.id for r in rows]
        for incident_id, opened in zip(
            ids, ("10:00", "11:00", "12:00", "10:30", "12:30"), strict=True
        ):
            await conn.execute(
                update(incidents).where(incidents.c.id == incident_id).values(opened_at=at(opened))
            )
    first, second, third, disk, _ = ids
    await acknowledge(client, first, "10:02")
    await acknowledge(client, first, "10:03", "unacknowledged")
    await acknowledge(client, first, "10:05")
    await acknowledge(client, second, "11:06")
    await acknowledge(client, third, "12:01")
    await acknowledge(client, third, "12:00", "note")
    await acknowledge(client, disk, "10:40")


async def rollup_matches_alerts(client: Client) -> None:
    """Every rollup equals a GROUP BY over the stored alerts: by hour and by UTC day (with
    alertname and severity), and by hour and severity alone."""
    async with client.app[ENGINE].connect() as conn:
        stored = (
            await conn.execute(select(alerts.c.starts_at, alerts.c.alertname, alerts.c.severity))
        ).all()
        for table, bucket in ((alert_hours, hour_of), (alert_days, day_of)):
            counts = Counter((bucket(r.starts_at), r.alertname, r.severity) for r in stored)
            kept = await conn.execute(select(table))
            assert {(r[0], r.alertname, r.severity): r._mapping["count"] for r in kept} == counts
        by_severity = Counter((hour_of(r.starts_at), r.severity) for r in stored)
        kept = await conn.execute(select(severity_hours))
        assert {(r.hour, r.severity): r._mapping["count"] for r in kept} == by_severity


RUNBOOK = "---\ntitle: Latency\nmatch: ['alertname=\"HighLatencyP95\"']\n---\n1. Look.\n"


async def test_known_traffic_gives_known_insights(
    make_receiver: MakeReceiver, tmp_path: Path
) -> None:
    books = tmp_path / "books"
    books.mkdir()
    (books / "latency.md").write_text(RUNBOOK)
    client = await make_receiver(f"runbooks_dir: {books}\n")
    await traffic(client)
    await responses(client)
    await rollup_matches_alerts(client)

    body = await get(client, f"/api/v1/insights?{DAY}")
    assert body["window"] == {
        "name": "custom",
        "since": "2026-11-26T00:00:00Z",
        "until": "2026-11-27T00:00:00Z",
        "stepSeconds": 3600,
    }
    assert body["flaps"] == 3
    assert body["flappingSince"] is None  # every alert of the window counted
    volume = body["volume"]
    assert volume["severities"] == ["critical", "warning", "info"]
    assert len(volume["buckets"]) == 24
    busy = {b["start"]: b["counts"] for b in volume["buckets"] if b["total"]}
    assert busy == {
        "2026-11-26T10:00:00Z": {"warning": 1, "critical": 1},
        "2026-11-26T11:00:00Z": {"warning": 1},
        "2026-11-26T12:00:00Z": {"warning": 1, "info": 1},
    }
    assert body["noisiest"] == [
        {"alertname": "HighLatencyP95", "alerts": 3},
        {"alertname": "DiskFull", "alerts": 1},
        {"alertname": ODD, "alerts": 1},
    ]
    latest = await get(client, "/api/v1/alerts?alertname=HighLatencyP95&limit=1")
    [flapping] = body["flapping"]
    assert flapping == {
        "fingerprint": alert()["fingerprint"],
        "alertname": "HighLatencyP95",
        "labels": alert()["labels"],
        "episodes": 3,
        "latestAlertId": latest["alerts"][0]["id"],
    }
    assert latest["alerts"][0]["startsAt"] == "2026-11-26T12:00:00Z"

    def spread_of(count: int, median: float | None, p90: float | None) -> dict[str, Any]:
        return {"count": count, "medianSeconds": median, "p90Seconds": p90}

    latency = {
        "incidents": 3,
        "acknowledge": spread_of(3, 120.0, 360.0),  # 1m, 2m, 6m
        "resolve": spread_of(2, 900.0, 1200.0),  # 10m, 20m
    }
    disk = {
        "incidents": 1,
        "acknowledge": spread_of(1, 600.0, 600.0),
        "resolve": spread_of(0, None, None),
    }
    nothing = {
        "incidents": 1,
        "acknowledge": spread_of(0, None, None),
        "resolve": spread_of(0, None, None),
    }
    assert body["responseTimes"] == {
        "since": None,
        "byAlertname": [
            {"key": "HighLatencyP95", **latency},
            {"key": "DiskFull", **disk},
            {"key": ODD, **nothing},
        ],
        "byReceiver": [
            {"key": "team-a", **latency},
            {
                "key": "team-b",
                "incidents": 2,
                "acknowledge": disk["acknowledge"],
                "resolve": disk["resolve"],
            },
        ],
        "alertnames": 3,
        "receivers": 2,
    }
    assert body["withoutRunbook"] == [
        {"alertname": "DiskFull", "alerts": 1},
        {"alertname": ODD, "alerts": 1},
    ]
    assert body["withoutRunbookAlertnames"] == 2

    assert (await get(client, f"/api/v1/insights?{DAY}&flaps=4"))["flapping"] == []
    assert len((await get(client, f"/api/v1/insights?{DAY}&flaps=2"))["flapping"]) == 1
    # Hours outside the window count nothing.
    later = await get(
        client, "/api/v1/insights?since=2026-11-26T12:00:00Z&until=2026-11-26T13:00:00Z"
    )
    assert later["noisiest"] == [
        {"alertname": "HighLatencyP95", "alerts": 1},
        {"alertname": ODD, "alerts": 1},
    ]
    assert later["flapping"] == []
    assert [r["key"] for r in later["responseTimes"]["byReceiver"]] == ["team-a", "team-b"]
    # A chart of days: whole days from the daily rollup, the partial first day (from
    # 11:00, so not 10:00's alerts) from the hourly one, dated where its bar starts.
    month = await get(
        client, "/api/v1/insights?since=2026-11-26T11:00:00Z&until=2026-12-12T00:00:00Z"
    )
    assert month["window"]["stepSeconds"] == 86400
    busy = {b["start"]: b["counts"] for b in month["volume"]["buckets"] if b["total"]}
    assert busy == {"2026-11-26T11:00:00Z": {"warning": 2, "info": 1}}
    assert month["noisiest"] == [
        {"alertname": "HighLatencyP95", "alerts": 2},
        {"alertname": ODD, "alerts": 1},
    ]
    whole = await get(
        client, "/api/v1/insights?since=2026-11-20T00:00:00Z&until=2026-12-12T00:00:00Z"
    )
    assert whole["noisiest"] == body["noisiest"]
    # The presets end with the current hour; Nov 26 is long past the last 24 hours.
    preset = await get(client, "/api/v1/insights?window=24h")
    assert preset["window"]["name"] == "24h"
    assert preset["noisiest"] == []


async def test_a_chart_of_days_adds_its_partial_first_and_last_days(client: Client) -> None:
    """Whole days come from the daily rollup, the window's first and last partial days
    from the hourly one; each part summed alone, every alert in exactly one bar."""
    await traffic(client)
    early = alert("DiskFull", starts="2026-11-10T12:00:00Z", instance="db-2")
    await post(client, webhook(early, receiver="team-b", group="early"))
    before = alert("DiskFull", starts="2026-11-10T10:00:00Z", instance="db-3")  # before since
    await post(client, webhook(before, receiver="team-b", group="before"))
    middle = alert("DiskFull", starts="2026-11-15T08:00:00Z", severity="critical", instance="db-4")
    await post(client, webhook(middle, receiver="team-b", group="middle"))
    month = await get(
        client, "/api/v1/insights?since=2026-11-10T11:00:00Z&until=2026-11-26T12:00:00Z"
    )
    assert month["window"]["stepSeconds"] == 86400
    busy = {b["start"]: b["counts"] for b in month["volume"]["buckets"] if b["total"]}
    assert busy == {
        "2026-11-10T11:00:00Z": {"warning": 1},
        "2026-11-15T00:00:00Z": {"critical": 1},
        "2026-11-26T00:00:00Z": {"warning": 2, "critical": 1},  # 10:00, 11:00; DiskFull 10:30
    }
    assert sum(b["total"] for b in month["volume"]["buckets"]) == 5
    assert month["noisiest"] == [
        {"alertname": "DiskFull", "alerts": 3},
        {"alertname": "HighLatencyP95", "alerts": 2},
    ]


async def test_the_page_shows_it_escaped_and_without_inline_style(client: Client) -> None:
    await traffic(client)
    await responses(client)
    resp = await client.get(f"/insights?{DAY}")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    html = await resp.text()
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count('<g class="bar">') == 24
    assert "<title>2026-11-26 10:00 UTC: 2 alerts (critical 1, warning 1)</title>" in svg
    assert (
        'class="series-0"/><text x="62.0" y="17.0" class="legend" text-anchor="start">critical'
        in svg
    )
    assert 'class="series-3"/><text' in svg  # info keeps its colour
    assert "style=" not in html
    assert "<style" not in html
    only_our_script(html)
    assert "Odd&lt;b&gt;&amp;&#34;x" in html or "Odd&lt;b&gt;&amp;&quot;x" in html
    assert "Odd<b>" not in html
    assert (
        '<a href="/alerts?alertname=HighLatencyP95&amp;since=2026-11-26T00%3A00%3A00Z'
        '&amp;until=2026-11-27T00%3A00%3A00Z">HighLatencyP95</a>' in html
    )
    assert re.search(r'<a href="/alerts/\d+">alert \d+</a>', html)
    cells = re.sub(r"\s+", "", html)
    assert (
        "<td>HighLatencyP95</td><td>3</td><td>3</td><td>2m</td><td>6m</td><td>2</td><td>15m</td><td>20m</td>"
        in cells
    )
    assert (
        "<td>team-b</td><td>2</td><td>1</td><td>10m</td><td>10m</td><td>0</td><td></td><td></td>"
        in cells
    )
    assert "/static/insights.css" in html
    css = await client.get("/static/insights.css")
    assert css.status == 200
    assert "prefers-color-scheme: dark" in await css.text()
    assert (await client.get("/insights")).status == 200  # the default window, 7d


async def test_long_lists_show_their_largest_rows_and_how_many_there_were(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await traffic(client)
    await responses(client)
    monkeypatch.setattr(insights_api, "LISTED", 1)
    body = await get(client, f"/api/v1/insights?{DAY}")
    times = body["responseTimes"]
    assert [r["key"] for r in times["byAlertname"]] == ["HighLatencyP95"]
    assert [r["key"] for r in times["byReceiver"]] == ["team-a"]
    assert (times["alertnames"], times["receivers"]) == (3, 2)
    assert body["withoutRunbook"] == [{"alertname": "HighLatencyP95", "alerts": 3}]
    assert body["withoutRunbookAlertnames"] == 3  # no runbooks here: every name
    page = await (await client.get(f"/insights?{DAY}")).text()
    assert "The 1 alertnames with the most incidents, of 3." in page
    assert "The 1 receivers with the most incidents, of 2." in page
    assert "The 1 with the most alerts, of 3." in page


async def test_an_incident_counts_under_its_latest_alertname(client: Client) -> None:
    """The alertname response times group by: the alerts' common one while they share
    it, the group's once they do not, "" when neither has one; it follows each webhook."""
    one = alert("Alpha", starts=stamp("10:00"))
    await post(client, webhook(one, group="G"))
    names = select(incidents.c.alertname).order_by(incidents.c.id)
    async with client.app[ENGINE].connect() as conn:
        assert (await conn.execute(names)).scalars().all() == ["Alpha"]
    await post(client, webhook(one, alert("Beta", starts=stamp("10:01")), group="G"))
    two = (alert("Gamma", starts=stamp("10:02")), alert("Delta", starts=stamp("10:02")))
    ungrouped = {**webhook(*two), "groupLabels": {"team": "x"}, "groupKey": '{}:{team="x"}'}
    await post(client, ungrouped)
    async with client.app[ENGINE].connect() as conn:
        assert (await conn.execute(names)).scalars().all() == ["G", ""]
    body = await get(client, "/api/v1/insights?window=24h")
    assert sorted(r["key"] for r in body["responseTimes"]["byAlertname"]) == ["", "G"]


async def test_a_crowded_window_counts_its_newest_rows_and_says_so(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await traffic(client)
    await responses(client)
    monkeypatch.setattr(insights_store, "SCAN_BUDGET", 2)
    body = await get(client, f"/api/v1/insights?{DAY}&flaps=2")
    # The newest two alerts are HighLatencyP95's 12:00 and the odd one's 12:30.
    assert body["flappingSince"] == "2026-11-26T12:00:00Z"
    assert body["flapping"] == []
    assert body["responseTimes"]["since"] == "2026-11-26T12:00:00Z"
    assert [r["incidents"] for r in body["responseTimes"]["byReceiver"]] == [1, 1]
    assert body["noisiest"][0] == {"alertname": "HighLatencyP95", "alerts": 3}  # the rollup
    html = await (await client.get(f"/insights?{DAY}")).text()
    assert "counts those started since 2026-11-26T12:00:00Z" in html
    assert "covers those opened since 2026-11-26T12:00:00Z" in html


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("window=5y", "window must be one of 24h, 7d, 30d"),
        ("flaps=0", "flaps must be a whole number from 2"),
        ("flaps=abc", "flaps must be a whole number from 2"),
        ("since=2026-11-27T00:00:00Z&until=2026-11-26T00:00:00Z", "since must be before until"),
        ("since=2026-01-01T00:00:00Z&until=2026-11-26T00:00:00Z", "at most 92 days"),
        ("since=yesterday", "since must be an RFC 3339 time"),
        ("until=2026-11-26T00:00:00Z", "until needs a since"),
        ("window=7d&since=2026-11-26T00:00:00Z", "not both"),
    ],
)
async def test_bad_queries_say_what_to_send(client: Client, query: str, needle: str) -> None:
    body = await get(client, f"/api/v1/insights?{query}", 400)
    assert needle in body["error"]
    resp = await client.get(f"/insights?{query}")
    assert resp.status == 400
    assert resp.content_type == "text/html"
    assert needle in (await resp.text()).replace("&#39;", "'")


async def test_retention_takes_deleted_alerts_out_of_the_rollup(
    make_receiver: MakeReceiver,
) -> None:
    client = await make_receiver("retention:\n  resolved_alerts: 1d\n  check: 100ms\n")
    await traffic(client)

    async def pruned() -> bool:
        body = await get(client, f"/api/v1/insights?{DAY}")
        return {"alertname": "HighLatencyP95", "alerts": 1} in body["noisiest"]

    await eventually(pruned, "the two resolved episodes to be pruned")
    await rollup_matches_alerts(client)
    async with client.app[ENGINE].connect() as conn:
        for table in (alert_hours, alert_days, severity_hours):
            assert await conn.scalar(select(func.count()).where(table.c.count <= 0)) == 0


async def test_migration_counts_the_alerts_already_stored(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await schema.upgrade(engine, "0008")
        rows = [
            {"fingerprint": f"f{i}", "starts_at": start, "status": "firing", "alertname": name,
             "severity": "warning", "labels": {}, "annotations": {}, "first_received_at": start,
             "last_received_at": start}
            for i, (name, start) in enumerate(
                [("A", at("10:00")), ("A", at("10:59")), ("A", at("11:00")), ("B", at("10:30")),
                 ("A", at("10:00") + timedelta(days=1))]
            )
        ]  # fmt: skip
        async with engine.begin() as conn:
            await conn.execute(insert(alerts), rows)
        await schema.upgrade(engine)
        async with engine.connect() as conn:
            found = {
                (r.hour, r.alertname): r._mapping["count"]
                for r in await conn.execute(select(alert_hours))
            }
            days = {
                (r.day, r.alertname): r._mapping["count"]
                for r in await conn.execute(select(alert_days))
            }
            by_severity = {
                r.hour: r._mapping["count"] for r in await conn.execute(select(severity_hours))
            }
        next_day = at("10:00") + timedelta(days=1)
        assert found == {
            (at("10:00"), "A"): 2, (at("11:00"), "A"): 1, (at("10:00"), "B"): 1, (next_day, "A"): 1
        }  # fmt: skip
        assert by_severity == {at("10:00"): 3, at("11:00"): 1, next_day: 1}
        midnight = at("00:00")
        assert days == {
            (midnight, "A"): 3,
            (midnight, "B"): 1,
            (midnight + timedelta(days=1), "A"): 1,
        }
    finally:
        await engine.dispose()


async def test_migration_gives_stored_incidents_their_alertname(database_url: str) -> None:
    engine = create_engine(database_url)
    labels = [({"alertname": "G"}, {"alertname": "A"}), ({"alertname": "G"}, {}), ({}, {})]
    try:
        await schema.upgrade(engine, "0013")
        async with engine.begin() as conn:
            await conn.execute(
                insert(incidents),
                [
                    {"group_hash": f"g{i}", "receiver": "r", "group_key": "k",
                     "status": "resolved", "group_labels": group, "common_labels": common,
                     "common_annotations": {}, "opened_at": at("10:00"),
                     "last_received_at": at("10:00")}
                    for i, (group, common) in enumerate(labels)
                ],
            )  # fmt: skip
        await schema.upgrade(engine)
        async with engine.connect() as conn:
            found = await conn.execute(select(incidents.c.alertname).order_by(incidents.c.id))
            assert found.scalars().all() == ["A", "G", ""]
    finally:
        await engine.dispose()


# The rules, without a server.

NOW = datetime(2026, 12, 2, 5, 41, 7, tzinfo=UTC)


def test_whole_days_of_a_window() -> None:
    month = parse_window("30d", None, None, NOW)
    assert month.whole_days() == (
        datetime(2026, 11, 3, tzinfo=UTC),
        datetime(2026, 12, 2, tzinfo=UTC),
    )
    midnight = parse_window(
        None, datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC), NOW
    )
    assert midnight.whole_days() == (
        datetime(2026, 11, 3, tzinfo=UTC),
        datetime(2026, 11, 5, tzinfo=UTC),
    )
    first, last = parse_window("24h", None, None, NOW).whole_days()
    assert first >= last


def test_presets_end_with_the_current_hour() -> None:
    week = parse_window(None, None, None, NOW)
    assert (week.name, week.since, week.until) == (
        "7d",
        datetime(2026, 11, 25, 6, tzinfo=UTC),
        datetime(2026, 12, 2, 6, tzinfo=UTC),
    )
    assert week.step == timedelta(hours=6)
    assert len(week.buckets()) == 28
    assert week.buckets()[1] == datetime(2026, 11, 25, 12, tzinfo=UTC)
    day = parse_window("24h", None, None, NOW)
    assert len(day.buckets()) == 24
    assert day.step == timedelta(hours=1)
    month = parse_window("30d", None, None, NOW)
    starts = month.buckets()
    assert len(starts) == 31  # a clipped first day, 29 whole days and today so far
    assert starts[0] == datetime(2026, 11, 2, 6, tzinfo=UTC)
    assert starts[1] == datetime(2026, 11, 3, tzinfo=UTC)
    assert month.bucket_of(datetime(2026, 11, 2, 7, tzinfo=UTC)) == starts[0]


def test_custom_windows_widen_to_whole_hours() -> None:
    since = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)
    window = parse_window(None, since, datetime(2026, 11, 26, 12, 0, 1, tzinfo=UTC), NOW)
    assert (window.since, window.until) == (at("10:00"), at("13:00"))
    assert parse_window(None, since, at("12:00"), NOW).until == at("12:00")
    assert parse_window(None, since, None, NOW).until == datetime(2026, 12, 2, 6, tzinfo=UTC)
    assert parse_window(None, since, since + timedelta(days=10), NOW).step == timedelta(hours=6)
    assert parse_window(None, since, since + timedelta(days=20), NOW).step == timedelta(days=1)
    with pytest.raises(BadWindow, match="since must be before until"):
        parse_window(None, since, since, NOW)


def test_usual_severities_keep_their_colour() -> None:
    assert severity_classes(["warning", "p1", "p2", "p3"]) == [
        ("warning", "series-2"),
        ("p1", "series-4"),
        ("p2", "series-5"),
        ("p3", "series-4"),
    ]


def test_flaps() -> None:
    assert parse_flaps(None) == 3
    assert parse_flaps("2") == 2
    for bad in ("1", "1001", "²", "-3", "3.0", "99999"):
        with pytest.raises(BadWindow):
            parse_flaps(bad)


def test_spread_is_median_and_nearest_rank_p90() -> None:
    found = spread([60.0 * m for m in range(10, 0, -1)])
    assert (found.count, found.median, found.p90) == (
        10,
        timedelta(minutes=5, seconds=30),
        timedelta(minutes=9),
    )
    assert spread([]).median is None
    assert spread([7.0]).p90 == timedelta(seconds=7)


def test_a_name_is_covered_when_a_runbook_picks_any_of_its_severities() -> None:
    critical = Runbook(
        "c",
        "C",
        (parse_matcher('severity="critical"'), parse_matcher('alertname="A"')),
        None,
        "",
        (),
    )
    books = Runbooks((critical,))
    rows = [("A", "warning", 5), ("A", "critical", 1), ("B", "warning", 2), ("C", "", 2)]
    assert without_runbook(books, rows) == {"B": 2, "C": 2}


def test_the_chart_escapes_every_text() -> None:
    bars = [Bar("<a>", "</title><script>", {"<b>": 3, "": 1}), Bar("x", "y", {})]
    svg = stacked_bars("T & <t>", bars, [("<b>", "series-0"), ("", "series-4")], "alerts")
    assert "<script>" not in svg
    assert "<b>" not in svg
    assert "<a>" not in svg
    assert "<title>T &amp; &lt;t&gt;</title>" in svg
    assert "<title>&lt;/title&gt;&lt;script&gt;: 4 alerts (&lt;b&gt; 3, (none) 1)</title>" in svg
    assert svg.count("<rect") == 2 + 2 + 2  # two hover areas, two segments, two legend keys
    assert nice_ceiling(0) == 1
    assert nice_ceiling(7) == 10
    assert nice_ceiling(1234) == 2000
