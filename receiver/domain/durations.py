"""Durations the Prometheus way: `90s`, `5m`, `1h30m`, `500ms`, `2d`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> timedelta:
    text = text.strip()
    parts = _PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration; write it like 30s, 5m, 4h or 1h30m")
    try:
        return sum((int(n) * _UNITS[u] for n, u in parts), timedelta())
    except OverflowError:  # past about 2.7 million years
        raise ValueError(f"{text!r} is too long; write it like 30s, 5m, 4h or 1h30m") from None


def format_duration(value: timedelta) -> str:
    """The shortest spelling a person reads at a glance: `1h 5m`, `42s`, `3d 2h`."""
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def _duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
"""A timedelta field that a configuration file may write as `30s` or `1h30m`."""
