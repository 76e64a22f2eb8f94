"""Set-based ingest of plain webhooks (`lifecycle.is_plain`: alerts that fire, repeat or
resolve, which is nearly all of Alertmanager's traffic).

A run of them is loaded with one query per table, decided in memory in order with the
same rules as the general path, and written with one statement per kind of row, instead
of ten or so statements per webhook. Their incident steps reduce to: attach to the
group's open incident (or open one), join the alerts it does not hold yet, and for a
resolution, close the group's incident when none of its alerts fires any more. Whether
it does is read from the database once the run is written, for all of the run's
resolutions at once; until then the run takes nothing more of that group. A resolution
that may close any other incident (an alert two groups hold) is not plain for the run:
the general path takes it. Tests compare the result with running each webhook alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from receiver.domain import incidents as rules
from receiver.domain.actions import lifts_acknowledgement
from receiver.domain.lifecycle import (
    FIRING,
    Delivered,
    Episode,
    EventDraft,
    Outcome,
    apply_webhook,
    ending,
    is_plain,
)
from receiver.store import episodes, incidents, outbox
from receiver.store.bulk import insert_ids, insert_many
from receiver.store.episodes import Receipt
from receiver.store.tables import incident_alerts
from receiver.store.tables import incidents as incident_rows
from receiver.write.changes import change_rows
from receiver.write.received import Received, Summary


@dataclass(eq=False)
class _Incident:
    """A group's open incident as the run sees it; `id` is None until a new one is stored."""

    id: int | None
    status: str
    members: set[Episode] = field(default_factory=set)
    opened: Received | None = None  # the webhook that opened it in this run
    latest: dict[str, Any] = field(default_factory=dict)
    deliveries: int = 0


@dataclass(frozen=True)
class _Taken:
    item: Received
    delivered: list[Delivered]
    incident: _Incident
    attached: list[Episode]
    joining: list[Episode]
    closes: bool  # nothing it carries fires: the incident may close (`may_close`)


class Run:
    """Plain webhooks taken in order, until one is not; then written at once."""

    def __init__(self, conn: Connection, items: list[Received]) -> None:
        self._conn = conn
        self._known = episodes.load(conn, (a for item in items for a in item.hook.alerts))
        keys = sorted({i.group for i in items})
        self._incidents = {
            row.group_hash: _Incident(row.id, row.status)
            for row in conn.execute(incidents.OPEN_INCIDENTS, {"keys": keys})
        }
        stored = {e.id: e for group in self._known.values() for e in group if e.id is not None}
        by_id = {i.id: i for i in self._incidents.values()}
        if stored and by_id:
            params = {"incidents": list(by_id), "alerts": list(stored)}
            for incident_id, alert_id in conn.execute(incidents.MEMBERSHIPS, params):
                by_id[incident_id].members.add(stored[alert_id])
        self._taken: list[_Taken] = []
        self._receipts: dict[Episode, Receipt] = {}
        self._drafts: list[tuple[Episode, EventDraft, datetime]] = []
        self._drafted: dict[Episode, int] = {}
        self._closing: set[str] = set()  # groups whose incident may close in this run

    def take(self, item: Received) -> bool:
        """Decide one more webhook in memory; False (and nothing changed) if not plain."""
        hook, key = item.hook, item.group
        if key in self._closing or not is_plain(hook.alerts, self._known):
            return False
        incident = self._incidents.get(key)
        if incident is None and not any(a.status == FIRING for a in hook.alerts):
            return False  # resolutions without an open incident: the group's history decides
        ended = ending(hook.alerts, self._known)
        if ended and not self._only_holder(incident, ended):
            return False
        delivered = apply_webhook(hook.alerts, self._known, item.at)
        for d in delivered:
            episode = d.episode
            receipt = self._receipts.get(episode)
            self._receipts[episode] = (
                receipt.again(item.at) if receipt else Receipt(item.at, item.at)
            )
            done = self._drafted.get(episode, 0)
            self._drafts += [(episode, draft, item.at) for draft in episode.events[done:]]
            self._drafted[episode] = len(episode.events)
        if incident is None:
            incident = self._incidents[key] = _Incident(None, rules.OPEN, opened=item)
        incident.latest = incidents.snapshot(hook, item.at)
        incident.deliveries += 1
        carried = [d.episode for d in delivered]
        attached = rules.attach(carried, incident.members)
        incident.members.update(attached)
        truncated = hook.truncated_alerts > 0 and hook.status == FIRING
        closes = rules.may_close(carried, truncated)
        if closes:
            self._closing.add(key)
        joining = rules.joining(attached)
        self._taken.append(_Taken(item, delivered, incident, attached, joining, closes))
        return True

    def _only_holder(self, incident: _Incident | None, ended: list[Episode]) -> bool:
        """Whether the group's open incident holds these episodes and no other open
        incident does, so that only the group's own incident may close."""
        if incident is None or not incident.members.issuperset(ended):
            return False
        others = [i for i in self._incidents.values() if i is not incident]
        if any(e in i.members for i in others for e in ended):
            return False
        stored = {e.id for e in ended if e.id is not None}
        return not set(incidents.open_holding(self._conn, stored)) - {incident.id}

    def write(self, conn: Connection) -> list[Summary]:
        episodes.write(conn, episodes.touched(self._known), self._receipts, self._drafts)
        new = [(i, i.opened) for i in self._incidents.values() if i.opened is not None]
        if new:
            rows = [
                incidents.insert_values(o.group, o.hook, o.at, i.deliveries, i.latest)
                for i, o in new
            ]
            ids = insert_ids(conn, incident_rows, rows)
            for (incident, _), inserted_id in zip(new, ids, strict=True):
                incident.id = inserted_id
        refreshed = [
            incidents.refresh_values(i.id, i.deliveries, i.latest)
            for i in self._incidents.values()
            if i.opened is None and i.deliveries and i.id is not None
        ]
        if refreshed:
            conn.execute(incidents.REFRESH, refreshed)
        members = [
            {"incident_id": t.incident.id, "alert_id": e.id}
            for t in self._taken
            for e in t.attached
        ]
        insert_many(conn, incident_alerts, members)
        return self._answers(conn)

    def _answers(self, conn: Connection) -> list[Summary]:
        joins = []
        for t in self._taken:
            joined = rules.ids(t.joining)
            if lifts_acknowledgement(t.incident.status, joined):  # rare: one statement each
                assert t.incident.id is not None
                incidents.lift_acknowledgements(conn, [t.incident.id], t.item.at)
                t.incident.status = rules.OPEN
            joins.append((joined, t.incident.status))
        # A closing group took nothing after its resolution: its members stand as then.
        closing = [t.incident.id for t in self._taken if t.closes and t.incident.id is not None]
        standings = incidents.standings(conn, closing)
        summaries = []
        notifications: list[dict[str, Any]] = []
        resolve: dict[int, datetime | None] = {}
        for t, (joined, status) in zip(self._taken, joins, strict=True):
            incident_id = t.incident.id
            assert incident_id is not None
            opened = t.incident.opened is t.item
            resolved = rules.ids(d.episode for d in t.delivered if d.outcome is Outcome.RESOLVED)
            settled = rules.settle(
                incident_id,
                status,
                opened,
                joined,
                {incident_id: resolved} if resolved else {},
                standings if t.closes else {},
            )
            resolve.update(settled.resolve)
            change = settled.changes.get(incident_id)
            rows = []
            if change is not None:
                hook = t.item.hook
                rows = change_rows(
                    incident_id,
                    hook.receiver,
                    dict(hook.common_labels),
                    change,
                    t.item.routes,
                    t.item.at,
                )
            notifications += rows
            counts = Counter(d.outcome for d in t.delivered)
            summaries.append(Summary(counts, incident_id, settled.status, len(rows)))
        incidents.resolve(conn, resolve)
        outbox.queue(conn, notifications)
        return summaries
