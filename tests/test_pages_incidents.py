"""/incidents and /incidents/{id} on both databases: the list with its filters, pages
and bulk form, one incident with its alerts, timeline, notifications and the action
forms that fit its state; bad addresses are 4xx pages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from receiver.app import create_app
from receiver.runtime.settings import Settings
from tests.conftest import Client, MakeReceiver
from tests.pagehelp import acted, html
from tests.payloads import alert, webhook
from tests.sinks import JsonSink, eventually
from tests.test_auth import PASSWORDS, basic, web_config


async def post(client: Client, body: dict[str, Any]) -> None:
    resp = await client.post("/alerts", json=body)
    assert resp.status == 200, await resp.text()


async def three_incidents(client: Client) -> None:
    await post(client, webhook(alert("DiskFull", severity="critical"), group="DiskFull"))
    await post(client, webhook(alert("HighLatencyP95"), receiver="team-b"))
    await post(
        client,
        webhook(
            alert("Quiet", status="resolved", ends="2026-11-26T10:05:00Z"),
            group="Quiet",
        ),
    )


def forms(page: str) -> dict[str, str]:
    """Each form's action and its markup."""
    return {
        m.group(1): m.group(0)
        for m in re.finditer(r'<form method="post" action="([^"]+)".*?</form>', page, re.S)
    }


async def test_the_list_filters_by_status_and_receiver_and_pages_on(client: Client) -> None:
    await three_incidents(client)
    page = await html(client, "/incidents")
    assert page.index("#3 Quiet") < page.index("#2 HighLatencyP95") < page.index("#1 DiskFull")
    assert "#3" not in await html(client, "/incidents", status="open")
    only_b = await html(client, "/incidents", receiver="team-b")
    assert "#2 HighLatencyP95" in only_b
    assert "DiskFull" not in only_b
    assert "#1 DiskFull" in await html(client, "/incidents", status="open", receiver="", q="")

    first = await html(client, "/incidents", limit="2")
    older = re.search(r'href="(/incidents\?[^"]*cursor=[^"]+)" rel="next"', first)
    assert older
    assert "limit=2" in older.group(1)
    second = await html(client, older.group(1).replace("&amp;", "&"))
    assert "#1 DiskFull" in second
    assert "#3 Quiet" not in second
    assert 'rel="next"' not in second


async def test_the_list_has_one_bulk_acknowledge_form(client: Client) -> None:
    await three_incidents(client)
    page = await html(client, "/incidents", receiver="team-b")
    bulk = forms(page)["/incidents/acknowledge"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', bulk)
    assert csrf
    assert len(csrf.group(1)) == 43
    assert '<input type="hidden" name="next" value="/incidents?receiver=team-b">' in bulk
    assert '<input type="checkbox" name="ids" value="2"' in bulk
    assert 'name="by"' in bulk
    assert "required" in bulk
    assert "Acknowledge selected" in bulk


async def test_bad_filters_are_pages_that_say_what_is_wrong(client: Client) -> None:
    page = await html(client, "/incidents", 400, status="burning")
    assert "status must be one of open, acknowledged, resolved" in page
    assert "cursor is not one" in await html(client, "/incidents", 400, cursor="x")
    assert "whole number" in await html(client, "/incidents/abc", 400)
    assert "No incident has id 99" in await html(client, "/incidents/99", 404)


async def test_an_open_incident_shows_its_alerts_timeline_and_the_forms_it_takes(
    client: Client,
) -> None:
    await three_incidents(client)
    await acted(client, 1, "note", "alice", "looking at the disks")
    page = await html(client, "/incidents/1")
    assert "<title>#1 DiskFull · Incidents</title>" in page
    assert 'href="/alerts/1"' in page
    assert "<strong>fired</strong> DiskFull" in page
    assert "<strong>note</strong> by <strong>alice</strong>" in page
    assert "<blockquote>looking at the disks</blockquote>" in page
    assert "/#/silences/new?filter=" in page
    found = forms(page)
    assert set(found) == {
        "/incidents/1/acknowledge",
        "/incidents/1/resolve",
        "/incidents/1/notes",
    }
    for form in found.values():
        assert re.search(r'<input type="hidden" name="csrf" value="[\w-]{43}">', form)
        assert '<input type="hidden" name="next" value="/incidents/1">' in form
        assert '<input type="text" name="by"' in form
        assert "required" in form
    assert '<textarea name="text"' in found["/incidents/1/notes"]


async def test_acknowledged_and_resolved_incidents_take_other_forms(client: Client) -> None:
    await three_incidents(client)
    await acted(client, 1, "acknowledged", "alice")
    page = await html(client, "/incidents/1")
    assert "acknowledged by <strong>alice</strong>" in page
    assert set(forms(page)) == {
        "/incidents/1/unacknowledge",
        "/incidents/1/resolve",
        "/incidents/1/notes",
    }
    assert "<strong>acknowledged</strong> by <strong>alice</strong>" in page
    listed = await html(client, "/incidents")
    assert 'value="1" aria-label' not in listed  # only open incidents are offered

    await acted(client, 1, "resolved", "bob")
    page = await html(client, "/incidents/1")
    assert "by <strong>bob</strong>" in page
    assert set(forms(page)) == {"/incidents/1/notes"}


async def test_a_signed_in_user_is_not_asked_for_a_name(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    update = {"web_config_file": web_config(tmp_path)}
    client = await aiohttp_client(create_app(settings.model_copy(update=update)))
    headers = basic("bob", PASSWORDS["bob"])
    assert (await client.post("/alerts", json=webhook(alert()), headers=headers)).status == 200
    for path in ("/incidents/1", "/incidents"):
        page = await (await client.get(path, headers=headers)).text()
        assert "signed in as bob" in page
        assert 'name="by"' not in page
        assert 'name="csrf"' in page


async def test_notifications_show_with_their_attempts_and_no_secret(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    config = f"""
channels:
  chat: "{json_sink.url()}"
  broken: "json://hook:s3cr3tpass@127.0.0.1:9/x"
routes:
  - channels: [chat, broken]
delivery:
  backoff: 50ms
  max_backoff: 50ms
  max_attempts: 1
  poll_interval: 50ms
"""
    client = await make_receiver(config)
    await post(client, webhook(alert()))

    async def settled() -> bool:
        page = await html(client, "/incidents/1")
        return "status-delivered" in page and "status-failed" in page

    await eventually(settled, "one delivered and one failed notification", 15)
    page = await html(client, "/incidents/1")
    assert "<td>chat</td>" in page
    assert "<td>broken</td>" in page
    assert '<ol class="attempts">' in page
    assert "s3cr3tpass" not in page
