"""People acting on incidents, through the JSON API and the pages' forms, on both
databases: acknowledge (reminders stop until new alerts join), unacknowledge, resolve by
hand (the channels hear it; the group firing again opens a new incident), notes; each
lands in the timeline with who and when, and what does not apply is refused, changing
nothing."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.conftest import Client, MakeReceiver
from tests.payloads import alert, webhook
from tests.sinks import JsonSink, eventually

T0 = "2026-11-26T10:00:00Z"


async def fire(client: Client, *alerts: dict[str, Any]) -> int:
    resp = await client.post("/alerts", json=webhook(*(alerts or (alert(),))))
    assert resp.status == 200, await resp.text()
    incident_id: int = (await resp.json())["incidentId"]
    return incident_id


async def act(client: Client, incident_id: int, action: str, expect: int = 200, **body: Any) -> Any:
    resp = await client.post(f"/api/v1/incidents/{incident_id}/{action}", json=body)
    assert resp.status == expect, await resp.text()
    return await resp.json()


async def incident(client: Client, incident_id: int) -> Any:
    resp = await client.get(f"/api/v1/incidents/{incident_id}")
    assert resp.status == 200
    return await resp.json()


def timeline(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(a["kind"], a["by"], a["text"]) for a in body["actions"]]


async def test_acknowledge_unacknowledge_resolve_and_notes_land_in_the_timeline(
    client: Client,
) -> None:
    incident_id = await fire(client)
    body = await act(client, incident_id, "acknowledge", by="alice")
    assert body["status"] == "acknowledged"
    assert body["acknowledgedBy"] == "alice"
    assert body["acknowledgedAt"].endswith("Z")
    await act(client, incident_id, "notes", by="alice", text="looking at the p95 graph")
    await act(client, incident_id, "unacknowledge", by="alice")
    await act(client, incident_id, "acknowledge", by="bob")
    body = await act(client, incident_id, "resolve", by="bob")
    assert body["status"] == "resolved"
    assert body["resolvedBy"] == "bob"
    assert body["resolvedAt"] is not None
    assert body["acknowledgedBy"] == "bob"  # who had it when it closed
    assert timeline(body) == [
        ("acknowledged", "alice", ""),
        ("note", "alice", "looking at the p95 graph"),
        ("unacknowledged", "alice", ""),
        ("acknowledged", "bob", ""),
        ("resolved", "bob", ""),
    ]
    assert timeline(await incident(client, incident_id)) == timeline(body)
    listed = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    assert [(i["status"], i["acknowledgedBy"], i["resolvedBy"]) for i in listed] == [
        ("resolved", "bob", "bob")
    ]


async def test_what_does_not_apply_is_refused_and_changes_nothing(client: Client) -> None:
    incident_id = await fire(client)
    await act(client, incident_id, "unacknowledge", 409, by="alice")
    await act(client, incident_id, "acknowledge", by="alice")
    refused = await act(client, incident_id, "acknowledge", 409, by="bob")
    assert "already acknowledged" in refused["error"]
    await act(client, incident_id, "resolve", by="alice")
    for action in ("acknowledge", "unacknowledge", "resolve"):
        refused = await act(client, incident_id, action, 409, by="bob")
        assert "resolved" in refused["error"]
    await act(client, incident_id, "notes", by="bob", text="a note after the end is fine")
    body = await incident(client, incident_id)
    assert [k for k, _, _ in timeline(body)] == ["acknowledged", "resolved", "note"]
    missing = await act(client, 999_999, "acknowledge", 404, by="alice")
    assert "999999" in missing["error"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "give `by`"),
        ({"by": ""}, "by"),
        ({"by": "   "}, "by"),
        ({"by": "x" * 101}, "by"),
        ({"by": "nul\u0000"}, "NUL"),
        ({"by": "alice", "text": "t" * 10_001}, "text"),
        ({"by": "alice", "extra": 1}, "extra"),
        ({"by": 7}, "by"),
        ([1, 2], "body"),
    ],
)
async def test_bad_bodies_are_a_422_that_says_what_to_send(
    client: Client, body: Any, fragment: str
) -> None:
    incident_id = await fire(client)
    refused = await act(client, incident_id, "acknowledge", 422, **{}) if body == {} else None
    if refused is None:
        resp = await client.post(f"/api/v1/incidents/{incident_id}/acknowledge", json=body)
        assert resp.status == 422, await resp.text()
        refused = await resp.json()
    assert fragment in refused["error"] + " ".join(refused.get("details", []))
    assert (await incident(client, incident_id))["status"] == "open"


async def test_a_note_needs_text_and_the_api_takes_only_json(client: Client) -> None:
    incident_id = await fire(client)
    await act(client, incident_id, "notes", 422, by="alice")
    await act(client, incident_id, "notes", 422, by="alice", text="")
    path = f"/api/v1/incidents/{incident_id}/acknowledge"
    # What a form on another site could send: never acts on the API.
    for data, content_type in (
        ("by=mallory", "application/x-www-form-urlencoded"),
        ('{"by": "mallory"}', "text/plain"),
    ):
        resp = await client.post(path, data=data, headers={"Content-Type": content_type})
        assert resp.status == 415, await resp.text()
    resp = await client.post(path, data="{not json", headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert (await incident(client, incident_id))["actions"] == []


async def test_new_alerts_joining_lift_the_acknowledgement_on_either_path(client: Client) -> None:
    incident_id = await fire(client, alert(instance="api-1"))
    await act(client, incident_id, "acknowledge", by="alice")
    # A repeat changes nothing: the acknowledgement stands.
    assert await fire(client, alert(instance="api-1")) == incident_id
    assert (await incident(client, incident_id))["status"] == "acknowledged"
    # A new firing alert (routine path) brings the incident back to open.
    await fire(client, alert(instance="api-1"), alert(instance="api-2"))
    body = await incident(client, incident_id)
    assert body["status"] == "open"
    assert body["acknowledgedBy"] is None
    assert timeline(body)[-1] == (
        "unacknowledged",
        "alert-receiver",
        "new alerts joined the incident",
    )
    # The general path (the webhook also resolves an alert) lifts it as well.
    await act(client, incident_id, "acknowledge", by="bob")
    resolved = alert(instance="api-1", status="resolved", ends="2026-11-26T10:30:00Z")
    await fire(client, resolved, alert(instance="api-2"), alert(instance="api-3"))
    body = await incident(client, incident_id)
    assert body["status"] == "open"
    assert [k for k, _, _ in timeline(body)] == [
        "acknowledged",
        "unacknowledged",
        "acknowledged",
        "unacknowledged",
    ]


REMINDING = """
channels:
  chat: "{url}"
routes:
  - channels: [chat]
    repeat_interval: 1s
"""


async def test_acknowledged_incidents_get_no_reminders_until_new_alerts_join(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    client = await make_receiver(REMINDING.format(url=json_sink.url()))
    incident_id = await fire(client)
    await eventually(lambda: len(json_sink.received) == 1, "the first message")
    await act(client, incident_id, "acknowledge", by="alice")
    await asyncio.sleep(2.5)  # past two repeat intervals and many reminder sweeps
    assert json_sink.titles() == [json_sink.titles()[0]], "no reminder while acknowledged"
    await fire(client, alert(instance="api-1"), alert(instance="api-2"))
    await eventually(lambda: len(json_sink.received) >= 3, "the change, then a reminder again")
    assert "still firing after" in json_sink.titles()[2]


async def test_resolving_by_hand_tells_the_channels_and_firing_again_opens_a_new_incident(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    client = await make_receiver(
        REMINDING.format(url=json_sink.url()).replace("    repeat_interval: 1s\n", "")
    )
    incident_id = await fire(client)
    await eventually(lambda: len(json_sink.received) == 1, "the first message")
    await act(client, incident_id, "resolve", by="alice")
    await eventually(lambda: len(json_sink.received) == 2, "the hand resolution")
    assert json_sink.titles()[1].startswith("[RESOLVED]")
    message = json_sink.received[1]["message"]
    assert "Resolved by hand" in message
    assert "alice" in message
    assert "1 alert firing" in message  # Alertmanager has not said otherwise
    # The same group firing again (a repeat of the same alert) is a new incident.
    again = await fire(client)
    assert again != incident_id
    assert (await incident(client, again))["status"] == "open"
    await eventually(lambda: len(json_sink.received) == 3, "the new incident's message")
    assert json_sink.titles()[2].startswith("[FIRING:1]")


async def test_acknowledge_several_takes_each_on_its_own_terms(client: Client) -> None:
    first = await fire(client, alert("DiskFull", instance="db-1"))
    resp = await client.post("/alerts", json=webhook(alert("NodeDown"), group="NodeDown"))
    second = (await resp.json())["incidentId"]
    await act(client, second, "resolve", by="bob")
    resp = await client.post(
        "/api/v1/incidents/acknowledge", json={"ids": [first, second, 424242], "by": "alice"}
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["acknowledged"] == [first]
    assert [r["id"] for r in body["refused"]] == [second]
    assert body["missing"] == [424242]
    for ids in ([], list(range(101)), ["1"], [-1]):
        resp = await client.post("/api/v1/incidents/acknowledge", json={"ids": ids, "by": "a"})
        assert resp.status == 422, (ids, await resp.text())


# --- the pages' forms -----------------------------------------------------------------


async def csrf_token(client: Client) -> str:
    """The token a page hands the browser: a cookie (set once), and the same value for
    forms."""
    resp = await client.get("/runbooks")
    assert resp.status == 200
    [cookie] = [c for c in client.session.cookie_jar if c.key == "csrf"]
    assert cookie["samesite"] == "Strict"
    assert cookie["httponly"]
    return cookie.value


async def form(client: Client, path: str, fields: dict[str, Any]) -> Any:
    return await client.post(path, data=fields, allow_redirects=False)


async def test_forms_act_with_the_token_and_redirect_back(client: Client) -> None:
    incident_id = await fire(client)
    token = await csrf_token(client)
    own = f"/incidents/{incident_id}"
    resp = await form(client, f"{own}/acknowledge", {"csrf": token, "by": "alice", "next": own})
    assert resp.status == 303
    assert resp.headers["Location"] == own
    resp = await form(client, f"{own}/notes", {"csrf": token, "by": "alice", "text": "paged db"})
    assert resp.status == 303
    # `next` may only lead back into this site.
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        resp = await form(
            client, f"{own}/unacknowledge", {"csrf": token, "by": "al", "next": elsewhere}
        )
        assert resp.headers["Location"] == own, elsewhere
        await form(client, f"{own}/acknowledge", {"csrf": token, "by": "al"})
    body = await incident(client, incident_id)
    assert timeline(body)[:2] == [("acknowledged", "alice", ""), ("note", "alice", "paged db")]
    resp = await form(
        client, "/incidents/acknowledge", {"csrf": token, "by": "x", "ids": str(incident_id)}
    )
    assert resp.status == 303
    assert resp.headers["Location"] == "/incidents"


async def test_the_name_typed_once_fills_in_every_form_after(client: Client) -> None:
    """The incident page has one form per action, each asking who acts: a name typed in
    one comes back filled in everywhere, escaped like any other text."""
    first = await fire(client)
    resp = await client.post("/alerts", json=webhook(alert("NodeDown"), group="NodeDown"))
    second = (await resp.json())["incidentId"]
    assert second != first
    token = await csrf_token(client)
    page = await (await client.get(f"/incidents/{second}")).text()
    assert 'name="by" value=""' in page
    name = 'Zoë "<b>" O\'Neil'
    resp = await form(client, f"/incidents/{first}/acknowledge", {"csrf": token, "by": name})
    assert resp.status == 303
    [cookie] = [c for c in client.session.cookie_jar if c.key == "by"]
    assert cookie["samesite"] == "Strict"
    assert cookie["httponly"]
    shown = 'value="Zoë &#34;&lt;b&gt;&#34; O&#39;Neil"'
    for path in (f"/incidents/{second}", "/incidents"):
        page = await (await client.get(path)).text()
        assert page.count(shown) == (3 if path != "/incidents" else 1), path  # ack, resolve, note
        assert "<b>" not in page
    # What was typed is what acts next, and the API never sets the cookie.
    resp = await form(
        client, f"/incidents/{second}/notes", {"csrf": token, "by": name, "text": "x"}
    )
    assert timeline(await incident(client, second)) == [("note", name, "x")]
    client.session.cookie_jar.clear()
    await act(client, second, "acknowledge", by="alice")
    assert not [c for c in client.session.cookie_jar if c.key == "by"]


async def test_forms_without_the_right_token_are_refused_and_change_nothing(
    client: Client,
) -> None:
    incident_id = await fire(client)
    token = await csrf_token(client)
    path = f"/incidents/{incident_id}/acknowledge"
    for fields in ({"by": "mallory"}, {"by": "mallory", "csrf": "x" * 43}):
        resp = await form(client, path, fields)
        assert resp.status == 403
        assert "reload the page" in await resp.text()
    resp = await form(client, path, {"csrf": token})  # no name
    assert resp.status == 422
    assert "give `by`" in await resp.text()
    client.session.cookie_jar.clear()  # a browser that never saw our page: no cookie
    resp = await form(client, path, {"csrf": token, "by": "mallory"})
    assert resp.status == 403
    assert (await incident(client, incident_id))["actions"] == []
    token = await csrf_token(client)
    resp = await form(client, "/incidents/acknowledge", {"csrf": token, "by": "x"})
    assert resp.status == 422
    assert "tick at least one" in await resp.text()
    resp = await form(client, f"/incidents/{incident_id}/resolve", {"csrf": token, "by": "x"})
    resp = await form(client, f"/incidents/{incident_id}/resolve", {"csrf": token, "by": "x"})
    assert resp.status == 409
    assert re.search(r"resolved; it cannot be resolved", await resp.text())


async def test_the_signed_in_user_is_who_acts_whatever_the_body_says(
    aiohttp_client: Any, settings: Any, tmp_path: Any
) -> None:
    from receiver.app import create_app
    from tests.test_auth import PASSWORDS, ROLE_CONFIG, basic, web_config

    config = tmp_path / "receiver.yml"
    config.write_text(ROLE_CONFIG)
    update = {"config": config, "web_config_file": web_config(tmp_path)}
    client = await aiohttp_client(create_app(settings.model_copy(update=update)))
    am = basic("alertmanager", PASSWORDS["alertmanager"])
    resp = await client.post("/alerts", json=webhook(alert()), headers=am)
    incident_id = (await resp.json())["incidentId"]
    path = f"/api/v1/incidents/{incident_id}/acknowledge"
    resp = await client.post(path, json={"by": "mallory"}, headers=basic("bob", PASSWORDS["bob"]))
    assert resp.status == 403  # bob reads; only admins (alice) act
    alice = basic("alice", PASSWORDS["alice"])
    resp = await client.post(path, json={"by": "mallory"}, headers=alice)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["acknowledgedBy"] == "alice"
    resp = await client.post(
        f"/api/v1/incidents/{incident_id}/notes", json={"text": "mine"}, headers=alice
    )
    assert timeline(await resp.json())[-1] == ("note", "alice", "mine")
