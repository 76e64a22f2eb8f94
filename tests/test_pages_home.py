"""/ on both databases: open incidents most urgent first, counts, recently resolved, the
banner when notifications fail, the receiver's own HeartbeatMissing, the wall screen."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from typing import Any

from receiver.app import create_app
from receiver.runtime.settings import Settings
from tests.conftest import Client, MakeReceiver
from tests.pagehelp import acted, html
from tests.payloads import alert, webhook
from tests.sinks import eventually


async def post(client: Client, body: dict[str, Any]) -> None:
    resp = await client.post("/alerts", json=body)
    assert resp.status == 200, await resp.text()


def order(page: str) -> list[str]:
    return re.findall(r'<tr data-href="/incidents/(\d+)"', page)


async def test_critical_first_then_oldest_with_counts_and_the_title(client: Client) -> None:
    await post(client, webhook(alert("Slow", severity="warning"), group="Slow"))  # 1
    await post(client, webhook(alert("Info", severity="info"), group="Info"))  # 2
    mixed = webhook(  # 3: no common severity, one member critical
        alert("Mixed", severity="warning", instance="a"),
        alert("Mixed", severity="critical", instance="b"),
        group="Mixed",
    )
    await post(client, mixed)
    await post(client, webhook(alert("Down", severity="critical"), group="Down"))  # 4
    await post(client, webhook(alert("Odd", severity="page"), group="Odd"))  # 5
    await post(
        client,
        webhook(alert("Gone", status="resolved", ends="2026-11-26T10:05:00Z"), group="Gone"),
    )  # 6
    await acted(client, 1, "acknowledged", "alice")

    page = await html(client, "/")
    assert "<title>(6) firing — alert-receiver</title>" in page
    open_part, resolved_part = page.split("Recently resolved")
    assert order(open_part) == ["3", "4", "1", "2", "5"]
    assert order(resolved_part) == ["6"]
    assert "acknowledged by <strong>alice</strong>" in open_part
    assert '<span class="firing-count">2 firing</span> · 0 resolved' in open_part
    counts = re.search(r'<ul class="severities">(.*?)</ul>', page, re.S)
    assert counts
    assert re.findall(r"sev-(\w+)\">\w+</span> (\d+)", counts.group(1)) == [
        ("critical", "2"),
        ("warning", "1"),
        ("info", "1"),
        ("other", "1"),
    ]
    assert "team-a" in open_part
    assert 'alertname="Down"' in open_part


async def test_nothing_firing_says_so(client: Client) -> None:
    page = await html(client, "/")
    assert "<title>All clear — alert-receiver</title>" in page
    assert "Nothing is firing" in page
    assert "Notifications are failing" not in page


async def test_runbook_links_show_on_the_row(make_receiver: MakeReceiver, tmp_path: Path) -> None:
    books = tmp_path / "books"
    books.mkdir()
    (books / "disk.md").write_text("---\ntitle: Disk full\nalertname: DiskFull\n---\n1. Free.\n")
    client = await make_receiver(f"runbooks_dir: {books}\n")
    await post(client, webhook(alert("DiskFull"), group="DiskFull"))
    assert '<a href="/runbooks/disk">Disk full</a>' in await html(client, "/")


async def test_a_row_has_the_runbooks_of_every_member_and_their_counts(
    make_receiver: MakeReceiver, tmp_path: Path
) -> None:
    """Runbooks are picked from the members' labels (one on a label outside the group,
    one on a label the group's alerts leave out) and their runbook annotations, while
    the list reads only those labels of each alert: the same row as reading them all."""
    books = tmp_path / "books"
    books.mkdir()
    (books / "db.md").write_text("---\ntitle: Databases\nmatch: ['instance=~\"db-.*\"']\n---\n")
    (books / "bare.md").write_text(
        "---\ntitle: No team\nmatch: ['alertname=\"Slow\"', 'team=\"\"']\n---\n"
    )
    (books / "other.md").write_text("---\ntitle: Never\nmatch: ['instance=\"none\"']\n---\n")
    client = await make_receiver(f"runbooks_dir: {books}\n")
    linked = {"runbook_url": "https://wiki.example/slow"}
    members = [alert("Slow", instance=f"api-{i}", team="web") for i in range(30)]
    members += [
        alert("Slow", instance="db-1", team="web"),
        alert("Slow", instance="db-2", annotations=linked),
        alert("Slow", instance="db-3", status="resolved", ends="2026-11-26T10:05:00Z"),
    ]
    await post(client, webhook(*members, group="Slow"))
    page = await html(client, "/")
    [row] = re.findall(r'<tr data-href="/incidents/1".*?</tr>', page, re.S)
    assert '<span class="firing-count">32 firing</span> · 1 resolved' in row
    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', row)[1:]
    assert links == [
        ("/runbooks/bare", "No team"),
        ("/runbooks/db", "Databases"),
        ("https://wiki.example/slow", "runbook_url"),
    ], row
    api = await (await client.get("/api/v1/incidents")).json()
    [listed] = api["incidents"]
    detail = await (await client.get("/api/v1/incidents/1")).json()
    assert listed["runbooks"] == detail["runbooks"]
    assert [r["title"] for r in listed["runbooks"]] == ["No team", "Databases", "runbook_url"]


async def test_past_a_hundred_the_most_urgent_are_drawn_and_all_are_counted(
    client: Client,
) -> None:
    for i in range(103):
        sev = "critical" if i in (7, 101) else "warning"
        await post(client, webhook(alert(f"A{i}", severity=sev), group=f"A{i}"))
    page = await html(client, "/")
    open_part = page.split("Recently resolved")[0]
    shown = order(open_part)
    assert len(shown) == 100
    assert shown[:3] == ["8", "102", "1"]  # critical first, then the oldest
    assert "103" not in shown
    assert "<h1>103 open incidents, 103 alerts firing</h1>" in page
    assert "The 100 most urgent of 103 open incidents are shown" in page
    assert "<title>(103) firing — alert-receiver</title>" in page


async def test_failing_notifications_raise_a_banner(make_receiver: MakeReceiver) -> None:
    config = """
channels:
  broken: "json://127.0.0.1:9/x"
routes:
  - channels: [broken]
delivery:
  backoff: 50ms
  max_backoff: 50ms
  max_attempts: 1
  poll_interval: 50ms
  breaker_failures: 1
  breaker_cooldown: 1h
"""
    client = await make_receiver(config)
    await post(client, webhook(alert()))

    async def banner() -> bool:
        # The breaker opens as the send fails, a moment before the failure is committed.
        page = await html(client, "/")
        return "Notifications are failing" in page and "1 notification failed" in page

    await eventually(banner, "the failing banner", 15)
    page = await html(client, "/")
    assert "1 notification failed in the last hour" in page
    assert "Paused after repeated failures: <strong>broken</strong>" in page


async def test_a_missing_heartbeat_is_an_incident_on_the_home_page(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    config = tmp_path / "heartbeat.yml"
    config.write_text(
        'channels:\n  nowhere: "json://127.0.0.1:9/x"\n'
        "heartbeats:\n  - match: ['alertname=\"Watchdog\"']\n    timeout: 1s\n"
        "    channels: [nowhere]\n"
        "delivery:\n  poll_interval: 50ms\n"
    )
    client = await aiohttp_client(create_app(settings.model_copy(update={"config": config})))
    await post(client, webhook(alert("Watchdog", severity="none"), group="Watchdog"))

    async def missing() -> bool:
        return "HeartbeatMissing" in await html(client, "/")

    await eventually(missing, "HeartbeatMissing on /", 15)
    page = await html(client, "/")
    open_part = page.split("Recently resolved")[0]
    rows = order(open_part)
    assert len(rows) == 2  # the Watchdog's own incident, and the receiver's
    first = open_part[open_part.index(f'data-href="/incidents/{rows[0]}"') :]
    assert "HeartbeatMissing" in first.split("</tr>")[0]  # critical: on top
    assert "<td>alert-receiver</td>" in first.split("</tr>")[0]


async def test_the_wall_screen_has_no_navigation_and_refreshes(client: Client) -> None:
    page = await html(client, "/", kiosk="1")
    assert '<body class="kiosk">' in page
    assert "<nav" not in page
    assert "data-kiosk" in page
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in page
    normal = await html(client, "/")
    assert "<nav" in normal
    assert "data-kiosk" not in normal
    assert "data-live" in normal


async def test_the_script_is_served_and_nothing_runs_inline(client: Client) -> None:
    """The CSP allows only our own files: no inline script, style or handler anywhere."""
    resp = await client.get("/static/app.js")
    assert resp.status == 200
    assert "javascript" in resp.content_type
    assert "localStorage" in await resp.text()
    templates = files("receiver.web.pages") / "templates"
    for template in templates.iterdir():
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\ssrc=)", text), template.name
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", text), template.name
    page = await html(client, "/")
    assert '<script src="/static/app.js" defer></script>' in page


async def test_recently_resolved_is_by_resolution_time_whatever_opened_since(
    client: Client,
) -> None:
    """An incident open for long and resolved last comes first under Recently resolved,
    though sixty incidents opened and resolved after it opened (the resolved incidents
    opened last were once the ones looked at, and this one was not among them)."""
    await post(client, webhook(alert("Old"), group="Old"))  # 1
    for n in range(60):
        flap = alert(f"Flap{n}", status="resolved", ends="2026-11-26T10:05:00Z")
        await post(client, webhook(flap, group=f"Flap{n}"))
    await acted(client, 1, "resolved", "bob")

    resolved_part = (await html(client, "/")).split("Recently resolved")[1]
    assert order(resolved_part)[0] == "1"
    assert len(order(resolved_part)) == 10
