"""POST /alerts against a real server on SQLite and Postgres: dedup, state, incidents."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import pytest

from receiver.app import create_app
from receiver.runtime.settings import Settings
from receiver.web.webhook import OFF_LOOP_BYTES
from tests.conftest import Client
from tests.payloads import alert, webhook

T0 = "2026-11-26T10:00:00Z"
T1 = "2026-11-26T10:30:00Z"
T2 = "2026-11-26T11:00:00Z"


async def post(client: Client, body: Any, status: int = 200) -> dict[str, Any]:
    resp = await client.post("/alerts", json=body)
    text = await resp.text()
    assert resp.status == status, text
    result: dict[str, Any] = json.loads(text)
    return result


async def alerts(client: Client, **query: str) -> list[dict[str, Any]]:
    resp = await client.get("/api/v1/alerts", params={"limit": "1000", **query})
    assert resp.status == 200
    found: list[dict[str, Any]] = (await resp.json())["alerts"]
    return found


async def incidents(client: Client) -> list[dict[str, Any]]:
    resp = await client.get("/api/v1/incidents", params={"limit": "1000"})
    assert resp.status == 200
    found: list[dict[str, Any]] = (await resp.json())["incidents"]
    return found


async def timeline(client: Client, alert_id: int) -> list[tuple[str, bool]]:
    body = await (await client.get(f"/api/v1/alerts/{alert_id}")).json()
    return [(e["kind"], e["inferred"]) for e in body["events"]]


async def test_first_delivery_stores_alert_and_opens_incident(client: Client) -> None:
    summary = await post(client, webhook(alert(instance="a"), alert(instance="b")))
    assert summary["new"] == 2
    assert summary["duplicates"] == 0
    assert summary["incidentStatus"] == "open"
    stored = await alerts(client)
    assert {a["labels"]["instance"] for a in stored} == {"a", "b"}
    assert all(a["status"] == "firing" and a["endsAt"] is None for a in stored)
    assert all(a["incidentIds"] == [summary["incidentId"]] for a in stored)
    [incident] = await incidents(client)
    assert incident["alertCounts"] == {"firing": 2, "resolved": 0}


async def test_repeats_only_bump_counters(client: Client) -> None:
    body = webhook(alert())
    await post(client, body)
    for _ in range(4):
        summary = await post(client, body)
        assert summary["duplicates"] == 1
        assert summary["new"] == 0
    [stored] = await alerts(client)
    assert stored["timesReceived"] == 5
    assert stored["lastReceivedAt"] > stored["firstReceivedAt"]
    assert await timeline(client, stored["id"]) == [("fired", False)]
    [incident] = await incidents(client)
    assert incident["timesReceived"] == 5


async def test_ha_copy_differing_only_in_external_url_is_a_duplicate(client: Client) -> None:
    await post(client, webhook(alert(), external_url="http://am-1:9093"))
    summary = await post(client, webhook(alert(), external_url="http://am-2:9093"))
    assert summary["duplicates"] == 1
    assert len(await alerts(client)) == 1
    assert len(await incidents(client)) == 1


async def test_resolution_resolves_alert_and_incident(client: Client) -> None:
    await post(client, webhook(alert()))
    summary = await post(client, webhook(alert(status="resolved", ends=T1)))
    assert summary["resolved"] == 1
    assert summary["incidentStatus"] == "resolved"
    [stored] = await alerts(client)
    assert stored["status"] == "resolved"
    assert stored["endsAt"] == "2026-11-26T10:30:00Z"
    assert stored["endInferred"] is False
    assert await timeline(client, stored["id"]) == [("fired", False), ("resolved", False)]
    [incident] = await incidents(client)
    assert incident["status"] == "resolved"
    assert incident["resolvedAt"] == "2026-11-26T10:30:00Z"


async def test_stale_firing_snapshot_after_resolution_never_reopens(client: Client) -> None:
    await post(client, webhook(alert()))
    await post(client, webhook(alert(status="resolved", ends=T1)))
    summary = await post(client, webhook(alert(annotations={"summary": "old"})))
    assert summary["stale"] == 1
    [stored] = await alerts(client)
    assert stored["status"] == "resolved"
    assert stored["annotations"] == {"summary": "HighLatencyP95 fired"}
    assert stored["timesReceived"] == 3
    [incident] = await incidents(client)
    assert incident["status"] == "resolved"


async def test_per_alert_status_wins_over_group_status(client: Client) -> None:
    body = webhook(
        alert(instance="a"),
        alert(instance="b", status="resolved", ends=T1),
        status="firing",
    )
    await post(client, body)
    stored = {a["labels"]["instance"]: a["status"] for a in await alerts(client)}
    assert stored == {"a": "firing", "b": "resolved"}


async def test_group_firing_again_opens_a_new_incident(client: Client) -> None:
    first = await post(client, webhook(alert(starts=T0)))
    await post(client, webhook(alert(starts=T0, status="resolved", ends=T1)))
    second = await post(client, webhook(alert(starts=T2)))
    assert second["new"] == 1
    assert second["incidentId"] != first["incidentId"]
    assert [i["status"] for i in await incidents(client)] == ["open", "resolved"]
    episodes = await alerts(client)
    assert [a["startsAt"] for a in episodes] == ["2026-11-26T11:00:00Z", "2026-11-26T10:00:00Z"]
    assert len({a["fingerprint"] for a in episodes}) == 1


async def test_newer_start_resolves_older_episode_inferred(client: Client) -> None:
    first = await post(client, webhook(alert(starts=T0)))
    await post(client, webhook(alert(starts=T2)))
    newer, older = await alerts(client)
    assert newer["status"] == "firing"
    assert older["status"] == "resolved"
    assert older["endInferred"] is True
    assert older["endsAt"] == "2026-11-26T11:00:00Z"
    assert await timeline(client, older["id"]) == [("fired", False), ("resolved", True)]
    # The incident stays open: the group still has a firing alert.
    [incident] = await incidents(client)
    assert incident["id"] == first["incidentId"]
    assert incident["status"] == "open"


async def test_older_start_than_known_episode_is_stale_history(client: Client) -> None:
    await post(client, webhook(alert(starts=T2)))
    summary = await post(client, webhook(alert(starts=T0)))
    assert summary["stale"] == 1
    newer, older = await alerts(client)
    assert newer["status"] == "firing"
    assert older["status"] == "resolved"
    assert older["endInferred"] is True
    assert older["incidentIds"] == []  # changes no incident
    [incident] = await incidents(client)
    assert incident["alertCounts"] == {"firing": 1, "resolved": 0}


async def test_resolved_never_seen_firing_is_stored_resolved(client: Client) -> None:
    summary = await post(client, webhook(alert(status="resolved", ends=T1)))
    assert summary["new"] == 1
    assert summary["incidentStatus"] == "resolved"
    [stored] = await alerts(client)
    assert stored["status"] == "resolved"
    assert await timeline(client, stored["id"]) == [("fired", False), ("resolved", False)]
    # The HA peer's copy of the same resolution adds nothing.
    again = await post(client, webhook(alert(status="resolved", ends=T1)))
    assert again["duplicates"] == 1
    assert again["incidentId"] is None
    assert len(await incidents(client)) == 1


async def test_annotation_change_updates_with_an_event(client: Client) -> None:
    await post(client, webhook(alert(annotations={"summary": "p95 250ms"})))
    summary = await post(client, webhook(alert(annotations={"summary": "p95 400ms"})))
    assert summary["updated"] == 1
    [stored] = await alerts(client)
    assert stored["annotations"] == {"summary": "p95 400ms"}
    events = await (await client.get(f"/api/v1/alerts/{stored['id']}")).json()
    assert events["events"][-1]["kind"] == "annotations_changed"
    assert events["events"][-1]["details"] == {"annotations": {"summary": "p95 400ms"}}


async def test_sibling_receivers_share_alerts_but_not_incidents(client: Client) -> None:
    a = await post(client, webhook(alert(), receiver="team-a"))
    b = await post(client, webhook(alert(), receiver="team-b"))
    assert b["duplicates"] == 1
    assert a["incidentId"] != b["incidentId"]
    [stored] = await alerts(client)
    assert stored["incidentIds"] == sorted([a["incidentId"], b["incidentId"]])
    assert len(await alerts(client, receiver="team-b")) == 1
    assert len(await alerts(client, receiver="nobody")) == 0


async def test_partial_first_delivery_then_full_group(client: Client) -> None:
    first = await post(client, webhook(alert(instance="a"), truncated=2))
    full = await post(client, webhook(alert(instance="a"), alert(instance="b")))
    assert full["new"] == 1
    assert full["duplicates"] == 1
    assert full["incidentId"] == first["incidentId"]
    [incident] = await incidents(client)
    assert incident["alertCounts"] == {"firing": 2, "resolved": 0}
    assert incident["truncatedAlerts"] == 0


async def test_truncated_firing_group_stays_open_while_unseen_alerts_may_fire(
    client: Client,
) -> None:
    await post(client, webhook(alert(instance="a")))
    summary = await post(
        client,
        webhook(alert(instance="a", status="resolved", ends=T1), status="firing", truncated=3),
    )
    assert summary["incidentStatus"] == "open"
    [incident] = await incidents(client)
    assert incident["truncatedAlerts"] == 3


async def test_incident_resolves_only_when_all_alerts_resolved(client: Client) -> None:
    await post(client, webhook(alert(instance="a"), alert(instance="b")))
    one = await post(
        client, webhook(alert(instance="a", status="resolved", ends=T1), alert(instance="b"))
    )
    assert one["incidentStatus"] == "open"
    both = await post(client, webhook(alert(instance="b", status="resolved", ends=T2)))
    assert both["incidentStatus"] == "resolved"
    [incident] = await incidents(client)
    assert incident["resolvedAt"] == "2026-11-26T11:00:00Z"


async def test_sixteen_concurrent_identical_deliveries_store_one_alert(client: Client) -> None:
    body = webhook(alert(instance="a"), alert(instance="b"))
    responses = await asyncio.gather(*(client.post("/alerts", json=body) for _ in range(16)))
    assert [r.status for r in responses] == [200] * 16
    summaries = [await r.json() for r in responses]
    assert sum(s["new"] for s in summaries) == 2
    assert sum(s["duplicates"] for s in summaries) == 30
    stored = await alerts(client)
    assert len(stored) == 2
    assert all(a["timesReceived"] == 16 for a in stored)
    assert len(await incidents(client)) == 1
    assert await timeline(client, stored[0]["id"]) == [("fired", False)]


async def test_concurrent_ha_resolved_and_stale_firing_converge(client: Client) -> None:
    await post(client, webhook(alert()))
    resolved = webhook(alert(status="resolved", ends=T1), external_url="http://am-1")
    stale = webhook(alert(), external_url="http://am-2")
    bodies = [resolved, stale] * 8
    responses = await asyncio.gather(*(client.post("/alerts", json=b) for b in bodies))
    assert {r.status for r in responses} == {200}
    [stored] = await alerts(client)
    assert stored["status"] == "resolved"
    assert stored["timesReceived"] == 17
    assert [i["status"] for i in await incidents(client)] == ["resolved"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "needle"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "not valid JSON"),
        (b"[]", {"Content-Type": "application/json"}, 422, "(body)"),
        (b'{"receiver": "x"}', {"Content-Type": "application/json"}, 422, "alerts"),
        (b"receiver=x", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "json"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "application/json"),
    ],
)
async def test_bad_input_gets_a_clear_4xx_and_stores_nothing(
    client: Client, body: bytes, headers: dict[str, str], status: int, needle: str
) -> None:
    resp = await client.post("/alerts", data=body, headers=headers)
    assert resp.status == status
    answer = await resp.json()
    assert needle in json.dumps(answer)
    assert await alerts(client) == []
    assert await incidents(client) == []


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda b: b["alerts"][0]["labels"].update(job="a\x00b"), "alerts[0].labels.job"),
        (lambda b: b["alerts"][0]["annotations"].update({"x\x00": "y"}), "NUL"),
        (lambda b: b["alerts"][0]["labels"].update(job="\ud800"), "not valid Unicode"),
        (lambda b: b["alerts"][0]["labels"].update({"\udfff": "x"}), "not valid Unicode"),
        (lambda b: b.update(truncatedAlerts=2**40), "truncatedAlerts"),
        (lambda b: b["alerts"][0].update(fingerprint="f" * 65), "fingerprint"),
    ],
)
async def test_values_a_database_would_refuse_are_422(
    client: Client, mutate: Any, needle: str
) -> None:
    body = webhook(alert())
    mutate(body)
    resp = await client.post("/alerts", json=body)
    assert resp.status == 422
    assert needle in json.dumps(await resp.json())
    assert await alerts(client) == []


def _too_many(body: dict[str, Any]) -> None:
    body["alerts"] = [{"status": "nonsense"}] * 4  # over the count and invalid: 413 first


@pytest.mark.parametrize(
    ("mutate", "status", "needle"),
    [
        (None, 400, "line 1 column 2 (char 1)"),
        (_too_many, 413, "4 alerts in one webhook, more than 3"),
        (lambda b: b["alerts"][0].update(startsAt="yesterday"), 422, "alerts[0].startsAt"),
        (lambda b: b["alerts"][0]["labels"].update(job="a\x00b"), 422, "alerts[0].labels.job"),
        (lambda b: b.update(commonLabels={"x": "€" * 34}), 413, "commonLabels.x is 102 bytes"),
    ],
)
async def test_a_body_parsed_off_the_loop_gets_the_same_answer(
    aiohttp_client: Any, settings: Settings, mutate: Any, status: int, needle: str
) -> None:
    """Past OFF_LOOP_BYTES a body is parsed in a thread: same checks, same order, same
    words; the padding is a field the model ignores."""
    small = settings.model_copy(update={"max_alerts_per_webhook": 3, "max_value_bytes": 100})
    client = await aiohttp_client(create_app(small))
    answers = []
    for padding in ("", "x" * OFF_LOOP_BYTES):
        body = webhook(alert(), alert(instance="b"))
        body["padding"] = padding
        if mutate is None:
            data = b"{not json" + json.dumps(body).encode()
        else:
            mutate(body)
            data = json.dumps(body).encode()
        assert (len(data) >= OFF_LOOP_BYTES) == bool(padding)
        resp = await client.post("/alerts", data=data, headers={"Content-Type": "application/json"})
        answers.append((resp.status, await resp.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == status
    assert needle in json.dumps(answers[0][1]), answers[0][1]
    assert await alerts(client) == []
    fits = webhook(alert())
    fits["padding"] = "x" * OFF_LOOP_BYTES
    assert (await post(client, fits))["new"] == 1


async def test_huge_label_values_and_group_keys_are_stored(client: Client) -> None:
    # Random text does not compress: too big for a btree entry unless the code caps it.
    big = secrets.token_hex(30_000)  # 60,000 bytes: within max_value_bytes, past any btree
    body = webhook(alert(name=big, severity=big), group=big)
    await post(client, body)
    body["alerts"][0]["labels"]["severity"] = big[:-1] + "!"
    del body["alerts"][0]["fingerprint"]
    await post(client, body)
    assert len(await alerts(client)) == 2
    exact = await client.get("/api/v1/alerts", params={"severity": big[:5000]})
    assert (await exact.json())["alerts"] == []
    [incident] = await incidents(client)
    assert incident["groupLabels"] == {"alertname": big}


async def test_schema_violation_names_the_field_path(client: Client) -> None:
    body = webhook(alert(), alert(instance="b"))
    body["alerts"][1]["startsAt"] = "yesterday"
    resp = await client.post("/alerts", json=body)
    assert resp.status == 422
    details = (await resp.json())["details"]
    assert any(d.startswith("alerts[1].startsAt:") for d in details), details
    assert await alerts(client) == []  # the valid first alert is not stored either


async def test_two_replicas_on_one_database_store_each_alert_once(
    aiohttp_client: Any, settings: Any
) -> None:
    """Two receiver processes' worth of app, engine and pool, sharing one database."""
    first = await aiohttp_client(create_app(settings))
    second = await aiohttp_client(create_app(settings.model_copy(update={"migrate": False})))
    bodies = [
        webhook(alert(instance="a"), alert(instance="b"), external_url=f"http://am-{i % 2}")
        for i in range(16)
    ]
    responses = await asyncio.gather(
        *((first if i % 2 else second).post("/alerts", json=b) for i, b in enumerate(bodies))
    )
    assert [r.status for r in responses] == [200] * 16
    stored = await alerts(first)
    assert len(stored) == 2
    assert all(a["timesReceived"] == 16 for a in stored)
    [incident] = await incidents(second)
    assert incident["timesReceived"] == 16
