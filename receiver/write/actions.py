"""People's actions on incidents, written under the locks of the incidents' groups, so an
action and a webhook of the same group never interleave (on any replica). A hand
resolution is news for the channels as Alertmanager's would be; the others are for the
timeline and the reminders only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from receiver.domain.actions import NOTE, Refused, judge
from receiver.domain.change import Change
from receiver.domain.incidents import ACKNOWLEDGED, OPEN
from receiver.domain.lifecycle import RESOLVED
from receiver.domain.routing import Route
from receiver.store import incidents
from receiver.store.engine import LockName, Writer
from receiver.write.changes import queue_changes


@dataclass(frozen=True)
class Action:
    kind: str  # one of receiver.domain.actions.KINDS
    by: str
    text: str = ""


@dataclass(frozen=True)
class Done:
    acted: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # why, per incident (409)
    missing: list[int] = field(default_factory=list)  # no such incident (404)
    queued: int = 0  # notifications the action called for


async def act(
    writer: Writer, incident_ids: list[int], action: Action, routes: list[Route], now: datetime
) -> Done:
    ids = list(dict.fromkeys(incident_ids))
    # An incident's group never changes, so reading it before the locks is safe.
    groups = await writer.run([], lambda conn: incidents.group_keys(conn, ids))
    locks: list[LockName] = [("group", receiver, key) for receiver, key in groups]
    return await writer.run(locks, lambda conn: _apply(conn, ids, action, routes, now))


def _state(kind: str, by: str, at: datetime) -> dict[str, Any]:
    """The incident's columns after the action took effect."""
    if kind == ACKNOWLEDGED:
        return {"status": ACKNOWLEDGED, "acknowledged_by": by, "acknowledged_at": at}
    if kind == RESOLVED:
        return {"status": RESOLVED, "resolved_at": at, "resolved_by": by}
    return {"status": OPEN, "acknowledged_by": None, "acknowledged_at": None}


def _apply(
    conn: Connection, ids: list[int], action: Action, routes: list[Route], now: datetime
) -> Done:
    found = {row.id: row for row in incidents.for_action(conn, ids)}
    done = Done(missing=[i for i in ids if i not in found])
    records, changes = [], {}
    for incident_id, row in found.items():
        verdict = judge(action.kind, row.status)
        if isinstance(verdict, Refused):
            done.refused[incident_id] = verdict.reason
            continue
        if action.kind != NOTE:
            incidents.set_state(conn, incident_id, _state(action.kind, action.by, now))
        if action.kind == RESOLVED:
            changes[incident_id] = Change(incident_resolved=True)
        records.append(
            {
                "incident_id": incident_id,
                "kind": action.kind,
                "by": action.by,
                "at": now,
                "text": action.text,
            }
        )
        done.acted.append(incident_id)
    incidents.record_actions(conn, records)
    queued = queue_changes(conn, changes, routes, now)
    return Done(done.acted, done.refused, done.missing, queued)
