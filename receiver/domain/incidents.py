"""The rules of an incident, as pure decisions over plain data.

An incident is (receiver, groupKey) from its first firing alert until all its alerts are
resolved; the group firing again later opens a new one. For each webhook:

1. attach: the alerts it carries (stale copies carry nothing) join the group's open
   incident. Without one, they open a new incident if any of them fires; a webhook of
   late resolutions only (a receiver that started late) opens one just for the alerts
   no incident of the group holds yet, and that incident resolves at once.
2. settle: an incident resolves when none of its alerts fires any more, at the latest
   end among them. A firing snapshot that Alertmanager truncated never closes its own
   incident, since the alerts it left out may still fire.
3. report: a Change for each incident the webhook changed; a repeat changes nothing, so
   it is reported to nobody.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Set
from dataclasses import dataclass
from datetime import datetime

from receiver.domain.change import Change
from receiver.domain.lifecycle import FIRING, RESOLVED, Episode

OPEN = "open"
# People acknowledge an open incident through the UI and the API (not built yet: nothing
# sets this status today). It stays unresolved for the rules, but gets no reminders.
ACKNOWLEDGED = "acknowledged"
STATUSES = (OPEN, ACKNOWLEDGED, RESOLVED)


def fires(carried: Collection[Episode]) -> bool:
    return any(e.status == FIRING for e in carried)


def attach(carried: list[Episode], held: Set[Episode]) -> list[Episode]:
    """The carried alerts that join the incident: those not `held` yet. With an open
    incident, `held` is what it holds; without one, nothing if any carried alert fires,
    else (late resolutions only) what any incident of the group holds, so that history
    is not told twice. Without an open incident, a non-empty answer opens one."""
    return [e for e in carried if e not in held]


def joining(attached: list[Episode]) -> list[Episode]:
    """What a change reports as joined: the attached alerts that fire as the webhook
    leaves them (the batch path asks before later webhooks of its run change them)."""
    return [e for e in attached if e.status == FIRING]


def ids(episodes: Iterable[Episode]) -> frozenset[int]:
    """The ids of these episodes, all stored by the time a change is settled."""
    return frozenset(e.id for e in episodes if e.id is not None)


def may_close(carried: Collection[Episode], truncated: bool) -> bool:
    """Whether the group's own incident can resolve with this webhook: not while it
    carries a firing alert, nor when it is a truncated firing snapshot."""
    return not fires(carried) and not truncated


@dataclass(frozen=True)
class Standing:
    """An unresolved incident that may close, as its alerts stand after this webhook's
    alerts were written and attached."""

    status: str
    firing: int  # members still firing
    last_end: datetime | None  # the latest end among its members


@dataclass(frozen=True)
class Settled:
    status: str | None  # the group's own incident's status, for the webhook's answer
    resolve: dict[int, datetime | None]  # incidents that resolve now, and when
    changes: dict[int, Change]  # what each changed incident reports


def settle(
    own: int | None,
    own_status: str,
    opened: bool,
    joined: frozenset[int],
    resolved_in: dict[int, frozenset[int]],
    standings: dict[int, Standing],
) -> Settled:
    """`own` is the group's incident (if any), `resolved_in` the unresolved incidents
    holding alerts that resolved now. `standings` holds those that may close: every one
    of `resolved_in` but `own`, and `own` only where `may_close` allows."""
    candidates = set(resolved_in) | ({own} if own is not None else set())
    status = None
    resolve: dict[int, datetime | None] = {}
    changes: dict[int, Change] = {}
    for candidate in sorted(candidates):
        standing = standings.get(candidate)
        settled = own_status if standing is None else standing.status
        if standing is not None and standing.status != RESOLVED and standing.firing == 0:
            settled = RESOLVED
            resolve[candidate] = standing.last_end
        if candidate == own:
            status = settled
        change = Change(
            opened=opened and candidate == own,
            joined=joined if candidate == own else frozenset(),
            resolved=resolved_in.get(candidate, frozenset()),
            incident_resolved=settled == RESOLVED,
        )
        if change != Change():
            changes[candidate] = change
    return Settled(status, resolve, changes)
