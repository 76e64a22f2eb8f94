"""What one incident change is: the unit a notification reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Change:
    """What one notification reports; several merge into one when they pile up."""

    opened: bool = False
    joined: frozenset[int] = field(default_factory=frozenset)
    resolved: frozenset[int] = field(default_factory=frozenset)
    incident_resolved: bool = False
    reminder: bool = False

    def merge(self, other: Change) -> Change:
        return Change(
            opened=self.opened or other.opened,
            joined=self.joined | other.joined,
            resolved=self.resolved | other.resolved,
            incident_resolved=self.incident_resolved or other.incident_resolved,
            reminder=self.reminder and other.reminder,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "opened": self.opened,
            "joined": sorted(self.joined),
            "resolved": sorted(self.resolved),
            "incidentResolved": self.incident_resolved,
            "reminder": self.reminder,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        return cls(
            opened=data["opened"],
            joined=frozenset(data["joined"]),
            resolved=frozenset(data["resolved"]),
            incident_resolved=data["incidentResolved"],
            reminder=data["reminder"],
        )
