"""The incident as messages and pages see it: plain data that the read side builds and
rendering consumes, so neither needs the other's machinery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AlertView:
    id: int
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    end_inferred: bool
    generator_url: str


@dataclass(frozen=True)
class IncidentView:
    id: int
    status: str
    receiver: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    alertmanager_url: str
    opened_at: datetime
    resolved_at: datetime | None
    alerts: list[AlertView]
    resolved_by: str | None = None  # a person, when resolved by hand
