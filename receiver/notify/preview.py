"""What a webhook would send, without storing or sending anything (`alert-receiver render`).

The payload is judged as if it were the first the receiver ever saw of its group: every
firing alert opens the incident, resolved ones are reported resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from receiver.domain.change import Change
from receiver.domain.lifecycle import FIRING, RESOLVED, apply_webhook
from receiver.domain.routing import Route, matching_routes, plan, routing_labels
from receiver.domain.runbooks import Runbooks
from receiver.domain.views import AlertView, IncidentView
from receiver.domain.wire import Webhook
from receiver.notify.channels import Message
from receiver.notify.render import (
    Guides,
    incident_runbooks,
    render,
)


@dataclass(frozen=True)
class Preview:
    channel: str
    route_index: int
    message: Message


def preview(
    hook: Webhook,
    routes: list[Route],
    runbooks: Runbooks,
    runbook_steps: int,
    external_url: str,
    now: datetime,
    route_index: int | None = None,
) -> list[Preview]:
    delivered = apply_webhook(hook.alerts, {}, now)
    views = [
        AlertView(
            id=number,
            status=d.episode.status,
            labels=d.episode.labels or {},
            annotations=d.episode.annotations,
            starts_at=d.episode.starts_at,
            ends_at=d.episode.ends_at,
            end_inferred=d.episode.end_inferred,
            generator_url=d.episode.generator_url,
        )
        for number, d in enumerate(delivered, 1)
        if d.carried
    ]
    all_resolved = all(v.status == RESOLVED for v in views)
    incident = IncidentView(
        id=1,
        status=RESOLVED if all_resolved else "open",
        receiver=hook.receiver,
        group_labels=dict(hook.group_labels),
        common_labels=dict(hook.common_labels),
        alertmanager_url=hook.external_url,
        opened_at=min((v.starts_at for v in views), default=now),
        resolved_at=max((v.ends_at for v in views if v.ends_at), default=None),
        alerts=views,
    )
    change = Change(
        opened=True,
        joined=frozenset(v.id for v in views if v.status == FIRING),
        resolved=frozenset(v.id for v in views if v.status == RESOLVED),
        incident_resolved=all_resolved,
    )
    guides = Guides(incident_runbooks(incident, runbooks), runbook_steps)
    if route_index is None:
        matched = matching_routes(routes, routing_labels(incident.common_labels, hook.receiver))
    else:
        matched = [(route_index, routes[route_index])]
    chosen = dict(matched)
    return [
        Preview(
            p.channel,
            p.route_index,
            render(
                incident,
                change,
                external_url,
                now,
                chosen[p.route_index].title,
                chosen[p.route_index].body,
                guides,
            ),
        )
        for p in plan(change, matched)
    ]
