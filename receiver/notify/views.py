"""The incident as messages and pages see it: plain data, and the links built from it.

Kept apart from rendering so that the read side can build views without loading the
template engine.
"""

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


def safe_link(url: str) -> str | None:
    """Only http(s) URLs become links: a `javascript:` annotation must not."""
    return url if url.lower().startswith(("http://", "https://")) else None


def runbook_url(external_url: str, slug: str) -> str | None:
    base = safe_link(external_url.rstrip("/"))
    return f"{base}/runbooks/{slug}" if base else None
