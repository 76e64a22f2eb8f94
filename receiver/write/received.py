"""A webhook on its way through the write path, and the answer it gets."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from receiver.domain.lifecycle import Outcome
from receiver.domain.routing import Route
from receiver.domain.wire import Webhook
from receiver.store.tables import group_hash


@dataclass(frozen=True)
class Received:
    """A parsed webhook, when it arrived, and the routes in force then."""

    hook: Webhook
    at: datetime
    routes: list[Route]

    @cached_property
    def group(self) -> str:
        """The group's index key, needed by several steps of the write."""
        return group_hash(self.hook.receiver, self.hook.group_key)


@dataclass(frozen=True)
class Summary:
    """The webhook's answer: what it changed, counted per delivered alert."""

    counts: Counter[Outcome]
    incident_id: int | None
    incident_status: str | None
    notifications: int

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {outcome.value: self.counts[outcome] for outcome in Outcome}
        body["incidentId"] = self.incident_id
        body["incidentStatus"] = self.incident_status
        body["notifications"] = self.notifications
        return body
