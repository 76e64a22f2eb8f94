"""What people do to an incident: acknowledge it (reminders stop), take that back, resolve
it by hand (for a resolution Alertmanager will never send), or leave a note. Each action
is judged against the incident's status here; the write path applies the verdict."""

from __future__ import annotations

from dataclasses import dataclass

from receiver.domain.incidents import ACKNOWLEDGED, OPEN
from receiver.domain.lifecycle import RESOLVED

UNACKNOWLEDGED = "unacknowledged"
NOTE = "note"
KINDS = (ACKNOWLEDGED, UNACKNOWLEDGED, RESOLVED, NOTE)

# Who lifts an acknowledgement when new alerts join the incident: the receiver itself.
SELF = "alert-receiver"
LIFTED = "new alerts joined the incident"


@dataclass(frozen=True)
class Refused:
    """Why the action does not apply to the incident as it stands (a 409)."""

    reason: str


def judge(kind: str, status: str) -> str | Refused:
    """The incident's status after the action, or why it cannot be taken."""
    if kind == NOTE:
        return status
    if status == RESOLVED:
        return Refused(f"the incident is resolved; it cannot be {kind} any more")
    if kind == ACKNOWLEDGED:
        return ACKNOWLEDGED if status == OPEN else Refused("the incident is already acknowledged")
    if kind == UNACKNOWLEDGED:
        return OPEN if status == ACKNOWLEDGED else Refused("the incident is not acknowledged")
    return RESOLVED


def lifts_acknowledgement(status: str, joined: frozenset[int]) -> bool:
    """An acknowledgement covers the alerts it saw: a new firing alert joining the
    incident brings reminders back, as it would page anyone."""
    return status == ACKNOWLEDGED and bool(joined)
