"""Pure rules of the history pages: how urgent an incident is, which time window a
filter names, and how a CSV cell is kept from being read as a formula."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

SEVERITIES = ("critical", "warning", "info")
"""Most urgent first; any other value, or none, comes after these."""

RANGES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def severity_of(common_labels: dict[str, str], members: Iterable[dict[str, str]]) -> str:
    """The group's common severity when Alertmanager gave one, else its most urgent
    member's: a group of a critical and a warning alert has no common severity but is
    critical. "" when no alert has one."""
    if common_labels.get("severity"):
        return common_labels["severity"]
    return min((m.get("severity", "") for m in members), key=severity_rank, default="")


def window(
    named: str | None, since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """The [since, until) of a filter: a named range ends now; custom bounds as given."""
    if named is not None:
        if since is not None or until is not None:
            raise ValueError("give either range or since/until, not both")
        if named not in RANGES:
            raise ValueError(f"range must be one of {', '.join(RANGES)}, got {named!r}")
        return now - RANGES[named], None
    if since is not None and until is not None and since >= until:
        raise ValueError("since must be earlier than until")
    return since, until


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """A spreadsheet runs a cell that starts like a formula; a leading quote makes it
    text (OWASP's advice for CSV injection). Label values are written by anyone."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value
