"""Heartbeats, a dead man's switch: an always-firing alert (Watchdog) that must keep
arriving. When Prometheus or Alertmanager stop sending, silence looks exactly like
health; only the receiver can notice that something expected did not come.

A missing heartbeat becomes an incident of the receiver's own, raised the way every
other incident is: as a webhook, written by the receiver instead of Alertmanager, taken
through the same ingest, routing and outbox. Its alert starts when the heartbeat became
overdue (last seen + timeout), so writing it again is a duplicate, never a second
incident; it resolves when the heartbeat returns.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from receiver.domain.durations import Duration, format_duration
from receiver.domain.matchers import Matcher, MatcherField, matches_all
from receiver.domain.routing import Route
from receiver.domain.wire import Webhook

RECEIVER = "alert-receiver"  # the receiver name its own webhooks carry
ALERTNAME = "HeartbeatMissing"


class Heartbeat(BaseModel):
    """One entry of the config file's `heartbeats`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    match: list[MatcherField] = Field(min_length=1)
    timeout: Duration
    channels: list[str] = Field(min_length=1)
    name: str = ""  # shown in messages; default: the value of an alertname="..." matcher

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s, e.g. 5m")
        return value

    @model_validator(mode="after")
    def _named(self) -> Heartbeat:
        if not self.name:
            object.__setattr__(self, "name", _default_name(self.match))
        return self


def _default_name(match: list[Matcher]) -> str:
    for matcher in match:
        if matcher.name == "alertname" and matcher.op == "=":
            return matcher.value
    return ",".join(str(m) for m in match)


def seen(heartbeats: list[Heartbeat], hook: Webhook) -> list[str]:
    """The heartbeats that a webhook carries a firing alert of."""
    firing = [a.labels for a in hook.alerts if a.status == "firing"]
    return [hb.name for hb in heartbeats if any(matches_all(hb.match, ls) for ls in firing)]


def routes(heartbeats: list[Heartbeat]) -> list[Route]:
    """Put before the config file's routes: the receiver's own incident goes to the
    heartbeat's channels, and the heartbeat alert itself goes nowhere (it is news only
    when it stops)."""
    own = [
        Route.model_validate(
            {
                "match": [f'receiver="{RECEIVER}"', f'alertname="{ALERTNAME}"', _is(hb.name)],
                "channels": hb.channels,
            }
        )
        for hb in heartbeats
    ]
    silent = [Route(match=hb.match, channels=[]) for hb in heartbeats]
    return own + silent


def _is(name: str) -> str:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'heartbeat="{escaped}"'


class Step(enum.Enum):
    NOTHING = "nothing"
    MISSING = "missing"  # overdue: raise (or raise again, harmlessly) the incident
    RETURNED = "returned"  # seen again after it went missing: resolve


@dataclass(frozen=True)
class State:
    last_seen: datetime
    missing_since: datetime | None = None


def judge(state: State, timeout: timedelta, now: datetime) -> Step:
    if state.missing_since is not None:
        return Step.RETURNED if state.last_seen > state.missing_since else Step.MISSING
    return Step.MISSING if now - state.last_seen > timeout else Step.NOTHING


def overdue_since(state: State, timeout: timedelta) -> datetime:
    return state.missing_since or state.last_seen + timeout


def webhook(hb: Heartbeat, state: State, now: datetime) -> dict[str, Any]:
    """The webhook the receiver writes for a missing (or returned) heartbeat, shaped as
    Alertmanager's (version 4), so nothing downstream needs to know who wrote it."""
    since = overdue_since(state, hb.timeout)
    returned = state.last_seen > since
    labels = {"alertname": ALERTNAME, "heartbeat": hb.name, "severity": "critical"}
    last = f"{state.last_seen.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    alert = {
        "status": "resolved" if returned else "firing",
        "labels": labels,
        "annotations": {
            "summary": f"heartbeat missing: {hb.name}, last seen {last}",
            "description": (
                f"No firing alert matching {', '.join(str(m) for m in hb.match)} arrived "
                f"for {format_duration(hb.timeout)} (last seen {last}, "
                f"{format_duration(now - state.last_seen)} ago). Prometheus, Alertmanager "
                "or the path from them to this receiver may be down: when they are, "
                "nothing else can alert."
            ),
        },
        "startsAt": _rfc3339(since),
        "endsAt": _rfc3339(state.last_seen) if returned else "0001-01-01T00:00:00Z",
        "generatorURL": "",
    }
    group = {"heartbeat": hb.name}
    return {
        "version": "4",
        "receiver": RECEIVER,
        "status": alert["status"],
        "alerts": [alert],
        "groupLabels": group,
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "",
        "groupKey": f"{{}}:{{{_is(hb.name)}}}",
        "truncatedAlerts": 0,
    }


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
