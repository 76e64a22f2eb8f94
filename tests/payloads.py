"""Webhook payloads shaped exactly like Alertmanager 0.25 sends them."""

from __future__ import annotations

from typing import Any

from receiver.domain.wire import fingerprint

ZERO_TIME = "0001-01-01T00:00:00Z"


def alert(
    name: str = "HighLatencyP95",
    status: str = "firing",
    starts: str = "2026-11-26T10:00:00.000Z",
    ends: str = ZERO_TIME,
    annotations: dict[str, str] | None = None,
    **labels: str,
) -> dict[str, Any]:
    all_labels = {"alertname": name, "severity": "warning", "instance": "api-1", **labels}
    return {
        "status": status,
        "labels": all_labels,
        "annotations": annotations if annotations is not None else {"summary": f"{name} fired"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": fingerprint(all_labels),
    }


def webhook(
    *alerts: dict[str, Any],
    receiver: str = "team-a",
    group: str = "HighLatencyP95",
    status: str | None = None,
    external_url: str = "http://alertmanager-1:9093",
    truncated: int = 0,
) -> dict[str, Any]:
    if status is None:
        status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "receiver": receiver,
        "status": status,
        "alerts": list(alerts),
        "groupLabels": {"alertname": group},
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{group}"}}',
        "truncatedAlerts": truncated,
    }


def _common(sets: list[dict[str, str]]) -> dict[str, str]:
    """What Alertmanager puts in commonLabels/commonAnnotations: pairs every alert shares."""
    if not sets:
        return {}
    return {k: v for k, v in sets[0].items() if all(s.get(k) == v for s in sets[1:])}
